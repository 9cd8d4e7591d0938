/**
 * The built `kstlib` binary end to end, on configs mixing tmux sessions and containers, against the
 * real tmux and EACH usable container engine (podman, docker). Tests run one after the other (this
 * file holds every container test, so engines are never driven by two CLI tests at once).
 *
 * kstlib observes every container of an engine, not only this test's: assertions look at the test's
 * own names only, and `apply --prune` is always given the test's session names, because an
 * unrestricted prune would also remove kstlib-owned containers of other suites running meanwhile.
 */
import { spawnSync } from "node:child_process"
import { symlinkSync, writeFileSync } from "node:fs"
import { delimiter, dirname, join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import type { RuntimeName } from "../../src/model.js"
import { requireEngines } from "../support/engines.js"
import type { PlanJson, SessionEntry, StatusJson } from "./harness.js"
import { containerEntry, eventually, FAIL_SH, LOOP_SH, Sandbox, stackLines, SUMMARY_LINE, TEST_IMAGE, tmuxEntry } from "./harness.js"

const engines = requireEngines("test/cli/containers.test.ts")

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => {
  sb.cleanup()
})

const listJson = (): Array<StatusJson> => {
  const r = sb.kstlib(["ops", "list", "--json"])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as Array<StatusJson>).filter((s) => s.name.startsWith(sb.prefix))
}

const planJson = (...extra: Array<string>): PlanJson => {
  const r = sb.kstlib(["ops", "plan", "--json", ...extra])
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as PlanJson
}

/** Plan steps about this test's sessions. */
const mySteps = (p: PlanJson) => p.steps.filter((s) => s.session.startsWith(sb.prefix))

// Without an engine (developer machine only: requireEngines throws in CI) the file reports why it ran nothing.
if (engines.length === 0) it.todo("needs podman or docker with the test image: run `bash .ci/engines.sh`")

