/**
 * The domain vocabulary shared by every layer: what a session should be (spec), where it lives
 * (place), what a backend reports (observed), and the fingerprint that ties spec and session
 * together. Plain data, no I/O. Field names follow the config file (snake_case) so JSON output,
 * config and library agree.
 */
import { createHash } from "node:crypto"
import { Schema } from "effect"

export type BackendKind = "tmux" | "container"
/** `swarm`: a Docker Swarm service per session (src/backends/swarm.ts); never auto-detected. */
export type RuntimeName = "podman" | "docker" | "swarm"
export type DesiredState = "running" | "stopped"

/** `restart:` — what happens when the session's process ends (tmux: a pane-died hook; containers: the engine's policy). */
export type RestartPolicy = "no" | "on-failure" | "always"

/** `ready:` — how to tell the session is ready (one check), polled every `interval` s for at most `timeout` s. */
export type ReadyCheck =
  | { readonly tcp: number }
  | { readonly http: string }
  | { readonly log: string }
  | { readonly cmd: string }

export type ReadySpec = ReadyCheck & {
  /** Seconds (default 60). */
  readonly timeout: number
  /** Seconds between probes (default 1). */
  readonly interval: number
}

/**
 * Supervision fields, shared by both backends. Optional in the type (absent = the default), so a
 * spec written before them stays valid; decode.ts always sets them.
 */
export interface Supervision {
  /** Default "no". */
  readonly restart?: RestartPolicy
  /** null/absent: the policy's default (5 for on-failure, unlimited for always). */
  readonly max_restarts?: number | null
  readonly ready?: ReadySpec | null
  /** Sessions that must be running (and ready, when they have `ready:`) before this one starts. */
  readonly depends_on?: ReadonlyArray<string>
}

export const DEFAULT_MAX_RESTARTS_ON_FAILURE = 5
export const DEFAULT_READY_TIMEOUT = 60
export const DEFAULT_READY_INTERVAL = 1
/** Exponential backoff between restarts: 1 s, 2 s, 4 s... up to this. */
export const MAX_RESTART_BACKOFF = 30

export const restartPolicy = (spec: Supervision): RestartPolicy => spec.restart ?? "no"

/** The effective restart limit: null = unlimited (`always` without max_restarts); 0 with restart: no. */
export const maxRestarts = (spec: Supervision): number | null => {
  const policy = restartPolicy(spec)
  if (policy === "no") return 0
  if (spec.max_restarts !== undefined && spec.max_restarts !== null) return spec.max_restarts
  return policy === "on-failure" ? DEFAULT_MAX_RESTARTS_ON_FAILURE : null
}

export const dependenciesOf = (spec: Supervision): ReadonlyArray<string> => spec.depends_on ?? []

/** `tcp 5432`, `http http://…`, `log /ready/`, `cmd pg_isready`. */
export const describeReady = (r: ReadyCheck): string =>
  "tcp" in r ? `tcp ${r.tcp}` : "http" in r ? `http ${r.http}` : "log" in r ? `log /${r.log}/` : `cmd ${r.cmd}`

export interface TmuxSpec extends Supervision {
  readonly backend: "tmux"
  readonly name: string
  readonly command: string | null
  /** Run `command` through `sh -c` instead of executing its words directly (src/command.ts). */
  readonly shell: boolean
  /** Absolute (relative paths in a config file are resolved against that file's directory). */
  readonly working_dir: string | null
  readonly env: Readonly<Record<string, string>>
  /** tmux `-L` socket; `null` = the default server. */
  readonly socket_name: string | null
  readonly state: DesiredState
  /** `ops.hosts` entry the session runs on (over SSH); absent = this machine. */
  readonly host?: string
}

/** A container spec as run: its runtime is known. */
export interface ContainerSpec extends Supervision {
  readonly backend: "container"
  readonly name: string
  readonly image: string
  readonly command: string | null
  /** Run `command` through `sh -c` instead of executing its words directly (src/command.ts). */
  readonly shell: boolean
  readonly working_dir: string | null
  readonly env: Readonly<Record<string, string>>
  readonly volumes: ReadonlyArray<string>
  readonly ports: ReadonlyArray<string>
  readonly log_volume: string | null
  readonly runtime: RuntimeName
  /** `unsafe_mounts: true`: host system directories and engine sockets may be bind-mounted. */
  readonly unsafe_mounts: boolean
  readonly state: DesiredState
  /** `runtime: swarm` only: tasks of the service (absent = 1). */
  readonly replicas?: number
  /** `ops.hosts` entry the container runs on (docker over SSH); absent = this machine. */
  readonly host?: string
}


