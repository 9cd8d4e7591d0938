/**
 * The registry: every backend behind one service, and the ONE place that picks the backend of a
 * spec or an observed session. The executor and the per-session operations call only this.
 * Adding a backend: implement Backend (backend.ts) in its module, add it here.
 */
import { Context, Effect, Layer, Result } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import { SessionStartFailed } from "../errors.js"
import type { BackendKind, ContainerSpec, ObservedContainer, ObservedSession, SessionSpec } from "../model.js"
import { describePlace, placeOf, placeOfSpec } from "../model.js"
import type { Backend, BackendObservation, Capabilities, LaunchContext, ObserveScope, StopOptions } from "./backend.js"
import { Containers } from "./container.js"
import { Swarm } from "./swarm.js"
import { Tmux } from "./tmux.js"

type AnyBackend = Backend<SessionSpec, ObservedSession>

type Service = Omit<AnyBackend, "kind" | "capabilities" | "observe"> & {
  readonly kinds: ReadonlyArray<BackendKind>
  readonly capabilities: (kind: BackendKind) => Capabilities
  /** The given backends (default all), concurrently. */
  readonly observe: (scope: ObserveScope, kinds?: ReadonlyArray<BackendKind>) => Effect.Effect<ReadonlyArray<BackendObservation>>
  /** Whether launching `spec` updates `o` in place, so a replace must not remove `o` first (swarm). */
  readonly updatesInPlace?: (o: ObservedSession, spec: SessionSpec) => boolean
}

/** Container sessions with `runtime: swarm` go to the Swarm backend, every other container session to Containers. */
const isSwarm = (x: SessionSpec | ObservedSession): boolean => x.backend === "container" && x.runtime === "swarm"

/** Podman/Docker and swarm seen as one "container" observation: sessions, runtimes (swarm last), problems together. */
const mergeContainer = (a: BackendObservation, b: BackendObservation): BackendObservation => ({
  kind: "container",
  sessions: [...a.sessions, ...b.sessions],
  available: a.available || b.available,
  runtimes: [...a.runtimes, ...b.runtimes],
  problems: [...a.problems, ...b.problems],
  unreadable: [...a.unreadable, ...b.unreadable]
})

const placeKey = (o: ObservedSession) => `${o.backend}\u0000${describePlace(placeOf(o))}`
const placeKeyOfSpec = (s: SessionSpec) => `${s.backend}\u0000${describePlace(placeOfSpec(s))}`

const mismatch = (what: string) => Effect.die(new Error(`kstlib bug: ${what}: spec and session of different backends`))

