/**
 * `kstlib ops logs` through the built binary: following counters on each container engine (the
 * last N lines, then every new one, no replay and no gap), several names at once, no name (every
 * running session of the config), `--since` and `--timestamps` (engine flags on containers; tmux:
 * the log file's times, or without one the time kstlib read a line, and `--since` refused).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import type { RuntimeName } from "../../src/model.js"
import { requireEngines } from "../support/engines.js"
import { containerEntry, eventually, Sandbox, stackLines, tmuxEntry } from "./harness.js"

const engines = requireEngines("test/cli/logs.test.ts")

/** An increasing counter every 0.2 s; exits at once on SIGTERM/SIGINT. */
const COUNTER_SH = "trap 'exit 0' TERM INT\ni=0\nwhile :; do i=$((i+1)); echo $i; sleep 0.2; done\n"
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}) /u
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => {
  sb.cleanup()
})

const applyOk = () => {
  const r = sb.kstlib(["ops", "apply"])
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0)
}

/** The numbers a session printed so far (`logs NAME -n 1000`), once there are at least `min`. */
const countedSoFar = async (name: string, min: number): Promise<Array<number>> => {
  const seen = await eventually(() => {
    const r = sb.kstlib(["ops", "logs", name, "-n", "1000"])
    const nums = r.stdout.split("\n").filter((l) => /^\d+$/u.test(l)).map(Number)
    return nums.length >= min ? nums : undefined
  })
  expect(seen, `${name} never printed ${min} numbers`).toBeDefined()
  return seen!
}

/** `kstlib ops logs ...args` in the background for `ms`, then SIGTERM; its stdout lines. */
const followFor = async (args: ReadonlyArray<string>, ms: number) => {
  const bg = sb.kstlibBackground(["ops", "logs", ...args])
  await sleep(ms)
  process.kill(bg.pid, "SIGTERM")
  const r = await bg.done.catch((e: Error) => ({ code: -1, stdout: bg.output(), stderr: e.message }))
  expect(stackLines(r.stderr)).toEqual([])
  return r.stdout.split("\n").filter((l) => l !== "")
}

/** Each number exactly one more than the previous: no replay, no gap. */
const expectContiguous = (nums: ReadonlyArray<number>, what: string) => {
  for (let i = 1; i < nums.length; i++) expect(nums[i], `${what}: ${nums.join(",")}`).toBe(nums[i - 1]! + 1)
}

if (engines.length === 0) it.todo("needs podman or docker with the test image: run `bash .ci/engines.sh`")

describe.each(engines)("logs on %s containers", (rt: RuntimeName) => {
  const counters = (...suffixes: Array<string>) => {
    sb.file("counter.sh", COUNTER_SH)
    const names = suffixes.map((s) => sb.name(s))
    sb.writeConfig(Object.fromEntries(names.map((n) => [n, containerEntry(rt, "sh /w/counter.sh", { volumes: [`${sb.dir}:/w:ro`] })])))
    applyOk()
    return names
  }

  it("-n 2 -f: the last 2 existing lines, then every new one, strictly increasing, no replay, no gap", async () => {
    const [c] = counters("c") as [string]
    const before = await countedSoFar(c, 5)
    const lines = await followFor([c, "-n", "2", "-f"], 3000)
    expect(lines.every((l) => /^\d+$/u.test(l)), lines.join("\n")).toBe(true)
    const nums = lines.map(Number)
    // ~15 new lines in 3 s at 5/s; at least a few beyond the first two
    expect(nums.length, lines.join(",")).toBeGreaterThan(5)
    // The first two were the last two printed when the follow began: at or after what we saw before.
    expect(nums[1]!).toBeGreaterThanOrEqual(before[before.length - 1]!)
    expect(nums[0]!).toBeGreaterThan(1)
    expectContiguous(nums, c)
  })

  it("several names: each name's lines prefixed 'name |', each strictly increasing with no gap", async () => {
    const [a, b] = counters("a", "b") as [string, string]
    await countedSoFar(a, 3)
    await countedSoFar(b, 3)
    const lines = await followFor([a, b, "-n", "2", "-f"], 3000)
    const per = new Map<string, Array<number>>([[a, []], [b, []]])
    for (const line of lines) {
      const m = /^(\S+) +\| (\d+)$/u.exec(line)
      expect(m, `unexpected line: ${JSON.stringify(line)}`).not.toBeNull()
      per.get(m![1]!)!.push(Number(m![2]))
    }
    for (const [name, nums] of per) {
      expect(nums.length, `${name}: ${nums.join(",")}`).toBeGreaterThan(5)
      expectContiguous(nums, name)
    }
  })

  it("--timestamps and --since: the engine's times, and only the lines from that time on", async () => {
    const [c] = counters("c") as [string]
    await countedSoFar(c, 10)
    const stamped = sb.kstlib(["ops", "logs", c, "-n", "1000", "--timestamps"])
    expect(stamped.code, stamped.stderr).toBe(0)
    const rows = stamped.stdout.trimEnd().split("\n")
    expect(rows.every((l) => TIMESTAMP.test(l)), rows.slice(0, 3).join("\n")).toBe(true)
    // From the time of a middle line on: that line first (times have ns; --since is passed with ms, rounded down).
    const [time, value] = rows[Math.floor(rows.length / 2)]!.split(" ") as [string, string]
    const since = sb.kstlib(["ops", "logs", c, "-n", "1000", "--since", time])
    expect(since.code, since.stderr).toBe(0)
    expect(since.stdout.split("\n")[0]).toBe(value)
    // A duration: the last second holds about 5 lines, far fewer than everything.
    const recent = sb.kstlib(["ops", "logs", c, "-n", "1000", "--since", "1s"]).stdout.trimEnd().split("\n")
    expect(recent.length).toBeLessThan(12)
    expect(recent.length).toBeLessThan(rows.length)
    // Follow with both: stamped, from the engine.
    const followed = await followFor([c, "-n", "1", "-f", "--timestamps", "--since", "2s"], 1500)
    expect(followed.length).toBeGreaterThan(1)
    expect(followed.every((l) => TIMESTAMP.test(l)), followed.join("\n")).toBe(true)
  })

  it("--since with a tmux session without a log file among the names: a usage error before any line", () => {
    sb.file("counter.sh", COUNTER_SH)
    const c = sb.name("c")
    const t = sb.name("t")
    sb.writeConfig({ [c]: containerEntry(rt, "sh /w/counter.sh", { volumes: [`${sb.dir}:/w:ro`] }), [t]: tmuxEntry(`sh ${sb.dir}/counter.sh`, { log_file: false }) })
    applyOk()
    const r = sb.kstlib(["ops", "logs", c, t, "--since", "10m"])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stdout).toBe("")
    expect(r.stderr).toContain(`'${t}' is a tmux session without a log file: the pane keeps no time per line`)
  })
})

