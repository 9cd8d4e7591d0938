/**
 * Durable logs through the built binary, on real tmux 3.3a, Podman and Docker: every run of a
 * session is in its log file after a crash loop, a stop, a replace and a `down`, with its exit
 * code; rotation at a small size; 0600 files in 0700 directories; `--since` on tmux; `-f` across a
 * respawn shows only new lines; `down --purge-logs` is the only thing that removes them.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import type { RuntimeName } from "../../src/model.js"
import { requireEngines } from "../support/engines.js"
import { containerEntry, eventually, Sandbox, stackLines, tmuxEntry } from "./harness.js"

const engines = requireEngines("test/cli/durable-logs.test.ts")
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => {
  sb.cleanup()
})

const ok = (args: ReadonlyArray<string>) => {
  const r = sb.kstlib(args)
  expect(r.code, `${args.join(" ")}\n${r.stdout}\n${r.stderr}`).toBe(0)
  return r
}

/** The sandbox's default log directory: `$HOME/.local/state/kstlib/logs/PROJECT`. */
const projectLogDir = () => {
  const base = join(sb.home, ".local", "state", "kstlib", "logs")
  const [project] = readdirSync(base)
  return join(base, project!)
}

const logLines = (name: string, extra: ReadonlyArray<string> = []) => {
  const r = sb.kstlib(["ops", "logs", name, "-n", "10000", ...extra])
  expect(r.code, r.stderr).toBe(0)
  return r.stdout.trimEnd().split("\n")
}

/** Waits until `logs NAME` has a line matching each pattern (as many times as listed). */
const logsShow = async (name: string, want: ReadonlyArray<RegExp>) => {
  const seen = await eventually(() => {
    const r = sb.kstlib(["ops", "logs", name, "-n", "10000"])
    const lines = r.stdout.split("\n")
    return want.every((w) => lines.filter((l) => w.test(l)).length >= want.filter((x) => x.source === w.source).length) ? lines : undefined
  }, 100, 200)
  expect(seen, `${name}: ${sb.kstlib(["ops", "logs", name, "-n", "100"]).stdout}`).toBeDefined()
  return seen!
}

