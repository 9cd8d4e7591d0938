/**
 * The container half of the runtime layer: one service over Podman and Docker. Argv building and
 * output parsing live in `./container/` (pure, unit-tested); this file runs the commands and turns
 * their results into typed errors. The runtime binary is run by name: environment that points it at
 * another engine (DOCKER_HOST, CONTAINER_HOST, docker contexts) passes through untouched.
 */
import { NodeServices } from "@effect/platform-node"
import { Context, Duration, Effect, Layer, Schedule, Stream } from "effect"
import { ChildProcessSpawner } from "effect/process"
import {
  CommandFailed,
  ContainerRuntimeNotFound,
  SessionAttachFailed,
  SessionNotFound,
  SessionStartFailed,
  SessionStopFailed
} from "../errors.js"
import { fingerprint, specHash } from "../model.js"
import type { ContainerSpec, ObservedSession, RuntimeName } from "../model.js"
import type { SpawnFailed } from "../proc.js"
import { interactive, run, streamLines } from "../proc.js"
import {
  attachArgs,
  execArgs,
  inspectArgs,
  logsArgs,
  psArgs,
  rmArgs,
  runArgs,
  startArgs,
  stopArgs
} from "./container/argv.js"
import { runMerged } from "./container/merged.js"
import { engineMessage, isNoSuchContainer, lastLines, parseInspect, parsePs } from "./container/parse.js"
import { findOnPath } from "./container/path.js"

export interface ContainerStopOptions {
  readonly force?: boolean
  readonly timeout?: number
}

/** Auto-detect order. */
export const RUNTIMES: ReadonlyArray<RuntimeName> = ["podman", "docker"]

/** Log lines reported with a container that died right after starting. */
const FAILURE_LOG_LINES = 20

export class Containers extends Context.Service<Containers, {
  /** Runtimes on PATH, in auto-detect order (podman, then docker). Cached after the first look. */
  readonly available: Effect.Effect<ReadonlyArray<RuntimeName>>
  /** The requested runtime if it is on PATH, else (requested null) the first available, else ContainerRuntimeNotFound. */
  readonly resolveRuntime: (requested: RuntimeName | null) => Effect.Effect<RuntimeName, ContainerRuntimeNotFound>
  /** Every container of each runtime, owned or not: one `ps -a` call per runtime. */
  readonly observe: (runtimes: ReadonlyArray<RuntimeName>) => Effect.Effect<ReadonlyArray<ObservedSession>, CommandFailed>
  /** Container-only inspection of one name (never matches an image). */
  readonly inspect: (name: string, runtime: RuntimeName) => Effect.Effect<ObservedSession, SessionNotFound | CommandFailed>
  /**
   * `run -d` with ownership labels and the spec hash. A container that exits within `settle` is a
   * SessionStartFailed with its exit code and last log lines. `settle` 0 checks nothing (no
   * `inspect`): the result is the spec as launched, for callers that verify themselves (apply).
   */
  readonly start: (
    spec: ContainerSpec,
    runtime: RuntimeName,
    options: { readonly settle: Duration.Input }
  ) => Effect.Effect<ObservedSession, SessionStartFailed>
  /** Starts an existing stopped/exited container again (`start NAME`). */
  readonly restart: (
    name: string,
    runtime: RuntimeName,
    options: { readonly settle: Duration.Input }
  ) => Effect.Effect<ObservedSession, SessionNotFound | SessionStartFailed>
  /** Graceful `stop -t`, or `kill` with force; an owned container is then removed, a foreign one only stopped. */
  readonly stop: (
    name: string,
    runtime: RuntimeName,
    options?: ContainerStopOptions
  ) => Effect.Effect<void, SessionNotFound | SessionStopFailed>
  /** Removes a container whatever its state (used to replace/prune owned ones). */
  readonly remove: (name: string, runtime: RuntimeName) => Effect.Effect<void, SessionNotFound | SessionStopFailed>
  /** The last `lines` (default 100) of stdout and stderr, merged in the order the engine prints them. */
  readonly logs: (name: string, runtime: RuntimeName, options?: { readonly lines?: number }) => Effect.Effect<string, SessionNotFound | CommandFailed>
  /** `logs -f --tail lines` (default 10), line by line until the stream is interrupted. */
  readonly follow: (
    name: string,
    runtime: RuntimeName,
    options?: { readonly lines?: number }
  ) => Stream.Stream<string, SessionNotFound | CommandFailed>
  /** Runs argv in the container; interactive inherits the terminal. Returns the exit code. */
  readonly exec: (
    name: string,
    runtime: RuntimeName,
    argv: ReadonlyArray<string>,
    options?: { readonly interactive?: boolean }
  ) => Effect.Effect<{ readonly exitCode: number; readonly stdout: string; readonly stderr: string }, SessionNotFound | CommandFailed>
  readonly attach: (name: string, runtime: RuntimeName) => Effect.Effect<void, SessionNotFound | SessionAttachFailed>
}>()("kstlib/Containers") {
  /** Needs a ChildProcessSpawner (the real one, or a fake/counting one in tests). */
  static readonly layer: Layer.Layer<Containers, never, ChildProcessSpawner.ChildProcessSpawner> = Layer.effect(
    Containers,
    Effect.suspend(() => make)
  )
  static readonly layerNode: Layer.Layer<Containers> = Containers.layer.pipe(Layer.provide(NodeServices.layer))
}

