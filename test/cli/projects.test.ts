/**
 * Projects end to end, through the built binary, on the real tmux, Podman and Docker: two projects
 * in two directories of one sandbox share ONE tmux server (same TMUX_TMPDIR, default socket) and
 * both engines. Only sessions carrying kstlib's mark AND this project's are ever stopped, replaced
 * or pruned; another project's session holding a configured name is a conflict, never touched.
 * Also: `-p/--project` and `KSTLIB_PROJECT`, no config found, typo'd names, a session running on
 * another socket, idempotent verbs, read commands on a broken config, the 51st session, and the
 * apply lock being per config.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { stringify } from "yaml"
import type { RuntimeName } from "../../src/model.js"
import { requireEngines } from "../support/engines.js"
import type { PlanJson, Run, RunOptions, SessionEntry, StatusJson } from "./harness.js"
import { containerEntry, eventually, LOOP_SH, Sandbox, stackLines, tmuxEntry } from "./harness.js"

const engines: Array<RuntimeName> = requireEngines("test/cli/projects.test.ts")

type ListJson = ReadonlyArray<StatusJson & { readonly project: string | null; readonly issues?: ReadonlyArray<{ readonly reason: string }> }>

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => {
  sb.cleanup()
})

const show = (r: Run) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`

/** A project directory in the sandbox holding its own kstlib.conf.yml; kstlib runs there with the cascade (no --config). */
class Project {
  readonly dir: string
  constructor(dirName: string) {
    this.dir = sb.subdir(dirName)
  }

  write(sessions: Readonly<Record<string, SessionEntry>>, extra: Readonly<Record<string, unknown>> = {}): void {
    writeFileSync(join(this.dir, "kstlib.conf.yml"), stringify({ ops: { ...extra, sessions } }))
  }

  run(args: ReadonlyArray<string>, options: RunOptions = {}): Run {
    return sb.kstlib(args, { config: false, cwd: this.dir, ...options })
  }

  list(...extra: Array<string>): ListJson {
    const r = this.run(["ops", "list", "--json", ...extra])
    expect(r.code, show(r)).toBe(0)
    return JSON.parse(r.stdout) as ListJson
  }
}

/** The test's own sessions only: other engineers' containers share the engines. */
const mine = (rows: ListJson) => rows.filter((r) => r.name.startsWith(sb.prefix))

/** Where each of the test's sessions runs, as the engines and tmux see it: name → pid (tmux) or container id. */
const fingerprint = (names: { readonly tmux: ReadonlyArray<string>; readonly containers: ReadonlyArray<readonly [RuntimeName, string]> }) => {
  const pids = sb.tmuxPids()
  return {
    tmux: Object.fromEntries(names.tmux.map((n) => [n, pids.get(n) ?? null])),
    containers: Object.fromEntries(names.containers.map(([rt, n]) => [n, [sb.containerId(rt, n), sb.containerState(rt, n)]]))
  }
}

const tmuxProject = (name: string) => sb.tmux(["show-options", "-v", "-t", `=${name}:`, "@kstlib-project"]).stdout.trim()
const containerProject = (rt: RuntimeName, name: string) =>
  sb.rt(rt, ["container", "inspect", "--format", "{{index .Config.Labels \"io.kstlib.project\"}}", name]).stdout.trim()