describe("durable logs on tmux", () => {
  it("a crash loop: every run's output, its start marker and its exit code, in order; the file is 0600 in 0700 directories", async () => {
    const t = sb.name("crash")
    sb.file("crash.sh", "echo out-$$; exit 3\n")
    sb.writeConfig({ [t]: tmuxEntry(`sh ${sb.dir}/crash.sh`, { restart: "on-failure", max_restarts: 2, restart_delay: 0.2, env: { SECRET: "s3cr3t-value" } }) })
    sb.kstlib(["ops", "apply"])
    const lines = await logsShow(t, [/exited with code 3/u, /exited with code 3/u, /exited with code 3/u])
    const marks = lines.filter((l) => l.startsWith("[kstlib] run "))
    expect(marks.map((l) => l.replace(/ at .*$/u, ""))).toEqual([
      "[kstlib] run 1 started",
      "[kstlib] run 1 exited with code 3",
      "[kstlib] run 2 started",
      "[kstlib] run 2 exited with code 3",
      "[kstlib] run 3 started",
      "[kstlib] run 3 exited with code 3"
    ])
    // each run's own output between its markers: three different pids
    const outs = lines.filter((l) => /^out-\d+$/u.test(l))
    expect(new Set(outs).size).toBe(3)
    const dir = projectLogDir()
    const file = join(dir, `${t}.log`)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    expect(statSync(join(dir, "..")).mode & 0o777).toBe(0o700)
    // every line of the file is time-stamped, and no env value reached it
    const text = readFileSync(file, "utf8")
    expect(text.trimEnd().split("\n").every((l) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z /u.test(l)), text).toBe(true)
    expect(text).not.toContain("s3cr3t-value")
  })

  it("a stop, a replace and a down keep every earlier run; --since works; down --purge-logs removes the file", async () => {
    const t = sb.name("keep")
    sb.file("v1.sh", "echo version-one; exec sleep 300\n")
    sb.file("v2.sh", "echo version-two; exec sleep 300\n")
    sb.writeConfig({ [t]: tmuxEntry(`sh ${sb.dir}/v1.sh`) })
    ok(["ops", "apply"])
    await logsShow(t, [/^version-one$/u])
    ok(["ops", "stop", t])
    expect(logLines(t)).toContain("version-one")
    // a stopped session: its exit is in the file too
    expect(logLines(t).some((l) => /^\[kstlib\] run 1 (exited with code|killed by signal)/u.test(l))).toBe(true)

    ok(["ops", "apply"])
    await sleep(300)
    sb.writeConfig({ [t]: tmuxEntry(`sh ${sb.dir}/v2.sh`) })
    const replaced = ok(["ops", "apply"])
    expect(replaced.stdout).toContain("replace")
    await logsShow(t, [/^version-one$/u, /^version-one$/u, /^version-two$/u])

    ok(["ops", "down"])
    const after = logLines(t)
    expect(after.filter((l) => l === "version-one")).toHaveLength(2)
    expect(after).toContain("version-two")

    // --since on tmux: from the file's times
    const stamped = logLines(t, ["--timestamps"])
    expect(stamped.every((l) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z /u.test(l)), stamped.join("\n")).toBe(true)
    const future = sb.kstlib(["ops", "logs", t, "--since", new Date(Date.now() + 60_000).toISOString()])
    expect(future.code, future.stderr).toBe(0)
    expect(future.stdout).toBe("")
    const lastTime = stamped[stamped.length - 1]!.split(" ")[0]!
    const since = logLines(t, ["--since", lastTime])
    expect(since.length).toBeGreaterThan(0)
    expect(since.length).toBeLessThan(stamped.length)

    const purged = sb.kstlib(["ops", "down", "--purge-logs"])
    expect(purged.code, purged.stderr).toBe(0)
    expect(purged.stderr).toMatch(/Removed \d+ log files?\./u)
    expect(readdirSync(join(sb.home, ".local", "state", "kstlib", "logs"))).toEqual([])
    const gone = sb.kstlib(["ops", "logs", t])
    expect(gone.code).not.toBe(0)
  })

  it("rotation at log_max_size keeps log_keep files, none over the size, the newest lines last", async () => {
    const t = sb.name("rot")
    sb.file("lots.sh", `i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo "line-$i-${"x".repeat(50)}"; done; exec sleep 300\n`)
    sb.writeConfig({ [t]: tmuxEntry(`sh ${sb.dir}/lots.sh`, { log_max_size: "4K", log_keep: 2 }) })
    ok(["ops", "apply"])
    await logsShow(t, [/^line-400-/u])
    const dir = projectLogDir()
    expect(readdirSync(dir).sort()).toEqual([`${t}.log`, `${t}.log.1`, `${t}.log.2`])
    for (const f of readdirSync(dir)) {
      expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(4096)
      expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600)
    }
    const lines = logLines(t).filter((l) => l.startsWith("line-"))
    expect(lines[lines.length - 1]).toMatch(/^line-400-/u)
    // what the files hold is contiguous: the oldest lines were dropped, none in between
    const nums = lines.map((l) => Number(l.split("-")[1]))
    expect(nums).toEqual(Array.from({ length: nums.length }, (_, i) => 400 - nums.length + 1 + i))
  })

  it("logs -f across a respawn shows only new lines (no replay of the old screen)", async () => {
    const t = sb.name("fol")
    sb.file("tick.sh", "trap 'exit 0' TERM INT\ni=0\nwhile :; do i=$((i+1)); echo \"tick-$$-$i\"; sleep 0.2; done\n")
    sb.writeConfig({ [t]: tmuxEntry(`sh ${sb.dir}/tick.sh`) })
    ok(["ops", "apply"])
    await logsShow(t, [/^tick-\d+-5$/u])
    const bg = sb.kstlibBackground(["ops", "logs", t, "-f", "-n", "3"])
    const pids = () => new Set(bg.output().split("\n").filter((l) => l.startsWith("tick-")).map((l) => l.split("-")[1]))
    // following (a first tick seen), then the respawn, then the new run's ticks (times vary on a loaded runner)
    await eventually(() => (pids().size >= 1 ? true : undefined), 100, 100)
    ok(["ops", "restart", t])
    await eventually(() => (pids().size >= 2 && bg.output().split("\n").filter((l) => l.startsWith("tick-")).length >= 8 ? true : undefined), 100, 100)
    process.kill(bg.pid, "SIGTERM")
    const r = await bg.done
    expect(stackLines(r.stderr)).toEqual([])
    const ticks = r.stdout.split("\n").filter((l) => l.startsWith("tick-"))
    // two runs (two pids), each line once
    expect(new Set(ticks.map((l) => l.split("-")[1])).size, r.stdout).toBe(2)
    expect(new Set(ticks).size, r.stdout).toBe(ticks.length)
    expect(r.stdout).toContain("[kstlib] run 1 started")
  })

  it("log_file: false writes no file, and --since on that session is a usage error", async () => {
    const t = sb.name("nolog")
    sb.file("hi.sh", "echo hi; exec sleep 300\n")
    sb.writeConfig({ [t]: tmuxEntry(`sh ${sb.dir}/hi.sh`, { log_file: false }) })
    ok(["ops", "apply"])
    await logsShow(t, [/^hi$/u])
    const base = join(sb.home, ".local", "state", "kstlib", "logs")
    expect(() => readdirSync(base)).toThrow()
    const r = sb.kstlib(["ops", "logs", t, "--since", "5m"])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain("without a log file")
  })

  it("a bad log_file or log_max_size is refused with file:line, and nothing runs", () => {
    const t = sb.name("bad")
    sb.file("afile", "x")
    const entry = (extra: string) => `ops:\n  sessions:\n    ${t}:\n      backend: tmux\n      command: sleep 300\n${extra}`
    sb.writeRaw(entry("      log_max_size: 1K\n      log_keep: 101\n"))
    const sizes = sb.kstlib(["ops", "validate"])
    expect(sizes.code).toBe(1)
    expect(sizes.stderr).toMatch(/kstlib\.conf\.yml:6: .*log_max_size: must be at least 4K/u)
    expect(sizes.stderr).toMatch(/kstlib\.conf\.yml:7: .*log_keep: /u)
    sb.writeRaw(entry("      log_file: afile/x.log\n"))
    const file = sb.kstlib(["ops", "validate"])
    expect(file.code).toBe(1)
    expect(file.stderr).toMatch(/kstlib\.conf\.yml:6: .*log_file: '.*afile' is not a directory/u)
    expect(sb.kstlib(["ops", "apply"]).code).toBe(1)
    expect(sb.tmux(["ls"]).stdout).not.toContain(t)
  })
})

