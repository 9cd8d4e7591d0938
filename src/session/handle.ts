/**
 * A handle on one named session: the per-session verbs of operations.ts, each an Effect (or a
 * Stream) with its own narrow error union. `R` is what the methods still need: `never` from the
 * `Kstlib` facade (its services are already provided), `Backends | KstlibConfig` from the older
 * `SessionManager`.
 */
import type { Duration, Effect, Stream } from "effect"
import type { ExecResult, ProbeResult } from "../backends/driver.js"
import type { Backends } from "../backends/registry.js"
import type { KstlibConfig } from "../config/service.js"
import type { Selector } from "./locate.js"
import type { LogsOptions, StartOverrides, StartResult, StopResult } from "./operations.js"
import * as Ops from "./operations.js"
import type { SessionStatus } from "./status.js"

type ErrorOf<F extends (...args: never) => Effect.Effect<unknown, unknown, unknown>> = Effect.Error<ReturnType<F>>

/** What `start` can fail with: a bad name or override, not in the config, a conflict, elsewhere, a failed launch or probe… */
export type StartError = ErrorOf<typeof Ops.start>
/** What `stop` can fail with. */
export type StopError = ErrorOf<typeof Ops.stop>
/** What `restart` can fail with. */
export type RestartError = ErrorOf<typeof Ops.restart>
/** What `status` can fail with. */
export type StatusError = ErrorOf<typeof Ops.status>
/** What `logs` and `follow` can fail with. */
export type LogsError = ErrorOf<typeof Ops.logs>
/** What `exec` can fail with. */
export type ExecError = ErrorOf<typeof Ops.exec>
/** What `sendKeys` can fail with. */
export type SendKeysError = ErrorOf<typeof Ops.sendKeys>
/** What `probe` can fail with. */
export type ProbeError = ErrorOf<typeof Ops.probe>
/** What `attach` can fail with. */
export type AttachError = ErrorOf<typeof Ops.attach>
/** What `exists` and `isRunning` can fail with. */
export type LocateError = ErrorOf<typeof Ops.exists>

/** How `start` (and the start half of `restart`) runs. */
export interface StartOptions {
  /** How long a new process must survive to count as started (default 500 ms; 0: launch only, no check). */
  readonly settle?: Duration.Input
  /** Do not start the sessions it depends on. */
  readonly noDeps?: boolean
  /** Wait for its `ready:` probe too. */
  readonly waitReady?: boolean
}

/** How `stop` (and the stop half of `restart`) runs. */
export interface StopOptions {
  /** false: kill at once (the same as `force`). Default: graceful. */
  readonly graceful?: boolean
  /** Kill at once, no grace period. */
  readonly force?: boolean
  /** Seconds to wait for a graceful stop before killing (0 to 3600; default: the session's `stop_timeout`). */
  readonly timeout?: number
}

/** One named session's verbs. */
export interface SessionHandle<R = never> {
  readonly name: string
  /** Starts it (its config spec, with these overrides on top); running already is `already-running`. */
  readonly start: (overrides?: StartOverrides, options?: StartOptions) => Effect.Effect<StartResult, StartError, R>
  /** Graceful by default: its stop signal, up to `timeout` seconds, then kill. Not running is `not-running`. */
  readonly stop: (options?: StopOptions) => Effect.Effect<StopResult, StopError, R>
  /** Stops it (if running) and starts it again, as `apply` would. */
  readonly restart: (options?: StopOptions & StartOptions) => Effect.Effect<StartResult, RestartError, R>
  readonly status: () => Effect.Effect<SessionStatus, StatusError, R>
  /** The last `lines` lines (default 100) of its log file and the backend's output. */
  readonly logs: (options?: LogsOptions) => Effect.Effect<string, LogsError, R>
  /** The last `lines` lines (default 10), then new ones until the session ends or the stream is interrupted. */
  readonly follow: (options?: LogsOptions) => Stream.Stream<string, LogsError, R>
  /** Runs `argv` in it (containers; `shell: true`: one word of shell code). */
  readonly exec: (
    argv: ReadonlyArray<string>,
    options?: { readonly interactive?: boolean; readonly shell?: boolean }
  ) => Effect.Effect<ExecResult, ExecError, R>
  /** Types `keys` into it (tmux), then Enter unless `enter: false`. */
  readonly sendKeys: (keys: string, options?: { readonly enter?: boolean }) => Effect.Effect<void, SendKeysError, R>
  /** Its `ready:` probe, one attempt; null when it has none. */
  readonly probe: () => Effect.Effect<ProbeResult | null, ProbeError, R>
  /** Attaches this terminal (tmux attach, engine attach); `window`: that window of a `windows:` session. */
  readonly attach: (options?: { readonly window?: string }) => Effect.Effect<void, AttachError, R>
  readonly exists: () => Effect.Effect<boolean, LocateError, R>
  readonly isRunning: () => Effect.Effect<boolean, LocateError, R>
}

/** How a handle's Effects and Streams get their services. */
export interface Provider<R> {
  readonly effect: <A, E>(self: Effect.Effect<A, E, Backends | KstlibConfig>) => Effect.Effect<A, E, R>
  readonly stream: <A, E>(self: Stream.Stream<A, E, Backends | KstlibConfig>) => Stream.Stream<A, E, R>
}

/** Nothing provided: the methods need `Backends | KstlibConfig`. */
export const unprovided: Provider<Backends | KstlibConfig> = { effect: (self) => self, stream: (self) => self }

/** The handle of the session `name` (optionally narrowed to a backend, tmux socket or host). */
export const makeHandle = <R>(name: string, selector: Selector, provide: Provider<R>): SessionHandle<R> => {
  const startOver = (overrides: StartOverrides = {}): StartOverrides => ({
    ...overrides,
    ...(selector.socket === undefined || overrides.socket !== undefined ? {} : { socket: selector.socket }),
    ...(selector.backend === undefined || overrides.backend !== undefined ? {} : { backend: selector.backend })
  })
  const stopOptions = (options: StopOptions) => ({
    force: options.force === true || options.graceful === false,
    ...(options.timeout === undefined ? {} : { timeout: options.timeout })
  })
  return {
    name,
    start: (overrides, options = {}) => provide.effect(Ops.start(name, startOver(overrides), options)),
    stop: (options = {}) => provide.effect(Ops.stop(name, selector, stopOptions(options))),
    restart: (options = {}) =>
      provide.effect(Ops.restart(name, selector, {
        ...stopOptions(options),
        ...(options.settle === undefined ? {} : { settle: options.settle }),
        ...(options.noDeps === undefined ? {} : { noDeps: options.noDeps }),
        ...(options.waitReady === undefined ? {} : { waitReady: options.waitReady })
      })),
    status: () => provide.effect(Ops.status(name, selector)),
    logs: (options = {}) => provide.effect(Ops.logs(name, selector, options)),
    follow: (options = {}) => provide.stream(Ops.follow(name, selector, options)),
    exec: (argv, options = {}) => provide.effect(Ops.exec(name, argv, selector, options)),
    sendKeys: (keys, options = {}) => provide.effect(Ops.sendKeys(name, keys, selector, options)),
    probe: () => provide.effect(Ops.probe(name, selector)),
    attach: (options = {}) => provide.effect(Ops.attach(options.window === undefined ? name : `${name}:${options.window}`, selector)),
    exists: () => provide.effect(Ops.exists(name, selector)),
    isRunning: () => provide.effect(Ops.isRunning(name, selector))
  }
}
