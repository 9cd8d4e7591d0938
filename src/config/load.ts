/**
 * Finding, reading and merging kstlib.conf.yml files, then decoding `ops` entry by entry.
 *
 * File access uses node:fs synchronously inside one Effect.try: config files are small and read
 * once, this keeps the CLI's cold start lean, and library users get an Effect with no service
 * requirement. The synchronous helpers throw only the typed config errors; `loadConfig` turns them
 * back into the error channel.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Result, Schema } from "effect"
import { ConfigInvalid, type ConfigIssue, ConfigNotFound, ConfigParseError } from "../errors.js"
import type { BackendKind, RuntimeName } from "../model.js"
import { decodeLocated, fieldPath, flattenIssues, suggestField } from "./decode.js"
import { MAX_CONFIG_SESSIONS } from "./rules.js"
import { Ops, OpsSettings } from "./schema.js"
import { emptyMap, isNull, locate, type Loc, type MapNode, merge, type Node, parseYaml, toPlain, without } from "./tree.js"
import type { ConfigEntry, LoadedConfig, LoadOptions } from "./types.js"

export const CONFIG_FILENAME = "kstlib.conf.yml"
export const MAX_CONFIG_FILE_SIZE = 10 * 1024 * 1024
export const MAX_INCLUDE_DEPTH = 10

type Env = Readonly<Record<string, string | undefined>>
const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s === "" ? undefined : s)

/**
 * The cascade, lowest priority first: `~/.config/kstlib.conf.yml` (the original's location),
 * `$XDG_CONFIG_HOME/kstlib/kstlib.conf.yml` (XDG_CONFIG_HOME defaults to ~/.config; a relative
 * value is ignored, as the XDG spec says), `~/kstlib.conf.yml`, `./kstlib.conf.yml`.
 */
export const cascadePaths = (cwd: string, env: Env): ReadonlyArray<string> => {
  const home = nonEmpty(env["HOME"])
  const xdgEnv = nonEmpty(env["XDG_CONFIG_HOME"])
  const xdg = xdgEnv !== undefined && path.isAbsolute(xdgEnv) ? xdgEnv : home === undefined ? undefined : path.join(home, ".config")
  const paths = [
    home === undefined ? undefined : path.join(home, ".config", CONFIG_FILENAME),
    xdg === undefined ? undefined : path.join(xdg, "kstlib", CONFIG_FILENAME),
    home === undefined ? undefined : path.join(home, CONFIG_FILENAME),
    path.join(path.resolve(cwd), CONFIG_FILENAME)
  ]
  return paths.filter((p): p is string => p !== undefined)
}

const invalid = (loc: Loc, field: string, reason: string) =>
  new ConfigInvalid({ issues: [{ file: loc.file, line: loc.line, session: null, field, reason }] })

const readConfigFile = (file: string): string => {
  const parseError = (reason: string) => new ConfigParseError({ file, line: null, column: null, reason })
  let stat: fs.Stats
  try {
    stat = fs.statSync(file)
  } catch (e) {
    throw parseError(`cannot read: ${(e as Error).message}`)
  }
  if (!stat.isFile()) throw parseError("not a regular file")
  if (stat.size > MAX_CONFIG_FILE_SIZE) {
    throw parseError(`file too large (${stat.size} bytes; the limit is ${MAX_CONFIG_FILE_SIZE} bytes = 10 MiB)`)
  }
  try {
    return fs.readFileSync(file, "utf8")
  } catch (e) {
    throw parseError(`cannot read: ${(e as Error).message}`)
  }
}

const isInside = (dir: string, target: string) => {
  const rel = path.relative(dir, target)
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel)
}

interface Include {
  readonly value: string
  readonly loc: Loc
  readonly field: string
}

const includesOf = (root: MapNode): ReadonlyArray<Include> => {
  const entry = root.entries.get("include")
  if (entry === undefined || isNull(entry.value)) return []
  const bad = () => invalid(entry.keyLoc, "include", "include must be a file name or a list of file names")
  const v = entry.value
  if (v.kind === "scalar") {
    if (typeof v.value !== "string") throw bad()
    return [{ value: v.value, loc: entry.keyLoc, field: "include" }]
  }
  if (v.kind === "seq") {
    return v.items.map((item, i) => {
      if (item.kind !== "scalar" || typeof item.value !== "string") throw bad()
      return { value: item.value, loc: item.loc, field: `include[${i}]` }
    })
  }
  throw bad()
}

