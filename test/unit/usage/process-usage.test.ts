/**
 * CPU and memory of tmux sessions from /proc, pure parts: /proc/PID/stat's fields (a command with
 * spaces and parentheses), the tree of a pane (descendants, re-parented members of its terminal
 * session, nothing else), and recent CPU% between two scans (a reused pid is a new process).
 */
import { spawn } from "node:child_process"
import { describe, expect, it } from "vitest"
import type { ProcSnapshot, ProcStat } from "../../../src/system/process-usage.js"
import { formatBytes, parseProcStat, procSnapshot, treeOf, treeRss, usageBetween } from "../../../src/system/process-usage.js"

// a real line of /proc/PID/stat (cat reading its own)
const REAL = "9830 (cat) R 9828 9828 3813 0 -1 4194304 102 0 0 0 7 3 2 1 20 0 1 0 498008 3133440 411 18446744073709551615 94412931170304 94412931190185 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"

describe("/proc/PID/stat", () => {
  it("reads parent, session, ticks (own + waited-for children), start time and RSS", () => {
    expect(parseProcStat(9830, REAL)).toEqual({
      pid: 9830,
      state: "R",
      ppid: 9828,
      session: 3813,
      ticks: 7 + 3 + 2 + 1,
      started: 498008,
      rss_bytes: 411 * 4096
    })
  })

  it("counts fields after the LAST parenthesis: a command may hold spaces and ') R 1 2'", () => {
    const tricky = REAL.replace("(cat)", "(a b) R 1 2 (x))")
    const p = parseProcStat(9830, tricky)
    expect(p?.ppid).toBe(9828)
    expect(p?.session).toBe(3813)
    expect(p?.rss_bytes).toBe(411 * 4096)
  })

  it("a truncated or garbled line is unreadable, not zeros", () => {
    expect(parseProcStat(1, "1 (x) R 0 1")).toBeNull()
    expect(parseProcStat(1, "no parenthesis here")).toBeNull()
    expect(parseProcStat(1, REAL.replace(" 7 3 2 1 ", " x 3 2 1 "))).toBeNull()
  })

  it("a snapshot of this machine holds this process, with its parent", () => {
    const s = procSnapshot()
    expect(s).not.toBeNull()
    const me = s!.processes.get(process.pid)
    expect(me?.ppid).toBe(process.ppid)
    expect(me!.rss_bytes).toBeGreaterThan(1024 * 1024)
  })
})

const proc = (pid: number, ppid: number, session: number, ticks = 0, rss = 0, started = pid): ProcStat => ({
  pid,
  state: "S",
  ppid,
  session,
  ticks,
  started,
  rss_bytes: rss
})
const snap = (at: number, ps: ReadonlyArray<ProcStat>): ProcSnapshot => ({ at, processes: new Map(ps.map((p) => [p.pid, p])) })

// 1: init; 100: the tmux server; 200: a pane's supervisor (leads session 200); 201: its command;
// 202: the command's child; 203: `nohup x &` of the pane, re-parented to init; 300: another pane;
// 400: a process that called setsid below the command (own session, still a descendant)
const machine = (t: number, ticks: Readonly<Record<number, number>> = {}) =>
  snap(t, [
    proc(1, 0, 1),
    proc(100, 1, 100),
    proc(200, 100, 200, ticks[200] ?? 0, 1000),
    proc(201, 200, 200, ticks[201] ?? 0, 20_000),
    proc(202, 201, 200, ticks[202] ?? 0, 300),
    proc(203, 1, 200, ticks[203] ?? 0, 4),
    proc(300, 100, 300, ticks[300] ?? 0, 50_000),
    proc(400, 201, 400, ticks[400] ?? 0, 5)
  ])

describe("a session's tree", () => {
  it("from the command's pid: its pane's leader, everything below, and what stayed in the terminal session", () => {
    expect([...treeOf(machine(0), 201)].sort()).toEqual([200, 201, 202, 203, 400])
  })

  it("from a pane's own process (no supervisor): the same tree; another pane is never in it", () => {
    expect([...treeOf(machine(0), 200)].sort()).toEqual([200, 201, 202, 203, 400])
    expect([...treeOf(machine(0), 300)]).toEqual([300])
  })

  it("a gone root has no tree", () => {
    expect(treeOf(machine(0), 999).size).toBe(0)
  })
})

describe("recent CPU% between two scans", () => {
  it("ticks used in between over the time in between: 100 = one core; RSS of the later scan", () => {
    const before = machine(0, { 201: 1000, 202: 50 })
    // 500 ms later: the command used 50 ticks (0.5 s: one core busy), its child 25
    const after = machine(500, { 201: 1050, 202: 75 })
    const u = usageBetween(before, after, [201, 300])
    expect(u.get(201)).toEqual({ cpu_percent: 150, memory_bytes: 1000 + 20_000 + 300 + 4 + 5 })
    expect(u.get(300)).toEqual({ cpu_percent: 0, memory_bytes: 50_000 })
  })

  it("a process that started in between counts whole; a reused pid is a new process", () => {
    const before = machine(0, { 202: 900 })
    const after = snap(1000, [...machine(1000).processes.values()].map((p) => (p.pid === 202 ? { ...p, ticks: 30, started: 999_999 } : p)))
    expect(usageBetween(before, after, [201]).get(201)?.cpu_percent).toBe(30)
  })

  it("a root gone by the second scan has no entry; an idle tree is 0", () => {
    const after = snap(300, [...machine(300).processes.values()].filter((p) => p.pid !== 300))
    const u = usageBetween(machine(0), after, [300, 200])
    expect(u.has(300)).toBe(false)
    expect(u.get(200)?.cpu_percent).toBe(0)
  })

  it("a busy loop on this machine reads a high CPU% (a core when idle; > 25 on a loaded runner), its tree's RSS above zero", async () => {
    const child = spawn("sh", ["-c", "while :; do :; done"], { stdio: "ignore" })
    try {
      await new Promise((r) => setTimeout(r, 200))
      const before = procSnapshot()!
      await new Promise((r) => setTimeout(r, 400))
      const u = usageBetween(before, procSnapshot()!, [child.pid!]).get(child.pid!)
      expect(u!.cpu_percent).toBeGreaterThan(25)
      expect(u!.memory_bytes).toBeGreaterThan(0)
      expect(treeRss([child.pid!]).get(child.pid!)).toBeGreaterThan(0)
    } finally {
      child.kill("SIGKILL")
    }
  })
})

describe("sizes", () => {
  it("K, M, G", () => {
    expect([formatBytes(640 * 1024), formatBytes(34 * 1024 ** 2), formatBytes(1.5 * 1024 ** 3)]).toEqual(["640K", "34M", "1.5G"])
  })
})
