/**
 * The tmux Backend. Cost model: observe is one tmux call per live socket; launch is one call per
 * socket whatever the number of sessions; every target is exact (`=NAME`). Argv building and
 * parsing live in ./tmux/ (pure, unit-tested).
 */
import { existsSync } from "node:fs"
import { resolve } from "node:path"
import { Clock, Context, Duration, Effect, Layer, Option, Result, Schedule, Stream } from "effect"
import { ChildProcessSpawner } from "effect/process"
import {
  CommandFailed,
  SessionAttachFailed,
  SessionExists,
  SessionNotFound,
  SessionStartFailed,
  SessionStopFailed,
  SocketPathTooLong,
  TmuxNotFound,
  Unsupported
} from "../errors.js"
import type { ObservedTmux, StopSignal, TmuxSpec } from "../model.js"
import { DEFAULT_STOP_SIGNAL, DEFAULT_STOP_TIMEOUT } from "../model.js"
import { ignoresSignal, isAlive, sessionMembers, signalSession } from "../system/process-tree.js"
import type { Stamp } from "../spec/fingerprint.js"
import type { BackendTimeout, HostUnreachable } from "../errors.js"
import { interactive, run } from "../proc.js"
import type { RunResult } from "../proc.js"
import type { AttachOptions, BackendError, BackendObservation, Driver, Frozen, Launch, LogOptions, ObserveProblem, ObserveScope, StopOptions, StopOutcome, Usage } from "./driver.js"
import { lookPath } from "../transport/path.js"
import { LogDirectory } from "../logs/target.js"
import { probeWith } from "./probe.js"
import { stampedEntry } from "../spec/thaw.js"
import type { HostLogFile } from "../logs/target.js"
import type { LogLine } from "../logs/format.js"
import { followLine, followStart, hostFollowArgv, hostLogsArgv, hostPurgeArgv, parseHostLogs, parseHostPurge } from "./tmux/host-logs.js"
import { freezeArgs, parseFreeze } from "./tmux/freeze.js"
import {
  captureArgs,
  createCommands,
  followPollArgs,
  listPanesArgs,
  reapThenListPanesArgs,
  panesToRespawn,
  respawnCommands,
  respawnPanesCommands,
  script,
  SEP,
  scriptArgs,
  sendKeysArgs,
  sessionPanesArgs,
  sessionTarget,
  socketArgs,
  type Supervisor,
  unsuperviseCommands,
  windowTarget
} from "./tmux/argv.js"
import {
  isMissingTarget,
  isNoServer,
  lastLines,
  newLines,
  parseFollowPoll,
  parsePanes,
  parsePaneStates,
  type PaneState,
  tmuxEnvSocketPath
} from "./tmux/parse.js"
import {
  MAX_SOCKET_PATH_BYTES,
  mergeSockets,
  normalizeSocket,
  parseRemoteSockets,
  REMOTE_SOCKETS_SCRIPT,
  socketPath,
  socketPathTooLong,
  TmuxSocketDirectory
} from "./tmux/sockets.js"
import { SshHosts, sshInteractive, sshRun, sshStream } from "../transport/ssh.js"

/** tmux calls at once without `--parallel`: launches are one call per socket already; this bounds stops and removals (one client each). */
export const TMUX_WIDTH = 4

/** tmux keeps no time per line: `--timestamps` shows when kstlib read each one (RFC 3339, UTC, milliseconds). */
const stampLines = (lines: ReadonlyArray<string>): Effect.Effect<Array<string>> =>
  Effect.map(Clock.currentTimeMillis, (millis) => {
    const now = new Date(millis).toISOString()
    return lines.map((l) => `${now} ${l}`)
  })

/** The tmux binary (`ops.tmux_binary`); read on each call so a loaded config can set it. */
export const TmuxBinary = Context.Reference<string>("kstlib/TmuxBinary", { defaultValue: () => "tmux" })

export class Tmux extends Context.Service<Tmux, Driver<TmuxSpec, ObservedTmux>>()("kstlib/Tmux") {
  /** On any ChildProcessSpawner (the real one, a counting one, a fake one in unit tests). */
  static readonly layer: Layer.Layer<Tmux, never, ChildProcessSpawner.ChildProcessSpawner> = Layer.effect(
    Tmux,
    Effect.gen(function*() {
      return makeTmux(yield* ChildProcessSpawner.ChildProcessSpawner)
    })
  )
}

const notFound = (session: string) => new SessionNotFound({ session, backend: "tmux" })
const startFailed = (session: string, reason: string) =>
  new SessionStartFailed({ session, backend: "tmux", reason, exitCode: null, output: "" })
const stopFailed = (session: string, reason: string) => new SessionStopFailed({ session, backend: "tmux", reason })

/** $TMUX is set inside a tmux pane: a bare `tmux` would then talk to that pane's server. */
const insideTmux = () => (process.env["TMUX"] ?? "") !== ""

/** Checked on this machine only (a host's directories are not looked at: tmux there starts where it can). */
const dirMissing = (spec: TmuxSpec) =>
  spec.host === undefined && spec.working_dir !== null && spec.working_dir !== "" && !existsSync(resolve(spec.working_dir))

