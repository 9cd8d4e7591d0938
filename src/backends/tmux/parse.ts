/** Parsing tmux output, pure. */
import type { Mark, ObservedPane, ObservedTmux, StopSignal } from "../../model.js"
import { Marks, NO_MARK, STOP_SIGNALS } from "../../model.js"
import { decodeFingerprint } from "../../spec/fingerprint.js"
import { GLOBALS_MARKER, PANE_FIELD_NAMES, type PaneField, SEP } from "./argv.js"

const int = (s: string | undefined): number | null => (s !== undefined && /^-?\d+$/.test(s) ? Number(s) : null)

interface PaneRow {
  readonly window: number
  readonly pane: number
  readonly windowName: string
  readonly observed: ObservedTmux
}

const paneOf = (r: PaneRow): ObservedPane => ({
  window: r.windowName,
  window_index: r.window,
  pane: r.pane,
  state: r.observed.state === "running" ? "running" : "exited",
  pid: r.observed.pid,
  exit_code: r.observed.exit_code,
  ...(r.observed.restarts === undefined ? {} : { restarts: r.observed.restarts, last_exit_code: r.observed.last_exit_code ?? null })
})

const byPosition = (a: PaneRow, b: PaneRow) => a.window - b.window || a.pane - b.pane

/** A session of several panes: its first pane's fields, running while any pane runs, and the panes listed. */
const sessionOf = (rows: ReadonlyArray<PaneRow>): ObservedTmux => {
  const sorted = [...rows].sort(byPosition)
  const first = sorted[0]!.observed
  if (sorted.length === 1) return first
  const running = sorted.some((r) => r.observed.state === "running")
  return { ...first, state: running ? "running" : "exited", exit_code: running ? null : first.exit_code, panes: sorted.map(paneOf) }
}

/** The marks of a pane line, each compared with the exact value kstlib writes. */
const markOf = (f: Readonly<Record<PaneField, string>>): Mark => ({
  managed: f.managed === Marks.managedValue.tmux,
  project: f.project === "" ? null : f.project,
  spec_hash: f.spec === "" ? null : f.spec,
  applied: decodeFingerprint(f.applied)
})

/**
 * The command's own pid: the supervisor records it (`@kstlib-pid`; `-` while it waits to restart).
 * Without it (no command, an earlier release's session) the pane's process is the command.
 */
const pidOf = (isDead: boolean, f: Readonly<Record<PaneField, string>>): number | null => {
  if (isDead || f.commandPid === "") return int(f.pid)
  return int(f.commandPid)
}

const parsePaneLine = (line: string, socket: string | null, trustMarks: boolean): PaneRow | null => {
  const values = line.split(SEP)
  // A foreign session could put a separator or newline in an option value: such a line is skipped.
  if (values.length !== PANE_FIELD_NAMES.length) return null
  const f = Object.fromEntries(PANE_FIELD_NAMES.map((k, i) => [k, values[i]!])) as Record<PaneField, string>
  if (f.session === "") return null
  const isDead = f.dead === "1"
  const status = int(f.deadStatus)
  const signal = int(f.deadSignal)
  const createdSecs = int(f.created)
  return {
    window: int(f.window) ?? 0,
    pane: int(f.pane) ?? 0,
    windowName: f.windowName,
    observed: {
      backend: "tmux",
      name: f.session,
      socket_name: socket,
      state: isDead ? "exited" : "running",
      pid: pidOf(isDead, f),
      created_at: createdSecs === null ? null : new Date(createdSecs * 1000).toISOString(),
      // Killed by a signal: the shell convention 128+N. tmux 3.3a may have missed the exit (no
      // status yet): the supervisor wrote the code it exits with first.
      exit_code: isDead ? (status ?? (signal !== null ? 128 + signal : int(f.lastExit))) : null,
      window_count: int(f.windows) ?? 0,
      mark: trustMarks ? markOf(f) : NO_MARK,
      // Restart policy bookkeeping (only sessions with a policy carry it): the hook's counters; the
      // dead pane's own status is the latest exit.
      ...(int(f.restarts) === null ? {} : {
        restarts: int(f.restarts),
        last_exit_code: isDead ? (status ?? (signal !== null ? 128 + signal : int(f.lastExit))) : int(f.lastExit)
      })
    }
  }
}

export interface PanesParsed {
  readonly sessions: ReadonlyArray<ObservedTmux>
  /** kstlib options set globally on this server (`@kstlib-managed`…): its marks cannot be trusted. */
  readonly globalMarks: ReadonlyArray<string>
}

/**
 * Output of listPanesArgs → one ObservedTmux per session, described by its first pane (lowest
 * window index, then pane index), in tmux's order; with several panes, running while any runs, its
 * panes listed. When kstlib's options are set globally, every
 * session's marks are read as absent: an inherited value must never make a session look ours.
 */
export const parsePanes = (stdout: string, socket: string | null): PanesParsed => {
  const lines = stdout.split("\n")
  const marker = lines.indexOf(GLOBALS_MARKER)
  const paneLines = marker === -1 ? lines : lines.slice(0, marker)
  const globalMarks = marker === -1
    ? []
    : lines.slice(marker + 1).map((l) => l.trim()).filter((l) => l.startsWith("@kstlib-")).map((l) => l.split(/\s/u)[0]!)
  const rows = new Map<string, Array<PaneRow>>()
  for (const line of paneLines) {
    const row = parsePaneLine(line, socket, globalMarks.length === 0)
    if (row === null) continue
    const list = rows.get(row.observed.name)
    if (list === undefined) rows.set(row.observed.name, [row])
    else list.push(row)
  }
  return { sessions: [...rows.values()].map(sessionOf), globalMarks: [...new Set(globalMarks)] }
}

