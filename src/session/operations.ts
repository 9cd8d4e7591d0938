/**
 * Per-session operations (the CLI's `start stop restart status logs attach exec send-keys`), with the
 * original's precedence: command-line overrides > config > defaults. Every value, from config or from
 * the command line, passes the same validation rules before anything runs.
 */
import type { Duration } from "effect"
import { Clock, Effect, Stream } from "effect"
import type { ObserveProblem, StopOutcome } from "../backends/driver.js"
import { Backends } from "../backends/registry.js"
import { closestNames, decodeSessionEntry, sessionDefaults } from "../config/decode/index.js"
import type { ContainerSession, TmuxSession } from "../config/schema.js"
import { SHELL } from "../command.js"
import { validateArgv, validateCommand, validateSendKeys } from "../config/rules.js"
import { KstlibConfig } from "../config/service.js"
import type { LoadedConfig } from "../config/types.js"
import type { HostUnreachable } from "../errors.js"
import {
  ConfigInvalid,
  ContainerRuntimeNotFound,
  InvalidInput,
  SessionAttachFailed,
  SessionConflict,
  SessionElsewhere,
  SessionNotFound,
  SessionNotInConfig,
  SessionNotRunning,
  SessionStartFailed,
  TmuxNotFound,
  Unsupported
} from "../errors.js"
import type { BackendKind, ConfiguredSpec, ObservedSession } from "../model.js"
import { dependenciesOf, isOurs } from "../model.js"
import type { Place } from "../place.js"
import { claims, describePlace, placeOf } from "../place.js"
import type { StepResult } from "../reconcile/execute.js"
import { defaultSettle, execute } from "../reconcile/execute.js"
import { configSockets, observe, planInputs, problemText } from "../reconcile/observe.js"
import type { Invalid, Plan } from "../reconcile/plan.js"
import { boundTo, planRestartInPlace, planStart, planStop } from "../reconcile/plan.js"
import type { ConfigEntry } from "../config/types.js"
import { causeOf } from "../reconcile/render.js"
import { holdAhead, recordHolds } from "../reconcile/reconciler.js"
import { EnvDigests } from "../spec/digest-key.js"
import { followLog, logExists, readLog } from "../logs/files.js"
import type { LogLine } from "../logs/format.js"
import { parseLines, renderLine, selectLines } from "../logs/format.js"
import type { HostLogFile, LogFile } from "../logs/target.js"
import { hostLogFiles, LogDirectory, sessionLogFiles } from "../logs/target.js"
import type { Located, Selector, ValidEntry } from "./locate.js"
import { checkName, checkSelector, configEntry, locate, selectorSocket } from "./locate.js"
import type { SessionStatus } from "./status.js"
import { definedStatus, statusOf, USAGE_WINDOW, withUsage } from "./status.js"

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

/** A session entry as written (what the backends' schemas decode), any backend's fields. */
type EntryInput =
  & Partial<Omit<typeof TmuxSession.Encoded, "backend"> & Omit<typeof ContainerSession.Encoded, "backend">>
  & { readonly backend?: BackendKind }

/** A resolved spec written back as an entry (paths are absolute already): what `start` overrides field by field. */
const inputOf = (spec: ConfiguredSpec): EntryInput => {
  const { name: _name, state: _state, ...fields } = spec
  if (fields.backend === "container") {
    // declared networks by name, declared volumes found again in `volumes`
    const { networks, declared_volumes: _declared, entrypoint, build_context: _digest, ...rest } = fields
    return {
      ...rest,
      ...(networks === undefined ? {} : { networks: networks.map((n) => n.name) }),
      ...(entrypoint === undefined ? {} : { entrypoint: entrypoint.length === 0 ? "" : [...entrypoint] })
    }
  }
  if (fields.windows === undefined) return fields
  // resolved windows written back in the config's form (the pane in focus as its `focus: true`)
  const windows = fields.windows.map((w) => ({
    name: w.name,
    panes: w.panes.map((p, i) => ({ command: p.command, shell: p.shell, working_dir: p.working_dir, env: p.env, ...(i === w.focus_pane && w.panes.length > 1 ? { focus: true } : {}) })),
    layout: w.layout,
    ...(w.focus ? { focus: true } : {})
  }))
  return { ...fields, windows }
}

/** Fields both kinds have, kept when `start --backend` switches kind (`host`: it still runs there). */
const common = (input: EntryInput): EntryInput => ({
  ...(input.command === undefined ? {} : { command: input.command }),
  ...(input.shell === undefined ? {} : { shell: input.shell }),
  ...(input.working_dir === undefined ? {} : { working_dir: input.working_dir }),
  ...(input.env === undefined ? {} : { env: input.env }),
  ...(input.host === undefined ? {} : { host: input.host })
})

