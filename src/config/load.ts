/**
 * Finding, reading and merging kstlib.conf.yml files, then decoding `ops` entry by entry.
 *
 * File access uses node:fs synchronously, one file at a time: config files are small, this keeps the
 * CLI's cold start lean, and library users get an Effect with no service requirement. The load
 * yields between files (it stays interruptible) and its total work is bounded (files, bytes, YAML
 * nodes, include references), each file read once however often it is included. The synchronous
 * helpers throw only the typed config errors; `attempt` turns them back into the error channel.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Option, Result, Schema } from "effect"
import { ChildProcessSpawner } from "effect/process"
import { ConfigInvalid, type ConfigIssue, ConfigNotFound, ConfigParseError, escapeText, InvalidInput } from "../errors.js"
import type { BackendKind, RuntimeName } from "../model.js"
import { nodeSpawnerLayer, run } from "../proc.js"
import { checkDependencies } from "./dependencies.js"
import { decodeHosts } from "./decode/hosts.js"
import { decodeLocated, sessionDefaults } from "./decode/index.js"
import { fieldPath, flattenIssues, suggestField } from "./decode/issues.js"
import { MAX_CONFIG_SESSIONS, normalizeProjectName, validateProjectName, validateTmuxBinary } from "./rules.js"
import { Ops, OpsSettings } from "./schema.js"
import { decodeUtf8, interpolate, parseDotenv } from "./text.js"
import { findCiphertext, formatOf, loadTomlParser, parseConfigText } from "./formats.js"
import { emptyMap, isNull, loadYamlParser, locate, type Loc, type MapNode, merge, type Node, type NodeBudget, toPlain, without } from "./tree.js"
import type { ConfigEntry, LoadedConfig, LoadOptions } from "./types.js"

export const CONFIG_FILENAME = "kstlib.conf.yml"
export const MAX_CONFIG_FILE_SIZE = 10 * 1024 * 1024
export const MAX_INCLUDE_DEPTH = 10
/** Bounds of one load, the cascade and every include together (a real config is far below them). */
export const MAX_CONFIG_FILES = 100
export const MAX_INCLUDES = 1000
export const MAX_LOAD_BYTES = 16 * 1024 * 1024
export const MAX_LOAD_NODES = 200_000

type LoadError = ConfigNotFound | ConfigParseError | ConfigInvalid | InvalidInput
const isLoadError = (e: unknown): e is LoadError =>
  e instanceof ConfigNotFound || e instanceof ConfigParseError || e instanceof ConfigInvalid || e instanceof InvalidInput

/** A synchronous step of the load: its typed errors in the error channel (anything else is a parse error of `file`). */
const attempt = <A>(file: string, f: () => A): Effect.Effect<A, LoadError> =>
  Effect.try({ try: f, catch: (e) => (isLoadError(e) ? e : new ConfigParseError({ file, line: null, column: null, reason: String(e) })) })

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
  let bytes: Buffer
  try {
    bytes = fs.readFileSync(file)
  } catch (e) {
    throw parseError(`cannot read: ${(e as Error).message}`)
  }
  // strict: invalid UTF-8 is an error at its line, never silently replaced by U+FFFD
  const decoded = decodeUtf8(bytes)
  if ("text" in decoded) return decoded.text
  throw new ConfigParseError({ file, line: decoded.line, column: null, reason: decoded.reason })
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
 * `sops --decrypt FILE` (through proc.run: a timeout, interruptible), with the ambient process
 * spawner when there is one (tests, programs), else Node's. null: sops is not installed.
 */
const decryptSops = (file: string, env: Env): Effect.Effect<string | null, ConfigParseError> => {
  const fail = (reason: string) => new ConfigParseError({ file, line: null, column: null, reason })
  const childEnv = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined))
  const call = run("sops", ["--decrypt", file], { env: childEnv })
  return Effect.serviceOption(ChildProcessSpawner.ChildProcessSpawner).pipe(
    Effect.flatMap((spawner) =>
      Option.isSome(spawner) ? Effect.provideService(call, ChildProcessSpawner.ChildProcessSpawner, spawner.value) : Effect.provide(call, nodeSpawnerLayer)
    ),
    Effect.flatMap((r) => {
      if (r.exitCode !== 0) {
        const last = r.stderr.trim().split("\n").at(-1) ?? ""
        return Effect.fail(fail(`sops could not decrypt the file (exit ${r.exitCode})${last === "" ? "" : `: ${last}`}`))
      }
      return r.stdout.length > MAX_CONFIG_FILE_SIZE ? Effect.fail(fail("the decrypted file is over 10 MiB")) : Effect.succeed(r.stdout)
    }),
    Effect.catchTag("SpawnFailed", (e) => (e.notFound ? Effect.succeed(null) : Effect.fail(fail(e.message)))),
    Effect.catchTag("BackendTimeout", (e) => Effect.fail(fail(e.message)))
  )
}