describe("logs on tmux", () => {
  it("no name: every running session of the config, prefixed; an exited one is left out", async () => {
    sb.file("counter.sh", COUNTER_SH)
    const [a, b, gone] = [sb.name("a"), sb.name("bb"), sb.name("gone")]
    sb.writeConfig({
      [a]: tmuxEntry(`sh ${sb.dir}/counter.sh`),
      [b]: tmuxEntry(`sh ${sb.dir}/counter.sh`),
      [gone]: tmuxEntry("true")
    })
    sb.kstlib(["ops", "apply"]) // `gone` exits at once: apply reports it
    await countedSoFar(a, 3)
    await countedSoFar(b, 3)
    const r = sb.kstlib(["ops", "logs", "-n", "2"])
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split("\n")
    expect(lines).toHaveLength(4)
    // names padded to the longest, then ' | '
    expect(lines.filter((l) => l.startsWith(`${a}  | `))).toHaveLength(2)
    expect(lines.filter((l) => l.startsWith(`${b} | `))).toHaveLength(2)
    expect(r.stdout).not.toContain(gone)

    const followed = await followFor(["-n", "1", "-f"], 2500)
    for (const name of [a, b]) {
      const nums = followed.filter((l) => l.startsWith(`${name} `)).map((l) => Number(l.split("| ")[1]))
      expect(nums.length, followed.join("\n")).toBeGreaterThan(2)
      expectContiguous(nums, name)
    }
  })

  it("--timestamps: the log file's times; --since from them; without a log file, the time kstlib read each line and --since a usage error (exit 2)", async () => {
    sb.file("counter.sh", COUNTER_SH)
    const t = sb.name("t")
    const bare = sb.name("bare")
    sb.writeConfig({ [t]: tmuxEntry(`sh ${sb.dir}/counter.sh`), [bare]: tmuxEntry(`sh ${sb.dir}/counter.sh`, { log_file: false }) })
    applyOk()
    await countedSoFar(t, 3)
    await countedSoFar(bare, 3)
    const begin = Date.now()
    const stamped = sb.kstlib(["ops", "logs", t, "-n", "3", "--timestamps"])
    expect(stamped.code, stamped.stderr).toBe(0)
    const rows = stamped.stdout.trimEnd().split("\n")
    expect(rows).toHaveLength(3)
    for (const row of rows) {
      // written by the pane's log writer, in whole seconds, at most a second or two before the call
      expect(row).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z \d+$/u)
      const at = Date.parse(row.split(" ")[0]!)
      expect(at).toBeGreaterThanOrEqual(begin - 3000)
      expect(at).toBeLessThanOrEqual(Date.now() + 1000)
    }
    const followed = await followFor([t, "-n", "1", "-f", "--timestamps"], 2000)
    expect(followed.length).toBeGreaterThan(2)
    expect(followed.every((l) => TIMESTAMP.test(l)), followed.join("\n")).toBe(true)
    expectContiguous(followed.map((l) => Number(l.split(" ")[1])), t)
    const recent = sb.kstlib(["ops", "logs", t, "-n", "1000", "--since", "2s"])
    expect(recent.code, recent.stderr).toBe(0)
    const all = sb.kstlib(["ops", "logs", t, "-n", "1000"]).stdout.trimEnd().split("\n")
    expect(recent.stdout.trimEnd().split("\n").length).toBeLessThan(all.length)

    const read = sb.kstlib(["ops", "logs", bare, "-n", "3", "--timestamps"])
    expect(read.code, read.stderr).toBe(0)
    for (const row of read.stdout.trimEnd().split("\n")) expect(row).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z \d+$/u)
    for (const args of [[bare, "--since", "5m"], [bare, "-f", "--since", "5m"]]) {
      const r = sb.kstlib(["ops", "logs", ...args])
      expect(r.code, r.stderr).toBe(2)
      expect(r.stdout).toBe("")
      expect(r.stderr).toContain("the pane keeps no time per line, so --since needs its log file")
    }
  })

  it.each([["yesterday"], ["5x"], ["2024-13-01"], ["2024-02-30T10:00"], ["-5m"], [""]])(
    "a bad --since value (%j): exit 2, one clear line",
    (value) => {
      sb.writeConfig({})
      const r = sb.kstlib(["ops", "logs", "whatever", `--since=${value}`])
      expect(r.code, r.stderr).toBe(2)
      expect(r.stdout).toBe("")
      expect(r.stderr).toContain("--since")
      expect(r.stderr).toContain("is not a duration back from now")
      expect(stackLines(r.stderr)).toEqual([])
    }
  )
})
