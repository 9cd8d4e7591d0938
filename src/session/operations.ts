/**
 * Per-session operations (the CLI's `start stop restart status logs attach exec send-keys`), with the
 * original's precedence: command-line overrides > config > defaults. Every value, from config or from
 * the command line, passes the same validation rules before anything runs.
 */
import { Duration, Effect, Result, Stream } from "effect"
import { Containers } from "../backends/container.js"
import { logsOf, stopObserved } from "../backends/observed.js"
import { Tmux } from "../backends/tmux.js"
import { decodeSessionEntry } from "../config/decode.js"
import { validateArgv, validateSendKeys } from "../config/rules.js"
import { KstlibConfig } from "../config/service.js"
import type { LoadedConfig } from "../config/types.js"
import type { KstlibError } from "../errors.js"
import { ConfigInvalid, InvalidInput, SessionAttachFailed, SessionExists, SessionNotFound } from "../errors.js"
import type { BackendKind, ObservedSession, SessionSpec, TmuxSpec } from "../model.js"
import type { Located, Selector, ValidEntry } from "./locate.js"
import { checkName, checkSelector, configEntry, inSlotOf, locate, normalizeSocket, observeFor } from "./locate.js"
import type { SessionStatus } from "./status.js"
import { definedStatus, statusOf } from "./status.js"

type Services = Tmux | Containers | KstlibConfig

/** A new process must survive this long to count as started (it catches commands that die at once). */
export const START_SETTLE = Duration.seconds(1)

export interface StartOverrides {
  readonly backend?: BackendKind | undefined
  readonly command?: string | undefined
  readonly image?: string | undefined
  readonly working_dir?: string | undefined
  /** Merged over the config's env. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Replace the config's lists. */
  readonly volumes?: ReadonlyArray<string> | undefined
  readonly ports?: ReadonlyArray<string> | undefined
  /** tmux `-L` socket; "default" is the default server. */
  readonly socket?: string | undefined
  /** Where relative paths given here are resolved (defaults to process.cwd()). */
  readonly cwd?: string | undefined
}

const COMMON = ["command", "working_dir", "env"] as const

const specToRaw = (spec: SessionSpec): Record<string, unknown> => {
  const { name: _name, state: _state, ...fields } = spec
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null))
}

const hasOverrides = (o: StartOverrides) =>
  [o.backend, o.command, o.image, o.working_dir, o.env, o.volumes, o.ports, o.socket].some((v) => v !== undefined)

/** Builds and validates the spec `start` runs: config entry, overridden field by field by the command line. */
export const effectiveSpec = (
  name: string,
  entry: ValidEntry | null,
  overrides: StartOverrides,
  config: LoadedConfig
): Effect.Effect<SessionSpec, ConfigInvalid | InvalidInput> =>
  Effect.gen(function*() {
    const base = entry === null ? {} : specToRaw(entry.spec)
    const backend: BackendKind = overrides.backend ?? (base["backend"] as BackendKind | undefined) ??
      (overrides.image !== undefined ? "container" : config.default_backend)
    if (backend === "tmux") {
      for (const [flag, v] of [["--image", overrides.image], ["--volume", overrides.volumes], ["--port", overrides.ports]] as const) {
        if (v !== undefined) return yield* new InvalidInput({ field: flag, reason: "applies to container sessions only" })
      }
    } else if (overrides.socket !== undefined) {
      return yield* new InvalidInput({ field: "--socket", reason: "applies to tmux sessions only" })
    }
    // Switching backend keeps only the fields both kinds have.
    const kept = base["backend"] === backend
      ? base
      : Object.fromEntries(Object.entries(base).filter(([k]) => (COMMON as ReadonlyArray<string>).includes(k)))
    const socket = normalizeSocket(overrides.socket)
    const raw: Record<string, unknown> = {
      ...kept,
      backend,
      ...(overrides.command !== undefined ? { command: overrides.command } : {}),
      ...(overrides.image !== undefined ? { image: overrides.image } : {}),
      ...(overrides.working_dir !== undefined ? { working_dir: overrides.working_dir } : {}),
      ...(overrides.volumes !== undefined ? { volumes: overrides.volumes } : {}),
      ...(overrides.ports !== undefined ? { ports: overrides.ports } : {}),
      ...(overrides.env !== undefined ? { env: { ...(kept["env"] as Record<string, string> | undefined), ...overrides.env } } : {})
    }
    if (socket !== undefined) {
      if (socket === null) delete raw["socket_name"]
      else raw["socket_name"] = socket
    }
    const fromCli = hasOverrides(overrides)
    const decoded = decodeSessionEntry(name, raw, {
      defaults: { default_backend: config.default_backend, container_runtime: config.container_runtime },
      baseDir: overrides.cwd ?? process.cwd(),
      file: fromCli || entry === null ? "<command line>" : entry.source.file,
      line: fromCli || entry === null ? null : entry.source.line
    })
    if (decoded._tag === "Rejected") return yield* new ConfigInvalid({ issues: decoded.issues })
    return { ...decoded.spec, state: "running" } as SessionSpec
  })

