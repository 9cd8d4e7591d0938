/**
 * Where a session lives, and the one vocabulary every layer uses for it: a place (a tmux server on
 * a machine, a container engine on a machine), a scope (the part of the world one observation
 * answers or fails for: a machine, a backend there, one place), which driver serves a place, and
 * the ONE rule for "this configured spec may live there". Pure data, no I/O.
 */
import type { BackendKind, ConfiguredSpec, ObservedSession, RuntimeName, SessionSpec } from "./model.js"

/** A tmux server (`socket` null: the default one) or a container engine, on this machine or an `ops.hosts` entry. */
export type Place =
  | { readonly backend: "tmux"; readonly socket: string | null; readonly host?: string }
  | { readonly backend: "container"; readonly runtime: RuntimeName; readonly host?: string }

/**
 * A part of one machine (`host` absent: this machine): the whole machine (an unreachable host), a
 * backend there (`{ backend: "tmux" }`: its tmux, any socket), or one place (a socket, a runtime).
 * Observations report what answered and what failed as scopes.
 */
export interface Scope {
  readonly host?: string
  readonly backend?: BackendKind
  /** tmux only: one server. */
  readonly socket?: string | null
  /** containers only: one engine. */
  readonly runtime?: RuntimeName
}

/** The implementations behind the places: a tmux server, a Podman/Docker engine, a Docker Swarm. */
export type DriverName = "tmux" | "engine" | "swarm"

/** `{ host }` when set, nothing for this machine: places, specs and observed sessions carry it only when remote. */
export const hostField = (host: string | null | undefined): { readonly host?: string } =>
  host === undefined || host === null ? {} : { host }

/** The machine of a place, spec or session: an `ops.hosts` name, or null for this machine. */
export const hostOf = (x: { readonly host?: string | undefined }): string | null => x.host ?? null

/** Where a spec runs or a session was seen. */
export const placeOf = (x: SessionSpec | ObservedSession): Place =>
  x.backend === "tmux"
    ? { backend: "tmux", socket: x.socket_name, ...hostField(x.host) }
    : { backend: "container", runtime: x.runtime, ...hostField(x.host) }

export const samePlace = (a: Place, b: Place): boolean =>
  hostOf(a) === hostOf(b) &&
  (a.backend === "tmux" ? b.backend === "tmux" && a.socket === b.socket : b.backend === "container" && a.runtime === b.runtime)

const onHost = (host: string | undefined) => (host === undefined ? "" : ` on ${host}`)

/** `tmux socket default`, `podman`; on a host: `tmux socket default on edge1`, `docker on edge1`. */
export const describePlace = (p: Place): string =>
  `${p.backend === "tmux" ? `tmux socket ${p.socket ?? "default"}` : p.runtime}${onHost(p.host)}`

/** `tmux`, `tmux socket orion`, `container` (no engine), `podman`, `docker on edge1`; a whole host: `host edge1`. */
export const describeScope = (s: Scope): string => {
  if (s.backend === undefined) return s.host === undefined ? "this machine" : `host ${s.host}`
  const what = s.backend === "tmux"
    ? s.socket === undefined ? "tmux" : `tmux socket ${s.socket ?? "default"}`
    : s.runtime ?? "container"
  return `${what}${onHost(s.host)}`
}

/** The place as the scope of exactly itself. */
export const scopeOf = (p: Place): Scope =>
  p.backend === "tmux" ? { backend: "tmux", socket: p.socket, ...hostField(p.host) } : { backend: "container", runtime: p.runtime, ...hostField(p.host) }

/** Whether the place lies inside the scope. */
export const inScope = (p: Place, s: Scope): boolean =>
  hostOf(p) === hostOf(s) &&
  (s.backend === undefined || s.backend === p.backend) &&
  (s.socket === undefined || (p.backend === "tmux" && p.socket === s.socket)) &&
  (s.runtime === undefined || (p.backend === "container" && p.runtime === s.runtime))

/**
 * THE rule for "this configured spec may live in that scope": same machine, same backend, its tmux
 * socket, its runtime — or, for a container with an auto-detected runtime (null), any engine that
 * auto-detection could pick (swarm is asked for by name, never detected). A scope that could not be
 * read and that a spec claims makes the spec's session unknown: nothing is planned for it.
 */
export const claims = (spec: ConfiguredSpec, s: Scope): boolean => {
  if (hostOf(spec) !== hostOf(s)) return false
  if (s.backend !== undefined && s.backend !== spec.backend) return false
  if (spec.backend === "tmux") return s.socket === undefined || s.socket === spec.socket_name
  if (s.runtime === undefined) return true
  return spec.runtime === null ? s.runtime !== "swarm" : s.runtime === spec.runtime
}

/** Where the config puts a session: a spec (auto runtime: any detectable one) claims the place it was seen in. */
export const claimsSession = (spec: ConfiguredSpec, o: ObservedSession): boolean => o.name === spec.name && claims(spec, scopeOf(placeOf(o)))

/** The driver serving a place, a spec or a session. */
export const driverOf = (x: Place | SessionSpec | ObservedSession): DriverName =>
  x.backend === "tmux" ? "tmux" : x.runtime === "swarm" ? "swarm" : "engine"

/**
 * The network every Podman/Docker container session of a project joins (`network_mode` leaves it),
 * where the others reach it by its session name. Created by the launch that needs it (the engine
 * driver), removed with the project's last container; never part of a fingerprint.
 */
export const projectNetwork = (project: string): string => `kstlib-${project}`

/**
 * The overlay network a project's swarm services join (`runtime: swarm`), where they reach each other
 * by service (session) name: `kstlib-<project>--swarm`. Not `kstlib-<project>`: on a Docker engine
 * that is also the swarm, that name is the project's bridge for its containers. Swarm names must be
 * DNS name components (no `.`, at most 63 characters), so the suffix cannot be one no project name
 * has: a project named `<p>--swarm` would meet it, and its labels (the other project's) refuse it.
 */
export const swarmNetwork = (project: string): string => `kstlib-${project}--swarm`

/** The longest name swarm takes for a network (a DNS name component). */
export const MAX_SWARM_NETWORK_NAME = 63

/**
 * An `ops.networks` entry's engine name: `kstlib-<project>.<name>` (a project name has no `.`, so it
 * never meets another project's network). Created and removed like the project network.
 */
export const declaredNetwork = (project: string, name: string): string => `kstlib-${project}.${name}`

/** An `ops.volumes` entry's engine name, as `declaredNetwork`: kept by `down` unless `down --volumes`. */
export const declaredVolume = (project: string, name: string): string => `kstlib-${project}.${name}`
