/**
 * tmuxinator project (YAML) → one tmux session with `windows:` and `panes:`. ERB (`<%= … %>`) is
 * Ruby that tmuxinator evaluates: kstlib runs no Ruby, so such a file is refused. `pre_window` (and
 * a window's `pre`) are typed into each pane before its commands: prepended, as tmuxp's
 * `shell_command_before` is (see panes.ts).
 */
import * as YAML from "yaml"
import { at, failed, type Imported, type ImportOptions, isRecord, kindOf, Report, scalarText } from "./report.js"
import { type PaneIn, tmuxSession, type WindowIn } from "./panes.js"
import { Names, under } from "./values.js"
import { literal } from "./words.js"

const HOOK = "a project hook: kstlib has none; run it yourself, or as a session of its own that this one depends_on"

/** A command, a list of commands, or nothing. */
const commandsOf = (r: Report, raw: unknown, where: string, session: string): Array<string> => {
  if (raw === null || raw === undefined) return []
  if (typeof raw === "string") return raw === "" ? [] : [raw]
  if (Array.isArray(raw)) {
    return raw.flatMap((x, i) => {
      if (x === null) return []
      const t = scalarText(x)
      if (t === null) r.skip(at(where, i), `expected a command, got ${kindOf(x)}`, session)
      return t === null ? [] : [t]
    })
  }
  r.skip(where, `expected a command or a list of commands, got ${kindOf(raw)}`, session)
  return []
}

/** tmuxinator's `pre_window` / `pre` lists: typed as one line. */
const oneLine = (r: Report, raw: unknown, joiner: string, where: string, session: string): Array<string> => {
  const lines = commandsOf(r, raw, where, session)
  return lines.length === 0 ? [] : [lines.join(joiner)]
}