const hasOverrides = (o: StartOverrides) =>
  [o.backend, o.command, o.image, o.working_dir, o.env, o.volumes, o.ports, o.socket].some((v) => v !== undefined)

/** Builds and validates the spec `start` runs: config entry, overridden field by field by the command line. */
export const effectiveSpec = (
  name: string,
  entry: ValidEntry | null,
  overrides: StartOverrides,
  config: LoadedConfig
): Effect.Effect<ConfiguredSpec, ConfigInvalid | InvalidInput> =>
  Effect.gen(function*() {
    const base: EntryInput = entry === null ? {} : inputOf(entry.spec)
    const backend: BackendKind = overrides.backend ?? base.backend ?? (overrides.image !== undefined ? "container" : config.default_backend)
    if (backend === "tmux") {
      for (const [flag, v] of [["image", overrides.image], ["volumes", overrides.volumes], ["ports", overrides.ports]] as const) {
        if (v !== undefined) return yield* new InvalidInput({ field: flag, reason: "applies to container sessions only" })
      }
    } else if (overrides.socket !== undefined) {
      return yield* new InvalidInput({ field: "socket", reason: "applies to tmux sessions only" })
    }
    // Switching backend keeps only the fields both kinds have.
    const kept = base.backend === backend ? base : common(base)
    const socket = selectorSocket(overrides.socket)
    const { socket_name, ...rest } = kept
    const raw: EntryInput = {
      ...rest,
      backend,
      ...(overrides.command !== undefined ? { command: overrides.command } : {}),
      ...(overrides.image !== undefined ? { image: overrides.image } : {}),
      ...(overrides.working_dir !== undefined ? { working_dir: overrides.working_dir } : {}),
      ...(overrides.volumes !== undefined ? { volumes: overrides.volumes } : {}),
      ...(overrides.ports !== undefined ? { ports: overrides.ports } : {}),
      ...(overrides.env !== undefined ? { env: { ...kept.env, ...overrides.env } } : {}),
      // `--socket default` is the default server: no socket_name
      ...(socket === undefined ? (socket_name === undefined || socket_name === null ? {} : { socket_name }) : socket === null ? {} : { socket_name: socket })
    }
    const fromCli = hasOverrides(overrides)
    const decoded = decodeSessionEntry(name, raw, {
      defaults: sessionDefaults(config),
      baseDir: overrides.cwd ?? process.cwd(),
      // `~` in a command or path given here is kstlib's own HOME, as in the config file
      home: process.env["HOME"] === "" ? undefined : process.env["HOME"],
      file: fromCli || entry === null ? "<command line>" : entry.source.file,
      line: fromCli || entry === null ? null : entry.source.line
    })
    if (decoded._tag === "Rejected") return yield* new ConfigInvalid({ issues: decoded.issues })
    return { ...decoded.spec, state: "running" }
  })

/** The error an Invalid step means for a command that needs the session to run. */
const invalidError = (step: Invalid, config: LoadedConfig, unreachable: ReadonlyArray<HostUnreachable>) => {
  switch (step.reason) {
    case "rejected":
      return new ConfigInvalid({ issues: step.issues })
    case "tmux-missing":
      return new TmuxNotFound({ binary: config.tmux_binary })
    case "runtime-missing":
      return new ContainerRuntimeNotFound({ tried: step.runtime === null ? ["podman", "docker"] : [step.runtime] })
    case "unreadable": {
      // its host could not be reached: ssh's own error says why; else the place that failed
      const host = step.scope?.host
      return unreachable.find((u) => u.host === host) ??
        new SessionStartFailed({ session: step.session, backend: step.backend, reason: causeOf(step), exitCode: null, output: "" })
    }
  }
}

export interface StartResult {
  /** `already-running`: nothing was done (start is idempotent). */
  readonly status: "started" | "already-running"
  readonly observed: ObservedSession | null
  /** Dependencies started first (not running before). */
  readonly dependencies?: ReadonlyArray<string>
}

/** Runs a one-session plan through the executor; its first failure is the error. */
const run = (p: Plan, settle: Duration.Input, stopTimeout: number | undefined, waitReady = false) =>
  Effect.gen(function*() {
    const ahead = yield* holdAhead(p.project, p)
    const report = yield* execute(p, { settle, waitReady, ...(stopTimeout === undefined ? {} : { stopTimeout }) })
    yield* recordHolds(p.project, report, ahead)
    const failed = report.results.find((r) => r.error !== null)
    if (failed !== undefined && failed.error !== null) return yield* Effect.fail(failed.error)
    return report.results
  })

const launchedSession = (results: ReadonlyArray<StepResult>, name?: string) =>
  results.find((r) => r.observed !== null && (name === undefined || r.step.session === name))?.observed ?? null

