/**
 * The repository's own configs run as documented: the main job (kstlib.conf.yml), the tmux and
 * container examples, and the library example. Each in a Sandbox (private TMUX_TMPDIR, HOME).
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { basename, join } from "node:path"
import { fileURLToPath } from "node:url"
import { spawnSync } from "node:child_process"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { requireEngines } from "../support/engines.js"
import type { StatusJson } from "./harness.js"
import { eventually, Sandbox } from "./harness.js"

const repo = fileURLToPath(new URL("../../", import.meta.url))

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => {
  sb.cleanup()
})

const list = (config: string): Array<StatusJson> => {
  const r = sb.kstlib(["ops", "list", "--json", "--config", config], { config: false })
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as Array<StatusJson>
}

describe("the repository's kstlib.conf.yml (the README's main job)", () => {
  it("apply starts the clock and the log writer; a second apply has nothing to do; they stop gracefully", async () => {
    // A copy, so the log writer writes into the sandbox, not the checkout.
    cpSync(join(repo, "kstlib.conf.yml"), join(sb.dir, "main.yml"))
    mkdirSync(join(sb.dir, "examples"))
    cpSync(join(repo, "examples/scripts"), join(sb.dir, "examples/scripts"), { recursive: true })
    const config = join(sb.dir, "main.yml")
    const first = sb.kstlib(["ops", "apply", "--config", config], { config: false })
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toContain("Apply complete: 2 created")
    const rows = list(config).filter((s) => s.name === "clock" || s.name === "logger")
    expect(rows.map((s) => [s.name, s.state, s.owned, s.in_sync])).toEqual([["clock", "running", true, true], ["logger", "running", true, true]])
    const again = sb.kstlib(["ops", "apply", "--config", config], { config: false })
    expect(again.stdout).toContain("No changes")
    // Something visible: the clock prints the date, the writer appends to its log file.
    const clock = await eventually(() => {
      const r = sb.kstlib(["ops", "logs", "clock", "-n", "5", "--config", config], { config: false })
      return /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/u.test(r.stdout) ? r.stdout : undefined
    })
    expect(clock).toBeDefined()
    const logged = await eventually(() => {
      try {
        const text = readFileSync(join(sb.dir, "logs/demo.log"), "utf8")
        return text.includes("kstlib line 1") ? text : undefined
      } catch {
        return undefined
      }
    })
    expect(logged).toBeDefined()
    const stop = sb.kstlib(["ops", "stop", "logger", "--config", config], { config: false })
    expect(stop.code, stop.stderr).toBe(0)
    expect(list(config).find((s) => s.name === "logger")?.state).toBe("defined")
  })
})

describe("examples/tmux", () => {
  it("astro-dev runs with its env on the default server, orion on its own socket", async () => {
    const config = join(repo, "examples/tmux/kstlib.conf.yml")
    const r = sb.kstlib(["ops", "apply", "--config", config], { config: false })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const rows = list(config)
    expect(rows.find((s) => s.name === "astro-dev")).toMatchObject({ state: "running", socket_name: null })
    expect(rows.find((s) => s.name === "orion")).toMatchObject({ state: "running", socket_name: "orion" })
    const ticks = await eventually(() => {
      const logs = sb.kstlib(["ops", "logs", "astro-dev", "--config", config], { config: false }).stdout
      return logs.includes("astro-bot [dev] tick") && logs.includes("log_level=DEBUG") ? logs : undefined
    })
    expect(ticks).toBeDefined()
    // Graceful stop: the bot's Ctrl-C handler runs to the end (it says bye after a second).
    expect(sb.kstlib(["ops", "stop", "orion", "--config", config], { config: false }).code).toBe(0)
    expect(sb.tmuxHas("orion", "orion")).toBe(false)
  })
})

const engines = requireEngines("test/cli/examples.test.ts (container example)")

describe.each(engines)("examples/container on %s", (rt) => {
  it("astro-prod runs the mounted bot in the offline busybox image; exec and logs work", async () => {
    // A copy under this test's own name (a fixed name could collide with a real astro-prod).
    const name = sb.name("astro")
    cpSync(join(repo, "examples/container/bot"), join(sb.dir, "bot"), { recursive: true })
    const text = readFileSync(join(repo, "examples/container/kstlib.conf.yml"), "utf8")
      .replace("astro-prod:", `${name}:`)
      .replace("container_runtime: null", `container_runtime: ${rt}`)
    expect(text).toContain(`${name}:`)
    const config = join(sb.dir, "container.yml")
    writeFileSync(config, text)
    const r = sb.kstlib(["ops", "apply", "--config", config], { config: false })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(sb.containerState(rt, name)).toBe("running")
    const ticks = await eventually(() => {
      const logs = sb.kstlib(["ops", "logs", name, "--config", config], { config: false }).stdout
      return logs.includes("astro-bot [prod] tick") ? logs : undefined
    })
    expect(ticks).toBeDefined()
    const ls = sb.kstlib(["ops", "exec", name, "--config", config, "--", "ls", "/app"], { config: false })
    expect(ls.code, ls.stderr).toBe(0)
    expect(ls.stdout).toContain("astro-bot.sh")
  })
})

describe.each(engines)("examples/web-stack on %s", (rt) => {
  it("proxy → api → db by name on the project's networks; down leaves nothing but the named volume, down --volumes that too", async () => {
    // a copy under this test's names (a fixed name could collide with a real web-db) and a port of its own
    const prefix = sb.name("w")
    cpSync(join(repo, "examples/web-stack/scripts"), join(sb.dir, "scripts"), { recursive: true })
    const text = readFileSync(join(repo, "examples/web-stack/kstlib.conf.yml"), "utf8")
      .replaceAll("web-", `${prefix}-`)
      .replace("container_runtime: null", `container_runtime: ${rt}`)
    const config = join(sb.dir, "web-stack.yml")
    writeFileSync(config, text)
    const port = String(20000 + Math.floor(Math.random() * 20000))
    const project = basename(sb.dir).toLowerCase()
    const volume = `kstlib-${project}.db_data`
    const engine = (args: ReadonlyArray<string>) => spawnSync(rt, args, { env: sb.env, encoding: "utf8", timeout: 60_000 })
    try {
      const up = sb.kstlib(["ops", "apply", "--wait", "--config", config], { config: false, env: { WEB_STACK_PORT: port } })
      expect(up.code, up.stdout + up.stderr).toBe(0)
      expect(up.stdout).toContain(`Order: ${prefix}-db → ${prefix}-api → ${prefix}-proxy`)
      const answer = await fetch(`http://127.0.0.1:${port}/cgi-bin/hello`).then((r) => r.text())
      expect(answer).toMatch(new RegExp(`^api -> ${prefix}-db \\(\\d+\\.\\d+\\.\\d+\\.\\d+\\): hello from web-db, first started `, "u"))
      // only the proxy is published; the db and api are on the internal network too
      expect(engine(["network", "inspect", "--format", "{{.Internal}}", `kstlib-${project}.back`]).stdout.trim()).toBe("true")
      expect(engine(["port", `${prefix}-db`]).stdout.trim()).toBe("")

      const down = sb.kstlib(["ops", "down", "--config", config], { config: false, env: { WEB_STACK_PORT: port } })
      expect(down.code, down.stdout + down.stderr).toBe(0)
      expect(engine(["ps", "-a", "--filter", `label=io.kstlib.project=${project}`, "-q"]).stdout.trim()).toBe("")
      expect(engine(["network", "ls", "--format", "{{.Name}}"]).stdout.split("\n").filter((n) => n.startsWith(`kstlib-${project}`))).toEqual([])
      expect(engine(["volume", "inspect", volume]).status).toBe(0)

      // the data outlived the stack: a second run serves the line the first one stored
      const again = sb.kstlib(["ops", "apply", "--wait", "--config", config], { config: false, env: { WEB_STACK_PORT: port } })
      expect(again.code, again.stdout + again.stderr).toBe(0)
      expect(await fetch(`http://127.0.0.1:${port}/cgi-bin/hello`).then((r) => r.text())).toContain(answer.slice(answer.indexOf("hello from")).trim())
      const all = sb.kstlib(["ops", "down", "--volumes", "--config", config], { config: false, env: { WEB_STACK_PORT: port } })
      expect(all.code, all.stdout + all.stderr).toBe(0)
      expect(all.stderr).toContain(`Removed volume ${volume}.`)
      expect(engine(["volume", "inspect", volume]).status).not.toBe(0)
    } finally {
      // a failure above may leave the stack up: its containers first, then the volume they held
      sb.kstlib(["ops", "down", "--volumes", "--config", config], { config: false, env: { WEB_STACK_PORT: port } })
      engine(["volume", "rm", "-f", volume])
    }
  }, 240_000)
})

describe("examples/library", () => {
  it("the Effect program loads a config, plans, applies and reports through the library API", () => {
    const config = join(sb.dir, "lib.yml")
    writeFileSync(config, `ops:\n  sessions:\n    libdemo:\n      command: "sleep 60"\n`)
    // Node 22 strips the types; "kstlib" resolves to this package's build (self-reference).
    const r = spawnSync(process.execPath, [join(repo, "examples/library/main.ts"), config], {
      cwd: repo,
      env: sb.env,
      encoding: "utf8",
      timeout: 60_000
    })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain("+ libdemo (tmux): create, not running")
    expect(r.stdout).toContain("ok     create libdemo")
    expect(r.stdout).toMatch(/libdemo: running \(pid \d+\)/u)
    expect(sb.tmuxHas("libdemo")).toBe(true)
  })
})
