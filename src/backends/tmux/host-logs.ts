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

/** The host's default log directory (as the writer's logWord), and `$a` (a path, or PROJECT/NAME there) as the file `f`. */
const DEFAULT_DIR = `d="\${XDG_STATE_HOME:-$HOME/.local/state}/kstlib/logs"`
const RESOLVE = `  case $a in /*) f=$a ;; *) f="$d/$a.log" ;; esac`

/**
 * `$1`: how many lines (empty: all); then the files. Each file's rotated copies, oldest first
 * (the writer's and `logs`' limit of 100), then the file: with a count, the last lines of each
 * (the last N of all of them are among those).
 */
export const HOST_LOGS_SCRIPT = [
  `n=$1; shift; ${DEFAULT_DIR}`,
  `out() { if [ -n "$n" ]; then tail -n "$n" -- "$1"; else cat -- "$1"; fi; }`,
  `for a; do`,
    RESOLVE,
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
  DEFAULT_DIR,
  `rmv() { [ -f "$1" ] && rm -f -- "$1" && printf '%s\\n' "$1"; }`,
  `for a; do`,
    RESOLVE,
  `  rmv "$f"; i=1; while [ "$i" -le 100 ]; do rmv "$f.$i"; i=$((i + 1)); done`,
  `done`,
  `true`
].join("\n")

export const hostPurgeArgv = (files: ReadonlyArray<HostLogFile>): ReadonlyArray<string> => ["sh", "-c", HOST_PURGE_SCRIPT, "sh", ...files.map((f) => f.arg)]

export const parseHostPurge = (stdout: string): ReadonlyArray<string> => stdout.split("\n").filter((l) => l !== "")

/**
 * `logs -f`: the files' new lines as they are written (`tail -F`: by name, so across a rotation),
 * after one `\x1e ARG \t PATH` line per file (what tail's `==> PATH <==` headers map back to). It
 * ends when its stdin (the ssh channel) does: the ssh client was stopped.
 */
export const HOST_FOLLOW_SCRIPT = [
  `${DEFAULT_DIR}; n=$#`,
  `for a; do`,
    RESOLVE,
  `  printf '${SECTION}%s\\t%s\\n' "$a" "$f"; set -- "$@" "$f"`,
  `done`,
  `shift "$n"`,
  `tail -n 0 -F -- "$@" 2>/dev/null & t=$!`,
  `read -r _; kill "$t" 2>/dev/null`,
  `true`
].join("\n")

export const hostFollowArgv = (files: ReadonlyArray<HostLogFile>): ReadonlyArray<string> => ["sh", "-c", HOST_FOLLOW_SCRIPT, "sh", ...files.map((f) => f.arg)]

/** What the follow parser knows: each file's path on the host → its label, and the file now written. */
export interface FollowState {
  readonly labels: ReadonlyMap<string, string | null>
  readonly current: string | null
}

export const followStart = (files: ReadonlyArray<HostLogFile>): FollowState => ({
  labels: new Map(),
  current: files.length === 1 ? files[0]!.label : null
})

/** One line of the follow script's output: a mapping, a tail header, or a log line (labelled `LABEL | text`). */
export const followLine = (files: ReadonlyArray<HostLogFile>) => (state: FollowState, line: string): readonly [FollowState, ReadonlyArray<LogLine>] => {
  if (line.startsWith(SECTION)) {
    const [arg, path] = line.slice(1).split("\t")
    const file = files.find((f) => f.arg === arg)
    return file === undefined || path === undefined ? [state, []] : [{ ...state, labels: new Map([...state.labels, [path, file.label]]) }, []]
  }
  const header = /^==> (.*) <==$/u.exec(line)
  if (header !== null && state.labels.has(header[1]!)) return [{ ...state, current: state.labels.get(header[1]!) ?? null }, []]
  // tail's blank line before a header; the writer stamps every line it writes, so none is blank
  if (line === "") return [state, []]
  const parsed = parseLines(line)[0]!
  return [state, [state.current === null ? parsed : { ...parsed, text: `${state.current} | ${parsed.text}` }]]
}