/** Every config session `name` depends on, directly or not, in config order. */
export const dependencyClosure = (config: LoadedConfig, name: string): ReadonlyArray<string> => {
  const seen = new Set<string>()
  const visit = (n: string) => {
    const e = config.sessions.find((x) => x.name === n)
    for (const d of e?._tag === "Valid" ? dependenciesOf(e.spec) : []) {
      if (d === name || seen.has(d)) continue
      seen.add(d)
      visit(d)
    }
  }
  visit(name)
  return config.sessions.map((e) => e.name).filter((n) => seen.has(n))
}

/**
 * `start NAME`: the config session (with command-line overrides on top) through the planner and
 * the executor, exactly as `apply NAME` would; running already = nothing to do.
 */
export const start = (
  name: string,
  overrides: StartOverrides = {},
  options: {
    readonly settle?: Duration.Input
    /** Do not start the sessions it depends on (`start --no-deps`). */
    readonly noDeps?: boolean
    /** Wait for its `ready:` probe too. */
    readonly waitReady?: boolean
  } = {}
) =>
  Effect.gen(function*() {
    yield* checkName(name)
    yield* checkSelector({ socket: overrides.socket })
    const config = yield* KstlibConfig
    const entry = yield* configEntry(config, name)
    if (entry === null && overrides.command === undefined && overrides.image === undefined) {
      return yield* new SessionNotInConfig({
        session: name,
        suggestions: closestNames(name, config.sessions.map((e) => e.name)),
        hint: "nothing started (give a command or an image to start a session that is not in the config)"
      })
    }
    const spec0 = yield* effectiveSpec(name, entry, overrides, config)
    // --no-deps: started on its own, not waiting for anything
    const spec = options.noDeps === true ? { ...spec0, depends_on: [] } : spec0
    const observation = yield* observe({
      sockets: [...configSockets(config), ...(spec.backend === "tmux" ? [spec.socket_name] : [])]
    })
    const deps = options.noDeps === true ? [] : dependencyClosure(config, name)
    const decided = planStart(
      { _tag: "Valid", name, spec, source: entry?.source ?? { file: "<command line>", line: null } },
      config.sessions.filter((e) => deps.includes(e.name)),
      observation.sessions,
      {
        project: config.project,
        ...planInputs(observation),
        digest: yield* EnvDigests,
        placeAsked: overrides.socket !== undefined || overrides.backend !== undefined
      }
    )
    switch (decided._tag) {
      case "Elsewhere":
        return yield* new SessionElsewhere({ session: name, place: describePlace(placeOf(decided.observed)) })
      case "Blocked": {
        const s = decided.step
        if (s._tag === "Invalid") return yield* invalidError(s, config, observation.unreachable)
        return yield* new SessionConflict({
          session: name,
          place: describePlace(placeOf(s.target)),
          owner: s.reason === "other-project" ? s.target.mark.project : null
        })
      }
      case "AlreadyRunning":
        return { status: "already-running", observed: decided.observed } satisfies StartResult
      case "Run":
        break
    }
    const p = decided.plan
    const results = yield* run(p, options.settle ?? defaultSettle, 10, options.waitReady === true)
    const dependencies = results.filter((r) => r.step.session !== name && r.error === null).map((r) => r.step.session)
    return {
      status: "started",
      observed: launchedSession(results, name),
      ...(dependencies.length === 0 ? {} : { dependencies })
    } satisfies StartResult
  })

const suggestionsFor = (config: LoadedConfig, observed: ReadonlyArray<ObservedSession>, name: string) =>
  closestNames(name, [...new Set([...config.sessions.map((e) => e.name), ...observed.map((o) => o.name)])])

/**
 * Whether a problem of the observation concerns where this config entry would be: the one rule
 * (`claims`: its machine, its backend, its socket or engine). A rejected entry: anything on this
 * machine's backend of that kind. Notices (read, with a warning) concern nothing.
 */
const concerns = (entry: ConfigEntry, config: LoadedConfig, p: ObserveProblem) => {
  if (p.kind === "notice") return false
  if (entry._tag === "Valid") return claims(entry.spec, p.scope)
  const backend = entry.backend ?? config.default_backend
  return p.scope.host === undefined && (p.scope.backend === undefined || p.scope.backend === backend)
}

/** Whether anything that could not be read may hold this config session (then it is not known to be absent). */
const mayBeUnread = (l: Located, config: LoadedConfig) => {
  const entry = config.sessions.find((e) => e.name === l.name)
  if (entry === undefined) return l.observation.problems.some((p) => p.kind !== "notice")
  return l.observation.problems.some((p) => concerns(entry, config, p))
}

