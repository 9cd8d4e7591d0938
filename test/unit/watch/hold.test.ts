/** The planner's `hold` (what `ops watch` does not launch) and the holds a run records. */
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { holdAhead, holdsOf, readHolds, recordHolds, updateHolds } from "../../../src/reconcile/holds.js"
import type { StepResult } from "../../../src/reconcile/execute.js"
import type { Step } from "../../../src/reconcile/plan.js"
import { makePlan, plan } from "../../../src/reconcile/plan.js"
import { owned, planOptions, tmuxSpec, valid } from "../../../src/testing/specs.js"

const web = tmuxSpec("web")
const tags = (steps: ReadonlyArray<Step>) => steps.map((s) => `${s._tag} ${s.session}`)

describe("plan with hold", () => {
  it("a held session that is gone is not created; others are", () => {
    const p = plan([valid(web), valid(tmuxSpec("api"))], [], planOptions({ hold: ["web"] }))
    expect(tags(p.steps)).toEqual(["Create api"])
    expect(p.unchanged).toEqual(["web"])
  })
  it("a held session that exited is not started", () => {
    const p = plan([valid(web)], [owned(web, { state: "exited" })], planOptions({ hold: ["web"] }))
    expect(tags(p.steps)).toEqual([])
  })
  it("a held session that runs is planned as usual (a drifted one is replaced): the hold only keeps it from launching", () => {
    const running = owned(tmuxSpec("web", { command: "old" }))
    const p = plan([valid(web)], [running], planOptions({ hold: ["web"] }))
    expect(tags(p.steps)).toEqual(["Replace web"])
  })
  it("without hold, the same observation starts it", () => {
    const p = plan([valid(web)], [owned(web, { state: "exited" })], planOptions())
    expect(tags(p.steps)).toEqual(["Start web"])
  })
})

describe("holdsOf", () => {
  const result = (step: Step, ok = true): StepResult =>
    ({ step, error: ok ? null : ({ _tag: "SessionStopFailed" } as never), durationMs: 1, outcome: null, observed: null, unverified: false })
  const target = owned(web)
  it("a requested stop and a down hold; a launch releases; a stop for state: stopped does not hold", () => {
    expect(holdsOf([
      result({ _tag: "Stop", session: "a", target, reason: "requested" }),
      result({ _tag: "Prune", session: "b", target, reason: "down", current: null }),
      result({ _tag: "Stop", session: "c", target, reason: "desired-stopped" }),
      result({ _tag: "Start", session: "d", spec: web, target, reason: "exited", stamp: null }),
      result({ _tag: "Stop", session: "e", target, reason: "requested" }, false)
    ])).toEqual({ held: ["a", "b"], released: ["d"] })
  })
})

describe("holdAhead: a requested stop is held before it runs", () => {
  let dir: string
  const saved = process.env["XDG_STATE_HOME"]
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "kt-holds-"))
    process.env["XDG_STATE_HOME"] = dir
  })
  afterEach(() => {
    if (saved === undefined) delete process.env["XDG_STATE_HOME"]
    else process.env["XDG_STATE_HOME"] = saved
    rmSync(dir, { recursive: true, force: true })
  })
  const target = owned(web)
  const stops = (...names: Array<string>): Array<Step> => names.map((session) => ({ _tag: "Stop", session, target, reason: "requested" }))
  const result = (step: Step, ok: boolean): StepResult =>
    ({ step, error: ok ? null : ({ _tag: "SessionStopFailed" } as never), durationMs: 1, outcome: null, observed: null, unverified: false })

  it("held while the stop runs (a watcher pass then leaves it); kept when it succeeded, withdrawn when it failed, unless held before", () => {
    Effect.runSync(updateHolds("p", { held: ["old"], released: [] }))
    const [a, b, old] = stops("a", "b", "old")
    const ahead = Effect.runSync(holdAhead("p", makePlan("p", [a!, b!, old!])))
    expect(ahead).toEqual(["a", "b"])
    expect([...readHolds("p")].sort()).toEqual(["a", "b", "old"])
    Effect.runSync(recordHolds("p", { results: [result(a!, true), result(b!, false), result(old!, false)] } as never, ahead))
    expect([...readHolds("p")].sort()).toEqual(["a", "old"])
  })
})
