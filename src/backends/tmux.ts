/**
 * The tmux half of the runtime layer: one service used by per-session commands and the reconciler.
 * CONTRACT (implementation in progress): see the shape below.
 */
import { Context } from "effect"
import type { Duration, Effect, Result, Stream } from "effect"
import type {
  SessionAttachFailed,
  SessionNotFound,
  SessionStartFailed,
  SessionStopFailed,
  TmuxNotFound
} from "../errors.js"
import type { ObservedSession, TmuxSpec } from "../model.js"

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

export class Tmux extends Context.Service<Tmux, {
  /**
   * Every session on the default server, on each socket given (null = default), and on the sockets
   * found in $TMUX_TMPDIR/tmux-UID. One tmux call per live socket; stale sockets are skipped.
   */
  readonly observe: (sockets?: ReadonlyArray<string | null>) => Effect.Effect<ReadonlyArray<ObservedSession>, TmuxNotFound>
  /**
   * Creates the sessions (one tmux invocation per socket), each marked as owned with its spec hash.
   * One result per spec, in order: a session whose process died within `settle` is a failure
   * carrying its exit status and last output.
   */
  readonly start: (
    specs: ReadonlyArray<TmuxSpec>,
    options: StartOptions
  ) => Effect.Effect<ReadonlyArray<Result.Result<ObservedSession, SessionStartFailed>>, TmuxNotFound>
  /** Respawns the pane of an exited session in place with the spec's command. */
  readonly respawn: (
    spec: TmuxSpec,
    options: StartOptions
  ) => Effect.Effect<ObservedSession, TmuxNotFound | SessionNotFound | SessionStartFailed>
  readonly stop: (
    name: string,
    socket: string | null,
    options?: StopOptions
  ) => Effect.Effect<void, TmuxNotFound | SessionNotFound | SessionStopFailed>
  readonly logs: (name: string, socket: string | null, options?: LogOptions) => Effect.Effect<string, TmuxNotFound | SessionNotFound>
  readonly follow: (name: string, socket: string | null) => Stream.Stream<string, TmuxNotFound | SessionNotFound>
  readonly attach: (name: string, socket: string | null) => Effect.Effect<void, TmuxNotFound | SessionNotFound | SessionAttachFailed>
  readonly sendKeys: (
    name: string,
    socket: string | null,
    keys: string,
    options?: { readonly enter?: boolean }
  ) => Effect.Effect<void, TmuxNotFound | SessionNotFound>
}>()("kstlib/Tmux") {}