/** Why nothing was found: not running (a config session) or not found (with close names), and what could not be read. */
const missing = (l: Located, config: LoadedConfig) => {
  // Say what failed: a missing or failing tmux/engine is not the same as "not there" — where the
  // session could be (a config session: its backend; any other name: anywhere).
  const entry = config.sessions.find((e) => e.name === l.name)
  const unreadable = l.observation.problems
    .filter((p) => (entry === undefined ? p.kind !== "notice" : concerns(entry, config, p)))
    .map(problemText)
  const more = unreadable.length === 0 ? {} : { unreadable }
  return config.sessions.some((e) => e.name === l.name)
    ? new SessionNotRunning({ session: l.name, ...more })
    : new SessionNotFound({ session: l.name, backend: null, suggestions: suggestionsFor(config, l.observation.sessions, l.name), ...more })
}

const requireObserved = (l: Located) =>
  Effect.gen(function*() {
    if (l.observed !== null) return l.observed
    return yield* missing(l, yield* KstlibConfig)
  })


export interface StopOptions {
  readonly force?: boolean
  readonly timeout?: number
}

/** A grace period is 0 to 3600 seconds (`--timeout -5` is a usage error, not "kill at once"). */
const checkTimeout = (timeout: number | undefined) =>
  timeout === undefined || (Number.isFinite(timeout) && timeout >= 0 && timeout <= 3600)
    ? Effect.void
    : Effect.fail(new InvalidInput({ field: "timeout", reason: "must be between 0 and 3600 seconds" }))

export type StopResult =
  | { readonly status: "not-running"; readonly dependents?: ReadonlyArray<string> }
  | {
    readonly status: StopOutcome
    readonly observed: ObservedSession
    /** Config sessions that depend on it and still run: left alone (stop never cascades), named so the user knows. */
    readonly dependents?: ReadonlyArray<string>
  }

/** Config sessions that depend on `name` (directly or not) and are running now. */
const runningDependents = (config: LoadedConfig, observed: ReadonlyArray<ObservedSession>, name: string): ReadonlyArray<string> =>
  config.sessions
    .filter((e) => e._tag === "Valid" && e.name !== name && dependencyClosure(config, e.name).includes(name))
    .map((e) => e.name)
    .filter((n) => observed.some((o) => o.name === n && o.state === "running" && isOurs(o, config.project)))

/**
 * `stop NAME`: the session found (any owner: the user named it), through the executor. Idempotent:
 * a config session that nothing runs is "not running", not an error.
 */
export const stop = (name: string, sel: Selector = {}, options: StopOptions = {}) =>
  Effect.gen(function*() {
    yield* checkTimeout(options.timeout)
    const config = yield* KstlibConfig
    const l = yield* locate(name, sel)
    const dependents = runningDependents(config, l.observation.sessions, name)
    const named = dependents.length === 0 ? {} : { dependents }
    if (l.observed === null && !mayBeUnread(l, config) && config.sessions.some((e) => e.name === name)) {
      return { status: "not-running", ...named } satisfies StopResult
    }
    const o = yield* requireObserved(l)
    const results = yield* run(planStop(o, config.project), defaultSettle, options.force === true ? 0 : options.timeout)
    return { status: results[0]?.outcome ?? "stopped", observed: o, ...named } satisfies StopResult
  })

/**
 * `restart NAME`: a config session is stopped gracefully (if running), then started through the
 * planner, as apply would. A session kstlib has no spec for (not in the config) is restarted in
 * place as it was created (tmux: its original command; a container: the same container).
 */
export const restart = (
  name: string,
  sel: Selector = {},
  options: StopOptions & { readonly settle?: Duration.Input; readonly noDeps?: boolean; readonly waitReady?: boolean } = {}
) =>
  Effect.gen(function*() {
    yield* checkTimeout(options.timeout)
    const config = yield* KstlibConfig
    const l = yield* locate(name, sel)
    const timeout = options.timeout
    const settle = options.settle ?? defaultSettle
    const o = l.observed
    if (l.entry === null) {
      const target = yield* requireObserved(l)
      const inPlace = planRestartInPlace(target, config.project)
      yield* run(inPlace.stop, settle, timeout)
      const results = yield* run(inPlace.start, settle, timeout)
      return { status: "started", observed: launchedSession(results) } satisfies StartResult
    }
    if (o !== null && !isOurs(o, config.project)) {
      return yield* new SessionConflict({ session: name, place: describePlace(placeOf(o)), owner: o.mark.managed ? o.mark.project : null })
    }
    // what cannot start is found out before anything is stopped
    yield* effectiveSpec(name, l.entry, sel.socket === undefined ? {} : { socket: sel.socket }, config)
    if (o !== null && o.state === "running") yield* run(planStop(o, config.project), settle, timeout)
    return yield* start(name, sel.socket === undefined ? {} : { socket: sel.socket }, options)
  })

