/** The planner's `hold` (what `ops watch` does not launch) and the holds a run records. */
import { describe, expect, it } from "vitest"
import { holdsOf } from "../../../src/reconcile/holds.js"
import type { StepResult } from "../../../src/reconcile/execute.js"
import type { Step } from "../../../src/reconcile/plan.js"
import { plan } from "../../../src/reconcile/plan.js"
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
