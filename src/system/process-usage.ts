/**
 * CPU and resident memory of process trees on this machine, from /proc (Linux): what `list`,
 * `status` and `top` show for a tmux session, and what `max_memory` is checked against. One scan of
 * /proc reads every process's `stat` once (parent, terminal session, CPU ticks, resident pages); a
 * session's tree is the pane's process, everything below it, and whatever stayed in its terminal
 * session after being re-parented (`nohup cmd &`). CPU% is recent, as `top` and pm2 show it: the
 * ticks a tree used between two scans over the time between them (100 = one core busy). Processes
 * that end during a scan are skipped. Elsewhere (no /proc) nothing is read.
 */
import * as fs from "node:fs"

/** /proc's clock tick (USER_HZ, 100 on every Linux architecture's userspace ABI) and page size. */
const TICKS_PER_SECOND = 100
const PAGE = 4096

/** One process as /proc/PID/stat tells it. */
export interface ProcStat {
  readonly pid: number
  readonly state: string
  readonly ppid: number
  /** Its terminal session's id (the pid of the session leader: a tmux pane's process). */
  readonly session: number
  /**
   * CPU ticks: its own user + system time plus that of its children it waited for (a shell loop's
   * short-lived commands count when they end), so a tree's sum only grows.
   */
  readonly ticks: number
  /** Ticks after boot when it started: with the pid, who it is (a pid is reused, a start time is not). */
  readonly started: number
  readonly rss_bytes: number
}

/**
 * /proc/PID/stat's text → its fields; null when unreadable. The command (field 2) is in parentheses
 * and may hold spaces and parentheses: the fields are counted from its LAST `)`.
 */
export const parseProcStat = (pid: number, text: string): ProcStat | null => {
  const close = text.lastIndexOf(")")
  if (close === -1) return null
  // f[0] is field 3 (state): field N is f[N - 3]
  const f = text.slice(close + 2).trim().split(" ")
  if (f.length < 22) return null
  const n = (field: number) => Number(f[field - 3])
  const values = [n(4), n(6), n(14), n(15), n(16), n(17), n(22), n(24)]
  if (!values.every(Number.isFinite)) return null
  return {
    pid,
    state: f[0]!,
    ppid: n(4),
    session: n(6),
    ticks: n(14) + n(15) + Math.max(0, n(16)) + Math.max(0, n(17)),
    started: n(22),
    rss_bytes: Math.max(0, n(24)) * PAGE
  }
}

/** Every process at one moment. */
export interface ProcSnapshot {
  /** Milliseconds (monotonic) when the scan was made. */
  readonly at: number
  readonly processes: ReadonlyMap<number, ProcStat>
}

const readOr = (file: string): string | null => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return null
  }
}

/** One scan of /proc; null without /proc. Zombies are left out: they have ended. */
export const procSnapshot = (): ProcSnapshot | null => {
  let entries: ReadonlyArray<string>
  try {
    entries = fs.readdirSync("/proc")
  } catch {
    return null
  }
  const at = performance.now()
  const processes = new Map<number, ProcStat>()
  for (const e of entries) {
    if (!/^\d+$/u.test(e)) continue
    const text = readOr(`/proc/${e}/stat`)
    const p = text === null ? null : parseProcStat(Number(e), text)
    if (p !== null && p.state !== "Z") processes.set(p.pid, p)
  }
  return { at, processes }
}

/**
 * The processes of `root`'s tree: root, its descendants, and, when root is in a terminal session
 * whose leader lives (a pane's command under kstlib's supervisor), the leader, its descendants and
 * every other process of that session. Empty when root is gone.
 */
export const treeOf = (snapshot: ProcSnapshot, root: number): ReadonlySet<number> => {
  const out = new Set<number>()
  const self = snapshot.processes.get(root)
  if (self === undefined) return out
  const children = new Map<number, Array<number>>()
  for (const p of snapshot.processes.values()) {
    const list = children.get(p.ppid)
    if (list === undefined) children.set(p.ppid, [p.pid])
    else list.push(p.pid)
  }
  const leader = self.session > 0 && snapshot.processes.has(self.session) ? self.session : root
  const stack = [leader, root]
  while (stack.length > 0) {
    const pid = stack.pop()!
    if (out.has(pid)) continue
    out.add(pid)
    stack.push(...(children.get(pid) ?? []))
  }
  if (leader !== root || self.session === root) {
    for (const p of snapshot.processes.values()) if (p.session === leader && !out.has(p.pid)) out.add(p.pid)
  }
  return out
}

export interface TreeUsage {
  /** Percent of one core over the time between the two scans (200: two cores busy). */
  readonly cpu_percent: number
  readonly memory_bytes: number
}

/**
 * Usage of each root's tree between two scans: the tree as it is in `after` (its RSS then), and the
 * ticks each of its processes used since `before` (all of them for one that started in between:
 * same pid, different start time, or new). A root absent from `after` has no entry.
 */
export const usageBetween = (before: ProcSnapshot, after: ProcSnapshot, roots: ReadonlyArray<number>): ReadonlyMap<number, TreeUsage> => {
  const out = new Map<number, TreeUsage>()
  const seconds = Math.max(0.001, (after.at - before.at) / 1000)
  for (const root of roots) {
    if (!after.processes.has(root)) continue
    let ticks = 0
    let rss = 0
    for (const pid of treeOf(after, root)) {
      const now = after.processes.get(pid)!
      const then = before.processes.get(pid)
      ticks += then !== undefined && then.started === now.started ? Math.max(0, now.ticks - then.ticks) : now.ticks
      rss += now.rss_bytes
    }
    out.set(root, { cpu_percent: Math.round((ticks / TICKS_PER_SECOND / seconds) * 1000) / 10, memory_bytes: rss })
  }
  return out
}

/** Bytes resident in each root's tree (absent: the root is gone, or no /proc): one scan for all roots. */
export const treeRss = (roots: ReadonlyArray<number>): ReadonlyMap<number, number> => {
  const out = new Map<number, number>()
  if (roots.length === 0) return out
  const snapshot = procSnapshot()
  if (snapshot === null) return out
  for (const root of roots) {
    if (!snapshot.processes.has(root)) continue
    let total = 0
    for (const pid of treeOf(snapshot, root)) total += snapshot.processes.get(pid)!.rss_bytes
    out.set(root, total)
  }
  return out
}

/** `512M`, `1.5G`, `640K`: a size for a line. */
export const formatBytes = (n: number): string =>
  n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)}G` : n >= 1024 ** 2 ? `${Math.round(n / 1024 ** 2)}M` : `${Math.round(n / 1024)}K`
