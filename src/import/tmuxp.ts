/**
 * tmuxp workspace (YAML or JSON) → one tmux session with `windows:` and `panes:` (panes.ts says how
 * typed commands become pane commands). `shell_command_before` at every level is prepended to each
 * pane's commands, as tmuxp types it first (joined with `;`, as separately typed lines run).
 */
import * as YAML from "yaml"
import { at, failed, type Imported, type ImportOptions, isRecord, kindOf, Report } from "./report.js"
import { envOf, keepVars, type PaneIn, tmuxSession, type WindowIn } from "./panes.js"
import { Names, under } from "./values.js"

const TMUX_OPTIONS = "tmux options are not set by kstlib: put them in ~/.tmux.conf (or a tmux hook)"
const NOT_TYPED = "kstlib types nothing into a shell, so no command reaches its history: nothing to carry"
const SLEEP = "a pause between typed commands: kstlib runs the pane's commands as one line; write `sleep N;` into it if the delay itself matters"

/** tmuxp's `shell_command` forms → lines (`blank`, `pane`, null: none). */
const linesOf = (r: Report, raw: unknown, where: string, session: string): Array<string> => {
  if (raw === null || raw === undefined || raw === "blank" || raw === "pane") return []
  const items = typeof raw === "string" || isRecord(raw) ? [raw] : Array.isArray(raw) ? raw : null
  if (items === null) {
    r.skip(where, `expected a command or a list of commands, got ${kindOf(raw)}`, session)
    return []
  }
  if (items.length === 1 && (items[0] === null || items[0] === "blank" || items[0] === "pane")) return []
  const lines: Array<string> = []
  items.forEach((item, i) => {
    const w = Array.isArray(raw) ? at(where, i) : where
    if (item === null || item === "") return
    if (typeof item === "string") return void lines.push(item)
    if (!isRecord(item) || typeof item["cmd"] !== "string") return r.skip(w, "expected a command or { cmd: … }", session)
    for (const key of Object.keys(item)) {
      if (key === "sleep_before" || key === "sleep_after") r.skip(at(w, key), SLEEP, session)
      else if (key === "suppress_history") r.note(at(w, key), NOT_TYPED, session)
      else if (key !== "cmd" && key !== "enter") r.skip(at(w, key), "not a tmuxp command key", session)
    }
    if (item["enter"] === false) return r.skip(at(w, "enter"), "typed but not run (enter: false): kstlib runs commands, it does not leave them typed at a prompt", session)
    lines.push(item["cmd"])
  })
  return lines
}

