/** Parsing tmux output, pure. */
import { parseFingerprint } from "../../model.js"
import type { Fingerprint, ObservedSession } from "../../model.js"
import { PANE_FIELDS, SEP } from "./argv.js"

const int = (s: string | undefined): number | null => (s !== undefined && /^-?\d+$/.test(s) ? Number(s) : null)

/** The stored fingerprint: base64 of its JSON (what kstlib writes), or raw JSON; anything else is null. */
export const decodeApplied = (value: string): Fingerprint | null => {
  if (value === "") return null
  if (value.trimStart().startsWith("{")) return parseFingerprint(value)
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return null
  return parseFingerprint(Buffer.from(value, "base64").toString("utf8"))
}

interface PaneRow {
  readonly session: string
  readonly window: number
  readonly pane: number
  readonly observed: ObservedSession
}

const parsePaneLine = (line: string, socket: string | null): PaneRow | null => {
  const f = line.split(SEP)
  // A foreign session could put a separator or newline in an option value: such a line is skipped.
  if (f.length !== PANE_FIELDS.length) return null
  const [name, win, pane, pid, created, windows, dead, deadStatus, deadSignal, managed, spec, applied] = f as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string
  ]
  if (name === "") return null
  const isDead = dead === "1"
  const status = int(deadStatus)
  const signal = int(deadSignal)
  const createdSecs = int(created)
  return {
    session: name,
    window: int(win) ?? 0,
    pane: int(pane) ?? 0,
    observed: {
      name,
      backend: "tmux",
      state: isDead ? "exited" : "running",
      pid: int(pid),
      created_at: createdSecs === null ? null : new Date(createdSecs * 1000).toISOString(),
      image: null,
      socket_name: socket,
      runtime: null,
      // Killed by a signal: the shell convention 128+N.
      exit_code: isDead ? (status ?? (signal !== null ? 128 + signal : null)) : null,
      window_count: int(windows) ?? 0,
      owned: managed !== "" && managed !== "0",
      spec_hash: spec === "" ? null : spec,
      applied: decodeApplied(applied)
    }
  }
}

/**
 * `list-panes -a` output → one ObservedSession per session, described by its first pane (lowest
 * window index, then pane index), in tmux's order.
 */
export const parsePanes = (stdout: string, socket: string | null): ReadonlyArray<ObservedSession> => {
  const first = new Map<string, PaneRow>()
  for (const line of stdout.split("\n")) {
    const row = parsePaneLine(line, socket)
    if (row === null) continue
    const prev = first.get(row.session)
    if (prev === undefined || row.window < prev.window || (row.window === prev.window && row.pane < prev.pane)) {
      first.set(row.session, row)
    }
  }
  return [...first.values()].map((r) => r.observed)
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

/** What the process printed before dying: the capture without tmux's own "Pane is dead" line. */
export const deathOutput = (stdout: string, n: number): string => {
  const lines = captureLines(stdout)
  if (lines.length > 0 && DEAD_LINE.test(stripAnsi(lines[lines.length - 1]!))) lines.pop()
  trimTrailingBlank(lines)
  return lines.slice(Math.max(0, lines.length - n)).join("\n")
}

export interface PaneState {
  readonly id: string
  readonly window: number
  readonly pane: number
  readonly dead: boolean
}

/** `list-panes -s` output of one session (PANE_STATE_FORMAT), first pane first. */
export const parsePaneStates = (stdout: string): ReadonlyArray<PaneState> =>
  stdout
    .split("\n")
    .map((l) => l.split(SEP))
    .filter((f) => f.length === 4 && f[0] !== "")
    .map(([id, w, p, d]) => ({ id: id!, window: int(w) ?? 0, pane: int(p) ?? 0, dead: d === "1" }))
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
