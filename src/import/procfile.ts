/**
 * Procfile (`name: command` lines, as foreman and honcho read them) → one tmux session per process,
 * in the Procfile's directory. Each command is a shell line: plain words when a shell would do
 * nothing more than split it, else `shell: true`. Like foreman, each process gets PORT (5000, then
 * +100 per line) and the `.env` next to the Procfile.
 */
import { at, failed, type Imported, type ImportOptions, Report, type Session } from "./report.js"
import { Names, rebase } from "./values.js"
import { commandTextProblem, fromShellLine } from "./words.js"

const LINE = /^([A-Za-z0-9_-]+):\s*(.*)$/u

/** Every line a process (`name: command`), a comment or blank: how a Procfile is recognised. */
export const looksLikeProcfile = (text: string): boolean => {
  const lines = text.split(/\r?\n/u).filter((l) => l.trim() !== "" && !l.trimStart().startsWith("#"))
  return lines.length > 0 && lines.every((l) => LINE.test(l) && !LINE.exec(l)![2]!.startsWith("{") && LINE.exec(l)![2]!.trim() !== "")
}

export const importProcfile = (text: string, o: ImportOptions): Imported => {
  const r = new Report()
  const names = new Names()
  const sessions: Record<string, Session> = {}
  let port = 5000
  text.split(/\r?\n/u).forEach((raw, i) => {
    const line = raw.replace(/\r$/u, "")
    if (line.trim() === "" || line.trimStart().startsWith("#")) return
    const where = `line ${i + 1}`
    const m = LINE.exec(line)
    if (m === null) return r.skip(where, "not a process line (name: command)")
    const [, source, commandText] = m as unknown as [string, string, string]
    const { name, renamed } = names.take(source)
    const w = at(where, source)
    if (renamed) r.note(w, `session named ${name} (kstlib's names: a letter, then letters, digits, _ or -)`, name)
    const command = commandText.trim()
    const problem = commandTextProblem(command)
    if (command === "" || problem !== null) return r.skip(w, problem ?? "no command", name)
    const c = fromShellLine(command)
    const s: Session = { backend: "tmux", command: c.command }
    if (c.shell) s["shell"] = true
    s["working_dir"] = rebase(".", o).path
    s["env"] = { PORT: String(port) }
    if (o.dotenv === true) s["env_file"] = rebase(".env", o).path
    port += 100
    sessions[name] = s
  })
  if (Object.keys(sessions).length === 0) return failed(o, "no process line (name: command) in the file")
  r.note("", "each process gets PORT (5000, then +100 per line) as foreman gives it")
  if (o.dotenv === true) r.note(".env", "read into every process (env_file), as foreman does")
  return r.done({ ops: { sessions } })
}