describe("two projects on one tmux server and the same engines", () => {
  it("apply/prune/down of B never touch A; a name A holds is a conflict in B; list, list --all and --json carry the project", () => {
    sb.file("loop.sh", LOOP_SH)
    const volumes = [`${sb.dir}:/w:ro`]
    // A: project from its directory name, normalised (lower case, the dot dropped).
    const a = new Project(`Alpha.${sb.id}`)
    const projA = `alpha${sb.id}`
    // B: project from ops.project (its directory name says something else).
    const b = new Project("beta-dir")
    const projB = `beta-${sb.id}`

    const n = {
      at: sb.name("a-t"),
      bt: sb.name("b-t"),
      shared: sb.name("shared-t"),
      ...Object.fromEntries(engines.flatMap((rt) => [[`a-${rt}`, sb.name(`a-${rt}`)], [`b-${rt}`, sb.name(`b-${rt}`)], [`shared-${rt}`, sb.name(`shared-${rt}`)]]))
    } as Record<string, string>
    const containersOf = (who: "a" | "b" | "shared") => engines.map((rt) => [rt, n[`${who}-${rt}`]!] as const)
    const sessionsOf = (who: "a" | "b" | "shared", command: string) => ({
      [n[`${who}t`] ?? n[`${who}`]!]: tmuxEntry(command),
      ...Object.fromEntries(containersOf(who).map(([rt, c]) => [c, containerEntry(rt, "sh /w/loop.sh", { volumes })]))
    })
    const sharedTmux = n.shared!
    const aSessions = { ...sessionsOf("a", "sleep 300"), [sharedTmux]: tmuxEntry("sleep 300"), ...Object.fromEntries(containersOf("shared").map(([rt, c]) => [c, containerEntry(rt, "sh /w/loop.sh", { volumes })])) }
    a.write(aSessions)
    const projectOf = (p: Project) => (JSON.parse(p.run(["ops", "validate", "--json"]).stdout) as { project: string }).project
    expect(projectOf(a)).toBe(projA)

    const upA = a.run(["ops", "apply"])
    expect(upA.code, show(upA)).toBe(0)
    const aNames = { tmux: [n.at!, sharedTmux], containers: [...containersOf("a"), ...containersOf("shared")] }
    const before = fingerprint(aNames)
    for (const pid of Object.values(before.tmux)) expect(pid).not.toBeNull()
    for (const [id, state] of Object.values(before.containers)) {
      expect(id).not.toBeNull()
      expect(state).toBe("running")
    }
    // A's marks: its project, on tmux (session option) and on each engine (label).
    expect(tmuxProject(n.at!)).toBe(projA)
    for (const [rt, c] of containersOf("a")) expect(containerProject(rt, c)).toBe(projA)

    // B holds the same names (same specs even): each is a conflict, A's are left alone; B's own are created.
    b.write({ ...sessionsOf("b", "sleep 300"), [sharedTmux]: tmuxEntry("sleep 300"), ...Object.fromEntries(containersOf("shared").map(([rt, c]) => [c, containerEntry(rt, "sh /w/loop.sh", { volumes })])) }, { project: projB })
    expect(projectOf(b)).toBe(projB)
    const upB = b.run(["ops", "apply"])
    expect(upB.code, show(upB)).toBe(1)
    expect(upB.stdout).toContain(`! ${sharedTmux} (tmux socket default): conflict, owned by project '${projA}'`)
    for (const [rt, c] of containersOf("shared")) {
      expect(upB.stdout).toMatch(new RegExp(`^\\s*! ${c} \\([^)]*${rt}[^)]*\\): conflict, owned by project '${projA}'`, "mu"))
    }
    expect(upB.stdout).toContain(`Apply complete: ${1 + engines.length} created,`)
    expect(stackLines(upB.stdout + upB.stderr)).toEqual([])
    expect(fingerprint(aNames)).toEqual(before)
    expect(tmuxProject(n.bt!)).toBe(projB)
    for (const [rt, c] of containersOf("b")) {
      expect(sb.containerState(rt, c)).toBe("running")
      expect(containerProject(rt, c)).toBe(projB)
    }
    // The plan says the same, as JSON: conflicts only for the shared names, never a step on A's own.
    const planB = b.run(["ops", "plan", "--json", "--prune"])
    expect(planB.code, show(planB)).toBe(0)
    const stepsB = (JSON.parse(planB.stdout) as PlanJson).steps
    expect(stepsB.filter((s) => s.action !== "conflict")).toEqual([])
    expect(stepsB.map((s) => s.session).sort()).toEqual([sharedTmux, ...containersOf("shared").map(([, c]) => c)].sort())

    // down NAME in B, naming sessions A holds: a conflict each (exit 1), nothing of A's removed.
    const downShared = b.run(["ops", "down", sharedTmux, ...containersOf("shared").map(([, c]) => c)])
    expect(downShared.code, show(downShared)).toBe(1)
    expect(downShared.stdout).toContain(`! ${sharedTmux} (tmux socket default): conflict, owned by project '${projA}'`)
    for (const [, c] of containersOf("shared")) expect(downShared.stdout).toContain(`! ${c} (`)
    expect(downShared.stdout).not.toMatch(/^done/mu)
    expect(stackLines(downShared.stderr)).toEqual([])
    expect(fingerprint(aNames)).toEqual(before)

    // list --all (from either directory): every session, with its project.
    const all = b.run(["ops", "list", "--all"])
    expect(all.code, show(all)).toBe(0)
    const header = all.stdout.split("\n")[0]!
    expect(header).toMatch(/^PROJECT\s+NAME\s+BACKEND/u)
    const rowOf = (name: string) => all.stdout.split("\n").find((l) => l.split(/\s+/u)[1] === name)
    for (const name of [n.at!, sharedTmux, ...containersOf("a").map(([, c]) => c), ...containersOf("shared").map(([, c]) => c)]) {
      expect(rowOf(name), all.stdout).toMatch(new RegExp(`^${projA}\\s`, "u"))
    }
    for (const name of [n.bt!, ...containersOf("b").map(([, c]) => c)]) expect(rowOf(name), all.stdout).toMatch(new RegExp(`^${projB}\\s`, "u"))
    const allJson = mine(b.list("--all"))
    expect(Object.fromEntries(allJson.map((r) => [r.name, r.project]))).toEqual({
      ...Object.fromEntries([n.at!, sharedTmux, ...containersOf("a").map(([, c]) => c), ...containersOf("shared").map(([, c]) => c)].map((x) => [x, projA])),
      ...Object.fromEntries([n.bt!, ...containersOf("b").map(([, c]) => c)].map((x) => [x, projB]))
    })

    // list in B: B's sessions and B's config entries (the shared names, held by A: not owned), never A's own.
    const listB = b.list()
    const namesB = listB.map((r) => r.name).sort()
    expect(namesB).toEqual([n.bt!, sharedTmux, ...containersOf("b").map(([, c]) => c), ...containersOf("shared").map(([, c]) => c)].sort())
    for (const r of listB) {
      const own = r.name === n.bt || containersOf("b").some(([, c]) => c === r.name)
      expect(r, r.name).toMatchObject(own ? { owned: true, project: projB, state: "running" } : { owned: false, project: projA, in_config: true })
    }
    const listBText = b.run(["ops", "list"])
    expect(listBText.stdout).not.toContain(n.at!)
    expect(listBText.stdout).not.toMatch(/^PROJECT/u)
    // and list in A: A's, owned.
    const listA = a.list()
    expect(listA.map((r) => r.name).sort()).toEqual([...aNames.tmux, ...aNames.containers.map(([, c]) => c)].sort())
    for (const r of listA) expect(r, r.name).toMatchObject({ owned: true, project: projA, in_sync: true })

    // B drops its tmux session and the shared names: apply --prune removes only B's dropped session.
    b.write(Object.fromEntries(containersOf("b").map(([rt, c]) => [c, containerEntry(rt, "sh /w/loop.sh", { volumes })])), { project: projB })
    const pruneB = b.run(["ops", "apply", "--prune"])
    expect(pruneB.code, show(pruneB)).toBe(0)
    expect(pruneB.stdout).toContain(`- ${n.bt}`)
    expect(pruneB.stdout).toMatch(/Plan: 0 to create, 0 to replace, 0 to start, 0 to stop, 1 to prune\./u)
    for (const name of [n.at!, sharedTmux, ...aNames.containers.map(([, c]) => c)]) expect(pruneB.stdout).not.toContain(name)
    expect(sb.tmuxHas(n.bt!)).toBe(false)
    expect(fingerprint(aNames)).toEqual(before)

    // B's down: B's containers go, A's stay exactly as they were.
    const dryDownB = b.run(["ops", "down", "--dry-run"])
    expect(dryDownB.code, show(dryDownB)).toBe(0)
    for (const name of [n.at!, sharedTmux, ...aNames.containers.map(([, c]) => c)]) expect(dryDownB.stdout).not.toContain(name)
    const downB = b.run(["ops", "down"])
    expect(downB.code, show(downB)).toBe(0)
    for (const [rt, c] of containersOf("b")) expect(sb.containerId(rt, c)).toBeNull()
    for (const name of [n.at!, sharedTmux, ...aNames.containers.map(([, c]) => c)]) expect(downB.stdout).not.toContain(name)
    expect(fingerprint(aNames)).toEqual(before)
    expect(mine(b.list("--all")).map((r) => r.project).filter((p) => p === projB)).toEqual([])

    // A's own down removes A's, and only now.
    const downA = a.run(["ops", "down"])
    expect(downA.code, show(downA)).toBe(0)
    for (const name of aNames.tmux) expect(sb.tmuxHas(name)).toBe(false)
    for (const [rt, c] of aNames.containers) expect(sb.containerId(rt, c)).toBeNull()
  })

  it("the apply lock is per config: two projects apply at once, a second apply of the same config is refused", async () => {
    const a = new Project("lock-a")
    const b = new Project("lock-b")
    const [sa, sb2] = [sb.name("la"), sb.name("lb")]
    a.write({ [sa]: tmuxEntry("sleep 300") })
    b.write({ [sb2]: tmuxEntry("sleep 300") })
    // A holds its lock for a while: each started process must stay up 10 s.
    const slow = sb.kstlibBackground(["ops", "apply", "--settle", "10"], { config: false, cwd: a.dir })
    let finished = false
    void slow.done.then(() => void (finished = true), () => void (finished = true))
    const planned = await eventually(() => (slow.output().includes("Plan: 1 to create") ? true : undefined), 100, 100)
    expect(planned, slow.output()).toBe(true)

    const other = b.run(["ops", "apply", "--settle", "0"])
    expect(other.code, show(other)).toBe(0)
    expect(other.stderr).not.toContain("another kstlib apply")
    expect(sb.tmuxHas(sb2)).toBe(true)
    const same = a.run(["ops", "apply", "--settle", "0"])
    expect(same.code, show(same)).toBe(1)
    expect(same.stderr).toContain(`another kstlib apply (pid ${slow.pid}) is running on this config`)
    expect(stackLines(same.stderr)).toEqual([])
    // both ran while A's apply still held its lock
    expect(finished).toBe(false)

    const done = await slow.done
    expect(done.code, show(done)).toBe(0)
    expect(sb.tmuxHas(sa)).toBe(true)
  }, 60_000)
})

