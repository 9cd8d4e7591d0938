/**
 * The Swarm Backend (`runtime: swarm` on a container session): one Docker Swarm service per
 * session, on the engine `docker` talks to (DOCKER_HOST, contexts pass through). Argv and parsing
 * in ./swarm/argv.ts and parse.ts (pure, unit-tested); this file runs them.
 *
 * observe: ONE `service ls`, ONE `service inspect` of every service listed (labels are not in
 * `ls`), and, only when some service runs no task while it wants some, ONE `service ps` of those.
 * launch: `service create` on the project's overlay network (place.ts `swarmNetwork`: looked up or
 * created first, refused when not the project's), or, for a drifted service of ours whose changes
 * `service update` can make, an update in place; else `service rm` then create. stop: scale to 0
 * (the service stays); remove/prune: `service rm` (and the overlay, when that left it empty).
 */
import { stampedEntry } from "../spec/thaw.js"
import { Clock, Context, Effect, Layer, Schedule, Semaphore, Stream } from "effect"
import { ChildProcessSpawner } from "effect/process"
import type { BackendTimeout } from "../errors.js"
import { CommandFailed, SessionAttachFailed, SessionNotFound, SessionStartFailed, SessionStopFailed, UnreadableOutput, Unsupported } from "../errors.js"
import type { ContainerSpec, ObservedContainer } from "../model.js"
import { isOurs } from "../model.js"
import { swarmNetwork } from "../place.js"
import { KEPT_LINES, keepRemovedOutput } from "../logs/files.js"
import { containerLogTarget, fromLogLabel, LogDirectory, logLabel } from "../logs/target.js"
import { updatableChanges } from "../spec/diff.js"
import type { RunOptions, RunResult, SpawnFailed } from "../proc.js"
import { run, streamLines } from "../proc.js"
import { probeWith } from "./probe.js"
import { withEnvFile } from "./container/envfile.js"
import type { Listing } from "./container/parse.js"
import type { BackendObservation, Driver, Launch, StopOptions, StopOutcome } from "./driver.js"
import { engineMessage } from "./container/parse.js"
import { isNoSuchNetwork, isProjectNetwork, networkInspectArgs, networkRmArgs } from "./container/argv.js"
import { lookOrCreate } from "./container/owned.js"
import {
  createArgs,
  overlayCreateArgs,
  envFileText,
  envViaClient,
  forceUpdateArgs,
  logsArgs,
  replicasOf,
  rmArgs,
  scaleArgs,
  serviceInspectArgs,
  serviceLsArgs,
  servicePsArgs,
  updateArgs
} from "./swarm/argv.js"
import { isNoSuchService, isNotSwarmManager, parseServiceInspect, parseServiceLs, parseServicePs, toObserved } from "./swarm/parse.js"

export class Swarm extends Context.Service<Swarm, Driver<ContainerSpec, ObservedContainer>>()("kstlib/Swarm") {
  static readonly layer: Layer.Layer<Swarm, never, ChildProcessSpawner.ChildProcessSpawner> = Layer.effect(Swarm, Effect.suspend(() => make))
}

const DOCKER = "docker"
const notFound = (name: string) => new SessionNotFound({ session: name, backend: "container" })
const startFailed = (session: string, reason: string) =>
  new SessionStartFailed({ session, backend: "container", reason, exitCode: null, output: "" })
/** `service create` on a network being removed: `network ID not found`. */
const NETWORK_GONE = /network \S+ not found/iu

const stopFailed = (session: string, reason: string) => new SessionStopFailed({ session, backend: "container", reason })


/** How long a launch waits for the service's tasks to run (or fail) before leaving it to the post-launch check. */
const CONVERGE_POLLS = 120
const POLL = "250 millis"

