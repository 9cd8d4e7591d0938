/**
 * `kstlib ops watch`: the reconciler in a loop. It converges at start, then again whenever
 * something may have drifted: a config input changed (debounced), an engine or tmux said a session
 * came or went, a crash-loop wait ended, or the slow periodic pass came (the safety net). Each pass
 * loads the config afresh and runs observe → plan → execute under the project's apply lock, as
 * `apply` does: the loop decides nothing the planner does not. What it adds is what only a
 * long-lived process can know, handed to the planner as its `hold` (sessions not launched now):
 *   - sessions the user stopped through kstlib (reconcile/holds.ts);
 *   - sessions in a crash loop, waiting out their backoff (backoff.ts);
 *   - tmux sessions whose pane ended under a restart policy: tmux's own supervisor decides (it
 *     restarts them, or it gave up at max_restarts), the watcher never fights it.
 * One watcher per config and project (its own lock file, held for its whole life).
 */
import { Cause, Duration, Effect, Fiber, Queue } from "effect"
import { nextCron, parseCron } from "../config/rules.js"
import { loadConfig } from "../config/load.js"
import type { LoadedConfig, LoadOptions } from "../config/types.js"
import { WatchRunning } from "../errors.js"
import { layerNodeWith } from "../layer.js"
import type { ObservedSession } from "../model.js"
import { isOurs, restartPolicy } from "../model.js"
import type { StepResult } from "../reconcile/execute.js"
import { execute } from "../reconcile/execute.js"
import { currentHolds, recordHolds } from "../reconcile/holds.js"
import { lockPathFor, withApplyLock } from "../reconcile/lock.js"
import { configSockets, observe, planInputs } from "../reconcile/observe.js"
import type { Plan } from "../reconcile/plan.js"
import { hasChanges, launchesSession, plan, planRestartInPlace } from "../reconcile/plan.js"
import { checkNames, requireConfigFile } from "../reconcile/reconciler.js"
import { EnvDigests } from "../spec/digest-key.js"
import type { Backoffs } from "./backoff.js"
import { launched, nextWake, relaunch, waiting } from "./backoff.js"
import type { Nudge } from "./events.js"
import { engineEvents, tmuxEvents } from "./events.js"
import { watchInputs } from "./inputs.js"
import { formatBytes, treeRss } from "../system/process-usage.js"

export type ChangeSource = "start" | "config" | "engine" | "tmux" | "periodic" | "backoff" | "cron" | "memory"

export type WatchEvent =
  | { readonly event: "watching"; readonly pid: number; readonly project: string; readonly inputs: ReadonlyArray<string>; readonly interval_s: number }
  | { readonly event: "change"; readonly source: ChangeSource; readonly detail: string }
  | { readonly event: "plan"; readonly plan: Plan }
  | { readonly event: "step"; readonly result: StepResult }
  | { readonly event: "backoff"; readonly session: string; readonly failures: number; readonly wait_ms: number }
  /** A restart the watcher enforces: `cron_restart` came, or `max_memory` was exceeded. */
  | { readonly event: "restart"; readonly session: string; readonly reason: "cron" | "memory"; readonly detail: string }
  | { readonly event: "error"; readonly message: string }

export interface WatchOptions {
  readonly load: LoadOptions
  /** Only these config sessions (empty: all). */
  readonly only: ReadonlyArray<string>
  /** The safety net: a pass at least this often, whatever the events said. */
  readonly interval: Duration.Duration
  /** Quiet time after a change before the pass (an editor's save is several events). */
  readonly debounce: Duration.Duration
  readonly settle: Duration.Input
  /** A graceful stop's wait; undefined: each session's stop_timeout. */
  readonly stopTimeout?: number | undefined
  readonly emit: (e: WatchEvent) => Effect.Effect<void>
}

const causeText = (cause: Cause.Cause<unknown>): string => {
  const e = Cause.squash(cause)
  return e instanceof Error && e.message !== "" ? e.message : Cause.pretty(cause)
}

type Trigger = { readonly source: ChangeSource; readonly detail: string; readonly restart?: string }

/** How often the RSS of sessions with `max_memory` is read (one /proc scan for all of them). */
const MEMORY_EVERY = Duration.seconds(5)

