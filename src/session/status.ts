/** Status records and list rows: what `status` and `list` print (text or JSON), from config + observation. */
import { Duration } from "effect"
import type { Usage } from "../backends/driver.js"
import type { ConfigEntry, LoadedConfig } from "../config/types.js"
import type { ConfigIssue } from "../errors.js"
import type { BackendKind, ObservedPane, ObservedSession, RuntimeName, SessionState } from "../model.js"
import { isOurs } from "../model.js"
import type { Scope } from "../place.js"
import { claims } from "../place.js"
import { boundTo } from "../reconcile/plan.js"
import type { EnvDigest } from "../spec/fingerprint.js"
import { digestFor, specHash } from "../spec/fingerprint.js"

export interface SessionStatus {
  readonly name: string
  /** `invalid`: a config entry that was rejected (never run); its issues say why. */
  readonly state: SessionState | "invalid"
  readonly backend: BackendKind
  readonly pid: number | null
  readonly created_at: string | null
  readonly window_count: number
  readonly socket_name: string | null
  readonly image: string | null
  readonly exit_code: number | null
  readonly runtime: RuntimeName | null
  /** The `ops.hosts` entry it runs on (null: this machine). */
  readonly host: string | null
  /** Created by kstlib for this project (carries both marks). */
  readonly owned: boolean
  /** The kstlib project that created it, if any (another project's sessions are never touched). */
  readonly project: string | null
  /** `true`/`false`: owned and its spec matches config or not; `null`: not comparable (foreign, or not in config). */
  readonly in_sync: boolean | null
  readonly in_config: boolean
  readonly issues: ReadonlyArray<ConfigIssue>
  /** Restarts done by the restart policy; null when the session has none (or it is unknown). */
  readonly restarts: number | null
  /** Exit code of the last run that ended (restart policy bookkeeping); null when unknown. */
  readonly last_exit_code: number | null
  /** `ready:` probed once (status only): true/false; null when not probed (no `ready:`, not running, or list). */
  readonly ready: boolean | null
  /** Recent CPU of the session's processes, percent of one core (200: two cores busy); null when not measured. */
  readonly cpu_percent: number | null
  /** Resident memory (RSS) of the session's processes, bytes; null when not measured. */
  readonly memory_bytes: number | null
  /** tmux: every pane, when the session has more than one (`windows:`). */
  readonly panes?: ReadonlyArray<ObservedPane>
}

/**
 * How long CPU is measured for `list`, `status` and each frame of `top`: once for every session,
 * concurrently (tmux: two scans of /proc; Podman: two `stats`; Docker's own `stats` takes ~1 s).
 */
export const USAGE_WINDOW = Duration.millis(300)

/** A row with its measured usage (none: as it was). */
export const withUsage = (s: SessionStatus, u: Usage | null | undefined): SessionStatus =>
  u === null || u === undefined ? s : { ...s, cpu_percent: u.cpu_percent, memory_bytes: u.memory_bytes }

/** Ours, and its stored hash is the config's (bound to the runtime it runs on, compared under the digest it was stamped with). */
const inSync = (o: ObservedSession, entry: ConfigEntry | undefined, config: LoadedConfig, digest: EnvDigest): boolean | null => {
  if (!isOurs(o, config.project) || entry?._tag !== "Valid") return null
  const spec = boundTo(entry.spec, o)
  return spec === null ? null : o.mark.spec_hash === specHash(spec, digestFor(o.mark.applied, digest))
}

