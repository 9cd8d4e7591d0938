/**
 * The container Backend: Podman and Docker (dialects in ./container/argv.ts and parse.ts, pure and
 * unit-tested); this file runs the commands and turns their results into typed errors. The runtime
 * binary is run by name: environment that points it at another engine (DOCKER_HOST,
 * CONTAINER_HOST, docker contexts) passes through untouched.
 */
import { Clock, Context, Duration, Effect, Layer, Schedule, Semaphore, Stream } from "effect"
import { ChildProcessSpawner } from "effect/process"
import {
  CommandFailed,
  EngineUnavailable,
  HostUnreachable,
  SessionAttachFailed,
  SessionNotFound,
  SessionStartFailed,
  SessionStopFailed,
  sshHung,
  UnreadableOutput,
  Unsupported
} from "../errors.js"
import type { ContainerSpec, HostSpec, ObservedContainer, RuntimeName } from "../model.js"
import { declaredNetwork, declaredVolume } from "../place.js"
import type { BackendTimeout } from "../errors.js"
import type { RunOptions, RunResult, SpawnFailed } from "../proc.js"
import { interactive, run, streamLines } from "../proc.js"
import { withEnvFile } from "./container/envfile.js"
import type { BackendObservation, Driver, Frozen, Launch, LogOptions, ObserveScope, StopOutcome, Usage } from "./driver.js"
import type { EngineStats } from "./container/stats.js"
import { PullProgress } from "./container/pull-progress.js"
import { podmanRemote, podmanRemoteFailure } from "../transport/podman-remote.js"
import { dockerEnv, dockerSshFailure, SshHosts } from "../transport/ssh.js"
import {
  attachArgs,
  envFileText,
  envViaClient,
  execArgs,
  inspectArgs,
  inspectManyArgs,
  buildArgs,
  buildStamp,
  builtLabelArgs,
  createsFirst,
  imageInspectArgs,
  pullArgs,
  pullsFirst,
  registryOf,
  extraNetworks,
  isNoSuchNetwork,
  isNoSuchVolume,
  joinsProjectNetwork,
  listByProjectArgs,
  networkConnectArgs,
  volumeCreateArgs,
  volumeInspectArgs,
  volumeRmArgs,
  isProjectNetwork,
  logsArgs,
  networkCreateArgs,
  networkInspectArgs,
  networkRmArgs,
  projectNetwork,
  psArgs,
  rmArgs,
  runArgs,
  startArgs,
  stopArgs
} from "./container/argv.js"
import { frozenContainer } from "./container/freeze.js"
import { lookOrCreate } from "./container/owned.js"
import { stampedEntry } from "../spec/thaw.js"
import { engineMessage, isNoSuchContainer, jsonValues, parseInspect, parsePs, parseRestartInfo, pullFailure, type RestartInfo } from "./container/parse.js"
import { lookPath } from "../transport/path.js"
import { bindSources, parseSocketAnswer, socketMountRefusal, socketQueryArgs, socketsToRefuse } from "./container/sockets.js"
import { probeWith } from "./probe.js"
import { KEPT_LINES, keepRemovedOutput } from "../logs/files.js"
import { containerLogTarget, fromLogLabel, LogDirectory, logLabel } from "../logs/target.js"
import { SECONDS_BOUNDS } from "../config/rules.js"

/**
 * `logs [--since T] [--timestamps] [-f] --tail N NAME`: both engines take `--since` as Unix seconds
 * (with a fraction), so the time is resolved once here and means the same on either.
 */
export const logsArgv = (name: string, options: LogOptions, follow: boolean): ReadonlyArray<string> => {
  const [verb, ...rest] = logsArgs(name, options.lines, follow)
  return [
    verb!,
    ...(options.since === undefined ? [] : ["--since", (options.since.getTime() / 1000).toFixed(3)]),
    ...(options.timestamps === true ? ["--timestamps"] : []),
    ...rest
  ]
}

/** A pull may take minutes on a slow link: its own timeout, over the per-call one (KSTLIB_CALL_TIMEOUT). */
const PULL_TIMEOUT_SECONDS = 900
/** A build runs the Dockerfile's steps: its own timeout too. */
const BUILD_TIMEOUT_SECONDS = 1800
/** A run that failed on a network or an image that is not there (any more). */
const OBJECT_GONE = /network \S* ?not found|no such network|unable to find network|image not known|no such image/iu

/** Auto-detect order. */
export const RUNTIMES: ReadonlyArray<RuntimeName> = ["podman", "docker"]

/**
 * Container calls at once per engine, without `--parallel` (bench/results/parallelism.md: 20
 * `run -d` at 1, 2, 4, 8, 16 at a time on 2 cores). Docker's daemon keeps gaining up to 8 (its
 * client processes are light, the daemon does the work); podman forks conmon and runc per
 * container on the client side and stops gaining at 4 (more adds only contention).
 */
export const DOCKER_WIDTH = 8
export const PODMAN_WIDTH = 4

export interface ContainerStopOptions {
  readonly force?: boolean
  readonly timeout?: number
  readonly releaseNetwork?: boolean
}

export class Containers extends Context.Service<Containers, Driver<ContainerSpec, ObservedContainer> & {
  /** Runtimes on PATH, in auto-detect order. Cached after the first look. */
  readonly onPath: Effect.Effect<ReadonlyArray<RuntimeName>>
}>()("kstlib/Containers") {
  /** Needs a ChildProcessSpawner (the real one, or a fake/counting one in tests). */
  static readonly layer: Layer.Layer<Containers, never, ChildProcessSpawner.ChildProcessSpawner> = Layer.effect(
    Containers,
    Effect.suspend(() => make)
  )
}