/** The valid config sessions (of `only`) with a cron_restart / max_memory, with their specs. */
const enforced = (config: LoadedConfig, only: ReadonlyArray<string>) =>
  config.sessions.flatMap((e) => (e._tag === "Valid" && (only.length === 0 || only.includes(e.name)) && e.spec.state === "running" ? [e.spec] : []))

/** The lock that keeps a second watcher off this config: next to the apply lock, named `watch-…`. */
export const watchLockPathFor = (config: Pick<LoadedConfig, "files" | "project">, env: Readonly<Record<string, string | undefined>>) =>
  lockPathFor(config, env).replace(/apply-([0-9a-f]+)\.lock$/u, "watch-$1.lock")

/** tmux sessions of ours whose pane ended under a restart policy: their supervisor (tmux's pane-died hook) decides. */
export const supervisedExits = (config: LoadedConfig, observed: ReadonlyArray<ObservedSession>): ReadonlyArray<string> =>
  config.sessions.flatMap((e) =>
    e._tag === "Valid" && e.spec.backend === "tmux" && restartPolicy(e.spec) !== "no" &&
      observed.some((o) => o.name === e.name && o.backend === "tmux" && o.state === "exited" && isOurs(o, config.project))
      ? [e.name]
      : []
  )

/** Where events come from for this config: local engines with container sessions, tmux sockets with tmux sessions. */
const sourcesOf = (config: LoadedConfig) => {
  const local = config.sessions.flatMap((e) => (e._tag === "Valid" && e.spec.host === undefined ? [e.spec] : []))
  const engines = new Set<string>()
  for (const s of local) {
    if (s.backend === "container" && s.runtime !== "swarm") {
      // auto-detected: both engines are listened to (a nudge costs one observe)
      for (const r of s.runtime === null ? [config.container_runtime ?? "podman", config.container_runtime ?? "docker"] : [s.runtime]) engines.add(r)
    }
  }
  const sockets = new Set(local.flatMap((s) => (s.backend === "tmux" ? [s.socket_name] : [])))
  return { engines: [...engines].sort(), sockets: [...sockets], tmux: config.tmux_binary }
}