describe("--project and KSTLIB_PROJECT", () => {
  it("override the directory's project (the flag first), mark what apply creates, and a bad name is a one-line usage error", () => {
    const dir = new Project("Some Dir")
    const t = sb.name("t")
    const c = sb.name("c")
    const rt = engines[0]
    dir.write({ [t]: tmuxEntry("sleep 300"), ...(rt === undefined ? {} : { [c]: containerEntry(rt, "sleep 300") }) }, { project: `cfg-${sb.id}` })
    // ops.project < KSTLIB_PROJECT < --project
    const projectOf = (args: Array<string>, env?: RunOptions["env"]) => {
      const r = dir.run(["ops", "validate", "--json", ...args], env === undefined ? {} : { env })
      expect(r.code, show(r)).toBe(0)
      return (JSON.parse(r.stdout) as { project: string }).project
    }
    expect(projectOf([])).toBe(`cfg-${sb.id}`)
    expect(projectOf([], { KSTLIB_PROJECT: `env-${sb.id}` })).toBe(`env-${sb.id}`)
    expect(projectOf(["--project", `flag-${sb.id}`], { KSTLIB_PROJECT: `env-${sb.id}` })).toBe(`flag-${sb.id}`)
    expect(projectOf(["--project", `flag-${sb.id}`])).toBe(`flag-${sb.id}`)
    // an empty KSTLIB_PROJECT counts as unset
    expect(projectOf([], { KSTLIB_PROJECT: "" })).toBe(`cfg-${sb.id}`)

    const viaEnv = dir.run(["ops", "apply", t], { env: { KSTLIB_PROJECT: `env-${sb.id}` } })
    expect(viaEnv.code, show(viaEnv)).toBe(0)
    expect(tmuxProject(t)).toBe(`env-${sb.id}`)
    if (rt !== undefined) {
      const viaFlag = dir.run(["ops", "apply", c, "--project", `flag-${sb.id}`], { env: { KSTLIB_PROJECT: `env-${sb.id}` } })
      expect(viaFlag.code, show(viaFlag)).toBe(0)
      expect(containerProject(rt, c)).toBe(`flag-${sb.id}`)
    }

    // Seen from each project: owned only by its own.
    const owned = (rows: ListJson) => Object.fromEntries(mine(rows).map((r) => [r.name, r.owned]))
    expect(owned(dir.list())).toEqual({ [t]: false, ...(rt === undefined ? {} : { [c]: false }) })
    expect(owned(dir.list("--project", `env-${sb.id}`))).toEqual({ [t]: true, ...(rt === undefined ? {} : { [c]: false }) })
    const envRows = dir.run(["ops", "list", "--json"], { env: { KSTLIB_PROJECT: `env-${sb.id}` } })
    expect(owned(JSON.parse(envRows.stdout) as ListJson)).toEqual({ [t]: true, ...(rt === undefined ? {} : { [c]: false }) })
    // the flag beats the environment
    const both = dir.run(["ops", "list", "--json", "--project", `flag-${sb.id}`], { env: { KSTLIB_PROJECT: `env-${sb.id}` } })
    expect(owned(JSON.parse(both.stdout) as ListJson)).toEqual({ [t]: false, ...(rt === undefined ? {} : { [c]: true }) })
    // the config's project does not own what an override created: a conflict, left untouched
    const pid = sb.tmuxPids().get(t)
    const plain = dir.run(["ops", "apply"])
    expect(plain.code, show(plain)).toBe(1)
    expect(plain.stdout).toContain(`! ${t} (tmux socket default): conflict, owned by project 'env-${sb.id}'`)
    if (rt !== undefined) expect(plain.stdout).toContain(`conflict, owned by project 'flag-${sb.id}'`)
    expect(sb.tmuxPids().get(t)).toBe(pid)
    // down under the overriding project removes it
    const down = dir.run(["ops", "down", "--project", `env-${sb.id}`])
    expect(down.code, show(down)).toBe(0)
    expect(sb.tmuxHas(t)).toBe(false)
    if (rt !== undefined) expect(sb.containerState(rt, c)).toBe("running")

    // Invalid names: a usage error (exit 2), one line, no stack trace, nothing started; read commands too.
    const sockets = sb.tmuxSockets()
    const cases: Array<[Array<string>, RunOptions["env"], string]> = [
      [["ops", "plan", "--project", "bad name"], undefined, "--project:"],
      [["ops", "apply", "--project", "_lead"], undefined, "--project:"],
      [["ops", "down", "--project", "x".repeat(65)], undefined, "--project:"],
      [["ops", "apply"], { KSTLIB_PROJECT: "no/slash" }, "KSTLIB_PROJECT:"],
      [["ops", "list"], { KSTLIB_PROJECT: "-x" }, "KSTLIB_PROJECT:"],
      [["ops", "list", "--project", "bad name"], undefined, "--project:"],
      [["ops", "status", t, "--project", "bad name"], undefined, "--project:"]
    ]
    for (const [args, env, field] of cases) {
      const r = dir.run(args, env === undefined ? {} : { env })
      const what = `${args.join(" ")} ${JSON.stringify(env)}: ${show(r)}`
      expect(r.code, what).toBe(2)
      expect(r.stdout, what).toBe("")
      expect(r.stderr.trimEnd().split("\n"), what).toHaveLength(1)
      expect(r.stderr, what).toContain(`kstlib: ${field} Project name`)
      expect(stackLines(r.stderr), what).toEqual([])
    }
    expect(sb.tmuxSockets()).toEqual(sockets)
    expect(sb.tmuxHas(t)).toBe(false)

    // ops.project with a bad name: the config is invalid (exit 1), one line naming the field.
    dir.write({ [t]: tmuxEntry("sleep 300") }, { project: "Bad Name" })
    const badCfg = dir.run(["ops", "plan"])
    expect(badCfg.code, show(badCfg)).toBe(1)
    expect(badCfg.stderr).toContain("project")
    expect(stackLines(badCfg.stderr)).toEqual([])
    expect(sb.tmuxHas(t)).toBe(false)
  })
})

