/**
 * Finding the one session a per-session command means: config entry (if any) + one observation pass,
 * narrowed by `--backend` / `--socket`. Ambiguity is an error, never a guess.
 */
import { Effect } from "effect"
import type { Backends } from "../backends/registry.js"
import { normalizeSocket } from "../backends/tmux/sockets.js"
import { validateSessionName, validateSocketName } from "../config/rules.js"
import { KstlibConfig } from "../config/service.js"
import type { ConfigEntry, LoadedConfig } from "../config/types.js"
import { ConfigInvalid, InvalidInput, SessionAmbiguous } from "../errors.js"
import type { BackendKind, ObservedSession } from "../model.js"
import { claimsSession, describePlace, placeOf } from "../place.js"
import type { Observation } from "../reconcile/observe.js"
import { configSockets, observe } from "../reconcile/observe.js"

export interface Selector {
  /** `--backend`. */
  readonly backend?: BackendKind | undefined
  /** `--socket` (tmux `-L`); "default" means the default server. */
  readonly socket?: string | undefined
  /** `--host`: an `ops.hosts` entry, or `local` for this machine (as `list`'s HOST column says). */
  readonly host?: string | undefined
}

/** `--host local`: this machine. */
export const LOCAL_HOST = "local"

/** `--host` as given: absent (undefined), this machine (null), or a host of `ops.hosts`. */
const selectorHost = (host: string | undefined): string | null | undefined => (host === LOCAL_HOST ? null : host)

/** `--host` names this machine or a host of the config: a typo is an error, not "not found". */
export const checkHost = (config: LoadedConfig, sel: Selector) => {
  const known = (config.hosts ?? []).map((h) => h.name)
  return sel.host === undefined || sel.host === LOCAL_HOST || known.includes(sel.host)
    ? Effect.void
    : Effect.fail(new InvalidInput({
      field: "host",
      reason: `unknown host '${sel.host}' (${known.length === 0 ? "no ops.hosts defined" : `ops.hosts has: ${known.join(", ")}`}; '${LOCAL_HOST}' is this machine)`
    }))
}

export type ValidEntry = Extract<ConfigEntry, { _tag: "Valid" }>

export interface Located {
  readonly name: string
  readonly entry: ValidEntry | null
  /** The session the command acts on, when one exists. */
  readonly observed: ObservedSession | null
  readonly observation: Observation
}

/** `--socket` as given: absent (undefined), or a socket with `default` meaning the default server (null). */
export const selectorSocket = (socket: string | undefined): string | null | undefined =>
  socket === undefined ? undefined : normalizeSocket(socket)

export const checkName = (name: string) => {
  const reason = validateSessionName(name)
  return reason === null ? Effect.void : Effect.fail(new InvalidInput({ field: "NAME", reason }))
}

export const checkSelector = (sel: Selector) => {
  const reason = sel.socket === undefined ? null : validateSocketName(sel.socket)
  return reason === null ? Effect.void : Effect.fail(new InvalidInput({ field: "socket", reason }))
}

/** The config entry for a name; a rejected one is an error (it is never run, nor silently replaced by a default). */
export const configEntry = (config: LoadedConfig, name: string): Effect.Effect<ValidEntry | null, ConfigInvalid> => {
  const entry = config.sessions.find((e) => e.name === name)
  if (entry === undefined) return Effect.succeed(null)
  return entry._tag === "Valid" ? Effect.succeed(entry) : Effect.fail(new ConfigInvalid({ issues: entry.issues }))
}

export const matchesSelector = (o: ObservedSession, sel: Selector): boolean => {
  const socket = selectorSocket(sel.socket)
  if (sel.backend !== undefined && o.backend !== sel.backend) return false
  if (socket !== undefined && (o.backend !== "tmux" || o.socket_name !== socket)) return false
  const host = selectorHost(sel.host)
  if (host !== undefined && (o.host ?? null) !== host) return false
  return true
}

export const observeFor = (config: LoadedConfig, sel: Selector) => {
  const socket = selectorSocket(sel.socket)
  const host = selectorHost(sel.host)
  return observe({
    sockets: [...configSockets(config), ...(socket === undefined ? [] : [socket])],
    kinds: sel.backend !== undefined ? [sel.backend] : socket !== undefined ? ["tmux"] : ["tmux", "container"],
    // `--host`: only that host is asked (`local`: none)
    ...(host === undefined ? {} : { hosts: host === null ? [] : [host] })
  })
}

export const locate = (
  name: string,
  sel: Selector
): Effect.Effect<Located, InvalidInput | ConfigInvalid | SessionAmbiguous, Backends | KstlibConfig> =>
  Effect.gen(function*() {
    yield* checkName(name)
    yield* checkSelector(sel)
    const config = yield* KstlibConfig
    yield* checkHost(config, sel)
    // A rejected entry is never run, but what runs under its name can still be shown and stopped.
    const found = config.sessions.find((e) => e.name === name)
    const entry = found?._tag === "Valid" ? found : null
    const observation = yield* observeFor(config, sel)
    const candidates = observation.sessions.filter((o) => o.name === name && matchesSelector(o, sel))
    const preferred = entry === null ? undefined : candidates.find((o) => claimsSession(entry.spec, o))
    if (preferred !== undefined) return { name, entry, observed: preferred, observation }
    if (candidates.length > 1) {
      return yield* new SessionAmbiguous({ session: name, places: candidates.map((o) => describePlace(placeOf(o))) })
    }
    return { name, entry, observed: candidates[0] ?? null, observation }
  })
