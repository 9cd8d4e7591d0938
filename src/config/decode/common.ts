/**
 * What every session entry has, whatever its backend: the command (checked on its words), the
 * environment (`env` over `env_file`s), supervision, the machine it runs on, and `~` in paths.
 */
import * as path from "node:path"
import type { DeclaredNetwork, HostRuntime, Logged, ReadySpec, RuntimeName, Supervision, Watched } from "../../model.js"
import { DEFAULT_READY_INTERVAL, DEFAULT_READY_TIMEOUT } from "../../model.js"
import { parseByteSize, parseLogSize } from "../rules.js"
import { expandTilde, quoteWord } from "../../command.js"
import { hostField } from "../../place.js"
import { validateCommand, validateDependencies, validateEnvCount, validateEnvTotal } from "../rules.js"
import type { SessionCommon } from "../schema.js"
import { readEnvFile } from "./env-files.js"
import { existsButNotDirectory, userHome } from "./paths.js"

export type FieldPath = ReadonlyArray<PropertyKey>

/** Where a decoder reports: one located issue per call. */
export type Report = (at: FieldPath, reason: string) => void

/** What a decoder knows of the entry's surroundings. */
export interface EntryContext {
  /** Expands a leading `~` in paths; without it such paths are refused. */
  readonly home: string | undefined
  /** The directory relative paths at this field are resolved against (the file that wrote it). */
  readonly baseDirOf: (at: FieldPath) => string
  /** `ops.hosts` names with each host's container engine. */
  readonly hosts: ReadonlyMap<string, HostRuntime>
  /** `ops.container_runtime`: the engine of local container sessions without `runtime:` (null: auto-detect). */
  readonly containerRuntime: RuntimeName | null
  /** `ops.networks` by name (a session's `networks:` names them). */
  readonly networks: ReadonlyMap<string, DeclaredNetwork>
  /** `ops.volumes` names (a session's named volumes may be declared there). */
  readonly volumes: ReadonlySet<string>
  /** The project (a built image's default tag). */
  readonly project: string
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * The deep check of a command (unquoted `;`, `|`, redirections, `eval`, `sh -c`…) depends on
 * `shell`; it runs on commands the schema's own check passed (`command`, and `ready.cmd`).
 */
export const checkCommandWords = (body: Readonly<Record<string, unknown>>, report: Report): void => {
  const check = (raw: unknown, at: FieldPath) => {
    if (typeof raw === "string" && body["shell"] !== true && validateCommand(raw, { shell: true }) === null) {
      const reason = validateCommand(raw)
      if (reason !== null) report(at, reason)
    }
  }
  check(body["command"], ["command"])
  const ready = body["ready"]
  if (isRecord(ready)) check(ready["cmd"], ["ready", "cmd"])
}

/** A leading `~` of a path expanded with HOME (refused without one). */
export const expandHome = (ctx: EntryContext, report: Report) => (at: FieldPath, value: string): string | null => {
  if (value !== "~" && !value.startsWith("~/")) return value
  if (ctx.home === undefined) {
    report(at, "cannot expand '~': HOME is not set")
    return null
  }
  return path.join(ctx.home, value.slice(1))
}

type Decoded = typeof SessionCommon.Type

/** A list of words as one command text whose split gives those words back (src/command.ts). */
export const wordsAsCommand = (words: ReadonlyArray<string>): string => words.map((w) => (w === "" ? "''" : quoteWord(w))).join(" ")

/** The restart policy's timings: meaningful only with a policy, and applied by kstlib's tmux supervisor only. */
export const RESTART_TIMINGS = ["restart_delay", "max_backoff", "min_uptime"] as const

/** The supervision fields, only those not at their default (a spec without them means the defaults). */
const supervisionOf = (v: Decoded, report: Report): Supervision => {
  const restart = v.restart ?? "no"
  const max_restarts = v.max_restarts ?? null
  if (max_restarts !== null && restart === "no") report(["max_restarts"], "max_restarts needs restart: on-failure or always")
  for (const key of RESTART_TIMINGS) {
    if (v[key] !== undefined && restart === "no") report([key], `${key} needs restart: on-failure or always`)
  }
  let ready: ReadySpec | null = null
  if (v.ready !== undefined && v.ready !== null) {
    const r = v.ready
    const timeout = r.timeout ?? DEFAULT_READY_TIMEOUT
    const interval = r.interval ?? DEFAULT_READY_INTERVAL
    if (interval > timeout) report(["ready", "interval"], `interval (${interval} s) is longer than timeout (${timeout} s)`)
    const check = r.tcp !== undefined ? { tcp: r.tcp } : r.http !== undefined ? { http: r.http } : r.log !== undefined ? { log: r.log } : { cmd: r.cmd! }
    ready = { ...check, timeout, interval }
  }
  const depends_on = v.depends_on ?? []
  return {
    ...(restart === "no" ? {} : { restart }),
    ...(max_restarts === null ? {} : { max_restarts }),
    ...(v.restart_delay === undefined ? {} : { restart_delay: v.restart_delay }),
    ...(v.max_backoff === undefined ? {} : { max_backoff: v.max_backoff }),
    ...(v.min_uptime === undefined ? {} : { min_uptime: v.min_uptime }),
    ...(v.stop_signal === undefined ? {} : { stop_signal: v.stop_signal }),
    ...(v.stop_timeout === undefined ? {} : { stop_timeout: v.stop_timeout }),
    ...(ready === null ? {} : { ready }),
    ...(depends_on.length === 0 ? {} : { depends_on })
  }
}

/** `env` over the `env_file`s (later files win, `env` wins over them all, as in docker compose), checked together. */
const environmentOf = (v: Decoded, ctx: EntryContext, report: Report): Readonly<Record<string, string>> => {
  const written = v.env ?? {}
  const explicit = Array.isArray(written)
    ? Object.fromEntries(written.map((item) => [item.slice(0, item.indexOf("=")), item.slice(item.indexOf("=") + 1)]))
    : Object.fromEntries(Object.entries(written).map(([k, x]) => [k, String(x)]))
  const files = v.env_file === undefined || v.env_file === null ? [] : typeof v.env_file === "string"
    ? [{ file: v.env_file, at: ["env_file"] as FieldPath }]
    : v.env_file.map((file, i) => ({ file, at: ["env_file", i] as FieldPath }))
  const fromFiles: Record<string, string> = {}
  let problem = false
  for (const { file, at } of files) {
    const expanded = expandHome(ctx, report)(at, file)
    if (expanded === null) {
      problem = true
      continue
    }
    const read = readEnvFile(path.resolve(ctx.baseDirOf(at), expanded))
    for (const reason of read.problems) report(at, reason)
    if (read.problems.length > 0) problem = true
    Object.assign(fromFiles, read.env)
  }
  const env: Record<string, string> = { ...fromFiles, ...explicit }
  if (files.length > 0 && !problem) {
    const count = validateEnvCount(Object.keys(env).length)
    if (count !== null) report(files[0]!.at, `${count} (env and env_file together)`)
  }
  if (!problem) {
    const total = validateEnvTotal(env)
    if (total !== null) report(files.length > 0 ? files[0]!.at : ["env"], total)
  }
  return env
}

/** `cron_restart` and `max_memory` (in bytes), only when set (the schema checked both). */
const watchedOf = (v: Decoded): Watched => {
  const bytes = v.max_memory === undefined || v.max_memory === null ? null : parseByteSize(v.max_memory)
  return {
    ...(v.cron_restart === undefined || v.cron_restart === null ? {} : { cron_restart: v.cron_restart.trim() }),
    ...(typeof bytes === "number" ? { max_memory: bytes } : {})
  }
}

/**
 * `log_file` (resolved against the config file here; absolute and unchecked on a host, where it
 * is written), `log_max_size` in bytes, `log_keep`: only when set.
 */
const loggedOf = (v: Decoded, host: string | null, ctx: EntryContext, report: Report): Logged => {
  let log_file: string | false | null = null
  if (v.log_file === false) log_file = false
  else if (typeof v.log_file === "string") {
    const expanded = host === null ? expandHome(ctx, report)(["log_file"], v.log_file) : v.log_file
    if (expanded !== null) {
      if (host !== null && !path.isAbsolute(expanded)) report(["log_file"], `must be an absolute path on host '${host}'`)
      else {
        const file = host === null ? path.resolve(ctx.baseDirOf(["log_file"]), expanded) : path.normalize(expanded)
        if (host === null && existsButNotDirectory(path.dirname(file))) report(["log_file"], `'${path.dirname(file)}' is not a directory`)
        else log_file = file
      }
    }
  }
  const size = v.log_max_size === undefined || v.log_max_size === null ? null : parseLogSize(v.log_max_size)
  return {
    ...(log_file === null ? {} : { log_file }),
    ...(typeof size === "number" ? { log_max_size: size } : {}),
    ...(v.log_keep === undefined || v.log_keep === null ? {} : { log_keep: v.log_keep })
  }
}

/** The fields both backends share, resolved. */
export interface Shared extends Supervision {
  readonly command: string | null
  readonly shell: boolean
  readonly env: Readonly<Record<string, string>>
  readonly state: "running" | "stopped"
  readonly host?: string
  /** The container engine of its host (null: this machine, or an unknown host, already reported). */
  readonly hostRuntime: HostRuntime | null
}

export const sharedOf = (name: string, v: Decoded, backend: "tmux" | "container", ctx: EntryContext, report: Report): Shared => {
  const supervision = supervisionOf(v, report)
  const depsReason = validateDependencies(name, supervision.depends_on ?? [])
  if (depsReason !== null) report(["depends_on"], depsReason)
  const host = v.host ?? null
  const hostRuntime = host === null ? null : ctx.hosts.get(host) ?? null
  if (host !== null && hostRuntime === null) {
    const known = [...ctx.hosts.keys()]
    report(["host"], `unknown host '${host}' (${known.length === 0 ? "no ops.hosts defined" : `ops.hosts has: ${known.join(", ")}`})`)
  }
  // tcp/http probes connect from this machine and a tmux cmd runs here: on a host they would check
  // the wrong machine, so only what reaches the session itself is allowed there
  const r = supervision.ready
  if (host !== null && r !== undefined && r !== null && ("tcp" in r || "http" in r || ("cmd" in r && backend === "tmux"))) {
    const kind = "tcp" in r ? "tcp" : "http" in r ? "http" : "cmd"
    report(["ready", kind], `ready.${kind} would check this machine, not host '${host}'; use ready.log${backend === "container" ? " or ready.cmd (run in the container)" : ""}`)
  }
  const shell = v.shell ?? false
  // a leading `~` of a word: expanded where the words run on this machine (the original's sh -c did),
  // refused where that home directory is unknown (in a container, on a host)
  const tilde = (at: FieldPath, text: string, elsewhere: string | null): string => {
    if (shell) return text
    const t = expandTilde(text, (user) => (elsewhere !== null ? undefined : user === "" ? ctx.home : userHome(user)))
    if (t.ok) return t.text
    report(
      at,
      elsewhere === null
        ? t.reason
        : `'~' is not expanded here: no shell runs this command, and the home directory ${elsewhere} is not known to kstlib; write the absolute path, or set shell: true so that the shell there expands it`
    )
    return text
  }
  const runsElsewhere = host !== null ? `on host '${host}'` : backend === "container" ? "in the container" : null
  if (Array.isArray(v.command) && shell) report(["shell"], "a command written as a list is its argv, run without a shell: write it as a string with shell: true")
  // a list: its words exactly, each quoted back into the one command text every backend splits the same way
  const command = v.command === undefined || v.command === null
    ? null
    : typeof v.command === "string" ? tilde(["command"], v.command, runsElsewhere) : wordsAsCommand(v.command)
  const ready = r !== undefined && r !== null && "cmd" in r
    ? { ready: { ...r, cmd: tilde(["ready", "cmd"], r.cmd, backend === "container" ? "in the container" : runsElsewhere) } }
    : {}
  return {
    command,
    shell,
    env: environmentOf(v, ctx, report),
    state: v.state ?? "running",
    ...supervision,
    ...watchedOf(v),
    ...loggedOf(v, host, ctx, report),
    ...ready,
    ...hostField(host),
    hostRuntime
  }
}
