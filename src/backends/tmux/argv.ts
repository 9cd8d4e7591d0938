/**
 * tmux argv building, pure. Every target is exact (`=NAME`): plain `-t NAME` falls back to prefix
 * and pattern matching, so `astro` would hit `astro-dev`.
 */
import { commandArgv } from "../../command.js"
import { Marks, restartPolicy, stopSettingsOf } from "../../model.js"
import type { PaneSpec, TmuxSpec, WindowSpec } from "../../model.js"
import type { Stamp } from "../../spec/fingerprint.js"
import { encodeFingerprint } from "../../spec/fingerprint.js"
import type { Launch } from "../driver.js"
import { logTargetOf, paneLogTarget } from "../../logs/target.js"
import type { LogTarget } from "../../logs/target.js"
import { pipePaneCommand } from "./log-writer.js"
import { supervisedArgv } from "./supervisor.js"

/** Field separator of our list formats (ASCII unit separator): tmux escapes it inside session names. */
export const SEP = "\x1f"

/** tmux's default socket name (`-L default` is the default server). */
export const DEFAULT_SOCKET = "default"

/** Exact session target, for the session commands that resolve it exactly (`has-session`, `kill-session`, `attach-session`, `switch-client`). */
export const sessionTarget = (name: string) => `=${name}`

/**
 * Exact pane target: the session's current window, active pane. Pane/window commands (set-option,
 * send-keys, capture-pane, respawn-pane) need the trailing colon: `=NAME` alone is not resolved
 * as a session by them.
 */
export const paneTarget = (name: string) => `=${name}:`

/**
 * tmux splits its own argv on any argument ENDING with `;` (not only on a lone `;`), so a key or
 * value ending with `;` would cut the command sequence. `\;` at the end is read back as a literal `;`.
 */
export const escapeArg = (arg: string): string => (arg.endsWith(";") ? `${arg.slice(0, -1)}\\;` : arg)

/**
 * Global flags: `-L NAME` for a named socket. For the default server we pass `-L default` only
 * when running inside tmux: there a bare `tmux` talks to the server in $TMUX, which may be a
 * named socket.
 */
export const socketArgs = (socket: string | null, insideTmux: boolean): ReadonlyArray<string> =>
  socket !== null ? ["-L", socket] : insideTmux ? ["-L", DEFAULT_SOCKET] : []

/**
 * The observe format: one line per pane, fields by name (parse.ts zips names and values), the
 * session's name first (tmux escapes separators in it), user options last.
 */
export const PANE_FIELDS = {
  session: "#{session_name}",
  window: "#{window_index}",
  pane: "#{pane_index}",
  pid: "#{pane_pid}",
  created: "#{session_created}",
  windows: "#{session_windows}",
  dead: "#{pane_dead}",
  deadStatus: "#{pane_dead_status}",
  deadSignal: "#{pane_dead_signal}",
  managed: `#{${Marks.tmuxManaged}}`,
  project: `#{${Marks.tmuxProject}}`,
  spec: `#{${Marks.tmuxSpec}}`,
  applied: `#{${Marks.tmuxApplied}}`,
  restarts: `#{${Marks.tmuxRestarts}}`,
  lastExit: `#{${Marks.tmuxLastExit}}`,
  commandPid: `#{${Marks.tmuxPid}}`,
  windowName: "#{window_name}"
} as const
export type PaneField = keyof typeof PANE_FIELDS
export const PANE_FIELD_NAMES = Object.keys(PANE_FIELDS) as ReadonlyArray<PaneField>

export const PANE_FORMAT = PANE_FIELD_NAMES.map((k) => PANE_FIELDS[k]).join(SEP)

/** Printed between the pane lines and the global option lines of one observe call. */
export const GLOBALS_MARKER = "=kstlib-globals="

/**
 * ONE call: every pane of every session, then kstlib's ownership options as set GLOBALLY (session
 * and window scope). A format reads user options with inheritance from global options, so a
 * server-wide `set -g @kstlib-managed 1` would make every session look managed: when any of these
 * is set globally, the server's marks cannot be trusted (parse.ts treats its sessions as foreign).
 */
export const listPanesArgs = (): ReadonlyArray<string> => [
  "list-panes",
  "-a",
  "-F",
  PANE_FORMAT,
  ";",
  "display-message",
  "-p",
  GLOBALS_MARKER,
  ...[Marks.tmuxManaged, Marks.tmuxProject].flatMap((opt) => [";", "show-options", "-gq", opt, ";", "show-options", "-gwq", opt])
]