/**
 * On a host, a session's own PATH (tmux gives new panes its client's PATH): the remote shell finds
 * tmux on the login's PATH, then reads the session's PATH from the first line of stdin (never a
 * command line) and runs tmux with it; the rest of stdin is tmux's script.
 */
const WITH_PATH_FROM_STDIN = `t=$(command -v tmux) || { echo "tmux: command not found" >&2; exit 127; }; IFS= read -r PATH; export PATH; exec "$t" "$@"`

const makeTmux = (spawner: ChildProcessSpawner.ChildProcessSpawner["Service"]) => {
  type TmuxError = TmuxNotFound | CommandFailed | BackendTimeout | HostUnreachable | SocketPathTooLong
  /**
   * One tmux invocation. `path`: the PATH the tmux CLIENT runs with — tmux gives a new pane the
   * client's PATH, overriding `-e PATH=…`, so a session's own PATH must be the client's (the binary
   * is then found on our PATH first).
   */
  const tmux = (
    socket: string | null,
    args: ReadonlyArray<string>,
    options: { readonly input?: string; readonly path?: string; readonly minTimeout?: number; readonly host?: string | undefined } = {}
  ): Effect.Effect<RunResult, TmuxError> =>
    Effect.gen(function*() {
      // on a host: the same tmux call, run there by ssh (the host's own `tmux`)
      if (options.host !== undefined) {
        // `-u`: a login without a UTF-8 locale would make tmux print our \x1f separators as `_`
        const argv = ["-u", ...socketArgs(socket, false), ...args]
        // a PATH with a line break would turn its second line into tmux script lines (validation refuses it)
        if (options.path !== undefined && /[\r\n]/u.test(options.path)) {
          return yield* new CommandFailed({ argv: ["tmux", ...args.slice(0, 1)], exitCode: 2, stderr: "env.PATH contains a line break" })
        }
        return yield* sshRun(options.host, options.path === undefined ? ["tmux", ...argv] : ["sh", "-c", WITH_PATH_FROM_STDIN, "sh", ...argv], {
          ...(options.input === undefined && options.path === undefined ? {} : { input: `${options.path === undefined ? "" : `${options.path}\n`}${options.input ?? ""}` }),
          ...(options.minTimeout === undefined ? {} : { minTimeout: options.minTimeout })
        }).pipe(Effect.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner))
      }
      // tmux would only say `File name too long` (read as "no server", then "the session vanished")
      const long = socketPathTooLong(socket)
      if (long !== null) return yield* new SocketPathTooLong({ ...long, max: MAX_SOCKET_PATH_BYTES })
      const configured = yield* TmuxBinary
      const binary = options.path === undefined ? configured : (yield* lookPath(configured)) ?? configured
      return yield* run(binary, [...socketArgs(socket, insideTmux()), ...args], {
        ...(options.input === undefined ? {} : { input: options.input }),
        ...(options.path === undefined ? {} : { env: { PATH: options.path } }),
        ...(options.minTimeout === undefined ? {} : { minTimeout: options.minTimeout })
      }).pipe(
        Effect.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner),
        Effect.catchTag("SpawnFailed", (e) =>
          Effect.fail(
            e.notFound
              ? new TmuxNotFound({ binary: configured })
              : new CommandFailed({ argv: [configured, ...args.slice(0, 1)], exitCode: 127, stderr: e.reason })
          ))
      )
    })

  /** The tmux program, as an absolute path, for the supervisor (which runs it from the pane), and where default log files go. */
  const supervisor: Effect.Effect<Supervisor> = Effect.gen(function*() {
    const configured = yield* TmuxBinary
    const logDir = yield* LogDirectory
    if (configured.startsWith("/")) return { tmux: configured, logDir }
    return { tmux: (yield* lookPath(configured)) ?? configured, logDir }
  })

  /** Sessions of one server; none when no server listens there (absent or stale socket). */
  const listSocket = (socket: string | null, args: ReadonlyArray<string>, host?: string) =>
    tmux(socket, args, { host }).pipe(
      Effect.flatMap((r) => {
        if (r.exitCode === 0) {
          const p = parsePanes(r.stdout, socket)
          return Effect.succeed(host === undefined ? p : { ...p, sessions: p.sessions.map((o) => ({ ...o, host })) })
        }
        if (isNoServer(r.stderr)) return Effect.succeed({ sessions: [], globalMarks: [] })
        return Effect.fail(new CommandFailed({ argv: ["tmux", "list-panes"], exitCode: r.exitCode, stderr: r.stderr }))
      })
    )

  /** One call; a second only when tmux missed a child's exit status (see reapThenListPanesArgs). */
  const observeSocket = (socket: string | null, host?: string) =>
    listSocket(socket, listPanesArgs(), host).pipe(
      Effect.flatMap((p) =>
        p.sessions.some((o) => o.state === "exited" && o.exit_code === null)
          ? listSocket(socket, reapThenListPanesArgs(), host)
          : Effect.succeed(p)
      )
    )

  const socketScope = (socket: string | null, host?: string) => ({ backend: "tmux" as const, socket, ...(host === undefined ? {} : { host }) })

  /**
   * One host: its default server, the asked sockets and the others its socket directory holds, one
   * `list-panes` each over the host's one multiplexed connection. A host that cannot be reached is
   * ONE problem, and all its places unreadable.
   */
  const observeHost = (host: string, asked: ReadonlyArray<string | null>) =>
    Effect.gen(function*() {
      const list = (sockets: ReadonlyArray<string | null>) =>
        Effect.forEach(sockets, (socket) => Effect.result(observeSocket(socket, host)).pipe(Effect.map((r) => ({ socket, r }))), { concurrency: 4 })
      // The host's other sockets (sessions that left the config live there): listed in the same
      // round trip as the asked ones, and looked at in a second one only when there are any.
      const [first, found] = yield* Effect.all([
        list(asked),
        sshRun(host, ["sh", "-c", REMOTE_SOCKETS_SCRIPT]).pipe(
          Effect.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner),
          Effect.map((r) => (r.exitCode === 0 ? parseRemoteSockets(r.stdout) : [])),
          Effect.orElseSucceed((): ReadonlyArray<string> => [])
        )
      ], { concurrency: 2 })
      const extra = mergeSockets(asked, found).filter((s) => !asked.includes(s))
      const per = extra.length === 0 ? first : [...first, ...(yield* list(extra))]
      const down = per.flatMap((p) => (Result.isFailure(p.r) && p.r.failure._tag === "HostUnreachable" ? [p.r.failure] : []))[0]
      if (down !== undefined) {
        return {
          sessions: [],
          answered: [],
          problems: [{ scope: { host }, kind: "failed", message: down.message, unreachable: down }]
        } satisfies BackendObservation
      }
      return {
        sessions: per.flatMap((p) => (Result.isSuccess(p.r) ? p.r.success.sessions : [])),
        answered: per.some((p) => Result.isSuccess(p.r)) ? [{ backend: "tmux", host }] : [],
        problems: per.flatMap((p): ReadonlyArray<ObserveProblem> =>
          Result.isFailure(p.r) ? [{ scope: socketScope(p.socket, host), kind: "failed", message: p.r.failure.message }] : []
        )
      } satisfies BackendObservation
    })

  const observeHosts = (scope: ObserveScope) =>
    Effect.gen(function*() {
      const configured = yield* SshHosts
      const names = scope.hosts ?? configured.map((h) => h.name)
      const sockets = mergeSockets(scope.sockets, [])
      return yield* Effect.forEach(names, (host) => observeHost(host, sockets), { concurrency: "unbounded" })
    })

  const observe = Effect.fn("Tmux.observe")(function*(scope: ObserveScope) {
    const [local, remote] = yield* Effect.all([observeLocal(scope), observeHosts(scope)], { concurrency: 2 })
    return {
      sessions: [...local.sessions, ...remote.flatMap((h) => h.sessions)],
      answered: [...local.answered, ...remote.flatMap((h) => h.answered)],
      problems: [...local.problems, ...remote.flatMap((h) => h.problems)]
    } satisfies BackendObservation
  })

  /** A socket whose file holds no server has no sessions: recognised without running tmux (a long path: tmux says so). */
  const worthAsking = (socket: string | null) =>
    socketPathTooLong(socket) !== null ? Effect.succeed(true) : Effect.flatMap(TmuxSocketDirectory, (dir) => dir.listens(socket))

  /** tmux itself, when no server runs to ask: found on PATH (or the configured absolute path), without running it. */
  const tmuxInstalled = Effect.gen(function*() {
    const configured = yield* TmuxBinary
    return configured.includes("/") ? existsSync(configured) : (yield* lookPath(configured)) !== null
  })

  const observeLocal = (scope: ObserveScope) => Effect.gen(function*() {
    const candidates = mergeSockets(scope.sockets, yield* (yield* TmuxSocketDirectory).discover)
    const live = yield* Effect.forEach(candidates, worthAsking, { concurrency: "unbounded" })
    const sockets = candidates.filter((_, i) => live[i])
    const missingProblem = (message: string): BackendObservation => ({ sessions: [], answered: [], problems: [{ scope: { backend: "tmux" }, kind: "missing", message }] })
    if (sockets.length === 0) {
      return (yield* tmuxInstalled)
        ? { sessions: [], answered: [{ backend: "tmux" }], problems: [] } satisfies BackendObservation
        : missingProblem(new TmuxNotFound({ binary: yield* TmuxBinary }).message)
    }
    const per = yield* Effect.forEach(sockets, (socket) =>
      Effect.result(observeSocket(socket)).pipe(Effect.map((r) => ({ socket, r }))), { concurrency: 4 })
    const missing = per.find((p) => Result.isFailure(p.r) && p.r.failure._tag === "TmuxNotFound")
    if (missing !== undefined && Result.isFailure(missing.r)) return missingProblem(missing.r.failure.message)
    const problems: Array<ObserveProblem> = []
    for (const { socket, r } of per) {
      if (Result.isFailure(r)) problems.push({ scope: socketScope(socket), kind: "failed", message: r.failure.message })
      else if (r.success.globalMarks.length > 0) {
        problems.push({
          scope: socketScope(socket),
          kind: "notice",
          message: `${r.success.globalMarks.join(", ")} set globally on this server: kstlib treats every session there as not its own until you unset it (tmux${
            socket === null ? "" : ` -L ${socket}`
          } set -gu ${r.success.globalMarks[0]})`
        })
      }
    }
    return {
      sessions: per.flatMap((p) => (Result.isSuccess(p.r) ? p.r.success.sessions : [])),
      answered: [{ backend: "tmux" }],
      problems
    } satisfies BackendObservation
  })

  /**
   * Creates sessions of one socket and one PATH in ONE invocation (a script on stdin, one line per
   * session; env values stay off every command line). tmux runs every line even when one fails, and
   * a failing command skips the rest of its line (a duplicate `new-session` marks nothing).
   */
  const createBatch = (socket: string | null, items: ReadonlyArray<Launch<TmuxSpec>>, project: string, path: string | undefined) =>
    Effect.gen(function*() {
      const sup = yield* supervisor
      const host = items[0]?.spec.host
      const r = yield* tmux(socket, scriptArgs(), {
        input: script(items.map((item) => createCommands(item, project, sup))),
        ...(path === undefined ? {} : { path }),
        host
      })
      const refused = new Map<string, string>()
      for (const m of r.stderr.matchAll(/duplicate session: (.*)/g)) {
        refused.set(m[1]!.trim(), new SessionExists({ session: m[1]!.trim(), backend: "tmux" }).message)
      }
      return refused
    })

  /**
   * A replace that changed only panes of a `windows:` session (inPlace): those panes respawned where
   * they are, found by ONE listing of the session's panes; a session that no longer has them is made
   * again whole.
   */
  const respawnPanes = (item: Launch<TmuxSpec>, project: string) =>
    Effect.gen(function*() {
      const { spec } = item
      const socket = normalizeSocket(spec.socket_name)
      const sup = yield* supervisor
      const listing = yield* tmux(socket, ["list-panes", "-s", "-t", `=${spec.name}:`, "-F", `#{window_name}${SEP}#{pane_index}`], { host: spec.host })
      const byWindow = new Map<string, Array<number>>()
      for (const line of listing.exitCode === 0 ? listing.stdout.split("\n") : []) {
        const [w, i] = line.split(SEP)
        if (w === undefined || i === undefined || !/^\d+$/u.test(i)) continue
        byWindow.set(w, [...(byWindow.get(w) ?? []), Number(i)].sort((a, b) => a - b))
      }
      const wanted = panesToRespawn(item.changes ?? []) ?? []
      const located = wanted.map((p) => ({ ...p, index: byWindow.get(p.window)?.[p.pane] }))
      const whole = located.some((p) => p.index === undefined) ||
        (spec.windows ?? []).some((w) => (byWindow.get(w.name)?.length ?? -1) !== w.panes.length)
      const commands = whole
        ? respawnCommands(spec, { project, stamp: item.stamp }, sup)
        : respawnPanesCommands(item, located.map((p) => ({ window: p.window, pane: p.pane, index: p.index! })), project, sup)
      const r = yield* tmux(socket, scriptArgs(), {
        input: script([commands]),
        ...(spec.env["PATH"] === undefined ? {} : { path: spec.env["PATH"] }),
        host: spec.host
      })
      if (r.exitCode !== 0) return yield* startFailed(spec.name, r.stderr.trim() || `tmux exited with ${r.exitCode}`)
    }).pipe(Effect.catch((e) => Effect.fail(e instanceof SessionStartFailed ? e : startFailed(item.spec.name, e.message))))

  const launch = Effect.fn("Tmux.launch")(function*(all: ReadonlyArray<Launch<TmuxSpec>>, context: { readonly project: string }) {
    const inPlace = (item: Launch<TmuxSpec>) => item.changes !== null && item.spec.windows !== undefined && panesToRespawn(item.changes) !== null
    const done = yield* Effect.forEach(all, (item) => (inPlace(item) ? Effect.result(respawnPanes(item, context.project)) : Effect.succeed(null)), { concurrency: 4 })
    const items = all.filter((item) => !inPlace(item))
    const created = yield* createAll(items, context)
    let k = 0
    return all.map((item, i) => (inPlace(item) ? done[i]! : created[k++]!))
  })

  const createAll = Effect.fn("Tmux.createAll")(function*(items: ReadonlyArray<Launch<TmuxSpec>>, context: { readonly project: string }) {
    const specs = items.map((item) => item.spec)
    const results: Array<Result.Result<void, SessionStartFailed>> = specs.map(() => Result.succeed(undefined))
    const groups = new Map<string, Array<number>>()
    const seen = new Set<string>()
    specs.forEach((spec, i) => {
      const socket = normalizeSocket(spec.socket_name)
      const id = `${spec.host ?? ""}\u0000${socket ?? ""}\u0000${spec.name}`
      if (seen.has(id)) results[i] = Result.fail(startFailed(spec.name, "the same session is listed twice"))
      // tmux would silently start in another directory
      else if (dirMissing(spec)) results[i] = Result.fail(startFailed(spec.name, `working directory does not exist: ${spec.working_dir}`))
      else {
        seen.add(id)
        const key = `${spec.host ?? ""}\u0000${socket ?? ""}\u0000${spec.env["PATH"] ?? ""}`
        groups.set(key, [...(groups.get(key) ?? []), i])
      }
    })
    yield* Effect.forEach([...groups.values()], (indices) => {
      const first = specs[indices[0]!]!
      const socket = normalizeSocket(first.socket_name)
      return createBatch(socket, indices.map((i) => items[i]!), context.project, first.env["PATH"]).pipe(
        Effect.map((refused) => {
          for (const i of indices) {
            const reason = refused.get(specs[i]!.name)
            if (reason !== undefined) results[i] = Result.fail(startFailed(specs[i]!.name, reason))
          }
        }),
        Effect.catch((e) => Effect.sync(() => indices.forEach((i) => (results[i] = Result.fail(startFailed(specs[i]!.name, e.message))))))
      )
    }, { concurrency: 4, discard: true })
    return results
  })

  /** `respawn-pane -k`: a pane whose process still runs is killed first; marks refreshed with the stamp, when given. */
  const startInPlace = Effect.fn("Tmux.startInPlace")(function*(
    o: ObservedTmux,
    spec: TmuxSpec,
    options: { readonly project: string; readonly stamp: Stamp | null }
  ) {
    if (dirMissing(spec)) return yield* startFailed(spec.name, `working directory does not exist: ${spec.working_dir}`)
    const sup = yield* supervisor
    const r = yield* tmux(o.socket_name, scriptArgs(), {
      input: script([respawnCommands(spec, options.stamp === null ? null : { project: options.project, stamp: options.stamp }, sup)]),
      ...(spec.env["PATH"] === undefined ? {} : { path: spec.env["PATH"] }),
      host: o.host
    }).pipe(Effect.mapError((e) => startFailed(spec.name, e.message)))
    if (r.exitCode === 0) return
    if (isMissingTarget(r.stderr) || isNoServer(r.stderr)) return yield* notFound(spec.name)
    return yield* startFailed(spec.name, r.stderr.trim() || `tmux exited with ${r.exitCode}`)
  })

  /** Panes of a session, first pane first; None when the session (or its server) is gone. */
  const sessionPanes = (name: string, socket: string | null, host?: string) =>
    tmux(socket, sessionPanesArgs(name), { host }).pipe(
      Effect.map((r) => (r.exitCode === 0 ? Option.some(parsePaneStates(r.stdout)) : Option.none()))
    )

  /**
   * On a host: its own `kill` to the pane's process group and `pkill -s` to every process of the
   * pane's terminal session, or (sparing the leader) a `kill` to each of them but the leader (fixed
   * scripts, the signal and id as arguments); gone already is fine.
   */
  const signalRemote = (host: string, sid: number, signal: string, sparingLeader: boolean): Effect.Effect<void> =>
    sshRun(host, [
      "sh",
      "-c",
      sparingLeader
        ? "for p in $(pgrep -s \"$1\"); do [ \"$p\" = \"$1\" ] || kill -s \"$0\" \"$p\" 2>/dev/null; done; true"
        : "kill -s \"$0\" -- \"-$1\" 2>/dev/null; pkill \"-$0\" -s \"$1\" 2>/dev/null; true",
      signal,
      String(sid)
    ]).pipe(
      Effect.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner),
      Effect.ignore
    )

  /** Polls `done` every 100 ms for at most `seconds`; true when it came true. */
  const within = <E>(seconds: number, done: Effect.Effect<boolean, E>) =>
    done.pipe(
      Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (d) => d }),
      Effect.timeoutOption(Duration.millis(Math.max(0, seconds * 1000))),
      Effect.map((r) => Option.isSome(r) && r.value)
    )

  /** A remote pane's process ended, as its server says (after reaping: see reapThenListPanesArgs). */
  const remoteEnded = (name: string, socket: string | null, paneId: string, host: string) =>
    tmux(socket, ["run-shell", "true", ";", ...sessionPanesArgs(name)], { host }).pipe(
      Effect.map((r) => r.exitCode !== 0 || !parsePaneStates(r.stdout).some((x) => x.id === paneId && !x.dead))
    )

  /**
   * The stop ladder on one pane: `stop_signal` to every process of its terminal session, up to
   * `timeout` s for the pane's process to end; then TERM to whatever is left of them and the pane's
   * process group, 2 s; then KILL. A step whose signal the command ignores (SIG_IGN) is not waited
   * out. The first signal spares a supervisor that recorded its command's pid (the pane's process):
   * it waits for the command, writes the run's end marker and reads the stop mark; an untrapped
   * signal (USR1, HUP: a hangup must end it, see supervisor.ts) would end it at once. On this
   * machine the processes are read from /proc (tmux 3.3a may not notice an exit); on a host, from
   * its server.
   */
  const ladder = (
    pane: PaneState & { readonly pid: number },
    settings: { readonly signal: StopSignal; readonly timeout: number; readonly force: boolean },
    where: { readonly name: string; readonly socket: string | null; readonly host: string | undefined }
  ) =>
    Effect.gen(function*() {
      const sid = pane.pid
      const host = where.host
      const signal = (sig: string, sparingLeader = false) =>
        host === undefined ? Effect.sync(() => signalSession(sid, `SIG${sig}` as NodeJS.Signals, sparingLeader)) : signalRemote(host, sid, sig, sparingLeader)
      const supervised = pane.commandPid !== null && pane.commandPid !== sid
      const mainEnded = host === undefined ? Effect.sync(() => !isAlive(sid)) : remoteEnded(where.name, where.socket, pane.id, host)
      const allEnded = host === undefined ? Effect.sync(() => sessionMembers(sid).length === 0) : mainEnded
      // what the command ignores is not waited for (an interactive shell under `trap '' INT`)
      const ignored = (sig: string) => host === undefined && ignoresSignal(pane.commandPid ?? sid, sig)
      let graceful = false
      if (!settings.force) {
        yield* signal(settings.signal, supervised)
        graceful = ignored(settings.signal) ? false : yield* within(settings.timeout, mainEnded)
        if (graceful && (yield* allEnded)) return "stopped" as const
      }
      // what is left: the main process that did not end, or what it left behind (`nohup cmd &`)
      yield* signal("TERM")
      if (ignored("TERM") || !(yield* within(2, allEnded))) yield* signal("KILL")
      yield* within(2, allEnded)
      return graceful ? "stopped" as const : "killed" as const
    })

  /**
   * Graceful: the stop ladder (above), `timeout` (a stop's `--timeout`, else the session's
   * `stop_timeout`) after the first signal; `force` starts at TERM. Then the session is closed
   * (unless it is kept for a restart in place). The outcome says which happened.
   */
  const stop = Effect.fn("Tmux.stop")(function*(o: ObservedTmux, options: StopOptions) {
    const socket = normalizeSocket(o.socket_name)
    const fail = (e: { readonly message: string }) => stopFailed(o.name, e.message)
    // A stop through kstlib is never undone by the restart policy: the session is marked stopped
    // first (the supervisor reads the mark before any restart), in the same call as the pane
    // listing. Only on kstlib's own sessions: a foreign session's options are the user's.
    const host = o.host
    const panes = yield* tmux(socket, [
      ...(o.mark.managed ? unsuperviseCommands(o.name).flatMap((c) => [...c, ";"]) : []),
      ...sessionPanesArgs(o.name)
    ], { host }).pipe(
      Effect.map((r) => (r.exitCode === 0 ? Option.some(parsePaneStates(r.stdout)) : Option.none())),
      Effect.mapError(fail)
    )
    if (Option.isNone(panes)) return yield* notFound(o.name)
    const first = panes.value[0]
    let outcome: StopOutcome = "already-stopped"
    // every pane with something left in it, at once (a `windows:` session has several)
    const live = panes.value.filter((p): p is PaneState & { readonly pid: number } =>
      p.pid !== null && (!p.dead || (host === undefined && sessionMembers(p.pid).length > 0))
    )
    if (first !== undefined && live.length > 0) {
      const settings = {
        signal: first.stop?.signal ?? DEFAULT_STOP_SIGNAL,
        timeout: options.timeout ?? first.stop?.timeout ?? DEFAULT_STOP_TIMEOUT,
        force: options.force === true
      }
      const done = yield* Effect.forEach(live, (p) => ladder(p, settings, { name: o.name, socket, host }), { concurrency: "unbounded" }).pipe(
        Effect.mapError(fail)
      )
      outcome = live.every((p) => p.dead) ? "already-stopped" : done.includes("killed") ? "killed" : "stopped"
    }
    // The pane stays (remain-on-exit), dead, to be respawned in place; tmux 3.3a may have missed
    // its exit (a lost SIGCHLD): a child of the server exiting makes it reap.
    if (options.leave === "instance") {
      yield* tmux(socket, ["run-shell", "true"], { host }).pipe(Effect.ignore)
      return outcome
    }
    const kill = yield* tmux(socket, ["kill-session", "-t", sessionTarget(o.name)], { host }).pipe(Effect.mapError(fail))
    if (kill.exitCode === 0) return outcome
    // Already gone (it ended by itself, or someone else killed it) is success.
    if (Option.isNone(yield* sessionPanes(o.name, socket, host).pipe(Effect.mapError(fail)))) return outcome
    return yield* stopFailed(o.name, kill.stderr.trim() || `tmux kill-session exited with ${kill.exitCode}`)
  })

  /** tmux keeps no time per line: `since` cannot be honoured, and saying so beats showing everything. */
  const noSince = (o: ObservedTmux, options: LogOptions) =>
    options.since === undefined
      ? Effect.void
      : Effect.fail(new Unsupported({ session: o.name, backend: "tmux", operation: "logs --since", hint: "tmux keeps no time per line; it works for containers" }))

  const logs = Effect.fn("Tmux.logs")(function*(o: ObservedTmux, options: LogOptions & { readonly colors?: boolean }) {
    yield* noSince(o, options)
    const r = yield* tmux(normalizeSocket(o.socket_name), captureArgs(o.name, options.lines, options.colors === true), { host: o.host })
    if (r.exitCode !== 0) return yield* notFound(o.name)
    const lines = lastLines(r.stdout, options.lines)
    return (options.timestamps === true ? yield* stampLines(lines) : lines).join("\n")
  })

  /**
   * Polls the pane (one tmux call per poll: cursor + whole-history capture) and emits the last
   * `lines` lines, then the lines that appeared since the previous poll. Chosen over pipe-pane: no
   * side effect on the session (a pane has one pipe, which the user may be using), several
   * followers at once, same text as `logs`. Ends when the session is gone.
   */
  const follow = (o: ObservedTmux, options: LogOptions & { readonly interval?: Duration.Input }): Stream.Stream<string, SessionNotFound | Unsupported | BackendError> => {
    const sock = normalizeSocket(o.socket_name)
    const interval = options.interval ?? "500 millis"
    const poll = tmux(sock, followPollArgs(o.name), { host: o.host }).pipe(
      Effect.map((r) => (r.exitCode === 0 ? Option.some(parseFollowPoll(r.stdout)) : Option.none()))
    )
    return Stream.unwrap(
      Effect.gen(function*() {
        yield* noSince(o, options)
        const firstPoll = yield* poll
        if (Option.isNone(firstPoll)) return yield* notFound(o.name)
        const initial = firstPoll.value.complete
        const head = options.lines > 0 ? initial.slice(Math.max(0, initial.length - options.lines)) : []
        const rest = Stream.paginate(initial, (prev: ReadonlyArray<string>) =>
          Effect.sleep(interval).pipe(
            Effect.andThen(poll),
            Effect.map((p) =>
              Option.isNone(p)
                ? ([[], Option.none()] as const)
                : ([newLines(prev, p.value.complete), Option.some(p.value.complete)] as const)
            )
          ))
        const all = Stream.concat(Stream.fromIterable(head), rest)
        // Stamped as they are read: a poll's lines get (nearly) that poll's time.
        return options.timestamps === true ? all.pipe(Stream.mapEffect((line) => Effect.map(stampLines([line]), (l) => l[0]!))) : all
      })
    )
  }

  const attach = Effect.fn("Tmux.attach")(function*(o: ObservedTmux, options: AttachOptions = {}) {
    const sock = normalizeSocket(o.socket_name)
    const fail = (reason: string) => new SessionAttachFailed({ session: o.name, backend: "tmux", reason })
    // `=NAME:=WINDOW`: attach-session and switch-client make that window current
    const session = sessionTarget(o.name)
    const target = options.window === undefined ? session : windowTarget(o.name, options.window)
    const has = yield* tmux(sock, ["has-session", "-t", session, ...(target === session ? [] : [";", "has-session", "-t", target])], { host: o.host })
    if (has.exitCode !== 0) {
      if (target === session || /can't find session/u.test(has.stderr)) return yield* notFound(o.name)
      return yield* fail(`no window '${options.window}' in it`)
    }
    // on a host: `ssh -t HOST tmux attach` (a remote server: never a switch-client here)
    if (o.host !== undefined) {
      if (process.stdin.isTTY !== true) return yield* fail("stdin is not a terminal")
      const code = yield* sshInteractive(o.host, ["tmux", "-u", ...socketArgs(sock, false), "attach-session", "-t", target]).pipe(
        Effect.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner)
      )
      if (code !== 0) return yield* fail(`ssh ${o.host} tmux attach-session exited with ${code}`)
      return
    }
    const current = tmuxEnvSocketPath(process.env["TMUX"])
    if (current !== null) {
      // Inside tmux: attaching would nest; switch this client instead (same server only).
      if (resolve(current) !== resolve(socketPath(sock))) {
        return yield* fail(
          `already inside another tmux server (${current}); a client cannot switch to a session on socket ${sock ?? "default"}. Detach first, or run with TMUX unset to nest`
        )
      }
      const sw = yield* tmux(sock, ["switch-client", "-t", target])
      if (sw.exitCode !== 0) return yield* fail(sw.stderr.trim() || `tmux switch-client exited with ${sw.exitCode}`)
      return
    }
    if (process.stdin.isTTY !== true) return yield* fail("stdin is not a terminal")
    const binary = yield* TmuxBinary
    const code = yield* interactive(binary, [...socketArgs(sock, false), "attach-session", "-t", target]).pipe(
      Effect.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner),
      Effect.mapError(() => new TmuxNotFound({ binary }))
    )
    if (code !== 0) return yield* fail(`tmux attach-session exited with ${code}`)
  })

  const sendKeys = Effect.fn("Tmux.sendKeys")(function*(o: ObservedTmux, keys: string, options: { readonly enter: boolean }) {
    const r = yield* tmux(normalizeSocket(o.socket_name), sendKeysArgs(o.name, keys, options.enter), { host: o.host })
    if (r.exitCode !== 0) return yield* notFound(o.name)
  })

  /** `log:` on the pane's history; `cmd:` on this machine (tmux has no exec), with the session's directory and env. */
  const probe = (o: ObservedTmux, spec: TmuxSpec) =>
    probeWith(spec, {
      logs: (options) => logs(o, options),
      run: (argv) =>
        run(argv[0]!, argv.slice(1), {
          env: spec.env,
          ...(spec.working_dir === null ? {} : { cwd: spec.working_dir })
        }).pipe(Effect.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner))
    })

  /**
   * This machine's running sessions: their panes' process trees (every pane of a `windows:`
   * session, summed), from two scans of /proc `window` apart (no tmux call). On a host: not
   * measured (it would take a script and two reads over SSH).
   */
  const usage = (sessions: ReadonlyArray<ObservedTmux>, window: Duration.Duration): Effect.Effect<ReadonlyArray<Usage | null>> =>
    Effect.gen(function*() {
      const roots = sessions.map((o): ReadonlyArray<number> | null => {
        if (o.host !== undefined || o.state !== "running") return null
        const pids = (o.panes ?? [o]).flatMap((p) => (p.state === "running" && p.pid !== null ? [p.pid] : []))
        return pids.length === 0 ? null : pids
      })
      const wanted = roots.flatMap((r) => r ?? [])
      if (wanted.length === 0) return sessions.map(() => null)
      // loaded on the first measurement: `import "kstlib"` stays small
      const { procSnapshot, usageBetween } = yield* Effect.promise(() => import("../system/process-usage.js"))
      const before = procSnapshot()
      if (before === null) return sessions.map(() => null)
      yield* Effect.sleep(window)
      const after = procSnapshot()
      const measured = after === null ? new Map() : usageBetween(before, after, wanted)
      return roots.map((r) => {
        const parts = (r ?? []).flatMap((pid) => measured.get(pid) ?? [])
        if (parts.length === 0) return null
        // one decimal, as each part
        return { cpu_percent: Math.round(parts.reduce((n, u) => n + u.cpu_percent, 0) * 10) / 10, memory_bytes: parts.reduce((n, u) => n + u.memory_bytes, 0) }
      })
    })

  /** The session's log files on its host, in one ssh call (./tmux/host-logs.ts). */
  /** One of host-logs.ts's scripts run on the host, its output parsed; a failing script is CommandFailed. */
  const hostScript = <A>(host: string, argv: ReadonlyArray<string>, parse: (stdout: string) => A) =>
    sshRun(host, argv).pipe(
      Effect.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner),
      Effect.flatMap((r) =>
        r.exitCode === 0
          ? Effect.succeed(parse(r.stdout))
          : Effect.fail(new CommandFailed({ argv: ["ssh", host, "sh"], exitCode: r.exitCode, stderr: r.stderr }))
      )
    )

  const hostLogs = (host: string, files: ReadonlyArray<HostLogFile>, lines: number | null) =>
    hostScript(host, hostLogsArgv(files, lines), (stdout) => parseHostLogs(stdout, files))

  /** New lines of those log files on the host, through one ssh call that runs until interrupted. */
  const followHostLogs = (host: string, files: ReadonlyArray<HostLogFile>): Stream.Stream<LogLine, BackendError> =>
    sshStream(host, hostFollowArgv(files)).pipe(
      Stream.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner),
      Stream.mapAccum(() => followStart(files), followLine(files))
    )

  /** Those log files on the host removed, in one ssh call; the paths removed there. */
  const purgeHostLogs = (host: string, files: ReadonlyArray<HostLogFile>) => hostScript(host, hostPurgeArgv(files), parseHostPurge)

  /**
   * Ours from their stamps; the others with ONE listing per socket (panes, layouts, start commands,
   * directories, and each session's own env keys).
   */
  const freeze = (sessions: ReadonlyArray<ObservedTmux>): Effect.Effect<ReadonlyArray<Frozen | null>> =>
    Effect.gen(function*() {
      const out: Array<Frozen | null> = sessions.map(() => null)
      const groups = new Map<string, { socket: string | null; host: string | undefined; indices: Array<number> }>()
      sessions.forEach((o, i) => {
        const stamped = stampedEntry(o.mark)
        if (stamped !== null) {
          out[i] = { entry: stamped, notes: [] }
          return
        }
        const socket = normalizeSocket(o.socket_name)
        const key = `${socket ?? ""}\u0000${o.host ?? ""}`
        const g = groups.get(key) ?? { socket, host: o.host, indices: [] }
        g.indices.push(i)
        groups.set(key, g)
      })
      yield* Effect.forEach([...groups.values()], (g) =>
        Effect.gen(function*() {
          const names = g.indices.map((i) => sessions[i]!.name)
          const r = yield* tmux(g.socket, freezeArgs(names), { host: g.host })
          const frozen = parseFreeze(r.stdout, names, g.socket)
          for (const i of g.indices) out[i] = frozen.get(sessions[i]!.name) ?? null
        }).pipe(Effect.ignore), { concurrency: 4, discard: true })
      return out
    })

  return Tmux.of({
    name: "tmux",
    capabilities: { exec: false, sendKeys: true, updatesInPlace: false },
    inPlace: (changes) => panesToRespawn(changes) !== null,
    laneWidth: () => TMUX_WIDTH,
    observe,
    batchKey: (spec) => `${normalizeSocket(spec.socket_name) ?? ""}${spec.host === undefined ? "" : `\u0000${spec.host}`}`,
    launch,
    startInPlace,
    stop,
    logs,
    follow,
    attach,
    exec: (o) =>
      Effect.fail(new Unsupported({ session: o.name, backend: "tmux", operation: "exec", hint: "use 'kstlib ops send-keys' for tmux sessions" })),
    sendKeys,
    probe,
    usage,
    hostLogs,
    purgeHostLogs,
    followHostLogs,
    freeze
  })
}