/** A file's tree with its includes merged, and how many include levels it has below it. */
interface FileTree {
  readonly tree: MapNode
  readonly height: number
}

/** What one load has done so far: each file is read once, and the total work is bounded. */
interface LoadState {
  /** By real path. */
  readonly done: Map<string, FileTree>
  /** Files read, includes before their includer. */
  readonly files: Array<string>
  read: number
  bytes: number
  includes: number
  readonly nodes: NodeBudget
  /** The load's environment (sops runs with it). */
  readonly env: Env
}

const newState = (env: Env): LoadState => ({ done: new Map(), files: [], read: 0, bytes: 0, includes: 0, nodes: { left: MAX_LOAD_NODES, limit: MAX_LOAD_NODES }, env })

/** Counts a file about to be read (`size` bytes) against the load's bounds; a refusal is located at `loc`. */
const account = (state: LoadState, size: number, loc: Loc, field: string) => {
  if (++state.read > MAX_CONFIG_FILES) {
    throw invalid(loc, field, `too many config files in one load (the limit is ${MAX_CONFIG_FILES}, includes counted once each)`)
  }
  if (state.bytes + size > MAX_LOAD_BYTES) {
    throw invalid(loc, field, `config files too large together (${state.bytes + size} bytes; the limit for one load is ${MAX_LOAD_BYTES} bytes = 16 MiB)`)
  }
  state.bytes += size
}

/** An include checked (inside the includer's directory, a regular file, no cycle): its path and real path. */
const checkInclude = (dir: string, inc: Include, chain: ReadonlyArray<string>, state: LoadState) => {
  const fail = (reason: string) => invalid(inc.loc, inc.field, reason)
  if (++state.includes > MAX_INCLUDES) throw fail(`too many includes in one load (the limit is ${MAX_INCLUDES})`)
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
  return { target, real, size: lstat.size }
}

/**
 * One file with its includes merged under it (includes first, in order; the file's own keys win).
 * `chain`: real paths of the files including this one, for cycle detection. A file already read in
 * this load is taken from `state.done` (an include DAG costs one read per file, not one per path),
 * its depth below still counted where it is included again.
 */
const loadFileTree = (file: string, depth: number, chain: ReadonlyArray<string>, state: LoadState): Effect.Effect<FileTree, LoadError> =>
  Effect.gen(function*() {
    // between files: a load of many files stays interruptible (Ctrl-C)
    yield* Effect.yieldNow
    const { format, sops } = formatOf(file)
    const raw = yield* attempt(file, () => readConfigFile(file))
    const decrypted = sops ? yield* decryptSops(file, state.env) : null
    yield* loadYamlParser
    const toml = format === "toml" ? yield* loadTomlParser : undefined
    const root = yield* attempt(file, () => {
      const r = parseConfigText(file, decrypted ?? raw, format, state.nodes, toml)
      if (r.kind !== "map") throw invalid(r.loc, "", "the top level of a config file must be a mapping (key: value)")
      // ciphertext must never become a value (an env value, a command)
      const enc = findCiphertext(r)
      if (enc !== null) {
        throw invalid(
          enc.loc,
          escapeText(fieldPath(enc.path)),
          sops
            ? "SOPS ciphertext (ENC[…]) and sops is not installed: install sops so that kstlib decrypts this file (sops -d)"
            : "SOPS ciphertext (ENC[…]) in a file not named *.sops.*: name it like secrets.sops.yml so that kstlib decrypts it with sops -d"
        )
      }
      return r
    })
    const dir = path.dirname(file)
    let acc: Node = emptyMap({ file, line: 1 })
    let height = 0
    for (const inc of yield* attempt(file, () => includesOf(root))) {
      const found = yield* attempt(file, () => checkInclude(dir, inc, chain, state))
      const known = state.done.get(found.real)
      if (known === undefined) yield* attempt(file, () => account(state, found.size, inc.loc, inc.field))
      const sub = known ?? (depth + 1 > MAX_INCLUDE_DEPTH ? null : yield* loadFileTree(found.target, depth + 1, [...chain, found.real], state))
      if (sub === null || depth + 1 + sub.height > MAX_INCLUDE_DEPTH) {
        return yield* Effect.fail(invalid(inc.loc, inc.field, `include depth exceeds the maximum of ${MAX_INCLUDE_DEPTH}: ${inc.value}`))
      }
      acc = merge(acc, sub.tree)
      height = Math.max(height, sub.height + 1)
    }
    state.files.push(file)
    const done: FileTree = { tree: merge(acc, without(root, "include")) as MapNode, height }
    state.done.set(chain[chain.length - 1]!, done)
    return done
  })

