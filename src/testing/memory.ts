/**
 * The `Backends` registry in memory, for tests of programs on kstlib (and kstlib's own executor
 * and per-session operation tests; `memoryLayer` puts the `Kstlib` service over it): sessions live
 * in a Ref, every call is recorded (launch batches, observes, stop options, in-flight count), and
 * a spec name can be set to misbehave (fail at launch, die right after launch, hang, fail to stop
 * or remove). Times are read from the Clock, so under `it.effect` they are TestClock times.
 */
import { stampedEntry } from "../spec/thaw.js"
import { Clock, Context, Duration, Effect, Layer, Ref, Result, Stream } from "effect"
import type { BackendObservation, ExecResult, Launch, ObserveScope, StopOptions, StopOutcome } from "../backends/driver.js"
import { Backends } from "../backends/registry.js"
import { SessionNotFound, SessionStartFailed, SessionStopFailed, Unsupported } from "../errors.js"
import type { BackendKind, ObservedSession, RuntimeName, SessionSpec } from "../model.js"
import type { Place } from "../place.js"
import { describePlace, placeOf, samePlace } from "../place.js"
import type { Stamp } from "../spec/fingerprint.js"
import { owned } from "./specs.js"

/** How sessions (by name) misbehave. */
export interface Behavior {
  /** The launch of this spec fails with this reason (the others of its batch still launch). */
  readonly failLaunch?: Readonly<Record<string, string>>
  /** Launched (or restarted), but the process exits at once: the session is left `exited` with this code and output. */
  readonly dieAfterLaunch?: Readonly<Record<string, { readonly exitCode: number; readonly output: string }>>
  /** A launch call containing this spec takes this long. */
  readonly hangLaunch?: Readonly<Record<string, Duration.Input>>
  /** stop/remove/restart of this session takes this long. */
  readonly hangOp?: Readonly<Record<string, Duration.Input>>
  /** stop of this session fails with this reason. */
  readonly failStop?: Readonly<Record<string, string>>
  /** remove of this session fails with this reason. */
  readonly failRemove?: Readonly<Record<string, string>>
  /** How the stop of this session ends (default "stopped"). */
  readonly stopOutcome?: Readonly<Record<string, StopOutcome>>
  /** Its `ready:` probe passes only this long after its launch (Clock time). */
  readonly readyAfter?: Readonly<Record<string, Duration.Input>>
  /** Its `ready:` probe never passes. */
  readonly neverReady?: Readonly<Record<string, true>>
  /** Every engine's lane width (calls at once without `--parallel`; default 4). */
  readonly laneWidth?: number
}

/** A session as held in memory: what observe reports, and its output (what `logs` returns). */
export interface MemorySession {
  readonly observed: ObservedSession
  readonly output: string
}

export interface LaunchCall {
  readonly names: ReadonlyArray<string>
  readonly places: ReadonlyArray<string>
  readonly project: string
  readonly at: number
}

export interface ObserveCall {
  readonly sockets: ReadonlyArray<string | null>
  readonly kinds: ReadonlyArray<BackendKind>
  /** The local container runtimes asked for (absent: every one). */
  readonly runtimes?: ReadonlyArray<RuntimeName>
  readonly at: number
}

export interface OpCall {
  readonly op: "stop" | "remove" | "restart"
  readonly session: string
  readonly place: string
  readonly options: StopOptions | Omit<StopOptions, "leave"> | { readonly project: string; readonly stamp: Stamp | null }
  readonly at: number
}

/** What the test reads and seeds. */
export interface Probe {
  readonly sessions: Ref.Ref<ReadonlyArray<MemorySession>>
  readonly launches: Ref.Ref<ReadonlyArray<LaunchCall>>
  readonly observes: Ref.Ref<ReadonlyArray<ObserveCall>>
  readonly ops: Ref.Ref<ReadonlyArray<OpCall>>
  readonly logsCalls: Ref.Ref<ReadonlyArray<{ readonly session: string; readonly lines: number }>>
  /** Every mutating call in order: `remove web`, `launch a,b`, `stop x`, `restart y`, `observe`. */
  readonly events: Ref.Ref<ReadonlyArray<string>>
  /** Backend calls in flight now / at most (launch, stop, remove, restart). */
  readonly inFlight: Ref.Ref<number>
  readonly maxInFlight: Ref.Ref<number>
  /** When each session was last launched or restarted (Clock time), for `readyAfter`. */
  readonly launchedAt: Ref.Ref<Readonly<Record<string, number>>>
}

