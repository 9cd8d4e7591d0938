/**
 * The one contract every driver implements: a tmux server, a Podman/Docker engine, a Docker Swarm
 * (and any future one: systemd, Kubernetes). The registry (registry.ts) holds them in a table and
 * is the only place that picks the driver of a spec, a session or a place (`driverOf`, place.ts).
 * Adding a backend = one module implementing this, one line in the registry's table, its schema.
 */
import type { Duration, Effect, Result, Stream } from "effect"
import type {
  BackendTimeout,
  CommandFailed,
  EngineUnavailable,
  HostUnreachable,
  SessionAttachFailed,
  SessionNotFound,
  SessionStartFailed,
  SessionStopFailed,
  SocketPathTooLong,
  TmuxNotFound,
  UnreadableOutput,
  Unsupported
} from "../errors.js"
import type { LogLine } from "../logs/format.js"
import type { HostLogFile } from "../logs/target.js"
import type { ObservedSession, RuntimeName, SessionSpec } from "../model.js"
import type { DriverName, Place, Scope } from "../place.js"
import type { Change } from "../spec/diff.js"
import type { Stamp } from "../spec/fingerprint.js"
import type { ProbeResult } from "./probe.js"

export type { ProbeResult } from "./probe.js"

/** What to look at. tmux: these sockets plus the default server and every socket found on disk. */
export interface ObserveScope {
  readonly sockets: ReadonlyArray<string | null>
  /**
   * `ops.hosts` entries to look at too (over SSH, concurrently); absent = every configured host.
   * On a host, tmux is looked at on its default server, these sockets and the others it lists.
   */
  readonly hosts?: ReadonlyArray<string>
  /** The local container runtimes to look at (`swarm`: the swarm's services); absent = every one. */
  readonly runtimes?: ReadonlyArray<RuntimeName>
}

/**
 * Something an observation could not read, or has to say. `missing`: the program is absent (nothing
 * runs there, nothing can be started there); `failed`: present but not readable (its sessions are
 * unknown: nothing is planned where a spec claims the scope); `notice`: read, with a warning.
 */
export interface ObserveProblem {
  readonly scope: Scope
  readonly kind: "missing" | "failed" | "notice"
  readonly message: string
  /** The host could not be reached at all: reported once per host (observe.ts keeps one per host). */
  readonly unreachable?: HostUnreachable
  /** The engine answered with a listing that could not be read whole: always reported, and `apply`/`down` exit 1. */
  readonly garbled?: boolean
}

/** One driver's view. A driver that cannot be read is reported, never thrown: the others still count. */
export interface BackendObservation {
  readonly sessions: ReadonlyArray<ObservedSession>
  /**
   * What answered, so its sessions are known: a tmux on a machine (`{ backend: "tmux", host? }`), an
   * engine (`{ backend: "container", runtime, host? }`). Engines in auto-detect order.
   */
  readonly answered: ReadonlyArray<Scope>
  readonly problems: ReadonlyArray<ObserveProblem>
}

/** One session to create, as the planner decided it: the spec, what to stamp on it, and, for a replace, what changed. */
export interface Launch<S extends SessionSpec = SessionSpec> {
  readonly spec: S
  readonly stamp: Stamp
  /** A replace: the fields that changed (a driver that updates in place decides with them); null: a create. */
  readonly changes: ReadonlyArray<Change> | null
}

export interface LaunchContext {
  /** Written into the marks: the session belongs to this project. */
  readonly project: string
}

export interface StopOptions {
  /** Kill at once instead of interrupting and waiting. */
  readonly force?: boolean
  /** Seconds a graceful stop waits before killing (default 10). */
  readonly timeout?: number
  /**
   * What is left once the process ended. `instance`: everything, to be started again in place
   * (the first half of a restart). `stopped`: the driver's own stopped state — a tmux session is
   * closed, a swarm service scaled to 0, a container kept, except kstlib's own (`owned`), which is
   * deleted (it is recreated from the spec). `nothing`: deleted, whatever it is (replace, prune, down).
   */
  readonly leave: "instance" | "stopped" | "nothing"
  /** The session is this project's. */
  readonly owned?: boolean
  /**
   * Once one of the project's containers is deleted, remove the project's network too when nothing
   * is on it any more (`down`, a prune in a plan that launches nothing onto it). Not for a replace:
   * its launch is about to join the network again.
   */
  readonly releaseNetwork?: boolean
}

