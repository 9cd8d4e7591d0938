/**
 * Importer tests: run an importer on a fixture, and validate its output through the real loader.
 *
 * Some target fields are being built this round (windows, networks, memory…). A test whose output
 * uses them names them in `pending` (with a `// needs:` comment): those fields are stripped and the
 * rest is validated fully. `pending` must be exactly what today's schema does not know yet, so when
 * a field lands, the test fails until it is removed from the list (and then validated whole).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Result } from "effect"
import { afterEach, beforeAll, expect } from "vitest"
import { loadConfig } from "../../../src/config/load.js"
import { loadYamlParser } from "../../../src/config/tree.js"
import { PORT_PATTERN } from "../../../src/config/rules.js"
import { opsSettingsFields, sessionFields } from "../../../src/config/schema.js"
import type { LoadedConfig } from "../../../src/config/types.js"
import { formatConfigIssue } from "../../../src/errors.js"
import { type Format, type ImportedConfig, type ImportOptions, type ImportResult, importText, renderYaml } from "../../../src/import/index.js"

// the yaml parser is loaded on the first config load (asynchronously): loaded first, so loads here can run synchronously
beforeAll(() => Effect.runPromise(loadYamlParser))

export const FIXTURES = path.resolve(import.meta.dirname, "../../fixtures/import")

export const fixture = (rel: string): string => fs.readFileSync(path.join(FIXTURES, rel), "utf8")

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

export const tempDir = (): string => {
  const d = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "kstlib-import-")))
  dirs.push(d)
  return d
}

/** Options for a source and a config in the same directory (`dir`). */
export const sameDir = (dir = "/work/project", extra: Partial<ImportOptions> = {}): ImportOptions => ({
  file: "source",
  sourceDir: dir,
  outputDir: dir,
  ...extra
})

/** The import's result; a failure fails the test with its reason. */
export const imported = (format: Format, text: string, options: ImportOptions = sameDir()): ImportResult => {
  const r = importText(format, text, options)
  if (Result.isFailure(r)) throw new Error(`import failed: ${r.failure.message}`)
  return r.success
}

/** The reason of a refused import. */
export const refused = (format: Format, text: string, options: ImportOptions = sameDir()): string => {
  const r = importText(format, text, options)
  if (Result.isSuccess(r)) throw new Error("the import was expected to fail")
  return r.failure.reason
}

/** Fields of this round not in today's schema, by what the tests call them. */
export type Pending =
  | "windows" | "networks" | "network_mode" | "ops.volumes" | "ops.networks" | "build" | "pull" | "entrypoint" | "command-list"
  | "env-dots" | "port-forms" | "volume-objects" | "restart-unless-stopped" | "memory" | "cpus" | "pids_limit" | "user" | "hostname"
  | "labels" | "extra_hosts" | "init" | "read_only" | "cap_add" | "cap_drop" | "restart_delay" | "max_backoff" | "min_uptime"
  | "stop_signal" | "stop_timeout" | "log_file" | "max_memory" | "cron_restart"

type Entry = Record<string, unknown>

const known = (backend: "tmux" | "container") => sessionFields[backend] as ReadonlyArray<string>
const todayPort = (p: unknown) => typeof p === "number" || (typeof p === "string" && PORT_PATTERN.test(p))

/** What of `config` today's schema does not know. */
export const pendingOf = (config: ImportedConfig): ReadonlyArray<string> => {
  const tags = new Set<string>()
  for (const key of Object.keys(config.ops)) if (key !== "sessions" && !(key in opsSettingsFields)) tags.add(`ops.${key}`)
  for (const s of Object.values(config.ops.sessions) as Array<Entry>) {
    const backend = s["backend"] === "container" ? "container" : "tmux"
    for (const key of Object.keys(s)) if (!known(backend).includes(key)) tags.add(key)
    // built (issue 22.2): command lists, dotted env keys (containers), every port form, long volume syntax, unless-stopped
    if (backend === "tmux" && typeof s["env"] === "object" && s["env"] !== null && Object.keys(s["env"]).some((k) => k.includes("."))) tags.add("env-dots")
    if (Array.isArray(s["ports"]) && !s["ports"].every(todayPort)) tags.add("port-forms")
  }
  return [...tags].sort()
}