const decodeSettings = Schema.decodeUnknownResult(OpsSettings)
const opsFields = Object.keys(Ops.fields)

/** What interpret needs besides the merged tree. */
interface Context {
  readonly files: ReadonlyArray<string>
  readonly searched: ReadonlyArray<string>
  readonly env: Env
  /** `${VAR}` values: the environment, then the `.env` file. */
  readonly lookup: (name: string) => string | undefined
  /** The project from `--project` / `KSTLIB_PROJECT`, already validated. */
  readonly projectOverride: string | undefined
  /** The default project: the directory name of the highest-priority config file. */
  readonly projectDefault: string
  /** The `.env` file `${VAR}` values may come from (null: no config file). */
  readonly dotenv: string | null
}

/** A session's `env_file` paths as the decoder resolves them (absolute; `~` expanded when HOME is known). */
const envFilePaths = (fields: Readonly<Record<string, unknown>>, baseDirOf: (p: ReadonlyArray<PropertyKey>) => string, home: string | undefined) => {
  const raw = fields["env_file"]
  const list = typeof raw === "string" ? [[raw, ["env_file"]] as const] : Array.isArray(raw) ? raw.map((f, i) => [f, ["env_file", i]] as const) : []
  return list.flatMap(([f, at]) => {
    if (typeof f !== "string" || f === "") return []
    const expanded = f === "~" || f.startsWith("~/") ? (home === undefined ? null : path.join(home, f.slice(1))) : f
    return expanded === null ? [] : [path.resolve(baseDirOf(at), expanded)]
  })
}

