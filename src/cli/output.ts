/** Text output for humans: tables, status blocks, colours (see src/style.ts for when). */
import { CliOutput } from "effect/cli"
import { escapeText } from "../errors.js"
import type { SessionStatus } from "../session/status.js"
import { formatBytes } from "../system/process-usage.js"
import type { Color, ColorMode, Style } from "../style.js"
import { paint, styleFor } from "../style.js"

/** The parsed `--color` flag; set once by the CLI's root before any handler prints. */
let colorMode: ColorMode = "auto"
export const setColorMode = (mode: ColorMode) => void (colorMode = mode)

export const stdoutStyle = (): Style => styleFor(process.stdout.isTTY === true, process.env, colorMode)
export const stderrStyle = (): Style => styleFor(process.stderr.isTTY === true, process.env, colorMode)

/**
 * Terminal cells, not UTF-16 units: CJK and emoji take two, escape codes none (effect's own measure).
 * Printable ASCII, nearly every cell, is one cell per character: measured without segmenting graphemes.
 */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/u
const width = (text: string) => (PRINTABLE_ASCII.test(text) ? text.length : CliOutput.displayWidth(text))
const padTo = (text: string, own: number, cells: number) => text + " ".repeat(Math.max(0, cells - own))
const padEnd = (text: string, cells: number) => padTo(text, width(text), cells)

const stateColor: Record<string, Color> = {
  running: "green",
  defined: "dim",
  exited: "yellow",
  stopped: "yellow",
  unknown: "red",
  invalid: "magenta"
}

export const paintState = (style: Style, state: string) => paint(style, stateColor[state] ?? "yellow", state)

/** Columns padded to the widest cell; colour is applied after padding so escape codes don't skew widths. */
export const table = (
  style: Style,
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  colorize: (col: number, cell: string, padded: string) => string = (_c, _cell, padded) => padded
): string => {
  // Cells may hold what an engine or a host reported (image, project, dates): escaped, like names.
  rows = rows.map((r) => r.map(escapeText))
  // every cell measured once; the column widths in one pass (no spread of a column into Math.max)
  const cellWidths = rows.map((r) => r.map(width))
  const widths = header.map(width)
  for (const ws of cellWidths) ws.forEach((w, i) => void (widths[i] = Math.max(widths[i] ?? 0, w)))
  const line = (cells: ReadonlyArray<string>, own: ReadonlyArray<number>, paintCell: (i: number, c: string, p: string) => string) =>
    cells.map((c, i) => paintCell(i, c, i === cells.length - 1 ? c : padTo(c, own[i]!, widths[i]!))).join("  ").trimEnd()
  return [line(header, header.map(width), (_i, _c, p) => paint(style, "bold", p)), ...rows.map((r, k) => line(r, cellWidths[k]!, colorize))].join("\n")
}

const dash = (v: string | number | null) => (v === null || v === "" ? "-" : String(v))

/** `12.5%`, `-` when not measured. */
export const cpuText = (v: number | null): string => (v === null ? "-" : `${v.toFixed(1)}%`)
/** `34M`, `-` when not measured. */
export const memText = (v: number | null): string => (v === null ? "-" : formatBytes(v))

export const syncWord = (s: SessionStatus): string =>
  s.state === "defined" || s.state === "invalid" ? "-" : !s.in_config ? "no config" : s.in_sync === null ? "-" : s.in_sync ? "yes" : "drift"