export const status = (name: string, sel: Selector = {}) =>
  Effect.gen(function*() {
    const config = yield* KstlibConfig
    const l = yield* locate(name, sel)
    if (l.observed !== null) {
      const base = statusOf(l.observed, config, yield* EnvDigests)
      // the probe and the CPU window at the same time
      const [ready, usage] = yield* Effect.all([probeOnce(l.observed, config), usageOf([l.observed])], { concurrency: 2 })
      return withUsage({ ...base, ready }, usage[0])
    }
    const entry = config.sessions.find((e) => e.name === name)
    if (entry !== undefined) {
      const defined = definedStatus(entry, config)
      // Its backend could not be read: whether it runs is unknown, not "defined".
      const unknown = defined.state === "defined" && l.observation.problems.some((p) => concerns(entry, config, p))
      return unknown ? { ...defined, state: "unknown" } satisfies SessionStatus as SessionStatus : defined
    }
    return yield* missing(l, config)
  })

/** CPU and memory of these sessions, in order: measured once for all of them over `USAGE_WINDOW` (null: not measured). */
export const usageOf = (sessions: ReadonlyArray<ObservedSession>) =>
  Effect.gen(function*() {
    if (sessions.length === 0) return []
    return yield* (yield* Backends).usage(sessions, USAGE_WINDOW)
  })

/** `status` and `top`: the config's `ready:` probe, ONE attempt, for a running session of ours; null when there is none to run. */
export const probeOnce = (o: ObservedSession, config: LoadedConfig) =>
  Effect.gen(function*() {
    const entry = config.sessions.find((e) => e.name === o.name)
    if (entry?._tag !== "Valid" || o.state !== "running") return null
    if (entry.spec.ready === undefined || entry.spec.ready === null) return null
    const spec = boundTo(entry.spec, o)
    if (spec === null) return null
    return (yield* (yield* Backends).probe(o, spec)).ready
  })

/**
 * The session's `ready:` probe, one attempt (what `status` shows as READY). Null when there is no
 * probe to run: no `ready:` in its config entry, or what runs under the name is not the config's.
 */
export const probe = (name: string, sel: Selector = {}) =>
  Effect.gen(function*() {
    const config = yield* KstlibConfig
    const l = yield* locate(name, sel)
    const o = yield* requireObserved(l)
    const ready = l.entry?.spec.ready
    const spec = ready === undefined || ready === null ? null : boundTo(l.entry!.spec, o)
    return spec === null || !isOurs(o, config.project) ? null : yield* (yield* Backends).probe(o, spec)
  })

/** What `logs` and `follow` take besides the session: how many lines, since when, with times. */
export interface LogsOptions {
  readonly lines?: number
  readonly colors?: boolean
  /** From the log file's times (a tmux session without one: an InvalidInput, exit 2), the engine's (containers). */
  readonly since?: Date | undefined
  /** The log file's times, the engine's (containers); without a file, the time kstlib read each line (tmux). */
  readonly timestamps?: boolean | undefined
}

const backendLogOptions = (options: LogsOptions, lines: number) => ({
  lines,
  ...(options.since === undefined ? {} : { since: options.since }),
  ...(options.timestamps === undefined ? {} : { timestamps: options.timestamps }),
  ...(options.colors === undefined ? {} : { colors: options.colors })
})

/**
 * What `logs NAME` reads: the session's log file (every earlier run, after a stop, a crash, a
 * replace or `down`; a `windows:` session: one per pane, merged by time, or one pane with
 * `NAME:WINDOW.N`), and, for a container that still exists, the engine's output of it; without a
 * file (`log_file: false`, a foreign session, one started before log files), what the backend keeps.
 */
export interface LogsTarget {
  readonly name: string
  readonly observed: ObservedSession | null
  /** The log files on this machine that exist (none: the backend's own output). */
  readonly files: ReadonlyArray<LogFile>
  /** A tmux session on a host: its files there, read when `logs` runs (none there: the pane's output). */
  readonly host?: {
    readonly place: Place
    readonly files: ReadonlyArray<HostLogFile>
    /** Why there is no pane to fall back on (not running), when there is none. */
    readonly absent: SessionNotRunning | SessionNotFound | null
  }
}

/** `NAME:WINDOW.N`: a pane of a `windows:` session. */
const splitPane = (arg: string): { readonly name: string; readonly pane: { readonly window: string; readonly index: number } | null } | null => {
  const colon = arg.indexOf(":")
  if (colon === -1) return { name: arg, pane: null }
  const m = /^(.+)\.(\d+)$/u.exec(arg.slice(colon + 1))
  return m === null ? null : { name: arg.slice(0, colon), pane: { window: m[1]!, index: Number(m[2]) } }
}

/** What says where a session's log files are: its config spec, or one of ours seen running; null: neither. */
const logSpecOf = (l: Located, config: LoadedConfig) => {
  if (l.observed !== null && !isOurs(l.observed, config.project)) return null
  return l.entry?.spec ?? (l.observed === null ? null : { name: l.name, backend: l.observed.backend, ...(l.observed.host === undefined ? {} : { host: l.observed.host }) })
}

