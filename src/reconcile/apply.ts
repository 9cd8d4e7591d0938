/**
 * The executor: runs a plan's steps and reports one result per step. It makes no decisions (the plan
 * did); it batches all tmux creations on a socket into one tmux call, runs the rest with bounded
 * concurrency, never stops at the first failure, and lets running steps finish when interrupted.
 */
import { Duration, Effect, Ref, Result } from "effect"
import { Containers } from "../backends/container.js"
import { logsOf, stopObserved } from "../backends/observed.js"
import { Tmux } from "../backends/tmux.js"
import type { KstlibError } from "../errors.js"
import { SessionStartFailed } from "../errors.js"
import type { ContainerSpec, ObservedSession, TmuxSpec } from "../model.js"
import type { Plan, Step } from "./plan.js"
import { isActionable, sameSlot } from "./plan.js"

export interface StepResult {
  readonly step: Step
  /** null on success. */
  readonly error: KstlibError | null
  readonly durationMs: number
}

export interface ApplyOptions {
  /** Steps (or tmux batches) in flight at once. */
  readonly parallel: number
  /** How long a new process must survive to count as started. */
  readonly settle: Duration.Input
  /** Seconds a graceful stop waits before killing. */
  readonly stopTimeout: number
  /** Called as each step finishes (progress lines). */
  readonly onResult?: (r: StepResult) => Effect.Effect<void>
}

interface Task {
  readonly steps: ReadonlyArray<Step>
  readonly run: Effect.Effect<ReadonlyArray<StepResult>, never, Tmux | Containers>
}

const elapsed = (start: number) => Math.round(performance.now() - start)

/** Stops and removes an existing instance (graceful first): the first half of replace, and prune/stop. */
const removeInstance = (o: ObservedSession, stopTimeout: number) =>
  Effect.gen(function*() {
    if (o.backend === "tmux") {
      const tmux = yield* Tmux
      yield* tmux.stop(o.name, o.socket_name, { timeout: stopTimeout }).pipe(Effect.catchTag("SessionNotFound", () => Effect.void))
    } else {
      const containers = yield* Containers
      // Owned containers are removed by stop; a stopped one still needs removing.
      yield* containers.stop(o.name, o.runtime!, { timeout: stopTimeout }).pipe(Effect.catchTag("SessionNotFound", () => Effect.void))
      yield* containers.remove(o.name, o.runtime!).pipe(Effect.catchTag("SessionNotFound", () => Effect.void))
    }
  })

const single = (step: Step, options: ApplyOptions): Task => {
  const body: Effect.Effect<void, KstlibError, Tmux | Containers> = Effect.gen(function*() {
    switch (step.action) {
      case "create":
      case "replace": {
        yield* Effect.forEach(step.targets, (o) => removeInstance(o, options.stopTimeout), { discard: true })
        const spec = step.spec as ContainerSpec
        yield* (yield* Containers).start(spec, spec.runtime!, { settle: 0 })
        return
      }
      case "start": {
        const spec = step.spec!
        if (spec.backend === "tmux") {
          yield* (yield* Tmux).respawn(spec, { settle: 0 })
        } else {
          yield* (yield* Containers).restart(spec.name, spec.runtime!, { settle: 0 })
        }
        return
      }
      case "stop":
        yield* Effect.forEach(step.targets, (o) => stopObserved(o, { timeout: options.stopTimeout }), { discard: true })
        return
      case "prune":
        yield* Effect.forEach(step.targets, (o) => removeInstance(o, options.stopTimeout), { discard: true })
        return
      case "conflict":
      case "invalid":
        return
    }
  })
  return {
    steps: [step],
    run: Effect.gen(function*() {
      const start = performance.now()
      const r = yield* Effect.result(body)
      return [{ step, error: Result.isFailure(r) ? r.failure : null, durationMs: elapsed(start) }]
    })
  }
}

/** All tmux creations (create, and replace into tmux) on one socket: old instances removed, then ONE tmux call. */
const tmuxBatch = (steps: ReadonlyArray<Step>, options: ApplyOptions): Task => ({
  steps,
  run: Effect.gen(function*() {
    const start = performance.now()
    const tmux = yield* Tmux
    const removed = yield* Effect.forEach(steps, (s) =>
      Effect.result(Effect.forEach(s.targets, (o) => removeInstance(o, options.stopTimeout), { discard: true })).pipe(
        Effect.map((r) => ({ step: s, error: Result.isFailure(r) ? r.failure as KstlibError : null }))
      ), { concurrency: options.parallel })
    const ready = removed.filter((r) => r.error === null).map((r) => r.step)
    const failedEarly = removed.filter((r) => r.error !== null).map((r) => ({ ...r, durationMs: elapsed(start) }))
    if (ready.length === 0) return failedEarly
    const outcome = yield* Effect.result(tmux.start(ready.map((s) => s.spec as TmuxSpec), { settle: 0 }))
    const results: Array<StepResult> = ready.map((step, i) => {
      if (Result.isFailure(outcome)) return { step, error: outcome.failure, durationMs: elapsed(start) }
      const r = outcome.success[i]
      const error = r === undefined
        ? new SessionStartFailed({ session: step.session, backend: "tmux", reason: "no result from tmux", exitCode: null, output: "" })
        : Result.isFailure(r)
        ? r.failure
        : null
      return { step, error, durationMs: elapsed(start) }
    })
    return [...failedEarly, ...results]
  })
})

const isTmuxCreation = (s: Step) => (s.action === "create" || s.action === "replace") && s.spec?.backend === "tmux"