const startSpec = (spec: SessionSpec, settle: Duration.Input): Effect.Effect<ObservedSession, KstlibError, Services> =>
  Effect.gen(function*() {
    const config = yield* KstlibConfig
    if (spec.backend === "tmux") {
      const tmux = yield* Tmux
      const observed = yield* observeFor(config, { backend: "tmux", socket: spec.socket_name ?? "default" })
      const existing = observed.sessions.find((o) => inSlotOf(spec, o))
      if (existing !== undefined) {
        if (existing.state === "running" || !existing.owned) return yield* new SessionExists({ session: spec.name, backend: "tmux" })
        return yield* tmux.respawn(spec, { settle })
      }
      const [r] = yield* tmux.start([spec], { settle })
      if (r === undefined) return yield* new SessionNotFound({ session: spec.name, backend: "tmux" })
      return yield* Result.match(r, { onSuccess: Effect.succeed, onFailure: Effect.fail })
    }
    const containers = yield* Containers
    const runtime = yield* containers.resolveRuntime(spec.runtime ?? config.container_runtime)
    const bound = { ...spec, runtime }
    const existing = yield* containers.inspect(spec.name, runtime).pipe(
      Effect.map((o): ObservedSession | null => o),
      Effect.catchTag("SessionNotFound", () => Effect.succeed(null))
    )
    if (existing !== null) {
      if (existing.state === "running") return yield* new SessionExists({ session: spec.name, backend: "container" })
      // A stopped container of ours is recreated so the current spec applies; a foreign one is restarted as it is.
      if (!existing.owned) return yield* containers.restart(spec.name, runtime, { settle })
      yield* containers.remove(spec.name, runtime)
    }
    return yield* containers.start(bound, runtime, { settle })
  })

export const start = (name: string, overrides: StartOverrides = {}, options: { readonly settle?: Duration.Input } = {}) =>
  Effect.gen(function*() {
    yield* checkName(name)
    yield* checkSelector({ socket: overrides.socket })
    const config = yield* KstlibConfig
    const entry = yield* configEntry(config, name)
    const spec = yield* effectiveSpec(name, entry, overrides, config)
    return yield* startSpec(spec, options.settle ?? START_SETTLE)
  })

const requireObserved = (l: Located) =>
  l.observed === null ? Effect.fail(new SessionNotFound({ session: l.name, backend: null })) : Effect.succeed(l.observed)

export interface StopOptions {
  readonly force?: boolean
  readonly timeout?: number
}

export const stop = (name: string, sel: Selector = {}, options: StopOptions = {}) =>
  Effect.gen(function*() {
    const o = yield* requireObserved(yield* locate(name, sel))
    yield* stopObserved(o, options)
    return o
  })

