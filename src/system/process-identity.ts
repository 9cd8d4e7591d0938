/**
 * Which process is which, on Linux, beyond a pid that the kernel recycles: its start time and pid
 * namespace. Used to tell whether the owner of a lock or of a private file is still running.
 */
import * as fs from "node:fs"

const readOr = <A>(f: () => A, fallback: A): A => {
  try {
    return f()
  } catch {
    return fallback
  }
}

/** Start time of a live process (Linux: /proc/PID/stat field 22, clock ticks since boot), null when unknown. */
export const processStartTime = (pid: number): string | null =>
  readOr(() => {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // Field 2 (comm) may contain spaces and parentheses: count from the last ')', which ends it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const start = fields[22 - 3]
    return start !== undefined && /^\d+$/u.test(start) ? start : null
  }, null)

export const bootId = (): string | null => readOr(() => fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || null, null)

/** This process's pid namespace (`pid:[inode]`): pids of another namespace cannot be checked from here. */
export const pidNamespace = (): string | null => readOr(() => fs.readlinkSync("/proc/self/ns/pid"), null)

/** Does a process with this pid exist (EPERM: it does, another user's)? */
export const pidExists = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Is the process that had this pid and start time still running (not a pid reused since)? A start
 * time that cannot be read now counts as the same process (the safe side: it is kept).
 */
export const sameProcessAlive = (pid: number, start: string | null): boolean => {
  if (!pidExists(pid)) return false
  if (start === null) return true
  const now = processStartTime(pid)
  return now === null || now === start
}