describe("errors that start nothing", () => {
  it("no config found: plan, apply and down exit 1 listing the paths searched", () => {
    const empty = new Project("empty")
    for (const verb of ["plan", "apply", "down"]) {
      const r = empty.run(["ops", verb])
      expect(r.code, `${verb}: ${show(r)}`).toBe(1)
      expect(r.stderr).toContain("no kstlib.conf.yml found; looked in:")
      for (const p of [join(sb.home, ".config", "kstlib.conf.yml"), join(sb.home, ".config", "kstlib", "kstlib.conf.yml"), join(sb.home, "kstlib.conf.yml"), join(empty.dir, "kstlib.conf.yml")]) {
        expect(r.stderr, verb).toContain(p)
      }
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1)
      expect(stackLines(r.stderr)).toEqual([])
    }
    // an explicit --config that does not exist: the one path
    const missing = join(empty.dir, "nope.yml")
    const explicit = empty.run(["ops", "apply", "--config", missing])
    expect(explicit.code, show(explicit)).toBe(1)
    expect(explicit.stderr).toContain(missing)
    expect(sb.tmuxSockets()).toEqual([])
    for (const rt of engines) expect(sb.containers(rt)).toEqual([])
  })

  it("typo'd names: plan NAME, apply NAME, start NAME exit 2 with 'did you mean', and start nothing", () => {
    const rt = engines[0]
    const good = sb.name("worker")
    const typo = sb.name("wroker")
    const box = sb.name("box")
    sb.writeConfig({ [good]: tmuxEntry("sleep 300"), ...(rt === undefined ? {} : { [box]: containerEntry(rt, "sleep 300") }) })
    const runs: Array<[Array<string>, string]> = [
      [["ops", "plan", typo], good],
      [["ops", "apply", typo], good],
      [["ops", "apply", good, typo], good],
      [["ops", "start", typo], good],
      ...(rt === undefined ? [] : [[["ops", "start", sb.name("bx")], box] as [Array<string>, string]])
    ]
    for (const [args, suggestion] of runs) {
      const r = sb.kstlib(args)
      const what = `${args.join(" ")}: ${show(r)}`
      expect(r.code, what).toBe(2)
      expect(r.stderr, what).toContain(`is not in the config (did you mean '${suggestion}'?)`)
      expect(r.stderr.trimEnd().split("\n"), what).toHaveLength(1)
      expect(stackLines(r.stderr), what).toEqual([])
    }
    expect(sb.tmuxSockets()).toEqual([])
    for (const engine of engines) expect(sb.containers(engine)).toEqual([])
  })
})

