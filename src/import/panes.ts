/**
 * tmuxp and tmuxinator describe a tmux session as windows of panes, each pane a shell into which
 * they TYPE commands. kstlib runs a pane's command instead of typing it, so a pane with commands
 * becomes one shell line: the commands joined with `;` (each typed line ran whatever the previous
 * one did), then `exec "$SHELL"`, so the pane stays the interactive shell it was. A pane without
 * commands is a plain shell; a pane with its own program (`shell:`) runs that program.
 */
import { validateEnvEntry } from "../config/rules.js"
import type { ImportOptions, Report, Session } from "./report.js"
import { at, isRecord, kindOf, scalarText } from "./report.js"
import { Names, rebase } from "./values.js"
import { commandTextProblem, fromShellLine, literal } from "./words.js"

/** What the shell does to a typed line's comment: it is dropped (quotes and backslashes respected). */
export const withoutComment = (line: string): string => {
  let quote: string | null = null
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!
    if (quote !== null) {
      if (ch === quote) quote = null
      else if (ch === "\\" && quote === "\"") i++
    } else if (ch === "'" || ch === "\"") quote = ch
    else if (ch === "\\") i++
    else if (ch === "#" && (i === 0 || /\s/u.test(line[i - 1]!))) return line.slice(0, i).trimEnd()
  }
  return line
}

/** Typed lines as one: `;` between them, none after a line that already ends with `&`, `;` or `&&`/`||`/`|`. */
export const joinTyped = (lines: ReadonlyArray<string>): string =>
  lines.reduce((acc, line, i) => {
    if (i === 0) return line
    const open = /(?:&&|\|\||\||&|(?<!\\);)\s*$/u.test(acc)
    return `${acc}${open ? " " : "; "}${line}`
  }, "")

export const KEEP_SHELL = `exec "$\${SHELL:-/bin/sh}"`

export interface PaneIn {
  /** Shell lines typed into the pane, `before` ones first. */
  readonly lines: ReadonlyArray<string>
  /** Where the report names this pane. */
  readonly where: string
  /** A program run instead of the shell (tmuxp's pane `shell:`), a tmux shell-command line. */
  readonly program?: string | undefined
  /** As the source wrote it, resolved against its parent (session, window), source-relative. */
  readonly dir?: string | undefined
  readonly env?: Record<string, unknown> | undefined
  /** The active pane of its window. */
  readonly focus?: boolean | undefined
}

export interface WindowIn {
  readonly name: string | null
  readonly where: string
  readonly panes: ReadonlyArray<PaneIn>
  readonly layout?: unknown
  readonly focus?: boolean | undefined
  readonly dir?: string | undefined
  readonly env?: Record<string, unknown> | undefined
}

export interface SessionIn {
  readonly name: string
  readonly where: string
  readonly windows: ReadonlyArray<WindowIn>
  readonly dir?: string | undefined
  readonly env?: Record<string, unknown> | undefined
  readonly socket?: string | undefined
}

/** `$VAR`/`${VAR}` are kept for kstlib to interpolate (as tmuxp and tmuxinator expand them); any other `$` is literal. */
export const keepVars = (s: string): string => s.replace(/\$(?![A-Za-z_{])/gu, () => "$$")

/** env values: keys checked by kstlib's rules (tmux keys have no dots), values as written. */
export const envOf = (r: Report, raw: unknown, where: string, session: string): Record<string, unknown> | undefined => {
  if (raw === undefined || raw === null) return undefined
  if (!isRecord(raw)) {
    r.skip(where, `expected a mapping, got ${kindOf(raw)}`, session)
    return undefined
  }
  const env: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(raw)) {
    const text = scalarText(value)
    const reason = text === null ? `expected a string, number or boolean, got ${kindOf(value)}` : validateEnvEntry(key, text.includes("$") ? "" : text)
    if (reason !== null) r.skip(at(where, key), reason, session)
    else env[key] = typeof value === "string" ? keepVars(value) : value
  }
  return Object.keys(env).length > 0 ? env : undefined
}