/** `ops` of the merged tree → settings + one entry per session. */
const interpret = (merged: MapNode, ctx: Context): LoadedConfig => {
  const { files } = ctx
  const envFiles: Array<string> = []
  const inputs = () => [...new Set([...ctx.searched, ...files, ...(ctx.dotenv === null ? [] : [ctx.dotenv]), ...envFiles])]
  const defaults = {
    files,
    searched: ctx.searched,
    inputs: inputs(),
    project: ctx.projectOverride ?? ctx.projectDefault,
    default_backend: "tmux" as BackendKind,
    tmux_binary: "tmux",
    container_runtime: null as RuntimeName | null,
    sessions: [] as ReadonlyArray<ConfigEntry>,
    warnings: [] as ReadonlyArray<ConfigIssue>
  }
  const opsEntry = merged.entries.get("ops")
  if (opsEntry === undefined || isNull(opsEntry.value)) return defaults
  const rawOps = opsEntry.value
  if (rawOps.kind !== "map") throw invalid(opsEntry.keyLoc, "ops", `must be a mapping (key: value), got ${rawOps.kind === "seq" ? "a list" : "a scalar"}`)

  // settings are interpolated here (a problem rejects the load); each session below on its own
  const sessionsEntry = rawOps.entries.get("sessions")
  const settingsInterp = interpolateTree(without(rawOps, "sessions"), ctx.lookup, [])
  if (settingsInterp.issues.length > 0) {
    throw new ConfigInvalid({
      issues: settingsInterp.issues.map((i) => ({ file: i.loc.file, line: i.loc.line, session: null, field: fieldPath(["ops", ...i.path]), reason: i.reason }))
    })
  }
  const settingsNode = settingsInterp.node as MapNode
  const ops: MapNode = sessionsEntry === undefined ? settingsNode : { ...settingsNode, entries: new Map([...settingsNode.entries, ["sessions", sessionsEntry]]) }

  const settings = decodeSettings(toPlain(ops), { errors: "all", onExcessProperty: "error" })
  if (Result.isFailure(settings)) {
    throw new ConfigInvalid({ issues: redact(settingsIssues(ops, opsEntry.keyLoc, settings.failure), settingsInterp.subs, ["ops"]) })
  }
  const s = settings.success
  const default_backend = s.default_backend ?? "tmux"
  const container_runtime = s.container_runtime ?? null
  const tmux_binary = s.tmux_binary ?? "tmux"
  if (s.tmux_binary !== undefined) {
    const dirs = [...new Set(files.map((f) => realOr(path.dirname(f))))]
    const abs = path.isAbsolute(tmux_binary) ? path.resolve(tmux_binary) : tmux_binary
    const reason = validateTmuxBinary(abs, dirs, path.isAbsolute(abs) ? realOrNull(abs) : null)
    if (reason !== null) {
      const at = locate(ops, ["tmux_binary"], opsEntry.keyLoc)
      throw new ConfigInvalid({ issues: [{ file: at.file, line: at.line, session: null, field: "ops.tmux_binary", reason }] })
    }
  }
  const project = ctx.projectOverride ?? s.project ?? ctx.projectDefault
  const maxSessions = s.max_sessions ?? MAX_CONFIG_SESSIONS
  // the default's wording stays as it always was; a raised cap names the setting that set it
  const tooMany = s.max_sessions === undefined
    ? `too many sessions: at most ${MAX_CONFIG_SESSIONS} per config`
    : `too many sessions: at most ${maxSessions} per config (ops.max_sessions)`
  const hosts = decodeHosts(ops, opsEntry.keyLoc, s.hosts ?? null, nonEmpty(ctx.env["HOME"]))
  const networks = Object.entries(s.networks ?? {}).map(([name, n]) => ({ name, internal: n?.internal ?? false }))
  const volumes = Object.keys(s.volumes ?? {})
  const base = {
    ...defaults,
    default_backend,
    container_runtime,
    tmux_binary,
    project,
    ...(hosts.length === 0 ? {} : { hosts }),
    ...(networks.length === 0 ? {} : { networks }),
    ...(volumes.length === 0 ? {} : { volumes })
  }

  if (sessionsEntry === undefined || isNull(sessionsEntry.value)) return base
  const sessionsNode = sessionsEntry.value
  if (sessionsNode.kind !== "map") {
    throw invalid(sessionsEntry.keyLoc, "ops.sessions", "must be a mapping of session names to sessions")
  }
  const home = nonEmpty(ctx.env["HOME"])
  const dependsOnAt = new Map<string, Loc>()
  /** Hosts with container sessions (rejected ones too: their place is still the host's engine). */
  const containerHosts = new Set<string>()
  const entryDefaults = sessionDefaults({ default_backend, container_runtime, hosts, networks, volumes, project })
  const sessions = [...sessionsNode.entries].map(([name, entry], index): ConfigEntry => {
    // beyond the cap: rejected (never run), not silently dropped
    if (index >= maxSessions) {
      return {
        _tag: "Rejected",
        name,
        backend: null,
        source: entry.keyLoc,
        issues: [{
          file: entry.keyLoc.file,
          line: entry.keyLoc.line,
          session: name,
          field: "",
          reason: tooMany
        }]
      }
    }
    const interp = interpolateTree(entry.value, ctx.lookup, [])
    if (interp.issues.length > 0) {
      // the backend as written, when it is one (list and status show it), though the entry cannot run
      const node = entry.value.kind === "map" ? entry.value.entries.get("backend")?.value : undefined
      const written = node === undefined ? null : toPlain(node)
      return {
        _tag: "Rejected",
        name,
        backend: written === "tmux" || written === "container" ? written : null,
        source: entry.keyLoc,
        issues: interp.issues.map((i) => ({ file: i.loc.file, line: i.loc.line, session: name, field: escapeText(fieldPath(i.path)), reason: escapeText(sessionEnvHint(entry.value, i)) }))
      }
    }
    const where = (p: ReadonlyArray<PropertyKey>) => locate(interp.node, p, entry.keyLoc)
    dependsOnAt.set(name, where(["depends_on"]))
    const raw = rawSession(interp.node)
    const fields = typeof raw === "object" && raw !== null ? raw as Record<string, unknown> : {}
    if (typeof fields["host"] === "string" && (fields["backend"] ?? default_backend) === "container") containerHosts.add(fields["host"])
    envFiles.push(...envFilePaths(fields, (p) => path.dirname(where(p).file), home))
    const decoded = decodeLocated(name, raw, {
      defaults: entryDefaults,
      home,
      source: entry.keyLoc,
      locate: where,
      baseDirOf: (p) => path.dirname(where(p).file)
    })
    return decoded._tag === "Rejected" ? { ...decoded, issues: redact(decoded.issues, interp.subs, []) } : decoded
  })
  return {
    ...base,
    ...(hosts.length === 0 ? {} : { hosts: hosts.map((h) => (containerHosts.has(h.name) ? { ...h, containers: true } : h)) }),
    sessions: checkDependencies(sessions, (name) => dependsOnAt.get(name) ?? null),
    inputs: inputs()
  }
}


