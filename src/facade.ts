/**
 * The `Kstlib` service: kstlib's whole surface as one service whose methods need nothing in `R`
 * (plan, apply, down, validate, one handle per session). Its layer is built on any
 * `ChildProcessSpawner` (`Kstlib.layer`) or on Node's (`Kstlib.layerNode`). The free functions
 * (`apply`, `planFromConfig`, `Sessions.*`) stay for programs that compose the services themselves.
 */
import type { Duration } from "effect"
import { Context, Effect, Layer, Queue, Scope, Stream } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import type { Backends } from "./backends/registry.js"
import { KstlibConfig } from "./config/service.js"
import type { ConfigIssue, ConfigInvalid, InvalidInput, SessionNotInConfig } from "./errors.js"
import type { LoadedConfig } from "./config/types.js"
import type { ConfigLoadError, KstlibServices, LayerOptions } from "./layer.js"
import { layer as servicesLayer } from "./layer.js"
import { nodeSpawnerLayer } from "./proc.js"
import type { ExecuteReport, StepResult } from "./reconcile/execute.js"
import type { Step } from "./reconcile/plan.js"
import type { ApplyOptions, ApplyReport, ConvergeError, Planned, PlanRequest } from "./reconcile/reconciler.js"
import { apply, down, planDownFromConfig, planFromConfig } from "./reconcile/reconciler.js"
import type { SessionHandle } from "./session/handle.js"
import { makeHandle } from "./session/handle.js"
import type { Selector } from "./session/locate.js"
import { requireConfigured } from "./session/manager.js"
import type { SessionStatus } from "./session/status.js"
import { listRows } from "./session/status.js"
import { observeFor } from "./session/locate.js"
import { unreadableOf } from "./reconcile/observe.js"
import { EnvDigests } from "./spec/digest-key.js"

/** How `apply`/`down` run: `--parallel`, settle, stop timeout, waiting for the lock or for `ready:`. */
export interface RunOptions {
  /** Steps in flight at once, all engines together (absent: each engine at its own pace). */
  readonly parallel?: number | undefined
  /**
   * How long a new process must survive to count as started (default 500 ms): ONE observation after
   * it, on the Clock. `0`: launch only, no check (what a test under `TestClock` wants, or fork the
   * call and `TestClock.adjust` past it).
   */
  readonly settle?: Duration.Input | undefined
  /** Seconds a graceful stop waits before killing (absent: each session's `stop_timeout`). */
  readonly stopTimeout?: number | undefined
  /** Wait for another apply on the same config instead of failing with `ApplyLocked`. */
  readonly waitLock?: boolean | undefined
  /** Every launched session with a `ready:` probe must pass it. */
  readonly waitReady?: boolean | undefined
}

/** The progress of an `apply` or `down`, as `Kstlib.applyEvents` / `downEvents` stream it. */
export type ApplyEvent =
  /** The plan, before anything runs (not emitted when nothing would change). */
  | { readonly _tag: "Planned"; readonly planned: Planned }
  /** These steps started (a launch batch, or one step). */
  | { readonly _tag: "StepsStarted"; readonly steps: ReadonlyArray<Step> }
  /** One step finished, with its error if it failed. */
  | { readonly _tag: "StepFinished"; readonly result: StepResult }
  /** The run was interrupted; running steps finished, this is the partial report. */
  | { readonly _tag: "Interrupted"; readonly report: ExecuteReport }
  /** The last event: what `apply` / `down` returns. */
  | { readonly _tag: "Done"; readonly result: ApplyReport }

/** What `validate` reports: each config entry valid or rejected with its located issues. */
export interface ValidationReport {
  /** Files merged, lowest priority first (empty: no config file found). */
  readonly files: ReadonlyArray<string>
  readonly project: string
  readonly valid: ReadonlyArray<string>
  readonly rejected: ReadonlyArray<{ readonly session: string; readonly issues: ReadonlyArray<ConfigIssue> }>
  /** Problems that reject nothing. */
  readonly warnings: ReadonlyArray<ConfigIssue>
}

