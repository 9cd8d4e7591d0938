/**
 * Resident memory of a process tree on this machine, from /proc (Linux): for `max_memory`. One scan
 * of /proc per reading finds every process's parent; the tree's RSS is the sum of its processes'
 * resident pages (`statm`, field 2). Processes that end during the scan are skipped. Elsewhere (no
 * /proc) nothing is read and nothing is enforced.
 */
import * as fs from "node:fs"

const PAGE = 4096

const readOr = (file: string): string | null => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return null
  }
}

/** The parent of each process: /proc/PID/stat field 4 (after the command in parentheses, which may hold spaces). */
const parents = (): ReadonlyMap<number, number> => {
  const out = new Map<number, number>()
  let entries: Array<string>
  try {
    entries = fs.readdirSync("/proc")
  } catch {
    return out
  }
  for (const e of entries) {
    if (!/^\d+$/u.test(e)) continue
    const stat = readOr(`/proc/${e}/stat`)
    if (stat === null) continue
    const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    out.set(Number(e), Number(after[1]))
  }
  return out
}

const rssOf = (pid: number): number => {
  const statm = readOr(`/proc/${pid}/statm`)
  return statm === null ? 0 : Number(statm.split(" ")[1] ?? 0) * PAGE
}

/** Bytes resident in each root's process tree (absent: the root is gone, or no /proc). One /proc scan for all roots. */
export const treeRss = (roots: ReadonlyArray<number>): ReadonlyMap<number, number> => {
  const out = new Map<number, number>()
  if (roots.length === 0) return out
  const parentOf = parents()
  const children = new Map<number, Array<number>>()
  for (const [pid, ppid] of parentOf) children.set(ppid, [...(children.get(ppid) ?? []), pid])
  for (const root of roots) {
    if (!parentOf.has(root)) continue
    let total = 0
    const stack = [root]
    const seen = new Set<number>()
    while (stack.length > 0) {
      const pid = stack.pop()!
      if (seen.has(pid)) continue
      seen.add(pid)
      total += rssOf(pid)
      stack.push(...(children.get(pid) ?? []))
    }
    out.set(root, total)
  }
  return out
}

/** `512M`, `1.5G`: a size for a line. */
export const formatBytes = (n: number): string =>
  n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)}G` : n >= 1024 ** 2 ? `${Math.round(n / 1024 ** 2)}M` : `${Math.round(n / 1024)}K`