const realOr = (p: string): string => realOrNull(p) ?? p
const realOrNull = (p: string): string | null => {
  try {
    return fs.realpathSync(p)
  } catch {
    return null
  }
}

// Interpolation over the located tree

interface Substitution {
  /** Field path (from the interpolated subtree's root) of the string that used variables. */
  readonly path: ReadonlyArray<PropertyKey>
  readonly vars: ReadonlyArray<readonly [string, string]>
}
interface TreeIssue {
  readonly loc: Loc
  readonly path: ReadonlyArray<PropertyKey>
  readonly reason: string
  /** The variable that is not set, when that is the problem. */
  readonly unset?: string
}

/**
 * An unset `$VAR` that the session's own `env:` sets: interpolation happens when the config is
 * loaded, from kstlib's environment and `.env`, so say so, and how the session's shell can expand it.
 */
const sessionEnvHint = (entry: Node, issue: TreeIssue): string => {
  const env = entry.kind === "map" ? entry.entries.get("env")?.value : undefined
  const name = issue.unset
  if (name === undefined || env?.kind !== "map" || !env.entries.has(name)) return issue.reason
  return `variable ${name} is not set: \${VAR} is read from kstlib's environment and .env when the config is loaded, not from the session's env: (where ${name} is set); to let the session's shell expand it, write $$${name} and set shell: true`
}

/** Every string scalar of `node` interpolated; map keys stay as written. Locations are kept. */
const interpolateTree = (
  node: Node,
  lookup: (name: string) => string | undefined,
  at: ReadonlyArray<PropertyKey>
): { readonly node: Node; readonly issues: ReadonlyArray<TreeIssue>; readonly subs: ReadonlyArray<Substitution> } => {
  const issues: Array<TreeIssue> = []
  const subs: Array<Substitution> = []
  const walk = (n: Node, p: ReadonlyArray<PropertyKey>): Node => {
    switch (n.kind) {
      case "map":
        return { ...n, entries: new Map([...n.entries].map(([k, e]) => [k, { keyLoc: e.keyLoc, value: walk(e.value, [...p, k]) }])) }
      case "seq":
        return { ...n, items: n.items.map((item, i) => walk(item, [...p, i])) }
      case "scalar": {
        if (typeof n.value !== "string") return n
        const r = interpolate(n.value, lookup)
        if (r._tag === "Error") {
          issues.push({ loc: n.loc, path: p, reason: r.reason, ...(r.unset === undefined ? {} : { unset: r.unset }) })
          return n
        }
        if (r.used.length > 0) subs.push({ path: p, vars: r.used.flatMap((v) => {
          const value = lookup(v)
          return value === undefined || value === "" ? [] : [[v, value] as const]
        }) })
        return { ...n, value: r.value }
      }
    }
  }
  return { node: walk(node, at), issues, subs }
}

/**
 * Issues about a field whose value came from variables never show those values: each is replaced
 * by `<$NAME>` (rules echo some values, e.g. `Invalid image name format: …`).
 */
const redact = (
  issues: ReadonlyArray<ConfigIssue>,
  subs: ReadonlyArray<Substitution>,
  prefix: ReadonlyArray<PropertyKey>
): ReadonlyArray<ConfigIssue> =>
  subs.length === 0 ? issues : issues.map((i) => {
    let reason = i.reason
    let field = i.field
    for (const sub of subs) {
      const f = escapeText(fieldPath([...prefix, ...sub.path]))
      if (i.field !== f && !i.field.startsWith(`${f}.`) && !i.field.startsWith(`${f}[`)) continue
      // longest first, so that a value containing another is replaced whole
      for (const [name, value] of [...sub.vars].sort((a, b) => b[1].length - a[1].length)) {
        reason = reason.split(escapeText(value)).join(`<$${name}>`)
        field = field.split(escapeText(value)).join(`<$${name}>`)
      }
    }
    return { ...i, reason, field }
  })

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

