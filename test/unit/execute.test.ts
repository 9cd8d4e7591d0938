/**
 * The executor (and the per-session operations) on the in-memory backends: batching, partial
 * failure, the single post-launch check, conflicts/invalid never run, interrupts, bounded
 * concurrency, stop options and outcomes. Settle waits run on the TestClock (`it.effect`).
 */
import { describe, expect, it } from "@effect/vitest"
import type { Duration } from "effect"
import { Effect, Exit, Fiber, Layer, Ref } from "effect"
import { TestClock } from "effect/testing"
import { KstlibConfig } from "../../src/config/service.js"
import type { ConfigEntry, LoadedConfig } from "../../src/config/types.js"
import type { KstlibError } from "../../src/errors.js"
import type { ObservedSession, SessionSpec } from "../../src/model.js"
import type { ExecuteOptions, ExecuteReport, StepResult } from "../../src/reconcile/execute.js"
import { execute } from "../../src/reconcile/execute.js"
import type { Conflict, Create, Invalid, Plan, Prune, Replace, Start, Step, Stop } from "../../src/reconcile/plan.js"
import { makePlan, plan } from "../../src/reconcile/plan.js"
import * as Sessions from "../../src/session/operations.js"
import { stampOf } from "../../src/spec/fingerprint.js"
import { CONFIG_FILE, containerSpec, foreign, owned, planOptions, PROJECT, TEST_DIGEST, tmuxSpec, valid } from "../../src/testing/specs.js"
import type { Behavior, MemorySession } from "../../src/testing/memory.js"
import { MemoryProbe, memoryBackends } from "../../src/testing/memory.js"

// ---------------------------------------------------------------------------------------------
// steps and helpers
// ---------------------------------------------------------------------------------------------

const create = (spec: SessionSpec): Create => ({ _tag: "Create", session: spec.name, spec, reason: "not-running", stamp: stampOf(spec, TEST_DIGEST) })
const replace = (spec: SessionSpec, targets: ReadonlyArray<ObservedSession>): Replace => ({
  _tag: "Replace",
  session: spec.name,
  spec,
  targets,
  reason: "spec-changed",
  changes: [],
  stamp: stampOf(spec, TEST_DIGEST)
})
const start = (spec: SessionSpec, target: ObservedSession): Start => ({
  _tag: "Start",
  session: spec.name,
  spec,
  target,
  reason: "exited",
  stamp: stampOf(spec, TEST_DIGEST)
})
const stop = (target: ObservedSession, reason: Stop["reason"] = "desired-stopped"): Stop => ({ _tag: "Stop", session: target.name, target, reason })
const prune = (target: ObservedSession): Prune => ({ _tag: "Prune", session: target.name, target, reason: "not-in-config", current: null })
const conflict = (target: ObservedSession): Conflict => ({ _tag: "Conflict", session: target.name, target, reason: "not-managed" })
const invalid = (name: string): Invalid => ({
  _tag: "Invalid",
  session: name,
  backend: "tmux",
  reason: "tmux-missing",
  issues: [],
  runtime: null,
  scope: null
})

const planOf = (...steps: ReadonlyArray<Step>): Plan => makePlan(PROJECT, steps)

const options = (over: Partial<ExecuteOptions> = {}): ExecuteOptions => ({ parallel: 4, settle: 0, stopTimeout: 7, ...over })

/** The error as data (`_tag` + fields), for exact comparison. */
const data = (e: KstlibError | null): unknown => (e === null ? null : JSON.parse(JSON.stringify(e)))

const resultOf = (report: ExecuteReport, session: string, tag?: Step["_tag"]): StepResult => {
  const found = report.results.filter((r) => r.step.session === session && (tag === undefined || r.step._tag === tag))
  expect(found).toHaveLength(1)
  return found[0]!
}

/** What each step ended as, by session: `ok`, or the error's tag. */
const outcomes = (report: ExecuteReport): Record<string, string> =>
  Object.fromEntries(report.results.map((r) => [`${r.step._tag} ${r.step.session}`, r.error === null ? "ok" : r.error._tag]))

/** Runs `execute` while the TestClock advances by `advance` (the settle wait, hangs). */
const executeClocked = (p: Plan, opts: ExecuteOptions, advance: Duration.Input = "10 seconds") =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(execute(p, opts))
    yield* TestClock.adjust(advance)
    return yield* Fiber.join(fiber)
  })

