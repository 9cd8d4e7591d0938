/**
 * The executor: runs a plan's steps through the backend registry and reports one result per step.
 * It makes no decisions (the plan did) and knows no backend: it batches launches by the backend's
 * batch key (tmux: one call per socket), runs the rest with bounded concurrency, never stops at
 * the first failure, and lets running steps finish when interrupted. After the launches, ONE
 * post-launch check (one observation after `settle`) fails the sessions whose process died.
 */
import { Clock, Duration, Effect, Ref, Result } from "effect"
import type { StopOutcome } from "../backends/backend.js"
import { Backends } from "../backends/registry.js"
import type { KstlibError } from "../errors.js"
import { SessionStartFailed } from "../errors.js"
import type { ObservedSession, SessionSpec } from "../model.js"
import { isOurs, placeOf, placeOfSpec, samePlace } from "../model.js"
import type { Create, Plan, Replace, Step } from "./plan.js"
import { isActionable, specOf } from "./plan.js"

export interface StepResult {
  readonly step: Step
  /** null on success. */
  readonly error: KstlibError | null
  readonly durationMs: number
  /** Stop and prune: how the process ended (gracefully, or killed after the grace period). */
  readonly outcome: StopOutcome | null
  /** Launches that passed the post-launch check: the session as observed then. */
  readonly observed: ObservedSession | null
  /** A launch reported before its post-launch check ran (the run was interrupted). */
  readonly unverified: boolean
}

export interface ExecuteOptions {
  /** Steps (or launch batches) in flight at once. */
  readonly parallel: number
  /** How long a new process must survive to count as started; 0 = launch only, no check. */
  readonly settle: Duration.Input
  /** Seconds a graceful stop waits before killing. */
  readonly stopTimeout: number
  /** Called when steps start and as each finishes (progress lines). */
  readonly onStart?: (steps: ReadonlyArray<Step>) => Effect.Effect<void>
  readonly onResult?: (r: StepResult) => Effect.Effect<void>
  /** Called with the partial report when the run is interrupted (Ctrl-C), once running steps finished. */
  readonly onInterrupt?: (report: ExecuteReport) => Effect.Effect<void>
}

export interface ExecuteReport {
  readonly results: ReadonlyArray<StepResult>
  /** Steps never launched because the run was interrupted. */
  readonly notRun: ReadonlyArray<Step>
  readonly interrupted: boolean
}

/** How long a new process must survive to count as started: the one default, for apply and start alike. */
export const defaultSettle = Duration.millis(500)

/** Log lines reported with a session that died right after starting. */
const FAILURE_OUTPUT_LINES = 20

interface Task {
  readonly steps: ReadonlyArray<Step>
  readonly run: Effect.Effect<ReadonlyArray<StepResult>, never, Backends>
}

const result = (step: Step, started: number, fields: Partial<StepResult> = {}): StepResult => ({
  step,
  error: null,
  durationMs: Math.round(performance.now() - started),
  outcome: null,
  observed: null,
  unverified: false,
  ...fields
})

const single = (step: Step, plan: Plan, options: ExecuteOptions): Task => ({
  steps: [step],
  run: Effect.gen(function*() {
    const backends = yield* Backends
    const started = performance.now()
    const stopOptions = { timeout: options.stopTimeout }
    const body: Effect.Effect<StopOutcome | null, KstlibError> = (() => {
      switch (step._tag) {
        case "Start":
          // A requested restart keeps the marks as they are: kstlib has no spec of its own to stamp.
          return backends.restart(step.target, step.spec, { project: plan.project, mark: step.reason !== "requested" }).pipe(Effect.as(null))
        case "Stop":
          // Containers of ours are deleted once stopped (they are recreated from the spec), unless
          // they are to be started again in place.
          return step.reason === "restart"
            ? backends.stop(step.target, { ...stopOptions, keep: true })
            : backends.stop(step.target, { ...stopOptions, removeOwned: isOurs(step.target, plan.project) })
        case "Prune":
          return backends.remove(step.target, stopOptions).pipe(Effect.as(null))
        case "Create":
        case "Replace":
        case "Conflict":
        case "Invalid":
          return Effect.succeed(null)
      }
    })()
    const r = yield* Effect.result(body)
    return [Result.isFailure(r) ? result(step, started, { error: r.failure }) : result(step, started, { outcome: r.success })]
  })
})