/** Stop (gracefully) then start again; an exited tmux pane is respawned in place. */
export const restart = (name: string, sel: Selector = {}, options: StopOptions & { readonly settle?: Duration.Input } = {}) =>
  Effect.gen(function*() {
    const l = yield* locate(name, sel)
    const settle = options.settle ?? START_SETTLE
    const o = l.observed
    if (o === null) {
      if (l.entry === null) return yield* new SessionNotFound({ session: name, backend: null })
      return yield* startSpec(l.entry.spec, settle)
    }
    if (o.backend === "tmux") {
      const spec: TmuxSpec = l.entry?.spec.backend === "tmux"
        ? l.entry.spec
        : { backend: "tmux", name, command: null, shell: false, working_dir: null, env: {}, socket_name: o.socket_name, state: "running" }
      // Same socket and an exited pane (or a foreign session): respawn in place keeps the session and its history.
      if (spec.socket_name === o.socket_name && (o.state !== "running" || l.entry === null)) {
        return yield* (yield* Tmux).respawn(spec, { settle, mark: o.owned || l.entry !== null })
      }
      yield* stopObserved(o, options)
      return yield* startSpec(spec, settle)
    }
    const containers = yield* Containers
    if (o.state === "running") yield* stopObserved(o, options)
    if (o.owned && l.entry !== null) return yield* startSpec(l.entry.spec, settle)
    return yield* containers.restart(name, o.runtime!, { settle })
  })

export const status = (name: string, sel: Selector = {}): Effect.Effect<SessionStatus, KstlibError, Services> =>
  Effect.gen(function*() {
    const config = yield* KstlibConfig
    const l = yield* locate(name, sel)
    if (l.observed !== null) return statusOf(l.observed, config)
    const entry = config.sessions.find((e) => e.name === name)
    if (entry !== undefined) return definedStatus(entry, config)
    return yield* new SessionNotFound({ session: name, backend: null })
  })

export const logs = (name: string, sel: Selector = {}, options: { readonly lines?: number; readonly colors?: boolean } = {}) =>
  locate(name, sel).pipe(Effect.flatMap(requireObserved), Effect.flatMap((o) => logsOf(o, options)))

export const follow = (name: string, sel: Selector = {}): Stream.Stream<string, KstlibError, Services> =>
  Stream.unwrap(Effect.gen(function*() {
    const o = yield* requireObserved(yield* locate(name, sel))
    const lines: Stream.Stream<string, KstlibError> = o.backend === "tmux"
      ? (yield* Tmux).follow(o.name, o.socket_name)
      : (yield* Containers).follow(o.name, o.runtime!)
    return lines
  }))

export const attach = (name: string, sel: Selector = {}) =>
  Effect.gen(function*() {
    const o = yield* requireObserved(yield* locate(name, sel))
    if (o.state !== "running") {
      return yield* new SessionAttachFailed({ session: name, backend: o.backend, reason: `session is ${o.state}` })
    }
    if (o.backend === "tmux") return yield* (yield* Tmux).attach(o.name, o.socket_name)
    return yield* (yield* Containers).attach(o.name, o.runtime!)
  })

export const exec = (name: string, argv: ReadonlyArray<string>, sel: Selector = {}, options: { readonly interactive?: boolean } = {}) =>
  Effect.gen(function*() {
    if (argv.length === 0) return yield* new InvalidInput({ field: "CMD", reason: "give the command after --" })
    // The words run as they are (no shell): the same word-level checks as a session command.
    const reason = validateArgv(argv)
    if (reason !== null) return yield* new InvalidInput({ field: "CMD", reason })
    const o = yield* requireObserved(yield* locate(name, { ...sel, backend: sel.backend ?? "container" }))
    if (o.backend !== "container") {
      return yield* new InvalidInput({ field: "NAME", reason: "exec runs in container sessions; use send-keys for tmux" })
    }
    return yield* (yield* Containers).exec(o.name, o.runtime!, argv, options)
  })

export const sendKeys = (name: string, keys: string, sel: Selector = {}, options: { readonly enter?: boolean } = {}) =>
  Effect.gen(function*() {
    const reason = validateSendKeys(keys)
    if (reason !== null) return yield* new InvalidInput({ field: "KEYS", reason })
    const o = yield* requireObserved(yield* locate(name, { ...sel, backend: "tmux" }))
    return yield* (yield* Tmux).sendKeys(o.name, o.socket_name, keys, options)
  })

export const exists = (name: string, sel: Selector = {}) =>
  locate(name, sel).pipe(Effect.map((l) => l.observed !== null))

export const isRunning = (name: string, sel: Selector = {}) =>
  locate(name, sel).pipe(Effect.map((l) => l.observed?.state === "running"))
