/**
 * `kstlib ops config`: the configuration as kstlib will use it (files merged, `${VAR}` interpolated,
 * env files read, paths resolved, defaults filled in), each session valid or rejected, with every
 * environment value masked where it is a value (`env:` shows `***`). Elsewhere (a command line
 * repeating a token, an issue quoting it) only values that look like secrets are masked: masking
 * every occurrence of `LOG_PREFIX: kstlib` would hide the project and every path, and `MODE: test`
 * turned an image into `app:la***`. Structure (keys, the project, the files) is never masked.
 * Pure: the CLI prints what `configView` returns.
 */
import type { ConfigIssue } from "../errors.js"
import type { ConfigEntry, LoadedConfig } from "../config/types.js"

export const MASK = "***"
/**
 * An env value that is also masked wherever else it appears: long (12+ characters), or 8+ with
 * three kinds of characters (letters in both cases, digits, symbols), as tokens and passwords are.
 * A plain path (`/srv/app/data`) is structure, not a secret.
 */
export const looksSecret = (v: string): boolean => {
  if (v.length < 8 || /^(?:~|\.{1,2})?\/[\w./-]*$/u.test(v)) return false
  const kinds = [/[a-z]/u, /[A-Z]/u, /[0-9]/u, /[^A-Za-z0-9]/u].filter((r) => r.test(v)).length
  return v.length >= 12 || kinds >= 3
}

const issueView = (i: ConfigIssue) => ({ file: i.file, line: i.line, field: i.field, reason: i.reason })

const sessionView = (e: ConfigEntry): Record<string, unknown> => {
  const source = `${e.source.file}${e.source.line === null ? "" : `:${e.source.line}`}`
  if (e._tag === "Rejected") {
    return { status: "rejected", source, backend: e.backend, issues: e.issues.map(issueView) }
  }
  const { backend, name: _name, env, ...rest } = e.spec
  // keys kept (what is set is not a secret), values never shown
  const masked = Object.fromEntries(Object.keys(env).map((k) => [k, MASK]))
  return { status: "valid", source, backend, ...rest, env: masked }
}

/** Every env value of every valid session, longest first (a value containing another is masked whole). */
const secretsOf = (config: LoadedConfig): ReadonlyArray<string> =>
  [...new Set(config.sessions.flatMap((e) => (e._tag === "Valid" ? Object.values(e.spec.env) : [])))]
    .filter(looksSecret)
    .sort((a, b) => b.length - a.length)

/** Every string in `value` (map keys excepted) with each secret replaced by the mask. */
const scrub = (value: unknown, secrets: ReadonlyArray<string>): unknown => {
  if (typeof value === "string") return secrets.reduce((s, secret) => s.split(secret).join(MASK), value)
  if (Array.isArray(value)) return value.map((v) => scrub(v, secrets))
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, scrub(v, secrets)]))
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, secrets)]))
  }
  return value
}

/**
 * The view: `project`, `files` (lowest priority first), `ops` (settings and sessions, in config
 * order, as a Map so that names like `1` keep their place), `warnings`.
 */
export const configView = (config: LoadedConfig) => ({
  project: config.project,
  files: config.files,
  ...scrub({
    ops: {
      default_backend: config.default_backend,
      container_runtime: config.container_runtime,
      tmux_binary: config.tmux_binary,
      ...(config.hosts === undefined ? {} : { hosts: new Map(config.hosts.map(({ name, ...host }) => [name, host])) }),
      sessions: new Map(config.sessions.map((e) => [e.name, sessionView(e)]))
    },
    warnings: config.warnings.map((w) => ({ ...issueView(w), session: w.session }))
  }, secretsOf(config)) as Record<string, unknown>
}) as Record<string, unknown>

/** JSON with the sessions' Map as an object (its insertion order; integer-like names come first, as JSON objects go). */
export const configJson = (view: unknown): string =>
  JSON.stringify(view, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v), 2)