type PaneRef = { readonly window: string; readonly index: number }

/** The one pane's file (unlabelled) of `NAME:WINDOW.N`, or every file. */
const paneFiles = <F extends { readonly label: string | null }>(files: ReadonlyArray<F>, pane: PaneRef | null): ReadonlyArray<F> =>
  pane === null ? files : files.filter((f) => f.label === `${pane.window}.${pane.index}`).map((f) => ({ ...f, label: null }))

/** A tmux session on a host: its log files there (data for one read over ssh when `logs` runs). */
const hostFilesOf = (l: Located, config: LoadedConfig, pane: PaneRef | null): LogsTarget["host"] => {
  const spec = logSpecOf(l, config)
  if (spec === null || spec.host === undefined) return undefined
  const files = paneFiles(hostLogFiles(spec, config.project), pane)
  const spec0 = l.entry?.spec
  const place = spec0 !== undefined ? (spec0.backend === "tmux" ? placeOf(spec0) : null) : l.observed !== null ? placeOf(l.observed) : null
  return files.length === 0 || place === null ? undefined : { place, files, absent: l.observed === null ? missing(l, config) : null }
}

/** The log files of a config session or of one of ours, when they are on this machine and exist. */
const logFilesOf = (
  l: Located,
  config: LoadedConfig,
  dir: string | null,
  pane: PaneRef | null
): Effect.Effect<ReadonlyArray<LogFile>, InvalidInput> => {
  const spec = logSpecOf(l, config)
  if (spec === null) return Effect.succeed([])
  const files = sessionLogFiles(spec, config.project, dir)
  if (pane !== null) {
    const all = "windows" in spec && spec.windows !== undefined ? spec.windows.flatMap((w) => w.panes.map((_, i) => `${w.name}.${i}`)) : []
    if (!all.includes(`${pane.window}.${pane.index}`)) {
      return Effect.fail(new InvalidInput({
        field: "NAME",
        reason: all.length === 0 ? `'${l.name}' has no windows: name the session alone` : `'${l.name}' has no pane ${pane.window}.${pane.index} (its panes: ${all.join(", ")})`
      }))
    }
  }
  return Effect.succeed(paneFiles(files, pane).filter((f) => logExists(f.path)))
}

/**
 * The sessions `logs NAME...` will read, each found (running, or with a log file) before anything
 * is printed, so that a wrong name or an option one of them cannot honour fails first, on its own.
 */
export const logsTargets = (names: ReadonlyArray<string>, sel: Selector = {}, options: LogsOptions = {}) =>
  Effect.forEach(names, (arg) =>
    Effect.gen(function*() {
      const split = splitPane(arg)
      if (split === null) return yield* new InvalidInput({ field: "NAME", reason: `'${arg}': a pane is NAME:WINDOW.N (N from 0, in the order of its panes)` })
      const l = yield* locate(split.name, sel)
      const config = yield* KstlibConfig
      const files = yield* logFilesOf(l, config, yield* LogDirectory, split.pane)
      const host = files.length === 0 ? hostFilesOf(l, config, split.pane) : undefined
      if (host !== undefined) return { name: arg, observed: l.observed, files, host } satisfies LogsTarget
      const observed = files.length === 0 ? yield* requireObserved(l) : l.observed
      if (options.since !== undefined && files.length === 0 && observed?.backend === "tmux") {
        return yield* new InvalidInput({
          field: "since",
          reason: `'${arg}' is a tmux session without a log file: the pane keeps no time per line, so --since needs its log file`
        })
      }
      return { name: arg, observed, files } satisfies LogsTarget
    }))

/** The engine's lines of a container that still exists (its times kept), to go after the file's. */
const engineLines = (o: ObservedSession | null, options: LogsOptions, lines: number) =>
  o === null || o.backend === "tmux"
    ? Effect.succeed([] as Array<LogLine>)
    : Effect.gen(function*() {
      const text = yield* (yield* Backends).logs(o, { ...backendLogOptions(options, lines), timestamps: true }).pipe(
        Effect.catchTag("SessionNotFound", () => Effect.succeed(""))
      )
      return parseLines(text)
    })

const labelled = (f: { readonly label: string | null }) => (l: LogLine): LogLine => (f.label === null ? l : { ...l, text: `${f.label} | ${l.text}` })

/** Files' lines, labelled, merged by time (a line without one keeps the time of the line before it). */
const mergeFiles = (files: ReadonlyArray<{ readonly label: string | null; readonly lines: ReadonlyArray<LogLine> }>): Array<LogLine> => {
  if (files.length === 1) return [...files[0]!.lines]
  const all: Array<{ readonly at: number; readonly line: LogLine }> = []
  for (const f of files) {
    let at = 0
    for (const line of f.lines) {
      at = line.time?.getTime() ?? at
      all.push({ at, line: labelled(f)(line) })
    }
  }
  // stable: one file's lines of one second stay in their order
  return all.sort((a, b) => a.at - b.at).map((x) => x.line)
}