export class Backends extends Context.Service<Backends, Service>()("kstlib/Backends") {
  static readonly layer: Layer.Layer<Backends, never, Tmux | Containers | Swarm> = Layer.effect(
    Backends,
    Effect.gen(function*() {
      const tmux = yield* Tmux
      const engines = yield* Containers
      const swarm = yield* Swarm
      // The "container" kind: Podman/Docker, or swarm by runtime. Every call below picks through it.
      const pick = (x: SessionSpec | ObservedSession) => (isSwarm(x) ? swarm : engines)
      const containers: Omit<Backend<ContainerSpec, ObservedContainer>, "launch" | "batchKey" | "restart"> & {
        readonly launch: Backend<ContainerSpec, ObservedContainer>["launch"]
        readonly batchKey: (spec: ContainerSpec) => string
        readonly restart: Backend<ContainerSpec, ObservedContainer>["restart"]
      } = {
        kind: "container",
        capabilities: engines.capabilities,
        observe: (scope) =>
          Effect.all([engines.observe(scope), swarm.observe(scope)], { concurrency: 2 }).pipe(Effect.map(([a, b]) => mergeContainer(a, b))),
        batchKey: (spec) => pick(spec).batchKey(spec),
        launch: (specs, context) =>
          Effect.gen(function*() {
            const sw = specs.flatMap((s, i) => (isSwarm(s) ? [{ i, s }] : []))
            const en = specs.flatMap((s, i) => (isSwarm(s) ? [] : [{ i, s }]))
            const [a, b] = yield* Effect.all([
              en.length === 0 ? Effect.succeed([]) : engines.launch(en.map((x) => x.s), context),
              sw.length === 0 ? Effect.succeed([]) : swarm.launch(sw.map((x) => x.s), context)
            ], { concurrency: 2 })
            const out: Array<Result.Result<void, SessionStartFailed>> = specs.map(() => Result.succeed(undefined))
            en.forEach(({ i }, k) => (out[i] = a[k]!))
            sw.forEach(({ i }, k) => (out[i] = b[k]!))
            return out
          }),
        restart: (o, spec, options) => pick(o).restart(o, spec, options),
        stop: (o, options) => pick(o).stop(o, options),
        remove: (o, options) => pick(o).remove(o, options),
        logs: (o, options) => pick(o).logs(o, options),
        follow: (o, options) => pick(o).follow(o, options),
        attach: (o) => pick(o).attach(o),
        exec: (o, argv, options) => pick(o).exec(o, argv, options),
        sendKeys: (o, keys, options) => pick(o).sendKeys(o, keys, options),
        probe: (o, spec) => pick(o).probe(o, spec)
      }
      const byKind = { tmux, container: containers } as const

      const launch = (specs: ReadonlyArray<SessionSpec>, context: LaunchContext) =>
        Effect.gen(function*() {
          const out: Array<Result.Result<void, SessionStartFailed>> = specs.map(() =>
            Result.fail(new SessionStartFailed({ session: "", backend: "tmux", reason: "not launched", exitCode: null, output: "" }))
          )
          const tmuxSpecs = specs.flatMap((s, i) => (s.backend === "tmux" ? [{ i, s }] : []))
          const ctrSpecs = specs.flatMap((s, i) => (s.backend === "container" ? [{ i, s }] : []))
          const [t, c] = yield* Effect.all([
            tmuxSpecs.length === 0 ? Effect.succeed([]) : tmux.launch(tmuxSpecs.map((x) => x.s), context),
            ctrSpecs.length === 0 ? Effect.succeed([]) : containers.launch(ctrSpecs.map((x) => x.s), context)
          ], { concurrency: 2 })
          tmuxSpecs.forEach(({ i }, k) => (out[i] = t[k]!))
          ctrSpecs.forEach(({ i }, k) => (out[i] = c[k]!))
          return out
        })

      return Backends.of({
        kinds: ["tmux", "container"],
        updatesInPlace: (o, spec) =>
          (isSwarm(o) ? swarm : o.backend === "tmux" ? tmux : engines).capabilities.updatesInPlace === true &&
          placeKey(o) === placeKeyOfSpec(spec),
        capabilities: (kind) => byKind[kind].capabilities,
        observe: (scope, kinds = ["tmux", "container"]) =>
          Effect.forEach(kinds, (k) => byKind[k].observe(scope), { concurrency: "unbounded" }),
        batchKey: (spec) =>
          spec.backend === "tmux" ? `tmux\u0000${tmux.batchKey(spec)}` : `container\u0000${containers.batchKey(spec)}`,
        launch,
        restart: (o, spec, options) =>
          o.backend === "tmux"
            ? spec.backend === "tmux" ? tmux.restart(o, spec, options) : mismatch("restart")
            : spec.backend === "container"
            ? containers.restart(o, spec, options)
            : mismatch("restart"),
        stop: (o, options: StopOptions) => (o.backend === "tmux" ? tmux.stop(o, options) : containers.stop(o, options)),
        remove: (o, options) => (o.backend === "tmux" ? tmux.remove(o, options) : containers.remove(o, options)),
        logs: (o, options) => (o.backend === "tmux" ? tmux.logs(o, options) : containers.logs(o, options)),
        follow: (o, options) => (o.backend === "tmux" ? tmux.follow(o, options) : containers.follow(o, options)),
        attach: (o) => (o.backend === "tmux" ? tmux.attach(o) : containers.attach(o)),
        exec: (o, argv, options) => (o.backend === "tmux" ? tmux.exec(o, argv, options) : containers.exec(o, argv, options)),
        sendKeys: (o, keys, options) => (o.backend === "tmux" ? tmux.sendKeys(o, keys, options) : containers.sendKeys(o, keys, options)),
        probe: (o, spec) =>
          o.backend === "tmux"
            ? spec.backend === "tmux" ? tmux.probe(o, spec) : mismatch("probe")
            : spec.backend === "container"
            ? containers.probe(o, spec)
            : mismatch("probe")
      })
    })
  )

  /** Every backend on any ChildProcessSpawner. */
  static readonly layerWith: Layer.Layer<Backends, never, ChildProcessSpawner.ChildProcessSpawner> = Backends.layer.pipe(
    Layer.provide(Layer.mergeAll(Tmux.layer, Containers.layer, Swarm.layer))
  )
}
