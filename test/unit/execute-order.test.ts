/**
 * depends_on and ready: on the in-memory backends — the planner's waves (pure) and the executor's
 * ordering: waves in order with the readiness wait between them, one launch call per socket and
 * wave, failed or never-ready dependencies blocking only their dependents, stops in reverse order.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import type { ReadySpec, SessionSpec } from "../../src/model.js"
import type { ExecuteOptions } from "../../src/reconcile/execute.js"
import { execute } from "../../src/reconcile/execute.js"
import { phaseSteps, plan, planDown } from "../../src/reconcile/plan.js"
import { planToJson, renderPlan } from "../../src/reconcile/render.js"
import { containerSpec, owned, planOptions, PROJECT, tmuxSpec, valid } from "../../src/testing/specs.js"
import type { Behavior } from "../../src/testing/memory.js"
import { MemoryProbe, memoryBackends } from "../../src/testing/memory.js"

const tcp = (port: number, over: Partial<ReadySpec> = {}): ReadySpec => ({ tcp: port, timeout: 10, interval: 1, ...over })
const options = (over: Partial<ExecuteOptions> = {}): ExecuteOptions => ({ parallel: 4, settle: 0, stopTimeout: 7, ...over })

const db = containerSpec("db", { ready: tcp(5432) })
const cache = containerSpec("cache")
const worker = tmuxSpec("worker", { depends_on: ["db"] })
const api = tmuxSpec("api", { depends_on: ["db", "cache"] })
const loner = tmuxSpec("loner")
const front = tmuxSpec("front", { depends_on: ["api"] })

const run = (specs: ReadonlyArray<SessionSpec>, behavior: Behavior = {}, over: Partial<ExecuteOptions> = {}, advance = 0) =>
  Effect.gen(function*() {
    const p = plan(specs.map((s) => valid(s)), [], planOptions())
    const fiber = yield* Effect.forkChild(execute(p, options(over)))
    if (advance > 0) {
      for (let i = 0; i < advance; i++) yield* TestClock.adjust("1 second")
    }
    const report = yield* Fiber.join(fiber)
    const probe = yield* MemoryProbe
    return { p, report, events: yield* Ref.get(probe.events), launches: yield* Ref.get(probe.launches) }
  }).pipe(Effect.provide(memoryBackends(behavior)))

describe("waves (pure)", () => {
  it("plan: the start order, wave by wave; independent sessions share the first wave", () => {
    const p = plan([db, cache, worker, api, loner, front].map((s) => valid(s)), [], planOptions())
    expect(p.order.waves).toEqual([["db", "cache", "loner"], ["worker", "api"], ["front"]])
    expect(planToJson(p).waves).toEqual([["db", "cache", "loner"], ["worker", "api"], ["front"]])
    expect(renderPlan(p, { colors: false } as never)).toContain("Order: db, cache, loner → worker, api → front")
  })

  it("no dependencies: one phase, as before", () => {
    const p = plan([db, cache, loner].map((s) => valid(s)), [], planOptions())
    expect(p.order.waves).toEqual([])
    expect(phaseSteps(p).map((ph) => ph.map((s) => s.session))).toEqual([["db", "cache", "loner"]])
  })

  it("a dependency that cannot run is unsatisfied: invalid, stopped, or not running and not started", () => {
    const stoppedDb = containerSpec("db", { state: "stopped" })
    const p = plan([valid(stoppedDb), valid(worker)], [], planOptions())
    expect(p.order.unsatisfied).toEqual({ db: "state: stopped" })
    const q = plan([valid(db), valid(worker)], [], planOptions({ only: ["worker"] }))
    expect(q.order.unsatisfied).toEqual({ db: "not running" })
    // running already (unchanged), with a probe: probed before worker starts
    const r = plan([valid(db), valid(worker)], [owned(db)], planOptions())
    expect(r.order.unsatisfied).toEqual({})
    expect(r.order.probes.map((x) => x.session)).toEqual(["db"])
  })

  it("stops and down go in reverse order (from the dependencies recorded at start)", () => {
    const p = planDown([owned(db), owned(worker), owned(loner)], { project: PROJECT, only: [] })
    expect(phaseSteps(p).map((ph) => ph.map((s) => s.session))).toEqual([["worker"], ["db", "loner"]])
  })
})

describe("executor: waves in order, readiness between them", () => {
  it.effect("a dependent starts only once its dependency is ready; tmux creations of one wave stay ONE launch call", () =>
    Effect.gen(function*() {
      const w2 = tmuxSpec("w2", { depends_on: ["db"] })
      const { report, events, launches } = yield* run([db, worker, w2, loner], { readyAfter: { db: "3 seconds" } }, {}, 6)
      expect(report.results.every((r) => r.error === null)).toBe(true)
      // wave 1: db and loner (each container alone, tmux together); db probed until ready; wave 2: both workers in ONE call
      expect(launches.map((l) => l.names)).toEqual([["db"], ["loner"]].concat([["worker", "w2"]]).sort((a, b) =>
        a[0] === "worker" ? 1 : b[0] === "worker" ? -1 : 0
      ))
      const firstWorker = events.indexOf("launch worker,w2")
      const lastProbe = events.lastIndexOf("probe db")
      expect(lastProbe).toBeGreaterThan(-1)
      expect(firstWorker).toBeGreaterThan(lastProbe)
      expect(events.filter((e) => e === "probe db").length).toBeGreaterThanOrEqual(3)
      const dbLaunch = launches.find((l) => l.names.includes("db"))!.at
      const workerLaunch = launches.find((l) => l.names.includes("worker"))!.at
      expect(workerLaunch - dbLaunch).toBeGreaterThanOrEqual(3000)
    }))

  it.effect("a failed dependency blocks only its dependents: not run (dependency X failed)", () =>
    Effect.gen(function*() {
      const { report } = yield* run([db, cache, worker, api, front, loner], { failLaunch: { cache: "no such image" } })
      const byName = Object.fromEntries(report.results.map((r) => [r.step.session, r.error?.message ?? "ok"]))
      expect(byName).toEqual({
        db: "ok",
        cache: expect.stringContaining("no such image"),
        loner: "ok",
        worker: "ok",
        api: "not run (dependency cache failed)",
        front: "not run (dependency api failed)"
      })
      expect(report.notRun).toEqual([])
    }))

  it.effect("a dependency that never becomes ready: it fails (with its output), its dependents are not run", () =>
    Effect.gen(function*() {
      const slow = containerSpec("db", { ready: tcp(5432, { timeout: 3 }) })
      const { report, launches } = yield* run([slow, worker, loner], { neverReady: { db: true } }, {}, 5)
      const dbResult = report.results.find((r) => r.step.session === "db")!
      expect(dbResult.error?._tag).toBe("SessionNotReady")
      expect(dbResult.error?.message).toBe("session 'db' not ready after 3s (tcp 5432: connection refused)")
      expect(report.results.find((r) => r.step.session === "worker")!.error?.message).toBe("not run (dependency db failed: not ready: connection refused)")
      expect(launches.flatMap((l) => l.names)).not.toContain("worker")
      expect(report.results.find((r) => r.step.session === "loner")!.error).toBeNull()
    }))

  it.effect("apply --wait (waitReady): every launched session with ready: is waited for, even without dependents", () =>
    Effect.gen(function*() {
      const lone = containerSpec("lone", { ready: tcp(1, { timeout: 2 }) })
      const { report } = yield* run([lone], { neverReady: { lone: true } }, { waitReady: true }, 3)
      expect(report.results[0]!.error?._tag).toBe("SessionNotReady")
      const { report: without } = yield* run([containerSpec("other", { ready: tcp(1) })], { neverReady: { other: true } })
      expect(without.results[0]!.error).toBeNull()
    }))

  it.effect("an unsatisfiable dependency (state: stopped) reports its dependents as not run", () =>
    Effect.gen(function*() {
      const { report, launches } = yield* run([containerSpec("db", { state: "stopped" }), worker, loner])
      expect(report.results.find((r) => r.step.session === "worker")!.error?.message).toBe("not run (dependency db failed: state: stopped)")
      expect(launches.flatMap((l) => l.names)).toEqual(["loner"])
    }))

  it.effect("stops go in reverse order: dependents first", () =>
    Effect.gen(function*() {
      const sessions = [owned(db), owned(worker), owned(loner)]
      const p = planDown(sessions, { project: PROJECT, only: [] })
      yield* execute(p, options())
      const events = yield* Ref.get((yield* MemoryProbe).events)
      expect(events.indexOf("remove worker")).toBeLessThan(events.indexOf("remove db"))
    }).pipe(Effect.provide(memoryBackends({}, [owned(db), owned(worker), owned(loner)]))))
})