/** CPU and memory of a running session: `cpu_percent` of one core (recent), `memory_bytes` resident; null: not known. */
export interface Usage {
  readonly cpu_percent: number | null
  readonly memory_bytes: number | null
}

/** A running session as a config entry (`ops freeze`), and what the entry could not carry. */
export interface Frozen {
  readonly entry: Record<string, unknown>
  readonly notes: ReadonlyArray<string>
}

/** How a stop ended: gracefully, or killed after the grace period. */
export type StopOutcome = "stopped" | "killed" | "already-stopped"

export interface ExecResult {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

export interface LogOptions {
  readonly lines: number
  /** Only lines written at or after this time. Containers only: tmux keeps no times (Unsupported). */
  readonly since?: Date | undefined
  /**
   * Each line prefixed with an RFC 3339 time and a space: when the engine received it (containers),
   * when kstlib read it from the pane (tmux, which keeps no times).
   */
  readonly timestamps?: boolean | undefined
}

export interface AttachOptions {
  readonly window?: string | undefined
}

export type BackendError =
  | BackendTimeout
  | CommandFailed
  | TmuxNotFound
  | HostUnreachable
  | EngineUnavailable
  | UnreadableOutput
  | SocketPathTooLong

export interface Capabilities {
  readonly exec: boolean
  readonly sendKeys: boolean
  /**
   * `launch` of a replace whose session of ours is in the same place updates it in place (swarm:
   * `service update`, or remove + create when the change needs it): the executor then does not
   * remove that session first.
   */
  readonly updatesInPlace: boolean
}

/**
 * Methods (not function-typed properties) on purpose: the registry holds every driver in one table
 * typed `Driver<SessionSpec, ObservedSession>`, and routes to each only its own specs and sessions
 * (`driverOf`); method parameters let a `Driver<TmuxSpec, ObservedTmux>` sit in that table.
 */
export interface Driver<S extends SessionSpec, O extends ObservedSession> {
  readonly name: DriverName
  readonly capabilities: Capabilities
  /**
   * How many of its calls (launches, stops, removals) the executor runs at once in one place when
   * `--parallel` is not given: what the engine sustains, measured by `bench/run` (more only queues up
   * inside the engine, fewer leaves it idle).
   */
  laneWidth(place: Place): number
  observe(scope: ObserveScope): Effect.Effect<BackendObservation>
  /** Launches with the same key go into one `launch` call (tmux: one call per socket). */
  batchKey(spec: S): string
  /** Creates each session (marked as the project's with its stamp), one result per item, in order. Launch only: no settle wait. */
  launch(
    items: ReadonlyArray<Launch<S>>,
    context: LaunchContext
  ): Effect.Effect<ReadonlyArray<Result.Result<void, SessionStartFailed>>>
  /**
   * Starts an existing stopped/exited instance again, in place (not the `restart:` policy, not
   * `ops restart`). `stamp`: kstlib's marks refreshed with it; null: marks left as they are (a
   * foreign session stays foreign).
   */
  startInPlace(
    o: O,
    spec: S,
    options: LaunchContext & { readonly stamp: Stamp | null }
  ): Effect.Effect<void, SessionStartFailed | SessionNotFound>
  /** Graceful stop (interrupt, wait, then kill), leaving what `leave` says; gone already: SessionNotFound. */
  stop(o: O, options: StopOptions): Effect.Effect<StopOutcome, SessionStopFailed | SessionNotFound>
  /** The last `lines` lines of output. */
  logs(
    o: O,
    options: LogOptions & { readonly colors?: boolean }
  ): Effect.Effect<string, SessionNotFound | Unsupported | BackendError>
  /** The last `lines` lines, then new lines as they come, until the session ends or the stream is interrupted. */
  follow(o: O, options: LogOptions): Stream.Stream<string, SessionNotFound | Unsupported | BackendError>
  /** This terminal on the session (`window`: that window of a tmux session made current; the operations check it is one). */
  attach(o: O, options?: AttachOptions): Effect.Effect<void, SessionNotFound | SessionAttachFailed | BackendError>
  exec(
    o: O,
    argv: ReadonlyArray<string>,
    options: { readonly interactive: boolean }
  ): Effect.Effect<ExecResult, SessionNotFound | Unsupported | BackendError>
  sendKeys(
    o: O,
    keys: string,
    options: { readonly enter: boolean }
  ): Effect.Effect<void, SessionNotFound | Unsupported | BackendError>
  /**
   * ONE attempt of the spec's `ready:` probe against the running session: tcp/http from the host
   * (probe.ts), `log:` on the session's output, `cmd:` in the container (exec) or, for tmux, on the
   * host. No `ready:`: ready. Problems reading the session are a "not ready" result, never an error.
   */
  probe(o: O, spec: S): Effect.Effect<ProbeResult>
  /**
   * CPU and memory of these sessions, one per session in order (null: not measured: not running,
   * or where the driver cannot tell cheaply). Measured ONCE for all of them, over `window` (CPU% is
   * what they used during it), with a constant number of calls whatever their number. Never fails.
   */
  usage(sessions: ReadonlyArray<O>, window: Duration.Duration): Effect.Effect<ReadonlyArray<Usage | null>>
  /**
   * A replace with these changes is done by `launch` in place (tmux: only panes of a `windows:`
   * session changed, which are respawned): the executor then does not remove the session first.
   * Absent: only `capabilities.updatesInPlace` says so.
   */
  inPlace?(changes: ReadonlyArray<Change>): boolean
  /**
   * These sessions as config entries, one per session in order (null: gone, or not readable), with
   * a constant number of calls. A session of kstlib's own comes from its stored fingerprint
   * (spec/thaw.ts); any other from what the engine shows of it. Env values are never read: keys only.
   */
  freeze(sessions: ReadonlyArray<O>): Effect.Effect<ReadonlyArray<Frozen | null>>
  /**
   * The project's own network at `place` removed when nothing is on it any more (a whole-project
   * `down`, also when it found no container left to remove). A network of that name without the
   * project's marks is never touched; nothing there, or not empty: nothing happens. Never fails.
   * Only drivers with project networks (the engine driver; swarm: the project's overlay) have it.
   */
  releaseNetwork?(place: Place, project: string): Effect.Effect<void>
  /**
   * `down --volumes`: the project's declared volumes at `place` (`kstlib-<project>.<name>` with the
   * project's exact marks) removed when no container uses them; the names removed. Never fails.
   */
  releaseVolumes?(place: Place, project: string): Effect.Effect<ReadonlyArray<string>>
  /**
   * The log files a session's writer keeps on its host (tmux over SSH), read there in one call:
   * each file's lines in the order given, the last `lines` of each (null: all); null: none of them
   * is there. Only drivers whose sessions write logs on a host (tmux) have it.
   */
  hostLogs?(host: string, files: ReadonlyArray<HostLogFile>, lines: number | null): Effect.Effect<ReadonlyArray<ReadonlyArray<LogLine>> | null, BackendError>
  /** `logs -f`: the lines written to those files on the host from now on (labelled `LABEL | text` when several), until interrupted. */
  followHostLogs?(host: string, files: ReadonlyArray<HostLogFile>): Stream.Stream<LogLine, BackendError>
  /** `down --purge-logs`: those files on the host and their rotated copies removed; the paths removed. */
  purgeHostLogs?(host: string, files: ReadonlyArray<HostLogFile>): Effect.Effect<ReadonlyArray<string>, BackendError>
}
