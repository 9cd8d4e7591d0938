/** Status records and list rows: what `status` and `list` print (text or JSON), from config + observation. */
import type { LoadedConfig } from "../config/types.js"
import type { BackendKind, ObservedSession, RuntimeName, SessionState } from "../model.js"
import { specHash } from "../model.js"

export interface SessionStatus {
  readonly name: string
  readonly state: SessionState
  readonly backend: BackendKind
  readonly pid: number | null
  readonly created_at: string | null
  readonly window_count: number
  readonly socket_name: string | null
  readonly image: string | null
  readonly exit_code: number | null
  readonly runtime: RuntimeName | null
  /** Created by kstlib (carries its ownership mark). */
  readonly owned: boolean
  /** `true`/`false`: owned and its spec matches config or not; `null`: not comparable (foreign, or not in config). */
  readonly in_sync: boolean | null
  readonly in_config: boolean
}

export const statusOf = (o: ObservedSession, config: LoadedConfig): SessionStatus => {
  const entry = config.sessions.find((e) => e.name === o.name)
  const valid = entry?._tag === "Valid" ? entry : undefined
  return {
    name: o.name,
    state: o.state,
    backend: o.backend,
    pid: o.pid,
    created_at: o.created_at,
    window_count: o.window_count,
    socket_name: o.socket_name,
    image: o.image,
    exit_code: o.exit_code,
    runtime: o.runtime,
    owned: o.owned,
    in_sync: o.owned && valid !== undefined && valid.spec.backend === o.backend
      ? o.spec_hash === specHash(valid.spec.backend === "container" && valid.spec.runtime === null && o.runtime !== null
        ? { ...valid.spec, runtime: o.runtime }
        : valid.spec)
      : null,
    in_config: entry !== undefined
  }
}

/** A config session that nothing runs. */
export const definedStatus = (entry: LoadedConfig["sessions"][number], config: LoadedConfig): SessionStatus => {
  const backend = entry._tag === "Valid" ? entry.spec.backend : entry.backend ?? config.default_backend
  const spec = entry._tag === "Valid" ? entry.spec : null
  return {
    name: entry.name,
    state: "defined",
    backend,
    pid: null,
    created_at: null,
    window_count: 0,
    socket_name: spec?.backend === "tmux" ? spec.socket_name : null,
    image: spec?.backend === "container" ? spec.image : null,
    exit_code: null,
    runtime: spec?.backend === "container" ? spec.runtime : null,
    owned: false,
    in_sync: null,
    in_config: true
  }
}

/**
 * Every session of every backend and socket, then each config session that nothing runs as
 * `defined`. Rejected config entries are listed too (as defined): `validate` says why.
 */
export const listRows = (
  observed: ReadonlyArray<ObservedSession>,
  config: LoadedConfig,
  backend?: BackendKind
): ReadonlyArray<SessionStatus> => {
  const running = observed.filter((o) => backend === undefined || o.backend === backend).map((o) => statusOf(o, config))
  const seen = new Set(observed.map((o) => o.name))
  const defined = config.sessions
    .filter((e) => !seen.has(e.name))
    .map((e) => definedStatus(e, config))
    .filter((s) => backend === undefined || s.backend === backend)
  return [...running, ...defined]
}