/** Launches with one batch key: the old instances of replaces removed, then ONE backend launch call. */
const launchBatch = (steps: ReadonlyArray<Create | Replace>, plan: Plan, options: ExecuteOptions): Task => ({
  steps,
  run: Effect.gen(function*() {
    const backends = yield* Backends
    const started = performance.now()
    const removed = yield* Effect.forEach(steps, (s) =>
      Effect.result(
        // A backend that updates in place (swarm) gets the session of the same place left to its launch.
        Effect.forEach(
          s._tag === "Replace" ? s.targets.filter((o) => backends.updatesInPlace?.(o, s.spec) !== true) : [],
          (o) => backends.remove(o, { timeout: options.stopTimeout }),
          { discard: true }
        )
      ).pipe(Effect.map((r) => ({ step: s, error: Result.isFailure(r) ? r.failure : null }))), { concurrency: options.parallel })
    const failedEarly = removed.flatMap((r) => (r.error === null ? [] : [result(r.step, started, { error: r.error })]))
    const ready = removed.flatMap((r) => (r.error === null ? [r.step] : []))
    if (ready.length === 0) return failedEarly
    const launched = yield* backends.launch(ready.map((s) => s.spec), { project: plan.project })
    return [
      ...failedEarly,
      ...ready.map((step, i) => {
        const r = launched[i]
        if (r === undefined) {
          const error = new SessionStartFailed({ session: step.session, backend: step.spec.backend, reason: "the backend reported no result", exitCode: null, output: "" })
          return result(step, started, { error })
        }
        return Result.isFailure(r) ? result(step, started, { error: r.failure }) : result(step, started)
      })
    ]
  })
})

const tasksOf = (plan: Plan, options: ExecuteOptions, batchKey: (spec: SessionSpec) => string): ReadonlyArray<Task> => {
  const batches = new Map<string, Array<Create | Replace>>()
  const singles: Array<Step> = []
  for (const s of plan.steps.filter(isActionable)) {
    if (s._tag === "Create" || s._tag === "Replace") {
      const key = batchKey(s.spec)
      batches.set(key, [...(batches.get(key) ?? []), s])
    } else singles.push(s)
  }
  return [...[...batches.values()].map((steps) => launchBatch(steps, plan, options)), ...singles.map((s) => single(s, plan, options))]
}

const launches = (s: Step) => s._tag === "Create" || s._tag === "Replace" || s._tag === "Start"

/** A launched step waiting for the post-launch check, and when its launch finished. */
interface Pending {
  readonly result: StepResult
  readonly at: number
}

/**
 * The post-launch check, once for every launch: after `settle`, one observation of the places
 * launched into; a session whose process died (or that vanished) is a failed step with its exit
 * code and last output.
 */
