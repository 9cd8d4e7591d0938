/**
 * The upgrade promise: sessions started by the previous release (the commit in ./BASELINE, built
 * here from the repository's own history) plan "No changes" for this build, and `apply` recreates
 * nothing — on real tmux, Podman and Docker, with env values (their digests were unkeyed then),
 * supervision fields, a named socket, volumes and ports.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import type { PlanJson, Run, SessionEntry } from "../cli/harness.js"
import { containerEntry, LOOP_SH, Sandbox, tmuxEntry } from "../cli/harness.js"
import { requireEngines } from "../support/engines.js"

const REPO = fileURLToPath(new URL("../..", import.meta.url))
const BASELINE = readFileSync(new URL("./BASELINE", import.meta.url), "utf8").trim()
const engines = requireEngines("upgrade from the previous release")

let previous = ""
let oldBin = ""

beforeAll(() => {
  // The baseline's sources from git (a clone of main has them), built with this checkout's tools.
  previous = mkdtempSync(join(tmpdir(), "kstlib-previous-"))
  const archive = spawnSync("git", ["-C", REPO, "archive", "--format=tar", BASELINE], { maxBuffer: 256 * 1024 * 1024 })
  if (archive.status !== 0) throw new Error(`git archive ${BASELINE} failed (is the repository's history there?): ${String(archive.stderr)}`)
  execFileSync("tar", ["-x", "-C", previous], { input: archive.stdout })
  symlinkSync(join(REPO, "node_modules"), join(previous, "node_modules"))
  execFileSync("npm", ["run", "build"], { cwd: previous, stdio: "ignore", timeout: 170_000 })
  oldBin = join(previous, "dist", "cli", "bin.js")
}, 180_000)

afterAll(() => {
  if (previous !== "") rmSync(previous, { recursive: true, force: true })
})

let sb: Sandbox
afterEach(() => sb.cleanup())

const kstlibOld = (args: ReadonlyArray<string>): Run => {
  const r = spawnSync(process.execPath, [oldBin, ...args, "--config", sb.configPath], { cwd: sb.dir, env: sb.env, encoding: "utf8", timeout: 90_000 })
  return { code: r.status ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }
}

describe("upgrade: sessions of the previous release", () => {
  it("plan no changes, and apply recreates nothing (tmux, Podman, Docker)", () => {
    sb = new Sandbox()
    const loop = sb.file("loop.sh", LOOP_SH)
    const sessions: Record<string, SessionEntry> = {
      [sb.name("plain")]: tmuxEntry(`sh ${loop}`),
      [sb.name("envd")]: tmuxEntry(`sh ${loop}`, {
        env: { TOKEN: "s3cr3t-1234", LOG_LEVEL: "info" },
        socket_name: sb.name("sock"),
        restart: "on-failure",
        max_restarts: 3
      }),
      [sb.name("shelled")]: tmuxEntry("sleep 300 | cat", { shell: true, working_dir: sb.dir })
    }
    for (const rt of engines) {
      sessions[sb.name(`c-${rt}`)] = containerEntry(rt, "trap 'exit 0' TERM; sleep 300 & wait", {
        shell: true,
        env: { PIN: "123456" },
        ports: [`${rt === "podman" ? 18231 : 18232}:80`],
        volumes: [`${sb.dir}:/data:ro`]
      })
    }
    sb.writeConfig(sessions)

    const applied = kstlibOld(["ops", "apply", "--settle", "0"])
    expect(applied.code, applied.stdout + applied.stderr).toBe(0)
    const pids = sb.kstlib(["ops", "list", "--json"])
    const before = JSON.parse(pids.stdout) as ReadonlyArray<{ readonly name: string; readonly pid: number | null; readonly state: string }>
    expect(before.filter((r) => r.state === "running")).toHaveLength(Object.keys(sessions).length)

    const planned = sb.kstlib(["ops", "plan", "--json", "--detailed-exitcode"])
    const plan = JSON.parse(planned.stdout) as PlanJson
    expect(plan.steps, planned.stdout).toEqual([])
    expect(planned.code).toBe(0)
    expect([...plan.unchanged].sort()).toEqual(Object.keys(sessions).sort())

    const again = sb.kstlib(["ops", "apply"])
    expect(again.code, again.stdout + again.stderr).toBe(0)
    expect(again.stdout).toContain("No changes.")
    const after = JSON.parse(sb.kstlib(["ops", "list", "--json"]).stdout) as typeof before
    // the same processes: nothing was recreated
    expect(after.map((r) => [r.name, r.pid]).sort()).toEqual(before.map((r) => [r.name, r.pid]).sort())
    for (const r of after) expect(r).toMatchObject({ state: "running" })
    const statuses = JSON.parse(sb.kstlib(["ops", "list", "--json"]).stdout) as ReadonlyArray<{ readonly in_sync: boolean | null }>
    expect(statuses.every((s) => s.in_sync === true)).toBe(true)

    // An earlier release's session restarts under this build's supervisor: its pane-died hook is
    // gone (the two would both restart), and a crash is restarted once, by the supervisor.
    const envd = sb.name("envd")
    const sock = sb.name("sock")
    expect(sb.tmux(["-L", sock, "show-options", "-H", "-t", `=${envd}:`, "pane-died"]).stdout).toContain("pane-died")
    const restarted = sb.kstlib(["ops", "restart", envd])
    expect(restarted.code, restarted.stdout + restarted.stderr).toBe(0)
    expect(sb.tmux(["-L", sock, "show-options", "-H", "-t", `=${envd}:`, "pane-died"]).stdout).not.toContain("pane-died")
    const status = () => JSON.parse(sb.kstlib(["ops", "status", envd, "--json"]).stdout) as { readonly pid: number | null; readonly restarts: number | null }
    const first = status()
    expect(first.restarts).toBe(0)
    process.kill(first.pid!, "SIGKILL")
    let now = status()
    for (let i = 0; i < 40 && now.restarts !== 1; i++) {
      execFileSync("sleep", ["0.25"])
      now = status()
    }
    expect(now.restarts).toBe(1)
    expect(now.pid).not.toBe(first.pid)
  }, 180_000)
})
