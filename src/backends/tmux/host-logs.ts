/**
 * A tmux session's log files on a host (its pane's writer writes them there), read in ONE ssh call,
 * pure: a fixed script, the files as data (an absolute path, or `PROJECT/NAME` in the host's
 * default place, as the writer's logWord), and the parse of its output.
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
