/** `kstlib ops plan` and `kstlib ops apply`: observe → pure plan → render, and for apply, execute. */
import { Console, Duration, Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { KstlibConfig } from "../config/service.js"
import { InvalidInput } from "../errors.js"
import type { ApplyReport, StepResult } from "../reconcile/apply.js"
import { defaultSettle, execute } from "../reconcile/apply.js"
import { lockPathFor, withApplyLock } from "../reconcile/lock.js"
import type { Plan } from "../reconcile/plan.js"
import { hasChanges } from "../reconcile/plan.js"
import { relevantWarnings } from "../reconcile/observe.js"
import { planFromConfig } from "../reconcile/reconciler.js"
import type { Style } from "../reconcile/render.js"
import { paint, planToJson, renderPlan, stepHeadline, symbols } from "../reconcile/render.js"
import { setExitCode, withApp } from "./app.js"
import { withDefaultShown } from "./flags.js"
import { stdoutStyle } from "./output.js"

const names = Argument.String("name").pipe(Argument.withDescription("Only these sessions (default: all)."), Argument.variadic())
const json = Flag.Boolean("json").pipe(Flag.withDescription("Print one JSON document on stdout."), Flag.withDefault(false))
const prune = Flag.Boolean("prune").pipe(
  Flag.withDescription("Also remove sessions kstlib created that are no longer in the config."),
  Flag.withDefault(false)
)
const verbose = Flag.Boolean("verbose").pipe(Flag.withDescription("Also list sessions that need no change."), Flag.withDefault(false))

const blocked = (p: Plan) => p.summary.conflict + p.summary.invalid > 0

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
    const { plan, observation } = yield* planFromConfig({ prune: f.prune, only: f.names })
    for (const w of relevantWarnings(observation, yield* KstlibConfig, false)) yield* Console.error(`warning: ${w}`)
    yield* Console.log(f.json ? JSON.stringify(planToJson(plan), null, 2) : renderPlan(plan, stdoutStyle(), { verbose: f.verbose }))
    if (f.detailedExitcode) yield* setExitCode(blocked(plan) ? 1 : hasChanges(plan) ? 2 : 0)
  }))).pipe(
  Command.withDescription("Show what apply would change (create, start, replace, stop, prune), and why. Touches nothing."),
  Command.withExamples([
    { command: "kstlib ops plan", description: "The plan, one line per step" },
    { command: "kstlib ops plan --json | jq '.steps[].action'", description: "As JSON" },
    { command: "kstlib ops plan --detailed-exitcode || echo drift", description: "In CI: exit 2 when changes are pending" }
  ])
)

const resultLine = (style: Style, r: StepResult): string => {
  const head = `${paint(style, r.error === null ? "green" : "red", r.error === null ? "done  " : "FAILED")} ${symbols[r.step.action]} ${
    stepHeadline(r.step)
  } (${(r.durationMs / 1000).toFixed(1)}s)`
  if (r.error === null) return head
  const output = "output" in r.error && typeof r.error.output === "string" && r.error.output.trim() !== ""
    ? r.error.output.trimEnd().split("\n").slice(-10).map((l) => `         | ${l}`)
    : []
  return [head, `         ${r.error.message}`, ...output].join("\n")
}

const past: Record<string, string> = { create: "created", replace: "replaced", start: "started", stop: "stopped", prune: "pruned" }

const applySummary = (report: ApplyReport): string => {
  const ok = report.results.filter((r) => r.error === null)
  const parts = Object.entries(past).map(([action, word]) => `${ok.filter((r) => r.step.action === action).length} ${word}`)
  const failed = report.results.length - ok.length
  return `Apply ${report.interrupted ? "interrupted" : "complete"}: ${parts.join(", ")}, ${failed} failed${
    report.notRun.length > 0 ? `, ${report.notRun.length} not run` : ""
  }.`
}

