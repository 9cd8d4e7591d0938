/**
 * The registry: every driver in one table, behind one service, and the ONE place that picks the
 * driver of a spec or an observed session (`driverOf`, place.ts). The executor and the per-session
 * operations call only this. Adding a backend: implement Driver (driver.ts) in its module, add it
 * to the table below (and to `DRIVERS_OF`).
 */
import { Context, Duration, Effect, Layer, Result, Stream } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import { SessionStartFailed } from "../errors.js"
import type { BackendKind, ObservedSession, SessionSpec } from "../model.js"
import type { DriverName, Place } from "../place.js"
import { driverOf, placeOf, samePlace } from "../place.js"
import type { Change } from "../spec/diff.js"
import { Containers } from "./container.js"
import type { LogLine } from "../logs/format.js"
import type { HostLogFile } from "../logs/target.js"
import type { BackendError, BackendObservation, Capabilities, Driver, Frozen, Launch, LaunchContext, ObserveScope, StopOptions, Usage } from "./driver.js"
import { Swarm } from "./swarm.js"
import { Tmux } from "./tmux.js"

type AnyDriver = Driver<SessionSpec, ObservedSession>

/** The drivers behind each backend kind (what `--backend` and observe's `kinds` name). */
export const DRIVERS_OF: Readonly<Record<BackendKind, ReadonlyArray<DriverName>>> = { tmux: ["tmux"], container: ["engine", "swarm"] }

type Routed = "startInPlace" | "logs" | "follow" | "attach" | "exec" | "sendKeys" | "probe" | "batchKey" | "launch"

