/**
 * The pipeline as a library: config → observe → pure plan, and `apply` / `down` (lock + plan +
 * execute + report). The CLI only renders what these return and report through their callbacks.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { purgeLog } from "../logs/files.js"
import type { HostLogFile } from "../logs/target.js"
import { hostLogFiles, LogDirectory, sessionLogFiles } from "../logs/target.js"
import { isOurs } from "../model.js"
import type { Place } from "../place.js"
import { hostField, placeOf } from "../place.js"
import { Backends } from "../backends/registry.js"
import { closestNames } from "../config/decode/issues.js"
import { KstlibConfig } from "../config/service.js"
import type { LoadedConfig } from "../config/types.js"
import type { ApplyLocked, FailedStep, LockFailed } from "../errors.js"
import { ConfigNotFound, SessionNotInConfig, StepsFailed } from "../errors.js"
import type { ExecuteOptions, ExecuteReport } from "./execute.js"
import { defaultSettle, execute } from "./execute.js"
import { LockDirectory, lockPathIn, withApplyLock } from "./lock.js"
import { EnvDigests } from "../spec/digest-key.js"
import type { Observation } from "./observe.js"
import { configSockets, observe, planInputs } from "./observe.js"
import type { Plan } from "./plan.js"
import { actionOf, hasChanges, holdsSession, plan, planDown } from "./plan.js"
import { causeOf } from "./render.js"

export interface Planned {
  readonly plan: Plan
  readonly observation: Observation
}

export interface PlanRequest {
  readonly prune?: boolean
  /** Only these config sessions; a name not in the config is an error (with "did you mean"). */
  readonly only?: ReadonlyArray<string>
  /** Sessions not to launch while they do not run (the planner's `hold`: `ops watch`). */
  readonly hold?: ReadonlyArray<string>
}

/** Names of this project's sessions (a name of ours that left the config is still a valid target of --prune / down). */
const ourNames = (observation: Observation, project: string) => observation.sessions.filter((o) => isOurs(o, project)).map((o) => o.name)

/** No config file, no plan: planning against nothing would propose to remove everything. */
/**
 * Records the sessions a stop or down left stopped through kstlib (reconcile/holds.ts, read by
 * `ops watch`). Loaded on the first stop: importing kstlib does not load it.
 */
export const recordHolds = (project: string, report: ExecuteReport, ahead: ReadonlyArray<string> = []): Effect.Effect<void> =>
  Effect.flatMap(Effect.promise(() => import("./holds.js")), (h) => h.recordHolds(project, report, ahead))

/** Held before the plan runs (holds.ts `holdAhead`): a watcher never starts again a session while its requested stop is under way. */
export const holdAhead = (project: string, p: Plan): Effect.Effect<ReadonlyArray<string>> =>
  !p.steps.some(holdsSession) ? Effect.succeed([]) : Effect.flatMap(Effect.promise(() => import("./holds.js")), (h) => h.holdAhead(project, p))

export const requireConfigFile = (config: LoadedConfig) =>
  config.files.length === 0 ? Effect.fail(new ConfigNotFound({ path: null, searched: config.searched })) : Effect.void

/** Each name must be a config session (or, with `orphansToo`, one of this project's sessions). */
export const checkNames = (config: LoadedConfig, names: ReadonlyArray<string>, also: ReadonlyArray<string> = []) =>
  Effect.forEach(names, (name) => {
    const known = [...config.sessions.map((e) => e.name), ...also]
    if (known.includes(name)) return Effect.void
    return Effect.fail(new SessionNotInConfig({ session: name, suggestions: closestNames(name, known), hint: "" }))
  }, { discard: true })

export const planFromConfig = (request: PlanRequest = {}): Effect.Effect<Planned, ConfigNotFound | SessionNotInConfig, Backends | KstlibConfig> =>
  Effect.gen(function*() {
    const config = yield* KstlibConfig
    yield* requireConfigFile(config)
    const observation = yield* observe({ sockets: configSockets(config) })
    const only = request.only ?? []
    const ours = ourNames(observation, config.project)
    // With --prune, a name of ours that left the config is fine: pruning it is the point.
    yield* checkNames(config, only, request.prune === true ? ours : [])
    return {
      plan: plan(config.sessions, observation.sessions, {
        prune: request.prune ?? false,
        only,
        project: config.project,
        ...planInputs(observation),
        digest: yield* EnvDigests,
        ...(request.hold === undefined ? {} : { hold: request.hold })
      }),
      observation
    }
  })

export interface ApplyOptions extends Partial<Omit<ExecuteOptions, "onStart" | "onResult" | "onInterrupt">> {
  /** Wait for another apply on the same config instead of failing with ApplyLocked (CLI `--wait-lock`). */
  readonly waitLock?: boolean
  /** Called with the plan before anything runs (not called when nothing would change). */
  readonly onPlan?: (planned: Planned) => Effect.Effect<void>
  readonly onStart?: ExecuteOptions["onStart"]
  readonly onResult?: ExecuteOptions["onResult"]
  readonly onInterrupt?: ExecuteOptions["onInterrupt"]
}