/**
 * tmux 3.3a sometimes misses the SIGCHLD of a process that dies instantly (about 1 time in 4 on
 * this machine): the pane reads as dead with no status, the process stays a zombie, until the
 * server handles ANY later child exit, which reaps every zombie. `run-shell true` is such a child,
 * and the command queue waits for it: the list after it sees the status.
 */
export const reapThenListPanesArgs = (): ReadonlyArray<string> => ["run-shell", "true", ";", ...listPanesArgs()]

/** `set-option` commands marking a session as the project's (session-scope user options), with its stamp. */
const markCommands = (name: string, project: string, stamp: Stamp): ReadonlyArray<ReadonlyArray<string>> => {
  const t = paneTarget(name)
  return [
    ["set-option", "-t", t, Marks.tmuxManaged, Marks.managedValue.tmux],
    ["set-option", "-t", t, Marks.tmuxProject, project],
    ["set-option", "-t", t, Marks.tmuxSpec, stamp.hash],
    ["set-option", "-t", t, Marks.tmuxApplied, encodeFingerprint(stamp.fingerprint)]
  ]
}

const envArgs = (env: Readonly<Record<string, string>>): ReadonlyArray<string> =>
  Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`])

/**
 * What a pane is started with besides its spec: the tmux program (absolute path) the supervisor
 * records its bookkeeping with, from inside the pane; the directory of default log files (null:
 * none on this machine).
 */
export interface Supervisor {
  readonly tmux: string
  readonly logDir: string | null
}

/** Without a resolved path (unit tests, a host): the tmux on the pane's PATH. */
const ON_PATH: Supervisor = { tmux: "tmux", logDir: null }

/**
 * The pane's log writer (./log-writer.ts), in the same command sequence as the pane's creation:
 * tmux runs a client's queued commands before it reads the new pane, so no first line is missed.
 * A respawn replaces the pipe (a new writer appends to the same file). None with `log_file: false`.
 */
const logCommands = (spec: TmuxSpec, project: string, supervisor: Supervisor): ReadonlyArray<ReadonlyArray<string>> => {
  const target = logTargetOf(spec, project, supervisor.logDir)
  return target === null ? [] : [pipePaneCommand(paneTarget(spec.name), target, project, spec.name)]
}

/**
 * `-- ARGV` for new-session / respawn-pane: the command under kstlib's supervisor (./supervisor.ts),
 * its words passed as data. Without a command, tmux starts the user's shell, supervised only when a
 * restart policy asks for it. An unsplittable command (validation refuses it first) fails visibly.
 */
export const commandTail = (spec: TmuxSpec, supervisor: Supervisor = ON_PATH): ReadonlyArray<string> => {
  const r = commandArgv(spec)
  if (!r.ok) return ["--", "/bin/sh", "-c", "echo \"kstlib: $0\" >&2; exit 2", r.reason]
  if (r.argv === null && restartPolicy(spec) === "no") return []
  return ["--", ...supervisedArgv(spec, r.argv ?? [], supervisor.tmux)]
}

/**
 * A session (re)started by kstlib: the supervisor's bookkeeping reset, the stop mark cleared, the
 * stop settings stored for `stop`, and the `pane-died` hook of an earlier release's session removed
 * (the supervisor restarts now; both would).
 */
export const supervisionCommands = (spec: TmuxSpec): ReadonlyArray<ReadonlyArray<string>> => {
  const t = paneTarget(spec.name)
  const { signal, timeout } = stopSettingsOf(spec)
  return [
    ["set-hook", "-u", "-t", t, "pane-died"],
    // only sessions with a policy carry a count (status shows none for the others)
    restartPolicy(spec) === "no" ? ["set-option", "-u", "-t", t, Marks.tmuxRestarts] : ["set-option", "-t", t, Marks.tmuxRestarts, "0"],
    ["set-option", "-u", "-t", t, Marks.tmuxLastExit],
    ["set-option", "-u", "-t", t, Marks.tmuxPid],
    ["set-option", "-u", "-t", t, Marks.tmuxStopped],
    ["set-option", "-t", t, Marks.tmuxStop, `${signal} ${timeout}`],
    // what the supervisor of an earlier run of this pane wrote (a respawn keeps the pane's options)
    ...(spec.windows === undefined ? [Marks.tmuxRestarts, Marks.tmuxLastExit, Marks.tmuxPid].map((m) => ["set-option", "-p", "-u", "-t", t, m]) : [])
  ]
}

/** Before kstlib stops a session: marked stopped (the supervisor reads the mark before any restart), and an earlier release's restart hook removed. */
export const unsuperviseCommands = (name: string): ReadonlyArray<ReadonlyArray<string>> => [
  ["set-option", "-t", paneTarget(name), Marks.tmuxStopped, "1"],
  ["set-hook", "-u", "-t", paneTarget(name), "pane-died"]
]

/**
 * tmux expands formats in some arguments (`new-session -c`, `respawn-pane -c`): `#(…)` there would
 * RUN a shell command, `#{…}` would be replaced. `##` is a literal `#`, so config text goes in as itself.
 */