describe.each(engines)("kstlib CLI with tmux + %s", (rt: RuntimeName) => {
  /** Two tmux sessions and two containers of `rt`; containers run loop.sh from the sandbox dir. */
  const mixed = () => {
    sb.file("loop.sh", LOOP_SH)
    const n = { ta: sb.name("ta"), tb: sb.name("tb"), ca: sb.name("ca"), cb: sb.name("cb") }
    const volumes = [`${sb.dir}:/w:ro`]
    const sessions: Record<string, SessionEntry> = {
      [n.ta]: tmuxEntry("sleep 300"),
      [n.tb]: tmuxEntry("sleep 301"),
      [n.ca]: containerEntry(rt, "sh /w/loop.sh", { volumes }),
      [n.cb]: containerEntry(rt, "sh /w/loop.sh", { volumes })
    }
    return { n, sessions, volumes }
  }

  const applyOk = () => {
    const r = sb.kstlib(["ops", "apply"])
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0)
    return r
  }

  it("apply creates everything, then a second apply and plan find nothing to do", () => {
    const { n, sessions } = mixed()
    sb.writeConfig(sessions)

    const first = applyOk()
    expect(first.stdout).toMatch(/Plan: 4 to create, 0 to replace, 0 to start, 0 to stop, 0 to prune\./u)
    expect(first.stdout).toContain("Apply complete: 4 created")

    const rows = listJson()
    for (const [name, backend] of [[n.ta, "tmux"], [n.tb, "tmux"], [n.ca, "container"], [n.cb, "container"]] as const) {
      const row = rows.find((s) => s.name === name)
      expect(row, name).toMatchObject({ state: "running", backend, owned: true, in_sync: true, in_config: true })
    }
    expect(rows.find((s) => s.name === n.ca)?.runtime).toBe(rt)
    // Directly, without kstlib.
    expect(sb.tmuxHas(n.ta)).toBe(true)
    expect(sb.tmuxHas(n.tb)).toBe(true)
    expect(sb.containerState(rt, n.ca)).toBe("running")
    expect(sb.containerState(rt, n.cb)).toBe("running")

    const second = applyOk()
    expect(second.stdout).toContain("No changes")
    expect(second.stdout).toMatch(/Plan: 0 to create, 0 to replace, 0 to start, 0 to stop, 0 to prune\./u)

    const plan = sb.kstlib(["ops", "plan", "--detailed-exitcode"])
    expect(plan.code, plan.stdout + plan.stderr).toBe(0)
  })

  it("sessions reach each other by name on the project network, which plan --json names and down removes", async () => {
    const [db, api] = [sb.name("db"), sb.name("api")]
    sb.file("loop.sh", LOOP_SH)
    sb.writeConfig({
      [db]: containerEntry(rt, "nc -ll -p 5432 -e echo hi", { stop_timeout: 1 }),
      [api]: containerEntry(rt, "sh /w/loop.sh", { volumes: [`${sb.dir}:/w:ro`] })
    })
    const r = sb.kstlib(["ops", "plan", "--json"])
    expect(r.code, r.stderr).toBe(0)
    const p = JSON.parse(r.stdout) as { project: string; networks?: ReadonlyArray<{ name: string; runtime: string; sessions: ReadonlyArray<string> }> }
    const net = `kstlib-${p.project}`
    expect(p.networks).toEqual([{ name: net, runtime: rt, host: null, sessions: [db, api] }])
    const applied = sb.kstlib(["ops", "apply"])
    expect(applied.code, applied.stdout + applied.stderr).toBe(0)
    expect(sb.rt(rt, ["network", "inspect", net]).code).toBe(0)
    // busybox's own resolver asks the engine's DNS (aardvark-dns, Docker's embedded server)
    const resolved = await eventually(() => {
      const out = sb.rt(rt, ["exec", api, "nslookup", db]).stdout.split("\n").slice(2).join("\n")
      return out.includes("Address") ? out : undefined
    })
    expect(resolved).toBeDefined()
    const down = sb.kstlib(["ops", "down"])
    expect(down.code, down.stdout + down.stderr).toBe(0)
    expect(sb.rt(rt, ["network", "inspect", net]).code).not.toBe(0)
  })

  it("down removes the project's network that a stop through kstlib left empty; a network of that name that is not the project's stays", () => {
    const web = sb.name("web")
    sb.writeConfig({ [web]: containerEntry(rt, "sleep 300", { stop_timeout: 1 }) })
    const applied = sb.kstlib(["ops", "apply"])
    expect(applied.code, applied.stdout + applied.stderr).toBe(0)
    const project = (JSON.parse(sb.kstlib(["ops", "plan", "--json"]).stdout) as { project: string }).project
    const net = `kstlib-${project}`
    // a stop through kstlib deletes its own container: the network is left, and down has no container to remove
    const stopped = sb.kstlib(["ops", "stop", web])
    expect(stopped.code, stopped.stdout + stopped.stderr).toBe(0)
    expect(sb.containerState(rt, web)).toBeNull()
    expect(sb.rt(rt, ["network", "inspect", net]).code).toBe(0)
    const down = sb.kstlib(["ops", "down"])
    expect(down.code, down.stdout + down.stderr).toBe(0)
    expect(sb.rt(rt, ["network", "inspect", net]).code).not.toBe(0)
    // someone else's network of that name, empty: never removed (the sandbox's cleanup removes it)
    expect(sb.rt(rt, ["network", "create", net]).code).toBe(0)
    const again = sb.kstlib(["ops", "down"])
    expect(again.code, again.stdout + again.stderr).toBe(0)
    expect(sb.rt(rt, ["network", "inspect", net]).code).toBe(0)
  })

  it("an edited tmux command and container image are replaced, and only they", () => {
    const { n, sessions } = mixed()
    sb.writeConfig(sessions)
    applyOk()
    const pidsBefore = sb.tmuxPids()
    const idsBefore = { ca: sb.containerId(rt, n.ca), cb: sb.containerId(rt, n.cb) }
    expect(idsBefore.ca).not.toBeNull()

    const tag = sb.tagImage(rt, "v2")
    sb.writeConfig({ ...sessions, [n.ta]: tmuxEntry("sleep 302"), [n.ca]: { ...sessions[n.ca], image: tag } })

    const plan = planJson()
    const steps = mySteps(plan)
    expect(steps.map((s) => [s.session, s.action]).sort()).toEqual([[n.ca, "replace"], [n.ta, "replace"]])
    expect(steps.find((s) => s.session === n.ta)?.changes).toEqual([{ field: "command", from: "sleep 300", to: "sleep 302" }])
    expect(steps.find((s) => s.session === n.ca)?.changes).toEqual([{ field: "image", from: TEST_IMAGE, to: tag }])
    expect(sb.kstlib(["ops", "plan", "--detailed-exitcode"]).code).toBe(2)

    const r = applyOk()
    expect(r.stdout).toContain("Apply complete: 0 created, 2 replaced")

    const pidsAfter = sb.tmuxPids()
    expect(pidsAfter.get(n.ta)).toBeDefined()
    expect(pidsAfter.get(n.ta)).not.toBe(pidsBefore.get(n.ta))
    expect(pidsAfter.get(n.tb)).toBe(pidsBefore.get(n.tb))
    const caAfter = sb.containerId(rt, n.ca)
    expect(caAfter).not.toBeNull()
    expect(caAfter).not.toBe(idsBefore.ca)
    expect(sb.containerId(rt, n.cb)).toBe(idsBefore.cb)
    expect(sb.containerState(rt, n.ca)).toBe("running")
    expect(listJson().find((s) => s.name === n.ca)?.image).toBe(tag)

    expect(sb.kstlib(["ops", "plan", "--detailed-exitcode"]).code).toBe(0)
  })

  it("a session removed from config stays without --prune and is removed, alone, with it", () => {
    const { n, sessions } = mixed()
    sb.writeConfig(sessions)
    applyOk()
    const pidsBefore = sb.tmuxPids()
    const cbId = sb.containerId(rt, n.cb)

    const { [n.ta]: _ta, [n.ca]: _ca, ...rest } = sessions
    sb.writeConfig(rest)

    const plain = applyOk()
    expect(plain.stdout).toMatch(/no longer in config: .*use --prune/u)
    expect(plain.stdout).toContain(n.ta)
    expect(plain.stdout).toContain(n.ca)
    expect(sb.tmuxHas(n.ta)).toBe(true)
    expect(sb.containerState(rt, n.ca)).toBe("running")

    // The unrestricted plan is read-only, so it can be asked safely.
    const pruning = mySteps(planJson("--prune"))
    expect(pruning.map((s) => [s.session, s.action]).sort()).toEqual([[n.ca, "prune"], [n.ta, "prune"]])

    const pruned = sb.kstlib(["ops", "apply", "--prune", n.ta, n.ca, n.tb, n.cb])
    expect(pruned.code, pruned.stdout + pruned.stderr).toBe(0)
    expect(pruned.stdout).toContain("2 pruned")
    expect(sb.tmuxHas(n.ta)).toBe(false)
    expect(sb.containerId(rt, n.ca)).toBeNull()
    expect(sb.tmuxPids().get(n.tb)).toBe(pidsBefore.get(n.tb))
    expect(sb.containerId(rt, n.cb)).toBe(cbId)
    expect(sb.containers(rt)).toEqual([n.cb])
  })

  it("foreign sessions holding configured names are conflicts, left untouched; the rest is created", () => {
    const { n, sessions, volumes } = mixed()
    sb.writeConfig(sessions)
    expect(sb.tmux(["new-session", "-d", "-s", n.ta, "sleep 300"]).code).toBe(0)
    const run = sb.rt(rt, ["run", "-d", "--name", n.ca, "-v", volumes[0]!, TEST_IMAGE, "sh", "/w/loop.sh"])
    expect(run.code, run.stderr).toBe(0)
    const foreignPid = sb.tmuxPids().get(n.ta)
    const foreignId = sb.containerId(rt, n.ca)

    const text = sb.kstlib(["ops", "plan"])
    expect(text.stdout).toMatch(new RegExp(`^\\s*! ${n.ta} .*conflict`, "mu"))
    expect(text.stdout).toMatch(new RegExp(`^\\s*! ${n.ca} .*conflict`, "mu"))
    const steps = mySteps(planJson())
    expect(steps.map((s) => [s.session, s.action]).sort()).toEqual([
      [n.ca, "conflict"],
      [n.cb, "create"],
      [n.ta, "conflict"],
      [n.tb, "create"]
    ])
    expect(sb.kstlib(["ops", "plan", "--detailed-exitcode"]).code).toBe(1)

    const r = sb.kstlib(["ops", "apply"])
    expect(r.code, r.stdout + r.stderr).toBe(1)
    expect(r.stdout).toContain("2 blocked")
    expect(r.stdout).toContain("Apply complete: 2 created")
    expect(sb.tmuxPids().get(n.ta)).toBe(foreignPid)
    expect(sb.containerId(rt, n.ca)).toBe(foreignId)
    expect(sb.containerState(rt, n.ca)).toBe("running")
    expect(sb.tmuxHas(n.tb)).toBe(true)
    expect(sb.containerState(rt, n.cb)).toBe("running")
    const rows = listJson()
    expect(rows.find((s) => s.name === n.ta)?.owned).toBe(false)
    expect(rows.find((s) => s.name === n.ca)?.owned).toBe(false)
    expect(rows.find((s) => s.name === n.tb)?.owned).toBe(true)
  })

  it("sessions that die at once are failed steps with their exit code and output; the others run", () => {
    const { n, sessions, volumes } = mixed()
    sb.file("fail.sh", FAIL_SH)
    const tf = sb.name("tf")
    const cf = sb.name("cf")
    sb.writeConfig({
      [n.ta]: sessions[n.ta]!,
      [n.ca]: sessions[n.ca]!,
      [tf]: tmuxEntry("sh fail.sh", { working_dir: sb.dir }),
      [cf]: containerEntry(rt, "sh /w/fail.sh", { volumes })
    })
    const r = sb.kstlib(["ops", "apply"])
    const out = r.stdout + r.stderr
    expect(r.code, out).toBe(1)
    for (const name of [tf, cf]) {
      const failed = out.split("\n").findIndex((l) => l.startsWith("FAILED") && l.includes(name))
      expect(failed, `no FAILED line for ${name}:\n${out}`).toBeGreaterThanOrEqual(0)
      // The step's own report: reason with the exit code, then the last output lines.
      const report = out.split("\n").slice(failed, failed + 6).join("\n")
      expect(report).toContain("boom-output")
      // Podman's transient "stopped" state (right after the process ends) must read as exited, code kept.
      expect(report).toMatch(/exited .*(code|status) 7/u)
    }
    expect(out).toMatch(/Apply complete: 2 created, .* 2 failed/u)
    expect(out).toMatch(new RegExp(`^done .*${n.ta}`, "mu"))
    expect(out).toMatch(new RegExp(`^done .*${n.ca}`, "mu"))
    expect(sb.tmuxHas(n.ta)).toBe(true)
    expect(sb.containerState(rt, n.ca)).toBe("running")
  })

  it("apply --dry-run prints the plan and changes nothing", () => {
    const { n, sessions } = mixed()
    sb.writeConfig({ [n.ta]: sessions[n.ta]!, [n.ca]: sessions[n.ca]! })
    applyOk()
    // Pending: two creations and one replace of each kind of drift.
    const tag = sb.tagImage(rt, "v2")
    sb.writeConfig({ ...sessions, [n.ta]: tmuxEntry("sleep 302"), [n.ca]: { ...sessions[n.ca], image: tag } })

    const snapshot = () => ({
      // CPU and memory are readings of the moment, not state: a dry run cannot hold them still
      list: listJson().map(({ cpu_percent: _cpu, memory_bytes: _memory, ...rest }) => rest),
      tmux: sb.tmux(["ls", "-F", "#{session_name} #{session_created} #{pane_pid}"]).stdout,
      ps: sb.rt(rt, ["ps", "-a", "--format", "{{.Names}} {{.ID}} {{.Status}} {{.Image}}"]).stdout.split("\n")
        .filter((l) => l.startsWith(sb.prefix)).map((l) => l.replace(/Up .*? (\S+)$/u, "Up $1")).sort()
    })
    const before = snapshot()
    const r = sb.kstlib(["ops", "apply", "--dry-run"])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(SUMMARY_LINE)
    expect(r.stdout).toContain("Plan: 2 to create, 2 to replace, 0 to start, 0 to stop, 0 to prune.")
    expect(r.stdout).not.toContain("Apply complete")
    const after = snapshot()
    expect(after).toEqual(before)
    expect(sb.tmuxHas(n.tb)).toBe(false)
    expect(sb.containerId(rt, n.cb)).toBeNull()
  })

  it("per-session commands on a config container: status, start, logs, exec, restart, stop", async () => {
    sb.file("loop.sh", LOOP_SH)
    const c = sb.name("c1")
    sb.writeConfig({ [c]: containerEntry(rt, "sh /w/loop.sh", { volumes: [`${sb.dir}:/w:ro`] }) })

    const defined = sb.kstlib(["ops", "status", c, "--json"])
    expect(defined.code, defined.stderr).toBe(0)
    expect(JSON.parse(defined.stdout)).toMatchObject({ name: c, state: "defined", backend: "container", pid: null, image: TEST_IMAGE })

    const started = sb.kstlib(["ops", "start", c])
    expect(started.code, started.stdout + started.stderr).toBe(0)
    expect(started.stdout).toContain(`Session '${c}' started`)
    const st = JSON.parse(sb.kstlib(["ops", "status", c, "--json"]).stdout) as StatusJson
    expect(st).toMatchObject({ name: c, state: "running", backend: "container", image: TEST_IMAGE, runtime: rt, owned: true, in_sync: true })
    expect(sb.containerState(rt, c)).toBe("running")

    const logs = await eventually(() => {
      const l = sb.kstlib(["ops", "logs", c, "-n", "5"])
      return l.stdout.includes("loop-started") ? l : undefined
    }, 20)
    expect(logs?.code).toBe(0)

    // Shell code needs the explicit opt-in; without it nothing runs.
    const refused = sb.kstlib(["ops", "exec", c, "--", "sh", "-c", "exit 7"])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain("'sh -c' is shell code, but no shell runs this command; pass --shell")
    const seven = sb.kstlib(["ops", "exec", c, "--shell", "--", "echo piped | wc -l; exit 7"])
    expect(seven.code, seven.stderr).toBe(7)
    expect(seven.stdout.trim()).toBe("1")
    const echo = sb.kstlib(["ops", "exec", c, "--", "echo", "kt-hello"])
    expect(echo.code, echo.stderr).toBe(0)
    expect(echo.stdout).toBe("kt-hello\n")
    // send-keys is for tmux: on a running container it says so (not "not running"), exit 2
    const keys = sb.kstlib(["ops", "send-keys", c, "x"])
    expect(keys.code).toBe(2)
    expect(keys.stderr).toContain(`send-keys is not supported for container session '${c}'`)

    const idBefore = sb.containerId(rt, c)
    const restarted = sb.kstlib(["ops", "restart", c])
    expect(restarted.code, restarted.stdout + restarted.stderr).toBe(0)
    expect(sb.containerState(rt, c)).toBe("running")
    expect(sb.containerId(rt, c)).not.toBe(idBefore)

    const stopped = sb.kstlib(["ops", "stop", c])
    expect(stopped.code, stopped.stdout + stopped.stderr).toBe(0)
    expect(stopped.stdout).toContain(`Session '${c}' stopped.`)
    // kstlib's own containers are removed by stop: back to `defined`.
    expect(sb.containerId(rt, c)).toBeNull()
    expect((JSON.parse(sb.kstlib(["ops", "status", c, "--json"]).stdout) as StatusJson).state).toBe("defined")
  })

  it("an ad-hoc container from the command line runs on the configured runtime", () => {
    sb.file("loop.sh", LOOP_SH)
    sb.writeConfig({}, { container_runtime: rt })
    const c = sb.name("adhoc")
    const r = sb.kstlib(["ops", "start", c, "--image", TEST_IMAGE, "-c", "sh /w/loop.sh", "-v", `${sb.dir}:/w:ro`, "-e", "KT_VAR=adhoc-value"])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(sb.containerState(rt, c)).toBe("running")
    const env = sb.kstlib(["ops", "exec", c, "--", "env"])
    expect(env.code, env.stderr).toBe(0)
    expect(env.stdout.split("\n")).toContain("KT_VAR=adhoc-value")
  })

  it("attack: a foreign container whose label VALUE forges this project's marks is never ours: down and apply --prune leave it", () => {
    sb.writeConfig({})
    const project = (planJson() as PlanJson & { readonly project: string }).project
    const f = sb.name("forged")
    // Docker's `ps` joined every label in one string: `note=x,io.kstlib.managed=true,io.kstlib.project=P,...`
    const run = sb.rt(rt, ["run", "-d", "--name", f, "--label", `note=x,io.kstlib.managed=true,io.kstlib.project=${project}`, TEST_IMAGE, "sleep", "300"])
    expect(run.code, run.stderr).toBe(0)
    const id = sb.containerId(rt, f)

    const all = JSON.parse(sb.kstlib(["ops", "list", "--all", "--json"]).stdout) as Array<StatusJson & { readonly project: string | null }>
    expect(all.find((s) => s.name === f)).toMatchObject({ owned: false, project: null })
    for (const args of [["ops", "down"], ["ops", "apply", "--prune"]]) {
      const r = sb.kstlib(args)
      expect(r.code, `${args.join(" ")}: ${r.stdout}${r.stderr}`).toBe(0)
      expect(r.stdout).toContain("No changes")
      expect(sb.containerId(rt, f)).toBe(id)
    }
    // named: not one of this project's sessions (exit 2, "not in the config"), and still untouched
    expect(sb.kstlib(["ops", "down", f]).code).toBe(2)
    expect(sb.containerId(rt, f)).toBe(id)
    expect(sb.containerState(rt, f)).toBe("running")
  })

  it("an engine listing with one line that is not JSON: its containers are unknown, down removes nothing and says why, apply plans no second copy (exit 1)", () => {
    sb.file("loop.sh", LOOP_SH)
    const c = sb.name("g")
    sb.writeConfig({ [c]: containerEntry(rt, "sh /w/loop.sh", { volumes: [`${sb.dir}:/w:ro`] }) })
    applyOk()
    const id = sb.containerId(rt, c)
    expect(id).not.toBeNull()
    // A `rt` first on PATH whose `ps` puts one garbage line after the first line of the real output.
    const real = spawnSync("sh", ["-c", `command -v ${rt}`], { env: sb.env, encoding: "utf8" }).stdout.trim()
    const bin = sb.subdir("shim")
    writeFileSync(join(bin, rt), `#!/bin/sh\nif [ "$1" = ps ]; then "${real}" "$@" | sed '1a not json'; exit 0; fi\nexec "${real}" "$@"\n`, { mode: 0o755 })
    const env = { PATH: `${bin}${delimiter}${sb.env["PATH"] ?? ""}` }
    const unknown = `${rt} ps -a: the listing could not be read whole (`

    const down = sb.kstlib(["ops", "down"], { env })
    expect(down.code, down.stdout + down.stderr).toBe(1)
    expect(down.stderr).toContain(unknown)
    expect(down.stderr).toContain(`); its containers are unknown`)
    expect(sb.containerId(rt, c)).toBe(id)

    const apply = sb.kstlib(["ops", "apply"], { env })
    expect(apply.code, apply.stdout + apply.stderr).toBe(1)
    expect(apply.stderr).toContain(unknown)
    expect(apply.stdout).toMatch(new RegExp(`! ${c} .*invalid`, "u"))
    expect(sb.containers(rt)).toEqual([c])
    expect(sb.containerId(rt, c)).toBe(id)
    expect(sb.kstlib(["ops", "plan", "--detailed-exitcode"], { env }).code).toBe(1)
  })

  it("start -p HOST:CONTAINER publishes the port (-p is start's --port, not the project)", () => {
    sb.writeConfig({}, { container_runtime: rt })
    const c = sb.name("port")
    const port = 20000 + Math.floor(Math.random() * 20000)
    const r = sb.kstlib(["ops", "start", c, "-i", TEST_IMAGE, "-c", "sleep 300", "-p", `${port}:80`])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(sb.containerState(rt, c)).toBe("running")
    const published = sb.rt(rt, ["port", c])
    expect(published.stdout, published.stderr).toMatch(new RegExp(`^80/tcp -> [0-9.:\\[\\]]+:${port}$`, "mu"))
    // the project is still the sandbox's own
    expect(listJson().find((s) => s.name === c)).toMatchObject({ owned: true })
  })

  it("the same name in tmux and in a container is ambiguous until --backend chooses", () => {
    sb.writeConfig({})
    sb.file("loop.sh", LOOP_SH)
    const d = sb.name("dup")
    expect(sb.tmux(["new-session", "-d", "-s", d, "sleep 300"]).code).toBe(0)
    expect(sb.rt(rt, ["run", "-d", "--name", d, "-v", `${sb.dir}:/w:ro`, TEST_IMAGE, "sh", "/w/loop.sh"]).code).toBe(0)

    const amb = sb.kstlib(["ops", "status", d])
    expect(amb.code).toBe(1)
    expect(amb.stderr).toContain("Use --backend")
    expect(amb.stderr.trim().split("\n")).toHaveLength(1)
    expect(stackLines(amb.stderr)).toEqual([])

    const c = sb.kstlib(["ops", "status", d, "-b", "container", "--json"])
    expect(c.code, c.stderr).toBe(0)
    expect(JSON.parse(c.stdout)).toMatchObject({ name: d, backend: "container", state: "running", runtime: rt, owned: false })
    const t = sb.kstlib(["ops", "status", d, "--backend", "tmux", "--json"])
    expect(t.code, t.stderr).toBe(0)
    expect(JSON.parse(t.stdout)).toMatchObject({ name: d, backend: "tmux", state: "running", owned: false })
  })
}, 180_000)