/** The `.env` next to the highest-priority config file: values for `${VAR}` (the environment wins). */
const readDotenv = (dir: string): Readonly<Record<string, string>> => {
  const file = path.join(dir, ".env")
  const st = fs.statSync(file, { throwIfNoEntry: false })
  if (st === undefined || !st.isFile()) return {}
  const parsed = parseDotenv(readConfigFile(file))
  if (parsed.problems.length > 0) {
    throw new ConfigInvalid({ issues: parsed.problems.map((p) => ({ file, line: p.line, session: null, field: "", reason: p.reason })) })
  }
  return Object.fromEntries(parsed.entries.map((e) => [e.key, e.value]))
}

/**
 * The project named explicitly: `--project` wins over `KSTLIB_PROJECT` (empty = unset); the one
 * used must be a valid name, else the InvalidInput to fail with. undefined: none was named.
 */
export const projectOverride = (option: string | undefined, fromEnv: string | undefined): string | undefined | InvalidInput => {
  const [field, value] = option !== undefined ? ["--project", option] : ["KSTLIB_PROJECT", nonEmpty(fromEnv)]
  if (value === undefined) return undefined
  const reason = validateProjectName(value)
  return reason === null ? value : new InvalidInput({ field, reason })
}

const loadEffect = (options: LoadOptions): Effect.Effect<LoadedConfig, LoadError> =>
  Effect.gen(function*() {
    const env: Env = options.env ?? process.env
    const cwd = path.resolve(options.cwd ?? process.cwd())
    // `--config ""` (e.g. an unset shell variable) must not silently fall back to the cascade
    if (options.path === "") return yield* new InvalidInput({ field: "path", reason: "the config path is empty" })
    // a bad --project fails before any file is read
    const flag = projectOverride(options.project, undefined)
    if (flag instanceof InvalidInput) return yield* flag
    const explicit = nonEmpty(options.path) ?? nonEmpty(env["KSTLIB_CONFIG"])
    let candidates: ReadonlyArray<string>
    let searched: ReadonlyArray<string>
    if (explicit !== undefined) {
      const file = path.resolve(cwd, explicit)
      searched = [file]
      if (fs.statSync(file, { throwIfNoEntry: false }) === undefined) return yield* new ConfigNotFound({ path: file, searched })
      candidates = [file]
    } else {
      const seen = new Set<string>()
      searched = cascadePaths(cwd, env)
      candidates = searched.filter((p) => {
        if (fs.statSync(p, { throwIfNoEntry: false }) === undefined) return false
        const real = fs.realpathSync(p)
        if (seen.has(real)) return false
        seen.add(real)
        return true
      })
    }
    const state = newState(env)
    let merged: MapNode = emptyMap({ file: candidates[0] ?? cwd, line: null })
    for (const file of candidates) {
      const real = yield* attempt(file, () => fs.realpathSync(file))
      // a cascade file may have been included by a lower one already
      const known = state.done.get(real)
      if (known === undefined) yield* attempt(file, () => account(state, fs.statSync(file).size, { file, line: null }, ""))
      const loaded = known ?? (yield* loadFileTree(file, 0, [real], state))
      merged = merge(merged, loaded.tree) as MapNode
    }
    const top = candidates[candidates.length - 1]
    const topDir = top === undefined ? cwd : path.dirname(top)
    const dotenv = top === undefined ? {} : yield* attempt(path.join(topDir, ".env"), () => readDotenv(topDir))
    // own properties only: `${__proto__}` must not find Object.prototype
    const own = (o: Readonly<Record<string, string | undefined>>, k: string) => (Object.hasOwn(o, k) ? o[k] : undefined)
    const lookup = (name: string): string | undefined => own(env, name) ?? own(dotenv, name)

    const override = projectOverride(options.project, lookup("KSTLIB_PROJECT"))
    if (override instanceof InvalidInput) return yield* override
    return yield* attempt(top ?? cwd, () =>
      interpret(merged, {
        files: state.files,
        searched,
        env,
        lookup,
        projectOverride: override,
        projectDefault: normalizeProjectName(path.basename(topDir)),
        dotenv: top === undefined ? null : path.join(topDir, ".env")
      }))
  })

/**
 * Loads the configuration: `options.path` (CLI `--config`), else `KSTLIB_CONFIG`, else the
 * cascade (no file at all = defaults, no sessions, `searched` lists where it looked). String
 * values under `ops` are interpolated (`${VAR}`, from the environment then `.env`). Each session
 * is decoded on its own: a broken one becomes a `Rejected` entry, the others stay valid.
 * File-level problems fail the whole load; a bad `--config ""` / `--project` is an InvalidInput.
 */
export const loadConfig = (options: LoadOptions = {}): Effect.Effect<LoadedConfig, LoadError> => loadEffect(options)
