/**
 * `kstlib ops watch` end to end, on a private tmux server and the real engines: a session removed
 * by hand comes back, an edited config is applied, a stop through kstlib is respected, a manual
 * apply while the watcher acts is refused naming it, a second watcher is refused, SIGTERM ends it
 * quickly and leaves the sessions running. `ops startup`: the unit is checked by systemd's own
 * verifier, and its ExecStart is run exactly as written (WorkingDirectory, Environment lines).
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import type { Background } from "./harness.js"
import { eventually, Sandbox, TEST_IMAGE } from "./harness.js"
import { availableEngines } from "../support/engines.js"

let boxes: Array<Sandbox> = []
const watchers: Array<Background> = []
afterEach(async () => {
  for (const w of watchers.splice(0)) {
    try {
      process.kill(w.pid, "SIGTERM")
    } catch {
      // already ended
    }
    await w.done.catch(() => undefined)
  }
  for (const b of boxes) b.cleanup()
  boxes = []
})

const sandbox = () => {
  const b = new Sandbox()
  boxes.push(b)
  return b
}

/** The watcher's JSON events so far. */
const events = (w: Background): Array<Record<string, unknown>> =>
  w.output().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>)

const steps = (w: Background, action: string, session: string) =>
  events(w).filter((e) => e["event"] === "step" && e["action"] === action && e["session"] === session && e["ok"] === true).length

const until = async (what: string, check: () => boolean, tries = 60) => {
  const ok = await eventually(() => (check() ? true : undefined), tries, 200)
  if (ok !== true) throw new Error(`timed out waiting for: ${what}`)
}

const watchEnv = (b: Sandbox) => ({ XDG_STATE_HOME: `${b.home}/.state` })

describe("ops watch on tmux", () => {
  it("recreates a session removed by hand, applies an edited config, respects a stop through kstlib", async () => {
    const b = sandbox()
    const sock = b.name("s")
    const web = b.name("web")
    b.writeConfig({ [web]: { command: "sleep 600", socket_name: sock } })
    const w = b.kstlibBackground(["ops", "watch", "--json", "--interval", "2"], { env: watchEnv(b) })
    watchers.push(w)
    await until("created at start", () => b.tmuxHas(web, sock) && steps(w, "create", web) === 1)
    const first = b.tmuxPids(sock).get(web)

    // removed by hand: created again (an event, well before the 2 s safety net would matter)
    expect(b.tmux(["-L", sock, "kill-session", "-t", `=${web}`]).code).toBe(0)
    await until("recreated", () => steps(w, "create", web) === 2 && b.tmuxHas(web, sock))
    expect(b.tmuxPids(sock).get(web)).not.toBe(first)

    // the config edited: replaced with the new command
    b.writeConfig({ [web]: { command: "sleep 700", socket_name: sock } })
    await until("replaced", () => steps(w, "replace", web) === 1)
    expect(events(w).some((e) => e["event"] === "change" && e["source"] === "config")).toBe(true)
    expect(b.kstlib(["ops", "plan", "--json"], { env: watchEnv(b) }).stdout).toContain('"changed": false')

    // stopped through kstlib: stays stopped across several periodic passes
    const stopped = b.kstlib(["ops", "stop", web], { env: watchEnv(b) })
    expect(stopped.code, stopped.stdout + stopped.stderr).toBe(0)
    const passes = events(w).filter((e) => e["event"] === "change" && e["source"] === "periodic").length
    await until("two more periodic passes", () => events(w).filter((e) => e["event"] === "change" && e["source"] === "periodic").length >= passes + 2)
    expect(b.tmuxHas(web, sock)).toBe(false)

    // started through kstlib: watched again (removed by hand, it comes back)
    expect(b.kstlib(["ops", "start", web], { env: watchEnv(b) }).code).toBe(0)
    const creates = steps(w, "create", web)
    expect(b.tmux(["-L", sock, "kill-session", "-t", `=${web}`]).code).toBe(0)
    await until("recreated after start", () => steps(w, "create", web) === creates + 1 && b.tmuxHas(web, sock))
  }, 90_000)

  it("state: stopped is never started; a second watcher is refused; a manual apply while it acts names it; SIGTERM ends it fast, sessions stay", async () => {
    const b = sandbox()
    const sock = b.name("s")
    const web = b.name("web")
    const off = b.name("off")
    b.writeConfig({ [web]: { command: "sleep 600", socket_name: sock }, [off]: { command: "sleep 600", socket_name: sock, state: "stopped" } })
    // a long settle keeps the watcher inside its pass (holding the apply lock) for a while after each launch
    const w = b.kstlibBackground(["ops", "watch", "--json", "--settle", "6"], { env: watchEnv(b) })
    watchers.push(w)
    await until("created", () => steps(w, "create", web) === 1, 100)
    expect(b.tmuxHas(off, sock)).toBe(false)

    const second = b.kstlib(["ops", "watch"], { env: watchEnv(b) })
    expect(second.code).toBe(1)
    expect(second.stderr).toContain(`another ops watch (pid ${w.pid}) already watches this config`)

    expect(b.tmux(["-L", sock, "kill-session", "-t", `=${web}`]).code).toBe(0)
    await until("the watcher's plan", () => events(w).filter((e) => e["event"] === "plan").length === 2)
    const manual = b.kstlib(["ops", "apply"], { env: watchEnv(b) })
    expect(manual.code).toBe(1)
    expect(manual.stderr).toContain(`kstlib ops watch (pid ${w.pid}) is converging this config right now`)
    await until("recreated", () => steps(w, "create", web) === 2, 100)

    const pidBefore = b.tmuxPids(sock).get(web)
    const started = Date.now()
    process.kill(w.pid, "SIGTERM")
    const end = await w.done
    expect(Date.now() - started).toBeLessThan(2000)
    expect([0, 130, 143]).toContain(end.code)
    expect(b.tmuxPids(sock).get(web)).toBe(pidBefore)
    // no control client left behind on the server
    expect(b.tmux(["-L", sock, "list-clients"]).stdout.trim()).toBe("")
  }, 90_000)
})