/** A container spec as configured: `runtime: null` asks for auto-detection (podman, then docker). */
export type ConfiguredContainerSpec = Omit<ContainerSpec, "runtime"> & { readonly runtime: RuntimeName | null }

/** What runs: every field resolved. */
export type SessionSpec = TmuxSpec | ContainerSpec
/** What a config entry says (before the planner binds auto-detected runtimes, once). */
export type ConfiguredSpec = TmuxSpec | ConfiguredContainerSpec

/** Where a session lives: a tmux server (socket) or a container runtime. */
export type Place =
  | { readonly backend: "tmux"; readonly socket: string | null; readonly host?: string }
  | { readonly backend: "container"; readonly runtime: RuntimeName; readonly host?: string }


/** `defined` exists only for config sessions that nothing runs; backends never report it. */
export type ObservedState = "running" | "stopped" | "exited" | "unknown"
export type SessionState = ObservedState | "defined"

/**
 * kstlib's marks on a session, as read at session scope (tmux user options never inherited from
 * global options; container labels) and compared exactly with what kstlib writes.
 */
export interface Mark {
  /** Carries the managed mark with kstlib's exact value. */
  readonly managed: boolean
  /** The project that created it (`null`: none, e.g. an older kstlib or a foreign session). */
  readonly project: string | null
  /** `v1:<sha256>` stored at start. */
  readonly spec_hash: string | null
  /** The fingerprint stored at start, used to name what drifted; null when absent or unreadable. */
  readonly applied: Fingerprint | null
}

export const NO_MARK: Mark = { managed: false, project: null, spec_hash: null, applied: null }

interface ObservedCommon {
  readonly name: string
  readonly state: ObservedState
  /** tmux: the pid of the session's process (the first pane's), not the server's. */
  readonly pid: number | null
  /** ISO 8601. */
  readonly created_at: string | null
  readonly exit_code: number | null
  readonly mark: Mark
  /** Restarts done by the restart policy (tmux: `@kstlib-restarts`; containers: the engine's RestartCount); absent/null: unknown or none. */
  readonly restarts?: number | null
  /** Exit code of the last run that ended (also while a restarted process runs); null: none known. */
  readonly last_exit_code?: number | null
  /** The `ops.hosts` entry it was observed on; absent = this machine. */
  readonly host?: string
}

export interface ObservedTmux extends ObservedCommon {
  readonly backend: "tmux"
  /** `null` = the default server. */
  readonly socket_name: string | null
  readonly window_count: number
}

export interface ObservedContainer extends ObservedCommon {
  readonly backend: "container"
  readonly runtime: RuntimeName
  readonly image: string | null
}

export type ObservedSession = ObservedTmux | ObservedContainer

// ---- hosts (ssh branch) ----
/** One `ops.hosts` entry: a machine reached over SSH (`ssh: [user@]host[:port]`), files resolved and checked at load. */
export interface HostSpec {
  readonly name: string
  readonly user: string | null
  readonly hostname: string
  readonly port: number | null
  readonly identity_file: string | null
  readonly known_hosts: string | null
  /** The container engine of this host's container sessions (default docker): one engine per host entry. */
  readonly runtime: HostRuntime
  /** Podman's API socket on the host; null = asked of the host's podman (`podman info`), as `podman system connection add` does. */
  readonly podman_socket: string | null
  /**
   * Whether the host's container engine is looked at: the config has container sessions there, or
   * names the host's `runtime:`. A tmux-only host is never asked for containers (no engine may be there).
   */
  readonly containers: boolean
}

/** The engines a remote host can run container sessions on (over their own SSH transports). */
export type HostRuntime = "docker" | "podman"

/** `{ host }` when set, nothing for this machine: places, specs and observed sessions carry it only when remote. */
export const hostField = (host: string | null | undefined): { readonly host?: string } =>
  host === undefined || host === null ? {} : { host }

/** `[user@]host[:port]`, as `ops.hosts.<name>.ssh` is written. */
const USER = /^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}$/u
const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$/u
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/u

export interface SshTarget {
  readonly user: string | null
  readonly hostname: string
  readonly port: number | null
}