const lines = (n: number, prefix = "line") => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`).join("\n")

const withMemory = (behavior: Behavior = {}, initial: ReadonlyArray<ObservedSession | MemorySession> = []) =>
  Effect.provide(memoryBackends(behavior, initial))

// ---------------------------------------------------------------------------------------------
// batching
// ---------------------------------------------------------------------------------------------

describe("batching", () => {
  it.effect("one launch call per tmux socket, every container alone", () =>
    Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const p = planOf(
        create(tmuxSpec("a1", { socket_name: "A" })),
        create(tmuxSpec("b1", { socket_name: "B" })),
        create(containerSpec("c1")),
        create(tmuxSpec("a2", { socket_name: "A" })),
        create(containerSpec("c2", { runtime: "docker" })),
        create(tmuxSpec("b2", { socket_name: "B" })),
        create(tmuxSpec("a3", { socket_name: "A" }))
      )
      const report = yield* execute(p, options())
      const calls = yield* Ref.get(probe.launches)
      expect(calls.map((c) => c.names).sort()).toEqual([["a1", "a2", "a3"], ["b1", "b2"], ["c1"], ["c2"]])
      expect(calls.map((c) => c.places).sort()).toEqual([
        ["docker"],
        ["podman"],
        ["tmux socket A", "tmux socket A", "tmux socket A"],
        ["tmux socket B", "tmux socket B"]
      ])
      expect(calls.every((c) => c.project === PROJECT)).toBe(true)
      expect(report.interrupted).toBe(false)
      expect(report.notRun).toEqual([])
      expect(report.results.map((r) => r.step.session).sort()).toEqual(["a1", "a2", "a3", "b1", "b2", "c1", "c2"])
      expect(report.results.every((r) => r.error === null && !r.unverified && r.observed === null && r.outcome === null)).toBe(true)
      // Every session was created, owned by the project.
      const sessions = yield* Ref.get(probe.sessions)
      expect(sessions.map((s) => s.observed.name).sort()).toEqual(["a1", "a2", "a3", "b1", "b2", "c1", "c2"])
      expect(sessions.every((s) => s.observed.mark.managed && s.observed.mark.project === PROJECT)).toBe(true)
    }).pipe(withMemory()))

  it.effect("replaces remove their old instances before the one launch of their batch", () => {
    const oldR = owned(tmuxSpec("r", { socket_name: "A", command: "old" }))
    // moved: the old copy lives on socket B, the new one goes to A
    const oldM = owned(tmuxSpec("m", { socket_name: "B" }))
    return Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const p = planOf(
        create(tmuxSpec("a1", { socket_name: "A" })),
        replace(tmuxSpec("r", { socket_name: "A" }), [oldR]),
        replace(tmuxSpec("m", { socket_name: "A" }), [oldM])
      )
      const report = yield* execute(p, options())
      expect(outcomes(report)).toEqual({ "Create a1": "ok", "Replace r": "ok", "Replace m": "ok" })
      const events = yield* Ref.get(probe.events)
      expect(events.slice(0, 2).sort()).toEqual(["remove m", "remove r"])
      expect(events.slice(2)).toEqual(["launch a1,r,m"])
      const ops = yield* Ref.get(probe.ops)
      expect(ops.map((o) => [o.op, o.session, o.place, o.options]).sort()).toEqual([
        ["remove", "m", "tmux socket B", { timeout: 7 }],
        ["remove", "r", "tmux socket A", { timeout: 7 }]
      ])
      const sessions = (yield* Ref.get(probe.sessions)).map((s) => s.observed)
      expect(sessions.map((o) => [o.name, o.backend === "tmux" ? o.socket_name : null, o.mark.spec_hash]).sort()).toEqual([
        ["a1", "A", owned(tmuxSpec("a1", { socket_name: "A" })).mark.spec_hash],
        ["m", "A", owned(tmuxSpec("m", { socket_name: "A" })).mark.spec_hash],
        ["r", "A", owned(tmuxSpec("r", { socket_name: "A" })).mark.spec_hash]
      ])
    }).pipe(withMemory({}, [oldR, oldM]))
  })

  it.effect("a replace whose old instance cannot be removed fails alone; the rest of its batch launches", () => {
    const oldR = owned(tmuxSpec("r", { socket_name: "A", command: "old" }))
    return Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const report = yield* execute(planOf(create(tmuxSpec("a1", { socket_name: "A" })), replace(tmuxSpec("r", { socket_name: "A" }), [oldR])), options())
      expect(data(resultOf(report, "r").error)).toEqual({ _tag: "SessionStopFailed", session: "r", backend: "tmux", reason: "busy" })
      expect(resultOf(report, "a1").error).toBeNull()
      expect((yield* Ref.get(probe.launches)).map((c) => c.names)).toEqual([["a1"]])
      // the old instance is still there, untouched
      expect((yield* Ref.get(probe.sessions)).map((s) => s.observed)).toContainEqual(oldR)
    }).pipe(withMemory({ failRemove: { r: "busy" } }, [oldR]))
  })

  it.effect("a batch whose every replace fails to remove launches nothing", () => {
    const oldR = owned(tmuxSpec("r", { command: "old" }))
    return Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const report = yield* execute(planOf(replace(tmuxSpec("r"), [oldR])), options())
      expect(outcomes(report)).toEqual({ "Replace r": "SessionStopFailed" })
      expect(yield* Ref.get(probe.launches)).toEqual([])
    }).pipe(withMemory({ failRemove: { r: "busy" } }, [oldR]))
  })
})

// ---------------------------------------------------------------------------------------------
// partial failure and the post-launch check
// ---------------------------------------------------------------------------------------------

describe("partial failure", () => {
  const st = owned(tmuxSpec("st", { socket_name: "S" }))
  const pr = owned(containerSpec("pr"))
  const steps = planOf(
    create(tmuxSpec("ok1")),
    create(tmuxSpec("bad")),
    create(tmuxSpec("dead")),
    create(containerSpec("ok2")),
    stop(st),
    prune(pr)
  )
  const behavior: Behavior = {
    failLaunch: { bad: "tmux said no" },
    dieAfterLaunch: { dead: { exitCode: 3, output: lines(25) } }
  }

  it.effect("a launch failure and a death right after launch fail alone; the others, stops and prunes still run", () =>
    Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const report = yield* executeClocked(steps, options({ settle: "500 millis" }))
      expect(outcomes(report)).toEqual({
        "Create ok1": "ok",
        "Create bad": "SessionStartFailed",
        "Create dead": "SessionStartFailed",
        "Create ok2": "ok",
        "Stop st": "ok",
        "Prune pr": "ok"
      })
      expect(data(resultOf(report, "bad").error)).toEqual({
        _tag: "SessionStartFailed",
        session: "bad",
        backend: "tmux",
        reason: "tmux said no",
        exitCode: null,
        output: ""
      })
      expect(data(resultOf(report, "dead").error)).toEqual({
        _tag: "SessionStartFailed",
        session: "dead",
        backend: "tmux",
        reason: "process exited with code 3 right after starting",
        exitCode: 3,
        // the last 20 lines
        output: Array.from({ length: 20 }, (_, i) => `line ${i + 6}`).join("\n")
      })
      expect(yield* Ref.get(probe.logsCalls)).toEqual([{ session: "dead", lines: 20 }])
      // one launch for the default socket (the failing ones in it), one for the container
      expect((yield* Ref.get(probe.launches)).map((c) => c.names).sort()).toEqual([["ok1", "bad", "dead"], ["ok2"]])
      // verified launches carry what the check saw
      expect(resultOf(report, "ok1").observed).toEqual(owned(tmuxSpec("ok1")))
      expect(resultOf(report, "ok2").observed).toEqual(owned(containerSpec("ok2")))
      expect(resultOf(report, "dead").observed).toBeNull()
      expect(resultOf(report, "st").outcome).toBe("stopped")
      const ops = yield* Ref.get(probe.ops)
      expect(ops.map((o) => [o.op, o.session, o.options]).sort()).toEqual([
        ["remove", "pr", { timeout: 7 }],
        ["stop", "st", { timeout: 7, leave: "stopped", owned: true }]
      ])
      expect(report.results.every((r) => !r.unverified)).toBe(true)
      expect(report.notRun).toEqual([])
    }).pipe(withMemory(behavior, [st, pr])))

  it.effect("a launched session that vanished before the check is failed as vanished", () =>
    Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const fiber = yield* Effect.forkChild(execute(planOf(create(tmuxSpec("ghost"))), options({ settle: "500 millis" })))
      yield* TestClock.adjust("100 millis")
      expect((yield* Ref.get(probe.launches)).map((c) => c.names)).toEqual([["ghost"]])
      yield* Ref.set(probe.sessions, [])
      yield* TestClock.adjust("1 second")
      const report = yield* Fiber.join(fiber)
      expect(data(resultOf(report, "ghost").error)).toEqual({
        _tag: "SessionStartFailed",
        session: "ghost",
        backend: "tmux",
        reason: "the session vanished right after starting",
        exitCode: null,
        output: ""
      })
      expect(yield* Ref.get(probe.logsCalls)).toEqual([])
    }).pipe(withMemory()))

  it.effect("failing stops and prunes are failed steps; the other steps still run", () => {
    const s1 = owned(tmuxSpec("s1"))
    const s2 = owned(tmuxSpec("s2"))
    const p1 = owned(containerSpec("p1"))
    return Effect.gen(function*() {
      const report = yield* execute(planOf(stop(s1), stop(s2), prune(p1), create(tmuxSpec("n"))), options())
      expect(outcomes(report)).toEqual({ "Stop s1": "SessionStopFailed", "Stop s2": "ok", "Prune p1": "SessionStopFailed", "Create n": "ok" })
      expect(data(resultOf(report, "s1").error)).toEqual({ _tag: "SessionStopFailed", session: "s1", backend: "tmux", reason: "stuck" })
      expect(resultOf(report, "s1").outcome).toBeNull()
      expect(data(resultOf(report, "p1").error)).toEqual({ _tag: "SessionStopFailed", session: "p1", backend: "container", reason: "in use" })
    }).pipe(withMemory({ failStop: { s1: "stuck" }, failRemove: { p1: "in use" } }, [s1, s2, p1]))
  })
})

describe("post-launch check", () => {
  const exited = owned(tmuxSpec("again", { socket_name: "B" }), { state: "exited", exit_code: 1, pid: null })
  const p = planOf(
    create(tmuxSpec("a", { socket_name: "A" })),
    create(tmuxSpec("d")),
    create(containerSpec("c")),
    start(tmuxSpec("again", { socket_name: "B" }), exited),
    stop(owned(tmuxSpec("s")))
  )
  const initial = [exited, owned(tmuxSpec("s"))]

  it.effect("is ONE observe of the launched places, after settle", () =>
    Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const fiber = yield* Effect.forkChild(execute(p, options({ settle: "2 seconds" })))
      yield* TestClock.adjust("1 second")
      expect(yield* Ref.get(probe.observes)).toEqual([])
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1500 millis")
      const report = yield* Fiber.join(fiber)
      const observes = yield* Ref.get(probe.observes)
      expect(observes).toHaveLength(1)
      // (the wait is settle minus the real time since the last launch: src mixes performance.now and the Clock)
      expect(observes[0]!.at).toBeGreaterThan(1_000)
      expect([...observes[0]!.sockets].sort()).toEqual(["A", "B", null])
      expect([...observes[0]!.kinds].sort()).toEqual(["container", "tmux"])
      // only the engines launched into (podman's ps alone costs a docker-only apply ~0.1 s)
      expect(observes[0]!.runtimes).toEqual(["podman"])
      expect(outcomes(report)).toEqual({ "Create a": "ok", "Create d": "ok", "Create c": "ok", "Start again": "ok", "Stop s": "ok" })
      expect(resultOf(report, "again").observed).toEqual(owned(tmuxSpec("again", { socket_name: "B" })))
      expect(resultOf(report, "a").observed).toEqual(owned(tmuxSpec("a", { socket_name: "A" })))
      // the stop is reported at once, not held back by the check
      expect(report.results.map((r) => r.step.session).indexOf("s")).toBe(0)
      expect((yield* Ref.get(probe.ops)).filter((o) => o.op === "restart").map((o) => o.options)).toEqual([{ project: PROJECT, stamp: expect.objectContaining({ hash: expect.stringMatching(/^v1:/u) }) }])
    }).pipe(withMemory({}, initial)))

  it.effect("a restarted (Start) session that dies right away fails the same way", () =>
    Effect.gen(function*() {
      const report = yield* executeClocked(p, options({ settle: "500 millis" }))
      expect(data(resultOf(report, "again").error)).toEqual({
        _tag: "SessionStartFailed",
        session: "again",
        backend: "tmux",
        reason: "process exited with code 9 right after starting",
        exitCode: 9,
        output: "boom"
      })
    }).pipe(withMemory({ dieAfterLaunch: { again: { exitCode: 9, output: "boom" } } }, initial)))

  it.effect("settle 0: launch only, no observe at all (a dead session is not noticed)", () =>
    Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const report = yield* execute(p, options({ settle: 0 }))
      expect(yield* Ref.get(probe.observes)).toEqual([])
      expect(outcomes(report)).toEqual({ "Create a": "ok", "Create d": "ok", "Create c": "ok", "Start again": "ok", "Stop s": "ok" })
      expect(report.results.every((r) => r.observed === null && !r.unverified)).toBe(true)
    }).pipe(withMemory({ dieAfterLaunch: { d: { exitCode: 1, output: "" } } }, initial)))

  it.effect("no launch: no observe, no wait", () =>
    Effect.gen(function*() {
      const probe = yield* MemoryProbe
      // would block forever on the TestClock if it waited
      const report = yield* execute(planOf(stop(owned(tmuxSpec("s")))), options({ settle: "1 hour" }))
      expect(outcomes(report)).toEqual({ "Stop s": "ok" })
      expect(yield* Ref.get(probe.observes)).toEqual([])
    }).pipe(withMemory({}, initial)))

  it.effect("onResult sees every result once; onStart every task's steps", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const started = yield* Ref.make<ReadonlyArray<ReadonlyArray<string>>>([])
      const report = yield* executeClocked(p, options({
        settle: "500 millis",
        onStart: (steps) => Ref.update(started, (all) => [...all, steps.map((s) => s.session)]),
        onResult: (r) => Ref.update(seen, (all) => [...all, r.step.session])
      }))
      expect(yield* Ref.get(seen)).toEqual(report.results.map((r) => r.step.session))
      expect([...(yield* Ref.get(seen))].sort()).toEqual(["a", "again", "c", "d", "s"])
      expect((yield* Ref.get(started)).map((s) => [...s]).sort()).toEqual([["a"], ["again"], ["c"], ["d"], ["s"]])
    }).pipe(withMemory({}, initial)))
})

// ---------------------------------------------------------------------------------------------
// conflicts and invalid entries
// ---------------------------------------------------------------------------------------------

it.effect("conflict and invalid steps are never executed nor reported as not run", () => {
  const theirs = foreign("web", { socket_name: null })
  const other = owned(containerSpec("db"), {}, "other-project")
  return Effect.gen(function*() {
    const probe = yield* MemoryProbe
    const started = yield* Ref.make<ReadonlyArray<string>>([])
    const report = yield* execute(
      planOf(conflict(theirs), { ...conflict(other), reason: "other-project" }, invalid("broken"), create(tmuxSpec("ok"))),
      options({ onStart: (steps) => Ref.update(started, (all) => [...all, ...steps.map((s) => s._tag)]) })
    )
    expect(outcomes(report)).toEqual({ "Create ok": "ok" })
    expect(report.notRun).toEqual([])
    expect(yield* Ref.get(started)).toEqual(["Create"])
    expect(yield* Ref.get(probe.ops)).toEqual([])
    expect((yield* Ref.get(probe.launches)).map((c) => c.names)).toEqual([["ok"]])
    expect((yield* Ref.get(probe.sessions)).map((s) => s.observed)).toEqual([theirs, other, owned(tmuxSpec("ok"))])
  }).pipe(withMemory({}, [theirs, other]))
})

// ---------------------------------------------------------------------------------------------
// interrupts
// ---------------------------------------------------------------------------------------------

describe("interrupt", () => {
  it.effect("mid-run: running steps finish, unstarted ones are not run, unchecked launches are unverified", () => {
    const s1 = owned(tmuxSpec("s1"))
    const s2 = owned(tmuxSpec("s2"))
    const s3 = owned(tmuxSpec("s3"))
    return Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const captured = yield* Ref.make<ReadonlyArray<ExecuteReport>>([])
      const p = planOf(create(tmuxSpec("slow", { socket_name: "A" })), stop(s1), stop(s2), stop(s3))
      const fiber = yield* Effect.forkChild(execute(p, options({
        parallel: 2,
        settle: "500 millis",
        onInterrupt: (r) => Ref.update(captured, (all) => [...all, r])
      })))
      // t=0: the slow launch (1s) and the stop of s1 (2s) run; s2 and s3 wait for a slot
      yield* TestClock.adjust("300 millis")
      expect(yield* Ref.get(probe.inFlight)).toBe(2)
      const interrupter = yield* Effect.forkChild(Fiber.interrupt(fiber))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(interrupter)
      const exit = yield* Fiber.await(fiber)
      expect(Exit.hasInterrupts(exit)).toBe(true)

      const reports = yield* Ref.get(captured)
      expect(reports).toHaveLength(1)
      const report = reports[0]!
      expect(report.interrupted).toBe(true)
      expect(outcomes(report)).toEqual({ "Stop s1": "ok", "Create slow": "ok" })
      expect(resultOf(report, "slow").unverified).toBe(true)
      expect(resultOf(report, "slow").observed).toBeNull()
      expect(resultOf(report, "s1").unverified).toBe(false)
      expect(resultOf(report, "s1").outcome).toBe("stopped")
      expect(report.notRun.map((s) => `${s._tag} ${s.session}`)).toEqual(["Stop s2", "Stop s3"])
      // the running steps did finish: slow exists, s1 is gone; s2 and s3 untouched; no check ran
      const names = (yield* Ref.get(probe.sessions)).map((s) => s.observed.name).sort()
      expect(names).toEqual(["s2", "s3", "slow"])
      expect((yield* Ref.get(probe.ops)).map((o) => `${o.op} ${o.session}`)).toEqual(["stop s1"])
      expect(yield* Ref.get(probe.observes)).toEqual([])
      expect(yield* Ref.get(probe.inFlight)).toBe(0)
    }).pipe(withMemory({ hangLaunch: { slow: "1 second" }, hangOp: { s1: "2 seconds" } }, [s1, s2, s3]))
  })

  it.effect("during the settle wait: every launch is unverified, nothing is not-run", () =>
    Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const captured = yield* Ref.make<ReadonlyArray<ExecuteReport>>([])
      const p = planOf(create(tmuxSpec("a")), create(containerSpec("c")))
      const fiber = yield* Effect.forkChild(execute(p, options({
        settle: "10 seconds",
        onInterrupt: (r) => Ref.update(captured, (all) => [...all, r])
      })))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      const [report] = yield* Ref.get(captured)
      expect(report!.interrupted).toBe(true)
      expect(report!.notRun).toEqual([])
      expect(report!.results.map((r) => [r.step.session, r.unverified, r.error]).sort()).toEqual([["a", true, null], ["c", true, null]])
      expect(yield* Ref.get(probe.observes)).toEqual([])
    }).pipe(withMemory()))

  it.effect("an uninterrupted run does not call onInterrupt", () =>
    Effect.gen(function*() {
      const called = yield* Ref.make(0)
      const report = yield* executeClocked(planOf(create(tmuxSpec("a"))), options({
        settle: "100 millis",
        onInterrupt: () => Ref.update(called, (n) => n + 1)
      }))
      expect(report.interrupted).toBe(false)
      expect(yield* Ref.get(called)).toBe(0)
    }).pipe(withMemory()))
})

// ---------------------------------------------------------------------------------------------
// bounded concurrency
// ---------------------------------------------------------------------------------------------

describe("parallel", () => {
  const targets = Array.from({ length: 6 }, (_, i) => owned(tmuxSpec(`s${i}`)))
  const hangs: Behavior = { hangOp: Object.fromEntries(targets.map((t) => [t.name, "1 second"])) }
  const p = planOf(...targets.map((t) => stop(t)))

  for (const [parallel, max, seconds] of [[1, 1, 6], [2, 2, 3], [4, 4, 2], [10, 6, 1], [0, 1, 6]] as const) {
    it.effect(`parallel ${parallel}: at most ${max} in flight, done after ${seconds}s`, () =>
      Effect.gen(function*() {
        const probe = yield* MemoryProbe
        const fiber = yield* Effect.forkChild(execute(p, options({ parallel })))
        yield* TestClock.adjust(`${seconds * 1000 - 100} millis`)
        expect(fiber.pollUnsafe()).toBeUndefined()
        yield* TestClock.adjust("200 millis")
        const report = yield* Fiber.join(fiber)
        expect(report.results).toHaveLength(6)
        expect(yield* Ref.get(probe.maxInFlight)).toBe(max)
      }).pipe(withMemory(hangs, targets)))
  }

  // without --parallel: every engine at its own lane's width, the engines side by side
  const containers = Array.from({ length: 6 }, (_, i) => owned(containerSpec(`c${i}`, { runtime: "podman" })))
  const both = [...targets, ...containers]
  for (const [width, seconds] of [[2, 3], [3, 2], [6, 1]] as const) {
    it.effect(`no --parallel, lanes ${width} wide: ${width} per engine in flight (${2 * width} in all), done after ${seconds}s`, () =>
      Effect.gen(function*() {
        const probe = yield* MemoryProbe
        const fiber = yield* Effect.forkChild(execute(planOf(...both.map((t) => stop(t))), options({ parallel: undefined })))
        yield* TestClock.adjust(`${seconds * 1000 - 100} millis`)
        expect(fiber.pollUnsafe()).toBeUndefined()
        yield* TestClock.adjust("200 millis")
        const report = yield* Fiber.join(fiber)
        expect(report.results.map((r) => r.error)).toEqual(both.map(() => null))
        expect(yield* Ref.get(probe.maxInFlight)).toBe(2 * width)
      }).pipe(withMemory({ hangOp: Object.fromEntries(both.map((t) => [t.name, "1 second"])), laneWidth: width }, both)))
  }

  const sockets = ["A", "B", "C", "D"].map((s) => tmuxSpec(`x${s}`, { socket_name: s }))
  it.effect("launch batches count against the bound", () =>
    Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const fiber = yield* Effect.forkChild(execute(planOf(...sockets.map(create)), options({ parallel: 2 })))
      yield* TestClock.adjust("1900 millis")
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("200 millis")
      const report = yield* Fiber.join(fiber)
      expect(report.results).toHaveLength(4)
      expect(yield* Ref.get(probe.launches)).toHaveLength(4)
      expect(yield* Ref.get(probe.maxInFlight)).toBe(2)
    }).pipe(withMemory({ hangLaunch: Object.fromEntries(sockets.map((s) => [s.name, "1 second"])) })))
})

// ---------------------------------------------------------------------------------------------
// stop options and outcomes
// ---------------------------------------------------------------------------------------------

describe("stop", () => {
  const ours = owned(containerSpec("mine"))
  const theirs = foreign("nginx", { runtime: "podman" })
  const otherProject = owned(containerSpec("shared"), {}, "elsewhere")
  const oursTmux = owned(tmuxSpec("t"))

  it.effect("a stop leaves the stopped state, kstlib's own marked owned (deleted if a container); timeout from stopTimeout; outcome passed through", () =>
    Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const report = yield* execute(
        planOf(stop(ours), stop(theirs, "requested"), stop(otherProject, "requested"), stop(oursTmux)),
        options({ stopTimeout: 3 })
      )
      const ops = yield* Ref.get(probe.ops)
      expect(Object.fromEntries(ops.map((o) => [o.session, o.options]))).toEqual({
        mine: { timeout: 3, leave: "stopped", owned: true },
        nginx: { timeout: 3, leave: "stopped", owned: false },
        shared: { timeout: 3, leave: "stopped", owned: false },
        t: { timeout: 3, leave: "stopped", owned: true }
      })
      expect(Object.fromEntries(report.results.map((r) => [r.step.session, r.outcome]))).toEqual({
        mine: "killed",
        nginx: "stopped",
        shared: "stopped",
        t: "stopped"
      })
      // ours removed, the foreign ones left exited
      expect((yield* Ref.get(probe.sessions)).map((s) => [s.observed.name, s.observed.state])).toEqual([
        ["nginx", "exited"],
        ["shared", "exited"]
      ])
    }).pipe(withMemory({ stopOutcome: { mine: "killed" } }, [ours, theirs, otherProject, oursTmux])))

  it.effect("an already-stopped outcome is reported as such", () => {
    const exited = owned(tmuxSpec("x"), { state: "exited", exit_code: 0 })
    return Effect.gen(function*() {
      const report = yield* execute(planOf(stop(exited, "requested")), options())
      expect(resultOf(report, "x").outcome).toBe("already-stopped")
      expect(resultOf(report, "x").error).toBeNull()
    }).pipe(withMemory({}, [exited]))
  })

  it.effect("prunes carry no outcome", () =>
    Effect.gen(function*() {
      const report = yield* execute(planOf(prune(ours)), options())
      expect(resultOf(report, "mine").outcome).toBeNull()
      expect(resultOf(report, "mine").error).toBeNull()
    }).pipe(withMemory({}, [ours])))
})

// ---------------------------------------------------------------------------------------------
// plan → execute → plan converges
// ---------------------------------------------------------------------------------------------

it.effect("executing a plan converges: the next plan has nothing to do", () => {
  const drifted = owned(tmuxSpec("web", { command: "old" }))
  const orphan = owned(containerSpec("gone"))
  const exited = owned(containerSpec("db"), { state: "exited", exit_code: 137, pid: null })
  const entries: ReadonlyArray<ConfigEntry> = [
    valid(tmuxSpec("web")),
    valid(containerSpec("db")),
    valid(tmuxSpec("worker", { socket_name: "jobs" })),
    valid(tmuxSpec("idle", { state: "stopped" }))
  ]
  const idle = owned(tmuxSpec("idle", { state: "stopped" }))
  return Effect.gen(function*() {
    const probe = yield* MemoryProbe
    const observedNow = Ref.get(probe.sessions).pipe(Effect.map((all) => all.map((s) => s.observed)))
    const first = plan(entries, yield* observedNow, planOptions({ prune: true }))
    expect(first.summary).toMatchObject({ create: 1, replace: 1, start: 1, stop: 1, prune: 1 })
    const report = yield* executeClocked(first, options({ settle: "500 millis" }))
    expect(report.results.every((r) => r.error === null)).toBe(true)
    const second = plan(entries, yield* observedNow, planOptions({ prune: true }))
    expect(second.steps).toEqual([])
    expect([...second.unchanged].sort()).toEqual(["db", "idle", "web", "worker"])
  }).pipe(withMemory({}, [drifted, orphan, exited, idle]))
})

// ---------------------------------------------------------------------------------------------
// per-session operations
// ---------------------------------------------------------------------------------------------

describe("Sessions", () => {
  const loaded = (sessions: ReadonlyArray<ConfigEntry>): LoadedConfig => ({
    files: [CONFIG_FILE],
    default_backend: "tmux",
    tmux_binary: "tmux",
    container_runtime: null,
    sessions,
    warnings: [],
    project: PROJECT,
    searched: [CONFIG_FILE]
  })
  const web = tmuxSpec("web", { working_dir: "/" })
  const config = KstlibConfig.fromLoaded(loaded([valid(web), valid(tmuxSpec("api", { working_dir: "/" }))]))
  const env = (behavior: Behavior = {}, initial: ReadonlyArray<ObservedSession> = []) =>
    Effect.provide(Layer.mergeAll(memoryBackends(behavior, initial), config))

  it.effect("start of a running session is already-running and launches nothing", () =>
    Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const r = yield* Sessions.start("web")
      expect(r).toEqual({ status: "already-running", observed: owned(web) })
      expect(yield* Ref.get(probe.launches)).toEqual([])
      expect(yield* Ref.get(probe.ops)).toEqual([])
    }).pipe(env({}, [owned(web)])))

  it.effect("start of a config session launches it once, checked after settle; a second start does nothing", () =>
    Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const fiber = yield* Effect.forkChild(Sessions.start("web"))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toEqual({ status: "started", observed: owned(web) })
      expect((yield* Ref.get(probe.launches)).map((c) => c.names)).toEqual([["web"]])
      // one observe to plan, one post-launch check
      expect(yield* Ref.get(probe.observes)).toHaveLength(2)
      expect(yield* Sessions.start("web")).toEqual({ status: "already-running", observed: owned(web) })
      expect(yield* Ref.get(probe.launches)).toHaveLength(1)
    }).pipe(env()))

  it.effect("start of a session that dies right away fails with its exit code and output", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Effect.flip(Sessions.start("web")))
      yield* TestClock.adjust("1 second")
      expect(data(yield* Fiber.join(fiber))).toEqual({
        _tag: "SessionStartFailed",
        session: "web",
        backend: "tmux",
        reason: "process exited with code 2 right after starting",
        exitCode: 2,
        output: "no such file"
      })
    }).pipe(env({ dieAfterLaunch: { web: { exitCode: 2, output: "no such file" } } })))

  it.effect("stop of a defined but not running config session is not-running; nothing is stopped", () =>
    Effect.gen(function*() {
      const probe = yield* MemoryProbe
      expect(yield* Sessions.stop("api")).toEqual({ status: "not-running" })
      expect(yield* Ref.get(probe.ops)).toEqual([])
    }).pipe(env({}, [owned(web)])))

  it.effect("stop of a running session: outcome passed through, owned for ours", () =>
    Effect.gen(function*() {
      const probe = yield* MemoryProbe
      expect(yield* Sessions.stop("web", {}, { timeout: 4 })).toEqual({ status: "killed", observed: owned(web) })
      expect((yield* Ref.get(probe.ops)).map((o) => [o.op, o.session, o.options])).toEqual([
        ["stop", "web", { timeout: 4, leave: "stopped", owned: true }]
      ])
    }).pipe(env({ stopOutcome: { web: "killed" } }, [owned(web)])))

  it.effect("start where a foreign session holds the name is a conflict; nothing launched or touched", () => {
    const theirs = foreign("web", { socket_name: null })
    return Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const e = yield* Effect.flip(Sessions.start("web"))
      expect(data(e)).toEqual({ _tag: "SessionConflict", session: "web", place: "tmux socket default", owner: null })
      expect(yield* Ref.get(probe.launches)).toEqual([])
      expect(yield* Ref.get(probe.ops)).toEqual([])
    }).pipe(env({}, [theirs]))
  })

  it.effect("start of an exited session of ours restarts it in place (no launch)", () => {
    const exited = owned(web, { state: "exited", exit_code: 1, pid: null })
    return Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const r = yield* Sessions.start("web", {}, { settle: 0 })
      expect(r).toEqual({ status: "started", observed: null })
      expect(yield* Ref.get(probe.launches)).toEqual([])
      expect((yield* Ref.get(probe.ops)).map((o) => [o.op, o.session, o.options])).toEqual([
        ["restart", "web", { project: PROJECT, stamp: expect.objectContaining({ hash: expect.stringMatching(/^v1:/u) }) }]
      ])
    }).pipe(env({}, [exited]))
  })

  it.effect("restart of a running session: graceful stop, then one launch, checked", () =>
    Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const fiber = yield* Effect.forkChild(Sessions.restart("web", {}, { timeout: 5 }))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toEqual({ status: "started", observed: owned(web) })
      expect((yield* Ref.get(probe.events)).filter((e) => e !== "observe")).toEqual(["stop web", "launch web"])
      expect((yield* Ref.get(probe.ops))[0]!.options).toEqual({ timeout: 5, leave: "stopped", owned: true })
    }).pipe(env({}, [owned(web)])))

  it.effect("stop of an unknown name is SessionNotFound with suggestions", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Sessions.stop("wen"))
      expect(e._tag).toBe("SessionNotFound")
      expect(data(e)).toEqual({ _tag: "SessionNotFound", session: "wen", backend: null, suggestions: ["web"] })
    }).pipe(env({}, [owned(web)])))
})

// ---------------------------------------------------------------------------------------------
// regressions
// ---------------------------------------------------------------------------------------------

describe("regressions", () => {
  // Found by this suite: verified results were cleared from `pending` before being recorded, so an
  // interrupt while onResult printed the first one reported launched sessions as "not run".
  it.effect("an interrupt while verified results are emitted never loses launched steps into notRun", () =>
    Effect.gen(function*() {
      const probe = yield* MemoryProbe
      const captured = yield* Ref.make<ReadonlyArray<ExecuteReport>>([])
      const p = planOf(create(tmuxSpec("a")), create(tmuxSpec("b")))
      const fiber = yield* Effect.forkChild(execute(p, options({
        settle: "500 millis",
        // a slow progress printer
        onResult: () => Effect.sleep("1 second"),
        onInterrupt: (r) => Ref.update(captured, (all) => [...all, r])
      })))
      // t=500ms: check done, the first verified result is being reported
      yield* TestClock.adjust("700 millis")
      expect(yield* Ref.get(probe.observes)).toHaveLength(1)
      const interrupter = yield* Effect.forkChild(Fiber.interrupt(fiber))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(interrupter)
      // both were launched and are running
      expect((yield* Ref.get(probe.sessions)).map((s) => s.observed.name)).toEqual(["a", "b"])
      const [report] = yield* Ref.get(captured)
      expect(report!.notRun).toEqual([])
      expect(report!.results.map((r) => r.step.session).sort()).toEqual(["a", "b"])
    }).pipe(withMemory()))
})
