/**
 * The executor: runs a plan's steps through the backend registry and reports one result per step.
 * It makes no decisions (the plan did) and knows no backend: it batches launches by the backend's
 * batch key (tmux: one call per socket), runs the rest with bounded concurrency, never stops at
 * the first failure, and lets running steps finish when interrupted. After the launches, ONE
 * post-launch check (one observation after `settle`) fails the sessions whose process died.
 */
import { Clock, Duration, Effect, Ref, Result, Semaphore } from "effect"
import type { ObserveScope, StopOutcome } from "../backends/driver.js"
import { Backends } from "../backends/registry.js"
import type { SessionNotFound, SessionStopFailed } from "../errors.js"
import { DependencyFailed, SessionNotReady, SessionStartFailed } from "../errors.js"
import type { ObservedSession, SessionSpec } from "../model.js"
import { describeReady, isOurs } from "../model.js"
import { placeOf, samePlace } from "../place.js"
import type { Create, Plan, Replace, Step } from "./plan.js"
import { byName, launchesSession, networksOf, phaseSteps, specOf, targetsOf } from "./plan.js"

/**
 * What a step can fail with: its launch, its stop, its `ready:` probe, a dependency that failed
 * first, or the session gone before an in-place start reached it.
 */
export type StepError = SessionStartFailed | SessionStopFailed | SessionNotReady | DependencyFailed | SessionNotFound

export interface StepResult {
  readonly step: Step
  /** null on success. */
  readonly error: StepError | null
  readonly durationMs: number
  /** Stop and prune: how the process ended (gracefully, or killed after the grace period). */
  readonly outcome: StopOutcome | null
  /** Launches that passed the post-launch check: the session as observed then. */
  readonly observed: ObservedSession | null
  /** A launch reported before its post-launch check ran (the run was interrupted). */
  readonly unverified: boolean
}