/**
 * One file with its includes merged under it (includes first, in order; the file's own keys win).
 * `chain`: real paths of the files including this one, for cycle detection. `files` collects the
 * files read, includes before their includer.
 */
const loadFileTree = (file: string, depth: number, chain: ReadonlyArray<string>, files: Array<string>): MapNode => {
  const root = parseYaml(file, readConfigFile(file))
  if (root.kind !== "map") throw invalid(root.loc, "", "the top level of a config file must be a mapping (key: value)")
  const dir = path.dirname(file)
  let acc: Node = emptyMap({ file, line: 1 })
  for (const inc of includesOf(root)) {
    const fail = (reason: string) => invalid(inc.loc, inc.field, reason)
    const target = path.resolve(dir, inc.value)
    if (!isInside(dir, target)) throw fail(`Include path escapes config directory (path traversal blocked): ${inc.value}`)
    const lstat = fs.lstatSync(target, { throwIfNoEntry: false })
    if (lstat === undefined) throw fail(`included file not found: ${target}`)
    if (lstat.isSymbolicLink()) throw fail(`symlinked includes are not allowed: ${inc.value}`)
    if (!lstat.isFile()) throw fail(`included path is not a regular file: ${target}`)
    // a symlinked parent directory could still lead outside
    const real = fs.realpathSync(target)
    if (!isInside(fs.realpathSync(dir), real)) {
      throw fail(`Include path escapes config directory (path traversal blocked): ${inc.value}`)
    }
    if (chain.includes(real)) throw fail(`circular include: ${[...chain, real].join(" -> ")}`)
    if (depth + 1 > MAX_INCLUDE_DEPTH) throw fail(`include depth exceeds the maximum of ${MAX_INCLUDE_DEPTH}: ${inc.value}`)
    acc = merge(acc, loadFileTree(target, depth + 1, [...chain, real], files))
  }
  files.push(file)
  return merge(acc, without(root, "include")) as MapNode
}

const decodeSettings = Schema.decodeUnknownResult(OpsSettings)
const opsFields = Object.keys(Ops.fields)

/** `ops` of the merged tree → settings + one entry per session. */
/** compose's normalisation of a directory name: lower case, [a-z0-9_-] kept, the rest dropped. */
export const normalizeProjectName = (dir: string): string => {
  const n = dir.toLowerCase().replace(/[^a-z0-9_-]/gu, "").replace(/^[^a-z0-9]+/u, "")
  return n === "" ? "default" : n
}

const interpret = (merged: MapNode, files: ReadonlyArray<string>, env: Env, searched: ReadonlyArray<string>, cwd: string, projectOption: string | undefined): LoadedConfig => {
  const top = files.at(-1)
  const project = nonEmpty(projectOption) ?? nonEmpty(env["KSTLIB_PROJECT"]) ?? normalizeProjectName(path.basename(top === undefined ? cwd : path.dirname(top)))
  const defaults = {
    files,
    searched,
    project,
    default_backend: "tmux" as BackendKind,
    tmux_binary: "tmux",
    container_runtime: null as RuntimeName | null,
    sessions: [] as ReadonlyArray<ConfigEntry>,
    warnings: [] as ReadonlyArray<ConfigIssue>
  }
  const opsEntry = merged.entries.get("ops")
  if (opsEntry === undefined || isNull(opsEntry.value)) return defaults
  const ops = opsEntry.value
  if (ops.kind !== "map") throw invalid(opsEntry.keyLoc, "ops", `must be a mapping (key: value), got ${ops.kind === "seq" ? "a list" : "a scalar"}`)

  const settings = decodeSettings(toPlain(ops), { errors: "all", onExcessProperty: "error" })
  if (Result.isFailure(settings)) {
    throw new ConfigInvalid({ issues: settingsIssues(ops, opsEntry.keyLoc, settings.failure) })
  }
  const s = settings.success
  const default_backend = s.default_backend ?? "tmux"
  const container_runtime = s.container_runtime ?? null

  const sessionsEntry = ops.entries.get("sessions")
  if (sessionsEntry === undefined || isNull(sessionsEntry.value)) {
    return { ...defaults, default_backend, container_runtime, tmux_binary: s.tmux_binary ?? "tmux" }
  }
  const sessionsNode = sessionsEntry.value
  if (sessionsNode.kind !== "map") {
    throw invalid(sessionsEntry.keyLoc, "ops.sessions", "must be a mapping of session names to sessions")
  }
  const all = [...sessionsNode.entries]
  const kept = all.slice(0, MAX_CONFIG_SESSIONS)
  const dropped = all.slice(MAX_CONFIG_SESSIONS)
  const warnings: Array<ConfigIssue> = []
  if (dropped.length > 0) {
    const at = dropped[0]![1].keyLoc
    warnings.push({
      file: at.file,
      line: at.line,
      session: null,
      field: "ops.sessions",
      reason: `ops.sessions has ${all.length} entries (max ${MAX_CONFIG_SESSIONS}); ignoring: ${dropped.map(([n]) => n).join(", ")}`
    })
  }
  const home = nonEmpty(env["HOME"])
  const sessions = kept.map(([name, entry]): ConfigEntry => {
    const where = (p: ReadonlyArray<PropertyKey>) => locate(entry.value, p, entry.keyLoc)
    return decodeLocated(name, rawSession(entry.value), {
      defaults: { default_backend, container_runtime },
      home,
      source: entry.keyLoc,
      locate: where,
      baseDirOf: (p) => path.dirname(where(p).file)
    })
  })
  return { ...defaults, default_backend, tmux_binary: s.tmux_binary ?? "tmux", container_runtime, sessions, warnings }
}

