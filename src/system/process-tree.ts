/**
 * The processes of one terminal session, on Linux, from /proc: what a stop signals so that nothing
 * of a tmux pane is left. A pane's process leads its terminal session (tmux's forkpty calls
 * setsid); every process it starts stays in that session, even re-parented to init after its
 * parent ended (`nohup cmd &`), unless it calls setsid itself. A pid is not reused while it
 * is the id of a live session, so the session id names these processes only.
 */
import * as fs from "node:fs"

/** Fields of /proc/PID/stat after `comm` (which may hold spaces and parentheses). */
const statFields = (pid: number): ReadonlyArray<string> | null => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  } catch {
    return null
  }
}

/** Alive: it exists and is not a zombie (a zombie has ended; only its parent's wait is missing). */
export const isAlive = (pid: number): boolean => {
  const f = statFields(pid)
  return f !== null && f[0] !== "Z"
}

/** The live processes of the terminal session `sid` (its leader included while it lives). */
export const sessionMembers = (sid: number): ReadonlyArray<number> => {
  let entries: ReadonlyArray<string>
  try {
    entries = fs.readdirSync("/proc")
  } catch {
    return []
  }
  const out: Array<number> = []
  for (const e of entries) {
    if (!/^\d+$/u.test(e)) continue
    const f = statFields(Number(e))
    // fields from `state`: state(3) ppid(4) pgrp(5) session(6)
    if (f !== null && f[0] !== "Z" && f[3] === String(sid)) out.push(Number(e))
  }
  return out
}

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = { HUP: 1, INT: 2, QUIT: 3, KILL: 9, USR1: 10, USR2: 12, TERM: 15 }

/** Does the process ignore this signal (SIG_IGN, /proc/PID/status SigIgn)? Unknown: no. */
export const ignoresSignal = (pid: number, signal: string): boolean => {
  const n = SIGNAL_NUMBERS[signal]
  if (n === undefined) return false
  try {
    const m = /^SigIgn:\s*([0-9a-f]+)$/mu.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
    return m !== null && ((BigInt(`0x${m[1]}`) >> BigInt(n - 1)) & 1n) === 1n
  } catch {
    return false
  }
}

/**
 * Sends `signal` to a process group and to every live process of a session; gone already is fine.
 * `sparingLeader`: every process but the session's leader itself (and not its group).
 */
export const signalSession = (sid: number, signal: NodeJS.Signals, sparingLeader = false): void => {
  for (const target of sparingLeader ? sessionMembers(sid).filter((p) => p !== sid) : [-sid, ...sessionMembers(sid)]) {
    try {
      process.kill(target, signal)
    } catch { /* gone, or never was */ }
  }
}
