/**
 * The domain vocabulary shared by every layer: what a session should be (spec), what a backend
 * reports (observed), and the fingerprint that ties the two together. Plain data, no I/O.
 * Field names follow the config file (snake_case) so JSON output, config and library agree.
 */
import { createHash } from "node:crypto"

export type BackendKind = "tmux" | "container"
export type RuntimeName = "podman" | "docker"
export type DesiredState = "running" | "stopped"

export interface TmuxSpec {
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
}

export interface ContainerSpec {
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
  /** `null` = auto-detect (podman, then docker). */
  readonly runtime: RuntimeName | null
  readonly state: DesiredState
}

export type SessionSpec = TmuxSpec | ContainerSpec

/** `defined` exists only for config sessions that nothing runs; backends never report it. */
export type ObservedState = "running" | "stopped" | "exited" | "unknown"
export type SessionState = ObservedState | "defined"

export interface ObservedSession {
  readonly name: string
  readonly backend: BackendKind
  readonly state: ObservedState
  /** tmux: the pid of the session's process (the first pane's), not the server's. */
  readonly pid: number | null
  /** ISO 8601. */
  readonly created_at: string | null
  readonly image: string | null
  /** tmux socket the session lives on (`null` = default server). */
  readonly socket_name: string | null
  /** Container runtime that reported it. */
  readonly runtime: RuntimeName | null
  readonly exit_code: number | null
  readonly window_count: number
  /** Carries kstlib's ownership mark (tmux user option / container label). */
  readonly owned: boolean
  /** `v1:<sha256>` stored at start, or null (foreign, or started by an older kstlib). */
  readonly spec_hash: string | null
  /** The fingerprint stored at start, used to name what drifted; null when absent or unreadable. */
  readonly applied: Fingerprint | null
}

/**
 * The normalized fields of a spec that change what runs. Env values are replaced by a short digest
 * so that the fingerprint (stored on the session) and the plan never carry secrets.
 */
export type Fingerprint = Readonly<
  Record<string, string | boolean | null | ReadonlyArray<string> | Readonly<Record<string, string>>>
>

export const FINGERPRINT_VERSION = "v1"

const digest = (s: string) => createHash("sha256").update(s).digest("hex")

export const envValueDigest = (key: string, value: string): string => digest(`${key}\u0000${value}`).slice(0, 16)

const sortedEnv = (env: Readonly<Record<string, string>>) =>
  Object.fromEntries(Object.keys(env).sort().map((k) => [k, envValueDigest(k, env[k]!)]))

/** `shell` appears only when true: adding the field must not change the hash of every existing session. */
const shellField = (spec: SessionSpec) => (spec.shell ? { shell: true } : {})

export const fingerprint = (spec: SessionSpec): Fingerprint =>
  spec.backend === "tmux"
    ? {
      backend: "tmux",
      command: spec.command,
      ...shellField(spec),
      working_dir: spec.working_dir,
      env: sortedEnv(spec.env),
      socket_name: spec.socket_name
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
      runtime: spec.runtime
    }

/** JSON with sorted object keys: the same fingerprint always serializes to the same text. */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v)

export const hashFingerprint = (fp: Fingerprint): string => `${FINGERPRINT_VERSION}:${digest(canonicalJson(fp))}`

export const specHash = (spec: SessionSpec): string => hashFingerprint(fingerprint(spec))

/** Reads a stored fingerprint back (tmux option / container label); anything malformed is null. */
export const parseFingerprint = (text: string | null | undefined): Fingerprint | null => {
  if (text === null || text === undefined || text === "") return null
  try {
    const v: unknown = JSON.parse(text)
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Fingerprint) : null
  } catch {
    return null
  }
}

/** Ownership marks, the same names everywhere. */
export const Marks = {
  tmuxManaged: "@kstlib-managed",
  tmuxSpec: "@kstlib-spec",
  tmuxApplied: "@kstlib-applied",
  labelManaged: "io.kstlib.managed",
  labelSession: "io.kstlib.session",
  labelSpec: "io.kstlib.spec",
  labelApplied: "io.kstlib.applied"
} as const