const notFound = (name: string) => new SessionNotFound({ session: name, backend: "container" })

const make = Effect.gen(function*() {
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const provide = <A, E>(eff: Effect.Effect<A, E, ChildProcessSpawner.ChildProcessSpawner>) =>
    Effect.provideService(eff, ChildProcessSpawner.ChildProcessSpawner, spawner)

  const toCommandFailed = (runtime: RuntimeName, args: ReadonlyArray<string>) => (e: SpawnFailed) =>
    new CommandFailed({ argv: [runtime, ...args], exitCode: 127, stderr: e.reason })

  /** Runs `<runtime> args`; a binary that cannot be started is a CommandFailed (exit 127). */
  const exec = (runtime: RuntimeName, args: ReadonlyArray<string>) =>
    provide(run(runtime, args)).pipe(Effect.mapError(toCommandFailed(runtime, args)))

  const failed = (runtime: RuntimeName, args: ReadonlyArray<string>, r: { exitCode: number; stderr: string }) =>
    new CommandFailed({ argv: [runtime, ...args], exitCode: r.exitCode, stderr: r.stderr })

  // One PATH look-up per layer instance: a fresh layer sees a changed PATH.
  const available = yield* Effect.cached(
    Effect.promise(async () => {
      const found = await Promise.all(RUNTIMES.map((r) => findOnPath(r)))
      return RUNTIMES.filter((_, i) => found[i] !== null)
    })
  )

  const resolveRuntime = (requested: RuntimeName | null) =>
    Effect.flatMap(available, (found) => {
      if (requested !== null) {
        return found.includes(requested)
          ? Effect.succeed(requested)
          : Effect.fail(new ContainerRuntimeNotFound({ tried: [requested] }))
      }
      const first = found[0]
      return first !== undefined ? Effect.succeed(first) : Effect.fail(new ContainerRuntimeNotFound({ tried: [...RUNTIMES] }))
    })

  const observe = (runtimes: ReadonlyArray<RuntimeName>) =>
    Effect.forEach(runtimes, (runtime) => {
      const args = psArgs(runtime)
      return exec(runtime, args).pipe(
        Effect.flatMap((r) => r.exitCode === 0 ? Effect.succeed(parsePs(r.stdout, runtime)) : Effect.fail(failed(runtime, args, r)))
      )
    }, { concurrency: "unbounded" }).pipe(Effect.map((all) => all.flat()))

  /** Inspection that reports "no such container" as null. */
  const inspectOrNull = (name: string, runtime: RuntimeName) => {
    const args = inspectArgs(name)
    return exec(runtime, args).pipe(Effect.flatMap((r) => {
      if (r.exitCode === 0) return Effect.succeed(parseInspect(r.stdout, name, runtime))
      if (isNoSuchContainer(r.stderr) || r.stdout.trim() === "[]") return Effect.succeed(null)
      return Effect.fail(failed(runtime, args, r))
    }))
  }

  const inspect = (name: string, runtime: RuntimeName) =>
    Effect.flatMap(inspectOrNull(name, runtime), (o) => (o === null ? Effect.fail(notFound(name)) : Effect.succeed(o)))

  const logsText = (
    name: string,
    runtime: RuntimeName,
    lines: number
  ): Effect.Effect<string, SessionNotFound | CommandFailed> =>
    Effect.gen(function*() {
      const args = logsArgs(name, lines, false)
      const r = yield* provide(runMerged(runtime, args)).pipe(Effect.mapError(toCommandFailed(runtime, args)))
      if (r.exitCode === 0) return r.output.replace(/\r\n/g, "\n")
      if (isNoSuchContainer(r.output)) return yield* notFound(name)
      return yield* new CommandFailed({ argv: [runtime, ...args], exitCode: r.exitCode, stderr: r.output })
    })

  const startFailed = (session: string, reason: string, exitCode: number | null = null, output = "") =>
    new SessionStartFailed({ session, backend: "container", reason, exitCode, output })

  /** After `settle`, the container must still be running; else its exit code and last lines are the error. */
  const settleCheck = (name: string, runtime: RuntimeName, settle: Duration.Input) =>
    Effect.gen(function*() {
      yield* Effect.sleep(settle)
      const o = yield* inspectOrNull(name, runtime).pipe(Effect.mapError((e) => startFailed(name, e.message)))
      if (o === null) return yield* startFailed(name, "the container disappeared right after starting")
      if (o.state === "running") return o
      const output = yield* logsText(name, runtime, FAILURE_LOG_LINES).pipe(
        Effect.map((t) => lastLines(t, FAILURE_LOG_LINES)),
        Effect.orElseSucceed(() => "")
      )
      const reason = o.state === "exited"
        ? `the container exited right after starting${o.exit_code === null ? "" : ` with code ${o.exit_code}`}`
        : `the container is ${o.state} right after starting`
      return yield* startFailed(name, reason, o.exit_code, output)
    })

  /** What `run -d` just created, as far as the spec says (not yet observed). */
  const launched = (spec: ContainerSpec, runtime: RuntimeName): ObservedSession => ({
    name: spec.name,
    backend: "container",
    state: "running",
    pid: null,
    created_at: null,
    image: spec.image,
    socket_name: null,
    runtime,
    exit_code: null,
    window_count: 0,
    owned: true,
    spec_hash: specHash(spec),
    applied: fingerprint(spec)
  })

  const start = (spec: ContainerSpec, runtime: RuntimeName, options: { readonly settle: Duration.Input }) =>
    Effect.gen(function*() {
      const built = runArgs(spec)
      if (!built.ok) return yield* startFailed(spec.name, built.reason)
      const r = yield* exec(runtime, built.args).pipe(Effect.mapError((e) => startFailed(spec.name, e.message)))
      if (r.exitCode !== 0) {
        return yield* startFailed(spec.name, engineMessage(r.stderr) || `${runtime} run exited with ${r.exitCode}`)
      }
      // settle 0: nothing to wait for, and the caller checks (apply observes every launch once, after
      // its own settle); an `inspect` per container here would only cost a process each.
      if (Duration.toMillis(Duration.fromInputUnsafe(options.settle)) <= 0) return launched(spec, runtime)
      return yield* settleCheck(spec.name, runtime, options.settle)
    })

  const restart = (name: string, runtime: RuntimeName, options: { readonly settle: Duration.Input }) =>
    Effect.gen(function*() {
      const r = yield* exec(runtime, startArgs(name)).pipe(Effect.mapError((e) => startFailed(name, e.message)))
      if (r.exitCode !== 0) {
        if (isNoSuchContainer(r.stderr)) return yield* notFound(name)
        return yield* startFailed(name, engineMessage(r.stderr) || `${runtime} start exited with ${r.exitCode}`)
      }
      return yield* settleCheck(name, runtime, options.settle)
    })

  const stopFailed = (session: string, reason: string) => new SessionStopFailed({ session, backend: "container", reason })

  const rm = (name: string, runtime: RuntimeName) =>
    Effect.gen(function*() {
      const r = yield* exec(runtime, rmArgs(runtime, name)).pipe(Effect.mapError((e) => stopFailed(name, e.message)))
      if (r.exitCode === 0) return
      if (isNoSuchContainer(r.stderr)) return yield* notFound(name)
      return yield* stopFailed(name, engineMessage(r.stderr) || `${runtime} rm exited with ${r.exitCode}`)
    })

  // `rm -f` succeeds on a missing container (both engines), so existence is checked first.
  const removeContainer = (name: string, runtime: RuntimeName) =>
    Effect.gen(function*() {
      const o = yield* inspectOrNull(name, runtime).pipe(Effect.mapError((e) => stopFailed(name, e.message)))
      if (o === null) return yield* notFound(name)
      yield* rm(name, runtime)
    })

  // `kill` returns once the signal is sent (Podman); a foreign container stays, so wait until it is down.
  const waitNotRunning = (name: string, runtime: RuntimeName) =>
    inspectOrNull(name, runtime).pipe(
      Effect.orElseSucceed(() => null),
      Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (o) => o === null || o.state !== "running", times: 50 })
    )

  const stop = (name: string, runtime: RuntimeName, options: ContainerStopOptions = {}) =>
    Effect.gen(function*() {
      const force = options.force ?? false
      const before = yield* inspectOrNull(name, runtime).pipe(Effect.mapError((e) => stopFailed(name, e.message)))
      if (before === null) return yield* notFound(name)
      if (before.state !== "exited") {
        const r = yield* exec(runtime, stopArgs(name, force, options.timeout ?? 10)).pipe(
          Effect.mapError((e) => stopFailed(name, e.message))
        )
        // A non-zero exit is fine when the container is down anyway (it stopped on its own meanwhile,
        // or `kill` met a container that was only created).
        const after = r.exitCode === 0 && !force
          ? null
          : yield* waitNotRunning(name, runtime)
        if (after !== null && after.state === "running") {
          return yield* stopFailed(name, engineMessage(r.stderr) || "the container is still running")
        }
      }
      if (before.owned) {
        yield* rm(name, runtime).pipe(Effect.catchTag("SessionNotFound", () => Effect.void))
      }
    })

  const logs = (name: string, runtime: RuntimeName, options: { readonly lines?: number } = {}) =>
    logsText(name, runtime, options.lines ?? 100)

  const follow = (name: string, runtime: RuntimeName, options: { readonly lines?: number } = {}) =>
    Stream.unwrap(Effect.map(inspect(name, runtime), () => {
      const args = logsArgs(name, options.lines ?? 10, true)
      return streamLines(runtime, args).pipe(
        Stream.map((line) => line.replace(/\r$/, "")),
        Stream.mapError(toCommandFailed(runtime, args)),
        Stream.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner)
      )
    }))

  const execIn = (
    name: string,
    runtime: RuntimeName,
    argv: ReadonlyArray<string>,
    options: { readonly interactive?: boolean } = {}
  ) =>
    Effect.gen(function*() {
      yield* inspect(name, runtime)
      const args = execArgs(name, argv, options.interactive ?? false)
      if (options.interactive === true) {
        const exitCode = yield* provide(interactive(runtime, args)).pipe(Effect.mapError(toCommandFailed(runtime, args)))
        return { exitCode, stdout: "", stderr: "" }
      }
      return yield* exec(runtime, args)
    })

  const attachFailed = (session: string, reason: string) => new SessionAttachFailed({ session, backend: "container", reason })

  const attach = (name: string, runtime: RuntimeName) =>
    Effect.gen(function*() {
      const o = yield* inspectOrNull(name, runtime).pipe(Effect.mapError((e) => attachFailed(name, e.message)))
      if (o === null) return yield* notFound(name)
      if (o.state !== "running") return yield* attachFailed(name, "container is not running")
      if (process.stdin.isTTY !== true) return yield* attachFailed(name, "not a terminal")
      const code = yield* provide(interactive(runtime, attachArgs(name))).pipe(
        Effect.mapError((e) => attachFailed(name, e.message))
      )
      // Docker exits 1 when the user detaches (Ctrl+P Ctrl+Q): not an error.
      if (code !== 0 && code !== 1) return yield* attachFailed(name, `attach exited with code ${code}`)
    })

  return Containers.of({
    available,
    resolveRuntime,
    observe,
    inspect,
    start,
    restart,
    stop,
    remove: removeContainer,
    logs,
    follow,
    exec: execIn,
    attach
  })
})