/** What `apply` and `down` return: the plan they made, and what running it did. */
export interface ApplyReport {
  readonly planned: Planned
  /** null when the plan had nothing to do. */
  readonly report: ExecuteReport | null
  /** `down` with `volumes`: the declared volumes removed (engine names). */
  readonly volumes?: ReadonlyArray<string>
}

export interface DownOptions extends ApplyOptions {
  /** Also remove the project's declared volumes (`ops.volumes`) once nothing uses them: `down --volumes`. */
  readonly volumes?: boolean
}

/** @deprecated The same as {@link ApplyReport} (its first name). */
export type ApplyResult = ApplyReport

/**
 * The steps of a report that did not succeed: failed, not run (interrupted, or a dependency failed),
 * and the plan's blocked steps (conflict, invalid), which never run. Empty: everything converged.
 */
export const failedSteps = (result: ApplyReport): ReadonlyArray<FailedStep> => [
  ...result.planned.plan.steps
    .filter((s) => s._tag === "Conflict" || s._tag === "Invalid")
    .map((s) => ({ session: s.session, action: actionOf(s), reason: causeOf(s) })),
  ...(result.report?.results ?? []).flatMap((r) =>
    r.error === null ? [] : [{ session: r.step.session, action: actionOf(r.step), reason: r.error.message }]
  ),
  ...(result.report?.notRun ?? []).map((s) => ({ session: s.session, action: actionOf(s), reason: "not run" }))
]

/** The report when every step succeeded, else a typed `StepsFailed` naming each step that did not. */
export const requireSuccess = (result: ApplyReport): Effect.Effect<ApplyReport, StepsFailed> => {
  const steps = failedSteps(result)
  const interrupted = result.report?.interrupted ?? false
  return steps.length === 0 && !interrupted ? Effect.succeed(result) : Effect.fail(new StepsFailed({ steps, interrupted }))
}

const executeOptions = (options: ApplyOptions): ExecuteOptions => ({
  ...(options.parallel === undefined ? {} : { parallel: options.parallel }),
  settle: options.settle ?? defaultSettle,
  ...(options.stopTimeout === undefined ? {} : { stopTimeout: options.stopTimeout }),
  ...(options.waitReady === undefined ? {} : { waitReady: options.waitReady }),
  ...(options.onStart === undefined ? {} : { onStart: options.onStart }),
  ...(options.onResult === undefined ? {} : { onResult: options.onResult }),
  ...(options.onInterrupt === undefined ? {} : { onInterrupt: options.onInterrupt })
})

/** Holds the config's apply lock around `self`. */
const locked = <A, E, R>(config: LoadedConfig, wait: boolean, self: Effect.Effect<A, E, R>) =>
  Effect.scoped(Effect.flatMap(LockDirectory, (dir) => withApplyLock(lockPathIn({ files: config.files, project: config.project }, dir), { wait })).pipe(Effect.andThen(self)))

/** What `apply` and `down` can fail with: no config file, a name not in it, the lock held or not takeable. */
export type ConvergeError = ConfigNotFound | SessionNotInConfig | ApplyLocked | LockFailed

/**
 * Under the config's lock: plan (with `planning`), and unless nothing would change, report the plan
 * and execute it; then `after`, changes or not.
 */
const converge = (
  planning: Effect.Effect<Planned, ConfigNotFound | SessionNotInConfig, Backends | KstlibConfig>,
  options: ApplyOptions,
  after: (planned: Planned) => Effect.Effect<void, never, Backends> = () => Effect.void
): Effect.Effect<ApplyReport, ConvergeError, Backends | KstlibConfig> =>
  Effect.gen(function*() {
    const config = yield* KstlibConfig
    yield* requireConfigFile(config)
    return yield* locked(config, options.waitLock ?? false, Effect.gen(function*() {
      const planned = yield* planning
      if (!hasChanges(planned.plan)) {
        yield* after(planned)
        return { planned, report: null }
      }
      yield* options.onPlan?.(planned) ?? Effect.void
      const ahead = yield* holdAhead(config.project, planned.plan)
      const report = yield* execute(planned.plan, executeOptions(options))
      yield* recordHolds(config.project, report, ahead)
      yield* after(planned)
      return { planned, report }
    }))
  })

/** `kstlib ops apply`: lock, plan, execute, report. */
export const apply = (request: PlanRequest = {}, options: ApplyOptions = {}): Effect.Effect<ApplyReport, ConvergeError, Backends | KstlibConfig> =>
  converge(planFromConfig(request), options)