interface Remote {
  readonly flags: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly failure: (stderr: string) => { readonly unreachable: string } | { readonly service: string } | null
}

const withFlags = (remote: Remote | undefined, args: ReadonlyArray<string>) => (remote === undefined ? args : [...remote.flags, ...args])
const envOf = (remote: Remote | undefined) => (remote === undefined ? {} : { env: remote.env })

const notFound = (name: string) => new SessionNotFound({ session: name, backend: "container" })
const startFailed = (session: string, reason: string) =>
  new SessionStartFailed({ session, backend: "container", reason, exitCode: null, output: "" })
const stopFailed = (session: string, reason: string) => new SessionStopFailed({ session, backend: "container", reason })


const make = Effect.gen(function*() {
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const provide = <A, E>(eff: Effect.Effect<A, E, ChildProcessSpawner.ChildProcessSpawner>) =>
    Effect.provideService(eff, ChildProcessSpawner.ChildProcessSpawner, spawner)

  /**
   * `<runtime> args`; a binary that cannot be started is a CommandFailed (exit 127). On a host: the
   * same command through the engine's own SSH transport (docker: DOCKER_HOST=ssh://…; podman:
   * `--url ssh://…`), its SSH failing = HostUnreachable, Podman's service missing = EngineUnavailable.
   */
  const exec = (
    runtime: RuntimeName,
    args: ReadonlyArray<string>,
    options: RunOptions = {},
    host?: string
  ): Effect.Effect<RunResult, CommandFailed | BackendTimeout | HostUnreachable | EngineUnavailable> =>
    Effect.gen(function*() {
      const remote = yield* remoteOf(runtime, host)
      // A container's value passed through the client's environment (`-e KEY`, a newline) under a
      // name the remote client needs for itself (podman's HOME, docker's PATH): it would get ours.
      const clash = remote === undefined ? [] : Object.keys(options.env ?? {}).filter((k) => k in remote.env)
      if (clash.length > 0) {
        return yield* new CommandFailed({
          argv: [runtime, ...args.slice(0, 2)],
          exitCode: 2,
          stderr: `env ${clash.join(", ")}: a value with a newline cannot be passed to a container on ${host}: the ${runtime} client there needs its own ${clash.join(", ")}`
        })
      }
      const r = yield* provide(run(runtime, withFlags(remote, args), remote === undefined ? options : { ...options, env: { ...options.env, ...remote.env } })).pipe(
        Effect.catchTag("SpawnFailed", (e: SpawnFailed) =>
          Effect.fail(new CommandFailed({ argv: [runtime, ...args.slice(0, 2)], exitCode: 127, stderr: e.reason }))),
        // through the engine's ssh transport: the login or the remote side hung
        Effect.catchTag("BackendTimeout", (e): Effect.Effect<never, BackendTimeout | HostUnreachable> => Effect.fail(host === undefined ? e : sshHung(host, e.seconds)))
      )
      if (host === undefined || remote === undefined || r.exitCode === 0) return r
      const down = remote.failure(r.stderr || r.stdout)
      if (down !== null && "unreachable" in down) return yield* new HostUnreachable({ host, reason: down.unreachable })
      if (down !== null) return yield* new EngineUnavailable({ host, runtime, reason: down.service })
      return r
    })
  /** How `runtime` reaches `host`: extra leading flags, environment, and how to read its connection failures. */
  function remoteOf(runtime: RuntimeName, host: string | undefined): Effect.Effect<Remote | undefined, HostUnreachable | EngineUnavailable | BackendTimeout> {
    if (host === undefined) return Effect.succeed(undefined)
    if (runtime === "podman") {
      return provide(podmanRemote(host)).pipe(Effect.map((p): Remote => ({ flags: p.flags, env: p.env, failure: (err) => podmanRemoteFailure(err, p.socket) })))
    }
    return dockerEnv(host).pipe(Effect.map((env): Remote => ({
      flags: [],
      env,
      failure: (err) => {
        const reason = dockerSshFailure(err)
        return reason === null ? null : { unreachable: reason }
      }
    })))
  }

  const failed = (runtime: RuntimeName, args: ReadonlyArray<string>, r: RunResult) =>
    new CommandFailed({ argv: [runtime, ...args], exitCode: r.exitCode, stderr: r.stderr || r.stdout })

  /** `ps -a` of one engine (here or on a host), read whole or failing: never a partial list. */
  const listContainers = (runtime: RuntimeName, host?: string) => {
    const args = psArgs(runtime)
    return exec(runtime, args, {}, host).pipe(Effect.flatMap((r): Effect.Effect<ReadonlyArray<ObservedContainer>, CommandFailed | UnreadableOutput> => {
      if (r.exitCode !== 0) return Effect.fail(failed(runtime, args, r))
      const listing = parsePs(r.stdout, runtime)
      return listing.ok
        ? Effect.succeed(listing.items)
        : Effect.fail(new UnreadableOutput({ command: `${runtime} ${args.slice(0, 2).join(" ")}`, reason: listing.reason }))
    }))
  }

  const onPath = yield* Effect.cached(
    Effect.forEach(RUNTIMES, lookPath, { concurrency: "unbounded" }).pipe(
      Effect.map((found) => RUNTIMES.filter((_, i) => found[i] !== null))
    )
  )

  /**
   * Restart count and last exit code of the containers kstlib started with a restart policy (their
   * stored fingerprint says so): ONE `container inspect` for all of them, none when there are none.
   * A failure leaves them unknown; it never hides the containers.
   */
  const withRestartInfo = (
    runtime: RuntimeName,
    sessions: ReadonlyArray<ObservedContainer>,
    host?: string
  ): Effect.Effect<ReadonlyArray<ObservedContainer>> => {
    const supervised = sessions.filter((o) => typeof o.mark.applied?.["restart"] === "string").map((o) => o.name)
    if (supervised.length === 0) return Effect.succeed(sessions)
    return exec(runtime, inspectManyArgs(supervised), {}, host).pipe(
      Effect.map((r) => parseRestartInfo(r.stdout)),
      Effect.orElseSucceed(() => new Map<string, RestartInfo>()),
      Effect.map((info) =>
        sessions.map((o): ObservedContainer => {
          const i = info.get(o.name)
          return i === undefined ? o : { ...o, restarts: i.restarts, last_exit_code: i.last_exit_code }
        })
      )
    )
  }

  /** One engine's containers (`ps`, then the restart counts of the supervised ones), or the problem reading them. */
  const observeEngine = (runtime: RuntimeName, host?: string) => {
    const scope = { backend: "container" as const, runtime, ...(host === undefined ? {} : { host }) }
    return listContainers(runtime, host).pipe(
      Effect.flatMap((sessions) => withRestartInfo(runtime, sessions, host)),
      Effect.map((sessions): BackendObservation => ({
        sessions: host === undefined ? sessions : sessions.map((o) => ({ ...o, host })),
        answered: [scope],
        problems: []
      })),
      Effect.catch((e) =>
        Effect.succeed<BackendObservation>({
          sessions: [],
          answered: [],
          problems: [
            e._tag === "HostUnreachable"
              ? { scope: { host: host! }, kind: "failed", message: e.message, unreachable: e }
              : {
                scope,
                kind: "failed",
                message: e._tag === "EngineUnavailable" ? e.reason : e.message,
                ...(e._tag === "UnreadableOutput" ? { garbled: true } : {})
              }
          ]
        })
      )
    )
  }

  /** A host's engine (ops.hosts.<name>.runtime), through its SSH transport; the engine's client runs here. */
  const observeHost = (host: HostSpec) =>
    Effect.gen(function*() {
      if ((yield* onPath).includes(host.runtime)) return yield* observeEngine(host.runtime, host.name)
      // without the client there is nothing to reach the host's engine with: its containers are unknown
      return {
        sessions: [],
        answered: [],
        problems: [{
          scope: { backend: "container", runtime: host.runtime, host: host.name },
          kind: "failed",
          message: `the ${host.runtime} client is not installed on this machine (not found in PATH)`
        }]
      } satisfies BackendObservation
    })

  const observeHosts = (scope: ObserveScope) =>
    Effect.gen(function*() {
      const configured = yield* SshHosts
      const hosts = (scope.hosts === undefined ? configured : configured.filter((h) => scope.hosts!.includes(h.name))).filter((h) => h.containers)
      return yield* Effect.forEach(hosts, observeHost, { concurrency: "unbounded" })
    })

  /** Each local runtime on its own (a docker client without a daemon does not hide podman's containers), and every host, concurrently. */
  const observe = Effect.fn("Containers.observe")(function*(scope: ObserveScope) {
    const runtimes = yield* onPath
    const looked = runtimes.filter((r) => scope.runtimes === undefined || scope.runtimes.includes(r))
    const parts = yield* Effect.all([
      Effect.forEach(looked, (runtime) => observeEngine(runtime), { concurrency: "unbounded" }),
      observeHosts(scope)
    ], { concurrency: 2 }).pipe(Effect.map(([local, remote]) => [...local, ...remote]))
    return {
      sessions: parts.flatMap((p) => p.sessions),
      answered: parts.flatMap((p) => p.answered),
      problems: [
        ...(runtimes.length === 0
          ? [{ scope: { backend: "container" as const }, kind: "missing" as const, message: `no container runtime found in PATH (looked for ${RUNTIMES.join(", ")})` }]
          : []),
        ...parts.flatMap((p) => p.problems)
      ]
    } satisfies BackendObservation
  })

  /** Inspection that reports "no such container" as null. */
  const inspectOrNull = (name: string, runtime: RuntimeName, host?: string) => {
    const args = inspectArgs(name)
    return exec(runtime, args, {}, host).pipe(Effect.flatMap((r): Effect.Effect<ObservedContainer | null, CommandFailed | UnreadableOutput> => {
      if (r.exitCode === 0) {
        const doc = parseInspect(r.stdout, name, runtime)
        return doc.ok ? Effect.succeed(doc.container) : Effect.fail(new UnreadableOutput({ command: `${runtime} container inspect`, reason: doc.reason }))
      }
      if (isNoSuchContainer(r.stderr) || r.stdout.trim() === "[]") return Effect.succeed(null)
      return Effect.fail(failed(runtime, args, r))
    }))
  }

  /** The engine's own API socket (see container/sockets.ts): asked once per engine and process; unknown = none. */
  const engineSocket = Object.fromEntries(
    yield* Effect.forEach(RUNTIMES, (runtime) =>
      Effect.cached(
        exec(runtime, socketQueryArgs(runtime)).pipe(
          Effect.map((r) => (r.exitCode === 0 ? parseSocketAnswer(r.stdout) : [])),
          Effect.orElseSucceed((): ReadonlyArray<string> => [])
        )
      ).pipe(Effect.map((ask) => [runtime, ask] as const)))
  ) as Partial<Record<RuntimeName, Effect.Effect<ReadonlyArray<string>>>>

  /** A bind mount that is, or holds, the socket of the engine creating the container: refused before anything runs. */
  const socketRefusal = (spec: ContainerSpec) => {
    const own = engineSocket[spec.runtime]
    return bindSources(spec).length === 0 || own === undefined
      ? Effect.succeed(null)
      : own.pipe(Effect.map((sockets) => socketMountRefusal(spec, socketsToRefuse(sockets, process.env))))
  }

  /** The network's (or volume's) labels as JSON, or null when there is no such object. */
  const inspectObject = (kind: "network" | "volume", runtime: RuntimeName, name: string, host?: string) => {
    const args = kind === "network" ? networkInspectArgs(name) : volumeInspectArgs(name)
    return exec(runtime, args, {}, host).pipe(Effect.flatMap((r): Effect.Effect<string | null, CommandFailed> => {
      if (r.exitCode === 0) return Effect.succeed(r.stdout)
      if (kind === "network" ? isNoSuchNetwork(r.stderr) : isNoSuchVolume(r.stderr)) return Effect.succeed(null)
      return Effect.fail(failed(runtime, args, r))
    }))
  }
  const inspectNetwork = (runtime: RuntimeName, name: string, host?: string) => inspectObject("network", runtime, name, host)

  /**
   * The project's network, before a container joins it: created (labelled with the managed mark and
   * the project) when absent; a network of that name without this project's exact labels is never
   * used or touched: the launch fails, saying whose it is not. Two launches racing to create it
   * both end up with the one that won (the loser's create fails, its second look finds ours).
   */
  const networkLocks = new Map<string, Semaphore.Semaphore>()
  /** One look-or-create at a time per network: Docker's daemon lets two concurrent creates make two networks of one name. */
  const networkLock = (key: string) => {
    let lock = networkLocks.get(key)
    if (lock === undefined) networkLocks.set(key, lock = Semaphore.makeUnsafe(1))
    return lock
  }
  /**
   * What this driver saw is there and fit, for a while (the project's network, a declared network or
   * volume, an image present): the sessions of one apply share them, so each is looked at once, not
   * once per launch under its lock (20 containers of one project made 20 inspects in a row). Forgotten
   * when kstlib removes one, and when a run fails on one that went away (it is then looked at again).
   */
  const confirmed = new Map<string, number>()
  const CONFIRMED_FOR_MS = 60_000
  const isConfirmed = (key: string) =>
    Effect.map(Clock.currentTimeMillis, (now) => (confirmed.get(key) ?? 0) > now)
  const confirm = (key: string) => Effect.map(Clock.currentTimeMillis, (now) => void confirmed.set(key, now + CONFIRMED_FOR_MS))
  const forget = (prefix: string) =>
    Effect.sync(() => {
      for (const k of [...confirmed.keys()]) if (k.startsWith(prefix)) confirmed.delete(k)
    })
  const placeKey = (runtime: RuntimeName, host: string | undefined) => `${runtime}\u0000${host ?? ""}\u0000`

  /**
   * The project network, a declared network or a declared volume (`kind`, `name`, `create`'s args):
   * used when it carries this project's marks, created with them when absent, refused otherwise.
   */
  const ensureObject = (
    kind: "network" | "volume",
    runtime: RuntimeName,
    project: string,
    host: string | undefined,
    name: string,
    create: ReadonlyArray<string>
  ): Effect.Effect<string | null, CommandFailed | BackendTimeout | HostUnreachable | EngineUnavailable> =>
    networkLock(`${kind}\u0000${runtime}\u0000${host ?? ""}\u0000${name}`).withPermits(1)(Effect.gen(function*() {
      const key = `${placeKey(runtime, host)}${kind}\u0000${project}\u0000${name}`
      if (yield* isConfirmed(key)) return null
      const refused = yield* lookOrCreate({
        kind,
        name,
        project,
        inspect: inspectObject(kind, runtime, name, host),
        create: exec(runtime, create, {}, host),
        command: `${runtime} ${kind} create`,
        launches: "container"
      })
      if (refused === null) yield* confirm(key)
      return refused
    }))
  const ensureNetwork = (runtime: RuntimeName, project: string, host?: string) =>
    ensureObject("network", runtime, project, host, projectNetwork(project), networkCreateArgs(project))

  /** Everything a launch joins or mounts that kstlib owns: the project network, the declared networks and volumes; the first refusal. */
  const ensureOwned = (spec: ContainerSpec, project: string) =>
    Effect.gen(function*() {
      const wanted: Array<Effect.Effect<string | null, CommandFailed | BackendTimeout | HostUnreachable | EngineUnavailable>> = [
        ...(joinsProjectNetwork(spec) ? [ensureNetwork(spec.runtime, project, spec.host)] : []),
        ...(spec.networks ?? []).map((n) =>
          ensureObject("network", spec.runtime, project, spec.host, declaredNetwork(project, n.name), networkCreateArgs(project, declaredNetwork(project, n.name), n.internal))),
        ...(spec.declared_volumes ?? []).map((v) =>
          ensureObject("volume", spec.runtime, project, spec.host, declaredVolume(project, v), volumeCreateArgs(project, declaredVolume(project, v))))
      ]
      for (const check of wanted) {
        const refused = yield* check
        if (refused !== null) return refused
      }
      return null
    })

  /** The project's networks or volumes by its label, each still checked by its exact marks before anything is done with it. */
  const ownedObjects = (kind: "network" | "volume", runtime: RuntimeName, project: string, host?: string) =>
    exec(runtime, listByProjectArgs(kind, project), {}, host).pipe(
      Effect.map((r) => (r.exitCode === 0 ? r.stdout.split("\n").map((l) => l.trim()).filter((l) => l.startsWith(`kstlib-${project}.`)) : [])),
      Effect.flatMap((names) =>
        Effect.filter(names, (name) => inspectObject(kind, runtime, name, host).pipe(Effect.map((labels) => labels !== null && isProjectNetwork(labels, project))))
      )
    )

  /** The project's network, when it is ours and empty (the engine refuses while containers are on it); anything else is left as it is. */
  const releaseNetwork = (runtime: RuntimeName, project: string, host?: string) => {
    const name = projectNetwork(project)
    const forgotten = forget(`${placeKey(runtime, host)}network\u0000${project}\u0000`)
    const own = inspectNetwork(runtime, name, host).pipe(
      Effect.flatMap((labels) => (labels !== null && isProjectNetwork(labels, project) ? exec(runtime, networkRmArgs(name), {}, host) : Effect.void)),
      Effect.ignore
    )
    // the declared ones (`kstlib-<project>.<name>`) too, each when empty
    const declared = ownedObjects("network", runtime, project, host).pipe(
      Effect.flatMap((names) => Effect.forEach(names, (n) => exec(runtime, networkRmArgs(n), {}, host), { discard: true })),
      Effect.ignore
    )
    return Effect.andThen(forgotten, Effect.andThen(own, declared))
  }

  /** `down --volumes`: the project's declared volumes (its marks, exactly), each removed when no container uses it; the names removed. */
  const releaseVolumes = (runtime: RuntimeName, project: string, host?: string) =>
    forget(`${placeKey(runtime, host)}volume\u0000${project}\u0000`).pipe(Effect.andThen(ownedObjects("volume", runtime, project, host)), 
      Effect.flatMap((names) =>
        Effect.filter(names, (n) => exec(runtime, volumeRmArgs(n), {}, host).pipe(Effect.map((r) => r.exitCode === 0)))
      ),
      Effect.orElseSucceed((): ReadonlyArray<string> => [])
    )

  /**
   * A `run` that failed after the engine created the container (a port already published: Docker
   * creates, then fails to start) leaves it behind: removed when it is the one this launch made (its
   * marks carry this launch's spec hash and project), never anything else of that name.
   */
  const removeHalfMade = (spec: ContainerSpec, hash: string, project: string) =>
    inspectOrNull(spec.name, spec.runtime, spec.host).pipe(
      Effect.flatMap((o) =>
        o !== null && o.mark.managed && o.mark.project === project && o.mark.spec_hash === hash && o.state !== "running"
          ? exec(spec.runtime, rmArgs(spec.runtime, spec.name), {}, spec.host)
          : Effect.void
      ),
      Effect.ignore
    )

  /** After one of a project's containers was removed: its network too, when it is ours and empty. */
  const removeNetworkIfEmpty = (o: ObservedContainer) =>
    !o.mark.managed || o.mark.project === null ? Effect.void : releaseNetwork(o.runtime, o.mark.project, o.host)

  const launchOne = (item: Launch<ContainerSpec>, project: string, again = false): Effect.Effect<void, SessionStartFailed> => {
    const { spec, stamp } = item
    return Effect.flatMap(socketRefusal(spec), (refused) => refused !== null ? Effect.fail(startFailed(spec.name, refused)) : withEnvFile(envFileText(spec.env), (envFile) =>
      Effect.gen(function*() {
        const built = runArgs(spec, stamp, project, envFile, logLabel(containerLogTarget(spec, project, yield* LogDirectory)))
        if (!built.ok) return yield* startFailed(spec.name, built.reason)
        // The network/volume checks and the image's side by side (each an engine call or two before the
        // first `run`); a refusal ends a pull or build begun for nothing.
        yield* Effect.all([
          ensureOwned(spec, project).pipe(
            Effect.mapError((e) => startFailed(spec.name, e.message)),
            Effect.flatMap((refused) => (refused === null ? Effect.void : Effect.fail(startFailed(spec.name, refused))))
          ),
          spec.build === undefined ? pullImage(spec) : buildImage(spec, project)
        ], { concurrency: 2, discard: true })
        const viaClient = Object.fromEntries(envViaClient(spec.env).map((k) => [k, spec.env[k]!]))
        const r = yield* exec(spec.runtime, built.args, { env: viaClient }, spec.host).pipe(
          Effect.mapError((e) => startFailed(spec.name, e.message))
        )
        if (r.exitCode !== 0) {
          yield* removeHalfMade(spec, stamp.hash, project)
          // a network or image seen a moment ago went away (removed by someone else): looked at again, once
          if (!again && OBJECT_GONE.test(r.stderr)) {
            yield* forget(placeKey(spec.runtime, spec.host))
            return yield* launchOne(item, project, true)
          }
          return yield* startFailed(spec.name, engineMessage(r.stderr) || `${spec.runtime} ${built.args[0]} exited with ${r.exitCode}`)
        }
        if (createsFirst(spec)) {
          // created, not started: onto each declared network (its name the alias there), then started; a failure leaves no container behind
          const joined = Effect.gen(function*() {
            for (const network of extraNetworks(spec, project)) {
              const c = yield* exec(spec.runtime, networkConnectArgs(network, spec.name), {}, spec.host)
              if (c.exitCode !== 0) return yield* startFailed(spec.name, `joining network ${network}: ${engineMessage(c.stderr) || `exit ${c.exitCode}`}`)
            }
            const s = yield* exec(spec.runtime, startArgs(spec.name), {}, spec.host)
            if (s.exitCode !== 0) return yield* startFailed(spec.name, engineMessage(s.stderr) || `${spec.runtime} start exited with ${s.exitCode}`)
          }).pipe(Effect.mapError((e) => (e._tag === "SessionStartFailed" ? e : startFailed(spec.name, e.message))))
          yield* joined.pipe(Effect.tapError(() => Effect.ignore(exec(spec.runtime, rmArgs(spec.runtime, spec.name), {}, spec.host))))
        }
      })).pipe(Effect.catchTag("EnvFileFailed", (e) => Effect.fail(startFailed(spec.name, e.message)))))
  }

  /**
   * The session's image pulled when its `pull` says so (`missing`: only when this engine lacks it);
   * a failure names the image, its registry and the engine's own message. One pull at a time per
   * image and engine: sessions sharing an image wait for the first pull.
   */
  const pullImage = (spec: ContainerSpec): Effect.Effect<void, SessionStartFailed> =>
    spec.pull === "never" ? Effect.void : networkLock(`image\u0000${spec.runtime}\u0000${spec.host ?? ""}\u0000${spec.image}`).withPermits(1)(Effect.gen(function*() {
      const key = `${placeKey(spec.runtime, spec.host)}image\u0000${spec.image}`
      const present = spec.pull === "always" ? false : (yield* isConfirmed(key)) || (yield* exec(spec.runtime, imageInspectArgs(spec.image), {}, spec.host)).exitCode === 0
      if (present && spec.pull !== "always") yield* confirm(key)
      if (!pullsFirst(spec, present)) return null
      const reporter = yield* PullProgress
      const event = { session: spec.name, image: spec.image, registry: registryOf(spec.image) }
      reporter?.began(event)
      const r = yield* exec(spec.runtime, pullArgs(spec.image, reporter === null), {
        minTimeout: PULL_TIMEOUT_SECONDS,
        ...(reporter === null ? {} : { onLine: (line: string) => reporter.line(event, line) })
      }, spec.host).pipe(
        Effect.tapError((e) => Effect.sync(() => reporter?.ended(event, e.message))),
        // ended by Ctrl-C or by the launch's own refusal (the network's look runs beside the pull)
        Effect.onInterrupt(() => Effect.sync(() => reporter?.ended(event, "interrupted")))
      )
      const why = r.exitCode === 0 ? null : pullFailure(r.stderr) || `${spec.runtime} pull exited with ${r.exitCode}`
      reporter?.ended(event, why)
      return why
    })).pipe(
      Effect.mapError((e) => e.message),
      Effect.flatMap((why) => (why === null ? Effect.succeed(null) : Effect.fail(why))),
      Effect.mapError((why) => startFailed(spec.name, `pulling image ${spec.image} from ${registryOf(spec.image)} failed: ${why}`)),
      Effect.asVoid
    )

  /**
   * A `build:` session's image: reused when the engine has it with this build's stamp (the context's
   * content and the settings), else built with the engine's own `build`; a failed build fails the
   * launch with the engine's last lines. One build at a time per image and engine.
   */
  const buildImage = (spec: ContainerSpec, project: string): Effect.Effect<void, SessionStartFailed> =>
    networkLock(`image\u0000${spec.runtime}\u0000${spec.host ?? ""}\u0000${spec.image}`).withPermits(1)(Effect.gen(function*() {
      const seen = yield* exec(spec.runtime, builtLabelArgs(spec.image), {}, spec.host)
      if (seen.exitCode === 0 && seen.stdout.trim() === buildStamp(spec)) return null
      const r = yield* exec(spec.runtime, buildArgs(spec, project), { minTimeout: BUILD_TIMEOUT_SECONDS, merged: true }, spec.host)
      if (r.exitCode === 0) return null
      const tail = r.stdout.trim().split("\n").slice(-8).join("\n")
      return tail === "" ? `${spec.runtime} build exited with ${r.exitCode}` : tail
    })).pipe(
      Effect.mapError((e) => e.message),
      Effect.flatMap((why) => (why === null ? Effect.succeed(null) : Effect.fail(why))),
      Effect.mapError((why) => startFailed(spec.name, `building image ${spec.image} from ${spec.build!.context} failed: ${why}`)),
      Effect.asVoid
    )

  const launch = Effect.fn("Containers.launch")(function*(items: ReadonlyArray<Launch<ContainerSpec>>, context: { readonly project: string }) {
    return yield* Effect.forEach(items, (item) => Effect.result(launchOne(item, context.project)), { concurrency: "unbounded" })
  })

  /** `start`: the same container again (its labels cannot change: the stamp it was created with stays). */
  const startInPlace = Effect.fn("Containers.startInPlace")(function*(o: ObservedContainer) {
    const r = yield* exec(o.runtime, startArgs(o.name), {}, o.host).pipe(Effect.mapError((e) => startFailed(o.name, e.message)))
    if (r.exitCode === 0) return
    if (isNoSuchContainer(r.stderr)) return yield* notFound(o.name)
    return yield* startFailed(o.name, engineMessage(r.stderr) || `${o.runtime} start exited with ${r.exitCode}`)
  })

  const rm = (name: string, runtime: RuntimeName, host?: string) =>
    Effect.gen(function*() {
      const r = yield* exec(runtime, rmArgs(runtime, name), {}, host).pipe(Effect.mapError((e) => stopFailed(name, e.message)))
      if (r.exitCode !== 0 && !isNoSuchContainer(r.stderr)) {
        return yield* stopFailed(name, engineMessage(r.stderr) || `${runtime} rm exited with ${r.exitCode}`)
      }
    })

  // `kill` returns once the signal is sent (Podman): wait until it is down.
  const waitNotRunning = (name: string, runtime: RuntimeName, host?: string) =>
    inspectOrNull(name, runtime, host).pipe(
      Effect.orElseSucceed(() => null),
      Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (o) => o === null || o.state !== "running", times: 50 })
    )

  /**
   * Before kstlib removes a container of ours: its whole output, with the engine's times, appended
   * to its log file between two marker lines (logs/format.ts), so `logs` still shows it. A failure
   * to read or write it does not keep the container.
   */
  const keepOutput = (o: ObservedContainer) =>
    Effect.gen(function*() {
      if (!o.mark.managed || o.mark.project === null) return
      const target = fromLogLabel(o.log_label, o.mark.project, o.name, yield* LogDirectory, o.host !== undefined)
      if (target === null || target.path === null) return
      const r = yield* exec(o.runtime, logsArgv(o.name, { lines: KEPT_LINES, timestamps: true }, false), { merged: true }, o.host)
      if (r.exitCode !== 0) return
      yield* keepRemovedOutput({ ...target, path: target.path }, o, r.stdout, new Date(yield* Clock.currentTimeMillis))
    }).pipe(Effect.ignore)

  const stopContainer = (o: ObservedContainer, options: ContainerStopOptions & { readonly remove: boolean }) =>
    Effect.gen(function*() {
      const before = yield* inspectOrNull(o.name, o.runtime, o.host).pipe(Effect.mapError((e) => stopFailed(o.name, e.message)))
      if (before === null) return yield* notFound(o.name)
      let outcome: StopOutcome = "already-stopped"
      let after: ObservedContainer | null = null
      const running = before.state === "running" || before.state === "unknown"
      if (!running && !options.remove) {
        // Not running but kept: it may be between two runs of its restart policy (Docker's
        // `restarting`). `stop` cancels that, so the engine never starts it again; on a container
        // that is down for good it is a no-op. (A removed one needs nothing: rm -f ends it.)
        yield* exec(o.runtime, stopArgs(o.name, false, 0), {}, o.host).pipe(Effect.mapError((e) => stopFailed(o.name, e.message)))
      }
      if (running) {
        const force = options.force ?? false
        // absent: the container's own stop_timeout, at most the largest one validation allows
        const timeout = options.timeout
        const r = yield* exec(o.runtime, stopArgs(o.name, force, timeout), { minTimeout: (timeout ?? SECONDS_BOUNDS.stop_timeout.max) + 30 }, o.host).pipe(
          Effect.mapError((e) => stopFailed(o.name, e.message))
        )
        after = yield* waitNotRunning(o.name, o.runtime, o.host)
        if (after !== null && after.state === "running") {
          return yield* stopFailed(o.name, engineMessage(r.stderr) || "the container is still running")
        }
        // The engine kills after the grace period: SIGKILL shows as 137.
        outcome = force || after?.exit_code === 137 ? "killed" : "stopped"
      }
      if (options.remove) {
        yield* keepOutput(after ?? before)
        yield* rm(o.name, o.runtime, o.host)
        if (options.releaseNetwork === true) yield* removeNetworkIfEmpty(o)
      }
      return outcome
    })

  const logs = Effect.fn("Containers.logs")(function*(o: ObservedContainer, options: LogOptions) {
    const args = logsArgv(o.name, options, false)
    const r = yield* exec(o.runtime, args, { merged: true }, o.host)
    if (r.exitCode === 0) return r.stdout.replace(/\r\n/g, "\n").replace(/\n+$/u, "")
    if (isNoSuchContainer(r.stdout)) return yield* notFound(o.name)
    return yield* failed(o.runtime, args, r)
  })

  /** ONE `logs -f --tail N`: the last N lines, then new ones, in the engine's order (no replay). */
  const follow = (o: ObservedContainer, options: LogOptions) =>
    Stream.unwrap(Effect.map(Effect.all([inspectOrNull(o.name, o.runtime, o.host), remoteOf(o.runtime, o.host)]), ([found, remote]) => {
      const args = logsArgv(o.name, options, true)
      const lines: Stream.Stream<string, SessionNotFound | CommandFailed> = found === null ? Stream.fail(notFound(o.name)) : streamLines(o.runtime, withFlags(remote, args), envOf(remote)).pipe(
        Stream.map((line) => line.replace(/\r$/, "")),
        Stream.mapError((e) => new CommandFailed({ argv: [o.runtime, ...args], exitCode: 127, stderr: e.reason })),
        Stream.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner)
      )
      return lines
    }))

  const execIn = Effect.fn("Containers.exec")(function*(o: ObservedContainer, argv: ReadonlyArray<string>, options: { readonly interactive: boolean }) {
    const found = yield* inspectOrNull(o.name, o.runtime, o.host)
    if (found === null) return yield* notFound(o.name)
    const args = execArgs(o.name, argv, options.interactive)
    if (options.interactive) {
      const remote = yield* remoteOf(o.runtime, o.host)
      const exitCode = yield* provide(interactive(o.runtime, withFlags(remote, args), envOf(remote))).pipe(
        Effect.mapError((e) => new CommandFailed({ argv: [o.runtime, "exec"], exitCode: 127, stderr: e.reason }))
      )
      return { exitCode, stdout: "", stderr: "" }
    }
    return yield* exec(o.runtime, args, {}, o.host)
  })

  const attach = Effect.fn("Containers.attach")(function*(o: ObservedContainer) {
    const attachFailed = (reason: string) => new SessionAttachFailed({ session: o.name, backend: "container", reason })
    const found = yield* inspectOrNull(o.name, o.runtime, o.host)
    if (found === null) return yield* notFound(o.name)
    if (found.state !== "running") return yield* attachFailed("container is not running")
    if (process.stdin.isTTY !== true) return yield* attachFailed("not a terminal")
    const remote = yield* remoteOf(o.runtime, o.host)
    const code = yield* provide(interactive(o.runtime, withFlags(remote, attachArgs(o.name)), envOf(remote))).pipe(Effect.mapError((e) => attachFailed(e.message)))
    // Docker exits 1 when the user detaches (Ctrl+P Ctrl+Q): not an error.
    if (code !== 0 && code !== 1) return yield* attachFailed(`attach exited with code ${code}`)
  })

  /** `log:` on the container's logs; `cmd:` inside it (exec). */
  const probe = (o: ObservedContainer, spec: ContainerSpec) =>
    probeWith(spec, {
      logs: (options) => logs(o, options),
      run: (argv) =>
        exec(o.runtime, execArgs(o.name, argv, false), {}, o.host).pipe(
          Effect.map((r) => ({ exitCode: r.exitCode, stderr: engineMessage(r.stderr) }))
        )
    })

  /** ONE `stats --no-stream` of an engine: every running container's, by name, and when it was read (ms); unreadable: none. */
  const statsOf = (runtime: RuntimeName, host: string | undefined, { parseStats, STATS_ARGS }: typeof import("./container/stats.js")) =>
    Effect.gen(function*() {
      const start = performance.now()
      const stats = yield* exec(runtime, STATS_ARGS, {}, host).pipe(
        Effect.map((r) => (r.exitCode === 0 ? parseStats(r.stdout) : new Map<string, EngineStats>())),
        Effect.orElseSucceed(() => new Map<string, EngineStats>())
      )
      return { stats, at: (start + performance.now()) / 2 }
    })

  /**
   * Running containers, per engine (here or on a host): Docker's ONE `stats --no-stream` (its CPU%
   * is over the second its client samples); Podman's, whose one-shot CPU% is since the start, read
   * at both ends of `window` for the CPU time used during it (two calls). Engines concurrently.
   */
  /** Ours from their stamps; the others from ONE `container inspect` per engine and machine. */
  const freeze = (sessions: ReadonlyArray<ObservedContainer>): Effect.Effect<ReadonlyArray<Frozen | null>> =>
    Effect.gen(function*() {
      const out: Array<Frozen | null> = sessions.map(() => null)
      const groups = new Map<string, { runtime: RuntimeName; host: string | undefined; indices: Array<number> }>()
      sessions.forEach((o, i) => {
        const stamped = stampedEntry(o.mark)
        if (stamped !== null) {
          out[i] = { entry: stamped, notes: [] }
          return
        }
        const key = `${o.runtime}\u0000${o.host ?? ""}`
        const g = groups.get(key) ?? { runtime: o.runtime, host: o.host, indices: [] }
        g.indices.push(i)
        groups.set(key, g)
      })
      yield* Effect.forEach([...groups.values()], (g) =>
        Effect.gen(function*() {
          const r = yield* exec(g.runtime, inspectManyArgs(g.indices.map((i) => sessions[i]!.name)), {}, g.host)
          const docs = jsonValues(r.stdout)
          if (!docs.ok) return
          const byName = new Map(docs.items.map((d) => [String((d as { Name?: unknown }).Name ?? "").replace(/^\//u, ""), d] as const))
          for (const i of g.indices) {
            const doc = byName.get(sessions[i]!.name)
            out[i] = doc === undefined ? null : frozenContainer(doc, g.runtime)
          }
        }).pipe(Effect.ignore), { concurrency: "unbounded", discard: true })
      return out
    })

  const usage = (sessions: ReadonlyArray<ObservedContainer>, window: Duration.Duration): Effect.Effect<ReadonlyArray<Usage | null>> =>
    Effect.gen(function*() {
      const out: Array<Usage | null> = sessions.map(() => null)
      const engines = new Map<string, Array<number>>()
      sessions.forEach((o, i) => {
        if (o.state !== "running") return
        const key = `${o.runtime}\u0000${o.host ?? ""}`
        engines.set(key, [...(engines.get(key) ?? []), i])
      })
      yield* Effect.forEach([...engines.values()], (indices) =>
        Effect.gen(function*() {
          const { runtime, host } = sessions[indices[0]!]!
          // loaded on the first measurement: `import "kstlib"` stays small
          const stats = yield* Effect.promise(() => import("./container/stats.js"))
          const first = runtime === "podman" ? yield* statsOf(runtime, host, stats) : null
          if (first !== null) yield* Effect.sleep(window)
          const last = yield* statsOf(runtime, host, stats)
          for (const i of indices) {
            const s = last.stats.get(sessions[i]!.name)
            if (s === undefined) continue
            out[i] = {
              cpu_percent: first === null ? s.cpu_percent : stats.recentCpu(first.stats.get(sessions[i]!.name), s, (last.at - first.at) / 1000),
              memory_bytes: s.memory_bytes
            }
          }
        }), { concurrency: "unbounded", discard: true })
      return out
    })

  return Containers.of({
    name: "engine",
    capabilities: { exec: true, sendKeys: false, updatesInPlace: false },
    laneWidth: (place) => (place.backend === "container" && place.runtime === "docker" ? DOCKER_WIDTH : PODMAN_WIDTH),
    onPath,
    observe: (scope) => observe(scope),
    batchKey: (spec) => `${spec.runtime}\u0000${spec.name}${spec.host === undefined ? "" : `\u0000${spec.host}`}`,
    launch,
    startInPlace: (o) => startInPlace(o),
    // kstlib's own containers are recreated from their spec: a stop deletes them; anything else is kept
    stop: (o, options) =>
      stopContainer(o, { ...options, remove: options.leave === "nothing" || (options.leave === "stopped" && options.owned === true) }),
    logs: (o, options) => logs(o, options),
    follow,
    attach,
    exec: execIn,
    sendKeys: (o) =>
      Effect.fail(new Unsupported({ session: o.name, backend: "container", operation: "send-keys", hint: "use exec or attach" })),
    probe,
    usage,
    freeze,
    releaseNetwork: (place, project) =>
      place.backend === "container" && place.runtime !== "swarm" ? releaseNetwork(place.runtime, project, place.host) : Effect.void,
    releaseVolumes: (place, project) =>
      place.backend === "container" && place.runtime !== "swarm" ? releaseVolumes(place.runtime, project, place.host) : Effect.succeed([])
  })
})
