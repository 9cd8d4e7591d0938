/**
 * One session entry → a valid SessionSpec or a rejected entry with every issue located. Used by the
 * loader for each `ops.sessions.<name>` and by the CLI for a spec built from config + overrides, so
 * both go through exactly the same rules.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Result, Schema, SchemaIssue } from "effect"
import { type ConfigIssue, escapeText } from "../errors.js"
import type { BackendKind, ConfiguredContainerSpec, ConfiguredSpec, HostRuntime, HostSpec, ReadySpec, RuntimeName, Supervision, TmuxSpec } from "../model.js"
import { DEFAULT_READY_INTERVAL, DEFAULT_READY_TIMEOUT } from "../model.js"
import {
  engineSocketsFromEnv,
  validateCommand,
  validateDependencies,
  validateEnvCount,
  validateEnvEntry,
  validateEnvTotal,
  validateHostMount,
  validateSessionName
} from "./rules.js"
import { ContainerSession, sessionFields, TmuxSession } from "./schema.js"
import { decodeUtf8, parseDotenv } from "./text.js"
import type { Loc } from "./tree.js"
import type { ConfigEntry, SourceLocation } from "./types.js"

export interface SessionDefaults {
  readonly default_backend: BackendKind
  readonly container_runtime: RuntimeName | null
  /** The `ops.hosts` a session's `host:` may name, with each host's container engine (absent: none). */
  readonly hosts?: ReadonlyMap<string, HostRuntime>
}

/** The defaults a session entry is decoded with, from the config's settings: one place for load and `start`. */
export const sessionDefaults = (c: {
  readonly default_backend: BackendKind
  readonly container_runtime: RuntimeName | null
  readonly hosts?: ReadonlyArray<HostSpec> | undefined
}): SessionDefaults => ({
  default_backend: c.default_backend,
  container_runtime: c.container_runtime,
  hosts: new Map((c.hosts ?? []).map((h) => [h.name, h.runtime]))
})

export interface DecodeContext {
  readonly defaults: SessionDefaults
  /** Directory relative paths (tmux working_dir, bind-mount host sides) are resolved against. */
  readonly baseDir: string
  /** Where the entry comes from, reported in issues (e.g. `<command line>`). */
  readonly file: string
  readonly line: number | null
  /** Expands a leading `~` in paths; without it such paths are refused. */
  readonly home?: string | undefined
}

/** The loader's richer context: each field has its own location (it may come from another file). */
export interface LocatedContext {
  readonly defaults: SessionDefaults
  readonly home: string | undefined
  readonly source: SourceLocation
  readonly locate: (fieldPath: ReadonlyArray<PropertyKey>) => Loc
  readonly baseDirOf: (fieldPath: ReadonlyArray<PropertyKey>) => string
}

export const decodeSessionEntry = (name: string, raw: unknown, ctx: DecodeContext): ConfigEntry =>
  decodeLocated(name, raw, {
    defaults: ctx.defaults,
    home: ctx.home,
    source: { file: ctx.file, line: ctx.line },
    locate: () => ({ file: ctx.file, line: ctx.line }),
    baseDirOf: () => ctx.baseDir
  })

const UNKNOWN_FIELD = "\u0000unknown-field"
const format = SchemaIssue.makeFormatterStandardSchemaV1({
  leafHook: (issue) =>
    issue._tag === "UnexpectedKey"
      ? UNKNOWN_FIELD
      : issue._tag === "MissingKey"
      ? "required field is missing"
      : SchemaIssue.defaultLeafHook(issue)
})

/** Every issue of a decoding failure, flattened; `unknownField` marks keys the schema does not know. */
export const flattenIssues = (
  error: Schema.SchemaError
): ReadonlyArray<{ readonly path: ReadonlyArray<PropertyKey>; readonly message: string; readonly unknownField: boolean }> =>
  format(error.issue).issues.map((i) => ({
    // the formatter's paths are plain property keys
    path: (i.path ?? []) as ReadonlyArray<PropertyKey>,
    message: i.message,
    unknownField: i.message === UNKNOWN_FIELD
  }))

const parseOptions = { errors: "all", onExcessProperty: "error" } as const
const decodeTmux = Schema.decodeUnknownResult(TmuxSession)
const decodeContainer = Schema.decodeUnknownResult(ContainerSession)