/** `withProject`: the PROJECT column of `list --all`. */
export const renderList = (style: Style, rows: ReadonlyArray<SessionStatus>, options: { readonly withProject?: boolean } = {}): string => {
  if (rows.length === 0) return "No sessions found."
  const withProject = options.withProject === true
  // HOST only when a session is remote: a one-machine list looks as before.
  const withHost = rows.some((s) => s.host !== null)
  return table(
    style,
    [...(withProject ? ["PROJECT"] : []), "NAME", ...(withHost ? ["HOST"] : []), "BACKEND", "STATE", "PID", "CPU%", "MEM", "IMAGE", "SOCKET", "OWNED", "IN SYNC"],
    rows.map((s) => [
      ...(withProject ? [s.project ?? "-"] : []),
      escapeText(s.name),
      ...(withHost ? [s.host ?? "local"] : []),
      s.backend === "container" && s.runtime !== null ? `container/${s.runtime}` : s.backend,
      (s.state === "exited" && s.exit_code !== null ? `exited(${s.exit_code})` : s.state) +
      (s.restarts === null || s.restarts === 0 ? "" : `, ${s.restarts} restart${s.restarts === 1 ? "" : "s"}`),
      dash(s.pid),
      cpuText(s.cpu_percent),
      memText(s.memory_bytes),
      dash(s.image),
      s.backend === "tmux" && s.state !== "defined" ? s.socket_name ?? "default" : dash(s.socket_name),
      s.state === "defined" || s.state === "invalid" ? "-" : s.owned ? "yes" : "no",
      syncWord(s)
    ]),
    (col, cell, padded) =>
      col === (withProject ? 3 : 2) + (withHost ? 1 : 0) ? paint(style, stateColor[cell.replace(/[(,].*$/u, "")] ?? "yellow", padded) : padded
  )
}

export const renderStatus = (style: Style, s: SessionStatus): string => {
  const rows: Array<[string, string]> = [["State", paintState(style, s.state)], ["Backend", s.backend]]
  if (s.host !== null) rows.push(["Host", s.host])
  if (s.runtime !== null) rows.push(["Runtime", s.runtime])
  if (s.pid !== null) rows.push(["PID", String(s.pid)])
  // what the engine (on a host: the host) reports is escaped, as names are
  if (s.created_at !== null) rows.push(["Created", escapeText(s.created_at)])
  if (s.window_count > 0) rows.push(["Windows", String(s.window_count)])
  if (s.backend === "tmux" && s.state !== "defined") rows.push(["Socket", s.socket_name ?? "default"])
  if (s.image !== null) rows.push(["Image", escapeText(s.image)])
  if (s.exit_code !== null) rows.push(["Exit code", String(s.exit_code)])
  if (s.restarts !== null) rows.push(["Restarts", String(s.restarts)])
  if (s.last_exit_code !== null && (s.state !== "exited" || s.exit_code !== s.last_exit_code)) rows.push(["Last exit code", String(s.last_exit_code)])
  if (s.ready !== null) rows.push(["Ready", s.ready ? "yes" : "not ready"])
  if (s.cpu_percent !== null) rows.push(["CPU", cpuText(s.cpu_percent)])
  if (s.memory_bytes !== null) rows.push(["Memory", `${memText(s.memory_bytes)} (RSS)`])
  if (s.state !== "defined" && s.state !== "invalid") {
    rows.push(["Owned", s.owned ? "yes (created by kstlib for this project)" : s.project !== null ? `no (project '${escapeText(s.project)}')` : "no"])
  }
  for (const p of s.panes ?? []) {
    const how = p.state === "running" ? `running${p.pid === null ? "" : `, pid ${p.pid}`}` : `exited${p.exit_code === null ? "" : ` (${p.exit_code})`}`
    const restarts = p.restarts === undefined || p.restarts === null || p.restarts === 0 ? "" : `, ${p.restarts} restart${p.restarts === 1 ? "" : "s"}`
    rows.push([`Pane ${escapeText(p.window)}.${p.pane}`, `${how}${restarts}`])
  }
  for (const i of s.issues) rows.push(["Rejected", `${i.field === "" ? "" : `${i.field}: `}${i.reason}`])
  rows.push(["In config", s.in_config ? `yes${s.in_sync === false ? " (drifted: run kstlib ops plan)" : ""}` : "no"])
  const w = Math.max(...rows.map(([k]) => width(k)))
  return [paint(style, "bold", `Session: ${escapeText(s.name)}`), ...rows.map(([k, v]) => `  ${padEnd(k, w)}  ${v}`)].join("\n")
}

/** The original's JSON keys first, in its order, then ours. */
export const statusJson = (s: SessionStatus) => ({
  name: s.name,
  state: s.state,
  backend: s.backend,
  pid: s.pid,
  created_at: s.created_at,
  window_count: s.window_count,
  socket_name: s.socket_name,
  image: s.image,
  exit_code: s.exit_code,
  runtime: s.runtime,
  host: s.host,
  owned: s.owned,
  project: s.project,
  in_sync: s.in_sync,
  in_config: s.in_config,
  restarts: s.restarts,
  last_exit_code: s.last_exit_code,
  ready: s.ready,
  cpu_percent: s.cpu_percent,
  memory_bytes: s.memory_bytes,
  ...(s.panes === undefined ? {} : { panes: s.panes }),
  ...(s.issues.length === 0 ? {} : { issues: s.issues })
})
