/**
 * The container Backend: Podman and Docker (dialects in ./container/argv.ts and parse.ts, pure and
 * unit-tested); this file runs the commands and turns their results into typed errors. The runtime
 * binary is run by name: environment that points it at another engine (DOCKER_HOST,
 * CONTAINER_HOST, docker contexts) passes through untouched.
 */
import { Context, Effect, Layer, Schedule, Stream } from "effect"
import { ChildProcessSpawner } from "effect/process"
import {
  CommandFailed,
  SessionAttachFailed,
  SessionNotFound,
  SessionStartFailed,
  SessionStopFailed,
  Unsupported
} from "../errors.js"
import type { ContainerSpec, ObservedContainer, RuntimeName } from "../model.js"
import type { RunOptions, RunResult, SpawnFailed } from "../proc.js"
import { interactive, run, streamLines } from "../proc.js"
import { withEnvFile } from "./container/envfile.js"
import type { Backend, BackendObservation, LogOptions, ObserveProblem, StopOutcome } from "./backend.js"
import {
  attachArgs,
  envFileText,
  envViaClient,
  execArgs,
  inspectArgs,
  logsArgs,
  psArgs,
  rmArgs,
  runArgs,
  startArgs,
  stopArgs
} from "./container/argv.js"
import { engineMessage, isNoSuchContainer, parseInspect, parsePs, parseRestartInfo, type RestartInfo } from "./container/parse.js"
import { findOnPath } from "./container/path.js"
import { LOG_PROBE_LINES, logMatches, notReady, probeWith, ready } from "./probe.js"
import { commandArgv } from "../command.js"

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

/** Auto-detect order. */
export const RUNTIMES: ReadonlyArray<RuntimeName> = ["podman", "docker"]

export interface ContainerStopOptions {
  readonly force?: boolean
  readonly timeout?: number
}

export class Containers extends Context.Service<Containers, Backend<ContainerSpec, ObservedContainer> & {
  /** Runtimes on PATH, in auto-detect order. Cached after the first look. */
  readonly onPath: Effect.Effect<ReadonlyArray<RuntimeName>>
}>()("kstlib/Containers") {
  /** Needs a ChildProcessSpawner (the real one, or a fake/counting one in tests). */
  static readonly layer: Layer.Layer<Containers, never, ChildProcessSpawner.ChildProcessSpawner> = Layer.effect(
    Containers,
    Effect.suspend(() => make)
  )
}

const notFound = (name: string) => new SessionNotFound({ session: name, backend: "container" })
const startFailed = (session: string, reason: string) =>
  new SessionStartFailed({ session, backend: "container", reason, exitCode: null, output: "" })
const stopFailed = (session: string, reason: string) => new SessionStopFailed({ session, backend: "container", reason })


