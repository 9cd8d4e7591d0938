/**
 * The planner at `ops.max_sessions` scale: 500 configured sessions of every kind of case at once,
 * plus orphans, planned in one call. Correctness only (the time is measured in bench/, not here):
 * each session gets exactly the step it would get alone, the summary counts them, the dependency
 * waves and phases hold every launch once, and the renderers cover every step.
 */
import { describe, expect, it } from "vitest"
import type { ConfigEntry } from "../../src/config/types.js"
import type { ObservedSession } from "../../src/model.js"
import { actionOf, plan } from "../../src/reconcile/plan.js"
import { planToJson, renderPlan } from "../../src/reconcile/render.js"
import { containerSpec, foreign, owned, planOptions, tmuxSpec, valid } from "../../src/testing/specs.js"

const N = 500
const name = (i: number) => `s${String(i).padStart(3, "0")}`
/** The case of session i: what the observation holds for it, hence the step it must get. */
const kindOf = (i: number) => (["create", "unchanged", "replace", "conflict", "start"] as const)[i % 5]!
/** Creates in the second half depend on the create 250 before them: two launch waves. */
const dependsOn = (i: number) => (kindOf(i) === "create" && i >= 250 ? [name(i - 250)] : [])

const desired: Array<ConfigEntry> = []
const observed: Array<ObservedSession> = []
for (let i = 0; i < N; i++) {
  const deps = dependsOn(i)
  const spec = kindOf(i) === "start"
    ? containerSpec(name(i), { runtime: "podman" })
    : tmuxSpec(name(i), deps.length === 0 ? {} : { depends_on: deps })
  desired.push(valid(spec, i + 4))
  switch (kindOf(i)) {
    case "unchanged":
      observed.push(owned(spec))
      break
    case "replace":
      // started by kstlib from an older command
      observed.push(owned(tmuxSpec(name(i), { command: "node old.js" })))
      break
    case "conflict":
      observed.push(foreign(name(i), { socket_name: null }))
      break
    case "start":
      observed.push(owned(spec, { state: "exited", exit_code: 1, pid: null }))
      break
  }
}
const ORPHANS = 20
for (let i = 0; i < ORPHANS; i++) observed.push(owned(tmuxSpec(`gone${i}`)))

describe("plan: 500 sessions (ops.max_sessions scale)", () => {
  const p = plan(desired, observed, planOptions({ prune: true }))

  it("gives every session the step it gets alone, and prunes every orphan", () => {
    const expected = (i: number) => (kindOf(i) === "unchanged" ? [] : [kindOf(i)])
    const bySession = new Map<string, Array<string>>()
    for (const s of p.steps) bySession.set(s.session, [...(bySession.get(s.session) ?? []), actionOf(s)])
    for (let i = 0; i < N; i++) expect(bySession.get(name(i)) ?? [], name(i)).toEqual(expected(i))
    for (let i = 0; i < ORPHANS; i++) expect(bySession.get(`gone${i}`), `gone${i}`).toEqual(["prune"])
    expect(p.unchanged).toEqual(desired.filter((_, i) => kindOf(i) === "unchanged").map((e) => e.name))
    expect(p.summary).toEqual({ create: 100, replace: 100, start: 100, stop: 0, prune: ORPHANS, conflict: 100, invalid: 0 })
    const replaces = p.steps.filter((s) => s._tag === "Replace")
    expect(replaces.every((s) => s._tag === "Replace" && s.changes.map((c) => c.field).join() === "command")).toBe(true)
  })

  it("orders the launches in two waves and runs every actionable step exactly once", () => {
    const launches = p.steps.filter((s) => ["create", "replace", "start"].includes(actionOf(s))).map((s) => s.session)
    const second = desired.filter((_, i) => dependsOn(i).length > 0).map((e) => e.name)
    expect(p.order.waves).toHaveLength(2)
    expect([...p.order.waves[1]!].sort()).toEqual([...second].sort())
    expect(new Set(p.order.waves.flat())).toEqual(new Set(launches))
    expect(p.order.unsatisfied).toEqual({})
    const scheduled = p.phases.flat()
    expect(new Set(scheduled).size).toBe(scheduled.length)
    expect(scheduled.map((i) => p.steps[i]!.session).sort()).toEqual(
      p.steps.filter((s) => actionOf(s) !== "conflict").map((s) => s.session).sort()
    )
    // a dependent's phase comes after its dependency's
    const phaseOf = new Map(p.phases.flatMap((phase, k) => phase.map((i) => [p.steps[i]!.session, k] as const)))
    for (const dependent of second) expect(phaseOf.get(dependent)!, dependent).toBeGreaterThan(phaseOf.get(name(Number(dependent.slice(1)) - 250))!)
  })

  it("renders one line per step and a JSON step per step", () => {
    const lines = renderPlan(p, { color: false }).split("\n")
    // every step's line names its session (the unchanged ones are not listed)
    for (const s of p.steps) expect(lines.some((l) => l.includes(` ${s.session} `)), s.session).toBe(true)
    expect(lines.at(-1)).toBe("Plan: 100 to create, 100 to replace, 100 to start, 0 to stop, 20 to prune. 100 blocked (conflict or invalid).")
    expect(planToJson(p).steps).toHaveLength(p.steps.length)
  })
})