export interface KstlibService {
  /** The loaded config the service was built with. */
  readonly config: LoadedConfig
  /** Observe, then the pure plan (nothing runs). */
  readonly plan: (request?: PlanRequest) => Effect.Effect<Planned, PlanError>
  /** The plan of a `down` (nothing runs). */
  readonly planDown: (only?: ReadonlyArray<string>) => Effect.Effect<Planned, PlanError>
  /** Lock, plan, execute, report. Failed steps are in the report (`requireSuccess` makes them an error). */
  readonly apply: (request?: PlanRequest, options?: ApplyOptions) => Effect.Effect<ApplyReport, ConvergeError>
  /** `apply`, its progress as a stream of events ending with `Done`. */
  readonly applyEvents: (request?: PlanRequest, options?: RunOptions) => Stream.Stream<ApplyEvent, ConvergeError>
  /**
   * `apply` with its progress handed to `onEvent`, which may fail and need services of its own: its
   * error ends the run (running steps still finish) and is this Effect's error.
   */
  readonly applyWith: <E, R>(
    onEvent: (event: ApplyEvent) => Effect.Effect<void, E, R>,
    request?: PlanRequest,
    options?: RunOptions
  ) => Effect.Effect<ApplyReport, ConvergeError | E, R>
  /** Lock, plan the removal of this project's sessions (or `only`), execute, report. */
  readonly down: (only?: ReadonlyArray<string>, options?: ApplyOptions) => Effect.Effect<ApplyReport, ConvergeError>
  /** `down`, its progress as a stream of events ending with `Done`. */
  readonly downEvents: (only?: ReadonlyArray<string>, options?: RunOptions) => Stream.Stream<ApplyEvent, ConvergeError>
  /** `down` with its progress handed to `onEvent` (as `applyWith`). */
  readonly downWith: <E, R>(
    onEvent: (event: ApplyEvent) => Effect.Effect<void, E, R>,
    only?: ReadonlyArray<string>,
    options?: RunOptions
  ) => Effect.Effect<ApplyReport, ConvergeError | E, R>
  /** Each config entry, valid or rejected (never fails: a rejected entry is data). */
  readonly validate: () => Effect.Effect<ValidationReport>
  /** Every session of the config and every session of this project's that runs, as `list` shows them. */
  readonly list: () => Effect.Effect<ReadonlyArray<SessionStatus>>
  /** A handle on any session by name (in the config or not), optionally narrowed to a backend, socket or host. */
  readonly session: (name: string, selector?: Selector) => SessionHandle
  /** A handle on a config session: fails when the name is not in the config or its entry was rejected. */
  readonly configured: (name: string) => Effect.Effect<SessionHandle, SessionNotInConfig | ConfigInvalid | InvalidInput>
}

/** What planning can fail with: no config file, or `only` naming a session not in it. */
export type PlanError = Effect.Error<ReturnType<typeof planFromConfig>>

/** The progress callbacks of `apply`/`down` as a stream of events. */
const eventsOf = (
  run: (options: ApplyOptions) => Effect.Effect<ApplyReport, ConvergeError, Backends | KstlibConfig>,
  options: RunOptions
): Stream.Stream<ApplyEvent, ConvergeError, Backends | KstlibConfig> =>
  Stream.callback<ApplyEvent, ConvergeError, Backends | KstlibConfig>((queue) => {
    const emit = (e: ApplyEvent) => Queue.offer(queue, e).pipe(Effect.asVoid)
    return run({
      ...(options.parallel === undefined ? {} : { parallel: options.parallel }),
      ...(options.settle === undefined ? {} : { settle: options.settle }),
      ...(options.stopTimeout === undefined ? {} : { stopTimeout: options.stopTimeout }),
      ...(options.waitLock === undefined ? {} : { waitLock: options.waitLock }),
      ...(options.waitReady === undefined ? {} : { waitReady: options.waitReady }),
      onPlan: (planned) => emit({ _tag: "Planned", planned }),
      onStart: (steps) => emit({ _tag: "StepsStarted", steps }),
      onResult: (result) => emit({ _tag: "StepFinished", result }),
      onInterrupt: (report) => emit({ _tag: "Interrupted", report })
    }).pipe(Effect.flatMap((result) => emit({ _tag: "Done", result })), Effect.andThen(Queue.end(queue)))
  })

/** Each event to `onEvent`, in order; the report of the last one (`Done`, always last). */
const consume = <E, R>(
  events: Stream.Stream<ApplyEvent, ConvergeError>,
  onEvent: (event: ApplyEvent) => Effect.Effect<void, E, R>
): Effect.Effect<ApplyReport, ConvergeError | E, R> =>
  events.pipe(
    Stream.mapEffect((e) => Effect.as(onEvent(e), e)),
    Stream.runLast,
    Effect.flatMap((last) =>
      last._tag === "Some" && last.value._tag === "Done" ? Effect.succeed(last.value.result) : Effect.die(new Error("kstlib bug: events without Done"))
    )
  )

const validation = (config: LoadedConfig): ValidationReport => ({
  files: config.files,
  project: config.project,
  valid: config.sessions.flatMap((e) => (e._tag === "Valid" ? [e.name] : [])),
  rejected: config.sessions.flatMap((e) => (e._tag === "Rejected" ? [{ session: e.name, issues: e.issues }] : [])),
  warnings: config.warnings
})