/** `[user@]host[:port]` (IPv6 as `[::1]:22`) → its parts, or why not. Never starts with `-` (no option injection). */
export const parseSshTarget = (text: string): SshTarget | { readonly error: string } => {
  const m = /^(?:([^@]*)@)?(\[[^\]]*\]|[^:@]*)(?::([^:]*))?$/u.exec(text)
  const fail = (why: string) => ({ error: `${why}; expected [user@]host[:port], e.g. deploy@edge1.example.com:2222` })
  if (m === null) return fail("not an SSH target")
  const [, user, rawHost, rawPort] = m
  if (user !== undefined && !USER.test(user)) return fail(`invalid user '${user}'`)
  const bracketed = rawHost!.startsWith("[")
  const hostname = bracketed ? rawHost!.slice(1, -1) : rawHost!
  if (bracketed ? !IPV6.test(hostname) : !HOSTNAME.test(hostname)) return fail(`invalid host '${rawHost}'`)
  let port: number | null = null
  if (rawPort !== undefined) {
    if (!/^[0-9]{1,5}$/u.test(rawPort) || Number(rawPort) < 1 || Number(rawPort) > 65535) return fail(`invalid port '${rawPort}'`)
    port = Number(rawPort)
  }
  return { user: user ?? null, hostname, port }
}

/**
 * A Podman API socket path as podman's `--url ssh://…/PATH` carries it as is: absolute, without
 * whitespace, control characters (a terminal would act on them), `?`, `#` or `%` (URL syntax).
 */
export const isPodmanSocketPath = (s: string): boolean => /^\/[^\s\u0000-\u001f\u007f-\u009f?#%]+$/u.test(s)

export const hostOf = (x: { readonly host?: string | undefined }): string | null => x.host ?? null
// ---- end hosts ----

export const placeOfSpec = (spec: SessionSpec): Place =>
  spec.backend === "tmux"
    ? { backend: "tmux", socket: spec.socket_name, ...hostField(spec.host) }
    : { backend: "container", runtime: spec.runtime, ...hostField(spec.host) }

export const placeOf = (o: ObservedSession): Place =>
  o.backend === "tmux"
    ? { backend: "tmux", socket: o.socket_name, ...hostField(o.host) }
    : { backend: "container", runtime: o.runtime, ...hostField(o.host) }

export const samePlace = (a: Place, b: Place): boolean =>
  hostOf(a) === hostOf(b) &&
  (a.backend === "tmux" ? b.backend === "tmux" && a.socket === b.socket : b.backend === "container" && a.runtime === b.runtime)

/** `tmux socket default`, `podman`; on a host: `tmux socket default on edge1`, `docker on edge1`. */
export const describePlace = (p: Place): string =>
  `${p.backend === "tmux" ? `tmux socket ${p.socket ?? "default"}` : p.runtime}${p.host === undefined ? "" : ` on ${p.host}`}`

/** Ours = created by kstlib for this project: only such sessions are ever stopped, replaced or pruned by apply/down. */
export const isOurs = (o: ObservedSession, project: string): boolean => o.mark.managed && o.mark.project === project

// ---------------------------------------------------------------------------------------------
// Fingerprint
// ---------------------------------------------------------------------------------------------

/**
 * The normalized fields of a spec that change what runs. Env values are replaced by a short digest
 * so that the fingerprint (stored on the session) and the plan never carry secrets.
 */
export type Fingerprint = Readonly<
  Record<string, string | boolean | null | ReadonlyArray<string> | Readonly<Record<string, string>>>
>

const FingerprintSchema = Schema.Record(
  Schema.String,
  Schema.Union([Schema.String, Schema.Boolean, Schema.Null, Schema.Array(Schema.String), Schema.Record(Schema.String, Schema.String)])
)
const decodeFingerprintJson = Schema.decodeUnknownOption(Schema.fromJsonString(FingerprintSchema))

export const FINGERPRINT_VERSION = "v1"

const digest = (s: string) => createHash("sha256").update(s).digest("hex")

export const envValueDigest = (key: string, value: string): string => digest(`${key}\u0000${value}`).slice(0, 16)

const sortedEnv = (env: Readonly<Record<string, string>>) =>
  Object.fromEntries(Object.keys(env).sort().map((k) => [k, envValueDigest(k, env[k]!)]))

/** `shell` appears only when true: adding the field must not change the hash of every existing session. */
const shellField = (spec: ConfiguredSpec) => (spec.shell ? { shell: true } : {})
/** `host` only when set: every local session keeps its hash; moving between hosts is a replace. */
const hostFp = (spec: ConfiguredSpec) => (spec.host === undefined ? {} : { host: spec.host })

/**
 * Supervision fields, each only when not at its default: every session created before they existed
 * keeps its hash, and setting or changing one is drift.
 */
const supervisionFields = (spec: Supervision) => ({
  ...(restartPolicy(spec) !== "no" ? { restart: restartPolicy(spec) } : {}),
  ...(spec.max_restarts !== undefined && spec.max_restarts !== null ? { max_restarts: String(spec.max_restarts) } : {}),
  ...(spec.ready !== undefined && spec.ready !== null ? { ready: readyFingerprint(spec.ready) } : {}),
  ...(dependenciesOf(spec).length > 0 ? { depends_on: [...dependenciesOf(spec)].sort() } : {})
})

const readyFingerprint = (r: ReadySpec): Readonly<Record<string, string>> => {
  const check = "tcp" in r ? { tcp: String(r.tcp) } : "http" in r ? { http: r.http } : "log" in r ? { log: r.log } : { cmd: r.cmd }
  return {
    ...check,
    ...(r.timeout !== DEFAULT_READY_TIMEOUT ? { timeout: String(r.timeout) } : {}),
    ...(r.interval !== DEFAULT_READY_INTERVAL ? { interval: String(r.interval) } : {})
  }
}

/** The dependencies recorded in a stored fingerprint (to order the removal of sessions no longer in the config). */
export const appliedDependencies = (fp: Fingerprint | null): ReadonlyArray<string> => {
  const d = fp?.["depends_on"]
  return Array.isArray(d) ? d : []
}

export const fingerprint = (spec: ConfiguredSpec): Fingerprint =>
  spec.backend === "tmux"
    ? {
      backend: "tmux",
      command: spec.command,
      ...shellField(spec),
      working_dir: spec.working_dir,
      env: sortedEnv(spec.env),
      socket_name: spec.socket_name,
      ...supervisionFields(spec),
      ...hostFp(spec)
    }
    : {
      backend: "container",
      image: spec.image,
      command: spec.command,
      ...shellField(spec),
      working_dir: spec.working_dir,
      env: sortedEnv(spec.env),
      volumes: spec.volumes,
      ports: spec.ports,
      log_volume: spec.log_volume,
      runtime: spec.runtime,
      // only when set, so that every existing container keeps its hash
      ...(spec.unsafe_mounts ? { unsafe_mounts: "true" } : {}),
      // swarm: only when not 1, so that `replicas: 1` and no field hash alike
      ...(spec.replicas !== undefined && spec.replicas !== 1 ? { replicas: String(spec.replicas) } : {}),
      ...supervisionFields(spec),
      ...hostFp(spec)
    }

/** JSON with sorted object keys: the same fingerprint always serializes to the same text. */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v)