const reportJson = (plan: Plan, report: ApplyReport) => ({
  ...planToJson(plan),
  results: report.results.map((r) => ({
    action: r.step.action,
    session: r.step.session,
    backend: r.step.backend,
    ok: r.error === null,
    error: r.error === null ? null : { _tag: r.error._tag, message: r.error.message, ...("exitCode" in r.error ? { exitCode: r.error.exitCode } : {}) },
    duration_ms: r.durationMs
  })),
  not_run: report.notRun.map((s) => ({ action: s.action, session: s.session })),
  interrupted: report.interrupted
})

const apply = Command.make("apply", {
  names,
  json,
  prune,
  verbose,
  dryRun: Flag.Boolean("dry-run").pipe(Flag.withDescription("Print the plan and touch nothing."), Flag.withDefault(false)),
  parallel: Flag.Int("parallel").pipe(withDefaultShown("Steps run at once.", 4)),
  wait: Flag.Boolean("wait").pipe(Flag.withDescription("If another apply holds the lock on this config, wait for it instead of failing."), Flag.withDefault(false)),
  timeout: Flag.Int("timeout").pipe(Flag.withAlias("t"), withDefaultShown("Seconds a graceful stop waits before killing.", 10)),
  settle: Flag.Finite("settle").pipe(
    withDefaultShown(
      "Seconds a started process must stay up to count as started; one check for all launches. 0: launch only (a process that dies shows as exited in the next plan).",
      Duration.toSeconds(defaultSettle)
    )
  )
}, (f) =>
  withApp(Effect.gen(function*() {
    if (f.parallel < 1) return yield* new InvalidInput({ field: "--parallel", reason: "must be at least 1" })
    if (f.settle < 0 || f.settle > 300) return yield* new InvalidInput({ field: "--settle", reason: "must be between 0 and 300 seconds" })
    const style = stdoutStyle()
    const print = (text: string) => (f.json ? Console.error(text) : Console.log(text))
    const config = yield* KstlibConfig
    const run = Effect.gen(function*() {
      const { plan, observation } = yield* planFromConfig({ prune: f.prune, only: f.names })
      for (const w of relevantWarnings(observation, config, false)) yield* Console.error(`warning: ${w}`)
      if (f.dryRun || !hasChanges(plan)) {
        // Dry run: the executor is never reached.
        yield* Console.log(f.json ? JSON.stringify(planToJson(plan), null, 2) : renderPlan(plan, style, { verbose: f.verbose }))
        if (blocked(plan)) yield* setExitCode(1)
        return
      }
      yield* print(renderPlan(plan, style, { verbose: f.verbose }))
      yield* print("")
      const report = yield* execute(plan, {
        parallel: f.parallel,
        settle: Duration.seconds(f.settle),
        stopTimeout: f.timeout,
        onResult: (r) => print(resultLine(style, r)),
        onInterrupt: (r) => print(`\n${applySummary(r)}`)
      })
      yield* print(`\n${applySummary(report)}`)
      if (f.json) yield* Console.log(JSON.stringify(reportJson(plan, report), null, 2))
      if (report.results.some((r) => r.error !== null) || blocked(plan)) yield* setExitCode(1)
    })
    if (f.dryRun) return yield* run
    const lock = lockPathFor(config.files, process.cwd(), process.env)
    yield* Effect.scoped(withApplyLock(lock, { wait: f.wait }).pipe(Effect.andThen(run)))
  }))).pipe(
  Command.withDescription("Converge tmux and containers on the config: prints the plan, runs it, one line per finished step. Exit 1 if anything failed or is blocked."),
  Command.withExamples([
    { command: "kstlib ops apply", description: "Converge everything" },
    { command: "kstlib ops apply --dry-run", description: "Only print the plan" },
    { command: "kstlib ops apply --prune --parallel 8", description: "Also remove sessions dropped from the config" },
    { command: "kstlib ops apply clock logger", description: "Only these two sessions" },
    { command: "kstlib ops apply --settle 2", description: "A process must stay up 2 s to count as started (default 0.5)" }
  ])
)

export const reconcileCommands = [plan, apply] as const