export const noFormats = (text: string): string => text.replaceAll("#", "##")

const dirArgs = (spec: TmuxSpec): ReadonlyArray<string> =>
  spec.working_dir !== null && spec.working_dir !== "" ? ["-c", noFormats(spec.working_dir)] : []

/**
 * The commands creating one session. `remain-on-exit` is set in the same command sequence as
 * `new-session`: the server runs a client's queued commands before it handles the child's exit, so
 * even `true` leaves a dead pane (verified on 3.3a with 50 instantly exiting sessions, repeatedly).
 * It is a window option set on that window only: the user's global options are never touched.
 * No -x/-y: on 3.3a an explicit size made tmux lose the output of instantly exiting commands
 * about 1 time in 30 (resize race); the default size (80x24) does not, and logs join wrapped lines.
 */
export const createCommands = (
  { spec, stamp }: Pick<Launch<TmuxSpec>, "spec" | "stamp">,
  project: string,
  supervisor: Supervisor | null = null
): ReadonlyArray<ReadonlyArray<string>> => [
  ...(spec.windows === undefined
    ? [
      [
        "new-session",
        "-d",
        "-s",
        spec.name,
        ...dirArgs(spec),
        ...envArgs(spec.env),
        ...commandTail(spec, supervisor ?? ON_PATH)
      ],
      ...logCommands(spec, project, supervisor ?? ON_PATH),
      ["set-option", "-w", "-t", paneTarget(spec.name), "remain-on-exit", "on"]
    ]
    : windowsCommands(spec, spec.windows, project, supervisor ?? ON_PATH)),
  ...markCommands(spec.name, project, stamp),
  ...supervisionCommands(spec)
]

/** Exact window target by name (`=NAME:=WINDOW`): window names are unique in a session and never numbers. */
export const windowTarget = (name: string, window: string) => `=${name}:=${window}`

/** A pane of a `windows:` session as a spec of its own: its command and directory, the session's env under its own. */
const paneSpec = (spec: TmuxSpec, pane: PaneSpec): TmuxSpec => ({
  ...spec,
  command: pane.command,
  shell: pane.shell,
  working_dir: pane.working_dir ?? spec.working_dir,
  env: { ...spec.env, ...pane.env }
})

/** A pane's `[-c DIR] [-e K=V…] -- ARGV` for new-session, new-window, split-window and respawn-pane. */
const paneTail = (spec: TmuxSpec, pane: PaneSpec, supervisor: Supervisor): ReadonlyArray<string> => {
  const p = paneSpec(spec, pane)
  return [...dirArgs(p), ...envArgs(p.env), ...commandTail(p, supervisor)]
}

/** The log writer of the pane at `at` (`WINDOW.N`'s own file); none without a log target. */
const paneLogCommands = (target: LogTarget | null, at: string, spec: TmuxSpec, window: string, pane: number, project: string | null) =>
  target === null || project === null ? [] : [pipePaneCommand(at, paneLogTarget(target, window, pane), project, `${spec.name}.${window}.${pane}`)]

/**
 * One window's commands: the window (the session's first, or a new one kept in the background),
 * then each further pane split off the last one (so the new pane is the active one, which
 * `pipe-pane` and `remain-on-exit` then target), the layout, and the focused pane (`{next}` from
 * the last pane wraps to the first). Pane numbers are never named: the user's `pane-base-index`
 * may be anything.
 */