/** tmux's answer when nothing listens on the socket (no server, or a stale socket file). */
export const isNoServer = (stderr: string): boolean =>
  // "no current target": a server whose last session just ended (it is exiting): nothing to list.
  /no server running|error connecting to|server exited unexpectedly|no current target/i.test(stderr)

/** tmux's answer for a target that does not exist. */
export const isMissingTarget = (stderr: string): boolean =>
  /can't find (session|window|pane)|no such (session|window|pane)|session not found/i.test(stderr)

const ANSI = /\x1b\[[0-9;:?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]/g

export const stripAnsi = (s: string): string => s.replace(ANSI, "")

const isBlank = (line: string) => stripAnsi(line).trim() === ""

/** The line tmux draws in a remain-on-exit pane (default `remain-on-exit-format`). */
const DEAD_LINE = /^Pane is dead \(/

const trimTrailingBlank = (lines: Array<string>) => {
  while (lines.length > 0 && isBlank(lines[lines.length - 1]!)) lines.pop()
  return lines
}

/**
 * Lines of a capture without the trailing blank lines (the unused part of the screen). tmux draws
 * its "Pane is dead" notice on the LAST row of the screen: the empty rows between the output and
 * it are screen, not output, and are dropped too.
 */
export const captureLines = (stdout: string): Array<string> => {
  const lines = trimTrailingBlank(stdout.split("\n"))
  const last = lines[lines.length - 1]
  if (last !== undefined && DEAD_LINE.test(stripAnsi(last))) {
    lines.pop()
    trimTrailingBlank(lines).push(last)
  }
  return lines
}

/** The last `n` lines of a capture (see captureLines). */
export const lastLines = (stdout: string, n: number): Array<string> => {
  const lines = captureLines(stdout)
  return n <= 0 ? [] : lines.slice(Math.max(0, lines.length - n))
}

export interface PaneState {
  readonly id: string
  readonly window: number
  readonly pane: number
  readonly dead: boolean
  readonly pid: number | null
  /** The command's own pid, as the supervisor recorded it (null: none, or between runs). */
  readonly commandPid: number | null
  /** The session's stop settings as kstlib stored them (null: an earlier release's session). */
  readonly stop: { readonly signal: StopSignal; readonly timeout: number } | null
}

/** `SIGNAL TIMEOUT` (`@kstlib-stop`). */
const stopSettings = (s: string | undefined): PaneState["stop"] => {
  const m = /^([A-Z0-9]+) (\d+(?:\.\d+)?)$/u.exec(s ?? "")
  const signal = STOP_SIGNALS.find((x) => x === m?.[1])
  return m === null || signal === undefined ? null : { signal, timeout: Number(m[2]) }
}

/** `list-panes -s` output of one session (PANE_STATE_FORMAT), first pane first. */
export const parsePaneStates = (stdout: string): ReadonlyArray<PaneState> =>
  stdout
    .split("\n")
    .map((l) => l.split(SEP))
    .filter((f) => f.length === 7 && f[0] !== "")
    .map(([id, w, p, d, pid, cpid, stop]) => ({
      id: id!,
      window: int(w) ?? 0,
      pane: int(p) ?? 0,
      dead: d === "1",
      pid: int(pid),
      commandPid: int(cpid),
      stop: stopSettings(stop)
    }))
    .sort((a, b) => a.window - b.window || a.pane - b.pane)

export interface FollowPoll {
  /** Lines known to be complete (a partial line under the cursor is held back while the process lives). */
  readonly complete: ReadonlyArray<string>
  readonly dead: boolean
}

/** Output of `display-message` + `capture-pane` (followPollArgs). */
export const parseFollowPoll = (stdout: string): FollowPoll => {
  const nl = stdout.indexOf("\n")
  const head = nl === -1 ? stdout : stdout.slice(0, nl)
  const body = nl === -1 ? "" : stdout.slice(nl + 1)
  const [cx, dead] = head.split(SEP)
  const isDead = dead === "1"
  const lines = captureLines(body)
  // The cursor sits after text on the last line: that line is still being written.
  if (!isDead && (int(cx) ?? 0) > 0 && lines.length > 0) lines.pop()
  return { complete: lines, dead: isDead }
}

/**
 * Lines of `next` that were not in `prev`. Both are whole-history captures, so `next` is `prev`
 * with some lines dropped at the top (history limit) and new lines at the bottom: find the smallest
 * drop `d` for which prev[d..] is a prefix of next. Limitation: once the history is full, a run
 * of identical lines can hide new identical lines (a zero drop matches).
 */
export const newLines = (prev: ReadonlyArray<string>, next: ReadonlyArray<string>): ReadonlyArray<string> => {
  for (let d = 0; d <= prev.length; d++) {
    const keep = prev.length - d
    if (keep > next.length) continue
    let same = true
    for (let i = 0; i < keep; i++) {
      if (prev[d + i] !== next[i]) {
        same = false
        break
      }
    }
    if (same) return next.slice(keep)
  }
  return next
}

/**
 * `$TMUX` is `socket-path,server-pid,session-index`; the path names the server we are inside.
 * (A path with a comma is cut short; tmux socket paths have none in practice.)
 */
export const tmuxEnvSocketPath = (tmuxEnv: string | undefined): string | null => {
  if (tmuxEnv === undefined || tmuxEnv === "") return null
  const i = tmuxEnv.lastIndexOf(",", tmuxEnv.lastIndexOf(",") - 1)
  return i <= 0 ? tmuxEnv : tmuxEnv.slice(0, i)
}
