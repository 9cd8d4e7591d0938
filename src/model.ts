/**
 * The domain vocabulary shared by every layer: what a session should be (spec), where it lives
 * (place), what a backend reports (observed), and the fingerprint that ties spec and session
 * together. Plain data, no I/O. Field names follow the config file (snake_case) so JSON output,
 * config and library agree.
 */

export type BackendKind = "tmux" | "container"
/** `swarm`: a Docker Swarm service per session (src/backends/swarm.ts); never auto-detected. */
export type RuntimeName = "podman" | "docker" | "swarm"
export type DesiredState = "running" | "stopped"

/** `restart:` — what happens when the session's process ends (tmux: kstlib's supervisor in the pane; containers: the engine's policy). */
export type RestartPolicy = "no" | "on-failure" | "always" | "unless-stopped"

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
/** What `ops watch` enforces (src/watch/); absent = not set. */
export interface Watched {
  /** A cron expression (config/cron.ts): the session is restarted on it. */
  readonly cron_restart?: string
  /** Bytes: the session is restarted when its process tree's RSS exceeds it. */
  readonly max_memory?: number
}

/** Durable logs (src/logs/); absent = the default. */
export interface Logged {
  /** Absolute path of the session's log file (on its machine); false: none; absent: the default place. */
  readonly log_file?: string | false
  /** Bytes after which the file is rotated (default 10 MiB). */
  readonly log_max_size?: number
  /** Rotated files kept (default 3). */
  readonly log_keep?: number
}

export const DEFAULT_LOG_MAX_SIZE = 10 * 1024 * 1024
export const DEFAULT_LOG_KEEP = 3

export interface Supervision extends Watched, Logged {
  /** Default "no". */
  readonly restart?: RestartPolicy
  /** Crashes in a row (a run longer than `min_uptime` resets the count); null/absent: the policy's default (5 for on-failure, unlimited for always). */
  readonly max_restarts?: number | null
  /** Seconds before the first restart (default 1); each crash in a row doubles it up to `max_backoff`. */
  readonly restart_delay?: number
  /** Cap of the doubling, seconds (default 30). */
  readonly max_backoff?: number
  /** A run that lasted at least this (seconds, default 10) resets the backoff and the `max_restarts` count. */
  readonly min_uptime?: number
  /** The signal a stop sends first (default INT), before TERM and then KILL. */
  readonly stop_signal?: StopSignal
  /** Seconds a stop waits after `stop_signal` before TERM (default 10). */
  readonly stop_timeout?: number
  readonly ready?: ReadySpec | null
  /** Sessions that must be running (and ready, when they have `ready:`) before this one starts. */
  readonly depends_on?: ReadonlyArray<string>
}

/** The signals a stop may start with (names without `SIG`). */
export const STOP_SIGNALS = ["INT", "TERM", "HUP", "QUIT", "USR1", "USR2", "KILL"] as const
export type StopSignal = (typeof STOP_SIGNALS)[number]

export const DEFAULT_MAX_RESTARTS_ON_FAILURE = 5
export const DEFAULT_READY_TIMEOUT = 60
export const DEFAULT_READY_INTERVAL = 1
/** Backoff between restarts: `restart_delay` (1 s), doubling with each crash in a row, up to `max_backoff` (30 s). */
export const DEFAULT_RESTART_DELAY = 1
export const DEFAULT_MAX_BACKOFF = 30
/** A run this long (seconds) was not a crash loop: the backoff and the count start again. */
export const DEFAULT_MIN_UPTIME = 10
export const DEFAULT_STOP_SIGNAL: StopSignal = "INT"
export const DEFAULT_STOP_TIMEOUT = 10

/** The restart policy's timings, defaults filled in. */
export const backoffOf = (spec: Supervision) => ({
  delay: spec.restart_delay ?? DEFAULT_RESTART_DELAY,
  cap: spec.max_backoff ?? DEFAULT_MAX_BACKOFF,
  minUptime: spec.min_uptime ?? DEFAULT_MIN_UPTIME
})

/** How a stop goes, defaults filled in: `signal`, wait `timeout` s, TERM, KILL. */
export const stopSettingsOf = (spec: Supervision) => ({
  signal: spec.stop_signal ?? DEFAULT_STOP_SIGNAL,
  timeout: spec.stop_timeout ?? DEFAULT_STOP_TIMEOUT
})

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

/** One pane of a `windows:` session: its own command (same rules as a session's), directory and env (over the session's). */
export interface PaneSpec {
  /** null: the user's shell. */
  readonly command: string | null
  readonly shell: boolean
  /** Absolute; null: the session's. */
  readonly working_dir: string | null
  /** Over the session's env. */
  readonly env: Readonly<Record<string, string>>
}