const windowCommands = (
  spec: TmuxSpec,
  w: WindowSpec,
  first: boolean,
  project: string | null,
  supervisor: Supervisor
): ReadonlyArray<ReadonlyArray<string>> => {
  const wt = windowTarget(spec.name, w.name)
  const target = project === null ? null : logTargetOf(spec, project, supervisor.logDir)
  const out: Array<ReadonlyArray<string>> = []
  w.panes.forEach((pane, i) => {
    const tail = paneTail(spec, pane, supervisor)
    if (i === 0) out.push(first ? ["new-session", "-d", "-s", spec.name, "-n", w.name, ...tail] : ["new-window", "-d", "-t", `=${spec.name}:`, "-n", w.name, ...tail])
    else out.push(["split-window", "-t", wt, ...tail])
    if (i === 0) out.push(["set-option", "-w", "-t", wt, "remain-on-exit", "on"])
    out.push(...paneLogCommands(target, wt, spec, w.name, i, project))
  })
  if (w.panes.length > 1) out.push(["select-layout", "-t", wt, w.layout ?? "tiled"])
  else if (w.layout !== null) out.push(["select-layout", "-t", wt, w.layout])
  if (w.panes.length > 1) for (let k = 0; k <= w.focus_pane; k++) out.push(["select-pane", "-t", `${wt}.{next}`])
  return out
}

/** Every window of a `windows:` session, then the focused one selected (the first by default). */
const windowsCommands = (spec: TmuxSpec, windows: ReadonlyArray<WindowSpec>, project: string | null, supervisor: Supervisor) => {
  const focus = windows.find((w) => w.focus) ?? windows[0]!
  return [
    ...windows.flatMap((w, i) => windowCommands(spec, w, i === 0, project, supervisor)),
    ["select-window", "-t", windowTarget(spec.name, focus.name)]
  ]
}

/** A changed pane's field, as the drift diff names it (spec/diff.ts). */
const PANE_CHANGE = /^windows\.(.+)\.panes\[(\d+)\]\.(?:command|shell|working_dir|env\..+)$/u

/** The panes a replace respawns in place: every change is to a pane's command, directory or env; else null (the session is replaced). */
export const panesToRespawn = (changes: ReadonlyArray<{ readonly field: string }>): ReadonlyArray<{ readonly window: string; readonly pane: number }> | null => {
  if (changes.length === 0) return null
  const out: Array<{ window: string; pane: number }> = []
  for (const c of changes) {
    const m = PANE_CHANGE.exec(c.field)
    if (m === null) return null
    if (!out.some((p) => p.window === m[1] && p.pane === Number(m[2]))) out.push({ window: m[1]!, pane: Number(m[2]) })
  }
  return out
}

/**
 * Respawns the changed panes of a `windows:` session where they are (`indexOf`: each pane's tmux
 * index, from a listing: the user's `pane-base-index` may be anything), with their log writer and
 * fresh bookkeeping, and stamps the session with the new spec. The other panes run on untouched.
 */
export const respawnPanesCommands = (
  { spec, stamp }: Pick<Launch<TmuxSpec>, "spec" | "stamp">,
  panes: ReadonlyArray<{ readonly window: string; readonly pane: number; readonly index: number }>,
  project: string,
  supervisor: Supervisor | null = null
): ReadonlyArray<ReadonlyArray<string>> => {
  const sup = supervisor ?? ON_PATH
  const target = logTargetOf(spec, project, sup.logDir)
  return [
    ...panes.flatMap(({ window, pane, index }) => {
      const w = spec.windows?.find((x) => x.name === window)
      const p = w?.panes[pane]
      if (p === undefined) return []
      const t = `${windowTarget(spec.name, window)}.${index}`
      return [
        ["respawn-pane", "-k", "-t", t, ...paneTail(spec, p, sup)],
        ...paneLogCommands(target, t, spec, window, pane, project),
        ...[Marks.tmuxRestarts, Marks.tmuxLastExit, Marks.tmuxPid].map((m) => ["set-option", "-p", "-u", "-t", t, m])
      ]
    }),
    ...markCommands(spec.name, project, stamp)
  ]
}

/** Respawns the pane in place (killing what still runs there) and refreshes the marks (unless told not to: a foreign session stays foreign). */
export const respawnCommands = (
  spec: TmuxSpec,
  mark: { readonly project: string; readonly stamp: Stamp } | null,
  supervisor: Supervisor | null = null
): ReadonlyArray<ReadonlyArray<string>> =>
  spec.windows === undefined ? respawnOne(spec, mark, supervisor) : [
    // a `windows:` session is made again whole, in one command sequence: its panes, layouts and focus as configured
    ["kill-session", "-t", sessionTarget(spec.name)],
    ...windowsCommands(spec, spec.windows, mark?.project ?? null, supervisor ?? ON_PATH),
    ...(mark === null ? [] : [...markCommands(spec.name, mark.project, mark.stamp), ...supervisionCommands(spec)])
  ]

