/**
 * `ops top`, the view: pure. State + key → state (and what the loop should do: restart a session,
 * read its logs, quit); state → the lines of a frame for a terminal of a given size. The terminal
 * loop (top.ts) only reads keys, fetches rows and draws what this returns.
 */
import { escapeText } from "../errors.js"
import type { SessionStatus } from "../session/status.js"
import type { Style } from "../style.js"
import { paint } from "../style.js"
import { cpuText, memText } from "./output.js"

export const SORTS = ["name", "cpu", "mem", "restarts", "uptime", "state"] as const
export type SortKey = (typeof SORTS)[number]

export type Mode =
  | { readonly kind: "list" }
  | { readonly kind: "filter"; readonly draft: string }
  | { readonly kind: "confirm"; readonly name: string }
  | { readonly kind: "logs"; readonly name: string; readonly lines: ReadonlyArray<string> | null }

export interface TopState {
  readonly rows: ReadonlyArray<SessionStatus>
  /** The selected session, by name (stays on it when rows move). */
  readonly selected: string | null
  readonly sort: SortKey
  readonly filter: string
  readonly mode: Mode
  /** One line under the table: what a restart did, an error. */
  readonly message: string | null
  /** When the rows were read (ms): uptimes count from it. */
  readonly now: number
}

export const initialState = (now: number): TopState => ({ rows: [], selected: null, sort: "name", filter: "", mode: { kind: "list" }, message: null, now })

export type Key =
  | { readonly kind: "up" | "down" | "enter" | "escape" | "backspace" | "interrupt" | "pageup" | "pagedown" }
  | { readonly kind: "char"; readonly char: string }

/** What the loop does after a key. */
export type Command = { readonly kind: "quit" } | { readonly kind: "restart"; readonly name: string } | { readonly kind: "logs"; readonly name: string } | null