export interface BackendsService extends Pick<AnyDriver, Routed> {
  /** The given backends (default all), each driver concurrently. */
  readonly observe: (scope: ObserveScope, kinds?: ReadonlyArray<BackendKind>) => Effect.Effect<ReadonlyArray<BackendObservation>>
  /** What the driver of this session (or spec) can do. */
  readonly capabilities: (x: SessionSpec | ObservedSession) => Capabilities
  /**
   * The engine a session's calls run on (`key`: one tmux, one runtime, per machine) and how many of
   * them run at once there when `--parallel` is not given (its driver's `laneWidth`).
   */
  readonly lane: (x: SessionSpec | ObservedSession) => Lane
  readonly stop: AnyDriver["stop"]
  /** Stops (gracefully) and deletes, whatever the state: replace, prune, down. Gone already is success. */
  readonly remove: (o: ObservedSession, options: Omit<StopOptions, "leave">) => Effect.Effect<void, import("../errors.js").SessionStopFailed>
  /** CPU and memory of these sessions, in order: each driver once, concurrently, over the same `window`. */
  readonly usage: (sessions: ReadonlyArray<ObservedSession>, window: Duration.Duration) => Effect.Effect<ReadonlyArray<Usage | null>>
  /** These sessions as config entries (`ops freeze`), in order: each driver once, concurrently. */
  readonly freeze: (sessions: ReadonlyArray<ObservedSession>) => Effect.Effect<ReadonlyArray<Frozen | null>>
  /** Whether launching `spec` updates `o` in place, so a replace must not remove `o` first (swarm). */
  readonly updatesInPlace: (o: ObservedSession, spec: SessionSpec, changes?: ReadonlyArray<Change> | null) => boolean
  /** The project's own empty network at each of these places removed (driver.ts `releaseNetwork`; places without project networks: nothing). */
  readonly releaseNetworks: (places: ReadonlyArray<Place>, project: string) => Effect.Effect<void>
  /** The project's declared volumes at each of these places removed (driver.ts `releaseVolumes`); the names removed. */
  readonly releaseVolumes: (places: ReadonlyArray<Place>, project: string) => Effect.Effect<ReadonlyArray<string>>
  /** New lines of log files on a host (driver.ts `followHostLogs`); places whose driver writes none there: none. */
  readonly followHostLogs: (place: Place, files: ReadonlyArray<HostLogFile>) => Stream.Stream<LogLine, BackendError>
  /** Log files on a host removed (driver.ts `purgeHostLogs`); places whose driver writes none there: none. */
  readonly purgeHostLogs: (place: Place, files: ReadonlyArray<HostLogFile>) => Effect.Effect<ReadonlyArray<string>, BackendError>
  /** A session's log files on its host (driver.ts `hostLogs`); places whose driver writes none there: null. */
  readonly hostLogs: (
    place: Place,
    files: ReadonlyArray<HostLogFile>,
    lines: number | null
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<LogLine>> | null, BackendError>
}

export interface Lane {
  readonly key: string
  readonly width: number
}

const mismatch = (what: string) => Effect.die(new Error(`kstlib bug: ${what}: spec and session of different drivers`))

/** One service over a table of drivers: every method routes through `driverOf`. */
export const registryOf = (table: Readonly<Record<DriverName, AnyDriver>>): BackendsService => {
  const of = (x: SessionSpec | ObservedSession) => table[driverOf(x)]
  const sameDriver = (o: ObservedSession, spec: SessionSpec) => driverOf(o) === driverOf(spec)

  /** Launches partitioned by driver (one call each, concurrently), results put back in the given order. */
  const launch = (items: ReadonlyArray<Launch>, context: LaunchContext) =>
    Effect.gen(function*() {
      const groups = new Map<DriverName, Array<number>>()
      items.forEach((item, i) => groups.set(driverOf(item.spec), [...(groups.get(driverOf(item.spec)) ?? []), i]))
      const out: Array<Result.Result<void, SessionStartFailed>> = new Array(items.length)
      yield* Effect.forEach([...groups], ([name, indices]) =>
        table[name].launch(indices.map((i) => items[i]!), context).pipe(Effect.map((results) =>
          indices.forEach((i, k) => {
            const spec = items[i]!.spec
            out[i] = results[k] ?? Result.fail(
              new SessionStartFailed({ session: spec.name, backend: spec.backend, reason: "the driver reported no result", exitCode: null, output: "" })
            )
          })
        )), { concurrency: "unbounded", discard: true })
      return out
    })

  /** Sessions partitioned by driver (one call each, concurrently), results put back in the given order. */
  const perDriver = <A>(sessions: ReadonlyArray<ObservedSession>, call: (driver: AnyDriver, mine: ReadonlyArray<ObservedSession>) => Effect.Effect<ReadonlyArray<A | null>>) =>
    Effect.gen(function*() {
      const groups = new Map<DriverName, Array<number>>()
      sessions.forEach((o, i) => groups.set(driverOf(o), [...(groups.get(driverOf(o)) ?? []), i]))
      const out: Array<A | null> = sessions.map(() => null)
      yield* Effect.forEach([...groups], ([name, indices]) =>
        call(table[name], indices.map((i) => sessions[i]!)).pipe(
          Effect.map((results) => indices.forEach((i, k) => void (out[i] = results[k] ?? null)))
        ), { concurrency: "unbounded", discard: true })
      return out
    })
  const usage = (sessions: ReadonlyArray<ObservedSession>, window: Duration.Duration) => perDriver(sessions, (d, mine) => d.usage(mine, window))
  const freeze = (sessions: ReadonlyArray<ObservedSession>) => perDriver(sessions, (d, mine) => d.freeze(mine))

  return {
    usage,
    freeze,
    observe: (scope, kinds = ["tmux", "container"]) =>
      Effect.forEach(kinds.flatMap((k) => DRIVERS_OF[k]), (name) => table[name].observe(scope), { concurrency: "unbounded" }),
    capabilities: (x) => of(x).capabilities,
    lane: (x) => {
      const place = placeOf(x)
      return { key: `${driverOf(x)}\u0000${place.host ?? ""}\u0000${place.backend === "tmux" ? "" : place.runtime}`, width: of(x).laneWidth(place) }
    },
    batchKey: (spec) => `${driverOf(spec)}\u0000${of(spec).batchKey(spec)}`,
    launch,
    startInPlace: (o, spec, options) => (sameDriver(o, spec) ? of(o).startInPlace(o, spec, options) : mismatch("startInPlace")),
    stop: (o, options) => of(o).stop(o, options),
    remove: (o, options) =>
      of(o).stop(o, { ...options, leave: "nothing" }).pipe(Effect.asVoid, Effect.catchTag("SessionNotFound", () => Effect.void)),
    logs: (o, options) => of(o).logs(o, options),
    follow: (o, options) => of(o).follow(o, options),
    attach: (o, options) => of(o).attach(o, options),
    exec: (o, argv, options) => of(o).exec(o, argv, options),
    sendKeys: (o, keys, options) => of(o).sendKeys(o, keys, options),
    probe: (o, spec) => (sameDriver(o, spec) ? of(o).probe(o, spec) : mismatch("probe")),
    updatesInPlace: (o, spec, changes = null) =>
      sameDriver(o, spec) && samePlace(placeOf(o), placeOf(spec)) &&
      (of(o).capabilities.updatesInPlace || (changes !== null && of(o).inPlace?.(changes) === true)),
    releaseNetworks: (places, project) =>
      Effect.forEach(places, (place) => table[driverOf(place)].releaseNetwork?.(place, project) ?? Effect.void, { concurrency: "unbounded", discard: true }),
    followHostLogs: (place, files) =>
      place.host === undefined ? Stream.empty : table[driverOf(place)].followHostLogs?.(place.host, files) ?? Stream.empty,
    purgeHostLogs: (place, files) =>
      place.host === undefined ? Effect.succeed([]) : table[driverOf(place)].purgeHostLogs?.(place.host, files) ?? Effect.succeed([]),
    hostLogs: (place, files, lines) =>
      place.host === undefined ? Effect.succeed(null) : table[driverOf(place)].hostLogs?.(place.host, files, lines) ?? Effect.succeed(null),
    releaseVolumes: (places, project) =>
      Effect.forEach(places, (place) => table[driverOf(place)].releaseVolumes?.(place, project) ?? Effect.succeed([]), { concurrency: "unbounded" }).pipe(
        Effect.map((names) => names.flat())
      )
  }
}

export class Backends extends Context.Service<Backends, BackendsService>()("kstlib/Backends") {
  static readonly layer: Layer.Layer<Backends, never, Tmux | Containers | Swarm> = Layer.effect(
    Backends,
    Effect.gen(function*() {
      return Backends.of(registryOf({ tmux: yield* Tmux, engine: yield* Containers, swarm: yield* Swarm }))
    })
  )

  /**
   * Every driver on any ChildProcessSpawner, with the defaults of the settings they read (`tmux`,
   * no `ops.hosts`) unless the program provides them: a config's settings are not applied here.
   * kstlib's seam, `layer(options)`, is this plus the config's `ops.tmux_binary` and `ops.hosts`.
   */
  static readonly layerWith: Layer.Layer<Backends, never, ChildProcessSpawner.ChildProcessSpawner> = Backends.layer.pipe(
    Layer.provide(Layer.mergeAll(Tmux.layer, Containers.layer, Swarm.layer))
  )
}