const make = Effect.gen(function*() {
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const provide = <A, E>(eff: Effect.Effect<A, E, ChildProcessSpawner.ChildProcessSpawner>) =>
    Effect.provideService(eff, ChildProcessSpawner.ChildProcessSpawner, spawner)

  const exec = (args: ReadonlyArray<string>, options: RunOptions = {}) =>
    provide(run(DOCKER, args, options)).pipe(
      Effect.catchTag("SpawnFailed", (e: SpawnFailed) =>
        Effect.fail(new CommandFailed({ argv: [DOCKER, ...args.slice(0, 2)], exitCode: 127, stderr: e.reason })))
    )
  const failed = (args: ReadonlyArray<string>, r: RunResult) =>
    new CommandFailed({ argv: [DOCKER, ...args], exitCode: r.exitCode, stderr: r.stderr || r.stdout })
  const ok = (args: ReadonlyArray<string>) =>
    exec(args).pipe(Effect.flatMap((r) => (r.exitCode === 0 ? Effect.succeed(r.stdout) : Effect.fail(failed(args, r)))))

  /** A listing read whole, or UnreadableOutput naming the command: never a shorter list. */
  const whole = <A>(args: ReadonlyArray<string>, listing: Listing<A>) =>
    listing.ok
      ? Effect.succeed(listing.items)
      : Effect.fail(new UnreadableOutput({ command: `${DOCKER} ${args.slice(0, 2).join(" ")}`, reason: listing.reason }))

  /** Every service as observed; `null` when swarm mode is off (or docker absent): swarm is then unavailable. */
  const services = Effect.gen(function*() {
    const ls = yield* exec(serviceLsArgs)
    if (ls.exitCode !== 0) {
      if (isNotSwarmManager(ls.stderr)) return null
      return yield* failed(serviceLsArgs, ls)
    }
    const rows = yield* whole(serviceLsArgs, parseServiceLs(ls.stdout))
    if (rows.length === 0) return []
    const inspectArgs = serviceInspectArgs(rows.map((r) => r.id))
    const docs = yield* whole(inspectArgs, parseServiceInspect(yield* ok(inspectArgs)))
    const idle = rows.filter((r) => r.running === 0 && r.desired !== 0)
    const psArgs = servicePsArgs(idle.map((r) => r.id))
    const tasks = idle.length === 0 ? [] : yield* whole(psArgs, parseServicePs(yield* ok(psArgs)))
    return toObserved(rows, docs, tasks)
  })

  /** No services, nothing to say: swarm not in use, or not asked for. */
  const NOTHING: BackendObservation = { sessions: [], answered: [], problems: [] }
  const observe = Effect.fn("Swarm.observe")(function*() {
    const r = yield* Effect.result(services)
    if (r._tag === "Failure") {
      // No docker at all is the engine driver's to report; swarm simply is not there. Otherwise its
      // services are unknown: nothing is planned there.
      const missing = r.failure._tag === "CommandFailed" && r.failure.exitCode === 127
      return {
        sessions: [],
        answered: [],
        problems: missing ? [] : [{
          scope: { backend: "container", runtime: "swarm" },
          kind: "failed",
          message: r.failure.message,
          ...(r.failure._tag === "UnreadableOutput" ? { garbled: true } : {})
        }]
      } satisfies BackendObservation
    }
    // Not a swarm manager: swarm is not in use here (not a failure); a session asking for it is
    // invalid ("container runtime 'swarm' not found").
    if (r.success === null) return NOTHING
    return { sessions: r.success, answered: [{ backend: "container", runtime: "swarm" }], problems: [] } satisfies BackendObservation
  })

  /** One service by exact name (`service ls --filter name=` matches prefixes). */
  const find = (name: string) =>
    Effect.gen(function*() {
      const all = yield* services.pipe(Effect.map((s) => s ?? []))
      return all.find((o) => o.name === name) ?? null
    })

  /** Waits until the service runs its tasks, or one failed (the post-launch check then reports it), or time runs out. */
  const converge = (name: string, replicas: number) =>
    replicas === 0 ? Effect.void : exec(servicePsArgs([name])).pipe(
      Effect.map((r) => {
        const listing = parseServicePs(r.stdout)
        if (!listing.ok) return false // unreadable this time: poll again
        const tasks = listing.items.filter((t) => t.service === name)
        const current = tasks.filter((t) => t.desired === "running")
        return current.filter((t) => t.state === "running").length >= Math.min(replicas, 1) &&
            current.every((t) => t.state === "running") || tasks.some((t) => t.state === "failed" || t.state === "rejected")
      }),
      Effect.orElseSucceed(() => true),
      Effect.repeat({ schedule: Schedule.spaced(POLL), until: (done) => done, times: CONVERGE_POLLS }),
      Effect.asVoid
    )

  const waitGone = (name: string) =>
    find(name).pipe(
      Effect.orElseSucceed(() => null),
      Effect.repeat({ schedule: Schedule.spaced(POLL), until: (o) => o === null, times: 120 }),
      Effect.asVoid
    )

  const rm = (name: string) =>
    Effect.gen(function*() {
      const r = yield* exec(rmArgs(name)).pipe(Effect.mapError((e) => stopFailed(name, e.message)))
      if (r.exitCode !== 0 && !isNoSuchService(r.stderr)) return yield* stopFailed(name, engineMessage(r.stderr) || `docker service rm exited with ${r.exitCode}`)
      // The name is free again only once the service is gone.
      yield* waitGone(name)
    })

  /** The network's labels as JSON, or null when there is no such network. */
  const inspectNetwork = (name: string) =>
    exec(networkInspectArgs(name)).pipe(Effect.flatMap((r): Effect.Effect<string | null, CommandFailed | BackendTimeout> => {
      if (r.exitCode === 0) return Effect.succeed(r.stdout)
      if (isNoSuchNetwork(r.stderr)) return Effect.succeed(null)
      return Effect.fail(failed(networkInspectArgs(name), r))
    }))

  /** Until the project's overlay network is gone (a removal swarm finishes later), at most 30 s. */
  const waitNetworkGone = (project: string) =>
    inspectNetwork(swarmNetwork(project)).pipe(
      Effect.orElseSucceed(() => null),
      Effect.repeat({ schedule: Schedule.spaced(POLL), until: (labels) => labels === null, times: 120 }),
      Effect.asVoid
    )

  /** One look-or-create at a time: two concurrent creates could make two networks of one name. */
  const networkLock = Semaphore.makeUnsafe(1)
  /** The project's overlay network before a service joins it: ours, or created now; a network of that name that is not this project's refuses the launch. */
  const ensureNetwork = (project: string) =>
    networkLock.withPermits(1)(lookOrCreate({
      kind: "network",
      name: swarmNetwork(project),
      project,
      inspect: inspectNetwork(swarmNetwork(project)),
      create: exec(overlayCreateArgs(project)),
      command: "docker network create",
      launches: "service"
    }))

  /**
   * The project's overlay network removed when it is ours and no service is on it (the engine refuses
   * while one is: `in use by service`, and the network stays). Swarm accepts the removal while the
   * removed services' tasks are still stopping and deletes the network once they are gone. Never fails.
   */
  const releaseNetwork = (project: string) => {
    const name = swarmNetwork(project)
    return inspectNetwork(name).pipe(
      Effect.flatMap((labels) => (labels === null || !isProjectNetwork(labels, project) ? Effect.void : exec(networkRmArgs(name)))),
      Effect.ignore
    )
  }

  const create = ({ spec, stamp }: Launch<ContainerSpec>, project: string) =>
    withEnvFile(envFileText(spec.env), (envFile) =>
      Effect.gen(function*() {
        const built = createArgs(spec, stamp, project, envFile, logLabel(containerLogTarget(spec, project, yield* LogDirectory)))
        if (!built.ok) return yield* startFailed(spec.name, built.reason)
        const viaClient = Object.fromEntries(envViaClient(spec.env).map((k) => [k, spec.env[k]!]))
        const r = yield* exec(built.args, { env: viaClient }).pipe(Effect.mapError((e) => startFailed(spec.name, e.message)))
        if (r.exitCode !== 0) return yield* startFailed(spec.name, engineMessage(r.stderr) || `docker service create exited with ${r.exitCode}`)
      })).pipe(Effect.catchTag("EnvFileFailed", (e) => Effect.fail(startFailed(spec.name, e.message))))

  /**
   * Create, or for a service of ours already there (a replace the executor left in place): a
   * `service update` when every changed field is one update can change, else remove and create.
   */
  const launchOne = (item: Launch<ContainerSpec>, project: string) =>
    Effect.gen(function*() {
      const { spec, stamp } = item
      const existing = yield* find(spec.name).pipe(Effect.mapError((e) => startFailed(spec.name, e.message)))
      if (existing !== null && !isOurs(existing, project)) {
        return yield* startFailed(spec.name, "a service of that name exists and is not this project's")
      }
      if (existing !== null && item.changes !== null && updatableChanges(item.changes)) {
        const built = updateArgs(spec, stamp, project)
        if (!built.ok) return yield* startFailed(spec.name, built.reason)
        const r = yield* exec(built.args).pipe(Effect.mapError((e) => startFailed(spec.name, e.message)))
        if (r.exitCode !== 0) return yield* startFailed(spec.name, engineMessage(r.stderr) || `docker service update exited with ${r.exitCode}`)
      } else {
        const joinNetwork = Effect.gen(function*() {
          const refused = yield* ensureNetwork(project).pipe(Effect.mapError((e) => startFailed(spec.name, e.message)))
          if (refused !== null) return yield* startFailed(spec.name, refused)
        })
        yield* joinNetwork
        if (existing !== null) yield* rm(spec.name).pipe(Effect.mapError((e) => startFailed(spec.name, e.message)))
        // the network found was one a `down` just removed (swarm deletes it once its tasks are
        // gone): once it is gone, made again and joined
        yield* create(item, project).pipe(Effect.catchIf(
          (e) => NETWORK_GONE.test(e.reason),
          () => waitNetworkGone(project).pipe(Effect.andThen(joinNetwork), Effect.andThen(create(item, project)))
        ))
      }
      yield* converge(spec.name, replicasOf(spec))
    })

  const launch = Effect.fn("Swarm.launch")(function*(items: ReadonlyArray<Launch<ContainerSpec>>, context: { readonly project: string }) {
    return yield* Effect.forEach(items, (item) => Effect.result(launchOne(item, context.project)), { concurrency: 4 })
  })

  /** Scaled back up (stopped), or its tasks started again with the same spec (exited). */
  const startInPlace = Effect.fn("Swarm.startInPlace")(function*(o: ObservedContainer, spec: ContainerSpec) {
    const args = o.state === "stopped" ? scaleArgs(o.name, Math.max(1, replicasOf(spec))) : forceUpdateArgs(o.name)
    const r = yield* exec(args).pipe(Effect.mapError((e) => startFailed(o.name, e.message)))
    if (r.exitCode !== 0) {
      if (isNoSuchService(r.stderr)) return yield* notFound(o.name)
      return yield* startFailed(o.name, engineMessage(r.stderr) || `docker ${args.slice(0, 2).join(" ")} exited with ${r.exitCode}`)
    }
    yield* converge(o.name, Math.max(1, replicasOf(spec)))
  })

  /**
   * Before kstlib removes a service of ours: its tasks' output, with the engine's times, appended to
   * its log file between two marker lines (as a container's). A failure to read or write it does
   * not keep the service.
   */
  const keepOutput = (o: ObservedContainer) =>
    Effect.gen(function*() {
      if (!o.mark.managed || o.mark.project === null) return
      // the label's path is trusted only from a daemon on this machine (which can write any file
      // here anyway), as a container's; a daemon elsewhere (DOCKER_HOST tcp/ssh, a context): the default file
      const local = /^(unix:\/\/|$)/u.test(process.env["DOCKER_HOST"] ?? "") && (process.env["DOCKER_CONTEXT"] ?? "") === ""
      const target = fromLogLabel(o.log_label, o.mark.project, o.name, yield* LogDirectory, !local)
      if (target === null || target.path === null) return
      const r = yield* exec(logsArgs(o.name, KEPT_LINES, false, true), { merged: true })
      if (r.exitCode !== 0) return
      yield* keepRemovedOutput({ ...target, path: target.path }, o, r.stdout, new Date(yield* Clock.currentTimeMillis))
    }).pipe(Effect.ignore)

  /** Scale to 0 and wait until no task runs; the service stays (its spec is kept) unless nothing is to be left. */
  const stop = Effect.fn("Swarm.stop")(function*(o: ObservedContainer, options: StopOptions) {
    if (options.leave === "nothing") {
      yield* keepOutput(o)
      yield* rm(o.name)
      if (options.releaseNetwork === true && o.mark.managed && o.mark.project !== null) yield* releaseNetwork(o.mark.project)
      return "stopped" as StopOutcome
    }
    const before = yield* find(o.name).pipe(Effect.mapError((e) => stopFailed(o.name, e.message)))
    if (before === null) return yield* notFound(o.name)
    if (before.state === "stopped") return "already-stopped" as StopOutcome
    const r = yield* exec(scaleArgs(o.name, 0)).pipe(Effect.mapError((e) => stopFailed(o.name, e.message)))
    if (r.exitCode !== 0) return yield* stopFailed(o.name, engineMessage(r.stderr) || `docker service scale exited with ${r.exitCode}`)
    const polls = Math.ceil(((options.timeout ?? 10) + 15) * 4)
    const rows = yield* exec(serviceLsArgs).pipe(
      Effect.map((x) => {
        const listing = parseServiceLs(x.stdout)
        // unreadable: as if still running (polled again; at the end, a failed stop rather than a false one)
        return listing.ok ? listing.items.find((row) => row.name === o.name) : { running: 1 }
      }),
      Effect.orElseSucceed(() => undefined),
      Effect.repeat({ schedule: Schedule.spaced(POLL), until: (row) => row === undefined || row.running === 0, times: polls })
    )
    if (rows !== undefined && rows.running !== 0) return yield* stopFailed(o.name, "tasks still running after scaling to 0")
    return "stopped" as StopOutcome
  })

  const logs = Effect.fn("Swarm.logs")(function*(o: ObservedContainer, options: { readonly lines: number }) {
    const args = logsArgs(o.name, options.lines, false)
    const r = yield* exec(args, { merged: true })
    if (r.exitCode === 0) return r.stdout.replace(/\r\n/g, "\n").replace(/\n+$/u, "")
    if (isNoSuchService(r.stdout)) return yield* notFound(o.name)
    return yield* failed(args, r)
  })

  const follow = (o: ObservedContainer, options: { readonly lines: number }) => {
    const args = logsArgs(o.name, options.lines, true)
    return streamLines(DOCKER, args).pipe(
      Stream.map((line) => line.replace(/\r$/, "")),
      Stream.mapError((e) => new CommandFailed({ argv: [DOCKER, ...args], exitCode: 127, stderr: e.reason })),
      Stream.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner)
    )
  }

  const unsupported = (o: ObservedContainer, operation: string, hint: string) =>
    Effect.fail(new Unsupported({ session: o.name, backend: "container", operation, hint }))

  return Swarm.of({
    name: "swarm",
    capabilities: { exec: false, sendKeys: false, updatesInPlace: true },
    // a service's launch waits for its tasks to converge (polling): as many at once as before
    laneWidth: () => 4,
    observe: (scope) =>
      scope.runtimes !== undefined && !scope.runtimes.includes("swarm")
        ? Effect.succeed(NOTHING)
        : observe(),
    batchKey: (spec) => spec.name,
    launch,
    startInPlace: (o, spec) => startInPlace(o, spec),
    stop: (o, options) => stop(o, options),
    logs: (o, options) => logs(o, options),
    follow,
    attach: (o) =>
      Effect.fail(new SessionAttachFailed({ session: o.name, backend: "container", reason: "a swarm service has no terminal to attach to; follow its logs instead" })),
    exec: (o) => unsupported(o, "exec", "a swarm service's tasks may run on any node; use 'docker exec' on the node"),
    sendKeys: (o) => unsupported(o, "send-keys", "use 'kstlib ops logs'"),
    // `log:` on the service's logs; `cmd:` would need exec, which a service does not offer.
    probe: (o, spec) =>
      probeWith(spec, {
        logs: (options) => logs(o, options),
        run: "a cmd: probe needs exec, which swarm services do not offer; use tcp:, http: or log:"
      }),
    // a service's tasks may run on any node of the swarm: not measured
    usage: (sessions) => Effect.succeed(sessions.map(() => null)),
    // the project's overlay network, when ours and empty (a whole-project `down`)
    releaseNetwork: (place, project) => (place.backend === "container" && place.runtime === "swarm" ? releaseNetwork(project) : Effect.void),
    // a service of ours from its stamp; another's is not read (its spec is the stack's)
    freeze: (sessions) =>
      Effect.succeed(sessions.map((o) => {
        const entry = stampedEntry(o.mark)
        return entry === null ? null : { entry, notes: [] }
      }))
  })
})