/** `entry`: the config entry of `o`'s name, when the caller has it at hand (a list looks it up in a map). */
export const statusOf = (
  o: ObservedSession,
  config: LoadedConfig,
  digest: EnvDigest,
  entry: ConfigEntry | undefined = config.sessions.find((e) => e.name === o.name)
): SessionStatus => {
  return {
    name: o.name,
    state: o.state,
    backend: o.backend,
    pid: o.pid,
    created_at: o.created_at,
    window_count: o.backend === "tmux" ? o.window_count : 0,
    socket_name: o.backend === "tmux" ? o.socket_name : null,
    image: o.backend === "container" ? o.image : null,
    exit_code: o.exit_code,
    runtime: o.backend === "container" ? o.runtime : null,
    host: o.host ?? null,
    owned: isOurs(o, config.project),
    project: o.mark.managed ? o.mark.project : null,
    in_sync: inSync(o, entry, config, digest),
    in_config: entry !== undefined,
    issues: [],
    restarts: o.restarts ?? null,
    last_exit_code: o.last_exit_code ?? null,
    ready: null,
    cpu_percent: null,
    memory_bytes: null,
    ...(o.backend === "tmux" && o.panes !== undefined ? { panes: o.panes } : {})
  }
}

/** A config session that nothing runs (`defined`), or a rejected entry (`invalid`). */
export const definedStatus = (entry: ConfigEntry, config: LoadedConfig, unreadable: ReadonlyArray<Scope> = []): SessionStatus => {
  const spec = entry._tag === "Valid" ? entry.spec : null
  // On a host that could not be read: not known to be absent.
  const unknown = spec !== null && spec.host !== undefined && unreadable.some((s) => claims(spec, s))
  return {
    name: entry.name,
    state: entry._tag === "Valid" ? (unknown ? "unknown" : "defined") : "invalid",
    backend: spec?.backend ?? (entry._tag === "Rejected" ? entry.backend : null) ?? config.default_backend,
    pid: null,
    created_at: null,
    window_count: 0,
    socket_name: spec?.backend === "tmux" ? spec.socket_name : null,
    image: spec?.backend === "container" ? spec.image : null,
    exit_code: null,
    runtime: spec?.backend === "container" ? spec.runtime : null,
    host: spec?.host ?? null,
    owned: false,
    project: null,
    in_sync: null,
    in_config: true,
    issues: entry._tag === "Rejected" ? entry.issues : [],
    restarts: null,
    last_exit_code: null,
    ready: null,
    cpu_percent: null,
    memory_bytes: null
  }
}

interface ShownOptions {
  readonly backend?: BackendKind | undefined
  readonly all?: boolean
}

/** The observed sessions a list shows (see listRows): this project's and whatever holds a configured name; `all`: every one. */
export const shownSessions = (observed: ReadonlyArray<ObservedSession>, config: LoadedConfig, options: ShownOptions): ReadonlyArray<ObservedSession> => {
  // one set, not a search of the config per observed session: a list stays linear in the sessions
  const configured = new Set(config.sessions.map((e) => e.name))
  return observed.filter((o) =>
    (options.backend === undefined || o.backend === options.backend) &&
    (options.all === true || isOurs(o, config.project) || configured.has(o.name))
  )
}

/**
 * This project's view (default): its sessions, whatever else holds a configured name, then each
 * config entry nothing runs (`defined`, or `invalid` when rejected). `all`: every session on the
 * machine (any project, foreign ones too), then the config entries nothing runs.
 */
export const listRows = (
  observed: ReadonlyArray<ObservedSession>,
  config: LoadedConfig,
  options: ShownOptions & {
    readonly digest: EnvDigest
    readonly unreadable?: ReadonlyArray<Scope>
    /** Measured usage of the shown sessions (shownSessions), by session. */
    readonly usage?: ReadonlyMap<ObservedSession, Usage | null>
  }
): ReadonlyArray<SessionStatus> => {
  const configured = new Map(config.sessions.map((e) => [e.name, e] as const))
  const shown = shownSessions(observed, config, options)
  const seen = new Set(observed.map((o) => o.name))
  const defined = config.sessions
    .filter((e) => !seen.has(e.name))
    .map((e) => definedStatus(e, config, options.unreadable))
    .filter((s) => options.backend === undefined || s.backend === options.backend)
  return [...shown.map((o) => withUsage(statusOf(o, config, options.digest, configured.get(o.name)), options.usage?.get(o))), ...defined]
}