// The socket of the daemon kstlib drives: named by the environment (refused at validation) or only by
// the docker context in use (refused at launch, asked of the client).
const dockerSocket = /^unix:\/\/(\/.+)$/u.exec(process.env["DOCKER_HOST"] ?? "")?.[1]
describe.skipIf(!engines.includes("docker") || dockerSocket === undefined)("bind mounts of the docker daemon's own socket", () => {
  const dir = dockerSocket === undefined ? "" : dirname(dockerSocket)

  it("named by DOCKER_HOST: rejected at validation (the socket, its directory, through a symlink)", () => {
    symlinkSync(dir, join(sb.dir, "sock-link"))
    const [a, b, c] = [sb.name("a"), sb.name("b"), sb.name("c")]
    sb.writeConfig({
      [a]: containerEntry("docker", "sleep 300", { volumes: [`${dir}:/s:ro`] }),
      [b]: containerEntry("docker", "sleep 300", { volumes: [`${dockerSocket}:/var/run/docker.sock`] }),
      [c]: containerEntry("docker", "sleep 300", { volumes: [`${join(sb.dir, "sock-link")}:/s`] })
    })
    const v = sb.kstlib(["ops", "validate"])
    expect(v.code, v.stdout + v.stderr).toBe(1)
    for (const n of [a, b, c]) {
      expect(v.stdout + v.stderr).toMatch(new RegExp(`^rejected .*session '${n}': volumes\\[0\\]: refusing to mount host '[^']*'( \\(resolves to '${dir}'\\))?: it holds the socket of a container engine kstlib drives \\(${dockerSocket}: root on the host\\)`, "mu"))
    }
    expect(sb.kstlib(["ops", "apply"]).code).toBe(1)
    expect(sb.containers("docker")).toEqual([])
  })

  it("named only by the docker context in use: valid, but the launch is refused before anything runs", () => {
    const config = join(sb.home, ".docker")
    const env = { DOCKER_HOST: undefined, DOCKER_CONFIG: config }
    const ctx = `kt-${sb.id}`
    for (const args of [["context", "create", ctx, "--docker", `host=unix://${dockerSocket}`], ["context", "use", ctx]]) {
      const r = spawnSync("docker", args, { env: { ...sb.env, ...env, DOCKER_HOST: "" }, encoding: "utf8" })
      expect(r.status, r.stderr).toBe(0)
    }
    const a = sb.name("a")
    sb.writeConfig({ [a]: containerEntry("docker", "sleep 300", { volumes: [`${dir}:/s:ro`], env: { KT_TOKEN: "x" } }) })
    const v = sb.kstlib(["ops", "validate"], { env })
    expect(v.code, v.stdout + v.stderr).toBe(0)
    const r = sb.kstlib(["ops", "apply"], { env })
    expect(r.code, r.stdout + r.stderr).toBe(1)
    expect(r.stdout).toContain(`failed to start container session '${a}': refusing to mount host '${dir}': it holds the socket of a container engine kstlib drives (${dockerSocket}: root on the host); set unsafe_mounts: true to allow it`)
    expect(sb.containers("docker")).toEqual([])
  })
})