const make = Effect.gen(function*() {
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const provide = <A, E>(eff: Effect.Effect<A, E, ChildProcessSpawner.ChildProcessSpawner>) =>
    Effect.provideService(eff, ChildProcessSpawner.ChildProcessSpawner, spawner)

  /** `<runtime> args`; a binary that cannot be started is a CommandFailed (exit 127). */
  const exec = (runtime: RuntimeName, args: ReadonlyArray<string>, options: RunOptions = {}) =>
    provide(run(runtime, args, options)).pipe(
      Effect.catchTag("SpawnFailed", (e: SpawnFailed) =>
        Effect.fail(new CommandFailed({ argv: [runtime, ...args.slice(0, 2)], exitCode: 127, stderr: e.reason })))
    )

  const failed = (runtime: RuntimeName, args: ReadonlyArray<string>, r: RunResult) =>
    new CommandFailed({ argv: [runtime, ...args], exitCode: r.exitCode, stderr: r.stderr || r.stdout })

  const onPath = yield* Effect.cached(
    Effect.promise(async () => {
      const found = await Promise.all(RUNTIMES.map((r) => findOnPath(r)))
      return RUNTIMES.filter((_, i) => found[i] !== null)
    })
  )

  /**
   * Restart count and last exit code of the containers kstlib started with a restart policy (their
   * stored fingerprint says so): ONE `container inspect` for all of them, none when there are none.
   * A failure leaves them unknown; it never hides the containers.
   */
  const withRestartInfo = (
    runtime: RuntimeName,
    sessions: ReadonlyArray<ObservedContainer>
  ): Effect.Effect<ReadonlyArray<ObservedContainer>> => {
    const supervised = sessions.filter((o) => typeof o.mark.applied?.["restart"] === "string").map((o) => o.name)
    if (supervised.length === 0) return Effect.succeed(sessions)
    return exec(runtime, ["container", "inspect", ...supervised]).pipe(
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

  const observe = Effect.fn("Containers.observe")(function*() {
    const runtimes = yield* onPath
    // Each runtime on its own, so a docker client without a daemon does not hide podman's containers.
    const per = yield* Effect.forEach(runtimes, (runtime) => {
      const args = psArgs(runtime)
      return exec(runtime, args).pipe(
        Effect.flatMap((r) => (r.exitCode === 0 ? Effect.succeed(parsePs(r.stdout, runtime)) : Effect.fail(failed(runtime, args, r)))),
        Effect.flatMap((sessions) => withRestartInfo(runtime, sessions)),
        Effect.map((sessions) => ({ runtime, sessions, problem: null as ObserveProblem | null })),
        Effect.catch((e) =>
          Effect.succeed({
            runtime,
            sessions: [] as ReadonlyArray<ObservedContainer>,
            problem: { where: runtime, message: e.message, missing: false }
          })
        )
      )
    }, { concurrency: "unbounded" })
    const ok = per.filter((p) => p.problem === null)
    return {
      kind: "container",
      sessions: per.flatMap((p) => p.sessions),
      available: ok.length > 0,
      runtimes: ok.map((p) => p.runtime),
      problems: [
        ...(runtimes.length === 0 ? [{ where: "container", message: `no container runtime found in PATH (looked for ${RUNTIMES.join(", ")})`, missing: true }] : []),
        ...per.flatMap((p) => (p.problem === null ? [] : [p.problem]))
      ],
      unreadable: per.flatMap((p) => (p.problem === null ? [] : [{ backend: "container" as const, runtime: p.runtime }]))
    } satisfies BackendObservation
  })

  /** Inspection that reports "no such container" as null. */
  const inspectOrNull = (name: string, runtime: RuntimeName) => {
    const args = inspectArgs(name)
    return exec(runtime, args).pipe(Effect.flatMap((r) => {
      if (r.exitCode === 0) return Effect.succeed(parseInspect(r.stdout, name, runtime))
      if (isNoSuchContainer(r.stderr) || r.stdout.trim() === "[]") return Effect.succeed(null)
      return Effect.fail(failed(runtime, args, r))
    }))
  }

  const launchOne = (spec: ContainerSpec, project: string) =>
    withEnvFile(envFileText(spec.env), (envFile) =>
      Effect.gen(function*() {
        const built = runArgs(spec, project, envFile)
        if (!built.ok) return yield* startFailed(spec.name, built.reason)
        const viaClient = Object.fromEntries(envViaClient(spec.env).map((k) => [k, spec.env[k]!]))
        const r = yield* exec(spec.runtime, built.args, { env: viaClient }).pipe(
          Effect.mapError((e) => startFailed(spec.name, e.message))
        )
        if (r.exitCode !== 0) {
          return yield* startFailed(spec.name, engineMessage(r.stderr) || `${spec.runtime} run exited with ${r.exitCode}`)
        }
      }))

  const launch = Effect.fn("Containers.launch")(function*(specs: ReadonlyArray<ContainerSpec>, context: { readonly project: string }) {
    return yield* Effect.forEach(specs, (spec) => Effect.result(launchOne(spec, context.project)), { concurrency: "unbounded" })
  })

  const restart = Effect.fn("Containers.restart")(function*(o: ObservedContainer) {
    const r = yield* exec(o.runtime, startArgs(o.name)).pipe(Effect.mapError((e) => startFailed(o.name, e.message)))
    if (r.exitCode === 0) return
    if (isNoSuchContainer(r.stderr)) return yield* notFound(o.name)
    return yield* startFailed(o.name, engineMessage(r.stderr) || `${o.runtime} start exited with ${r.exitCode}`)
  })

  const rm = (name: string, runtime: RuntimeName) =>
    Effect.gen(function*() {
      const r = yield* exec(runtime, rmArgs(runtime, name)).pipe(Effect.mapError((e) => stopFailed(name, e.message)))
      if (r.exitCode !== 0 && !isNoSuchContainer(r.stderr)) {
        return yield* stopFailed(name, engineMessage(r.stderr) || `${runtime} rm exited with ${r.exitCode}`)
      }
    })

  // `kill` returns once the signal is sent (Podman): wait until it is down.
  const waitNotRunning = (name: string, runtime: RuntimeName) =>
    inspectOrNull(name, runtime).pipe(
      Effect.orElseSucceed(() => null),
      Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (o) => o === null || o.state !== "running", times: 50 })
    )

  const stopContainer = (o: ObservedContainer, options: ContainerStopOptions & { readonly remove: boolean }) =>
    Effect.gen(function*() {
      const before = yield* inspectOrNull(o.name, o.runtime).pipe(Effect.mapError((e) => stopFailed(o.name, e.message)))
      if (before === null) return yield* notFound(o.name)
      let outcome: StopOutcome = "already-stopped"
      if (before.state === "running" || before.state === "unknown") {
        const force = options.force ?? false
        const timeout = options.timeout ?? 10
        const r = yield* exec(o.runtime, stopArgs(o.name, force, timeout), { minTimeout: timeout + 30 }).pipe(
          Effect.mapError((e) => stopFailed(o.name, e.message))
        )
        const after = yield* waitNotRunning(o.name, o.runtime)
        if (after !== null && after.state === "running") {
          return yield* stopFailed(o.name, engineMessage(r.stderr) || "the container is still running")
        }
        // The engine kills after the grace period: SIGKILL shows as 137.
        outcome = force || after?.exit_code === 137 ? "killed" : "stopped"
      }
      if (options.remove) yield* rm(o.name, o.runtime)
      return outcome
    })

  const logs = Effect.fn("Containers.logs")(function*(o: ObservedContainer, options: LogOptions) {
    const args = logsArgv(o.name, options, false)
    const r = yield* exec(o.runtime, args, { merged: true })
    if (r.exitCode === 0) return r.stdout.replace(/\r\n/g, "\n").replace(/\n+$/u, "")
    if (isNoSuchContainer(r.stdout)) return yield* notFound(o.name)
    return yield* failed(o.runtime, args, r)
  })

  /** ONE `logs -f --tail N`: the last N lines, then new ones, in the engine's order (no replay). */
  const follow = (o: ObservedContainer, options: LogOptions) =>
    Stream.unwrap(Effect.map(inspectOrNull(o.name, o.runtime), (found) => {
      const args = logsArgv(o.name, options, true)
      const lines: Stream.Stream<string, SessionNotFound | CommandFailed> = found === null ? Stream.fail(notFound(o.name)) : streamLines(o.runtime, args).pipe(
        Stream.map((line) => line.replace(/\r$/, "")),
        Stream.mapError((e) => new CommandFailed({ argv: [o.runtime, ...args], exitCode: 127, stderr: e.reason })),
        Stream.provideService(ChildProcessSpawner.ChildProcessSpawner, spawner)
      )
      return lines
    }))

  const execIn = Effect.fn("Containers.exec")(function*(o: ObservedContainer, argv: ReadonlyArray<string>, options: { readonly interactive: boolean }) {
    const found = yield* inspectOrNull(o.name, o.runtime)
    if (found === null) return yield* notFound(o.name)
    const args = execArgs(o.name, argv, options.interactive)
    if (options.interactive) {
      const exitCode = yield* provide(interactive(o.runtime, args)).pipe(
        Effect.mapError((e) => new CommandFailed({ argv: [o.runtime, "exec"], exitCode: 127, stderr: e.reason }))
      )
      return { exitCode, stdout: "", stderr: "" }
    }
    return yield* exec(o.runtime, args)
  })

  const attach = Effect.fn("Containers.attach")(function*(o: ObservedContainer) {
    const attachFailed = (reason: string) => new SessionAttachFailed({ session: o.name, backend: "container", reason })
    const found = yield* inspectOrNull(o.name, o.runtime)
    if (found === null) return yield* notFound(o.name)
    if (found.state !== "running") return yield* attachFailed("container is not running")
    if (process.stdin.isTTY !== true) return yield* attachFailed("not a terminal")
    const code = yield* provide(interactive(o.runtime, attachArgs(o.name))).pipe(Effect.mapError((e) => attachFailed(e.message)))
    // Docker exits 1 when the user detaches (Ctrl+P Ctrl+Q): not an error.
    if (code !== 0 && code !== 1) return yield* attachFailed(`attach exited with code ${code}`)
  })

  /** `log:` on the container's logs; `cmd:` inside it (exec, as words or `sh -c` with shell: true). */
  const probe = (o: ObservedContainer, spec: ContainerSpec) =>
    probeWith(spec, {
      log: (pattern) =>
        logs(o, { lines: LOG_PROBE_LINES }).pipe(
          Effect.map((text) => logMatches(text, pattern)),
          Effect.catch((e) => Effect.succeed(notReady(e.message)))
        ),
      cmd: (command) =>
        Effect.gen(function*() {
          const argv = commandArgv({ command, shell: spec.shell })
          if (!argv.ok || argv.argv === null) return notReady(argv.ok ? "no command" : argv.reason)
          const r = yield* exec(o.runtime, execArgs(o.name, argv.argv, false))
          return r.exitCode === 0 ? ready("exit 0") : notReady(`exit ${r.exitCode}${engineMessage(r.stderr) === "" ? "" : `: ${engineMessage(r.stderr).split("\n").slice(-1)[0]}`}`)
        }).pipe(Effect.catch((e) => Effect.succeed(notReady(e.message))))
    })

  return Containers.of({
    kind: "container",
    capabilities: { exec: true, sendKeys: false },
    onPath,
    observe: () => observe(),
    batchKey: (spec) => `${spec.runtime}\u0000${spec.name}`,
    launch,
    restart: (o) => restart(o),
    stop: (o, options) => stopContainer(o, { ...options, remove: options.removeOwned === true && options.keep !== true }),
    remove: (o, options) =>
      stopContainer(o, { ...options, remove: true }).pipe(
        Effect.asVoid,
        Effect.catchTag("SessionNotFound", () => Effect.void)
      ),
    logs: (o, options) => logs(o, options),
    follow,
    attach,
    exec: execIn,
    sendKeys: (o) =>
      Effect.fail(new Unsupported({ session: o.name, backend: "container", operation: "send-keys", hint: "use 'kstlib ops exec' or 'attach'" })),
    probe
  })
})