/** Every file's lines (with its rotated copies), merged by time. */
const readFiles = (files: ReadonlyArray<LogFile>) =>
  Effect.forEach(files, (f) => Effect.map(readLog(f.path), (lines) => ({ label: f.label, lines: lines ?? [] }))).pipe(Effect.map(mergeFiles))

export const logsOf = (t: LogsTarget, options: LogsOptions = {}) =>
  Effect.gen(function*() {
    const lines = options.lines ?? 100
    const render = (all: ReadonlyArray<LogLine>) =>
      selectLines(all, { lines, since: options.since }).map((l) => renderLine(l, options.timestamps === true)).join("\n")
    if (t.host !== undefined) {
      const onHost = yield* (yield* Backends).hostLogs(t.host.place, t.host.files, lines < 0 ? null : lines)
      if (onHost !== null) return render(mergeFiles(t.host.files.map((f, i) => ({ label: f.label, lines: onHost[i]! }))))
      // nothing there (log files came after it started, or the host's state directory moved): the pane
      if (t.observed === null) return yield* Effect.fail(t.host.absent!)
      return yield* (yield* Backends).logs(t.observed, backendLogOptions(options, lines))
    }
    if (t.files.length === 0) return yield* (yield* Backends).logs(t.observed!, backendLogOptions(options, lines))
    return render([...(yield* readFiles(t.files)), ...(yield* engineLines(t.observed, options, lines))])
  })

/** How long a followed tmux session may be absent (a restart's gap) before `logs -f` ends. */
const FOLLOW_GRACE_MILLIS = 3000

/**
 * The last `lines` lines, then new ones until the session ends (or the stream is interrupted).
 * With a log file, a tmux session is followed in the file (a respawn adds only new lines; on a
 * host, there), until the session is gone; a container's earlier runs come from the file, then the
 * engine follows.
 */
export const followOf = (t: LogsTarget, options: LogsOptions = {}) =>
  Stream.unwrap(Effect.gen(function*() {
    const backends = yield* Backends
    const lines = options.lines ?? 10
    const o = t.observed
    if (o === null && t.host?.absent) return yield* Effect.fail(t.host.absent)
    const render = (l: LogLine) => renderLine(l, options.timestamps === true)
    // The pane's own follower tells when the session is gone; a restart (stop, then start) leaves
    // it absent for a moment, so the file is followed on until it has been absent for FOLLOW_GRACE.
    const goneOf = (session: ObservedSession) =>
      Effect.gen(function*() {
        let absentSince = yield* Clock.currentTimeMillis
        while (true) {
          const ran = yield* Stream.runDrain(backends.follow(session, { lines: 0 })).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
          const now = yield* Clock.currentTimeMillis
          if (ran) absentSince = now
          else if (now - absentSince >= FOLLOW_GRACE_MILLIS) return
          yield* Effect.sleep("250 millis")
        }
      })
    // a tmux session on a host: its files there (the last lines, then `tail -F` over ssh); none: its pane
    if (t.host !== undefined && o !== null) {
      const onHost = yield* backends.hostLogs(t.host.place, t.host.files, lines < 0 ? null : lines)
      if (onHost === null) return backends.follow(o, backendLogOptions(options, lines))
      const head = selectLines(mergeFiles(t.host.files.map((f, i) => ({ label: f.label, lines: onHost[i] ?? [] }))), { lines, since: options.since })
      return Stream.concat(Stream.fromIterable(head), backends.followHostLogs(t.host.place, t.host.files).pipe(Stream.interruptWhen(goneOf(o)))).pipe(
        Stream.map(render)
      )
    }
    if (t.files.length === 0) return backends.follow(o!, backendLogOptions(options, lines))
    const head = selectLines(yield* readFiles(t.files), { lines, since: options.since })
    if (o !== null && o.backend !== "tmux") {
      return Stream.concat(Stream.fromIterable(head.map(render)), backends.follow(o, backendLogOptions(options, lines)).pipe(Stream.catchTag("SessionNotFound", () => Stream.empty)))
    }
    if (o === null) return Stream.fromIterable(head.map(render))
    const tails = t.files.map((f) => followLog(f.path, goneOf(o)).pipe(Stream.map(labelled(f))))
    return Stream.concat(Stream.fromIterable(head), Stream.mergeAll(tails, { concurrency: "unbounded" })).pipe(Stream.map(render))
  }))

export const logs = (name: string, sel: Selector = {}, options: LogsOptions = {}) =>
  Effect.gen(function*() {
    const [t] = yield* logsTargets([name], sel, options)
    return yield* logsOf(t!, options)
  })