describe("ops watch enforces max_memory and cron_restart", () => {
  it("a session over max_memory is restarted, one under it is not; cron_restart restarts on its minute", async () => {
    const b = sandbox()
    const sock = b.name("s")
    const fat = b.name("fat")
    const thin = b.name("thin")
    const tick = b.name("tick")
    // node holding 64 MiB resident (filled, so the pages are really there)
    const hog = b.file("hog.js", "const b = Buffer.alloc(64 * 1024 * 1024, 1); setInterval(() => b[0]++, 1000)\n")
    b.writeConfig({
      [fat]: { command: `${process.execPath} ${hog}`, socket_name: sock, max_memory: "32M" },
      [thin]: { command: "sleep 600", socket_name: sock, max_memory: "32M" },
      [tick]: { command: "sleep 600", socket_name: sock, cron_restart: "* * * * *" }
    })
    const w = b.kstlibBackground(["ops", "watch", "--json"], { env: watchEnv(b) })
    watchers.push(w)
    await until("all three created", () => [fat, thin, tick].every((n) => steps(w, "create", n) === 1), 100)
    const restarts = (session: string, reason: string) => events(w).filter((e) => e["event"] === "restart" && e["session"] === session && e["reason"] === reason)
    await until("fat restarted for its memory", () => restarts(fat, "memory").length >= 1 && steps(w, "start", fat) >= 1, 100)
    expect(String(restarts(fat, "memory")[0]!["detail"])).toMatch(/RSS \d+M > max_memory 32M/u)
    // the next minute's restart, from a pid seen between two restarts
    await until("no restart under way", () => restarts(tick, "cron").length === steps(w, "start", tick))
    const before = steps(w, "start", tick)
    const tickPid = b.tmuxPids(sock).get(tick)
    await until("tick restarted on the minute", () => restarts(tick, "cron").length > before && steps(w, "start", tick) > before, 350)
    expect(b.tmuxPids(sock).get(tick)).not.toBe(tickPid)
    const cronAt = new Date(String(restarts(tick, "cron").at(-1)!["at"]))
    expect(cronAt.getSeconds()).toBeLessThan(5)
    expect(restarts(thin, "memory")).toEqual([])
    expect(restarts(thin, "cron")).toEqual([])
  }, 120_000)
})

const engines = availableEngines()

describe.skipIf(engines.length === 0)("ops watch on containers", () => {
  it.each(engines)("%s: a container removed or stopped by hand is started again", async (runtime) => {
    const b = sandbox()
    const web = b.name("web")
    b.writeConfig({ [web]: { backend: "container", runtime, image: TEST_IMAGE, command: "sleep 600" } })
    const w = b.kstlibBackground(["ops", "watch", "--json", "--interval", "60"], { env: watchEnv(b) })
    watchers.push(w)
    await until("created", () => b.containerState(runtime, web) === "running" && steps(w, "create", web) === 1, 150)

    // stopped behind kstlib's back: an engine event, then started again (well before the 60 s pass)
    expect(b.rt(runtime, ["stop", "-t", "0", web]).code).toBe(0)
    await until("started again", () => steps(w, "start", web) === 1 && b.containerState(runtime, web) === "running", 100)
    expect(events(w).some((e) => e["event"] === "change" && e["source"] === "engine")).toBe(true)

    // removed by hand: created again
    expect(b.rt(runtime, ["rm", "-f", web]).code).toBe(0)
    await until("recreated", () => steps(w, "create", web) === 2 && b.containerState(runtime, web) === "running", 100)

    // stopped through kstlib: left stopped (remembered in the state directory)
    const stopped = b.kstlib(["ops", "stop", web], { env: watchEnv(b) })
    expect(stopped.code, stopped.stdout + stopped.stderr).toBe(0)
    await new Promise((r) => setTimeout(r, 2500))
    expect(b.containerState(runtime, web)).not.toBe("running")
  }, 120_000)
})