/** `env.LD_PRELOAD`, `ports[1]`, `comand`. */
export const fieldPath = (p: ReadonlyArray<PropertyKey>): string =>
  p.reduce<string>((acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc === "" ? String(k) : `${acc}.${String(k)}`), "")

const distance = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return row[b.length]!
}

/** The known names closest to `name` (typos: at most a third of the letters differ), best first. */
export const closestNames = (name: string, known: ReadonlyArray<string>): ReadonlyArray<string> => {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/gu, "")
  const scored = known.map((k) => ({ k, d: distance(norm(name), norm(k)) })).filter((x) => x.d <= Math.max(1, Math.floor(x.k.length / 3)))
  const best = Math.min(...scored.map((x) => x.d))
  return scored.filter((x) => x.d === best).map((x) => x.k)
}

/** `unknown field (did you mean 'command'?)`, else the list of known fields. */
export const suggestField = (key: string, known: ReadonlyArray<string>): string => {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/gu, "")
  const best = known
    .map((f) => ({ f, d: distance(norm(key), norm(f)) }))
    .sort((x, y) => x.d - y.d)[0]
  if (best !== undefined && best.d <= Math.max(1, Math.floor(best.f.length / 3))) {
    return `unknown field (did you mean '${best.f}'?)`
  }
  return `unknown field (expected one of: ${known.join(", ")})`
}