/** The last `lines` lines, then new ones until the session ends (or the stream is interrupted). */
export const follow = (name: string, sel: Selector = {}, options: LogsOptions = {}) =>
  Stream.unwrap(Effect.map(logsTargets([name], sel, options), ([t]) => followOf(t!, options)))

/**
 * `attach NAME`, or `NAME:WINDOW`: that window of a tmux session made current (a config session's
 * window names are checked first; any other's by tmux).
 */
export const attach = (arg: string, sel: Selector = {}) =>
  Effect.gen(function*() {
    const colon = arg.indexOf(":")
    const name = colon === -1 ? arg : arg.slice(0, colon)
    const window = colon === -1 ? undefined : arg.slice(colon + 1)
    if (window === "") return yield* new InvalidInput({ field: "NAME", reason: `'${arg}': a window is NAME:WINDOW (its name)` })
    const l = yield* locate(name, sel)
    const spec = l.entry?.spec
    if (window !== undefined && spec !== undefined) {
      const names = spec.backend === "tmux" ? (spec.windows ?? []).map((w) => w.name) : []
      if (!names.includes(window)) {
        return yield* new InvalidInput({
          field: "NAME",
          reason: names.length === 0 ? `'${name}' has no windows: name the session alone` : `'${name}' has no window '${window}' (its windows: ${names.join(", ")})`
        })
      }
    }
    const o = yield* requireObserved(l)
    if (window !== undefined && o.backend !== "tmux") {
      return yield* new InvalidInput({ field: "NAME", reason: `'${name}' is a container: it has no windows, name it alone` })
    }
    if (o.state !== "running") {
      return yield* new SessionAttachFailed({ session: name, backend: o.backend, reason: `session is ${o.state}` })
    }
    return yield* (yield* Backends).attach(o, { window })
  })

/**
 * `exec NAME -- ARGV`: the words run as they are (no shell), with the same word-level checks as a
 * session command; `shell`: ONE word of shell code run by `sh -c` (the opt-in, as `shell: true`).
 */
export const exec = (
  name: string,
  argv: ReadonlyArray<string>,
  sel: Selector = {},
  options: { readonly interactive?: boolean; readonly shell?: boolean } = {}
) =>
  Effect.gen(function*() {
    if (argv.length === 0) return yield* new InvalidInput({ field: "CMD", reason: "give the command after --" })
    if (options.shell === true && argv.length !== 1) {
      return yield* new InvalidInput({ field: "CMD", reason: "with --shell, give the shell code as ONE argument: --shell -- 'a | b'" })
    }
    const words = options.shell === true ? [SHELL, "-c", argv[0]!] : argv
    const reason = options.shell === true ? validateCommand(argv[0]!, { shell: true }) : validateArgv(argv)
    if (reason !== null) return yield* new InvalidInput({ field: "CMD", reason: reason.replace("set shell: true", "pass --shell") })
    const o = yield* observedFor(name, { ...sel, backend: sel.backend ?? "container" }, "exec", "exec runs in container sessions; use send-keys for tmux")
    const backends = yield* Backends
    if (!backends.capabilities(o).exec) {
      return yield* new Unsupported({ session: name, backend: o.backend, operation: "exec", hint: "exec runs in container sessions; use send-keys for tmux" })
    }
    return yield* backends.exec(o, words, { interactive: options.interactive ?? false })
  })

export const sendKeys = (name: string, keys: string, sel: Selector = {}, options: { readonly enter?: boolean } = {}) =>
  Effect.gen(function*() {
    const reason = validateSendKeys(keys)
    if (reason !== null) return yield* new InvalidInput({ field: "KEYS", reason })
    const o = yield* observedFor(name, { ...sel, backend: "tmux" }, "send-keys", "send-keys types into tmux sessions; use exec for containers")
    return yield* (yield* Backends).sendKeys(o, keys, { enter: options.enter ?? true })
  })

/**
 * The running session a one-backend verb (exec, send-keys) acts on. Not found there but running in
 * the other backend: the verb is unsupported for it, which is what to say (not "not running").
 */
const observedFor = (name: string, sel: Selector & { readonly backend: BackendKind }, operation: string, hint: string) =>
  Effect.gen(function*() {
    const l = yield* locate(name, sel)
    if (l.observed === null) {
      const other = yield* locate(name, { ...sel, backend: sel.backend === "tmux" ? "container" : "tmux" }).pipe(Effect.option)
      if (other._tag === "Some" && other.value.observed !== null) {
        return yield* new Unsupported({ session: name, backend: other.value.observed.backend, operation, hint })
      }
    }
    return yield* requireObserved(l)
  })

export const exists = (name: string, sel: Selector = {}) => locate(name, sel).pipe(Effect.map((l) => l.observed !== null))

export const isRunning = (name: string, sel: Selector = {}) => locate(name, sel).pipe(Effect.map((l) => l.observed?.state === "running"))