describe.each(engines)("CPU, memory and limits on %s", (rt: RuntimeName) => {
  it("a busy container shows a high cpu_percent (a core when idle; > 25 on a loaded runner) in list and status; its memory: and cpus: limits reach the engine", async () => {
    const busy = sb.name("busy")
    sb.writeConfig({ [busy]: containerEntry(rt, "while :; do :; done", { shell: true, memory: "64m", cpus: 1.5 }) })
    const up = sb.kstlib(["ops", "apply"])
    expect(up.code, up.stderr + up.stdout).toBe(0)
    const inspect = sb.rt(rt, ["container", "inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}", busy])
    expect(inspect.stdout.trim()).toBe(`${64 * 1024 * 1024} 1500000000`)
    type Measured = StatusJson & { readonly cpu_percent: number | null; readonly memory_bytes: number | null }
    // podman's first seconds: the CPU time is read twice over the window, so a just-started loop counts
    const row = await eventually(() => {
      const r = listJson().find((x) => x.name === busy) as Measured | undefined
      return r !== undefined && (r.cpu_percent ?? 0) > 50 ? r : undefined
    }, 10, 300)
    expect(row?.cpu_percent ?? 0).toBeGreaterThan(25)
    expect(row?.memory_bytes ?? 0).toBeGreaterThan(0)
    const st = sb.kstlib(["ops", "status", busy, "--json"])
    expect(st.code, st.stderr).toBe(0)
    const s = JSON.parse(st.stdout) as Measured
    expect(s.cpu_percent ?? 0).toBeGreaterThan(25)
    expect(s.memory_bytes ?? 0).toBeGreaterThan(0)
    expect(s.memory_bytes ?? 0).toBeLessThan(64 * 1024 * 1024)
    const text = sb.kstlib(["ops", "list"])
    expect(text.stdout).toMatch(/CPU%\s+MEM/u)
  })
})
