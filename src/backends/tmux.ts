/**
 * The tmux half of the runtime layer: one service used by per-session commands and the reconciler.
 *
 * Cost model: observe is one `list-panes -a` per live socket; start is one tmux invocation per
 * socket whatever the number of sessions (plus one observe before and one after); every target is
 * exact (`=NAME`). Argv building and parsing live in ./tmux/ (pure, unit-tested).
 */
import { existsSync } from "node:fs"
import { resolve } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Context, Duration, Effect, Layer, Option, Result, Schedule, Stream } from "effect"
import { ChildProcessSpawner } from "effect/process"
import {
  SessionAttachFailed,
  SessionExists,
  SessionNotFound,
  SessionStartFailed,
  SessionStopFailed,
  TmuxNotFound
} from "../errors.js"
import { fingerprint, specHash } from "../model.js"
import type { ObservedSession, TmuxSpec } from "../model.js"
import { interactive, run } from "../proc.js"
import type { RunResult } from "../proc.js"
import {
  captureArgs,
  createCommands,
  followPollArgs,
  listPanesArgs,
  reapThenListPanesArgs,
  respawnCommands,
  script,
  scriptArgs,
  sendKeysArgs,
  sessionPanesArgs,
  sessionTarget,
  socketArgs
} from "./tmux/argv.js"
import {
  deathOutput,
  isMissingTarget,
  isNoServer,
  lastLines,
  newLines,
  parseFollowPoll,
  parsePanes,
  parsePaneStates,
  tmuxEnvSocketPath
} from "./tmux/parse.js"
import { discoverSockets, mergeSockets, normalizeSocket, socketPath } from "./tmux/sockets.js"

/** The tmux binary (`ops.tmux_binary`); read on each call so a loaded config can set it. */
export const TmuxBinary = Context.Reference<string>("kstlib/TmuxBinary", { defaultValue: () => "tmux" })

export interface StartOptions {
  /** How long to wait after creating before checking for processes that died at once. */
  readonly settle: Duration.Input
}

export interface StopOptions {
  readonly force?: boolean
  /** Seconds to wait after the interrupt before killing (default 10). */
  readonly timeout?: number
}

export interface LogOptions {
  readonly lines?: number
  readonly colors?: boolean
}

export interface FollowOptions {
  /** Last lines of existing output emitted first (default 0: only what comes after the call). */
  readonly lines?: number
  /** Poll period (default 500 ms). */
  readonly interval?: Duration.Input
}

/** Lines of the pane reported when a process dies right after start. */
const DEATH_OUTPUT_LINES = 20

export class Tmux extends Context.Service<Tmux, {
  /**
   * Every session on the default server, on each socket given (null = default), and on the sockets
   * found in $TMUX_TMPDIR/tmux-UID. One tmux call per live socket; stale sockets are skipped.
   */
  readonly observe: (sockets?: ReadonlyArray<string | null>) => Effect.Effect<ReadonlyArray<ObservedSession>, TmuxNotFound>
  /**
   * Creates the sessions (one tmux invocation per socket), each marked as owned with its spec hash.
   * One result per spec, in order: a session whose process died within `settle` is a failure
   * carrying its exit status and last output. `settle` 0 checks nothing (no observe): the result is
   * the session as launched, for callers that verify themselves (apply).
   */
  readonly start: (
    specs: ReadonlyArray<TmuxSpec>,
    options: StartOptions
  ) => Effect.Effect<ReadonlyArray<Result.Result<ObservedSession, SessionStartFailed>>, TmuxNotFound>
  /** Respawns the pane of an exited session in place with the spec's command. */
  readonly respawn: (
    spec: TmuxSpec,
    options: StartOptions & {
      /** Write kstlib's ownership marks (default true). False when restarting a session kstlib did not create. */
      readonly mark?: boolean
    }
  ) => Effect.Effect<ObservedSession, TmuxNotFound | SessionNotFound | SessionStartFailed>
  readonly stop: (
    name: string,
    socket: string | null,
    options?: StopOptions
  ) => Effect.Effect<void, TmuxNotFound | SessionNotFound | SessionStopFailed>
  readonly logs: (name: string, socket: string | null, options?: LogOptions) => Effect.Effect<string, TmuxNotFound | SessionNotFound>
  readonly follow: (
    name: string,
    socket: string | null,
    options?: FollowOptions
  ) => Stream.Stream<string, TmuxNotFound | SessionNotFound>
  readonly attach: (name: string, socket: string | null) => Effect.Effect<void, TmuxNotFound | SessionNotFound | SessionAttachFailed>
  readonly sendKeys: (
    name: string,
    socket: string | null,
    keys: string,
    options?: { readonly enter?: boolean }
  ) => Effect.Effect<void, TmuxNotFound | SessionNotFound>
}>()("kstlib/Tmux") {
  /** On any ChildProcessSpawner (the real one, a counting one, a fake one in unit tests). */
  static readonly layer: Layer.Layer<Tmux, never, ChildProcessSpawner.ChildProcessSpawner> = Layer.effect(
    Tmux,
    Effect.gen(function*() {
      const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
      return makeTmux(spawner)
    })
  )

  /** On Node's process spawner. */
  static readonly layerNode: Layer.Layer<Tmux> = Tmux.layer.pipe(Layer.provide(NodeServices.layer))
}