/** One window of a `windows:` session: named (unique in the session), its panes in creation order. */
export interface WindowSpec {
  readonly name: string
  readonly panes: ReadonlyArray<PaneSpec>
  /** A tmux named layout or a layout string; null: tiled when there are several panes. */
  readonly layout: string | null
  /** The window `attach` lands on (the first one when none says so). */
  readonly focus: boolean
  /** Index (in `panes`) of the pane active in the window; 0 by default. */
  readonly focus_pane: number
}

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
  /** Windows and panes (tmuxp's workspace); absent: one window running `command`. */
  readonly windows?: ReadonlyArray<WindowSpec>
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
  /** How it runs (Podman and Docker; absent = the engine's default): see ContainerRunOptions. */
  readonly network_mode?: "host" | "none"
  readonly user?: string
  readonly hostname?: string
  readonly init?: boolean
  readonly read_only?: boolean
  readonly pids_limit?: number
  readonly cap_add?: ReadonlyArray<string>
  readonly cap_drop?: ReadonlyArray<string>
  /** Labels of its own (never `io.kstlib.*`). */
  readonly labels?: Readonly<Record<string, string>>
  /** `HOST:IP` lines of its /etc/hosts. */
  readonly extra_hosts?: ReadonlyArray<string>
  /** Memory filesystems mounted at these paths (`--tmpfs`), from the long volume syntax's `type: tmpfs`. */
  readonly tmpfs?: ReadonlyArray<string>
  /** Built from this context (the image is then its tag, never pulled). */
  readonly build?: BuildSpec
  /** The content digest of the build context (system/tree-digest.ts): a change is drift (`build context changed`). */
  readonly build_context?: string
  /** When the image is pulled before a launch: `missing` (absent: the default), `always`, `never`. */
  readonly pull?: PullPolicy
  /** `--privileged` (validation: only with `unsafe_mounts`). */
  readonly privileged?: boolean
  /** The image's ENTRYPOINT replaced by these words (`[]`: cleared); absent: the image's. */
  readonly entrypoint?: ReadonlyArray<string>
  /** `ops.networks` it joins besides the project network (engine name `kstlib-<project>-<name>`). */
  readonly networks?: ReadonlyArray<DeclaredNetwork>
  /** The `ops.volumes` its volumes name (engine name `kstlib-<project>.<name>`), sorted. */
  readonly declared_volumes?: ReadonlyArray<string>
  /** `runtime: swarm` only: tasks of the service (absent = 1). */
  readonly replicas?: number
  /** Memory limit, bytes (`--memory`); absent: none. */
  readonly memory?: number
  /** CPU limit, CPUs (`--cpus`); absent: none. */
  readonly cpus?: number
  /** `ops.hosts` entry the container runs on (docker over SSH); absent = this machine. */
  readonly host?: string
}


export type PullPolicy = "missing" | "always" | "never"

/** `build:`: the image is built from this context with the session's engine (paths absolute). */
export interface BuildSpec {
  readonly context: string
  /** Relative to the context (the engine's default: `Dockerfile`). */
  readonly dockerfile?: string
  readonly target?: string
  readonly args?: Readonly<Record<string, string>>
}

/** An `ops.networks` entry: created on demand with kstlib's marks; `internal`: no route outside. */
export interface DeclaredNetwork {
  readonly name: string
  readonly internal: boolean
}

/** A container spec as configured: `runtime: null` asks for auto-detection (podman, then docker). */
export type ConfiguredContainerSpec = Omit<ContainerSpec, "runtime"> & { readonly runtime: RuntimeName | null }

/** What runs: every field resolved. */
export type SessionSpec = TmuxSpec | ContainerSpec
/** What a config entry says (before the planner binds auto-detected runtimes, once). */
export type ConfiguredSpec = TmuxSpec | ConfiguredContainerSpec

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

/** One pane of a session with several (`windows:`, or split by hand). */
export interface ObservedPane {
  readonly window: string
  readonly window_index: number
  readonly pane: number
  readonly state: "running" | "exited"
  readonly pid: number | null
  readonly exit_code: number | null
  readonly restarts?: number | null
  readonly last_exit_code?: number | null
}

export interface ObservedTmux extends ObservedCommon {
  readonly backend: "tmux"
  /** `null` = the default server. */
  readonly socket_name: string | null
  readonly window_count: number
  /** Every pane, in window then pane order, when there is more than one (the session reads as its first; running while any runs). */
  readonly panes?: ReadonlyArray<ObservedPane>
}

export interface ObservedContainer extends ObservedCommon {
  readonly backend: "container"
  readonly runtime: RuntimeName
  readonly image: string | null
  /** Its `io.kstlib.log` label, as read by an inspect (absent: not read, or none). */
  readonly log_label?: string
}

export type ObservedSession = ObservedTmux | ObservedContainer

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

/** Ours = created by kstlib for this project: only such sessions are ever stopped, replaced or pruned by apply/down. */
export const isOurs = (o: ObservedSession, project: string): boolean => o.mark.managed && o.mark.project === project

/** A value stored in a fingerprint. */
export type FingerprintValue = string | boolean | null | ReadonlyArray<string> | Readonly<Record<string, string>>

/**
 * The normalized fields of a spec that change what runs (src/spec/: the field tables, the hash and
 * the codec). Env values are replaced by a digest per key, so that the fingerprint (stored on the
 * session) and the plan never carry secrets.
 */
export type Fingerprint = Readonly<Record<string, FingerprintValue>>

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
  /** Written by the supervisor: the running command's own pid (`-` between runs). */
  tmuxPid: "@kstlib-pid",
  /** `SIGNAL TIMEOUT` of the session's stop settings, read by a stop in its pane listing. */
  tmuxStop: "@kstlib-stop",
  labelManaged: "io.kstlib.managed",
  labelProject: "io.kstlib.project",
  labelSession: "io.kstlib.session",
  labelSpec: "io.kstlib.spec",
  labelApplied: "io.kstlib.applied",
  /** Where kstlib writes a container's output when it removes it (logs/target.ts `logLabel`). */
  labelLog: "io.kstlib.log",
  /** The managed mark's value on both backends; anything else (`0`, `false`, `yes`) is not ours. */
  managedValue: { tmux: "1", container: "true" }
} as const