export interface ExecuteOptions {
  /**
   * Steps (or launch batches) in flight at once, all engines together (`--parallel`). Absent: each
   * engine at its own pace, its lane's width at once there (backends' `lane`), engines side by side.
   */
  readonly parallel?: number | undefined
  /** How long a new process must survive to count as started; 0 = launch only, no check. */
  readonly settle: Duration.Input
  /** Seconds a graceful stop waits before killing; absent: each session's own `stop_timeout`. */
  readonly stopTimeout?: number | undefined
  /** Called when steps start and as each finishes (progress lines). */
  readonly onStart?: (steps: ReadonlyArray<Step>) => Effect.Effect<void>
  readonly onResult?: (r: StepResult) => Effect.Effect<void>
  /** Called with the partial report when the run is interrupted (Ctrl-C), once running steps finished. */
  readonly onInterrupt?: (report: ExecuteReport) => Effect.Effect<void>
  /**
   * `apply --wait`: every launched session with a `ready:` probe must pass it (a failed step
   * otherwise). Without it, only sessions others depend on are waited for, before those start.
   */
  readonly waitReady?: boolean
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
    const stopOptions = options.stopTimeout === undefined ? {} : { timeout: options.stopTimeout }
    const releaseNetwork = networksOf(plan).length === 0
    const body: Effect.Effect<StopOutcome | null, StepError> = (() => {
      switch (step._tag) {
        case "Start":
          // A requested restart keeps the marks as they are (no stamp): kstlib has no spec of its own to write.
          return backends.startInPlace(step.target, step.spec, { project: plan.project, stamp: step.stamp }).pipe(Effect.as(null))
        case "Stop":
          // The first half of a restart keeps the instance, to be started again in place.
          return backends.stop(step.target, {
            ...stopOptions,
            leave: step.reason === "restart" ? "instance" : "stopped",
            owned: isOurs(step.target, plan.project)
          })
        case "Prune":
          // the project network goes with its last container, unless this plan launches onto it
          return backends.remove(step.target, { ...stopOptions, ...(releaseNetwork ? { releaseNetwork: true } : {}) }).pipe(Effect.as(null))
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
          s._tag === "Replace" ? s.targets.filter((o) => backends.updatesInPlace?.(o, s.spec, s.changes) !== true) : [],
          (o) => backends.remove(o, options.stopTimeout === undefined ? {} : { timeout: options.stopTimeout }),
          { discard: true }
        )
      ).pipe(Effect.map((r) => ({ step: s, error: Result.isFailure(r) ? r.failure : null }))), {
        // one batch is one place: its engine's width unless --parallel says otherwise
        concurrency: Math.max(1, options.parallel ?? backends.lane(steps[0]!.spec).width)
      })
    const failedEarly = removed.flatMap((r) => (r.error === null ? [] : [result(r.step, started, { error: r.error })]))
    const ready = removed.flatMap((r) => (r.error === null ? [r.step] : []))
    if (ready.length === 0) return failedEarly
    const launched = yield* backends.launch(
      ready.map((s) => ({ spec: s.spec, stamp: s.stamp, changes: s._tag === "Replace" ? s.changes : null })),
      { project: plan.project }
    )
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

const tasksOf = (
  steps: ReadonlyArray<Step>,
  plan: Plan,
  options: ExecuteOptions,
  batchKey: (spec: SessionSpec) => string
): ReadonlyArray<Task> => {
  const batches = new Map<string, Array<Create | Replace>>()
  const singles: Array<Step> = []
  for (const s of steps) {
    if (s._tag === "Create" || s._tag === "Replace") {
      const key = batchKey(s.spec)
      batches.set(key, [...(batches.get(key) ?? []), s])
    } else singles.push(s)
  }
  return [...[...batches.values()].map((steps) => launchBatch(steps, plan, options)), ...singles.map((s) => single(s, plan, options))]
}


/** A launched step waiting for the post-launch check, and when its launch finished. */
interface Pending {
  readonly result: StepResult
  readonly at: number
}

/**
 * Only the places these sessions were launched into: their tmux sockets, their hosts, the local
 * engines (podman's `ps` alone costs a docker-only apply ~0.1 s here).
 */
const launchedScope = (specs: ReadonlyArray<SessionSpec>): ObserveScope => ({
  sockets: [...new Set(specs.flatMap((s) => (s.backend === "tmux" ? [s.socket_name] : [])))],
  hosts: [...new Set(specs.flatMap((s) => (s.host === undefined ? [] : [s.host])))],
  runtimes: [...new Set(specs.flatMap((s) => (s.backend === "container" && s.host === undefined ? [s.runtime] : [])))]
})

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
    const kinds = [...new Set(specs.map((s) => s.backend))]
    const seen = byName((yield* backends.observe(launchedScope(specs), kinds)).flatMap((p) => p.sessions))
    const now = yield* Clock.currentTimeMillis
    return yield* Effect.forEach(launched, (pending) =>
      Effect.gen(function*() {
        // A launch is finished once it passed the check: its duration includes the wait.
        const r = { ...pending.result, durationMs: pending.result.durationMs + Math.round(now - pending.at) }
        const spec = specOf(r.step)!
        const o = seen.get(spec.name)?.find((x) => samePlace(placeOf(x), placeOf(spec)))
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

/** Polls the probe every `interval` until it passes or `timeout` is over; the last result either way. */
const waitReady = (o: ObservedSession, spec: SessionSpec) =>
  Effect.gen(function*() {
    const backends = yield* Backends
    const r = spec.ready
    if (r === undefined || r === null) return { ready: true, detail: "no probe" }
    const deadline = (yield* Clock.currentTimeMillis) + r.timeout * 1000
    for (;;) {
      const result = yield* backends.probe(o, spec)
      if (result.ready) return result
      const now = yield* Clock.currentTimeMillis
      if (now + r.interval * 1000 > deadline) return result
      yield* Effect.sleep(Duration.millis(r.interval * 1000))
    }
  })

const notReadyError = (o: ObservedSession, spec: SessionSpec, detail: string) =>
  Effect.gen(function*() {
    const output = yield* (yield* Backends).logs(o, { lines: FAILURE_OUTPUT_LINES }).pipe(Effect.orElseSucceed(() => ""))
    return new SessionNotReady({
      session: spec.name,
      backend: spec.backend,
      probe: describeReady(spec.ready!),
      timeout: spec.ready!.timeout,
      detail,
      output
    })
  })

/**
 * Runs every actionable step, phase by phase (see phasesOf). Each task is uninterruptible once
 * launched, so an interrupt (Ctrl-C) stops new launches and waits for what is running; launches
 * not yet checked are then reported as unverified, and the report says which steps did not run.
 * A launch whose dependency failed (or never became ready, or cannot run) is reported as not run
 * (DependencyFailed) and nothing else is held back.
 */
export const execute = (plan: Plan, options: ExecuteOptions): Effect.Effect<ExecuteReport, never, Backends> =>
  Effect.gen(function*() {
    const backends = yield* Backends
    const phases = phaseSteps(plan)
    const allSteps = phases.flat()
    const done = yield* Ref.make<ReadonlyArray<StepResult>>([])
    const pending = yield* Ref.make<ReadonlyArray<Pending>>([])
    const lastLaunch = yield* Ref.make(yield* Clock.currentTimeMillis)
    /** Sessions that cannot satisfy their dependents, and why. */
    const failed = new Map<string, string>(Object.entries(plan.order.unsatisfied))
    const launchedNames = new Set(allSteps.filter(launchesSession).map((s) => s.session))
    /** Sessions with a dependent that launches in this run (computed once: a check per launch stays O(1)). */
    const awaited = new Set(Object.entries(plan.order.dependencies).filter(([n]) => launchedNames.has(n)).flatMap(([, deps]) => deps))
    const hasDependents = (name: string) => awaited.has(name)
    const settleMs = Duration.toMillis(Duration.fromInputUnsafe(options.settle))
    /** Without `--parallel`: one semaphore per engine (lane), as wide as that engine sustains. */
    const lanes = new Map<string, Semaphore.Semaphore>()
    const inLane = <A, E, R>(t: Task, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
      if (options.parallel !== undefined) return self
      const first = t.steps[0]!
      const lane = backends.lane(specOf(first) ?? targetsOf(first)[0]!)
      let semaphore = lanes.get(lane.key)
      if (semaphore === undefined) lanes.set(lane.key, semaphore = Semaphore.makeUnsafe(Math.max(1, lane.width)))
      return semaphore.withPermits(1)(self)
    }
    const emit = (r: StepResult) => Ref.update(done, (all) => [...all, r]).pipe(Effect.andThen(options.onResult?.(r) ?? Effect.void))
    const record = (rs: ReadonlyArray<StepResult>) =>
      Effect.forEach(rs, (r) =>
        launchesSession(r.step) && r.error === null && settleMs > 0
          ? Clock.currentTimeMillis.pipe(
            Effect.flatMap((at) => Ref.update(pending, (p) => [...p, { result: r, at }]).pipe(Effect.andThen(Ref.set(lastLaunch, at))))
          )
          : emit(r), { discard: true })
    const report = (interrupted: boolean) =>
      Effect.gen(function*() {
        const results = yield* Ref.get(done)
        const finished = new Set(results.map((r) => r.step))
        return { results, notRun: allSteps.filter((s) => !finished.has(s)), interrupted }
      })
    /** Running dependencies kept as they are, probed once before their first dependent starts. */
    const probed = new Set<string>()
    const probeKept = (names: ReadonlyArray<string>) =>
      Effect.forEach(plan.order.probes.filter((p) => names.includes(p.session) && !probed.has(p.session)), (p) =>
        Effect.gen(function*() {
          probed.add(p.session)
          const r = yield* waitReady(p.target, p.spec)
          if (!r.ready) failed.set(p.session, `not ready: ${r.detail}`)
        }), { concurrency: 4, discard: true })
    /** Launch results of this phase that passed the check, then their readiness when it is waited for. */
    const readiness = (rs: ReadonlyArray<StepResult>) =>
      Effect.forEach(rs, (r) =>
        Effect.gen(function*() {
          const spec = specOf(r.step)
          if (r.error !== null || spec === null || spec.ready === undefined || spec.ready === null || r.unverified) return r
          if (options.waitReady !== true && !hasDependents(spec.name)) return r
          const o = r.observed ?? (yield* backends.observe(launchedScope([spec]), [spec.backend]))
            .flatMap((x) => x.sessions)
            .find((x) => x.name === spec.name && samePlace(placeOf(x), placeOf(spec)))
          if (o === undefined) return r
          const started = yield* Clock.currentTimeMillis
          const ready = yield* waitReady(o, spec)
          const waited = Math.round((yield* Clock.currentTimeMillis) - started)
          if (ready.ready) return { ...r, durationMs: r.durationMs + waited }
          return { ...r, durationMs: r.durationMs + waited, error: yield* notReadyError(o, spec, ready.detail) }
        }), { concurrency: 4 })
    const runPhase = (steps: ReadonlyArray<Step>) =>
      Effect.gen(function*() {
        const deps = (s: Step) => (launchesSession(s) ? plan.order.dependencies[s.session] ?? [] : [])
        // running dependencies with a probe, before anything that waits for them
        yield* probeKept([...new Set(steps.flatMap(deps))])
        const runnable: Array<Step> = []
        for (const s of steps) {
          const blocker = deps(s).find((d) => failed.has(d))
          if (blocker === undefined) {
            runnable.push(s)
            continue
          }
          failed.set(s.session, "failed")
          const why = failed.get(blocker)!
          yield* emit(result(s, performance.now(), {
            error: new DependencyFailed({ session: s.session, dependency: blocker, reason: why === "failed" ? "failed" : why })
          }))
        }
        const tasks = tasksOf(runnable, plan, options, backends.batchKey)
        yield* Effect.forEach(tasks, (t) =>
          inLane(t, Effect.uninterruptible((options.onStart?.(t.steps) ?? Effect.void).pipe(Effect.andThen(t.run), Effect.flatMap(record)))), {
          concurrency: options.parallel === undefined ? "unbounded" : Math.max(1, options.parallel),
          discard: true
        })
        const toCheck = yield* Ref.get(pending)
        const verified = toCheck.length > 0 ? yield* verify(toCheck, yield* Ref.get(lastLaunch), options.settle) : []
        const checked = yield* readiness(verified)
        // Recorded as done before anything can be interrupted: a launched session is never "not run".
        yield* Effect.uninterruptible(
          Ref.update(done, (all) => [...all, ...checked]).pipe(
            Effect.andThen(Ref.set(pending, [])),
            Effect.andThen(Effect.forEach(checked, (r) => options.onResult?.(r) ?? Effect.void, { discard: true }))
          )
        )
        // Without a post-launch check, launches were emitted at once: their readiness is waited for here.
        const inPhase = new Set(runnable)
        const checkedNow = new Set(checked)
        const unchecked = (yield* Ref.get(done)).filter((r) => inPhase.has(r.step) && launchesSession(r.step) && !checkedNow.has(r))
        const late = settleMs > 0 ? [] : yield* readiness(unchecked)
        for (const r of late) {
          if (r.error !== null) yield* Ref.update(done, (all) => all.map((x) => (x.step === r.step ? r : x)))
        }
        for (const r of (yield* Ref.get(done)).filter((r) => inPhase.has(r.step))) {
          if (r.error !== null) failed.set(r.step.session, r.error._tag === "SessionNotReady" ? `not ready: ${r.error.detail}` : "failed")
        }
      })
    const run = Effect.gen(function*() {
      for (const phase of phases) yield* runPhase(phase)
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