const verify = (launched: ReadonlyArray<Pending>, since: number, settle: Duration.Input) =>
  Effect.gen(function*() {
    const backends = yield* Backends
    const wait = Duration.toMillis(Duration.fromInputUnsafe(settle)) - ((yield* Clock.currentTimeMillis) - since)
    if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
    const specs = launched.map((p) => specOf(p.result.step)!)
    const sockets = [...new Set(specs.flatMap((s) => (s.backend === "tmux" ? [s.socket_name] : [])))]
    const kinds = [...new Set(specs.map((s) => s.backend))]
    const hosts = [...new Set(specs.flatMap((s) => (s.host === undefined ? [] : [s.host])))] // hosts (ssh branch): only those launched on
    const seen = (yield* backends.observe({ sockets, hosts }, kinds)).flatMap((p) => p.sessions)
    const now = yield* Clock.currentTimeMillis
    return yield* Effect.forEach(launched, (pending) =>
      Effect.gen(function*() {
        // A launch is finished once it passed the check: its duration includes the wait.
        const r = { ...pending.result, durationMs: pending.result.durationMs + Math.round(now - pending.at) }
        const spec = specOf(r.step)!
        const o = seen.find((x) => x.name === spec.name && samePlace(placeOf(x), placeOfSpec(spec)))
        if (o !== undefined && o.state === "running") return { ...r, observed: o }
        const output = o === undefined
          ? ""
          : yield* backends.logs(o, { lines: FAILURE_OUTPUT_LINES }).pipe(Effect.orElseSucceed(() => ""))
        const error = new SessionStartFailed({
          session: spec.name,
          backend: spec.backend,
          reason: o === undefined
            ? "the session vanished right after starting"
            : `process exited${o.exit_code === null ? "" : ` with code ${o.exit_code}`} right after starting`,
          exitCode: o?.exit_code ?? null,
          output
        })
        return { ...r, error }
      }), { concurrency: 4 })
  })

/**
 * Runs every actionable step. Each task is uninterruptible once launched, so an interrupt (Ctrl-C)
 * stops new launches and waits for what is running; launches not yet checked are then reported as
 * unverified, and the report says which steps did not run.
 */
export const execute = (plan: Plan, options: ExecuteOptions): Effect.Effect<ExecuteReport, never, Backends> =>
  Effect.gen(function*() {
    const backends = yield* Backends
    const tasks = tasksOf(plan, options, backends.batchKey)
    const done = yield* Ref.make<ReadonlyArray<StepResult>>([])
    const pending = yield* Ref.make<ReadonlyArray<Pending>>([])
    const lastLaunch = yield* Ref.make(yield* Clock.currentTimeMillis)
    const emit = (r: StepResult) => Ref.update(done, (all) => [...all, r]).pipe(Effect.andThen(options.onResult?.(r) ?? Effect.void))
    const record = (rs: ReadonlyArray<StepResult>) =>
      Effect.forEach(rs, (r) =>
        launches(r.step) && r.error === null && Duration.toMillis(Duration.fromInputUnsafe(options.settle)) > 0
          ? Clock.currentTimeMillis.pipe(
            Effect.flatMap((at) => Ref.update(pending, (p) => [...p, { result: r, at }]).pipe(Effect.andThen(Ref.set(lastLaunch, at))))
          )
          : emit(r), { discard: true })
    const report = (interrupted: boolean) =>
      Effect.gen(function*() {
        const results = yield* Ref.get(done)
        const finished = new Set(results.map((r) => r.step))
        return { results, notRun: tasks.flatMap((t) => t.steps).filter((s) => !finished.has(s)), interrupted }
      })
    const run = Effect.gen(function*() {
      yield* Effect.forEach(tasks, (t) =>
        Effect.uninterruptible((options.onStart?.(t.steps) ?? Effect.void).pipe(Effect.andThen(t.run), Effect.flatMap(record))), {
        concurrency: Math.max(1, options.parallel),
        discard: true
      })
      const toCheck = yield* Ref.get(pending)
      if (toCheck.length > 0) {
        const verified = yield* verify(toCheck, yield* Ref.get(lastLaunch), options.settle)
        // Recorded as done before anything can be interrupted: a launched session is never "not run".
        yield* Effect.uninterruptible(
          Ref.update(done, (all) => [...all, ...verified]).pipe(
            Effect.andThen(Ref.set(pending, [])),
            Effect.andThen(Effect.forEach(verified, (r) => options.onResult?.(r) ?? Effect.void, { discard: true }))
          )
        )
      }
      return yield* report(false)
    })
    return yield* run.pipe(
      Effect.onInterrupt(() =>
        // Launched but not yet checked: reported as they are (done, unverified), then the partial report.
        Effect.gen(function*() {
          for (const p of yield* Ref.get(pending)) yield* emit({ ...p.result, unverified: true })
          yield* options.onInterrupt?.(yield* report(true)) ?? Effect.void
        })
      )
    )
  })
