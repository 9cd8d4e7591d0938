/**
 * pm2 ecosystem file → one tmux session per app. The data comes from JSON / YAML text here, or from
 * a JS file evaluated in a sandboxed child (pm2-js.ts, only with --allow-js). pm2's supervision maps
 * onto kstlib's: pm2 restarts by default (autorestart), with a fixed delay (restart_delay) or a
 * doubling one (exp_backoff_restart_delay, capped at 15 s).
 */
import * as path from "node:path"
import * as YAML from "yaml"
import { validateEnvEntry } from "../config/rules.js"
import { at, failed, type Imported, type ImportOptions, isRecord, kindOf, Report, scalarText, type Session } from "./report.js"
import { byteSize, Names, rebase, stopSignal, under } from "./values.js"
import { commandTextProblem, fromArgv, fromShellLine, literal } from "./words.js"

/** pm2's interpreter per extension (lib/API/interpreter.json). */
const INTERPRETERS: Readonly<Record<string, string>> = {
  ".sh": "bash", ".py": "python", ".rb": "ruby", ".php": "php", ".pl": "perl", ".js": "node", ".mjs": "node", ".cjs": "node",
  ".coffee": "coffee", ".ls": "lsc", ".ts": "bun", ".tsx": "bun"
}

/** pm2's own split of a string of arguments (lib/tools/Config.js). */
export const splitArgs = (s: string): Array<string> =>
  (s.match(/[^\s"'=]+="[^"]*"|[^\s"'=]+='[^']*'|"([^"]*)"|'([^']*)'|\S+/gu) ?? [])
    .map((v) => (v.length > 1 && ((v.startsWith("\"") && v.endsWith("\"")) || (v.startsWith("'") && v.endsWith("'"))) ? v.slice(1, -1) : v))
    .filter((v) => v.trim() !== "")

const argsOf = (u: unknown): Array<string> | null =>
  u === undefined || u === null ? [] : typeof u === "string" ? splitArgs(u) : Array.isArray(u) ? u.map(String) : null

/** pm2 milliseconds (a number, or `Nh`/`Nm`/`Ns`) in seconds. */
const msToSeconds = (u: unknown): number | null => {
  if (typeof u === "number" && u >= 0) return u / 1000
  const m = typeof u === "string" ? /^(\d+)(h|m|s)?$/u.exec(u) : null
  if (m === null) return null
  return Number(m[1]) * (m[2] === "h" ? 3600 : m[2] === "m" ? 60 : m[2] === "s" ? 1 : 0.001)
}

const DROPPED: Readonly<Record<string, string>> = {
  watch: "kstlib does not restart on file changes",
  ignore_watch: "kstlib does not restart on file changes",
  watch_options: "kstlib does not restart on file changes",
  watch_delay: "kstlib does not restart on file changes",
  wait_ready: "process.send('ready') is pm2's IPC: use a ready: check (log, tcp, http, cmd) instead",
  listen_timeout: "process.send('ready') is pm2's IPC: use a ready: check (log, tcp, http, cmd) instead",
  shutdown_with_message: "kstlib stops with a signal (stop_signal), not an IPC message",
  merge_logs: "kstlib runs one process per app, so there is nothing to merge",
  combine_logs: "kstlib runs one process per app, so there is nothing to merge",
  log_date_format: "kstlib does not prefix log lines with dates (kstlib ops logs --timestamps does when reading)",
  time: "kstlib does not prefix log lines with dates (kstlib ops logs --timestamps does when reading)",
  log_type: "kstlib writes the output as it comes",
  disable_logs: "kstlib always keeps a session's output",
  pid_file: "kstlib tracks the process itself (kstlib ops status shows the pid)",
  namespace: "kstlib groups sessions by project (ops.project), not by namespace",
  vizion: "pm2's versioning metadata",
  post_update: "run by pm2 after a pull from its dashboard: no kstlib counterpart",
  force: "kstlib never starts a second copy of a session",
  source_map_support: "a Node option pm2 sets: pass --enable-source-maps in node_args",
  disable_source_map_support: "a Node option pm2 sets",
  increment_var: "cluster-mode numbering: kstlib runs one process per app",
  instance_var: "cluster-mode numbering: kstlib runs one process per app",
  filter_env: "kstlib passes only the session's own env plus tmux's environment",
  treekill: "kstlib always stops the whole process group",
  kill_retry_time: "kstlib's stop ladder is fixed (signal, stop_timeout, TERM, KILL)",
  append_env_to_name: "session names are written as they are",
  autostart: "use state: stopped for an app that must not start",
  uid: "kstlib runs tmux sessions as you",
  gid: "kstlib runs tmux sessions as you",
  username: "kstlib runs tmux sessions as you",
  pmx: "pm2 monitoring",
  automation: "pm2 monitoring",
  trace: "pm2 monitoring",
  disable_trace: "pm2 monitoring",
  v8: "pm2 monitoring",
  event_loop_inspector: "pm2 monitoring",
  deep_monitoring: "pm2 monitoring",
  io: "pm2 monitoring",
  install_url: "pm2 modules",
  name_prefix: "session names are written as they are",
  windowsHide: "a Windows setting",
  version: "pm2 metadata"
}

interface App {
  readonly r: Report
  readonly o: ImportOptions
  readonly where: string
  readonly session: string
}

const skip = (a: App, key: string, why: string) => a.r.skip(at(a.where, key), why, a.session)

const envOf = (a: App, raw: unknown, where: string): Record<string, string> => {
  const env: Record<string, string> = {}
  if (raw === undefined || raw === null) return env
  if (!isRecord(raw)) {
    a.r.skip(where, `expected a mapping, got ${kindOf(raw)}`, a.session)
    return env
  }
  for (const [key, value] of Object.entries(raw)) {
    const text = scalarText(value)
    const reason = text === null ? `expected a string, number or boolean, got ${kindOf(value)}` : validateEnvEntry(key, text)
    if (reason !== null) a.r.skip(at(where, key), reason, a.session)
    else env[key] = literal(text!)
  }
  return env
}

/** The argv pm2 runs: interpreter (+ its args) and script (+ args); a script with a space is a bash line. */
const commandOf = (a: App, app: Record<string, unknown>, s: Session) => {
  const script = app["script"] ?? app["command"]
  if (typeof script !== "string" || script === "") return skip(a, "script", "an app needs a script")
  const args = argsOf(app["args"])
  if (args === null) skip(a, "args", "expected a string or a list")
  const interpreterArgs = argsOf(app["node_args"] ?? app["interpreter_args"] ?? app["interpreterArgs"])
  if (interpreterArgs === null) skip(a, "node_args", "expected a string or a list")
  const interpreter = app["interpreter"] ?? app["exec_interpreter"]
  if (script.includes(" ")) {
    // pm2 runs such a script with `bash -c`
    if ((args ?? []).length > 0) skip(a, "args", "pm2 ignores args for a script with spaces (it runs the line through bash -c)")
    const c = fromShellLine(script)
    s["command"] = c.command
    if (c.shell) {
      s["shell"] = true
      a.r.note(at(a.where, "script"), "a command line with shell syntax: pm2 runs it with bash -c, kstlib with sh -c", a.session)
    }
    return
  }
  const ext = path.extname(script)
  const chosen = typeof interpreter === "string" ? interpreter : INTERPRETERS[ext] ?? "none"
  if (chosen === "node" && interpreter === undefined && ext === "") a.r.note(at(a.where, "script"), "run as a program (pm2 uses node only for a script file it finds)", a.session)
  const words = chosen === "none" ? [script, ...(args ?? [])] : [chosen, ...(interpreterArgs ?? []), script, ...(args ?? [])]
  if (chosen === "none" && (interpreterArgs ?? []).length > 0) skip(a, "node_args", "no interpreter runs the script, so there is nothing to pass them to")
  const c = fromArgv(words)
  s["command"] = c.command
  if (c.shell) {
    s["shell"] = true
    a.r.note(at(a.where, "script"), "kstlib runs these words only through a shell (a shell given code, eval…): shell: true over the same words", a.session)
  }
}

/** autorestart, stop_exit_codes, max_restarts, min_uptime, restart_delay, exp_backoff_restart_delay. */
const supervision = (a: App, app: Record<string, unknown>, s: Session) => {
  const codes = app["stop_exit_codes"]
  const onlyZero = codes === 0 || (Array.isArray(codes) && codes.length === 1 && codes[0] === 0)
  if (app["autorestart"] === false) s["restart"] = "no"
  else {
    s["restart"] = onlyZero ? "on-failure" : "always"
    if (app["autorestart"] === undefined) a.r.note(at(a.where, "autorestart"), `pm2 restarts an app by default: written as restart: ${s["restart"]}`, a.session)
  }
  if (codes !== undefined && !onlyZero) skip(a, "stop_exit_codes", "kstlib's restart: on-failure treats exit 0 alone as a clean stop")
  if (app["max_restarts"] !== undefined) {
    if (typeof app["max_restarts"] === "number" && Number.isInteger(app["max_restarts"]) && app["max_restarts"] >= 0 && s["restart"] !== "no") {
      s["max_restarts"] = app["max_restarts"]
    } else skip(a, "max_restarts", s["restart"] === "no" ? "autorestart is false" : "not a whole number")
  }
  if (app["min_uptime"] !== undefined) {
    const sec = msToSeconds(app["min_uptime"])
    if (sec === null) skip(a, "min_uptime", "not a duration pm2 reads (ms, or Nh/Nm/Ns)")
    else s["min_uptime"] = sec
  }
  const backoff = app["exp_backoff_restart_delay"]
  const fixed = app["restart_delay"]
  if (backoff !== undefined) {
    const sec = msToSeconds(backoff)
    if (sec === null) skip(a, "exp_backoff_restart_delay", "not a number of milliseconds")
    else {
      s["restart_delay"] = sec
      s["max_backoff"] = 15
      a.r.note(at(a.where, "exp_backoff_restart_delay"), "doubling from it up to 15 s, as pm2 does: max_backoff: 15", a.session)
    }
    if (fixed !== undefined) skip(a, "restart_delay", "exp_backoff_restart_delay is used (pm2 lets it win)")
  } else if (fixed !== undefined) {
    const sec = msToSeconds(fixed)
    if (sec === null) skip(a, "restart_delay", "not a number of milliseconds")
    else {
      s["restart_delay"] = sec
      s["max_backoff"] = sec
      a.r.note(at(a.where, "restart_delay"), "a fixed delay, as in pm2: max_backoff set to the same (kstlib doubles the delay up to max_backoff)", a.session)
    }
  }
  if (app["kill_timeout"] !== undefined) {
    const sec = msToSeconds(app["kill_timeout"])
    if (sec === null) skip(a, "kill_timeout", "not a number of milliseconds")
    else s["stop_timeout"] = sec
  }
}

/** out_file, error_file, log_file → kstlib's one log_file (stdout and stderr together). */
const logs = (a: App, app: Record<string, unknown>, s: Session) => {
  const out = app["out_file"] ?? app["output"] ?? app["out"]
  const err = app["error_file"] ?? app["err_file"] ?? app["error"]
  const all = app["log_file"] ?? app["log"]
  const key = (...names: Array<string>) => names.find((n) => app[n] !== undefined)!
  const usable = (u: unknown) => typeof u === "string" && u !== "/dev/null" && u !== "NULL"
  const chosen = usable(all) ? key("log_file", "log") : usable(out) ? key("out_file", "output", "out") : usable(err) ? key("error_file", "err_file", "error") : null
  for (const k of ["log_file", "log", "out_file", "output", "out", "error_file", "err_file", "error"]) {
    if (app[k] === undefined || k === chosen) continue
    skip(a, k, usable(app[k])
      ? `kstlib writes stdout and stderr to one log_file${chosen === null ? "" : ` (${chosen} is used)`}`
      : "kstlib always keeps a session's output (there is no /dev/null log)")
  }
  if (chosen !== null) {
    const cwd = typeof app["cwd"] === "string" ? app["cwd"] : "."
    s["log_file"] = rebase(under(literal(cwd), literal(app[chosen] as string)), a.o).path
  }
}

const app = (r: Report, o: ImportOptions, names: Names, raw: unknown, i: number, sessions: Record<string, Session>) => {
  const where = at("apps", i)
  if (!isRecord(raw)) return r.skip(where, `an app must be a mapping, got ${kindOf(raw)}`)
  const script = raw["script"] ?? raw["command"]
  const fallback = typeof script === "string" ? path.basename(script.split(" ")[0]!, path.extname(script.split(" ")[0]!)) : `app-${i + 1}`
  const source = scalarText(raw["name"]) ?? fallback
  const { name: session, renamed } = names.take(source)
  if (renamed) r.note(at(where, "name"), `session named ${session} (kstlib's names: a letter, then letters, digits, _ or -)`, session)
  const a: App = { r, o, where, session }
  const s: Session = { backend: "tmux" }
  commandOf(a, raw, s)
  if (s["command"] === undefined) return
  const problem = commandTextProblem(s["command"] as string)
  if (problem !== null) return skip(a, "script", problem)
  if (typeof raw["cwd"] === "string") s["working_dir"] = rebase(literal(raw["cwd"]), o).path
  else {
    s["working_dir"] = rebase(".", o).path
    a.r.note(at(where, "cwd"), "none: the ecosystem file's directory", session)
  }
  const env = envOf(a, raw["env"], at(where, "env"))
  const picked = o.pm2Env
  for (const key of Object.keys(raw).filter((k) => k.startsWith("env_"))) {
    if (picked !== undefined && key === `env_${picked}`) Object.assign(env, envOf(a, raw[key], at(where, key)))
    else skip(a, key, `another environment: import with --env ${key.slice(4)} to merge it over env`)
  }
  if (raw["port"] !== undefined) {
    if (scalarText(raw["port"]) !== null) env["PORT"] = scalarText(raw["port"])!
    else skip(a, "port", "not a port")
  }
  if (Object.keys(env).length > 0) s["env"] = env
  supervision(a, raw, s)
  logs(a, raw, s)
  if (raw["max_memory_restart"] !== undefined) {
    const size = byteSize(raw["max_memory_restart"])
    if (size === null) skip(a, "max_memory_restart", "not a size pm2 reads (N, NK, NM, NG)")
    else s["max_memory"] = size
  }
  if (raw["cron_restart"] !== undefined) {
    const cron = raw["cron_restart"]
    if (typeof cron === "string" && cron.trim().split(/\s+/u).length === 5) s["cron_restart"] = cron.trim()
    else if (cron === 0 || cron === "0") r.note(at(where, "cron_restart"), "0: no cron restart", session)
    else skip(a, "cron_restart", "kstlib's cron_restart is a 5-field cron expression (pm2's seconds field is not carried)")
  }
  if (raw["kill_signal"] !== undefined) {
    const signal = stopSignal(raw["kill_signal"])
    if (signal === null) skip(a, "kill_signal", "kstlib stops with INT, TERM, HUP, QUIT, USR1, USR2 or KILL")
    else s["stop_signal"] = signal
  }
  const instances = raw["instances"]
  const cluster = raw["exec_mode"] === "cluster" || raw["exec_mode"] === "cluster_mode"
  if (instances !== undefined && instances !== 1 && instances !== "1") {
    skip(a, "instances", "kstlib runs one process per session; pm2's cluster mode shares a port among N Node workers through its own master: declare N sessions (each with its own PORT) or use Node's cluster module")
  }
  if (cluster) skip(a, "exec_mode", "cluster mode is pm2's own master process sharing a port: kstlib runs the app as one process (fork mode)")
  const handled = new Set([
    "name", "script", "command", "args", "node_args", "interpreter_args", "interpreterArgs", "interpreter", "exec_interpreter", "cwd", "env", "port",
    "autorestart", "stop_exit_codes", "max_restarts", "min_uptime", "restart_delay", "exp_backoff_restart_delay", "kill_timeout",
    "out_file", "output", "out", "error_file", "err_file", "error", "log_file", "log", "max_memory_restart", "cron_restart", "kill_signal",
    "instances", "exec_mode"
  ])
  for (const key of Object.keys(raw)) {
    if (handled.has(key) || key.startsWith("env_")) continue
    skip(a, key, DROPPED[key] ?? "not a pm2 app key kstlib knows")
  }
  sessions[session] = s
}

/** The apps of an ecosystem object (`{ apps: [...] }`, or a bare list of apps as pm2 also takes). */
export const importPm2Data = (data: unknown, o: ImportOptions): Imported => {
  const apps = isRecord(data) ? data["apps"] : Array.isArray(data) ? data : undefined
  if (!Array.isArray(apps)) return failed(o, "not a pm2 ecosystem file: no apps: list")
  const r = new Report()
  if (isRecord(data)) {
    for (const key of Object.keys(data)) {
      if (key === "apps") continue
      r.skip(at("", key), key === "deploy" ? "pm2 deploy (ssh + git pull) has no kstlib counterpart" : "not a pm2 ecosystem key kstlib knows")
    }
  }
  const names = new Names()
  const sessions: Record<string, Session> = {}
  apps.forEach((raw, i) => app(r, o, names, raw, i, sessions))
  if (Object.keys(sessions).length === 0) return failed(o, "no app kstlib can carry")
  return r.done({ ops: { sessions } })
}

/**
 * JSON or YAML text. pm2 itself evaluates a `.json` file as a JavaScript expression, so files with
 * unquoted keys and single quotes exist: YAML's flow syntax reads those; anything needing a real
 * JavaScript evaluation is refused here (--allow-js evaluates JS files).
 */
export const importPm2 = (text: string, o: ImportOptions): Imported => {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    try {
      // whole-line // comments, which pm2's JavaScript evaluation of a .json file allows
      data = YAML.parse(text.replace(/^\s*\/\/.*$/gmu, ""), { maxAliasCount: 1000, stringKeys: true })
    } catch (e) {
      return failed(o, `neither JSON nor YAML (${String((e as Error).message).split("\n")[0]}); pm2 evaluates it as JavaScript, which kstlib does only with --allow-js`)
    }
  }
  return importPm2Data(data, o)
}