/** Plain session value; env scalars keep the text as written (`VERSION: 1.10` stays "1.10"). */
const rawSession = (node: Node): unknown => {
  const raw = toPlain(node)
  if (node.kind !== "map") return raw
  const env = node.entries.get("env")
  return env === undefined ? raw : { ...(raw as object), env: toPlain(env.value, { scalarText: true }) }
}

const settingsIssues = (ops: MapNode, opsLoc: Loc, error: Schema.SchemaError): ReadonlyArray<ConfigIssue> =>
  flattenIssues(error).map((i) => {
    const at = locate(ops, i.path, opsLoc)
    const reason = i.unknownField ? suggestField(String(i.path[i.path.length - 1]), opsFields) : i.message
    return { file: at.file, line: at.line, session: null, field: fieldPath(["ops", ...i.path]), reason }
  })

const loadSync = (options: LoadOptions): LoadedConfig => {
  const env: Env = options.env ?? process.env
  const cwd = path.resolve(options.cwd ?? process.cwd())
  const explicit = nonEmpty(options.path) ?? nonEmpty(env["KSTLIB_CONFIG"])
  let candidates: ReadonlyArray<string>
  if (explicit !== undefined) {
    const file = path.resolve(cwd, explicit)
    if (fs.statSync(file, { throwIfNoEntry: false }) === undefined) throw new ConfigNotFound({ path: file })
    candidates = [file]
  } else {
    const seen = new Set<string>()
    candidates = cascadePaths(cwd, env).filter((p) => {
      if (fs.statSync(p, { throwIfNoEntry: false }) === undefined) return false
      const real = fs.realpathSync(p)
      if (seen.has(real)) return false
      seen.add(real)
      return true
    })
  }
  const files: Array<string> = []
  let merged: MapNode = emptyMap({ file: candidates[0] ?? cwd, line: null })
  for (const file of candidates) {
    merged = merge(merged, loadFileTree(file, 0, [fs.realpathSync(file)], files)) as MapNode
  }
  return interpret(merged, files, env, explicit !== undefined ? candidates : cascadePaths(cwd, env), cwd, options.project)
}

/**
 * Loads the configuration: `options.path` (CLI `--config`), else `KSTLIB_CONFIG`, else the
 * cascade (no file at all = defaults, no sessions). Each session is decoded on its own: a broken
 * one becomes a `Rejected` entry, the others stay valid. File-level problems fail the whole load.
 */
export const loadConfig = (
  options: LoadOptions = {}
): Effect.Effect<LoadedConfig, ConfigNotFound | ConfigParseError | ConfigInvalid> =>
  Effect.try({
    try: () => loadSync(options),
    catch: (e) =>
      e instanceof ConfigNotFound || e instanceof ConfigParseError || e instanceof ConfigInvalid
        ? e
        : new ConfigParseError({ file: options.path ?? "<config>", line: null, column: null, reason: String(e) })
  })