/** `kstlib ops down [NAME...]`: plan the removal of this project's sessions (never another's). */
export const planDownFromConfig = (only: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const config = yield* KstlibConfig
    yield* requireConfigFile(config)
    const observation = yield* observe({ sockets: configSockets(config) })
    const ours = ourNames(observation, config.project)
    yield* checkNames(config, only, ours)
    return { plan: planDown(observation.sessions, { project: config.project, only }), observation } satisfies Planned
  })

/**
 * The engines that answered, as places: where a whole-project `down` removes the project's own
 * network when it is empty, also when `ops stop` had already deleted its last container.
 */
const answeredEngines = (observation: Observation): ReadonlyArray<Place> =>
  observation.answered.flatMap((s) =>
    s.backend === "container" && s.runtime !== undefined ? [{ backend: "container" as const, runtime: s.runtime, ...hostField(s.host) }] : []
  )

/** `kstlib ops down [NAME...]`: lock, plan the removal of this project's sessions, execute, report; a whole-project down then removes the project's empty network. */
export const down = (only: ReadonlyArray<string> = [], options: DownOptions = {}): Effect.Effect<ApplyReport, ConvergeError, Backends | KstlibConfig> =>
  Effect.flatMap(KstlibConfig, (config) => {
    let volumes: ReadonlyArray<string> = []
    return converge(planDownFromConfig(only), options, (planned) =>
      only.length === 0
        ? Effect.flatMap(Backends, (b) =>
          b.releaseNetworks(answeredEngines(planned.observation), config.project).pipe(
            Effect.andThen(options.volumes === true ? b.releaseVolumes(answeredEngines(planned.observation), config.project) : Effect.succeed([])),
            Effect.map((removed) => void (volumes = removed))
          ))
        : Effect.void).pipe(Effect.map((r) => (options.volumes === true ? { ...r, volumes } : r)))
  })


/**
 * `down --purge-logs`: the log files (with their rotated copies) of the project's sessions, or of
 * `only`: each config session's file, and the project's default directory (sessions that left the
 * config). Only after a down that succeeded; nothing else removes log files.
 */
export const purgeLogs = (only: ReadonlyArray<string> = []): Effect.Effect<PurgedLogs, never, KstlibConfig | Backends> =>
  Effect.gen(function*() {
    const config = yield* KstlibConfig
    const dir = yield* LogDirectory
    const picked = (name: string) => only.length === 0 || only.includes(name)
    const files = new Set<string>()
    // tmux sessions on hosts write their files there: one call per host
    const onHosts = new Map<string, { readonly place: Place; readonly files: Array<HostLogFile> }>()
    for (const e of config.sessions) {
      if (e._tag !== "Valid" || !picked(e.name)) continue
      for (const f of sessionLogFiles(e.spec, config.project, dir)) files.add(f.path)
      if (e.spec.backend === "tmux" && e.spec.host !== undefined) {
        const there = onHosts.get(e.spec.host) ?? { place: placeOf(e.spec), files: [] as Array<HostLogFile> }
        there.files.push(...hostLogFiles(e.spec, config.project))
        onHosts.set(e.spec.host, there)
      }
    }
    const backends = yield* Backends
    const remote = yield* Effect.forEach([...onHosts], ([host, { place, files: theirs }]) =>
      backends.purgeHostLogs(place, theirs).pipe(
        Effect.map((paths) => ({ host, paths, failed: null as string | null })),
        Effect.catch((e) => Effect.succeed({ host, paths: [] as ReadonlyArray<string>, failed: e.message }))
      ), { concurrency: "unbounded" })
    const projectDir = dir === null ? null : path.join(dir, config.project)
    if (projectDir !== null) {
      const names = yield* Effect.sync(() => {
        try {
          return fs.readdirSync(projectDir)
        } catch {
          return []
        }
      })
      for (const n of names) {
        // NAME.log, or a pane's NAME.WINDOW.N.log (session names have no dots)
        const m = /^(([^.]+)(?:\.[^.]+\.\d+)?)\.log(?:\.\d+)?$/u.exec(n)
        if (m !== null && picked(m[2]!)) files.add(path.join(projectDir, `${m[1]}.log`))
      }
    }
    const removed: Array<string> = []
    for (const f of files) removed.push(...(yield* purgeLog(f)))
    // the project's directory too, once empty (a file of someone else's stays, and so does it)
    if (projectDir !== null) yield* Effect.try(() => fs.rmdirSync(projectDir)).pipe(Effect.ignore)
    for (const r of remote) removed.push(...r.paths.map((p) => `${r.host}:${p}`))
    return { removed, kept: remote.flatMap((r) => (r.failed === null ? [] : [{ host: r.host, reason: r.failed }])) }
  })

/** What `down --purge-logs` removed (a host's files as `HOST:PATH`), and the hosts whose files stayed (unreachable). */
export interface PurgedLogs {
  readonly removed: ReadonlyArray<string>
  readonly kept: ReadonlyArray<{ readonly host: string; readonly reason: string }>
}