export const importTmuxinator = (text: string, o: ImportOptions): Imported => {
  const erb = /<%/u.exec(text)
  if (erb !== null) {
    const line = text.slice(0, erb.index).split("\n").length
    return failed(o, `line ${line}: ERB (<%= … %>) is Ruby that tmuxinator evaluates; kstlib runs no Ruby: replace each <%= … %> by its value, then import`)
  }
  let doc: unknown
  try {
    doc = YAML.parse(text, { maxAliasCount: 1000, stringKeys: true })
  } catch (e) {
    return failed(o, `not valid YAML: ${String((e as Error).message).split("\n")[0]}`)
  }
  const windowsRaw = isRecord(doc) ? doc["windows"] ?? doc["tabs"] : undefined
  if (!isRecord(doc) || !Array.isArray(windowsRaw)) return failed(o, "not a tmuxinator project: no windows: list")
  const r = new Report()
  const rawName = scalarText(doc["name"] ?? doc["project_name"]) ?? "tmuxinator"
  const { name: session, renamed } = new Names().take(rawName)
  if (renamed) r.note(doc["name"] !== undefined ? "name" : "project_name", `session named ${session} (kstlib's names: a letter, then letters, digits, _ or -)`, session)
  const rootRaw = doc["root"] ?? doc["project_root"]
  // tmuxinator expands `~` only (File.expand_path): any `$` is literal
  const root = typeof rootRaw === "string" && rootRaw !== "" ? literal(rootRaw) : undefined
  if (root !== undefined && !root.startsWith("/") && !root.startsWith("~")) {
    r.note(doc["root"] !== undefined ? "root" : "project_root", "a relative root is relative to where tmuxinator runs: taken as relative to this file's directory", session)
  }
  const preWindow = doc["rbenv"] !== undefined
    ? [`rbenv shell ${String(doc["rbenv"])}`]
    : doc["rvm"] !== undefined
    ? [`rvm use ${String(doc["rvm"])}`]
    : oneLine(r, doc["pre_tab"] ?? doc["pre_window"], "; ", doc["pre_tab"] !== undefined ? "pre_tab" : "pre_window", session)
  const startup = doc["startup_window"]
  for (const key of Object.keys(doc)) {
    const w = at("", key)
    if (["name", "project_name", "root", "project_root", "windows", "tabs", "rbenv", "rvm", "pre_tab", "pre_window", "socket_name", "startup_window"].includes(key)) continue
    if (key.startsWith("on_project_") || key === "pre" || key === "post") r.skip(w, HOOK, session)
    else if (key === "tmux_options" || key === "cli_args" || key === "tmux_command") r.skip(w, "kstlib runs tmux itself (ops.tmux_binary), with no extra options", session)
    else if (key === "socket_path") r.skip(w, "kstlib names tmux servers by socket_name (tmux -L), not by path", session)
    else if (key === "attach" || key === "tmux_detached") r.skip(w, "kstlib ops apply never attaches: kstlib ops attach NAME does", session)
    else if (key === "startup_pane") r.skip(w, "kstlib selects no pane (a window opens on its first)", session)
    else if (key.startsWith("pane_title") || key === "enable_pane_titles") r.skip(w, "pane titles are not set by kstlib", session)
    else r.skip(w, "not a tmuxinator key kstlib knows", session)
  }
  if (doc["tabs"] !== undefined && doc["windows"] !== undefined) r.skip("tabs", "windows: is used (tabs: is its old name)", session)
  const windows = windowsRaw.flatMap((raw, i): Array<WindowIn> => {
    const w = at(doc["windows"] !== undefined ? "windows" : "tabs", i)
    if (!isRecord(raw) || Object.keys(raw).length !== 1) {
      r.skip(w, "a window must be a mapping of one name to its commands or settings", session)
      return []
    }
    const [key, value] = Object.entries(raw)[0]!
    const name = key === "" || key === "null" || key === "~" ? null : key
    const ww = at(w, key)
    const focus = startup !== undefined && (String(startup) === key || startup === i)
    if (!isRecord(value)) {
      // a window without panes: pre_window, then its commands (a window's pre applies to panes only)
      const pane: PaneIn = { lines: [...preWindow, ...commandsOf(r, value, ww, session)], where: ww }
      return [{ name, where: ww, panes: [pane], focus, dir: root }]
    }
    for (const k of Object.keys(value)) {
      if (["layout", "panes", "root", "pre", "focused_pane"].includes(k)) continue
      if (k === "synchronize") r.skip(at(ww, k), "tmux options are not set by kstlib: synchronize-panes goes in a tmux hook or by hand", session)
      else r.skip(at(ww, k), "not a tmuxinator window key kstlib knows", session)
    }
    const dir = typeof value["root"] === "string" ? under(root, literal(value["root"])) : root
    const pre = oneLine(r, value["pre"], " && ", at(ww, "pre"), session)
    const rawPanes = Array.isArray(value["panes"]) ? value["panes"] : value["panes"] === undefined || value["panes"] === null ? [null] : [value["panes"]]
    const panes = rawPanes.map((p, j): PaneIn => {
      const pw = at(at(ww, "panes"), j)
      let commands: Array<string>
      if (isRecord(p) && Object.keys(p).length === 1) {
        const [title, cmds] = Object.entries(p)[0]!
        r.skip(at(pw, title), `the pane title (${title}) is not set by kstlib; its commands are carried`, session)
        commands = commandsOf(r, cmds, at(pw, title), session)
      } else commands = commandsOf(r, p, pw, session)
      // tmuxinator counts panes from its pane_base_index, 0 by default as kstlib does
      return { lines: [...preWindow, ...pre, ...commands], where: pw, focus: value["focused_pane"] === j }
    })
    return [{ name, where: ww, panes, layout: value["layout"], focus, dir }]
  })
  if (windows.length === 0) return failed(o, "the project has no window kstlib can carry")
  const s = tmuxSession(r, o, {
    name: session,
    where: "",
    windows,
    dir: root,
    socket: typeof doc["socket_name"] === "string" ? doc["socket_name"] : undefined
  })
  return r.done({ ops: { sessions: { [session]: s } } })
}