if (engines.length === 0) it.todo("needs podman or docker with the test image: run `bash .ci/engines.sh`")

describe.each(engines)("durable logs on %s containers", (rt: RuntimeName) => {
  it("a crash loop, then a stop that removes the container: every run and the exit code stay; a replace and a down keep them", async () => {
    const c = sb.name("box")
    sb.writeConfig({ [c]: containerEntry(rt, "echo run-output; exit 4", { shell: true, restart: "on-failure", max_restarts: 2 }) })
    sb.kstlib(["ops", "apply"])
    await eventually(() => (sb.kstlib(["ops", "logs", c, "-n", "100"]).stdout.split("\n").filter((l) => l === "run-output").length >= 3 ? true : undefined), 100, 200)
    await sleep(500)
    ok(["ops", "stop", c])
    expect(sb.containers(rt)).not.toContain(c)
    const kept = logLines(c)
    expect(kept.filter((l) => l === "run-output")).toHaveLength(3)
    expect(kept[0]).toMatch(new RegExp(`^\\[kstlib\\] container ${c} started at `, "u"))
    expect(kept[kept.length - 1]).toMatch(new RegExp(`^\\[kstlib\\] container ${c} exited with code 4 after 2 restarts`, "u"))

    sb.writeConfig({ [c]: containerEntry(rt, "echo first; exec sleep 300", { shell: true }) })
    ok(["ops", "apply"])
    await logsShow(c, [/^first$/u])
    // while it runs: the file's earlier runs, then the engine's
    expect(logLines(c).filter((l) => l === "run-output")).toHaveLength(3)
    sb.writeConfig({ [c]: containerEntry(rt, "echo second; exec sleep 300", { shell: true }) })
    ok(["ops", "apply"])
    await logsShow(c, [/^second$/u])
    ok(["ops", "down", "--timeout", "1"])
    const all = logLines(c)
    for (const want of ["run-output", "first", "second"]) expect(all, all.join("\n")).toContain(want)
    const file = join(projectLogDir(), `${c}.log`)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(readFileSync(file, "utf8").trimEnd().split("\n").every((l) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z /u.test(l))).toBe(true)
  })
})