const unknownFieldReason = (key: string, backend: BackendKind): string => {
  const other: BackendKind = backend === "tmux" ? "container" : "tmux"
  if ((sessionFields[other] as ReadonlyArray<string>).includes(key)) {
    return `unknown field for a ${backend} session ('${key}' is a ${other} field: set backend: ${other})`
  }
  return suggestField(key, sessionFields[backend])
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

export const decodeLocated = (name: string, raw: unknown, ctx: LocatedContext): ConfigEntry => {
  const issues: Array<ConfigIssue> = []
  const add = (p: ReadonlyArray<PropertyKey>, reason: string) => {
    const at = ctx.locate(p)
    // escaped here too (not only when printed): every renderer of issues gets terminal-safe text
    issues.push({ file: at.file, line: at.line, session: name, field: escapeText(fieldPath(p)), reason: escapeText(reason) })
  }
  const rejected = (backend: BackendKind | null): ConfigEntry => ({ _tag: "Rejected", name, backend, issues, source: ctx.source })

  const nameReason = validateSessionName(name)
  if (nameReason !== null) add([], nameReason)

  // `web:` (null) is an empty session: the defaults
  const body = raw === null || raw === undefined ? {} : raw
  if (!isRecord(body)) {
    add([], `a session must be a mapping of fields, got ${Array.isArray(body) ? "a list" : typeof body}`)
    return rejected(null)
  }
  const asked = body["backend"] ?? ctx.defaults.default_backend
  if (asked !== "tmux" && asked !== "container") {
    add(["backend"], `Invalid backend '${String(asked)}'. Must be 'tmux' or 'container'.`)
    return rejected(null)
  }
  const backend: BackendKind = asked
  const input = body["backend"] === null ? Object.fromEntries(Object.entries(body).filter(([k]) => k !== "backend")) : body

  // The deep command check depends on `shell`; it runs on a command the schema's own check passed.
  const checkCommandWords = () => {
    const check = (raw: unknown, at: ReadonlyArray<PropertyKey>) => {
      if (typeof raw === "string" && body["shell"] !== true && validateCommand(raw, { shell: true }) === null) {
        const reason = validateCommand(raw)
        if (reason !== null) add(at, reason)
      }
    }
    check(body["command"], ["command"])
    // `ready.cmd` is a command too, validated the same way
    const ready = body["ready"]
    if (isRecord(ready)) check(ready["cmd"], ["ready", "cmd"])
  }

  const decoded: Result.Result<typeof TmuxSession.Type | typeof ContainerSession.Type, Schema.SchemaError> =
    backend === "tmux" ? decodeTmux(input, parseOptions) : decodeContainer(input, parseOptions)
  if (Result.isFailure(decoded)) {
    for (const i of flattenIssues(decoded.failure)) {
      add(i.path, i.unknownField ? unknownFieldReason(String(i.path[i.path.length - 1]), backend) : i.message)
    }
    checkCommandWords()
    return rejected(backend)
  }
  checkCommandWords()
  if (issues.length > 0) return rejected(backend)

  const v = decoded.success
  const supervision = supervisionOf(v, add)
  const depsReason = validateDependencies(name, supervision.depends_on ?? [])
  if (depsReason !== null) add(["depends_on"], depsReason)
  // ---- hosts (ssh branch) ----
  const host = v.host ?? null
  const hostRuntime = host === null ? null : ctx.defaults.hosts?.get(host) ?? null
  if (host !== null && hostRuntime === null) {
    const known = [...(ctx.defaults.hosts?.keys() ?? [])]
    add(["host"], `unknown host '${host}' (${known.length === 0 ? "no ops.hosts defined" : `ops.hosts has: ${known.join(", ")}`})`)
  }
  const onHost = host === null ? {} : { host }
  // tcp/http probes connect from this machine and a tmux cmd runs here: on a host they would check
  // the wrong machine, so only what reaches the session itself is allowed there
  const r = supervision.ready
  if (host !== null && r !== undefined && r !== null && ("tcp" in r || "http" in r || ("cmd" in r && backend === "tmux"))) {
    const kind = "tcp" in r ? "tcp" : "http" in r ? "http" : "cmd"
    add(["ready", kind], `ready.${kind} would check this machine, not host '${host}'; use ready.log${backend === "container" ? " or ready.cmd (run in the container)" : ""}`)
  }
  // ---- end hosts ----
  const explicitEnv = Object.fromEntries(Object.entries(v.env ?? {}).map(([k, x]) => [k, String(x)]))
  const state = v.state ?? "running"
  const command = v.command ?? null
  const shell = v.shell ?? false

  const expandHome = (p: ReadonlyArray<PropertyKey>, value: string): string | null => {
    if (value !== "~" && !value.startsWith("~/")) return value
    if (ctx.home === undefined) {
      add(p, "cannot expand '~': HOME is not set")
      return null
    }
    return path.join(ctx.home, value.slice(1))
  }
  /** Bind-mount host sides are resolved against the defining file's directory; named volumes stay. */
  const resolveVolume = (p: ReadonlyArray<PropertyKey>, volume: string): string => {
    const colon = volume.indexOf(":")
    const host = volume.slice(0, colon)
    const rest = volume.slice(colon)
    if (host.startsWith("/")) return volume
    const isPath = host === "~" || host.startsWith("~/") || host.startsWith(".") || host.includes("/")
    if (!isPath) return volume
    const expanded = expandHome(p, host)
    if (expanded === null) return volume
    const resolved = path.resolve(ctx.baseDirOf(p), expanded)
    if (resolved.includes(":")) add(p, `the resolved host path '${resolved}' contains ':'; use an absolute path`)
    return `${resolved}${rest}`
  }

  // ---- env_file (loading/validation branch) ----
  const envFiles = v.env_file === undefined || v.env_file === null ? [] : typeof v.env_file === "string"
    ? [{ file: v.env_file, at: ["env_file"] as ReadonlyArray<PropertyKey> }]
    : v.env_file.map((file, i) => ({ file, at: ["env_file", i] as ReadonlyArray<PropertyKey> }))
  const fromFiles: Record<string, string> = {}
  let envFileProblem = false
  for (const { file, at } of envFiles) {
    const expanded = expandHome(at, file)
    if (expanded === null) {
      envFileProblem = true
      continue
    }
    const read = readEnvFile(path.resolve(ctx.baseDirOf(at), expanded))
    for (const reason of read.problems) add(at, reason)
    if (read.problems.length > 0) envFileProblem = true
    // later files win, as in docker compose
    Object.assign(fromFiles, read.env)
  }
  // explicit `env` keys win over env files (docker compose)
  const env: Record<string, string> = { ...fromFiles, ...explicitEnv }
  if (envFiles.length > 0 && !envFileProblem) {
    const count = validateEnvCount(Object.keys(env).length)
    if (count !== null) add(envFiles[0]!.at, `${count} (env and env_file together)`)
  }
  if (!envFileProblem) {
    const total = validateEnvTotal(env)
    if (total !== null) add(envFiles.length > 0 ? envFiles[0]!.at : ["env"], total)
  }
  // ---- end env_file ----

  if (backend === "tmux") {
    const t = v as typeof TmuxSession.Type
    let working_dir: string | null = null
    if (host !== null && t.working_dir !== undefined && t.working_dir !== null) {
      // a directory on the host: taken as written, never resolved or checked on this machine
      if (!t.working_dir.startsWith("/")) add(["working_dir"], "must be an absolute path on a remote host")
      working_dir = t.working_dir
    } else if (t.working_dir !== undefined && t.working_dir !== null) {
      const expanded = expandHome(["working_dir"], t.working_dir)
      working_dir = expanded === null ? null : path.resolve(ctx.baseDirOf(["working_dir"]), expanded)
      // tmux silently starts in another directory when -c names a file
      if (working_dir !== null && existsButNotDirectory(working_dir)) add(["working_dir"], `not a directory: ${working_dir}`)
    }
    const spec: TmuxSpec = { backend, name, command, shell, working_dir, env, socket_name: t.socket_name ?? null, state, ...supervision, ...onHost }
    return issues.length > 0 ? rejected(backend) : { _tag: "Valid", name, spec, source: ctx.source }
  }

  const c = v as typeof ContainerSession.Type
  const working_dir = c.working_dir ?? null
  if (working_dir !== null && !working_dir.startsWith("/")) {
    add(["working_dir"], "must be an absolute path (it is the working directory inside the container)")
  }
  const unsafe_mounts = c.unsafe_mounts ?? false
  if (c.restart === "always" && c.max_restarts !== undefined && c.max_restarts !== null) {
    add(["max_restarts"], "a container's restart: always has no limit (the engine's policy); use restart: on-failure with max_restarts")
  }
  // The sockets of this machine's engines as the environment names them (the engine clients kstlib
  // runs inherit it), resolved; a host's engine is not this environment's. The ones only an engine
  // can name are refused at launch (container.ts).
  const sockets = host !== null ? [] : engineSocketsFromEnv(process.env).flatMap((s) => [...new Set([s, realPathOf(s)])])
  /** Host system directories and engine sockets, judged on the real path (a symlink to / is /). */
  const checkMount = (p: ReadonlyArray<PropertyKey>, volume: string): string => {
    const host = volume.slice(0, volume.indexOf(":"))
    if (!unsafe_mounts && host.startsWith("/")) {
      const normal = path.resolve(host)
      const reason = validateHostMount(normal, host, sockets) ?? validateHostMount(realPathOf(normal), host, sockets)
      if (reason !== null) add(p, reason)
    }
    return volume
  }
  const spec: ConfiguredContainerSpec = {
    backend,
    name,
    image: c.image,
    command,
    shell,
    working_dir,
    env,
    volumes: (c.volumes ?? []).map((vol, i) => checkMount(["volumes", i], resolveVolume(["volumes", i], vol))),
    ports: (c.ports ?? []).map(String),
    log_volume: c.log_volume === undefined || c.log_volume === null
      ? null
      : checkMount(["log_volume"], resolveVolume(["log_volume"], c.log_volume)),
    // on a host: that host's engine (ops.hosts.<name>.runtime), whatever this machine auto-detects
    runtime: host !== null ? c.runtime ?? hostRuntime ?? "docker" : c.runtime ?? ctx.defaults.container_runtime ?? null,
    unsafe_mounts,
    state,
    // ---- swarm (k8s branch) ----
    ...(c.replicas === undefined ? {} : { replicas: c.replicas }),
    ...supervision,
    ...onHost
  }
  if (host !== null && hostRuntime !== null && spec.runtime !== hostRuntime) {
    add(
      ["runtime"],
      spec.runtime === "swarm"
        ? "runtime: swarm is not supported on a remote host (point DOCKER_HOST at the swarm instead)"
        : `host '${host}' runs ${hostRuntime} (ops.hosts.${host}.runtime); set it to ${spec.runtime} there, or drop runtime: here`
    )
  }
  if (c.replicas !== undefined && spec.runtime !== "swarm") add(["replicas"], "only for runtime: swarm (a Podman or Docker session is one container)")
  // ---- end swarm ----
  const valid: ConfiguredSpec = spec
  return issues.length > 0 ? rejected(backend) : { _tag: "Valid", name, spec: valid, source: ctx.source }
}

// ---- supervision (restart, ready, depends_on) ----

type Decoded = typeof TmuxSession.Type | typeof ContainerSession.Type

/**
 * The supervision fields of a decoded entry, only those not at their default (a spec without them
 * means the defaults); cross-field problems reported through `add`.
 */
const supervisionOf = (v: Decoded, add: (p: ReadonlyArray<PropertyKey>, reason: string) => void): Supervision => {
  const restart = v.restart ?? "no"
  const max_restarts = v.max_restarts ?? null
  if (max_restarts !== null && restart === "no") add(["max_restarts"], "max_restarts needs restart: on-failure or always")
  let ready: ReadySpec | null = null
  if (v.ready !== undefined && v.ready !== null) {
    const r = v.ready
    const timeout = r.timeout ?? DEFAULT_READY_TIMEOUT
    const interval = r.interval ?? DEFAULT_READY_INTERVAL
    if (interval > timeout) add(["ready", "interval"], `interval (${interval} s) is longer than timeout (${timeout} s)`)
    const check = r.tcp !== undefined ? { tcp: r.tcp } : r.http !== undefined ? { http: r.http } : r.log !== undefined ? { log: r.log } : { cmd: r.cmd! }
    ready = { ...check, timeout, interval }
  }
  const depends_on = v.depends_on ?? []
  return {
    ...(restart === "no" ? {} : { restart }),
    ...(max_restarts === null ? {} : { max_restarts }),
    ...(ready === null ? {} : { ready }),
    ...(depends_on.length === 0 ? {} : { depends_on })
  }
}

// ---- file-system helpers (loading/validation branch) ----

export const MAX_ENV_FILE_SIZE = 1024 * 1024

/** The real path of `p`; for a path that does not exist yet, its deepest existing ancestor's, plus the rest. */
const realPathOf = (p: string): string => {
  try {
    return fs.realpathSync(p)
  } catch {
    const parent = path.dirname(p)
    return parent === p ? p : path.join(realPathOf(parent), path.basename(p))
  }
}

/** True when `p`, or the deepest part of it that exists, is not a directory (`file.txt/sub` too). */
const existsButNotDirectory = (p: string): boolean => {
  for (let cur = p; ;) {
    let st: fs.Stats | undefined
    try {
      st = fs.statSync(cur, { throwIfNoEntry: false })
    } catch {
      return false
    }
    if (st !== undefined) return !st.isDirectory()
    const parent = path.dirname(cur)
    if (parent === cur) return false
    cur = parent
  }
}

/**
 * A dotenv file → variables, or the problems found, each naming the file and line (and the key,
 * never the value). Each variable passes the same rules as `env`.
 */
const readEnvFile = (file: string): { readonly env: Record<string, string>; readonly problems: ReadonlyArray<string> } => {
  const fail = (reason: string) => ({ env: {}, problems: [reason] })
  let bytes: Buffer
  try {
    const st = fs.statSync(file)
    if (!st.isFile()) return fail(`env file is not a regular file: ${file}`)
    if (st.size > MAX_ENV_FILE_SIZE) return fail(`env file too large (max ${MAX_ENV_FILE_SIZE} bytes): ${file}`)
    bytes = fs.readFileSync(file)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    return fail(code === "ENOENT" ? `env file not found: ${file}` : `cannot read env file ${file}: ${code ?? "error"}`)
  }
  const decoded = decodeUtf8(bytes)
  if (!("text" in decoded)) return fail(`${file}${decoded.line === null ? "" : `:${decoded.line}`}: ${decoded.reason}`)
  const parsed = parseDotenv(decoded.text)
  const problems = parsed.problems.map((p) => `${file}:${p.line}: ${p.reason}`)
  const env: Record<string, string> = {}
  for (const e of parsed.entries) {
    const reason = validateEnvEntry(e.key, e.value)
    if (reason !== null) problems.push(`${file}:${e.line}: ${reason}`)
    else env[e.key] = e.value
  }
  return { env, problems }
}
