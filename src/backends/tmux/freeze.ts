/**
 * `ops freeze` on tmux, pure: one listing of every pane (its window, layout, start command and
 * directory) and each session's own environment keys, turned into config entries. A session of
 * kstlib's own is frozen from the fingerprint it was stamped with (spec/thaw.ts) instead.
 */
import { validateCommand } from "../../config/rules.js"
import type { Frozen } from "../driver.js"
import { SEP } from "./argv.js"

export const FREEZE_FIELDS = [
  "#{session_name}",
  "#{window_index}",
  "#{window_name}",
  "#{window_layout}",
  "#{window_active}",
  "#{pane_index}",
  "#{pane_active}",
  "#{pane_current_path}",
  "#{pane_start_command}"
] as const

const ENV_MARKER = "=kstlib-env="

/** tmux fills these in from the client (`update-environment`): not the session's own settings. */
const CLIENT_ENV = new Set(["DISPLAY", "KRB5CCNAME", "SSH_ASKPASS", "SSH_AUTH_SOCK", "SSH_AGENT_PID", "SSH_CONNECTION", "WINDOWID", "XAUTHORITY"])

/** ONE call: every pane, then each named session's environment after a marker line. */
export const freezeArgs = (names: ReadonlyArray<string>): ReadonlyArray<string> => [
  "list-panes",
  "-a",
  "-F",
  FREEZE_FIELDS.join(SEP),
  ...names.flatMap((n) => [";", "display-message", "-p", `${ENV_MARKER}${n}`, ";", "show-environment", "-t", `=${n}`])
]

interface PaneRow {
  readonly session: string
  readonly window: number
  readonly windowName: string
  readonly layout: string
  readonly windowActive: boolean
  readonly pane: number
  readonly paneActive: boolean
  readonly dir: string
  readonly command: string
}


/** tmux's start command as kstlib's: words when kstlib's own rules take them, else a shell line. */
const commandFields = (text: string): Record<string, unknown> => {
  // tmux shows an argv start command with its words quoted for a shell
  const t = text.replace(/^"(.*)"$/su, "$1").trim()
  if (t === "") return {}
  return validateCommand(t) === null ? { command: t } : { command: t, shell: true }
}

const windowName = (raw: string, i: number, taken: Set<string>): string => {
  let base = raw.replace(/[^A-Za-z0-9_.-]/gu, "-").replace(/^[^A-Za-z_]+/u, "").slice(0, 32) || `window-${i + 1}`
  if (!/^[A-Za-z_]/u.test(base)) base = `w-${base}`
  let name = base
  for (let k = 2; taken.has(name); k++) name = `${base.slice(0, 28)}-${k}`
  taken.add(name)
  return name
}

/** The listing → one frozen entry per named session found in it (on `socket`). */
export const parseFreeze = (stdout: string, names: ReadonlyArray<string>, socket: string | null): ReadonlyMap<string, Frozen> => {
  const lines = stdout.split("\n")
  const panes: Array<PaneRow> = []
  const env = new Map<string, Array<string>>()
  let current: string | null = null
  for (const line of lines) {
    if (line.startsWith(ENV_MARKER)) {
      current = line.slice(ENV_MARKER.length)
      env.set(current, [])
      continue
    }
    if (current !== null) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=/u.exec(line)
      if (m !== null && !CLIENT_ENV.has(m[1]!)) env.get(current)!.push(m[1]!)
      continue
    }
    const f = line.split(SEP)
    if (f.length !== FREEZE_FIELDS.length) continue
    panes.push({
      session: f[0]!,
      window: Number(f[1]),
      windowName: f[2]!,
      layout: f[3]!,
      windowActive: f[4] === "1",
      pane: Number(f[5]),
      paneActive: f[6] === "1",
      dir: f[7]!,
      command: f[8]!
    })
  }
  const out = new Map<string, Frozen>()
  for (const name of names) {
    const mine = panes.filter((p) => p.session === name).sort((a, b) => a.window - b.window || a.pane - b.pane)
    if (mine.length === 0) continue
    const keys = env.get(name) ?? []
    const base: Record<string, unknown> = {
      backend: "tmux",
      ...(socket === null ? {} : { socket_name: socket }),
      ...(keys.length === 0 ? {} : { env: Object.fromEntries(keys.map((k) => [k, `\${${k}}`])) })
    }
    const windows = [...new Set(mine.map((p) => p.window))]
    if (mine.length === 1) {
      const p = mine[0]!
      out.set(name, { entry: { ...base, ...commandFields(p.command), ...(p.dir === "" ? {} : { working_dir: p.dir }) }, notes: [] })
      continue
    }
    const taken = new Set<string>()
    const first = mine[0]!.dir
    out.set(name, {
      entry: {
        ...base,
        ...(first === "" ? {} : { working_dir: first }),
        windows: windows.map((w, i) => {
          const ps = mine.filter((p) => p.window === w)
          const head = ps[0]!
          const focusPane = ps.findIndex((p) => p.paneActive)
          return {
            name: windowName(head.windowName, i, taken),
            panes: ps.map((p, j) => ({
              ...commandFields(p.command),
              ...(p.dir === "" || p.dir === first ? {} : { working_dir: p.dir }),
              ...(ps.length > 1 && j === focusPane ? { focus: true } : {})
            })),
            ...(ps.length > 1 ? { layout: head.layout } : {}),
            ...(head.windowActive && windows.length > 1 ? { focus: true } : {})
          }
        })
      },
      notes: []
    })
  }
  return out
}
