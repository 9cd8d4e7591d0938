/**
 * A tmux session's log files on a host (its pane's writer writes them there), read (`logs`) or
 * removed (`down --purge-logs`) in ONE ssh call, pure: fixed scripts, the files as data (an
 * absolute path, or `PROJECT/NAME` in the host's default place, as the writer's logWord), and the
 * parse of their output.
 */
import type { LogLine } from "../../logs/format.js"
import { parseLines } from "../../logs/format.js"
import type { HostLogFile } from "../../logs/target.js"

/** Each file's section starts with a line `\x1e ARG` (the writer starts every line with a time, never this). */
const SECTION = "\u001e"

/**
 * `$1`: how many lines (empty: all); then the files. Each file's rotated copies, oldest first
 * (the writer's and `logs`' limit of 100), then the file: with a count, the last lines of each
 * (the last N of all of them are among those).
 */
export const HOST_LOGS_SCRIPT = [
  `n=$1; shift; d="\${XDG_STATE_HOME:-$HOME/.local/state}/kstlib/logs"`,
  `out() { if [ -n "$n" ]; then tail -n "$n" -- "$1"; else cat -- "$1"; fi; }`,
  `for a; do`,
  `  case $a in /*) f=$a ;; *) f="$d/$a.log" ;; esac`,
  `  printf '${SECTION}%s\\n' "$a"`,
  `  i=100; while [ "$i" -ge 1 ]; do [ -f "$f.$i" ] && out "$f.$i"; i=$((i - 1)); done`,
  `  [ -f "$f" ] && out "$f"`,
  `done`,
  `true`
].join("\n")

export const hostLogsArgv = (files: ReadonlyArray<HostLogFile>, lines: number | null): ReadonlyArray<string> => [
  "sh",
  "-c",
  HOST_LOGS_SCRIPT,
  "sh",
  lines === null ? "" : String(Math.max(0, Math.floor(lines))),
  ...files.map((f) => f.arg)
]

/** The script's output as each file's lines, in the order asked; null: none of the files has a line. */
export const parseHostLogs = (stdout: string, files: ReadonlyArray<HostLogFile>): ReadonlyArray<ReadonlyArray<LogLine>> | null => {
  const sections = new Map<string, Array<string>>()
  let current: Array<string> | null = null
  for (const line of stdout.split("\n")) {
    if (line.startsWith(SECTION)) {
      current = []
      sections.set(line.slice(1), current)
    } else if (current !== null) current.push(line)
  }
  const out = files.map((f) => parseLines((sections.get(f.arg) ?? []).join("\n")))
  return out.every((l) => l.length === 0) ? null : out
}

/** Each file and its rotated copies removed; prints each path removed, one per line. */
export const HOST_PURGE_SCRIPT = [
  `d="\${XDG_STATE_HOME:-$HOME/.local/state}/kstlib/logs"`,
  `rmv() { [ -f "$1" ] && rm -f -- "$1" && printf '%s\\n' "$1"; }`,
  `for a; do`,
  `  case $a in /*) f=$a ;; *) f="$d/$a.log" ;; esac`,
  `  rmv "$f"; i=1; while [ "$i" -le 100 ]; do rmv "$f.$i"; i=$((i + 1)); done`,
  `done`,
  `true`
].join("\n")

export const hostPurgeArgv = (files: ReadonlyArray<HostLogFile>): ReadonlyArray<string> => ["sh", "-c", HOST_PURGE_SCRIPT, "sh", ...files.map((f) => f.arg)]

export const parseHostPurge = (stdout: string): ReadonlyArray<string> => stdout.split("\n").filter((l) => l !== "")