export const watch = (options: WatchOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const first = yield* loadConfig(options.load)
    yield* requireConfigFile(first)
    yield* checkNames(first, options.only)
    const lockFile = watchLockPathFor(first, process.env)
    yield* withApplyLock(lockFile, { wait: false, role: "watch" }).pipe(
      Effect.catchTag("ApplyLocked", (e) => Effect.fail(new WatchRunning({ lockFile, pid: e.pid })))
    )
    const triggers = yield* Queue.unbounded<Trigger>()
    const nudges = yield* Queue.unbounded<Nudge>()
    const kick = yield* Queue.sliding<void>(1)
    const scope = yield* Effect.scope
    const inputs = yield* watchInputs((file) => void Queue.offerUnsafe(triggers, { source: "config", detail: file }))

    // nudges from the event sources become triggers
    yield* Queue.take(nudges).pipe(
      Effect.flatMap((n) => Queue.offer(triggers, { source: n.source, detail: n.source === "engine" ? `${n.runtime}: ${n.detail}` : `tmux: ${n.detail}` })),
      Effect.forever,
      Effect.forkIn(scope)
    )
    // the safety net
    yield* Effect.sleep(options.interval).pipe(
      Effect.andThen(Queue.offer(triggers, { source: "periodic", detail: `every ${Duration.format(options.interval)}` })),
      Effect.forever,
      Effect.forkIn(scope)
    )

    let sourcesKey = ""
    let sources: Fiber.Fiber<unknown> | null = null
    const updateSources = (config: LoadedConfig) =>
      Effect.gen(function*() {
        const s = sourcesOf(config)
        const key = JSON.stringify(s)
        if (key === sourcesKey) return
        sourcesKey = key
        if (sources !== null) yield* Fiber.interrupt(sources)
        sources = yield* Effect.all([
          ...s.engines.map((r) => engineEvents(r, config.project, nudges)),
          ...s.sockets.map((socket) => tmuxEvents(s.tmux, socket, config.project, nudges, kick, options.interval))
        ], { concurrency: "unbounded", discard: true }).pipe(Effect.forkIn(scope))
      })

    let backoffs: Backoffs = new Map()
    let wake: Fiber.Fiber<unknown> | null = null
    const scheduleWake = Effect.gen(function*() {
      if (wake !== null) yield* Fiber.interrupt(wake)
      const at = nextWake(backoffs, Date.now())
      wake = at === null ? null : yield* Effect.sleep(Duration.millis(at - Date.now())).pipe(
        Effect.andThen(Queue.offer(triggers, { source: "backoff", detail: "a crash-loop wait ended" })),
        Effect.forkIn(scope)
      )
    })

    /** Sessions of ours seen by the last pass (for the memory readings). */
    let lastSeen: ReadonlyArray<ObservedSession> = []

    /** A restart of a running session of ours, as the planner words it (the same in-place restart as `restart NAME`). */
    const restartInPlace = (o: ObservedSession, project: string, reason: "cron" | "memory", detail: string) =>
      Effect.gen(function*() {
        yield* options.emit({ event: "restart", session: o.name, reason, detail })
        const planned = planRestartInPlace(o, project)
        for (const p of [planned.stop, planned.start]) {
          if (!hasChanges(p)) continue
          yield* options.emit({ event: "plan", plan: p })
          yield* execute(p, { parallel: 1, settle: options.settle, stopTimeout: options.stopTimeout, onResult: (r) => options.emit({ event: "step", result: r }) })
        }
      })

    /** observe → plan (with the holds) → execute, under the apply lock; then the restarts asked for. */
    const converge = (config: LoadedConfig, restarts: ReadonlyArray<Trigger>) =>
      Effect.scoped(Effect.gen(function*() {
        yield* withApplyLock(lockPathFor(config, process.env), { wait: true, role: "watch" })
        const observation = yield* observe({ sockets: configSockets(config) })
        lastSeen = observation.sessions.filter((o) => isOurs(o, config.project))
        const wanted = enforced(config, options.only)
        for (const t of restarts) {
          const o = lastSeen.find((x) => x.name === t.restart && x.state === "running")
          if (o === undefined || !wanted.some((s) => s.name === o.name)) continue
          if (t.source === "memory") {
            // a process that is over its limit again soon after its restart backs off like a crash loop
            if (waiting(backoffs, Date.now()).includes(o.name)) continue
            const r = relaunch(backoffs, o.name, Date.now())
            backoffs = r.next
            if (r.waitMs !== null) {
              yield* options.emit({ event: "backoff", session: o.name, failures: backoffs.get(o.name)?.failures ?? 1, wait_ms: r.waitMs })
              continue
            }
          }
          yield* restartInPlace(o, config.project, t.source === "memory" ? "memory" : "cron", t.detail)
          backoffs = launched(backoffs, o.name, Date.now())
        }
        const digest = yield* EnvDigests
        const now = Date.now()
        const held = yield* currentHolds(config.project)
        const planWith = (extra: ReadonlyArray<string>) =>
          plan(config.sessions, observation.sessions, {
            prune: false,
            only: options.only,
            project: config.project,
            ...planInputs(observation),
            digest,
            hold: [...held, ...waiting(backoffs, now), ...supervisedExits(config, observation.sessions), ...extra]
          })
        let p = planWith([])
        const crashing: Array<string> = []
        for (const s of p.steps) {
          // a crash is a process that ended (a session removed by hand is recreated at once)
          if (s._tag !== "Start" || s.reason !== "exited") continue
          const r = relaunch(backoffs, s.session, now)
          backoffs = r.next
          if (r.waitMs === null) continue
          crashing.push(s.session)
          yield* options.emit({ event: "backoff", session: s.session, failures: backoffs.get(s.session)?.failures ?? 1, wait_ms: r.waitMs })
        }
        if (crashing.length > 0) p = planWith(crashing)
        if (!hasChanges(p)) return
        yield* options.emit({ event: "plan", plan: p })
        const report = yield* execute(p, { settle: options.settle, stopTimeout: options.stopTimeout, onResult: (r) => options.emit({ event: "step", result: r }) })
        yield* recordHolds(config.project, report)
        for (const r of report.results) if (r.error === null && launchesSession(r.step)) backoffs = launched(backoffs, r.step.session, Date.now())
      }))

    // cron_restart: one timer for the earliest next run of any session's schedule
    let cronTimer: Fiber.Fiber<unknown> | null = null
    const scheduleCron = (config: LoadedConfig) =>
      Effect.gen(function*() {
        if (cronTimer !== null) yield* Fiber.interrupt(cronTimer)
        cronTimer = null
        const now = new Date()
        const next = enforced(config, options.only).flatMap((s) => {
          const c = s.cron_restart === undefined ? null : parseCron(s.cron_restart)
          const at = c === null || typeof c === "string" ? null : nextCron(c, now)
          return at === null ? [] : [{ session: s.name, at, expression: s.cron_restart! }]
        })
        if (next.length === 0) return
        const at = Math.min(...next.map((n) => n.at.getTime()))
        cronTimer = yield* Effect.sleep(Duration.millis(Math.max(0, at - Date.now()))).pipe(
          Effect.andThen(Effect.forEach(next.filter((n) => n.at.getTime() === at), (n) =>
            Queue.offer(triggers, { source: "cron", detail: `${n.session}: cron_restart ${n.expression}`, restart: n.session }))),
          Effect.forkIn(scope)
        )
      })

    // max_memory: the RSS of each such session's process tree (this machine only), every few seconds
    let memoryLimits: ReadonlyMap<string, number> = new Map()
    yield* Effect.sync(() => {
      const limited = lastSeen.flatMap((o) => {
        const max = memoryLimits.get(o.name)
        return max === undefined || o.pid === null || o.host !== undefined || o.state !== "running" ? [] : [{ o, max, pid: o.pid }]
      })
      const rss = treeRss(limited.map((l) => l.pid))
      return limited.flatMap((l) => {
        const used = rss.get(l.pid)
        return used !== undefined && used > l.max ? [{ session: l.o.name, detail: `${l.o.name}: RSS ${formatBytes(used)} > max_memory ${formatBytes(l.max)}` }] : []
      })
    }).pipe(
      Effect.flatMap((over) => Effect.forEach(over, (x) => Queue.offer(triggers, { source: "memory", detail: x.detail, restart: x.session }))),
      Effect.delay(MEMORY_EVERY),
      Effect.forever,
      Effect.forkIn(scope)
    )

    const pass = (restarts: ReadonlyArray<Trigger>) => Effect.gen(function*() {
      const loaded = yield* Effect.result(loadConfig(options.load))
      if (loaded._tag === "Failure") return yield* options.emit({ event: "error", message: `config not applied: ${loaded.failure.message}` })
      const config = loaded.success
      yield* inputs.update(config.inputs ?? config.files)
      yield* updateSources(config)
      memoryLimits = new Map(enforced(config, options.only).flatMap((s) => (s.max_memory === undefined ? [] : [[s.name, s.max_memory] as const])))
      yield* converge(config, restarts).pipe(
        Effect.provide(layerNodeWith(config)),
        // a pass that failed (lock refused by the file system, a defect) is reported; the next trigger tries again
        Effect.catchCause((cause) => (Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : options.emit({ event: "error", message: causeText(cause) })))
      )
      yield* Queue.offer(kick, undefined)
      yield* scheduleWake
      yield* scheduleCron(config)
    })

    yield* options.emit({ event: "watching", pid: process.pid, project: first.project, inputs: first.inputs ?? first.files, interval_s: Duration.toSeconds(options.interval) })
    yield* options.emit({ event: "change", source: "start", detail: "converging" })
    yield* pass([])
    return yield* Effect.gen(function*() {
      const t = yield* Queue.take(triggers)
      // quiet time: the rest of a burst (an editor's save, an engine's die/stop/remove) joins this pass
      yield* Effect.sleep(t.source === "config" ? options.debounce : Duration.millis(50))
      const more = yield* Queue.clear(triggers)
      const all = [t, ...more]
      const config = all.find((x) => x.source === "config")
      const shown = config ?? t
      yield* options.emit({ event: "change", source: shown.source, detail: shown.detail + (all.length > 1 ? ` (+${all.length - 1} more)` : "") })
      yield* pass(all.filter((x) => x.restart !== undefined))
    }).pipe(Effect.forever)
  }))