export class MemoryProbe extends Context.Service<MemoryProbe, Probe>()("kstlib/test/MemoryProbe") {}

const keyOf = (name: string, place: Place) => `${describePlace(place)}/${name}`
const at = (s: MemorySession, name: string, place: Place) => s.observed.name === name && samePlace(placeOf(s.observed), place)

/** The ObservedSession a launch of `spec` for `project` leaves behind. */
export const launchedAs = (spec: SessionSpec, project: string, died?: { readonly exitCode: number }): ObservedSession =>
  owned(spec, died === undefined ? {} : { state: "exited", exit_code: died.exitCode, pid: null }, project)

/**
 * Both layers: `Backends` (in memory) and `MemoryProbe`. `initial`: sessions present before the
 * test (output empty).
 */
export const memoryBackends = (
  behavior: Behavior = {},
  initial: ReadonlyArray<ObservedSession | MemorySession> = []
): Layer.Layer<Backends | MemoryProbe> => {
  const probeLayer = Layer.effect(
    MemoryProbe,
    Effect.gen(function*() {
      return MemoryProbe.of({
        sessions: yield* Ref.make<ReadonlyArray<MemorySession>>(
          initial.map((s) => ("observed" in s ? s : { observed: s, output: "" }))
        ),
        launches: yield* Ref.make<ReadonlyArray<LaunchCall>>([]),
        observes: yield* Ref.make<ReadonlyArray<ObserveCall>>([]),
        ops: yield* Ref.make<ReadonlyArray<OpCall>>([]),
        logsCalls: yield* Ref.make<ReadonlyArray<{ readonly session: string; readonly lines: number }>>([]),
        events: yield* Ref.make<ReadonlyArray<string>>([]),
        inFlight: yield* Ref.make(0),
        maxInFlight: yield* Ref.make(0),
        launchedAt: yield* Ref.make<Readonly<Record<string, number>>>({})
      })
    })
  )

  const backendsLayer = Layer.effect(
    Backends,
    Effect.gen(function*() {
      const p = yield* MemoryProbe
      const event = (e: string) => Ref.update(p.events, (all) => [...all, e])
      /** Counts the call as in flight while it runs. */
      const tracked = <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E> =>
        Effect.acquireUseRelease(
          Ref.updateAndGet(p.inFlight, (n) => n + 1).pipe(Effect.flatMap((n) => Ref.update(p.maxInFlight, (m) => Math.max(m, n)))),
          () => self,
          () => Ref.update(p.inFlight, (n) => n - 1)
        )
      const hang = (d: Duration.Input | undefined) => (d === undefined ? Effect.void : Effect.sleep(d))
      const find = (o: ObservedSession) =>
        Ref.get(p.sessions).pipe(Effect.map((all) => all.find((s) => at(s, o.name, placeOf(o)))))
      const drop = (o: ObservedSession) => Ref.update(p.sessions, (all) => all.filter((s) => !at(s, o.name, placeOf(o))))
      const recordOp = (op: OpCall["op"], o: ObservedSession, options: OpCall["options"]) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          yield* Ref.update(p.ops, (all) => [...all, { op, session: o.name, place: describePlace(placeOf(o)), options, at: now }])
          yield* event(`${op} ${o.name}`)
        })
      const notFound = (o: ObservedSession) => new SessionNotFound({ session: o.name, backend: o.backend })

      const launch = (items: ReadonlyArray<Launch>, context: { readonly project: string }) =>
        tracked(Effect.gen(function*() {
          const specs = items.map((item) => item.spec)
          const now = yield* Clock.currentTimeMillis
          yield* Ref.update(p.launches, (all) => [...all, {
            names: specs.map((s) => s.name),
            places: specs.map((s) => describePlace(placeOf(s))),
            project: context.project,
            at: now
          }])
          yield* event(`launch ${specs.map((s) => s.name).join(",")}`)
          const longest = specs.flatMap((s) => {
            const d = behavior.hangLaunch?.[s.name]
            return d === undefined ? [] : [Duration.toMillis(Duration.fromInputUnsafe(d))]
          })
          if (longest.length > 0) yield* Effect.sleep(Duration.millis(Math.max(...longest)))
          return yield* Effect.forEach(specs, (spec) =>
            Effect.gen(function*() {
              const failure = behavior.failLaunch?.[spec.name]
              const startFailed = (reason: string) =>
                Result.fail(new SessionStartFailed({ session: spec.name, backend: spec.backend, reason, exitCode: null, output: "" }))
              if (failure !== undefined) return startFailed(failure)
              const place = placeOf(spec)
              if ((yield* Ref.get(p.sessions)).some((s) => at(s, spec.name, place))) {
                return startFailed(`duplicate session: ${keyOf(spec.name, place)}`)
              }
              const died = behavior.dieAfterLaunch?.[spec.name]
              yield* Ref.update(p.sessions, (all) => [...all, { observed: launchedAs(spec, context.project, died), output: died?.output ?? "" }])
              yield* Ref.update(p.launchedAt, (m) => ({ ...m, [spec.name]: now }))
              return Result.succeed<void>(undefined)
            }))
        }))

      const observe = (scope: ObserveScope, kinds: ReadonlyArray<BackendKind> = ["tmux", "container"]) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          yield* Ref.update(p.observes, (all) => [...all, { sockets: scope.sockets, kinds, ...(scope.runtimes === undefined ? {} : { runtimes: scope.runtimes }), at: now }])
          yield* event("observe")
          const all = yield* Ref.get(p.sessions)
          // like the drivers: the local engines asked for only (absent: every one)
          const looked = (runtime: RuntimeName) => scope.runtimes === undefined || scope.runtimes.includes(runtime)
          return kinds.map((kind): BackendObservation => ({
            sessions: all.map((s) => s.observed).filter((o) => o.backend === kind && (o.backend !== "container" || o.host !== undefined || looked(o.runtime))),
            answered: kind === "container"
              ? (["podman", "docker"] as const).filter(looked).map((runtime) => ({ backend: "container" as const, runtime }))
              : [{ backend: "tmux" }],
            problems: []
          }))
        })

      const stop = (o: ObservedSession, options: StopOptions) =>
        tracked(Effect.gen(function*() {
          yield* recordOp("stop", o, options)
          yield* hang(behavior.hangOp?.[o.name])
          const failure = behavior.failStop?.[o.name]
          if (failure !== undefined) return yield* new SessionStopFailed({ session: o.name, backend: o.backend, reason: failure })
          const s = yield* find(o)
          if (s === undefined) return yield* notFound(o)
          if (s.observed.state !== "running") {
            yield* drop(o)
            return "already-stopped" as const
          }
          // tmux: the session is gone; a container stays `exited` unless removed (kstlib's own, or leave nothing).
          if (o.backend === "tmux" || options.leave === "nothing" || (options.leave === "stopped" && options.owned === true)) yield* drop(o)
          else {
            yield* Ref.update(p.sessions, (all) =>
              all.map((x) => (at(x, o.name, placeOf(o)) ? { ...x, observed: { ...x.observed, state: "exited" as const, exit_code: 0 } } : x)))
          }
          return behavior.stopOutcome?.[o.name] ?? "stopped"
        }))

      const remove = (o: ObservedSession, options: Omit<StopOptions, "leave">) =>
        tracked(Effect.gen(function*() {
          yield* recordOp("remove", o, options)
          yield* hang(behavior.hangOp?.[o.name])
          const failure = behavior.failRemove?.[o.name]
          if (failure !== undefined) return yield* new SessionStopFailed({ session: o.name, backend: o.backend, reason: failure })
          yield* drop(o)
        }))

      const startInPlace = (o: ObservedSession, spec: SessionSpec, options: { readonly project: string; readonly stamp: Stamp | null }) =>
        tracked(Effect.gen(function*() {
          yield* recordOp("restart", o, options)
          yield* hang(behavior.hangOp?.[o.name])
          const failure = behavior.failLaunch?.[o.name]
          if (failure !== undefined) {
            return yield* new SessionStartFailed({ session: o.name, backend: o.backend, reason: failure, exitCode: null, output: "" })
          }
          if ((yield* find(o)) === undefined) return yield* notFound(o)
          const died = behavior.dieAfterLaunch?.[o.name]
          const now = yield* Clock.currentTimeMillis
          yield* Ref.update(p.launchedAt, (m) => ({ ...m, [o.name]: now }))
          yield* Ref.update(p.sessions, (all) =>
            all.map((x) =>
              at(x, o.name, placeOf(o))
                ? { observed: launchedAs(spec, options.project, died), output: died?.output ?? x.output }
                : x
            ))
        }))

      const logs = (o: ObservedSession, options: { readonly lines: number }) =>
        Effect.gen(function*() {
          yield* Ref.update(p.logsCalls, (all) => [...all, { session: o.name, lines: options.lines }])
          const s = yield* find(o)
          if (s === undefined) return yield* notFound(o)
          return s.output.split("\n").slice(-options.lines).join("\n")
        })

      return Backends.of({
        capabilities: (x) => ({ exec: x.backend === "container", sendKeys: x.backend === "tmux", updatesInPlace: false }),
        // as the real registry: one lane per engine; the width is the behaviour's (default 4)
        lane: (x) => ({ key: x.backend === "tmux" ? "tmux" : `container\u0000${x.runtime}`, width: behavior.laneWidth ?? 4 }),
        updatesInPlace: () => false,
        observe,
        // As the real registry: one batch per tmux socket, every container alone.
        batchKey: (spec) =>
          spec.backend === "tmux" ? `tmux\u0000${spec.socket_name ?? ""}` : `container\u0000${spec.runtime}\u0000${spec.name}`,
        launch,
        startInPlace,
        stop,
        remove,
        logs,
        follow: (o, options) =>
          Stream.unwrap(logs(o, options).pipe(Effect.map((text) => Stream.fromIterable(text === "" ? [] : text.split("\n"))))),
        attach: (o) => find(o).pipe(Effect.flatMap((s) => (s === undefined ? Effect.fail(notFound(o)) : Effect.void))),
        exec: (o) =>
          o.backend === "tmux"
            ? Effect.fail(new Unsupported({ session: o.name, backend: o.backend, operation: "exec", hint: "" }))
            : find(o).pipe(Effect.flatMap((s) =>
              s === undefined ? Effect.fail(notFound(o)) : Effect.succeed<ExecResult>({ exitCode: 0, stdout: "", stderr: "" })
            )),
        probe: (o, spec) =>
          Effect.gen(function*() {
            yield* event(`probe ${o.name}`)
            if (spec.ready === undefined || spec.ready === null) return { ready: true, detail: "no probe" }
            const s = yield* find(o)
            if (s === undefined || s.observed.state !== "running") return { ready: false, detail: "not running" }
            if (behavior.neverReady?.[o.name] === true) return { ready: false, detail: "connection refused" }
            const after = behavior.readyAfter?.[o.name]
            if (after === undefined) return { ready: true, detail: "ok" }
            const since = (yield* Ref.get(p.launchedAt))[o.name] ?? 0
            const ok = (yield* Clock.currentTimeMillis) - since >= Duration.toMillis(Duration.fromInputUnsafe(after))
            return ok ? { ready: true, detail: "ok" } : { ready: false, detail: "connection refused" }
          }),
        usage: (sessions) => Effect.succeed(sessions.map(() => null)),
        // what it holds, as the real drivers freeze their own: from the stamp
        freeze: (sessions) =>
          Effect.succeed(sessions.map((o) => {
            const entry = stampedEntry(o.mark)
            return entry === null ? null : { entry, notes: [] }
          })),
        // no host here: nothing is written on one
        hostLogs: () => Effect.succeed(null),
        purgeHostLogs: () => Effect.succeed([]),
        followHostLogs: () => Stream.empty,
        releaseNetworks: (places, project) => Effect.forEach(places, (place) => event(`release-network ${describePlace(place)} ${project}`), { discard: true }),
        releaseVolumes: (places, project) => Effect.forEach(places, (place) => event(`release-volumes ${describePlace(place)} ${project}`), { discard: true }).pipe(Effect.as([])),
        sendKeys: (o, keys) =>
          o.backend === "container"
            ? Effect.fail(new Unsupported({ session: o.name, backend: o.backend, operation: "send-keys", hint: "" }))
            : find(o).pipe(Effect.flatMap((s) => (s === undefined ? Effect.fail(notFound(o)) : event(`send-keys ${o.name} ${keys}`))))
      })
    })
  )

  return backendsLayer.pipe(Layer.provideMerge(probeLayer))
}