const tasksOf = (plan: Plan, options: ApplyOptions): ReadonlyArray<Task> => {
  const actionable = plan.steps.filter(isActionable)
  const bySocket = new Map<string, Array<Step>>()
  for (const s of actionable.filter(isTmuxCreation)) {
    const key = (s.spec as TmuxSpec).socket_name ?? "\u0000default"
    bySocket.set(key, [...(bySocket.get(key) ?? []), s])
  }
  return [
    ...[...bySocket.values()].map((steps) => tmuxBatch(steps, options)),
    ...actionable.filter((s) => !isTmuxCreation(s)).map((s) => single(s, options))
  ]
}

export interface ApplyReport {
  readonly results: ReadonlyArray<StepResult>
  /** Steps never launched because the run was interrupted. */
  readonly notRun: ReadonlyArray<Step>
  readonly interrupted: boolean
}

/** A launched step waiting for the settle check, and when its launch finished. */
interface Pending {
  readonly result: StepResult
  readonly at: number
}

const launches = (s: Step) => s.action === "create" || s.action === "replace" || s.action === "start"

/** The last lines a dead session printed, for the failure report; empty when they cannot be read. */
const lastOutput = (o: ObservedSession): Effect.Effect<string, never, Tmux | Containers> =>
  logsOf(o, { lines: 20 }).pipe(Effect.catch(() => Effect.succeed("")))

/**
 * One check for every session launched: after `settle`, one observation; a session whose process
 * has died (or vanished) is a failed step with its exit code and last output.
 */
const verify = (launched: ReadonlyArray<Pending>, since: number, settle: Duration.Input) =>
  Effect.gen(function*() {
    if (launched.length === 0) return []
    const wait = Duration.toMillis(Duration.fromInputUnsafe(settle)) - (performance.now() - since)
    if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
    const specs = launched.map((p) => p.result.step.spec!)
    const sockets = [...new Set(specs.flatMap((s) => (s.backend === "tmux" ? [s.socket_name] : [])))]
    const runtimes = [...new Set(specs.flatMap((s) => (s.backend === "container" && s.runtime !== null ? [s.runtime] : [])))]
    const tmux = yield* Tmux
    const containers = yield* Containers
    const [t, c] = yield* Effect.all([
      sockets.length === 0 ? Effect.succeed([]) : tmux.observe(sockets).pipe(Effect.catch(() => Effect.succeed([]))),
      runtimes.length === 0 ? Effect.succeed([]) : containers.observe(runtimes).pipe(Effect.catch(() => Effect.succeed([])))
    ], { concurrency: 2 })
    const seen: ReadonlyArray<ObservedSession> = [...t, ...c]
    const now = performance.now()
    return yield* Effect.forEach(launched, (pending) =>
      Effect.gen(function*() {
        // A launch is finished once it passed the check: its duration includes the wait.
        const r = { ...pending.result, durationMs: pending.result.durationMs + Math.round(now - pending.at) }
        const spec = r.step.spec!
        const o = seen.find((x) => sameSlot(spec, x))
        if (o !== undefined && o.state === "running") return r
        const output = o === undefined ? "" : yield* lastOutput(o)
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
 * stops new launches, waits for what is running, and `onInterrupt` gets the partial report.
 * Stops and prunes are reported as they finish; launches once the settle check has passed.
 */
export const execute = (
  plan: Plan,
  options: ApplyOptions & { readonly onInterrupt?: (report: ApplyReport) => Effect.Effect<void> }
): Effect.Effect<ApplyReport, never, Tmux | Containers> =>
  Effect.gen(function*() {
    const tasks = tasksOf(plan, options)
    const done = yield* Ref.make<ReadonlyArray<StepResult>>([])
    const pending = yield* Ref.make<ReadonlyArray<Pending>>([])
    const lastLaunch = yield* Ref.make(performance.now())
    const emit = (r: StepResult) => Ref.update(done, (all) => [...all, r]).pipe(Effect.andThen(options.onResult?.(r) ?? Effect.void))
    const record = (rs: ReadonlyArray<StepResult>) =>
      Effect.forEach(rs, (r) =>
        launches(r.step) && r.error === null
          ? Effect.suspend(() => {
            const at = performance.now()
            return Ref.update(pending, (p) => [...p, { result: r, at }]).pipe(Effect.andThen(Ref.set(lastLaunch, at)))
          })
          : emit(r), { discard: true })
    const report = (interrupted: boolean) =>
      Effect.gen(function*() {
        const results = [...(yield* Ref.get(done)), ...(interrupted ? (yield* Ref.get(pending)).map((p) => p.result) : [])]
        const finished = new Set(results.map((r) => r.step))
        return { results, notRun: tasks.flatMap((t) => t.steps).filter((s) => !finished.has(s)), interrupted }
      })
    yield* Effect.forEach(tasks, (t) => Effect.uninterruptible(t.run.pipe(Effect.flatMap(record))), {
      concurrency: Math.max(1, options.parallel),
      discard: true
    }).pipe(Effect.onInterrupt(() =>
      Effect.gen(function*() {
        // Launched but not yet checked: report them as they are (done, unverified) before the summary.
        for (const p of yield* Ref.get(pending)) yield* options.onResult?.(p.result) ?? Effect.void
        yield* options.onInterrupt?.(yield* report(true)) ?? Effect.void
      })
    ))
    const verified = yield* verify(yield* Ref.get(pending), yield* Ref.get(lastLaunch), options.settle)
    yield* Effect.forEach(verified, emit, { discard: true })
    return yield* report(false)
  })

/** How long a new process must survive to count as started. */
export const defaultSettle = Duration.millis(500)
