/**
 * The one Backend contract. The executor and the per-session operations reach tmux and the
 * container engines only through it (via the `Backends` registry, which picks the backend of a
 * spec or an observed session). Adding a backend = one module implementing this, plus its
 * registration in registry.ts.
 */
import type { Effect, Result, Stream } from "effect"
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
import type { BackendKind, ObservedSession, Place, RuntimeName, SessionSpec } from "../model.js"
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
}

/** One backend's view. A backend that cannot be read is reported, never thrown: the others still count. */
export interface BackendObservation {
  readonly kind: BackendKind
  readonly sessions: ReadonlyArray<ObservedSession>
  /** tmux: whether tmux runs at all. Containers: whether any runtime answered. */
  readonly available: boolean
  /** Containers: the runtimes that answered, in auto-detect order. */
  readonly runtimes: ReadonlyArray<RuntimeName>
  /** Why something could not be read (missing binary, timeout, daemon down), one line each. */
  readonly problems: ReadonlyArray<ObserveProblem>
  /** Places whose sessions are unknown (a socket or runtime that failed): nothing is planned there. */
  readonly unreadable: ReadonlyArray<Place>
}

export interface ObserveProblem {
  /** `tmux`, `tmux socket orion`, `podman`, `docker`. */
  readonly where: string
  readonly message: string
  /** The binary is absent (as opposed to present but failing). */
  readonly missing: boolean
  /** The `ops.hosts` entry this is about (absent: this machine). */
  readonly host?: string
  /** The host could not be reached at all: reported once per host (observe.ts keeps one per host). */
  readonly unreachable?: HostUnreachable
  /** The engine answered with a listing that could not be read whole: always reported, and `apply`/`down` exit 1. */
  readonly garbled?: boolean
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
  /** Containers: delete it once stopped (the caller says so for kstlib's own: they are recreated from the spec). */
  readonly removeOwned?: boolean
  /** Leave the stopped session in place, to be started again (an in-place restart): no tmux kill-session, no container removal. */
  readonly keep?: boolean
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

export type BackendError = BackendTimeout | CommandFailed | TmuxNotFound | HostUnreachable | EngineUnavailable | UnreadableOutput | SocketPathTooLong

export interface Capabilities {
  readonly exec: boolean
  readonly sendKeys: boolean
  /**
   * `launch` of a spec whose session of ours already exists in the same place updates it in place
   * (swarm: `service update`, or remove + create when the change needs it): the executor then does
   * not remove that session before a replace's launch.
   */
  readonly updatesInPlace?: boolean
}

export interface Backend<S extends SessionSpec, O extends ObservedSession> {
  readonly kind: BackendKind
  readonly capabilities: Capabilities
  readonly observe: (scope: ObserveScope) => Effect.Effect<BackendObservation>
  /** Launches with the same key go into one `launch` call (tmux: one call per socket). */
  readonly batchKey: (spec: S) => string
  /** Creates each session (marked as the project's), one result per spec, in order. Launch only: no settle wait. */
  readonly launch: (
    specs: ReadonlyArray<S>,
    context: LaunchContext
  ) => Effect.Effect<ReadonlyArray<Result.Result<void, SessionStartFailed>>>
  /** Starts an existing stopped/exited instance again in place; `mark` refreshes kstlib's marks (false: a foreign one stays foreign). */
  readonly restart: (
    o: O,
    spec: S,
    options: LaunchContext & { readonly mark: boolean }
  ) => Effect.Effect<void, SessionStartFailed | SessionNotFound>
  /** Graceful stop (interrupt, wait, then kill); an owned container is also removed. */
  readonly stop: (o: O, options: StopOptions) => Effect.Effect<StopOutcome, SessionStopFailed | SessionNotFound>
  /** Stops (gracefully) and deletes, whatever the state: replace and prune. Gone already is success. */
  readonly remove: (o: O, options: StopOptions) => Effect.Effect<void, SessionStopFailed>
  /** The last `lines` lines of output. */
  readonly logs: (
    o: O,
    options: LogOptions & { readonly colors?: boolean }
  ) => Effect.Effect<string, SessionNotFound | Unsupported | BackendError>
  /** The last `lines` lines, then new lines as they come, until the session ends or the stream is interrupted. */
  readonly follow: (o: O, options: LogOptions) => Stream.Stream<string, SessionNotFound | Unsupported | BackendError>
  readonly attach: (o: O) => Effect.Effect<void, SessionNotFound | SessionAttachFailed | BackendError>
  readonly exec: (
    o: O,
    argv: ReadonlyArray<string>,
    options: { readonly interactive: boolean }
  ) => Effect.Effect<ExecResult, SessionNotFound | Unsupported | BackendError>
  readonly sendKeys: (
    o: O,
    keys: string,
    options: { readonly enter: boolean }
  ) => Effect.Effect<void, SessionNotFound | Unsupported | BackendError>
  /**
   * ONE attempt of the spec's `ready:` probe against the running session: tcp/http from the host
   * (probe.ts), `log:` on the session's output, `cmd:` in the container (exec) or, for tmux, on the
   * host. No `ready:`: ready. Problems reading the session are a "not ready" result, never an error.
   */
  readonly probe: (o: O, spec: S) => Effect.Effect<ProbeResult>
}
