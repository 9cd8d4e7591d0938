/**
 * `start NAME` decided by the planner, as data: its dependencies started first only when they do not
 * run (never replaced or stopped by a start), running already = nothing to do, asked for another
 * place than where it runs = an error (never a second copy, never a silent move), blocked by a
 * conflict or an entry that cannot run.
 */
import { describe, expect, it } from "vitest"
import type { ConfigEntry } from "../../src/config/types.js"
import type { SessionSpec } from "../../src/model.js"
import { planStart, phaseSteps } from "../../src/reconcile/plan.js"
import { containerSpec, foreign, owned, planOptions, tmuxSpec, valid } from "../../src/testing/specs.js"

const target = (spec: SessionSpec) => valid(spec) as Extract<ConfigEntry, { _tag: "Valid" }>
const options = (placeAsked = false, over: Parameters<typeof planOptions>[0] = {}) => {
  const { prune: _p, only: _o, ...rest } = planOptions(over)
  return { ...rest, placeAsked }
}

const db = containerSpec("db", { ready: { tcp: 5432, timeout: 10, interval: 1 } })
const cache = tmuxSpec("cache")
const web = tmuxSpec("web", { depends_on: ["db", "cache"] })

describe("planStart", () => {
  it("nothing runs: its dependencies first, in waves, then it", () => {
    const r = planStart(target(web), [valid(db), valid(cache)], [], options())
    expect(r._tag).toBe("Run")
    if (r._tag !== "Run") return
    expect(r.plan.order.waves).toEqual([["db", "cache"], ["web"]])
    expect(phaseSteps(r.plan).map((ph) => ph.map((s) => `${s._tag} ${s.session}`))).toEqual([["Create db", "Create cache"], ["Create web"]])
  })

  it("a dependency that drifted is left as it runs (a start never replaces it); one that runs is probed first", () => {
    const drifted = owned({ ...db, image: "localhost/old:1" })
    const r = planStart(target(web), [valid(db), valid(cache)], [drifted, owned(cache)], options())
    expect(r._tag === "Run" && r.plan.steps.map((s) => `${s._tag} ${s.session}`)).toEqual(["Create web"])
    expect(r._tag === "Run" && r.plan.order.probes.map((p) => p.session)).toEqual(["db"])
  })

  it("a stopped dependency of ours is started in place; an exited one too", () => {
    const r = planStart(target(web), [valid(db), valid(cache)], [owned(db, { state: "exited", exit_code: 1 }), owned(cache)], options())
    expect(r._tag === "Run" && r.plan.steps.map((s) => `${s._tag} ${s.session}`)).toEqual(["Start db", "Create web"])
  })

  it("running already: nothing to do, with the session of ours found", () => {
    const r = planStart(target(cache), [], [owned(cache)], options())
    expect(r).toEqual({ _tag: "AlreadyRunning", observed: owned(cache) })
  })

  it("running in another place while the command line asked for one: elsewhere, never moved", () => {
    const there = owned(tmuxSpec("cache", { socket_name: "other" }))
    const asked = tmuxSpec("cache", { socket_name: "mine" })
    expect(planStart(target(asked), [], [there], options(true))).toEqual({ _tag: "Elsewhere", observed: there })
    // from the config (no place asked): a move, as apply would do
    const r = planStart(target(asked), [], [there], options(false))
    expect(r._tag === "Run" && r.plan.steps.map((s) => [s._tag, s._tag === "Replace" ? s.reason : null])).toEqual([["Replace", "moved"]])
  })

  it("a foreign session running under the name where it would be created: elsewhere (never a second copy)", () => {
    const theirs = foreign("cache", { socket_name: "x" })
    expect(planStart(target(cache), [], [theirs], options())).toEqual({ _tag: "Elsewhere", observed: theirs })
  })

  it("blocked: a session not ours holds its place; its backend cannot run", () => {
    const theirs = foreign("cache", { socket_name: null })
    const conflict = planStart(target(cache), [], [theirs], options())
    expect(conflict).toMatchObject({ _tag: "Blocked", step: { _tag: "Conflict", reason: "not-managed" } })
    const missing = planStart(target(cache), [], [], options(false, { tmux: false }))
    expect(missing).toMatchObject({ _tag: "Blocked", step: { _tag: "Invalid", reason: "tmux-missing" } })
  })
})