/** Terminal input → keys: arrows (CSI and SS3 forms), Enter, Escape, Backspace, Ctrl-C, printable characters. */
export const parseKeys = (data: string): ReadonlyArray<Key> => {
  const keys: Array<Key> = []
  let i = 0
  while (i < data.length) {
    const rest = data.slice(i)
    const seq = /^\x1b(?:\[|O)([ABCD])/u.exec(rest) ?? /^\x1b\[([56])~/u.exec(rest)
    if (seq !== null) {
      const k = seq[1]
      if (k === "A") keys.push({ kind: "up" })
      else if (k === "B") keys.push({ kind: "down" })
      else if (k === "5") keys.push({ kind: "pageup" })
      else if (k === "6") keys.push({ kind: "pagedown" })
      i += seq[0].length
      continue
    }
    const c = data[i]!
    i++
    if (c === "\x03") keys.push({ kind: "interrupt" })
    else if (c === "\r" || c === "\n") keys.push({ kind: "enter" })
    else if (c === "\x1b") keys.push({ kind: "escape" })
    else if (c === "\x7f" || c === "\b") keys.push({ kind: "backspace" })
    else if (c >= " ") keys.push({ kind: "char", char: c })
  }
  return keys
}

const uptimeSeconds = (s: SessionStatus, now: number): number | null => {
  if (s.state !== "running" || s.created_at === null) return null
  const t = Date.parse(s.created_at)
  return Number.isNaN(t) ? null : Math.max(0, Math.floor((now - t) / 1000))
}

/** `45s`, `12m`, `3h05m`, `2d04h`. */
export const formatUptime = (seconds: number | null): string => {
  if (seconds === null) return "-"
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")}m`
  return `${Math.floor(seconds / 86400)}d${String(Math.floor((seconds % 86400) / 3600)).padStart(2, "0")}h`
}

/** Bigger first for numbers (the busiest on top, as in top); names and states in order. */
const compare = (key: SortKey, now: number) => (a: SessionStatus, b: SessionStatus): number => {
  const num = (x: number | null, y: number | null) => (y ?? -1) - (x ?? -1)
  switch (key) {
    case "cpu":
      return num(a.cpu_percent, b.cpu_percent)
    case "mem":
      return num(a.memory_bytes, b.memory_bytes)
    case "restarts":
      return num(a.restarts, b.restarts)
    case "uptime":
      return num(uptimeSeconds(a, now), uptimeSeconds(b, now))
    case "state":
      return a.state.localeCompare(b.state)
    case "name":
      return 0
  }
}

/** The rows shown: filtered (a substring of the name, any case), sorted (ties by name). */
export const visibleRows = (s: TopState): ReadonlyArray<SessionStatus> => {
  const f = s.filter.toLowerCase()
  return s.rows
    .filter((r) => f === "" || r.name.toLowerCase().includes(f))
    .slice()
    .sort((a, b) => compare(s.sort, s.now)(a, b) || a.name.localeCompare(b.name) || (a.host ?? "").localeCompare(b.host ?? ""))
}

/** New rows (a refresh): the selection stays on its session, or goes to the first row when it is gone. */
export const withRows = (s: TopState, rows: ReadonlyArray<SessionStatus>, now: number): TopState => {
  const next = { ...s, rows, now }
  const shown = visibleRows(next)
  return { ...next, selected: shown.some((r) => r.name === s.selected) ? s.selected : shown[0]?.name ?? null }
}

const move = (s: TopState, by: number): TopState => {
  const shown = visibleRows(s)
  if (shown.length === 0) return { ...s, selected: null }
  const at = shown.findIndex((r) => r.name === s.selected)
  const to = Math.min(shown.length - 1, Math.max(0, (at === -1 ? 0 : at) + by))
  return { ...s, selected: shown[to]!.name }
}

const reselect = (s: TopState): TopState => withRows(s, s.rows, s.now)

/** One key. */
export const update = (s: TopState, key: Key): { readonly state: TopState; readonly command: Command } => {
  const done = (state: TopState, command: Command = null) => ({ state, command })
  if (key.kind === "interrupt") return done(s, { kind: "quit" })
  const mode = s.mode
  switch (mode.kind) {
    case "filter": {
      if (key.kind === "enter") return done(reselect({ ...s, filter: mode.draft, mode: { kind: "list" } }))
      if (key.kind === "escape") return done({ ...s, mode: { kind: "list" } })
      if (key.kind === "backspace") return done({ ...s, mode: { kind: "filter", draft: [...mode.draft].slice(0, -1).join("") } })
      if (key.kind === "char") return done({ ...s, mode: { kind: "filter", draft: mode.draft + key.char } })
      return done(s)
    }
    case "confirm": {
      if (key.kind === "char" && (key.char === "y" || key.char === "Y")) {
        return done({ ...s, mode: { kind: "list" }, message: `restarting ${mode.name}…` }, { kind: "restart", name: mode.name })
      }
      return done({ ...s, mode: { kind: "list" }, message: "restart cancelled" })
    }
    case "logs": {
      if (key.kind === "char" && key.char === "q") return done(s, { kind: "quit" })
      return done({ ...s, mode: { kind: "list" } })
    }
    case "list": {
      if (key.kind === "up" || (key.kind === "char" && key.char === "k")) return done(move(s, -1))
      if (key.kind === "down" || (key.kind === "char" && key.char === "j")) return done(move(s, 1))
      if (key.kind === "pageup") return done(move(s, -10))
      if (key.kind === "pagedown") return done(move(s, 10))
      if (key.kind === "enter" && s.selected !== null) return done({ ...s, mode: { kind: "logs", name: s.selected, lines: null } }, { kind: "logs", name: s.selected })
      if (key.kind === "escape" && s.filter !== "") return done(reselect({ ...s, filter: "" }))
      if (key.kind !== "char") return done(s)
      switch (key.char) {
        case "q":
          return done(s, { kind: "quit" })
        case "s": {
          const sort = SORTS[(SORTS.indexOf(s.sort) + 1) % SORTS.length]!
          return done(reselect({ ...s, sort, message: `sorted by ${sort}` }))
        }
        case "/":
          return done({ ...s, mode: { kind: "filter", draft: s.filter } })
        case "r":
          return done(s.selected === null ? s : { ...s, mode: { kind: "confirm", name: s.selected }, message: null })
        default:
          return done(s)
      }
    }
  }
}

/** The logs of the session shown (Enter): they arrived. */
export const withLogs = (s: TopState, name: string, lines: ReadonlyArray<string>): TopState =>
  s.mode.kind === "logs" && s.mode.name === name ? { ...s, mode: { ...s.mode, lines } } : s

const HEADER = ["NAME", "BACKEND", "STATE", "PID", "RESTARTS", "LAST-EXIT", "READY", "CPU%", "MEM", "UPTIME"] as const

const cellsOf = (r: SessionStatus, now: number, withHost: boolean): ReadonlyArray<string> => [
  escapeText(r.name),
  ...(withHost ? [escapeText(r.host ?? "local")] : []),
  r.backend === "container" && r.runtime !== null ? r.runtime : r.backend,
  r.state === "exited" && r.exit_code !== null ? `exited(${r.exit_code})` : r.state,
  r.pid === null ? "-" : String(r.pid),
  r.restarts === null ? "-" : String(r.restarts),
  r.last_exit_code === null ? "-" : String(r.last_exit_code),
  r.ready === null ? "-" : r.ready ? "yes" : "no",
  cpuText(r.cpu_percent),
  memText(r.memory_bytes),
  formatUptime(uptimeSeconds(r, now))
]

const STATE_COLOR = { running: "green", exited: "yellow", stopped: "yellow", unknown: "red", invalid: "magenta", defined: "dim" } as const

/** Cut to `width` cells (names are escaped ASCII-safe text: one cell per character is close enough). */
const clip = (line: string, width: number) => (line.length > width ? `${line.slice(0, Math.max(0, width - 1))}…` : line)

export interface Frame {
  readonly width: number
  /** Lines available; Infinity: all rows (a printed frame). */
  readonly height: number
  readonly style: Style
  /** The header line's context: project, interval. */
  readonly title: string
  /** Interactive: a selection bar and the key help. */
  readonly interactive: boolean
}

/** The frame's lines: title, table (selected row marked), then the mode's line (filter prompt, confirm, message, key help). */
export const render = (s: TopState, frame: Frame): ReadonlyArray<string> => {
  const { style, width } = frame
  if (s.mode.kind === "logs") {
    const lines = s.mode.lines
    const body = lines === null ? ["(reading…)"] : lines.length === 0 ? ["(no output)"] : lines.map(escapeText)
    const room = Number.isFinite(frame.height) ? Math.max(1, frame.height - 2) : body.length
    return [
      clip(paint(style, "bold", `logs of ${escapeText(s.mode.name)}`) + " (any key: back, q: quit)", width + 20),
      ...body.slice(-room).map((l) => clip(l, width)),
      ""
    ]
  }
  const shown = visibleRows(s)
  const withHost = s.rows.some((r) => r.host !== null)
  const names = withHost ? [HEADER[0], "HOST", ...HEADER.slice(1)] : [...HEADER]
  const sortCol = names.indexOf({ name: "NAME", cpu: "CPU%", mem: "MEM", restarts: "RESTARTS", uptime: "UPTIME", state: "STATE" }[s.sort])
  // the sort column marked `*` when keys can change it
  const header = names.map((h, i) => (i === sortCol && frame.interactive ? `${h}*` : h))
  const cells = shown.map((r) => [...cellsOf(r, s.now, withHost)])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const margin = frame.interactive && !style.color ? "  " : ""
  // wider than the terminal: one space between columns, then the NAME column gives way (names cut with …, down to 6 cells)
  const totalWith = (gap: number) => margin.length + widths.reduce((n, w) => n + w, 0) + gap * (widths.length - 1)
  const gap = totalWith(2) > width ? " " : "  "
  if (totalWith(gap.length) > width) {
    widths[0] = Math.max(6, widths[0]! - (totalWith(gap.length) - width))
    for (const c of cells) if (c[0]!.length > widths[0]!) c[0] = `${c[0]!.slice(0, widths[0]! - 1)}…`
  }
  const stateCol = names.indexOf("STATE")
  // without colour the selection is a `>` in a margin every line has (`margin`, above)
  const line = (c: ReadonlyArray<string>) => margin + c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i]!))).join(gap)
  const headerText = clip(line(header), width)
  const title = clip(`${frame.title} · ${shown.length}/${s.rows.length} sessions · sort: ${s.sort}${s.filter === "" ? "" : ` · filter: ${s.filter}`}`, width)
  const footerLines = frame.interactive ? 2 : 0
  const room = Number.isFinite(frame.height) ? Math.max(1, frame.height - 2 - footerLines) : shown.length
  const at = Math.max(0, shown.findIndex((r) => r.name === s.selected))
  const first = Math.min(Math.max(0, at - room + 1), Math.max(0, shown.length - room))
  const body = shown.slice(first, first + room).map((r, k) => {
    const text = clip(line(cells[first + k]!), width)
    if (frame.interactive && r.name === s.selected) return style.color ? paint(style, "bold", `\x1b[7m${text}\x1b[27m`) : `>${text.slice(1)}`
    // the state's colour on its cell only: padding first, so widths stay
    const start = margin.length + widths.slice(0, stateCol).reduce((n, w) => n + w + gap.length, 0)
    const end = start + widths[stateCol]!
    if (!style.color || text.length < end) return text
    const state = r.state as keyof typeof STATE_COLOR
    return text.slice(0, start) + paint(style, STATE_COLOR[state] ?? "yellow", text.slice(start, end)) + text.slice(end)
  })
  const rows = shown.length === 0 ? [s.rows.length === 0 ? "No sessions." : "No session matches the filter."] : body
  const out = [paint(style, "dim", title), paint(style, "bold", headerText), ...rows]
  if (!frame.interactive) return out
  const m = s.mode
  const prompt = m.kind === "filter"
    ? `/${m.draft}▏ (Enter: apply, Esc: cancel)`
    : m.kind === "confirm"
    ? `restart ${escapeText(m.name)}? (y/n)`
    : s.message ?? ""
  return [...out, clip(prompt, width), clip(paint(style, "dim", "j/k ↑/↓ move · s sort · / filter · Enter logs · r restart · q quit"), width + 20)]
}

/** `--json`: one snapshot, the rows as list/status print them, in the view's order. */
export const snapshotJson = (s: TopState, toJson: (r: SessionStatus) => unknown) => ({
  at: new Date(s.now).toISOString(),
  sort: s.sort,
  sessions: visibleRows(s).map(toJson)
})
