/**
 * `kstlib ops import` end to end (the built binary): the file written or printed, the report on
 * stderr or as JSON, the output validated, `-o` never replacing a file without --force, the exit
 * codes, pm2 JavaScript only with --allow-js; and an imported Procfile, pm2 ecosystem (tmux) and
 * compose file (podman) applied.
 */
import { copyFileSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { Sandbox, stackLines } from "./harness.js"

const FIXTURES = join(import.meta.dirname, "../fixtures/import")

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => sb.cleanup())

const COMPOSE = `
services:
  web:
    image: localhost/web:1
    command: python -m http.server 8000
    environment: { LOG_LEVEL: info }
    ports: ["8080:8000"]
    restart: on-failure:3
    healthcheck: { test: ["CMD", "wget", "-q", "-O-", "http://localhost:8000/"], interval: 2s }
    depends_on: { db: { condition: service_healthy } }
    logging: { driver: syslog }
  db:
    image: redis:7
    healthcheck: { test: ["CMD", "redis-cli", "ping"] }
    container_name: the-db
`

const importArgs = (...args: Array<string>) => ["ops", "import", ...args]

describe("kstlib ops import", () => {
  it("-o writes a config that validates, reports every key not carried on stderr, and never replaces a file without --force", () => {
    sb.file("compose.yaml", COMPOSE)
    const out = join(sb.dir, "kstlib.conf.yml")
    const r = sb.kstlib(importArgs("compose.yaml", "-o", out))
    expect(r.code).toBe(0)
    expect(r.stdout).toBe("")
    expect(r.stderr).toContain("not carried services.web.logging: kstlib sets no log driver")
    expect(r.stderr).toContain("not carried services.db.container_name: ")
    expect(r.stderr).toContain("note        services.web.depends_on.db.condition: service_healthy: web starts once db runs and its ready check (its healthcheck) passes")
    expect(r.stderr).toContain(`compose.yaml (compose): 2 sessions written to ${out}, 2 keys not carried`)
    expect(r.stderr).not.toContain("invalid")
    const written = readFileSync(out, "utf8")
    expect(written).toMatch(/^# Imported by kstlib ops import from compose\.yaml \(compose\) on \d{4}-\d{2}-\d{2}\./u)
    expect(YAML.parse(written).ops.sessions.web).toMatchObject({ image: "localhost/web:1", restart: "on-failure", max_restarts: 3, depends_on: ["db"] })
    expect(sb.kstlib(["ops", "validate"]).code).toBe(0)

    writeFileSync(out, "# mine\n")
    const again = sb.kstlib(importArgs("compose.yaml", "-o", out))
    expect(again.code).toBe(2)
    expect(again.stderr).toContain(`--output: ${out} exists: add --force to replace it`)
    expect(readFileSync(out, "utf8")).toBe("# mine\n")
    expect(sb.kstlib(importArgs("compose.yaml", "-o", out, "--force")).code).toBe(0)
    expect(readFileSync(out, "utf8")).toBe(written)
  })

  it("without -o the YAML goes to stdout, the report to stderr; --json gives the report as data", () => {
    sb.file("compose.yaml", COMPOSE)
    const r = sb.kstlib(importArgs("compose.yaml"))
    expect(r.code).toBe(0)
    expect(Object.keys(YAML.parse(r.stdout).ops.sessions)).toEqual(["web", "db"])
    expect(r.stderr).toContain("not carried services.web.logging")

    const j = sb.kstlib(importArgs("compose.yaml", "--json"))
    expect(j.code).toBe(0)
    const report = JSON.parse(j.stdout)
    expect(report).toMatchObject({ format: "compose", output: null, sessions: ["web", "db"], validation: null, isolation: null })
    expect(report.notCarried).toEqual([
      { where: "services.web.logging", why: expect.stringContaining("log driver"), session: "web" },
      { where: "services.db.container_name", why: expect.stringContaining("names the container"), session: "db" }
    ])
    expect(report.config.ops.sessions.db).toEqual({ backend: "container", image: "redis:7", ready: { cmd: "redis-cli ping", timeout: 180 } })
    expect(j.stderr).toBe("")
  })

  it("an imported Procfile runs: apply starts its processes on tmux", () => {
    const web = sb.name("web")
    const worker = sb.name("worker")
    sb.file("Procfile", `${web}: sleep 300\n${worker}: sh -c 'sleep 300'\n`)
    const r = sb.kstlib(importArgs("Procfile", "-o", "kstlib.conf.yml"))
    expect(r.code).toBe(0)
    expect(r.stderr).not.toContain("invalid")
    const apply = sb.kstlib(["ops", "apply"])
    expect(apply.code, apply.stderr).toBe(0)
    expect(sb.tmuxHas(web)).toBe(true)
    expect(sb.tmuxHas(worker)).toBe(true)
  })

  it("exit codes: 1 for a file it cannot read or tell, 2 for usage; no stack trace", () => {
    sb.file("notes.txt", "just some text\n")
    const unknown = sb.kstlib(importArgs("notes.txt"))
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain("notes.txt: cannot tell its format from its name or contents: give --format (compose, pm2, tmuxp, tmuxinator, procfile)")
    const missing = sb.kstlib(importArgs("nope.yml"))
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain("nope.yml: cannot read it: ENOENT")
    const wrong = sb.kstlib(importArgs("notes.txt", "--format", "compose"))
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toContain("not a compose file: no services: mapping")
    copyFileSync(join(FIXTURES, "tmuxinator/template-sample.yml"), join(sb.dir, ".tmuxinator.yml"))
    const erb = sb.kstlib(importArgs(".tmuxinator.yml"))
    expect(erb.code).toBe(1)
    expect(erb.stderr).toContain("ERB")
    const badFormat = sb.kstlib(importArgs("notes.txt", "--format", "kubernetes"))
    expect(badFormat.code).toBe(2)
    sb.file("compose.yaml", COMPOSE)
    const env = sb.kstlib(importArgs("compose.yaml", "--env", "production"))
    expect(env.code).toBe(2)
    expect(env.stderr).toContain("--env: only for a pm2 ecosystem file")
    for (const x of [unknown, missing, wrong, erb, env]) expect(stackLines(x.stderr)).toEqual([])
  })

  it("a pm2 JavaScript file runs only with --allow-js, sandboxed", () => {
    copyFileSync(join(FIXTURES, "pm2/ecosystem.config.js"), join(sb.dir, "ecosystem.config.js"))
    copyFileSync(join(FIXTURES, "pm2/fetch.config.js"), join(sb.dir, "fetch.config.js"))
    const refused = sb.kstlib(importArgs("ecosystem.config.js"))
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain("a JavaScript ecosystem file is code that pm2 runs: kstlib evaluates it only with --allow-js")
    const r = sb.kstlib(importArgs("ecosystem.config.js", "--allow-js", "--json"))
    expect(r.code).toBe(0)
    const report = JSON.parse(r.stdout)
    // the file saw no HOME: nothing of the user's environment reaches it
    expect(report.config.ops.sessions.api).toMatchObject({ command: "node dist/server.js", env: { NODE_ENV: "development", FROM_ENV: "undefined" } })
    expect(["network namespace", "network modules blocked"]).toContain(report.isolation)
    const net = sb.kstlib(importArgs("fetch.config.js", "--allow-js"))
    expect(net.code).toBe(1)
    expect(net.stderr).toContain("'node:net' is not available to an imported file")
  })

  it("an imported pm2 ecosystem and an imported compose file run: apply starts them (tmux, and podman)", () => {
    const api = sb.name("api")
    const cache = sb.name("cache")
    sb.file("ecosystem.config.json", JSON.stringify({ apps: [{ name: api, script: "sleep", args: "300", autorestart: true, max_restarts: 3, kill_timeout: 2000 }] }))
    const pm2 = sb.kstlib(importArgs("ecosystem.config.json", "-o", "kstlib.conf.yml"))
    expect(pm2.code, pm2.stderr).toBe(0)
    const up = sb.kstlib(["ops", "apply"])
    expect(up.code, up.stdout + up.stderr).toBe(0)
    expect(sb.tmuxHas(api)).toBe(true)
    const st = JSON.parse(sb.kstlib(["ops", "status", api, "--json"]).stdout) as { state: string }
    expect(st.state).toBe("running")
    sb.kstlib(["ops", "down", "--timeout", "1"])

    const dir = sb.subdir("compose")
    writeFileSync(join(dir, "compose.yaml"), `services:\n  ${cache}:\n    image: localhost/kstlib-busybox:latest\n    command: ["sleep", "300"]\n    environment: [MODE=test]\n    restart: unless-stopped\n`)
    const compose = sb.kstlib(importArgs("compose.yaml", "-o", "kstlib.conf.yml", "--json"), { cwd: dir, config: false })
    expect(compose.code, compose.stderr).toBe(0)
    const cfg = join(dir, "kstlib.conf.yml")
    writeFileSync(cfg, readFileSync(cfg, "utf8").replace(`    ${cache}:\n`, `    ${cache}:\n      runtime: podman\n`))
    const run = sb.kstlib(["ops", "apply"], { cwd: dir, config: false })
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(sb.containers("podman")).toContain(cache)
    sb.kstlib(["ops", "down", "--timeout", "1"], { cwd: dir, config: false })
  })

  it("--help says that --allow-js runs the file as code, with examples", () => {
    const r = sb.kstlib(importArgs("--help"))
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("RUNS AS CODE")
    expect(r.stdout).toContain("kstlib ops import compose.yaml -o kstlib.conf.yml")
  })
})