/** The kstlib pane (or window) fields of one pane, or null when it cannot be carried. */
const paneFields = (r: Report, p: PaneIn, session: string): Session | null => {
  const lines = p.lines.map(withoutComment).filter((l) => l.trim() !== "")
  if (p.program !== undefined) {
    if (lines.length > 0) {
      r.skip(at(p.where, "shell_command"), `these keys are typed into ${p.program}: kstlib runs a pane's program, it does not type into it (kstlib ops send-keys does, afterwards)`, session)
    }
    const c = fromShellLine(p.program)
    return c.shell ? { command: c.command, shell: true } : { command: c.command }
  }
  if (lines.length === 0) return {}
  const command = `${literal(joinTyped(lines))}; ${KEEP_SHELL}`
  const problem = commandTextProblem(command)
  if (problem !== null) {
    r.skip(p.where, `${problem}: the pane is left a plain shell`, session)
    return {}
  }
  return { command, shell: true }
}

const orShell = (fields: Session): Session => (fields["command"] === undefined ? { command: KEEP_SHELL, shell: true } : fields)

const nonEmpty = (env: Record<string, unknown>): Record<string, unknown> | undefined => (Object.keys(env).length > 0 ? env : undefined)

/**
 * Each level keeps its own env (kstlib layers session < window < pane, as tmux does), and its
 * working_dir when it differs from its parent's.
 */
const placed = (o: ImportOptions, fields: Session, dir: string | undefined, parentDir: string | undefined, env: Record<string, unknown> | undefined): Session => ({
  ...(dir !== undefined && dir !== parentDir ? { working_dir: rebase(dir, o).path } : {}),
  ...(env !== undefined ? { env } : {}),
  ...fields
})

/**
 * The kstlib session. One window of one pane is the session's own command (kstlib needs no
 * `windows:` for it); else `windows:`, with `panes:` for windows of several panes.
 */
export const tmuxSession = (r: Report, o: ImportOptions, s: SessionIn): Session => {
  const session = s.name
  const base: Session = { backend: "tmux", ...(s.socket !== undefined ? { socket_name: s.socket } : {}) }
  const only = s.windows.length === 1 && s.windows[0]!.panes.length === 1 ? s.windows[0]! : null
  if (only !== null) {
    const pane = only.panes[0]!
    if (only.name !== null) r.note(only.where, `the only window: its pane is the session's own command (the window name ${only.name} is not kept)`, session)
    if (only.layout !== undefined) r.skip(at(only.where, "layout"), "a window of one pane has nothing to lay out", session)
    const env = nonEmpty({ ...(s.env ?? {}), ...(only.env ?? {}), ...(pane.env ?? {}) })
    return { ...base, ...placed(o, paneFields(r, pane, session) ?? {}, pane.dir ?? only.dir ?? s.dir, undefined, env) }
  }
  const names = new Names(s.windows.flatMap((w) => (w.name === null ? [] : [w.name])))
  const windows = s.windows.map((w, i) => {
    const { name, renamed } = names.take(w.name ?? `window-${i + 1}`, `window-${i + 1}`)
    if (w.name === null) r.note(w.where, `no name: named ${name}`, session)
    else if (renamed) r.note(w.where, `window named ${name} (letters, digits, _ and -)`, session)
    const wdir = w.dir ?? s.dir
    let window: Session
    if (w.panes.length === 1) {
      const pane = w.panes[0]!
      window = { name, ...placed(o, paneFields(r, pane, session) ?? {}, pane.dir ?? wdir, s.dir, nonEmpty({ ...(w.env ?? {}), ...(pane.env ?? {}) })) }
    } else {
      // a pane's command is not optional: a blank pane runs the shell itself
      const panes = w.panes.map((p) => ({ ...placed(o, orShell(paneFields(r, p, session) ?? {}), p.dir ?? wdir, wdir, p.env), ...(p.focus === true ? { focus: true } : {}) }))
      window = { name, ...placed(o, {}, wdir, s.dir, w.env), panes }
    }
    if (typeof w.layout === "string") window["layout"] = w.layout
    else if (w.layout !== undefined) r.skip(at(w.where, "layout"), `expected a layout name or string, got ${kindOf(w.layout)}`, session)
    if (w.focus === true) window["focus"] = true
    return window
  })
  return { ...base, ...placed(o, {}, s.dir, undefined, s.env), windows }
}
