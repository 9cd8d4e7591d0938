/**
 * Where a session's output is also written, pure: its log file (`log_file:`, else
 * `LogDirectory/PROJECT/NAME.log`) and rotation. I/O on the files: ./files.ts.
 */
import * as path from "node:path"
import { Context } from "effect"
import type { Logged } from "../model.js"
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

/** A container's label read back; absent (created before log files): the default file of its project. */
export const fromLogLabel = (label: string | undefined, project: string, name: string, dir: string | null): LogTarget | null => {
  if (label === undefined || label === "") return dir === null ? null : { path: defaultLogPath(dir, project, name), remote: false, maxSize: DEFAULT_LOG_MAX_SIZE, keep: DEFAULT_LOG_KEEP }
  const m = /^(\d+):(\d+):(\/.*)$/su.exec(label)
  return m === null ? null : { path: m[3]!, remote: false, maxSize: Number(m[1]), keep: Math.min(Number(m[2]), 100) }
}