describe("per-session verbs against the config", () => {
  it("start --socket other while it runs on the default server: exit 1 naming where, no second copy", () => {
    const s = sb.name("one")
    sb.writeConfig({ [s]: tmuxEntry("sleep 300") })
    const up = sb.kstlib(["ops", "start", s])
    expect(up.code, show(up)).toBe(0)
    const pid = sb.tmuxPids().get(s)
    expect(pid).toBeDefined()

    const again = sb.kstlib(["ops", "start", s, "--socket", `${sb.id}-other`])
    expect(again.code, show(again)).toBe(1)
    expect(again.stderr).toContain(`session '${s}' already runs in tmux socket default`)
    expect(again.stderr.trimEnd().split("\n")).toHaveLength(1)
    expect(stackLines(again.stderr)).toEqual([])
    expect(sb.tmuxHas(s, `${sb.id}-other`)).toBe(false)
    expect(sb.tmuxSockets()).toEqual(["default"])
    expect(sb.tmuxPids().get(s)).toBe(pid)
  })

  it("idempotent: start of a running session and stop of a defined one exit 0; attach of a defined one says not running", () => {
    const s = sb.name("run")
    const d = sb.name("def")
    const rt = engines[0]
    const c = sb.name("box")
    sb.file("loop.sh", LOOP_SH)
    sb.writeConfig({
      [s]: tmuxEntry("sleep 300"),
      [d]: tmuxEntry("sleep 300"),
      ...(rt === undefined ? {} : { [c]: containerEntry(rt, "sh /w/loop.sh", { volumes: [`${sb.dir}:/w:ro`] }) })
    })
    for (const name of [s, ...(rt === undefined ? [] : [c])]) {
      const up = sb.kstlib(["ops", "start", name])
      expect(up.code, show(up)).toBe(0)
    }
    const pid = sb.tmuxPids().get(s)
    const id = rt === undefined ? null : sb.containerId(rt, c)

    const again = sb.kstlib(["ops", "start", s])
    expect(again.code, show(again)).toBe(0)
    expect(again.stdout).toContain(`Session '${s}' is already running`)
    expect(sb.tmuxPids().get(s)).toBe(pid)
    if (rt !== undefined) {
      const againC = sb.kstlib(["ops", "start", c])
      expect(againC.code, show(againC)).toBe(0)
      expect(againC.stdout).toContain(`Session '${c}' is already running`)
      expect(sb.containerId(rt, c)).toBe(id)
    }

    const stopDef = sb.kstlib(["ops", "stop", d])
    expect(stopDef.code, show(stopDef)).toBe(0)
    expect(stopDef.stdout).toContain(`Session '${d}' is not running`)
    const attachDef = sb.kstlib(["ops", "attach", d])
    expect(attachDef.code, show(attachDef)).toBe(1)
    expect(attachDef.stderr).toContain(`session '${d}' is defined in the config but not running`)
    expect(attachDef.stderr.trimEnd().split("\n")).toHaveLength(1)
    expect(sb.tmuxHas(d)).toBe(false)

    // stop twice: the second says so and exits 0
    const stop1 = sb.kstlib(["ops", "stop", s, "-t", "2"])
    expect(stop1.code, show(stop1)).toBe(0)
    expect(sb.tmuxHas(s)).toBe(false)
    const stop2 = sb.kstlib(["ops", "stop", s])
    expect(stop2.code, show(stop2)).toBe(0)
    expect(stop2.stdout).toContain("not running")
    if (rt !== undefined) {
      const stopC1 = sb.kstlib(["ops", "stop", c, "-t", "5"])
      expect(stopC1.code, show(stopC1)).toBe(0)
      const stopC2 = sb.kstlib(["ops", "stop", c])
      expect(stopC2.code, show(stopC2)).toBe(0)
      expect(stopC2.stdout).toContain("not running")
    }
  })

  it("a broken config (invalid YAML): list still shows what runs, with the error on stderr, and stop still stops it", async () => {
    const s = sb.name("keep")
    const rt = engines[0]
    const c = sb.name("box")
    sb.file("loop.sh", LOOP_SH)
    sb.writeConfig({ [s]: tmuxEntry("sleep 300"), ...(rt === undefined ? {} : { [c]: containerEntry(rt, "sh /w/loop.sh", { volumes: [`${sb.dir}:/w:ro`] }) }) })
    const up = sb.kstlib(["ops", "apply"])
    expect(up.code, show(up)).toBe(0)

    sb.writeRaw("ops:\n  sessions: [\n")
    const list = sb.kstlib(["ops", "list"])
    expect(list.code, show(list)).toBe(0)
    expect(list.stderr).toMatch(/^kstlib: config not used: .*kstlib\.conf\.yml:\d+:\d+: invalid YAML/mu)
    expect(list.stdout).toMatch(new RegExp(`^${s}\\s+tmux\\s+running`, "mu"))
    if (rt !== undefined) expect(list.stdout).toMatch(new RegExp(`^${c}\\s+container/${rt}\\s+running`, "mu"))
    expect(stackLines(list.stderr)).toEqual([])
    // --json stays valid JSON, with the project (the directory's: the fallback names it too)
    const json = sb.kstlib(["ops", "list", "--json"])
    expect(json.code, show(json)).toBe(0)
    const rows = mine(JSON.parse(json.stdout) as ListJson)
    expect(rows.map((r) => r.name).sort()).toEqual([s, ...(rt === undefined ? [] : [c])].sort())
    for (const r of rows) expect(r).toMatchObject({ state: "running", owned: true, in_config: false })
    const status = sb.kstlib(["ops", "status", s])
    expect(status.code, show(status)).toBe(0)

    const stop = sb.kstlib(["ops", "stop", s, "-t", "2"])
    expect(stop.code, show(stop)).toBe(0)
    expect(stop.stderr).toContain("config not used")
    expect(await eventually(() => (sb.tmuxHas(s) ? undefined : true))).toBe(true)
    if (rt !== undefined) {
      const stopC = sb.kstlib(["ops", "stop", c, "-t", "5"])
      expect(stopC.code, show(stopC)).toBe(0)
      expect(sb.containerState(rt, c)).not.toBe("running")
    }
    // the verbs that act on the config refuse it
    const apply = sb.kstlib(["ops", "apply"])
    expect(apply.code, show(apply)).toBe(1)
    expect(apply.stderr).toContain("invalid YAML")
    expect(sb.tmuxHas(s)).toBe(false)
  })

  it("51 sessions: validate exits 1 naming the 51st as rejected; list --json shows it invalid; plan never runs it", () => {
    const names = Array.from({ length: 51 }, (_, i) => sb.name(`s${String(i + 1).padStart(2, "0")}`))
    sb.writeConfig(Object.fromEntries(names.map((n) => [n, tmuxEntry("sleep 300")])))
    const last = names[50]!

    const v = sb.kstlib(["ops", "validate"])
    expect(v.code, show(v)).toBe(1)
    const rejected = v.stderr.split("\n").filter((l) => l.startsWith("rejected"))
    expect(rejected).toHaveLength(1)
    expect(rejected[0]).toContain(`session '${last}': too many sessions: at most 50 per config`)
    expect(v.stdout).toContain("50 valid, 1 rejected")

    const list = sb.kstlib(["ops", "list", "--json"])
    expect(list.code, show(list)).toBe(0)
    const rows = JSON.parse(list.stdout) as ListJson
    expect(rows).toHaveLength(51)
    const invalid = rows.filter((r) => r.state === "invalid")
    expect(invalid.map((r) => r.name)).toEqual([last])
    expect(invalid[0]!.issues?.[0]?.reason).toContain("too many sessions")
    expect(rows.filter((r) => r.state === "defined")).toHaveLength(50)

    const plan = sb.kstlib(["ops", "plan", "--json"])
    expect(plan.code, show(plan)).toBe(0)
    const steps = (JSON.parse(plan.stdout) as PlanJson).steps
    expect(steps.filter((s) => s.action === "invalid").map((s) => s.session)).toEqual([last])
    expect(steps.filter((s) => s.action === "create")).toHaveLength(50)
    expect(sb.tmuxSockets()).toEqual([])
  })

  it("ops.max_sessions: 120 sessions with max_sessions 110 validate 110, reject the last 10 naming the setting; plan creates 110", () => {
    const names = Array.from({ length: 120 }, (_, i) => sb.name(`m${String(i + 1).padStart(3, "0")}`))
    sb.writeConfig(Object.fromEntries(names.map((n) => [n, tmuxEntry("sleep 300")])), { max_sessions: 110 })

    const v = sb.kstlib(["ops", "validate"])
    expect(v.code, show(v)).toBe(1)
    const rejected = v.stderr.split("\n").filter((l) => l.startsWith("rejected"))
    expect(rejected).toHaveLength(10)
    expect(rejected[0]).toContain(`session '${names[110]}': too many sessions: at most 110 per config (ops.max_sessions)`)
    expect(v.stdout).toContain("110 valid, 10 rejected")

    const plan = sb.kstlib(["ops", "plan", "--json"])
    expect(plan.code, show(plan)).toBe(0)
    const steps = (JSON.parse(plan.stdout) as PlanJson).steps
    expect(steps.filter((s) => s.action === "invalid").map((s) => s.session)).toEqual(names.slice(110))
    expect(steps.filter((s) => s.action === "create").map((s) => s.session)).toEqual(names.slice(0, 110))
    expect(sb.tmuxSockets()).toEqual([])
  })

  it("ops.max_sessions above 1000: validate and plan refuse the config at the setting's line", () => {
    sb.writeRaw(`ops:\n  max_sessions: 5000\n  sessions:\n    ${sb.name("a")}: {command: sleep 300}\n`)
    for (const args of [["ops", "validate"], ["ops", "plan"]]) {
      const r = sb.kstlib(args)
      expect(r.code, show(r)).toBe(1)
      expect(r.stderr).toContain(`${sb.configPath}:2: ops.max_sessions: Expected a value less than or equal to 1000`)
    }
    expect(sb.tmuxSockets()).toEqual([])
  })
})