export const importTmuxp = (text: string, o: ImportOptions): Imported => {
  let doc: unknown
  try {
    doc = YAML.parse(text, { maxAliasCount: 1000, stringKeys: true })
  } catch (e) {
    return failed(o, `not valid YAML or JSON: ${String((e as Error).message).split("\n")[0]}`)
  }
  if (!isRecord(doc) || !Array.isArray(doc["windows"])) return failed(o, "not a tmuxp workspace: no windows: list")
  const r = new Report()
  const rawName = typeof doc["session_name"] === "string" ? doc["session_name"] : "tmuxp"
  const { name: session, renamed } = new Names().take(rawName)
  if (renamed) r.note("session_name", `session named ${session} (kstlib's names: a letter, then letters, digits, _ or -)`, session)
  const before = linesOf(r, doc["shell_command_before"], "shell_command_before", session)
  const sessionDir = typeof doc["start_directory"] === "string" ? keepVars(doc["start_directory"]) : undefined
  for (const [key, value] of Object.entries(doc)) {
    if (["session_name", "windows", "shell_command_before", "start_directory", "environment", "socket_name"].includes(key)) continue
    const w = at("", key)
    if (key === "suppress_history") r.note(w, NOT_TYPED, session)
    else if (key === "options" || key === "global_options") r.skip(w, TMUX_OPTIONS, session)
    else if (key === "before_script") r.skip(w, "a script tmuxp runs once before building the session: run it yourself, or as a session of its own that this one depends_on", session)
    else if (key === "plugins") r.skip(w, "tmuxp plugins have no kstlib counterpart", session)
    else if (key === "config") r.skip(w, "a tmux config file (tmux -f): kstlib runs tmux with your own ~/.tmux.conf", session)
    else r.skip(w, `not a tmuxp workspace key kstlib knows (${kindOf(value)})`, session)
  }
  const windows = (doc["windows"] as Array<unknown>).flatMap((raw, i): Array<WindowIn> => {
    const w = at("windows", i)
    if (!isRecord(raw)) {
      r.skip(w, `a window must be a mapping, got ${kindOf(raw)}`, session)
      return []
    }
    const windowBefore = linesOf(r, raw["shell_command_before"], at(w, "shell_command_before"), session)
    const dir = typeof raw["start_directory"] === "string" ? under(sessionDir, keepVars(raw["start_directory"])) : sessionDir
    const program = typeof raw["window_shell"] === "string" ? raw["window_shell"] : undefined
    for (const key of Object.keys(raw)) {
      if (["window_name", "layout", "panes", "shell_command_before", "start_directory", "environment", "focus", "window_shell"].includes(key)) continue
      if (key === "options" || key === "options_after") r.skip(at(w, key), TMUX_OPTIONS, session)
      else if (key === "window_index") r.skip(at(w, key), "kstlib numbers windows in the order they are listed", session)
      else if (key === "suppress_history") r.note(at(w, key), NOT_TYPED, session)
      else r.skip(at(w, key), "not a tmuxp window key kstlib knows", session)
    }
    const rawPanes = Array.isArray(raw["panes"]) ? raw["panes"] : raw["panes"] === undefined ? [null] : null
    if (rawPanes === null) r.skip(at(w, "panes"), `expected a list, got ${kindOf(raw["panes"])}`, session)
    const panes = (rawPanes ?? [null]).map((p, j): PaneIn => {
      const pw = at(at(w, "panes"), j)
      const pane: Record<string, unknown> | null = typeof p === "string" || Array.isArray(p) || p === null ? { shell_command: p } : isRecord(p) ? p : null
      if (pane === null) {
        r.skip(pw, `expected a command, a list or a mapping, got ${kindOf(p)}`, session)
        return { lines: [], where: pw }
      }
      for (const key of Object.keys(pane)) {
        if (["shell_command", "shell_command_before", "start_directory", "environment", "shell", "enter", "focus"].includes(key)) continue
        if (key === "sleep_before" || key === "sleep_after") r.skip(at(pw, key), SLEEP, session)
        else if (key === "suppress_history") r.note(at(pw, key), NOT_TYPED, session)
        else r.skip(at(pw, key), "not a tmuxp pane key kstlib knows", session)
      }
      let lines = [...before, ...windowBefore, ...linesOf(r, pane["shell_command_before"], at(pw, "shell_command_before"), session), ...linesOf(r, pane["shell_command"], at(pw, "shell_command"), session)]
      if (pane["enter"] === false && lines.length > 0) {
        r.skip(at(pw, "enter"), "typed but not run (enter: false): kstlib runs commands, it does not leave them typed at a prompt; the pane is a plain shell", session)
        lines = []
      }
      return {
        lines,
        where: pw,
        program: typeof pane["shell"] === "string" ? pane["shell"] : program,
        dir: typeof pane["start_directory"] === "string" ? under(dir, keepVars(pane["start_directory"])) : dir,
        env: envOf(r, pane["environment"], at(pw, "environment"), session),
        focus: pane["focus"] === true
      }
    })
    return [{
      name: typeof raw["window_name"] === "string" ? raw["window_name"] : null,
      where: w,
      panes,
      layout: raw["layout"],
      focus: raw["focus"] === true,
      dir,
      env: envOf(r, raw["environment"], at(w, "environment"), session)
    }]
  })
  if (windows.length === 0) return failed(o, "the workspace has no window kstlib can carry")
  if (windows.some((w) => w.panes.some((p) => p.lines.some((l) => l.includes("$"))))) {
    r.note("", "$VAR in commands is expanded by the pane's shell when it runs (tmuxp expands those set in its own environment when it loads the file)")
  }
  const s = tmuxSession(r, o, {
    name: session,
    where: "",
    windows,
    dir: sessionDir,
    env: envOf(r, doc["environment"], "environment", session),
    socket: typeof doc["socket_name"] === "string" ? doc["socket_name"] : undefined
  })
  return r.done({ ops: { sessions: { [session]: s } } })
}
