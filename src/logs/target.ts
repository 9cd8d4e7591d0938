/**
 * Where a session's output is also written, pure: its log file (`log_file:`, else
 * `LogDirectory/PROJECT/NAME.log`) and rotation. I/O on the files: ./files.ts.
 */
import * as path from "node:path"
import { Context } from "effect"
import type { BackendKind, Logged, WindowSpec } from "../model.js"
import { DEFAULT_LOG_KEEP, DEFAULT_LOG_MAX_SIZE } from "../model.js"
import { stateDir } from "../spec/digest-key.js"

/** The directory of default log files (`$XDG_STATE_HOME/kstlib/logs`); null: no HOME, no default file. */
export const LogDirectory = Context.Reference<string | null>("kstlib/LogDirectory", {
  defaultValue: () => {
    const dir = stateDir()
    return dir === null ? null : path.join(dir, "logs")
  }
})

/** One session's log file and its rotation. */
export interface LogTarget {
  /** Absolute on this machine; null with `remote`: the default place on the host. */
  readonly path: string | null
  /** Written on a host (tmux over SSH), not here. */
  readonly remote: boolean
  readonly maxSize: number
  readonly keep: number
}

/** The default file of a session: `DIR/PROJECT/NAME.log`. */
export const defaultLogPath = (dir: string, project: string, name: string) => path.join(dir, project, `${name}.log`)

/** The session's log target; null: `log_file: false`, or no place for the default one. */
export const logTargetOf = (
  spec: Logged & { readonly name: string; readonly host?: string | undefined },
  project: string,
  dir: string | null
): LogTarget | null => {
  const rotation = { maxSize: spec.log_max_size ?? DEFAULT_LOG_MAX_SIZE, keep: spec.log_keep ?? DEFAULT_LOG_KEEP }
  if (spec.log_file === false) return null
  if (spec.host !== undefined) return { path: spec.log_file ?? null, remote: true, ...rotation }
  const file = spec.log_file ?? (dir === null ? null : defaultLogPath(dir, project, spec.name))
  return file === null ? null : { path: file, remote: false, ...rotation }
}


/**
 * A container's log file: on this machine whatever machine runs the container (kstlib writes it
 * when it removes the container). Carried on the container as its `io.kstlib.log` label
 * (`MAX:KEEP:PATH`, or `off`), so a removal needs no config.
 */
export const containerLogTarget = (spec: Logged & { readonly name: string }, project: string, dir: string | null): LogTarget | null =>
  logTargetOf({ ...spec, host: undefined }, project, dir)

export const logLabel = (target: LogTarget | null): string =>
  target === null || target.path === null ? "off" : `${target.maxSize}:${target.keep}:${target.path}`

/** A project or session name as a path part: no separator, no `..` (both come from a container's labels). */
const SAFE_PART = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/u
const safePart = (s: string) => SAFE_PART.test(s) && !s.includes("..")

/**
 * A container's label read back; absent (created before log files): the default file of its
 * project. The label is the container's, which whoever runs the engine can write: the path it
 * names is used only for a container on this machine (whose engine can write any file here
 * anyway), never for one on a host, and the project and name must be plain names.
 */
export const fromLogLabel = (label: string | undefined, project: string, name: string, dir: string | null, remote: boolean): LogTarget | null => {
  if (!safePart(project) || !safePart(name)) return null
  const fallback = dir === null ? null : defaultLogPath(dir, project, name)
  if (label === undefined || label === "") {
    return fallback === null ? null : { path: fallback, remote: false, maxSize: DEFAULT_LOG_MAX_SIZE, keep: DEFAULT_LOG_KEEP }
  }
  if (label === "off") return null
  const m = /^(\d+):(\d+):(.*)$/su.exec(label)
  if (m === null) return null
  const rotation = { maxSize: Math.max(Number(m[1]), 4096), keep: Math.min(Number(m[2]), 100) }
  if (remote) return fallback === null ? null : { path: fallback, remote: false, ...rotation }
  const file = m[3]!
  return path.isAbsolute(file) && path.normalize(file) === file ? { path: file, remote: false, ...rotation } : null
}

/** A pane's own file in a `windows:` session: `NAME.WINDOW.N.log` next to the session's (N: the pane's place in its window, from 0). */
export const paneLogName = (file: string, window: string, pane: number): string =>
  file.endsWith(".log") ? `${file.slice(0, -4)}.${window}.${pane}.log` : `${file}.${window}.${pane}.log`

export const paneLogTarget = (target: LogTarget, window: string, pane: number): LogTarget =>
  target.path === null ? target : { ...target, path: paneLogName(target.path, window, pane) }

/** One log file of a session: a pane's of a `windows:` session is labelled `WINDOW.N`. */
export interface LogFile {
  readonly label: string | null
  readonly path: string
}

/**
 * The log files of a session on this machine (whether they exist or not): its file, or one per pane
 * of a `windows:` session; none when it has no file here (`log_file: false`, a tmux session on a host).
 * A container's file is here wherever it runs (containerLogTarget).
 */
export const sessionLogFiles = (
  spec: Logged & { readonly name: string; readonly host?: string | undefined; readonly backend?: BackendKind; readonly windows?: ReadonlyArray<WindowSpec> | undefined },
  project: string,
  dir: string | null
): ReadonlyArray<LogFile> => {
  const target = spec.backend === "container" ? containerLogTarget(spec, project, dir) : logTargetOf(spec, project, dir)
  if (target === null || target.remote || target.path === null) return []
  const file = target.path
  return spec.windows === undefined
    ? [{ label: null, path: file }]
    : spec.windows.flatMap((w) => w.panes.map((_, i) => ({ label: `${w.name}.${i}`, path: paneLogName(file, w.name, i) })))
}

/** A log file on a host: `arg` is its path there, or `PROJECT/NAME` in the host's default place (NAME without `.log`). */
export interface HostLogFile {
  readonly label: string | null
  readonly arg: string
}

/**
 * The log files a tmux session on a host has there (its pane's writer writes them on the host):
 * its file, or one per pane of a `windows:` session; none without a host or with `log_file: false`.
 */
export const hostLogFiles = (
  spec: Logged & { readonly name: string; readonly host?: string | undefined; readonly backend?: BackendKind; readonly windows?: ReadonlyArray<WindowSpec> | undefined },
  project: string
): ReadonlyArray<HostLogFile> => {
  if (spec.host === undefined || spec.backend === "container" || spec.log_file === false) return []
  const file = spec.log_file ?? null
  return spec.windows === undefined
    ? [{ label: null, arg: file ?? `${project}/${spec.name}` }]
    : spec.windows.flatMap((w) => w.panes.map((_, i) => ({ label: `${w.name}.${i}`, arg: file === null ? `${project}/${spec.name}.${w.name}.${i}` : paneLogName(file, w.name, i) })))
}
