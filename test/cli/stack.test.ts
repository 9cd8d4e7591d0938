/**
 * Supervision end to end, on the BUILT binary: examples/stack (a container "db" with a log readiness
 * probe that turns ready after 2 s, a tmux "worker" depending on it) on every engine; cycles and
 * unknown dependencies rejected; a failing dependency blocks only its dependents; `ops stop` of an
 * `always` session stays stopped.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { requireEngines } from "../support/engines.js"
import type { StatusJson } from "./harness.js"
import { eventually, Sandbox, TEST_IMAGE } from "./harness.js"

const repo = fileURLToPath(new URL("../../", import.meta.url))

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => {
  sb.cleanup()
})

const engines = requireEngines("test/cli/stack.test.ts")

describe.each(engines)("examples/stack on %s", (rt) => {
  it("plan shows the order; apply --wait starts the worker only once db is ready; status shows it; down goes in reverse", async () => {
    const db = sb.name("db")
    const worker = sb.name("worker")
    const text = readFileSync(join(repo, "examples/stack/kstlib.conf.yml"), "utf8")
      .replace("    db:\n", `    ${db}:\n`)
      .replace("    worker:\n", `    ${worker}:\n`)
      .replace("depends_on: [db]", `depends_on: [${db}]`)
      .replace("container_runtime: null", `container_runtime: ${rt}`)
    const config = join(sb.dir, "stack.yml")
    writeFileSync(config, text)
    const k = (args: ReadonlyArray<string>) => sb.kstlib([...args, "--config", config], { config: false })

    const plan = k(["ops", "plan"])
    expect(plan.stdout).toContain(`Order: ${db} → ${worker}`)
    expect(JSON.parse(k(["ops", "plan", "--json"]).stdout).waves).toEqual([[db], [worker]])

    const apply = k(["ops", "apply", "--wait"])
    expect(apply.code, apply.stdout + apply.stderr).toBe(0)
    const rows = JSON.parse(k(["ops", "list", "--json"]).stdout) as Array<StatusJson & { created_at: string }>
    const dbRow = rows.find((r) => r.name === db)!
    expect(dbRow.state).toBe("running")
    // the worker started after db printed its ready line, 2 s after db's creation
    const started = await eventually(() => {
      const m = /worker: started at ([0-9.]+)/u.exec(k(["ops", "logs", worker]).stdout)
      return m === null ? undefined : Number(m[1])
    })
    expect(started).toBeDefined()
    expect(started! * 1000 - Date.parse(dbRow.created_at)).toBeGreaterThanOrEqual(1900)
    expect(k(["ops", "logs", db]).stdout).toContain("db: ready to accept connections")

    const status = JSON.parse(k(["ops", "status", db, "--json"]).stdout) as { ready: boolean | null; restarts: number | null }
    expect(status.ready).toBe(true)
    expect(k(["ops", "status", db]).stdout).toMatch(/Ready\s+yes/u)

    // stop db: the worker is left alone, and named
    const stop = k(["ops", "stop", db, "-t", "1"])
    expect(stop.code, stop.stderr).toBe(0)
    expect(stop.stdout).toContain(`Still running, and depending on it (left alone): ${worker}.`)
    // start worker: starts db first
    expect(k(["ops", "stop", worker]).code).toBe(0)
    const start = k(["ops", "start", worker])
    expect(start.code, start.stderr).toBe(0)
    expect(start.stdout).toContain(`Started first (dependencies): ${db}.`)
    expect(sb.containerState(rt, db)).toBe("running")

    const down = k(["ops", "down", "-t", "1"])
    expect(down.code, down.stdout + down.stderr).toBe(0)
    expect(down.stdout.indexOf(`${worker} (`)).toBeLessThan(down.stdout.indexOf(`${db} (`))
    expect(sb.containerState(rt, db)).toBeNull()
  }, 120_000)
})

describe("dependencies through the CLI", () => {
  it("a cycle and an unknown dependency are invalid entries, with file:line", () => {
    const a = sb.name("a")
    const b = sb.name("b")
    const c = sb.name("c")
    sb.writeConfig({
      [a]: { command: "sleep 60", depends_on: [b] },
      [b]: { command: "sleep 60", depends_on: [a] },
      [c]: { command: "sleep 60", depends_on: ["nope"] }
    })
    const r = sb.kstlib(["ops", "plan"])
    expect(r.stdout).toContain(`! ${a} (tmux): invalid`)
    expect(r.stdout).toContain(`depends_on: dependency cycle ${a} → ${b} → ${a}`)
    expect(r.stdout).toMatch(new RegExp(`kstlib\\.conf\\.yml:\\d+: session '${c}': depends_on: unknown session 'nope'`, "u"))
    expect(sb.kstlib(["ops", "apply"]).code).toBe(1)
  })

  it("a failing dependency blocks only its dependents: not run (dependency X failed); apply exits 1", () => {
    const bad = sb.name("bad")
    const dep = sb.name("dep")
    const free = sb.name("free")
    sb.writeConfig({
      [bad]: { command: "false" },
      [dep]: { command: "sleep 60", depends_on: [bad] },
      [free]: { command: "sleep 60" }
    })
    const r = sb.kstlib(["ops", "apply"])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(new RegExp(`NOT RUN \\+ ${dep} \\(tmux\\): create, not running\\n\\s+not run \\(dependency ${bad} failed\\)`, "u"))
    expect(r.stdout).toMatch(/1 failed, 1 not run/u)
    expect(sb.tmuxHas(free)).toBe(true)
    expect(sb.tmuxHas(dep)).toBe(false)
  })

  it("apply --wait: a session never ready in time is named, with its last output; exit 1", () => {
    const slow = sb.name("slow")
    sb.writeConfig({ [slow]: { command: "echo booting; sleep 60", shell: true, ready: { tcp: 1, timeout: 2, interval: 0.5 } } })
    const r = sb.kstlib(["ops", "apply", "--wait"])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(`session '${slow}' not ready after 2s (tcp 1: 127.0.0.1:1: connection refused)`)
    expect(r.stdout).toContain("| booting")
    expect(r.stdout).toContain(`Not ready in time: ${slow}.`)
  })

  it("kstlib ops stop of an always session stays stopped", async () => {
    const svc = sb.name("svc")
    sb.writeConfig({ [svc]: { command: "sleep 60", restart: "always" } })
    expect(sb.kstlib(["ops", "apply"]).code).toBe(0)
    expect(sb.kstlib(["ops", "stop", svc]).code).toBe(0)
    await new Promise((r) => setTimeout(r, 2500))
    expect(sb.tmuxHas(svc)).toBe(false)
  })
})

void TEST_IMAGE