const respawnOne = (
  spec: TmuxSpec,
  mark: { readonly project: string; readonly stamp: Stamp } | null,
  supervisor: Supervisor | null
): ReadonlyArray<ReadonlyArray<string>> => [
  [
    "respawn-pane",
    "-k",
    "-t",
    paneTarget(spec.name),
    ...dirArgs(spec),
    ...envArgs(spec.env),
    ...commandTail(spec, supervisor ?? ON_PATH)
  ],
  // a foreign session's output is not ours to write down
  ...(mark === null ? [] : logCommands(spec, mark.project, supervisor ?? ON_PATH)),
  ["set-option", "-w", "-t", paneTarget(spec.name), "remain-on-exit", "on"],
  ...(mark === null ? [] : [...markCommands(spec.name, mark.project, mark.stamp), ...supervisionCommands(spec)])
]

/**
 * Quotes one argument for tmux's command parser (the config-file syntax `source-file` reads):
 * inside double quotes, with every character that the parser would replace or expand
 * (`$VAR`, a leading `~`, `\` escapes) escaped, and control characters written as escapes.
 * `\c` is `c` for any other character, so escaping more than needed is harmless.
 */
export const quoteArg = (arg: string): string => {
  let out = ""
  for (const ch of arg) {
    const code = ch.codePointAt(0)!
    if (ch === "\n") out += "\\n"
    else if (ch === "\r") out += "\\r"
    else if (ch === "\t") out += "\\t"
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(8).padStart(3, "0")}`
    else if (`\\"$~#{};%'`.includes(ch)) out += `\\${ch}`
    else out += ch
  }
  return `"${out}"`
}

/**
 * A command script for `source-file -`: one line per session, its commands joined with ` ; `.
 * tmux runs every line even when one fails, but a failing command skips the rest of ITS line
 * (verified: a duplicate `new-session` does not mark the existing session as ours).
 */
export const script = (lines: ReadonlyArray<ReadonlyArray<ReadonlyArray<string>>>): string =>
  lines.map((cmds) => cmds.map((c) => c.map(quoteArg).join(" ")).join(" ; ")).join("\n") + "\n"

/**
 * ONE invocation running a script read from stdin: no argv size limit (tmux refuses a command
 * line over ~16 KB, about 40 sessions' worth). `start-server` because source-file needs a server.
 */
export const scriptArgs = (): ReadonlyArray<string> => ["start-server", ";", "source-file", "-"]

/** Last `lines` lines of the pane, history included, wrapped lines joined. */
export const captureArgs = (name: string, lines: number, colors: boolean): ReadonlyArray<string> => [
  "capture-pane",
  "-p",
  "-J",
  ...(colors ? ["-e"] : []),
  "-S",
  `-${Math.max(0, Math.floor(lines))}`,
  "-t",
  paneTarget(name)
]

/** Panes of one session (all windows), for stop: pane id, its process, whether that is gone, the command's pid and the stop settings. */
export const PANE_STATE_FORMAT = ["#{pane_id}", "#{window_index}", "#{pane_index}", "#{pane_dead}", "#{pane_pid}", `#{${Marks.tmuxPid}}`, `#{${Marks.tmuxStop}}`].join(SEP)
export const sessionPanesArgs = (name: string): ReadonlyArray<string> => [
  "list-panes",
  "-s",
  "-t",
  // `=NAME` alone is read as a window target here and falls back to other sessions
  // (`=astro` found `astro-dev`); `=NAME:` is exact.
  paneTarget(name),
  "-F",
  PANE_STATE_FORMAT
]

/**
 * One follow poll in ONE invocation: the cursor column and whether the pane is dead, then the whole
 * history and screen. (A failing capture — session gone — fails the invocation.)
 */
export const followPollArgs = (name: string): ReadonlyArray<string> => [
  "display-message",
  "-p",
  "-t",
  paneTarget(name),
  ["#{cursor_x}", "#{pane_dead}"].join(SEP),
  ";",
  "capture-pane",
  "-p",
  "-J",
  "-S",
  "-",
  "-t",
  paneTarget(name)
]

export const sendKeysArgs = (name: string, keys: string, enter: boolean): ReadonlyArray<string> => [
  "send-keys",
  "-t",
  paneTarget(name),
  // `--`: keys starting with `-` are keys, not flags
  "--",
  escapeArg(keys),
  ...(enter ? ["Enter"] : [])
]
