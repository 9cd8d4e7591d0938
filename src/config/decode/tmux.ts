/** A tmux entry, decoded by its schema, into a TmuxSpec: its start directory and socket. */
import * as path from "node:path"
import type { PaneSpec, TmuxSpec, WindowSpec } from "../../model.js"
import { validateCommand } from "../rules.js"
import type { TmuxSession } from "../schema.js"
import type { EntryContext, FieldPath, Report, Shared } from "./common.js"
import { expandHome } from "./common.js"
import { existsButNotDirectory } from "./paths.js"

type Decoded = typeof TmuxSession.Type

/** A start directory: absolute on a host (unchecked), else resolved against the config file and checked. */
const directoryOf = (raw: string | null | undefined, at: FieldPath, host: string | undefined, ctx: EntryContext, report: Report): string | null => {
  if (raw === undefined || raw === null) return null
  if (host !== undefined) {
    // a directory on the host: taken as written, never resolved or checked on this machine
    if (!raw.startsWith("/")) report(at, "must be an absolute path on a remote host")
    return raw
  }
  const expanded = expandHome(ctx, report)(at, raw)
  const dir = expanded === null ? null : path.resolve(ctx.baseDirOf(at), expanded)
  // tmux silently starts in another directory when -c names a file
  if (dir !== null && existsButNotDirectory(dir)) report(at, `not a directory: ${dir}`)
  return dir
}

const envOf = (env: Readonly<Record<string, string | number | boolean>> | null | undefined): Readonly<Record<string, string>> =>
  Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, String(v)]))

/** A pane's command: the deep check (unquoted `;`, `|`, `sh -c`…) unless the pane says `shell: true`. */
const paneOf = (
  raw: { readonly command?: string | null | undefined; readonly shell?: boolean | undefined; readonly working_dir?: string | null | undefined; readonly env?: Readonly<Record<string, string | number | boolean>> | null | undefined },
  at: FieldPath,
  host: string | undefined,
  ctx: EntryContext,
  report: Report
): PaneSpec => {
  const shell = raw.shell ?? false
  const command = raw.command ?? null
  if (command !== null && !shell) {
    const reason = validateCommand(command)
    if (reason !== null) report([...at, "command"], reason)
  }
  return { command, shell, working_dir: directoryOf(raw.working_dir, [...at, "working_dir"], host, ctx, report), env: envOf(raw.env) }
}

/** `windows:`: names unique, one `command` or `panes` per window, at most one focus (window, pane in a window). */
const windowsOf = (v: Decoded, host: string | undefined, ctx: EntryContext, report: Report): ReadonlyArray<WindowSpec> | null => {
  if (v.windows === undefined || v.windows === null) return null
  if (v.command !== undefined && v.command !== null) report(["command"], "a session with windows has no command of its own: give each window (or pane) its command")
  const seen = new Set<string>()
  const windows = v.windows.map((w, i): WindowSpec => {
    const at: FieldPath = ["windows", i]
    if (seen.has(w.name)) report([...at, "name"], `window '${w.name}' is defined twice`)
    seen.add(w.name)
    let panes: Array<PaneSpec>
    let focus_pane = 0
    if (w.panes !== undefined) {
      if (w.command !== undefined && w.command !== null) report([...at, "command"], "a window has either command or panes, not both")
      if (w.shell !== undefined) report([...at, "shell"], "with panes, shell goes on each pane")
      const focused = w.panes.flatMap((p, j) => (p !== null && typeof p === "object" && p.focus === true ? [j] : []))
      if (focused.length > 1) report([...at, "panes", focused[1]!, "focus"], "only one pane of a window has focus")
      focus_pane = focused[0] ?? 0
      // the window's directory and env are its panes' defaults (session < window < pane, as tmux layers them)
      const dir = directoryOf(w.working_dir, [...at, "working_dir"], host, ctx, report)
      const env = envOf(w.env)
      panes = w.panes.map((p, j) => {
        const pane = paneOf(p === null ? {} : typeof p === "string" ? { command: p } : p, [...at, "panes", j], host, ctx, report)
        return { ...pane, working_dir: pane.working_dir ?? dir, env: { ...env, ...pane.env } }
      })
    } else {
      panes = [paneOf(w, at, host, ctx, report)]
    }
    return { name: w.name, panes, layout: w.layout ?? null, focus: w.focus === true, focus_pane }
  })
  const focused = v.windows.flatMap((w, i) => (w.focus === true ? [i] : []))
  if (focused.length > 1) report(["windows", focused[1]!, "focus"], "only one window has focus")
  return windows
}

export const tmuxSpecOf = (
  name: string,
  v: typeof TmuxSession.Type,
  shared: Shared,
  ctx: EntryContext,
  report: Report
): TmuxSpec => {
  const { hostRuntime: _, ...common } = shared
  const working_dir = directoryOf(v.working_dir, ["working_dir"], common.host, ctx, report)
  const windows = windowsOf(v, common.host, ctx, report)
  // a shell cannot name `a.b`: dotted keys are for containers
  const dotted = (at: FieldPath, env: Readonly<Record<string, string>>) => {
    for (const key of Object.keys(env)) if (key.includes(".")) report(at, `env key '${key}': keys with dots are for container sessions only (a shell cannot name them)`)
  }
  dotted(["env"], common.env)
  if (common.restart === "unless-stopped") report(["restart"], "unless-stopped is a container engine's policy: a tmux session takes no, on-failure or always (a stop through kstlib is never undone anyway)")
  for (const [i, w] of (windows ?? []).entries()) for (const p of w.panes) dotted(["windows", i, "env"], p.env)
  return { backend: "tmux", name, ...common, working_dir, socket_name: v.socket_name ?? null, ...(windows === null ? {} : { windows }) }
}
