/**
 * One session entry → a valid spec or a rejected entry with every issue located. Used by the loader
 * for each `ops.sessions.<name>` and by `start` for a spec built from config + overrides, so both go
 * through exactly the same rules. This module picks the backend and decodes with its schema; the
 * fields are read by common.ts (both backends), tmux.ts and container.ts.
 */
import { Result, Schema } from "effect"
import { type ConfigIssue, escapeText } from "../../errors.js"
import type { BackendKind, DeclaredNetwork, HostRuntime, HostSpec, RuntimeName } from "../../model.js"
import { validateSessionName } from "../rules.js"
import { ContainerSession, sessionFields, TmuxSession } from "../schema.js"
import type { Loc } from "../tree.js"
import type { ConfigEntry, SourceLocation } from "../types.js"
import type { FieldPath } from "./common.js"
import { checkCommandWords, sharedOf } from "./common.js"
import { containerSpecOf } from "./container.js"
import { fieldPath, flattenIssues, suggestField } from "./issues.js"
import { tmuxSpecOf } from "./tmux.js"

export { closestNames, fieldPath, flattenIssues, suggestField } from "./issues.js"

export interface SessionDefaults {
  readonly default_backend: BackendKind
  readonly container_runtime: RuntimeName | null
  /** The `ops.hosts` a session's `host:` may name, with each host's container engine (absent: none). */
  readonly hosts?: ReadonlyMap<string, HostRuntime>
  /** `ops.networks` by name (absent: none declared). */
  readonly networks?: ReadonlyMap<string, DeclaredNetwork>
  /** `ops.volumes` names (absent: none declared). */
  readonly volumes?: ReadonlySet<string>
  /** The project: the tag of a built image without `image:` is named after it. */
  readonly project?: string
}

/** The defaults a session entry is decoded with, from the config's settings: one place for load and `start`. */
export const sessionDefaults = (c: {
  readonly default_backend: BackendKind
  readonly container_runtime: RuntimeName | null
  readonly hosts?: ReadonlyArray<HostSpec> | undefined
  readonly networks?: ReadonlyArray<DeclaredNetwork> | undefined
  readonly volumes?: ReadonlyArray<string> | undefined
  readonly project?: string | undefined
}): SessionDefaults => ({
  ...(c.project === undefined ? {} : { project: c.project }),
  default_backend: c.default_backend,
  container_runtime: c.container_runtime,
  hosts: new Map((c.hosts ?? []).map((h) => [h.name, h.runtime])),
  networks: new Map((c.networks ?? []).map((n) => [n.name, n])),
  volumes: new Set(c.volumes ?? [])
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
  readonly locate: (fieldPath: FieldPath) => Loc
  readonly baseDirOf: (fieldPath: FieldPath) => string
}

export const decodeSessionEntry = (name: string, raw: unknown, ctx: DecodeContext): ConfigEntry =>
  decodeLocated(name, raw, {
    defaults: ctx.defaults,
    home: ctx.home,
    source: { file: ctx.file, line: ctx.line },
    locate: () => ({ file: ctx.file, line: ctx.line }),
    baseDirOf: () => ctx.baseDir
  })

const parseOptions = { errors: "all", onExcessProperty: "error" } as const
const decodeTmux = Schema.decodeUnknownResult(TmuxSession)
const decodeContainer = Schema.decodeUnknownResult(ContainerSession)

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const other = (backend: BackendKind): BackendKind => (backend === "tmux" ? "container" : "tmux")
const ownFields = (backend: BackendKind): ReadonlyArray<string> => sessionFields[backend]

const unknownFieldReason = (key: string, backend: BackendKind): string =>
  ownFields(other(backend)).includes(key)
    ? `unknown field for a ${backend} session ('${key}' is a ${other(backend)} field: set backend: ${other(backend)})`
    : suggestField(key, ownFields(backend))

/** Null, empty and false mean "not set": the original ignores such fields of the other backend (`image: null` on tmux). */
const isUnset = (v: unknown) =>
  v === null || v === false || v === "" || (Array.isArray(v) && v.length === 0) || (isRecord(v) && Object.keys(v).length === 0)

/** The entry as its backend's schema reads it: a null `backend:` dropped, and fields of the other backend left unset. */
const inputFor = (body: Readonly<Record<string, unknown>>, backend: BackendKind): Readonly<Record<string, unknown>> =>
  Object.fromEntries(Object.entries(body).filter(([k, v]) =>
    !(k === "backend" && v === null) && !(isUnset(v) && !ownFields(backend).includes(k) && ownFields(other(backend)).includes(k))
  ))

export const decodeLocated = (name: string, raw: unknown, ctx: LocatedContext): ConfigEntry => {
  const issues: Array<ConfigIssue> = []
  const report = (p: FieldPath, reason: string) => {
    const at = ctx.locate(p)
    // escaped here too (not only when printed): every renderer of issues gets terminal-safe text
    issues.push({ file: at.file, line: at.line, session: name, field: escapeText(fieldPath(p)), reason: escapeText(reason) })
  }
  const rejected = (backend: BackendKind | null): ConfigEntry => ({ _tag: "Rejected", name, backend, issues, source: ctx.source })

  const nameReason = validateSessionName(name)
  if (nameReason !== null) report([], nameReason)

  // `web:` (null) is an empty session: the defaults
  const body = raw === null || raw === undefined ? {} : raw
  if (!isRecord(body)) {
    report([], `a session must be a mapping of fields, got ${Array.isArray(body) ? "a list" : typeof body}`)
    return rejected(null)
  }
  const asked = body["backend"] ?? ctx.defaults.default_backend
  if (asked !== "tmux" && asked !== "container") {
    report(["backend"], `Invalid backend '${String(asked)}'. Must be 'tmux' or 'container'.`)
    return rejected(null)
  }
  const backend: BackendKind = asked
  const input = inputFor(body, backend)
  const entryContext = {
    home: ctx.home,
    baseDirOf: ctx.baseDirOf,
    hosts: ctx.defaults.hosts ?? new Map(),
    containerRuntime: ctx.defaults.container_runtime,
    networks: ctx.defaults.networks ?? new Map(),
    volumes: ctx.defaults.volumes ?? new Set(),
    project: ctx.defaults.project ?? "kstlib"
  }
  const schemaIssues = (error: Schema.SchemaError) => {
    for (const i of flattenIssues(error)) {
      report(i.path, i.unknownField ? unknownFieldReason(String(i.path[i.path.length - 1]), backend) : i.message)
    }
  }
  if (backend === "tmux") {
    const decoded = decodeTmux(input, parseOptions)
    if (Result.isFailure(decoded)) schemaIssues(decoded.failure)
    checkCommandWords(body, report)
    if (Result.isFailure(decoded) || issues.length > 0) return rejected(backend)
    const spec = tmuxSpecOf(name, decoded.success, sharedOf(name, decoded.success, backend, entryContext, report), entryContext, report)
    return issues.length > 0 ? rejected(backend) : { _tag: "Valid", name, spec, source: ctx.source }
  }
  const decoded = decodeContainer(input, parseOptions)
  if (Result.isFailure(decoded)) schemaIssues(decoded.failure)
  checkCommandWords(body, report)
  if (Result.isFailure(decoded) || issues.length > 0) return rejected(backend)
  const spec = containerSpecOf(name, decoded.success, sharedOf(name, decoded.success, backend, entryContext, report), entryContext, report)
  return issues.length > 0 ? rejected(backend) : { _tag: "Valid", name, spec, source: ctx.source }
}