const strip = (config: ImportedConfig, pending: ReadonlyArray<Pending>): ImportedConfig => {
  const ops: Entry = {}
  for (const [key, value] of Object.entries(config.ops)) if (!pending.includes(`ops.${key}` as Pending)) ops[key] = value
  const sessions: Record<string, Entry> = {}
  for (const [name, raw] of Object.entries(config.ops.sessions) as Array<[string, Entry]>) {
    const s: Entry = {}
    for (const [key, value] of Object.entries(raw)) if (!pending.includes(key as Pending)) s[key] = value
    if (pending.includes("command-list") && Array.isArray(s["command"])) delete s["command"]
    if (pending.includes("env-dots") && typeof s["env"] === "object") s["env"] = Object.fromEntries(Object.entries(s["env"] as Entry).filter(([k]) => !k.includes(".")))
    if (pending.includes("port-forms") && Array.isArray(s["ports"])) s["ports"] = s["ports"].filter(todayPort)
    if (pending.includes("volume-objects") && Array.isArray(s["volumes"])) s["volumes"] = s["volumes"].filter((v) => typeof v === "string")
    if (pending.includes("restart-unless-stopped") && s["restart"] === "unless-stopped") {
      delete s["restart"]
      delete s["max_restarts"]
    }
    sessions[name] = s
  }
  return { ops: { ...ops, sessions } } as ImportedConfig
}

export interface Validate {
  /** Fields the output uses that are not built yet (each test says which, with a `// needs:` comment). */
  readonly pending?: ReadonlyArray<Pending>
  /** Variables the config interpolates. */
  readonly env?: Readonly<Record<string, string>>
  /** Files next to the config (env files). */
  readonly files?: Readonly<Record<string, string>>
}

/**
 * The rendered YAML of `result` (pending fields stripped) loaded by kstlib's loader from a config
 * file: every session must be valid, with no warning.
 */
export const expectValid = (result: ImportResult, options: Validate = {}): LoadedConfig => {
  const pending = options.pending ?? []
  expect(pendingOf(result.config), "the pending list must name exactly the fields not built yet").toEqual([...pending].sort())
  const dir = tempDir()
  for (const [rel, text] of Object.entries(options.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true })
    fs.writeFileSync(path.join(dir, rel), text)
  }
  const file = path.join(dir, "kstlib.conf.yml")
  const stripped = { ...result, config: strip(result.config, pending) }
  fs.writeFileSync(file, renderYaml(stripped, { source: "source", format: "compose", date: "2025-01-01", output: file }))
  const loaded = Effect.runSync(loadConfig({ path: file, cwd: dir, env: { HOME: dir, ...options.env } }))
  const problems = [
    ...loaded.warnings.map(formatConfigIssue),
    ...loaded.sessions.flatMap((e) => (e._tag === "Rejected" ? e.issues.map(formatConfigIssue) : []))
  ]
  expect(problems).toEqual([])
  expect(loaded.sessions.map((e) => e.name)).toEqual(Object.keys(result.config.ops.sessions))
  return loaded
}

/** `where` → why, for readable assertions on the report. */
export const skipped = (r: ImportResult): Record<string, string> => Object.fromEntries(r.notCarried.map((n) => [n.where, n.why]))
export const noted = (r: ImportResult): Record<string, string> => Object.fromEntries(r.notes.map((n) => [n.where, n.what]))

export const session = (r: ImportResult, name: string): Entry => {
  const s = r.config.ops.sessions[name]
  if (s === undefined) throw new Error(`no session ${name}: ${Object.keys(r.config.ops.sessions).join(", ")}`)
  return s
}