/** The service over the services in context: each method gets them provided. */
export const make: Effect.Effect<KstlibService, never, Backends | KstlibConfig> = Effect.gen(function*() {
  // everything the layer below provided, the settings' references too (tmux binary, hosts, digest);
  // not the layer's own Scope: a method's resources belong to its caller's scope
  const context = Context.omit(Scope.Scope)(yield* Effect.context<Backends | KstlibConfig>())
  const config = Context.get(context, KstlibConfig)
  const provide = <A, E>(self: Effect.Effect<A, E, Backends | KstlibConfig>): Effect.Effect<A, E> => Effect.provide(self, context)
  const provideStream = <A, E>(self: Stream.Stream<A, E, Backends | KstlibConfig>): Stream.Stream<A, E> => Stream.provideContext(self, context)
  const session = (name: string, selector: Selector = {}) => makeHandle(name, selector, { effect: provide, stream: provideStream })
  const applyEvents = (request: PlanRequest = {}, options: RunOptions = {}) => provideStream(eventsOf((o) => apply(request, o), options))
  const downEvents = (only: ReadonlyArray<string> = [], options: RunOptions = {}) => provideStream(eventsOf((o) => down(only, o), options))
  return {
    config,
    plan: (request = {}) => provide(planFromConfig(request)),
    planDown: (only = []) => provide(planDownFromConfig(only)),
    apply: (request = {}, options = {}) => provide(apply(request, options)),
    applyEvents,
    applyWith: (onEvent, request, options) => consume(applyEvents(request, options), onEvent),
    down: (only = [], options = {}) => provide(down(only, options)),
    downWith: (onEvent, only, options) => consume(downEvents(only, options), onEvent),
    downEvents,
    validate: () => Effect.succeed(validation(config)),
    list: () =>
      provide(Effect.gen(function*() {
        const observation = yield* observeFor(config, {})
        return listRows(observation.sessions, config, { digest: yield* EnvDigests, unreadable: unreadableOf(observation) })
      })),
    session,
    configured: (name) => requireConfigured(name).pipe(Effect.provide(context), Effect.as(session(name)))
  }
})

/** `Kstlib.layer`: on any spawner; a config given loaded cannot fail. */
function kstlibLayer(
  options: LayerOptions & { readonly config: LoadedConfig }
): Layer.Layer<Kstlib | KstlibServices, never, ChildProcessSpawner.ChildProcessSpawner>
function kstlibLayer(options?: LayerOptions): Layer.Layer<Kstlib | KstlibServices, ConfigLoadError, ChildProcessSpawner.ChildProcessSpawner>
function kstlibLayer(options: LayerOptions = {}): Layer.Layer<Kstlib | KstlibServices, ConfigLoadError, ChildProcessSpawner.ChildProcessSpawner> {
  return Layer.effect(Kstlib, make).pipe(Layer.provideMerge(servicesLayer(options)))
}

/** `Kstlib.layerNode`: on Node's spawner. */
function kstlibLayerNode(options: LayerOptions & { readonly config: LoadedConfig }): Layer.Layer<Kstlib | KstlibServices>
function kstlibLayerNode(options?: LayerOptions): Layer.Layer<Kstlib | KstlibServices, ConfigLoadError>
function kstlibLayerNode(options: LayerOptions = {}): Layer.Layer<Kstlib | KstlibServices, ConfigLoadError> {
  return kstlibLayer(options).pipe(Layer.provide(nodeSpawnerLayer))
}

/**
 * kstlib as one service. Its layer loads the config (or takes one), builds every backend on the
 * spawner it is given and configures them from the config; the methods need nothing more.
 *
 *   const program = Effect.gen(function*() {
 *     const kstlib = yield* Kstlib
 *     const report = yield* kstlib.apply()
 *     return yield* kstlib.session("web").status()
 *   })
 *   program.pipe(Effect.provide(Kstlib.layerNode({ config: { path: "kstlib.conf.yml" } })))
 */
export class Kstlib extends Context.Service<Kstlib, KstlibService>()("kstlib/Kstlib") {
  /** The service over `Backends` and `KstlibConfig` in context (in-memory ones in tests: `kstlib/testing`). */
  static readonly make = make
  /**
   * On any `ChildProcessSpawner` (Node's, or `kstlib/testing`'s fake one), with every config setting
   * (`ops.tmux_binary`, `ops.hosts`, the runtimes) and the options' settings. Also provides
   * `Backends` and `KstlibConfig`, for the free functions.
   */
  static readonly layer = kstlibLayer
  /** The same on Node's process spawner. */
  static readonly layerNode = kstlibLayerNode
}
