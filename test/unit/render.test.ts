/**
 * Plan rendering: the text form (symbols, indented changes, summary, hints, colours) and the JSON
 * document. Plans are built with the real pure `plan` from small factories, so the rendered text is
 * that of plans the reconciler actually produces.
 */
import { describe, expect, it } from "vitest"
import type { ConfigEntry } from "../../src/config/types.js"
import type { ConfigIssue } from "../../src/errors.js"
import type { ContainerSpec, ObservedSession, SessionSpec, TmuxSpec } from "../../src/model.js"
import type { Plan } from "../../src/reconcile/plan.js"
import { plan } from "../../src/reconcile/plan.js"
import { formatChange, planToJson, renderPlan, renderStep, summaryLine } from "../../src/reconcile/render.js"
import { styleFor } from "../../src/style.js"
import {
  containerSpec,
  foreign,
  issue as makeIssue,
  owned,
  planOptions,
  rejected as rejectedEntry,
  tmuxSpec,
  valid as validEntry
} from "../../src/testing/specs.js"

const SECRET = "s3cr3t-Value-7f1e"
const SECRET2 = "0th3r-s3cr3t-9a2b"
const ANSI = /\u001b\[[0-9;]*m/
const plain = { color: false } as const
const colored = { color: true } as const

const tmux = (name: string, over: Partial<Omit<TmuxSpec, "backend" | "name">> = {}): TmuxSpec =>
  tmuxSpec(name, { env: { API_TOKEN: SECRET }, ...over })

const ctr = (name: string, over: Partial<Omit<ContainerSpec, "backend" | "name">> = {}): ContainerSpec =>
  containerSpec(name, { env: { API_TOKEN: SECRET }, ...over })

// This file's config lines: entries at line 2, issues at line 9 (they appear in the rendered text).
const valid = (spec: SessionSpec): ConfigEntry => validEntry(spec, 2)
const issue = (session: string, field: string, reason: string) => makeIssue(session, field, reason, 9)
const rejected = (name: string, issues: ReadonlyArray<ConfigIssue>): ConfigEntry => rejectedEntry(name, issues, "container", 9)

const foreignTmux = (name: string): ObservedSession => foreign(name, { socket_name: null })

const opts = planOptions

/** One plan with every kind of step, in this order: create, start, replace, stop, conflict, invalid, prune. */
const everyStep = (): Plan =>
  plan(
    [
      valid(tmux("api", { socket_name: "work" })),
      valid(ctr("db")),
      valid(ctr("web", { image: "localhost/app:2", env: { API_TOKEN: SECRET2 } })),
      valid(tmux("worker", { state: "stopped" })),
      valid(tmux("shell")),
      rejected("broken", [issue("broken", "image", "required for a container session")]),
      valid(tmux("calm"))
    ],
    [
      owned(ctr("db"), { state: "exited", exit_code: 3 }),
      owned(ctr("web")),
      owned(tmux("worker")),
      foreignTmux("shell"),
      owned(tmux("calm")),
      owned(ctr("gone"))
    ],
    opts({ prune: true })
  )

describe("renderPlan (text)", () => {
  it("a replace's diff shows config text escaped: ESC sequences and bidi controls never reach the terminal", () => {
    const before = tmux("api", { command: "node server.js" })
    const after = tmux("api", { command: "node '\u001b[2J\u001b[1;1Hall good' \u202eevil" })
    const p = plan([valid(after)], [owned(before)], planOptions())
    const text = renderPlan(p, plain)
    expect(text).toContain("command: node server.js → node '\\u001b[2J\\u001b[1;1Hall good' \\u202eevil")
    expect(text).not.toMatch(/[\u001b\u202e]/u)
  })

  it("one line per step with its symbol, changes indented below, then the summary", () => {
    expect(renderPlan(everyStep(), plain).split("\n")).toEqual([
      "  + api (tmux, socket work): create, not running",
      "  > db (container, podman): start, exited with code 3",
      "-/+ web (container, podman): replace, spec changed",
      "      image: localhost/app:1 → localhost/app:2",
      "      env.API_TOKEN (changed)",
      "  - worker (tmux socket default): stop, state: stopped in config",
      "  ! shell (tmux socket default): conflict, a tmux session not created by kstlib holds the name (tmux socket default); left untouched",
      "  ! broken (container): invalid, /cfg/kstlib.conf.yml:9: session 'broken': image: required for a container session",
      "  - gone (container, podman): prune, no longer in config (podman)",
      "",
      "Plan: 1 to create, 1 to replace, 1 to start, 1 to stop, 1 to prune. 2 blocked (conflict or invalid)."
    ])
  })

  it("the exact summary line", () => {
    const p = everyStep()
    expect(summaryLine(p)).toBe("Plan: 1 to create, 1 to replace, 1 to start, 1 to stop, 1 to prune.")
    const two = plan([valid(tmux("a")), valid(tmux("b")), valid(ctr("c", { image: "x:2" }))], [owned(ctr("c"))], opts())
    expect(summaryLine(two)).toBe("Plan: 2 to create, 1 to replace, 0 to start, 0 to stop, 0 to prune.")
    // no "blocked" suffix when nothing is blocked
    expect(renderPlan(two, plain).split("\n").at(-1)).toBe("Plan: 2 to create, 1 to replace, 0 to start, 0 to stop, 0 to prune.")
  })

  it("\"No changes.\" when the plan is empty, and the summary still printed", () => {
    const p = plan([valid(tmux("calm"))], [owned(tmux("calm"))], opts())
    expect(renderPlan(p, plain)).toBe(
      "No changes. Sessions match the configuration.\n\nPlan: 0 to create, 0 to replace, 0 to start, 0 to stop, 0 to prune."
    )
  })

  it("hints at orphans when --prune was not given", () => {
    const p = plan([valid(tmux("calm"))], [owned(tmux("calm")), owned(tmux("old1")), owned(ctr("old2"))], opts())
    expect(renderPlan(p, plain).split("\n")).toEqual([
      "No changes. Sessions match the configuration.",
      "(2 session(s) created by kstlib are no longer in config: old1, old2; use --prune to remove them)",
      "",
      "Plan: 0 to create, 0 to replace, 0 to start, 0 to stop, 0 to prune."
    ])
  })

  it("verbose lists the unchanged sessions; not verbose does not", () => {
    const p = plan([valid(tmux("calm")), valid(ctr("steady")), valid(tmux("new"))], [owned(tmux("calm")), owned(ctr("steady"))], opts())
    expect(renderPlan(p, plain, { verbose: true }).split("\n")).toEqual([
      "  + new (tmux): create, not running",
      "    calm: no change",
      "    steady: no change",
      "",
      "Plan: 1 to create, 0 to replace, 0 to start, 0 to stop, 0 to prune."
    ])
    expect(renderPlan(p, plain)).not.toContain("no change")
  })

  it("an invalid entry with several issues lists each below it", () => {
    const p = plan([rejected("broken", [issue("broken", "image", "required"), issue("broken", "env.PORT", "must be a string")])], [], opts())
    expect(renderStep(p.steps[0]!, plain).split("\n")).toEqual([
      "  ! broken (container): invalid, /cfg/kstlib.conf.yml:9: session 'broken': image: required; /cfg/kstlib.conf.yml:9: session 'broken': env.PORT: must be a string",
      "      image: required",
      "      env.PORT: must be a string"
    ])
  })

  it("a move is rendered at its destination with the backend change first", () => {
    const p = plan([valid(ctr("api", { command: "node server.js", working_dir: "/srv/app" }))], [owned(tmux("api"))], opts())
    const lines = renderPlan(p, plain).split("\n")
    expect(lines[0]).toBe("-/+ api (container, podman): replace, moves from tmux socket default to podman")
    expect(lines[1]).toBe("      backend: tmux → container")
    expect(lines).toContain("      image: (none) → localhost/app:1")
  })

  it("no ANSI codes when colour is off, ANSI around each symbol when on", () => {
    const p = everyStep()
    const text = renderPlan(p, plain, { verbose: true })
    expect(text).not.toMatch(ANSI)
    const color = renderPlan(p, colored, { verbose: true })
    expect(color).toMatch(ANSI)
    expect(color).toContain("\u001b[32m  +\u001b[39m api")
    expect(color).toContain("\u001b[36m  >\u001b[39m db")
    expect(color).toContain("\u001b[33m-/+\u001b[39m web")
    expect(color).toContain("\u001b[31m  -\u001b[39m worker")
    expect(color).toContain("\u001b[35m  !\u001b[39m shell")
    // Stripping the colour gives back exactly the plain text.
    expect(color.replace(new RegExp(ANSI.source, "g"), "")).toBe(text)
  })

  it("the orphans hint and unchanged lines are coloured only when colour is on", () => {
    const p = plan([valid(tmux("calm"))], [owned(tmux("calm")), owned(tmux("old"))], opts())
    expect(renderPlan(p, colored, { verbose: true })).toContain("\u001b[2m(1 session(s) created by kstlib")
    expect(renderPlan(p, plain, { verbose: true })).not.toMatch(ANSI)
  })

  it("never prints an env value", () => {
    const text = renderPlan(everyStep(), plain, { verbose: true })
    expect(text).not.toContain(SECRET)
    expect(text).not.toContain(SECRET2)
  })
})

describe("styleFor", () => {
  it.each([
    [true, {}, true],
    [true, { NO_COLOR: "1" }, false],
    [true, { NO_COLOR: "0" }, false],
    [true, { NO_COLOR: "" }, true], // no-color.org: only a non-empty value disables colour
    [true, { TERM: "dumb" }, false],
    [true, { TERM: "xterm-256color" }, true],
    [false, {}, false],
    [false, { TERM: "xterm-256color" }, false]
  ] as const)("tty=%s env=%j → color %s", (tty, env, color) => {
    expect(styleFor(tty, env)).toEqual({ color })
  })
})

describe("formatChange", () => {
  it("field: from → to, (none) for null, env as key + kind", () => {
    expect(formatChange({ field: "image", from: "a:1", to: "a:2" })).toBe("image: a:1 → a:2")
    expect(formatChange({ field: "log_volume", from: null, to: "logs" })).toBe("log_volume: (none) → logs")
    expect(formatChange({ field: "command", from: "x", to: null })).toBe("command: x → (none)")
    expect(formatChange({ field: "env.KEY", change: "added" })).toBe("env.KEY (added)")
    expect(formatChange({ field: "env.KEY", change: "removed" })).toBe("env.KEY (removed)")
  })
})

describe("planToJson", () => {
  it("is one JSON document with steps (action, session, backend, cause, changes), summary and changed", () => {
    const p = everyStep()
    const doc = JSON.parse(JSON.stringify(planToJson(p))) as {
      changed: boolean
      summary: Record<string, number>
      steps: ReadonlyArray<Record<string, unknown>>
      orphans: ReadonlyArray<string>
      unchanged: ReadonlyArray<string>
    }
    expect(doc.changed).toBe(true)
    expect(doc.summary).toEqual({ create: 1, replace: 1, start: 1, stop: 1, prune: 1, conflict: 1, invalid: 1 })
    expect(doc.steps.map((s) => [s["action"], s["session"], s["backend"]])).toEqual([
      ["create", "api", "tmux"],
      ["start", "db", "container"],
      ["replace", "web", "container"],
      ["stop", "worker", "tmux"],
      ["conflict", "shell", "tmux"],
      ["invalid", "broken", "container"],
      ["prune", "gone", "container"]
    ])
    for (const s of doc.steps) {
      expect(typeof s["cause"]).toBe("string")
      expect(Array.isArray(s["changes"])).toBe(true)
    }
    expect(doc.steps[2]).toMatchObject({
      cause: "spec changed",
      changes: [{ field: "image", from: "localhost/app:1", to: "localhost/app:2" }, { field: "env.API_TOKEN", change: "changed" }],
      place: { runtime: "podman" },
      targets: [{ backend: "container", state: "running", socket_name: null, runtime: "podman", owned: true }]
    })
    expect(doc.steps[0]).toMatchObject({ place: { socket_name: "work" } })
    expect(doc.steps[0]).not.toHaveProperty("targets")
    expect(doc.steps[4]).toMatchObject({ targets: [{ backend: "tmux", owned: false }] })
    expect(doc.steps[5]).toMatchObject({ issues: [issue("broken", "image", "required for a container session")] })
    expect(doc.unchanged).toEqual(["calm"])
    expect(doc.orphans).toEqual([])
  })

  it("never carries env values nor the specs' env", () => {
    const text = JSON.stringify(planToJson(everyStep()))
    expect(text).not.toContain(SECRET)
    expect(text).not.toContain(SECRET2)
    expect(text).not.toContain("API_TOKEN\":")
  })

  it("changed is false for an empty plan and for only blocked steps", () => {
    expect(planToJson(plan([valid(tmux("calm"))], [owned(tmux("calm"))], opts())).changed).toBe(false)
    const blocked = planToJson(plan([valid(tmux("shell")), rejected("broken", [issue("broken", "image", "required")])], [foreignTmux("shell")], opts()))
    expect(blocked.steps.map((s) => s.action)).toEqual(["conflict", "invalid"])
    expect(blocked.changed).toBe(false)
  })

  it("lists orphans when --prune is not given", () => {
    const doc = planToJson(plan([], [owned(tmux("old"))], opts()))
    expect(doc).toMatchObject({ changed: false, steps: [], orphans: ["old"] })
  })
})