const notFound = (session: string) => new SessionNotFound({ session, backend: "tmux" })

const startFailed = (session: string, reason: string, exitCode: number | null = null, output = "") =>
  new SessionStartFailed({ session, backend: "tmux", reason, exitCode, output })

const key = (socket: string | null, name: string) => `${socket ?? ""}\u0000${name}`

const makeTmux = (spawner: ChildProcessSpawner.ChildProcessSpawner["Service"]) => {
  /** One tmux invocation. The binary is read per call; it missing (or unusable) is TmuxNotFound. */
  const tmux = (socket: string | null, args: ReadonlyArray<string>, input?: string): Effect.Effect<RunResult, TmuxNotFound> =>
    Effect.gen(function*() {
      const binary = yield* TmuxBinary
      return yield* run(binary, [...socketArgs(socket, insideTmux()), ...args], input === undefined ? {} : { input }).pipe(
        Effect.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner),
        Effect.mapError(() => new TmuxNotFound({ binary }))
      )
    })

  /** Sessions of one server; none when no server listens there (absent or stale socket). */
  const listSocket = (socket: string | null, args: ReadonlyArray<string>) =>
    tmux(socket, args).pipe(
      Effect.flatMap((r): Effect.Effect<ReadonlyArray<ObservedSession>> => {
        if (r.exitCode === 0) return Effect.succeed(parsePanes(r.stdout, socket))
        if (isNoServer(r.stderr)) return Effect.succeed([])
        return Effect.logWarning(`tmux socket ${socket ?? "default"}: ${r.stderr.trim()}`).pipe(Effect.as([]))
      })
    )

  /** One call; a second only when tmux missed a child's exit status (see reapThenListPanesArgs). */
  const observeSocket = (socket: string | null): Effect.Effect<ReadonlyArray<ObservedSession>, TmuxNotFound> =>
    listSocket(socket, listPanesArgs()).pipe(
      Effect.flatMap((all) =>
        all.some((o) => o.state === "exited" && o.exit_code === null)
          ? listSocket(socket, reapThenListPanesArgs())
          : Effect.succeed(all)
      )
    )

  const observeSockets = (sockets: ReadonlyArray<string | null>) =>
    Effect.forEach(sockets, observeSocket, { concurrency: 4 }).pipe(Effect.map((xs) => xs.flat()))

  const observe = (sockets: ReadonlyArray<string | null> = []) =>
    Effect.flatMap(discoverSockets, (found) => observeSockets(mergeSockets(sockets, found)))

  /** The process died (or the session vanished) right after start: the failure, with its last output. */
  const deathFailure = (spec: TmuxSpec, socket: string | null, o: ObservedSession | undefined, tmuxError = "") =>
    Effect.gen(function*() {
      // With remain-on-exit a dead process leaves its session: absent means tmux did not create it.
      if (o === undefined) {
        return startFailed(spec.name, tmuxError !== "" ? `tmux: ${tmuxError}` : "the session disappeared right after start")
      }
      const cap = yield* tmux(socket, captureArgs(spec.name, 200, false))
      const output = cap.exitCode === 0 ? deathOutput(cap.stdout, DEATH_OUTPUT_LINES) : ""
      return startFailed(
        spec.name,
        `the process exited right after start${o.exit_code === null ? "" : ` with status ${o.exit_code}`}`,
        o.exit_code,
        output
      )
    })

  /**
   * Creates the given sessions on one socket in ONE invocation (a script on stdin, one line per
   * session). Returns, per session that tmux refused, why (`duplicate session: x` is a session
   * created meanwhile by someone else); the others' fate is judged by the observe after settle.
   */
  const createOnSocket = (socket: string | null, specs: ReadonlyArray<TmuxSpec>) =>
    Effect.gen(function*() {
      const r = yield* tmux(socket, scriptArgs(), script(specs.map(createCommands)))
      const refused = new Map<string, string>()
      for (const m of r.stderr.matchAll(/duplicate session: (.*)/g)) {
        refused.set(m[1]!.trim(), new SessionExists({ session: m[1]!.trim(), backend: "tmux" }).message)
      }
      return { refused, stderr: r.stderr.trim() }
    })

  /** What the batch just created, as far as the spec says (not yet observed). */
  const launched = (spec: TmuxSpec): ObservedSession => ({
    name: spec.name,
    backend: "tmux",
    state: "running",
    pid: null,
    created_at: null,
    image: null,
    socket_name: normalizeSocket(spec.socket_name),
    runtime: null,
    exit_code: null,
    window_count: 1,
    owned: true,
    spec_hash: specHash(spec),
    applied: fingerprint(spec)
  })

  const start = (specs: ReadonlyArray<TmuxSpec>, options: StartOptions) =>
    Effect.gen(function*() {
      const results: Array<Result.Result<ObservedSession, SessionStartFailed> | undefined> = specs.map(() => undefined)
      const bySocket = new Map<string | null, Array<number>>()
      specs.forEach((s, i) => {
        const sock = normalizeSocket(s.socket_name)
        bySocket.set(sock, [...(bySocket.get(sock) ?? []), i])
      })
      const created: Array<number> = []
      const tmuxErrors = new Map<string | null, string>()
      yield* Effect.forEach([...bySocket], ([socket, indices]) =>
        Effect.gen(function*() {
          // One observe beforehand instead of a has-session per spec.
          const existing = new Set((yield* observeSocket(socket)).map((o) => o.name))
          const seen = new Set<string>()
          const toCreate: Array<number> = []
          for (const i of indices) {
            const spec = specs[i]!
            if (existing.has(spec.name)) {
              results[i] = Result.fail(startFailed(spec.name, new SessionExists({ session: spec.name, backend: "tmux" }).message))
            } else if (seen.has(spec.name)) {
              results[i] = Result.fail(startFailed(spec.name, "the same session is listed twice"))
            } else if (spec.working_dir !== null && spec.working_dir !== "" && !existsSync(resolve(spec.working_dir))) {
              // tmux would silently start in another directory
              results[i] = Result.fail(startFailed(spec.name, `working directory does not exist: ${spec.working_dir}`))
            } else {
              seen.add(spec.name)
              toCreate.push(i)
            }
          }
          if (toCreate.length === 0) return
          const { refused, stderr } = yield* createOnSocket(socket, toCreate.map((i) => specs[i]!))
          if (stderr !== "") tmuxErrors.set(socket, stderr)
          for (const i of toCreate) {
            const reason = refused.get(specs[i]!.name)
            if (reason === undefined) created.push(i)
            else results[i] = Result.fail(startFailed(specs[i]!.name, reason))
          }
        }), { concurrency: 4, discard: true })

      if (created.length > 0 && Duration.toMillis(Duration.fromInputUnsafe(options.settle)) <= 0) {
        // settle 0: no check here; the caller verifies every launch itself (apply observes once for all).
        for (const i of created) results[i] = Result.succeed(launched(specs[i]!))
      } else if (created.length > 0) {
        yield* Effect.sleep(options.settle)
        const sockets = [...new Set(created.map((i) => normalizeSocket(specs[i]!.socket_name)))]
        const after = new Map((yield* observeSockets(sockets)).map((o) => [key(o.socket_name, o.name), o]))
        yield* Effect.forEach(created, (i) =>
          Effect.gen(function*() {
            const spec = specs[i]!
            const sock = normalizeSocket(spec.socket_name)
            const o = after.get(key(sock, spec.name))
            results[i] = o !== undefined && o.state === "running"
              ? Result.succeed(o)
              : Result.fail(yield* deathFailure(spec, sock, o, tmuxErrors.get(sock)))
          }), { concurrency: 4, discard: true })
      }
      return results.map((r) => r!)
    })

  /** `respawn-pane -k`: a pane whose process still runs is killed first; the marks are refreshed. */
  const respawn = (spec: TmuxSpec, options: StartOptions & { readonly mark?: boolean }) =>
    Effect.gen(function*() {
      const socket = normalizeSocket(spec.socket_name)
      if (spec.working_dir !== null && spec.working_dir !== "" && !existsSync(resolve(spec.working_dir))) {
        return yield* startFailed(spec.name, `working directory does not exist: ${spec.working_dir}`)
      }
      const r = yield* tmux(socket, scriptArgs(), script([respawnCommands(spec, options.mark ?? true)]))
      if (r.exitCode !== 0) {
        if (isMissingTarget(r.stderr) || isNoServer(r.stderr)) return yield* notFound(spec.name)
        return yield* startFailed(spec.name, r.stderr.trim() || `tmux exited with ${r.exitCode}`)
      }
      yield* Effect.sleep(options.settle)
      const o = (yield* observeSocket(socket)).find((x) => x.name === spec.name)
      if (o !== undefined && o.state === "running") return o
      return yield* yield* deathFailure(spec, socket, o)
    })

  /** Panes of a session, first pane first; None when the session (or its server) is gone. */
  const sessionPanes = (name: string, socket: string | null) =>
    tmux(socket, sessionPanesArgs(name)).pipe(
      Effect.map((r) => (r.exitCode === 0 ? Option.some(parsePaneStates(r.stdout)) : Option.none()))
    )

  const stop = (name: string, socket: string | null, options: StopOptions = {}) =>
    Effect.gen(function*() {
      socket = normalizeSocket(socket)
      const panes = yield* sessionPanes(name, socket)
      if (Option.isNone(panes)) return yield* notFound(name)
      const first = panes.value[0]
      if (options.force !== true && first !== undefined && !first.dead) {
        // Interrupt, then wait for the process to end (pane dead or gone, or the whole session gone).
        yield* tmux(socket, ["send-keys", "-t", first.id, "C-c"])
        const ended = sessionPanes(name, socket).pipe(
          Effect.map((p) => Option.isNone(p) || !p.value.some((x) => x.id === first.id && !x.dead))
        )
        yield* ended.pipe(
          Effect.repeat({ schedule: Schedule.spaced("200 millis"), until: (done) => done }),
          Effect.timeoutOption(Duration.seconds(options.timeout ?? 10))
        )
      }
      const kill = yield* tmux(socket, ["kill-session", "-t", sessionTarget(name)])
      if (kill.exitCode === 0) return
      // Already gone (it ended by itself, or someone else killed it) is success.
      if (Option.isNone(yield* sessionPanes(name, socket))) return
      return yield* new SessionStopFailed({
        session: name,
        backend: "tmux",
        reason: kill.stderr.trim() || `tmux kill-session exited with ${kill.exitCode}`
      })
    })

  const logs = (name: string, socket: string | null, options: LogOptions = {}) =>
    Effect.gen(function*() {
      const lines = options.lines ?? 100
      const r = yield* tmux(normalizeSocket(socket), captureArgs(name, lines, options.colors === true))
      if (r.exitCode !== 0) return yield* notFound(name)
      return lastLines(r.stdout, lines).join("\n")
    })

  /**
   * Polls the pane (one tmux call per poll: cursor + whole-history capture) and emits the lines that
   * appeared since the previous poll. Chosen over pipe-pane: no side effect on the session (a pane
   * has one pipe, which the user may be using), several followers at once, same text as `logs`.
   * Ends when the session is gone.
   */
  const follow = (name: string, socket: string | null, options: FollowOptions = {}) => {
    const sock = normalizeSocket(socket)
    const interval = options.interval ?? "500 millis"
    const poll = tmux(sock, followPollArgs(name)).pipe(
      Effect.map((r) => (r.exitCode === 0 ? Option.some(parseFollowPoll(r.stdout)) : Option.none()))
    )
    return Stream.unwrap(
      Effect.gen(function*() {
        const firstPoll = yield* poll
        if (Option.isNone(firstPoll)) return yield* notFound(name)
        const initial = firstPoll.value.complete
        const n = options.lines ?? 0
        const head = n > 0 ? initial.slice(Math.max(0, initial.length - n)) : []
        const rest = Stream.paginate(initial, (prev: ReadonlyArray<string>) =>
          Effect.sleep(interval).pipe(
            Effect.andThen(poll),
            Effect.map((p) =>
              Option.isNone(p)
                ? ([[], Option.none()] as const)
                : ([newLines(prev, p.value.complete), Option.some(p.value.complete)] as const)
            )
          ))
        return Stream.concat(Stream.fromIterable(head), rest)
      })
    )
  }

  const attach = (name: string, socket: string | null) =>
    Effect.gen(function*() {
      const sock = normalizeSocket(socket)
      const has = yield* tmux(sock, ["has-session", "-t", sessionTarget(name)])
      if (has.exitCode !== 0) return yield* notFound(name)
      const fail = (reason: string) => new SessionAttachFailed({ session: name, backend: "tmux", reason })
      const current = tmuxEnvSocketPath(process.env["TMUX"])
      if (current !== null) {
        // Inside tmux: attaching would nest; switch this client instead (same server only).
        if (resolve(current) !== resolve(socketPath(sock))) {
          return yield* fail(
            `already inside another tmux server (${current}); a client cannot switch to a session on socket ${sock ?? "default"}. Detach first, or run with TMUX unset to nest`
          )
        }
        const sw = yield* tmux(sock, ["switch-client", "-t", sessionTarget(name)])
        if (sw.exitCode !== 0) return yield* fail(sw.stderr.trim() || `tmux switch-client exited with ${sw.exitCode}`)
        return
      }
      if (process.stdin.isTTY !== true) return yield* fail("stdin is not a terminal")
      const binary = yield* TmuxBinary
      const code = yield* interactive(binary, [...socketArgs(sock, false), "attach-session", "-t", sessionTarget(name)]).pipe(
        Effect.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner),
        Effect.mapError(() => new TmuxNotFound({ binary }))
      )
      if (code !== 0) return yield* fail(`tmux attach-session exited with ${code}`)
    })

  const sendKeys = (name: string, socket: string | null, keys: string, options: { readonly enter?: boolean } = {}) =>
    Effect.gen(function*() {
      const r = yield* tmux(normalizeSocket(socket), sendKeysArgs(name, keys, options.enter ?? true))
      if (r.exitCode !== 0) return yield* notFound(name)
    })

  return Tmux.of({ observe, start, respawn, stop, logs, follow, attach, sendKeys })
}

/** $TMUX is set inside a tmux pane: a bare `tmux` would then talk to that pane's server. */
const insideTmux = () => (process.env["TMUX"] ?? "") !== ""
