/** `kstlib ops plan`, `apply` and `down`: the library's reconciler, rendered. */
import { Console, Duration, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { DOCKER_WIDTH, PODMAN_WIDTH } from "../backends/container.js"
import { PullProgress } from "../backends/container/pull-progress.js"
import { TMUX_WIDTH } from "../backends/tmux.js"
import { KstlibConfig } from "../config/service.js"
import type { LoadedConfig } from "../config/types.js"
import { ExitWith, InvalidInput } from "../errors.js"
import { defaultSettle } from "../reconcile/execute.js"
import { relevantProblems } from "../reconcile/observe.js"
import { hasChanges, isBlocked } from "../reconcile/plan.js"
import type { ApplyOptions, ApplyReport, Planned } from "../reconcile/reconciler.js"
import { apply as runApply, down as runDown, planDownFromConfig, planFromConfig, purgeLogs } from "../reconcile/reconciler.js"
import { planToJson, renderPlan, reportJson, reportSummary, resultLine } from "../reconcile/render.js"
import { withApp } from "./app.js"
import { withDefaultShown } from "./flags.js"
import { stdoutStyle } from "./output.js"
import { type Progress, withProgress } from "./progress.js"

const names = Argument.String("name").pipe(Argument.withDescription("Only these sessions (default: all)."), Argument.variadic())
const json = Flag.Boolean("json").pipe(Flag.withDescription("Print one JSON document on stdout."), Flag.withDefault(false))
const prune = Flag.Boolean("prune").pipe(
  Flag.withDescription("Also remove this project's sessions that are no longer in the config."),
  Flag.withDefault(false)
)
const verbose = Flag.Boolean("verbose").pipe(Flag.withDescription("Also list sessions that need no change."), Flag.withDefault(false))
const dryRun = Flag.Boolean("dry-run").pipe(Flag.withDescription("Print the plan and touch nothing."), Flag.withDefault(false))
const waitLock = Flag.Boolean("wait-lock").pipe(
  Flag.withDescription("If another apply holds the lock on this config, wait for it instead of failing."),
  Flag.withDefault(false)
)
const waitReady = Flag.Boolean("wait").pipe(
  Flag.withDescription(
    "Wait until every started session is ready (its `ready:` probe passes; without one: running). Exit 1 naming those that were not ready in time, with their last output."
  ),
  Flag.withDefault(false)
)
const timeout = Flag.Int("timeout").pipe(
  Flag.withAlias("t"),
  Flag.withDescription("Seconds a graceful stop waits after the first signal before TERM, then KILL (default: each session's stop_timeout, 10)."),
  Flag.optional
)
const parallel = Flag.Int("parallel").pipe(
  Flag.withDescription(
    `Steps run at once, all engines together. Default: each engine at its own pace (podman ${PODMAN_WIDTH}, docker ${DOCKER_WIDTH}, tmux ${TMUX_WIDTH} at once), engines side by side.`
  ),
  Flag.optional
)

const warnProblems = (planned: Planned, config: LoadedConfig) =>
  Effect.forEach(relevantProblems(planned.observation, config, false), (w) => Console.error(`warning: ${w}`), { discard: true })

/**
 * An engine answered with a listing that could not be read whole: what it holds is unknown (nothing
 * was planned there), so the run cannot say it converged, even when its plan is empty.
 */
const unchecked = (planned: Planned) => planned.observation.problems.some((p) => p.garbled === true)

const plan = Command.make("plan", {
  names,
  json,
  prune,
  verbose,
  detailedExitcode: Flag.Boolean("detailed-exitcode").pipe(
    Flag.withDescription("Exit 0: no changes; 2: changes pending; 1: error, conflict or invalid entry."),
    Flag.withDefault(false)
  )
}, (f) =>
  withApp(Effect.gen(function*() {
    const planned = yield* planFromConfig({ prune: f.prune, only: f.names })
    yield* warnProblems(planned, yield* KstlibConfig)
    const p = planned.plan
    yield* Console.log(f.json ? JSON.stringify(planToJson(p), null, 2) : renderPlan(p, stdoutStyle(), { verbose: f.verbose }))
    if (f.detailedExitcode && (isBlocked(p) || hasChanges(p) || unchecked(planned))) {
      return yield* new ExitWith({ code: isBlocked(p) || unchecked(planned) ? 1 : 2, reason: "" })
    }
  }))).pipe(
  Command.withDescription("Show what apply would change (create, start, replace, stop, prune), and why. Touches nothing."),
  Command.withExamples([
    { command: "kstlib ops plan", description: "The plan, one line per step" },
    { command: "kstlib ops plan --json | jq '.steps[].action'", description: "As JSON" },
    { command: "kstlib ops plan --detailed-exitcode || echo drift", description: "In CI: exit 2 when changes are pending" }
  ])
)

/** On a terminal, launches report their image pulls to the live line (and pull with the engine's progress); elsewhere pulls stay quiet. */
const withPulls = <A, E, R>(live: boolean, progress: Progress, body: Effect.Effect<A, E, R>) =>
  live ? Effect.provideService(body, PullProgress, progress.pulls) : body

/**
 * The shared body of apply and down: the plan first, one line per finished step, a summary; live
 * progress on a terminal. Exit 1 when a step failed or convergence is blocked.
 */
const converge = <E, R>(
  verb: string,
  f: { readonly json: boolean; readonly verbose: boolean; readonly parallel: Option.Option<number>; readonly timeout: Option.Option<number>; readonly waitLock: boolean; readonly wait?: boolean; readonly settle: number },
  run: (options: ApplyOptions) => Effect.Effect<ApplyReport, E, R>
) =>
  Effect.gen(function*() {
    const config = yield* KstlibConfig
    const style = stdoutStyle()
    const live = !f.json && process.stderr.isTTY === true
    // With --json, stdout carries only the final document: progress goes to stderr.
    const out = (text: string) => () => (f.json ? process.stderr : process.stdout).write(`${text}\n`)
    const result = yield* withProgress(live, (progress) =>
      withPulls(live, progress, run({
        parallel: Option.getOrUndefined(f.parallel),
        settle: Duration.seconds(f.settle),
        ...(Option.isSome(f.timeout) ? { stopTimeout: f.timeout.value } : {}),
        waitLock: f.waitLock,
        waitReady: f.wait === true,
        onPlan: (planned) =>
          warnProblems(planned, config).pipe(
            Effect.andThen(progress.print(out(`${renderPlan(planned.plan, style, { verbose: f.verbose })}\n`)))
          ),
        onStart: progress.started,
        onResult: (r) => progress.finished(r.step).pipe(Effect.andThen(progress.print(out(resultLine(style, r))))),
        onInterrupt: (report) => progress.print(out(`\n${reportSummary(verb, report)}`))
      }))
    )
    const { planned, report } = result
    if (report === null) {
      yield* warnProblems(planned, config)
      yield* Console.log(f.json ? JSON.stringify(reportJson(planned.plan, null), null, 2) : renderPlan(planned.plan, style, { verbose: f.verbose }))
    } else {
      yield* Effect.sync(out(`\n${reportSummary(verb, report)}`))
      if (f.json) yield* Console.log(JSON.stringify(reportJson(planned.plan, report), null, 2))
    }
    if ((report?.results.some((r) => r.error !== null) ?? false) || isBlocked(planned.plan) || unchecked(planned)) {
      return yield* new ExitWith({ code: 1, reason: "" })
    }
    return result
  })

const settle = Flag.Finite("settle").pipe(
  withDefaultShown(
    "Seconds a started process must stay up to count as started; one check for all launches. 0: launch only (a process that dies shows as exited in the next plan).",
    Duration.toSeconds(defaultSettle)
  )
)

const checkFlags = (f: { readonly parallel: Option.Option<number>; readonly settle: number; readonly timeout: Option.Option<number> }) =>
  Effect.gen(function*() {
    if (Option.isSome(f.parallel) && f.parallel.value < 1) return yield* new InvalidInput({ field: "--parallel", reason: "must be at least 1" })
    if (f.settle < 0 || f.settle > 300) return yield* new InvalidInput({ field: "--settle", reason: "must be between 0 and 300 seconds" })
    if (Option.isSome(f.timeout) && (f.timeout.value < 0 || f.timeout.value > 3600)) return yield* new InvalidInput({ field: "--timeout", reason: "must be between 0 and 3600 seconds" })
  })

const apply = Command.make("apply", { names, json, prune, verbose, dryRun, parallel, waitLock, wait: waitReady, timeout, settle }, (f) =>
  withApp(Effect.gen(function*() {
    yield* checkFlags(f)
    if (f.dryRun) {
      // Dry run: the executor is never reached.
      const planned = yield* planFromConfig({ prune: f.prune, only: f.names })
      yield* warnProblems(planned, yield* KstlibConfig)
      yield* Console.log(f.json ? JSON.stringify(planToJson(planned.plan), null, 2) : renderPlan(planned.plan, stdoutStyle(), { verbose: f.verbose }))
      if (isBlocked(planned.plan) || unchecked(planned)) return yield* new ExitWith({ code: 1, reason: "" })
      return
    }
    yield* converge("Apply", f, (options) => runApply({ prune: f.prune, only: f.names }, options))
  }))).pipe(
  Command.withDescription("Converge tmux and containers on the config: prints the plan, runs it, one line per finished step. Exit 1 if anything failed or is blocked."),
  Command.withExamples([
    { command: "kstlib ops apply", description: "Converge everything" },
    { command: "kstlib ops apply --dry-run", description: "Only print the plan" },
    { command: "kstlib ops apply --prune --parallel 8", description: "Also remove this project's sessions dropped from the config" },
    { command: "kstlib ops apply clock logger", description: "Only these two sessions" },
    { command: "kstlib ops apply --settle 2", description: "A process must stay up 2 s to count as started (default 0.5)" },
    { command: "kstlib ops apply --wait", description: "Also wait until every started session is ready (ready: probes)" },
    { command: "kstlib ops apply --wait-lock", description: "If another apply runs on this config, wait for it" }
  ])
)

const purgeLogsFlag = Flag.Boolean("purge-logs").pipe(
  Flag.withDescription("Also remove the sessions' log files (with their rotated copies), once everything is down. Nothing else removes them."),
  Flag.withDefault(false)
)

const volumesFlag = Flag.Boolean("volumes").pipe(
  Flag.withDescription("Also remove this project's named volumes (ops.volumes) once nothing uses them; kept by default. Only with a whole-project down."),
  Flag.withDefault(false)
)

const down = Command.make("down", { names, json, verbose, dryRun, parallel, waitLock, timeout, purgeLogs: purgeLogsFlag, volumes: volumesFlag }, (f) =>
  withApp(Effect.gen(function*() {
    yield* checkFlags({ ...f, settle: 0 })
    if (f.dryRun) {
      const planned = yield* planDownFromConfig(f.names)
      yield* warnProblems(planned, yield* KstlibConfig)
      yield* Console.log(f.json ? JSON.stringify(planToJson(planned.plan), null, 2) : renderPlan(planned.plan, stdoutStyle(), { verbose: f.verbose }))
      if (isBlocked(planned.plan) || unchecked(planned)) return yield* new ExitWith({ code: 1, reason: "" })
      return
    }
    if (f.volumes && f.names.length > 0) return yield* new ExitWith({ code: 2, reason: "--volumes removes the project's named volumes: only with a whole-project down (no NAME)" })
    const result = yield* converge("Down", { ...f, settle: 0 }, (options) => runDown(f.names, { ...options, volumes: f.volumes }))
    if (f.volumes) {
      const removed = result.volumes ?? []
      yield* Console.error(removed.length === 0 ? "No named volumes to remove." : `Removed volume${removed.length === 1 ? "" : "s"} ${removed.join(", ")}.`)
    }
    if (f.purgeLogs) {
      const { removed, kept } = yield* purgeLogs(f.names)
      yield* Console.error(removed.length === 0 ? "No log files to remove." : `Removed ${removed.length} log file${removed.length === 1 ? "" : "s"}.`)
      for (const k of kept) yield* Console.error(`warning: the log files on ${k.host} were kept: ${k.reason}`)
    }
  }))).pipe(
  Command.withDescription("Stop and remove every session of this project (or only NAME...): the plan first, as apply does. Never touches another project's sessions."),
  Command.withExamples([
    { command: "kstlib ops down", description: "Everything this project runs" },
    { command: "kstlib ops down --dry-run", description: "Only print what would be removed" },
    { command: "kstlib ops down api", description: "Only api" },
    { command: "kstlib ops down --purge-logs", description: "Also delete the log files (kept by default)" },
    { command: "kstlib ops down --volumes", description: "Also delete the named volumes of ops.volumes (kept by default)" }
  ])
)

export const reconcileCommands = [plan, apply, down] as const