/** systemd's command-line splitting for what renderUnit writes: words, or "…" with \\ \" %% $$ escapes. */
const splitExec = (line: string): Array<string> => {
  const words: Array<string> = []
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/gu
  for (const m of line.matchAll(re)) {
    words.push(m[1] !== undefined ? m[1].replace(/\\(.)/gu, "$1").replace(/%%/gu, "%").replace(/\$\$/gu, "$") : m[2]!)
  }
  return words
}

const hasVerify = spawnSync("systemd-analyze", ["--version"], { stdio: "ignore" }).status === 0

describe("ops startup", () => {
  it.skipIf(!hasVerify)("--print: a unit systemd-analyze verify accepts; its ExecStart, run as written, watches the config; SIGTERM stops it cleanly", async () => {
    const b = sandbox()
    const sock = b.name("s")
    const web = b.name("web")
    b.writeRaw(`ops:\n  sessions:\n    ${web}:\n      command: sleep 600\n      socket_name: ${sock}\n      env: { TOKEN: "\${KT_TOKEN:-none}" }\n`)
    const r = b.kstlib(["ops", "startup", "--print"])
    expect(r.code).toBe(0)
    const unit = r.stdout
    expect(unit).toContain("Restart=on-failure")
    expect(unit).toContain("KillMode=process")
    expect(unit).toContain(`WorkingDirectory=${b.dir}`)
    expect(unit).toContain("# Environment=KT_TOKEN=")
    expect(unit).toContain(`ExecStart=${process.execPath} `)

    const file = join(b.dir, "kstlib-watch-test.service")
    writeFileSync(file, unit)
    const verify = spawnSync("systemd-analyze", ["verify", file], { encoding: "utf8", env: b.env })
    expect(verify.status, verify.stderr).toBe(0)
    expect(verify.stderr).not.toContain(file)

    const line = (key: string) => unit.split("\n").filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1))
    const argv = splitExec(line("ExecStart")[0]!)
    expect(argv.slice(2, 6)).toEqual(["ops", "watch", "--config", b.configPath])
    const env: NodeJS.ProcessEnv = { ...b.env }
    for (const e of line("Environment")) {
      const [k, ...v] = splitExec(e)[0]!.split("=")
      env[k!] = v.join("=")
    }
    const child = spawn(argv[0]!, argv.slice(1), { cwd: line("WorkingDirectory")[0]!, env, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (d: Buffer) => void (out += d.toString()))
    const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
    const up = await eventually(() => (out.includes("kstlib: watching project") && b.tmuxHas(web, sock) ? true : undefined), 100)
    child.kill("SIGTERM")
    const code = await closed
    expect(up).toBe(true)
    // SuccessExitStatus=130 143: a stop, not a failure
    const success = line("SuccessExitStatus")[0]!.split(" ").map(Number)
    expect([0, ...success]).toContain(code)
    expect(b.tmuxHas(web, sock)).toBe(true)
  }, 60_000)

  it.skipIf(existsSync("/run/systemd/system"))("without systemd: says so and prints the @reboot line; writes nothing", () => {
    const b = sandbox()
    b.writeConfig({ [b.name("web")]: { command: "sleep 600" } })
    const r = b.kstlib(["ops", "startup"])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain("systemd is not running on this machine")
    expect(r.stdout).toMatch(/^@reboot cd '.+' && '.+' '.+bin\.js' 'ops' 'watch' '--config' '.+kstlib\.conf\.yml' '--project' '.+' >> '.+\.log' 2>&1\n$/u)
    expect(existsSync(join(b.home, ".config/systemd"))).toBe(false)
    const un = b.kstlib(["ops", "unstartup"])
    expect(un.code).toBe(0)
    expect(un.stdout).toContain("No startup unit for project")
  })

  it("--user and --system together are refused", () => {
    const b = sandbox()
    b.writeConfig({ [b.name("web")]: { command: "sleep 600" } })
    const r = b.kstlib(["ops", "startup", "--user", "--system", "--print"])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain("--user/--system")
  })
})