export const hashFingerprint = (fp: Fingerprint): string => `${FINGERPRINT_VERSION}:${digest(canonicalJson(fp))}`

export const specHash = (spec: ConfiguredSpec): string => hashFingerprint(fingerprint(spec))

/**
 * The one codec for a stored fingerprint (tmux option and container label alike): base64url of its
 * canonical JSON — no comma (Docker's label list), no separator or newline (tmux formats).
 */
export const encodeFingerprint = (fp: Fingerprint): string => Buffer.from(canonicalJson(fp), "utf8").toString("base64url")

/** Anything unreadable is null (the plan then reports the whole spec as changed). */
export const decodeFingerprint = (text: string | null | undefined): Fingerprint | null => {
  if (text === null || text === undefined || !/^[A-Za-z0-9_-]+={0,2}$/.test(text)) return null
  const decoded = decodeFingerprintJson(Buffer.from(text, "base64url").toString("utf8"))
  return decoded._tag === "Some" ? decoded.value : null
}

/** Ownership marks, the same names everywhere, and the exact values kstlib writes. */
export const Marks = {
  tmuxManaged: "@kstlib-managed",
  tmuxProject: "@kstlib-project",
  tmuxSpec: "@kstlib-spec",
  tmuxApplied: "@kstlib-applied",
  /** Restart policy bookkeeping (session options): restarts done, last exit code, and "stopped by kstlib". */
  tmuxRestarts: "@kstlib-restarts",
  tmuxLastExit: "@kstlib-last-exit",
  tmuxStopped: "@kstlib-stopped",
  labelManaged: "io.kstlib.managed",
  labelProject: "io.kstlib.project",
  labelSession: "io.kstlib.session",
  labelSpec: "io.kstlib.spec",
  labelApplied: "io.kstlib.applied",
  /** The managed mark's value on both backends; anything else (`0`, `false`, `yes`) is not ours. */
  managedValue: { tmux: "1", container: "true" }
} as const
