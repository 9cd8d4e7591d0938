/**
 * The Effect Schema of `kstlib.conf.yml`: the single description of the file, used both to decode
 * each session entry (decode.ts) and to generate the JSON Schema editors use. The value rules are
 * the functions of rules.ts wrapped as Schema checks (with a JSON Schema fragment where one can say
 * the same thing), so they exist once.
 */
import {
  MAX_PANES,
  MAX_WINDOWS,
  MIN_CONTAINER_MEMORY,
  MIN_LOG_SIZE,
  MIN_MAX_MEMORY,
  parseByteSize,
  parseContainerMemory,
  parseLogSize,
  validateCpus,
  validateCron,
  validateLayout,
  validateLogFile,
  validateWindowName,
  WINDOW_NAME_PATTERN
} from "./rules.js"
import { JsonSchema, Schema } from "effect"
import { STOP_SIGNALS } from "../model.js"
import { parseSshTarget } from "./decode/hosts.js"
import {
  DANGEROUS_ENV_KEYS,
  isPodmanSocketPath,
  DANGEROUS_ENV_PREFIXES,
  DOTTED_ENV_KEY_PATTERN,
  IMAGE_PATTERN,
  MAX_COMMAND_LENGTH,
  MAX_CONFIG_SESSIONS,
  MAX_ENV_KEY_LENGTH,
  MAX_ENV_VALUE_LENGTH,
  MAX_ENV_VARS,
  MAX_IMAGE_NAME_LENGTH,
  MAX_PORTS,
  MAX_PROJECT_NAME_LENGTH,
  MAX_SESSION_NAME_LENGTH,
  MAX_SESSIONS_LIMIT,
  MAX_SOCKET_NAME_LENGTH,
  MAX_VOLUMES,
  MAX_WORKING_DIR_LENGTH,
  PORT_PATTERN,
  PROJECT_NAME_PATTERN,
  SESSION_NAME_PATTERN,
  MAX_DEPENDENCIES,
  MAX_READY_INTERVAL,
  MAX_READY_PATTERN_LENGTH,
  MAX_READY_TIMEOUT,
  MAX_READY_URL_LENGTH,
  MAX_RESTARTS_LIMIT,
  SECONDS_BOUNDS,
  type SecondsField,
  validateSeconds,
  validateCommand,
  validateArgv,
  validateMaxRestarts,
  validateReadyPattern,
  validateReadySeconds,
  validateReadyUrl,
  validateEnvCount,
  validateEnvEntry,
  validateImage,
  validatePort,
  validatePortCount,
  validateProjectName,
  validateSessionName,
  validateSocketName,
  validateVolume,
  validateVolumeCount,
  validateWorkingDir,
  VOLUME_PATTERN
} from "./rules.js"
import {
  CAPABILITY_PATTERN,
  CONTAINER_USER_PATTERN,
  HOSTNAME_PATTERN,
  PIDS_LIMIT_BOUNDS,
  validateCapability,
  validateContainerUser,
  validateExtraHost,
  validateHostname,
  validateLabel,
  MAX_LABELS,
  MAX_OBJECT_NAME_LENGTH,
  OBJECT_NAME_PATTERN,
  validateObjectName
} from "./rules.js"

/** A rules.ts rule as a Schema check; `jsonSchema` is what JSON Schema can express of it. */
const rule = <T>(validate: (value: T) => string | null, jsonSchema: Record<string, unknown>, expected: string) =>
  Schema.makeFilter<T>((value) => validate(value) ?? undefined, { expected, toJsonSchema: () => jsonSchema })

export const SessionName = Schema.String.check(
  rule(validateSessionName, { minLength: 1, maxLength: MAX_SESSION_NAME_LENGTH, pattern: SESSION_NAME_PATTERN.source }, "a session name")
)

export const Image = Schema.String.check(
  rule(validateImage, { minLength: 1, maxLength: MAX_IMAGE_NAME_LENGTH, pattern: IMAGE_PATTERN.source }, "an image name")
).annotate({ description: "Container image, e.g. `python:3.12-slim` or `localhost:5000/app:1.2`." })

/**
 * What every command must pass, shell or not. The deep check (unquoted `;`, `|`, `&`, redirections,
 * substitutions, `eval`, `bash -c`) depends on the entry's `shell` flag: decode.ts applies it.
 */
export const Command = Schema.String.check(
  rule((s: string) => validateCommand(s, { shell: true }), { minLength: 1, maxLength: MAX_COMMAND_LENGTH }, "a command")
).annotate({
  description:
    "Command to run, split into words (quotes group words) and executed WITHOUT a shell, on every backend. Unquoted ; | & < > $( ` , eval/source/exec and `sh -c` are refused unless shell: true. No newlines."
})

export const Shell = Schema.Boolean.annotate({
  default: false,
  description: "Run the command through `sh -c` (shell syntax allowed: pipes, chaining, redirections, $VARS)."
})

export const WorkingDir = Schema.String.check(
  rule(validateWorkingDir, { minLength: 1, maxLength: MAX_WORKING_DIR_LENGTH }, "a directory")
)

export const SocketName = Schema.String.check(
  rule(validateSocketName, { minLength: 1, maxLength: MAX_SOCKET_NAME_LENGTH, pattern: "^[^/\\\\\\u0000-\\u001f\\u007f]+$" }, "a socket name")
).annotate({ description: "tmux server socket (`tmux -L NAME`); absent or null = the default server." })

/** `host:container[:ro|:rw]`; a relative host path (`./data`) is resolved against the config file's directory. */
export const Volume = Schema.String.check(
  rule(validateVolume, { pattern: VOLUME_PATTERN.source, not: { pattern: "\\.\\." } }, "a volume")
)

const PortNumber = Schema.Int.check(
  rule((n: number) => validatePort(String(n)), { minimum: 1, maximum: 65535 }, "a port")
)
/** `[host:]container[/tcp|/udp]`; a bare integer is accepted (`- 8080`). */
export const Port = Schema.Union([Schema.String.check(rule(validatePort, { pattern: PORT_PATTERN.source }, "a port")), PortNumber])

/** YAML scalars are accepted (`DEBUG: 0`, `VERBOSE: true`) and become strings. */
export const EnvValue = Schema.Union([Schema.String, Schema.Finite, Schema.Boolean]).annotate({
  expected: "a string, number or boolean (write \"\" for an empty value)"
})

/** Keys with dots pass here (containers take them); a tmux session refuses them (decode/tmux.ts). */
export const Env = Schema.Record(Schema.String, EnvValue).check(
  Schema.makeFilter<Readonly<Record<string, string | number | boolean>>>(
    (env) => {
      const count = validateEnvCount(Object.keys(env).length)
      if (count !== null) return count
      return Object.entries(env).flatMap(([key, value]) => {
        const reason = validateEnvEntry(key, String(value), { dots: true })
        return reason === null ? [] : [{ path: [key], issue: reason }]
      })
    },
    {
      expected: "environment variables",
      toJsonSchema: () => ({
        maxProperties: MAX_ENV_VARS,
        propertyNames: {
          pattern: DOTTED_ENV_KEY_PATTERN.source,
          maxLength: MAX_ENV_KEY_LENGTH,
          not: { anyOf: [{ enum: DANGEROUS_ENV_KEYS }, { pattern: `^(?:${DANGEROUS_ENV_PREFIXES.join("|")})` }] }
        }
      })
    }
  )
).annotate({ description: `Environment variables (values up to ${MAX_ENV_VALUE_LENGTH} chars). null = none.` })

/** `KEY=VALUE` (compose's list form of `environment`); a bare `KEY` (taken from the environment by compose) is refused. */
const ENV_ITEM_PATTERN = "^[A-Za-z_][A-Za-z0-9_.]*="
export const EnvList = Schema.Array(
  Schema.String.check(rule((item: string) => {
    const eq = item.indexOf("=")
    if (eq <= 0) return `'${item.slice(0, 40)}': write KEY=VALUE (for a value from kstlib's environment: KEY=\${KEY})`
    return validateEnvEntry(item.slice(0, eq), item.slice(eq + 1), { dots: true })
  }, { pattern: ENV_ITEM_PATTERN }, "KEY=VALUE"))
).check(
  Schema.makeFilter<ReadonlyArray<string>>((items) => {
    const count = validateEnvCount(items.length)
    if (count !== null) return count
    const keys = items.map((i) => i.slice(0, i.indexOf("=")))
    const twice = keys.find((k, i) => keys.indexOf(k) !== i)
    return twice === undefined ? undefined : `${twice} is set twice`
  }, { expected: "KEY=VALUE items", toJsonSchema: () => ({ maxItems: MAX_ENV_VARS }) })
)
/** A session's `env`: a map, or compose's `KEY=VALUE` list. */
export const SessionEnv = Schema.Union([Env, EnvList]).annotate({
  description: `Environment variables: a map, or a list of KEY=VALUE (values up to ${MAX_ENV_VALUE_LENGTH} chars). Keys with dots (discovery.type) for containers only. null = none.`
})

/** A command as a list of words: its argv as written, never split or given to a shell. */
export const CommandList = Schema.Array(
  Schema.String.check(rule((w: string) => (/[\u0000\n\r]/u.test(w) ? "no NUL or line break in a word" : null), { pattern: "^[^\\u0000\\n\\r]*$" }, "a word"))
).check(
  Schema.isMinLength(1),
  rule((words: ReadonlyArray<string>) => validateArgv(words), { maxItems: 1000 }, "a list of words")
)
/** `command`: a string split into words (quotes group), or a list of words taken as the argv. */
export const CommandOrList = Schema.Union([Command, CommandList]).annotate({
  description:
    "Command to run: a string split into words (quotes group words) and executed WITHOUT a shell, or a list of words (the argv as written, no splitting). Unquoted ; | & < > $( ` , eval/source/exec and `sh -c` are refused unless shell: true (a string then). No newlines."
})

/** Compose's long syntax of a mount: `type`, `source`, `target`, `read_only` (decode/container.ts turns bind and volume into the short form). */
export const VolumeLong = Schema.Struct({
  type: Schema.Literals(["bind", "volume", "tmpfs"]).annotate({ description: "bind: a host path; volume: a named volume; tmpfs: a memory filesystem (no source)." }),
  source: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1)).annotate({ description: "The host path (bind, relative to this config file) or the volume's name." })),
  target: Schema.String.check(rule((t: string) => (t.startsWith("/") ? null : "must be an absolute path in the container"), { pattern: "^/" }, "a path")),
  read_only: Schema.optionalKey(Schema.Boolean.annotate({ default: false, description: "Mounted read-only." }))
}).annotate({ identifier: "Mount", title: "mount (long syntax)" })

export const Volumes = Schema.Array(Schema.Union([Volume, VolumeLong])).check(
  rule((a: ReadonlyArray<unknown>) => validateVolumeCount(a.length), { maxItems: MAX_VOLUMES }, "volumes")
)
export const Ports = Schema.Array(Port).check(
  rule((a: ReadonlyArray<unknown>) => validatePortCount(a.length), { maxItems: MAX_PORTS }, "ports")
)

export const BackendKind = Schema.Literals(["tmux", "container"])
export const RuntimeName = Schema.Literals(["podman", "docker", "swarm"])
export const DesiredState = Schema.Literals(["running", "stopped"]).annotate({
  default: "running",
  description: "What `kstlib ops apply` converges the session to."
})

// env_file / unsafe_mounts
const envFileField = {
  env_file: Schema.optionalKey(
    Schema.NullOr(Schema.Union([Schema.String.check(Schema.isMinLength(1)), Schema.Array(Schema.String.check(Schema.isMinLength(1)))]))
      .annotate({
        description:
          "dotenv file(s) (KEY=VALUE lines), relative to this config file; merged under `env` (`env` wins), validated like `env`."
      })
  )
}
const unsafeMountsField = {
  unsafe_mounts: Schema.optionalKey(
    Schema.Boolean.annotate({
      default: false,
      description: "Allow bind-mounting host system directories (/, /proc, /sys, /boot, /etc), devices (device nodes, anything under /dev) and container engine sockets."
    })
  )
}

// Supervision: restart, max_restarts, ready, depends_on
export const RestartPolicy = Schema.Literals(["no", "on-failure", "always", "unless-stopped"]).annotate({
  default: "no",
  description:
    "Restart the process when it ends: on-failure (non-zero exit only) or always, after restart_delay (1 s) doubling with each crash in a row up to max_backoff (30 s). tmux: kstlib's supervisor in the pane; containers: the engine's --restart policy (also unless-stopped, containers only: always, except after a stop, also across an engine restart). A stop through kstlib is never undone."
})

export const MaxRestarts = Schema.Int.check(
  rule(validateMaxRestarts, { minimum: 0, maximum: MAX_RESTARTS_LIMIT }, "a number of restarts")
).annotate({
  description:
    "Crashes in a row restarted before the session stays exited (default: 5 for on-failure, unlimited for always). tmux: a run that lasted min_uptime resets the count."
})

const Seconds = (what: SecondsField, def: number, description: string) =>
  Schema.Finite.check(rule(validateSeconds(what), { minimum: SECONDS_BOUNDS[what].min, maximum: SECONDS_BOUNDS[what].max }, "a number of seconds"))
    .annotate({ default: def, description })

export const StopSignal = Schema.Literals(STOP_SIGNALS).annotate({
  default: "INT",
  description:
    "The signal a stop sends first (tmux: to the pane's process group; containers: --stop-signal, default the image's). Then TERM after stop_timeout, then KILL."
})

const ReadySeconds = (what: "timeout" | "interval", max: number, def: number, description: string) =>
  Schema.Finite.check(rule(validateReadySeconds(what), { exclusiveMinimum: 0, maximum: max }, `a number of seconds`)).annotate({
    default: def,
    description
  })

const READY_CHECKS = ["tcp", "http", "log", "cmd"] as const

export const Ready = Schema.Struct({
  tcp: Schema.optionalKey(PortNumber.annotate({ description: "A TCP port on the host accepts connections (for a container: its published host port)." })),
  http: Schema.optionalKey(
    Schema.String.check(rule(validateReadyUrl, { maxLength: MAX_READY_URL_LENGTH, pattern: "^https?://" }, "an http(s) URL")).annotate({
      description: "GET of this URL (from the host) answers 2xx."
    })
  ),
  log: Schema.optionalKey(
    Schema.String.check(rule(validateReadyPattern, { minLength: 1, maxLength: MAX_READY_PATTERN_LENGTH }, "a regular expression")).annotate({
      description: "This regular expression (RE2 syntax: no backreferences or lookaround) matches a line of the session's output."
    })
  ),
  cmd: Schema.optionalKey(
    Command.annotate({ description: "This command exits 0 (container: run inside it via exec; tmux: on the host). Validated like `command`." })
  ),
  timeout: Schema.optionalKey(ReadySeconds("timeout", MAX_READY_TIMEOUT, 60, "Seconds to wait for readiness (default 60).")),
  interval: Schema.optionalKey(ReadySeconds("interval", MAX_READY_INTERVAL, 1, "Seconds between probes (default 1)."))
}).check(
  Schema.makeFilter<{ readonly tcp?: number; readonly http?: string; readonly log?: string; readonly cmd?: string }>(
    (r) => {
      const given = READY_CHECKS.filter((k) => r[k] !== undefined)
      return given.length === 1 ? undefined : given.length === 0
        ? "give one check: tcp, http, log or cmd"
        : `give only one check, not ${given.join(" and ")}`
    },
    { expected: "one readiness check", toJsonSchema: () => ({ oneOf: READY_CHECKS.map((k) => ({ required: [k] })) }) }
  )
).annotate({
  description: "Readiness probe: exactly one of tcp, http, log, cmd. apply starts dependents once it passes; apply --wait waits for it."
})

export const DependsOn = Schema.Array(SessionName).check(
  Schema.makeFilter<ReadonlyArray<string>>(
    (deps) => (new Set(deps).size === deps.length ? undefined : "a session is listed twice"),
    { expected: "session names", toJsonSchema: () => ({ uniqueItems: true, maxItems: MAX_DEPENDENCIES }) }
  )
).annotate({
  description:
    "Sessions of this config (any backend) that must be running, and ready when they have `ready:`, before this one starts. Stops and removals go in reverse order."
})

const supervisionFields = {
  restart: Schema.optionalKey(RestartPolicy),
  max_restarts: Schema.optionalKey(Schema.NullOr(MaxRestarts)),
  restart_delay: Schema.optionalKey(Seconds("restart_delay", 1, "Seconds before the first restart of a crash (default 1); doubled with each crash in a row. tmux only (containers: the engine's own backoff).")),
  max_backoff: Schema.optionalKey(Seconds("max_backoff", 30, "Cap of the doubling restart delay, seconds (default 30). tmux only.")),
  min_uptime: Schema.optionalKey(
    Seconds("min_uptime", 10, "A run that lasted at least this many seconds (default 10) resets the restart delay and the max_restarts count. tmux only.")
  ),
  stop_signal: Schema.optionalKey(StopSignal),
  stop_timeout: Schema.optionalKey(
    Seconds("stop_timeout", 10, "Seconds a stop waits after stop_signal before TERM, then KILL (default 10; a stop's --timeout wins). Containers: --stop-timeout.")
  ),
  ready: Schema.optionalKey(Schema.NullOr(Ready)),
  depends_on: Schema.optionalKey(Schema.NullOr(DependsOn))
}
/** A size (`512M`, `1.5G` or bytes) checked by `parse`, at least `min` bytes. */
const byteSize = (parse: (v: string | number) => number | string, min: number) =>
  Schema.Union([Schema.String, Schema.Int]).check(
    rule((v: string | number) => {
      const r = parse(v)
      return typeof r === "string" ? r : null
    }, { anyOf: [{ type: "string", pattern: "^\\s*\\d+(\\.\\d+)?\\s*[a-zA-Z]*\\s*$" }, { type: "integer", minimum: min }] }, "a size")
  )

// Enforced by `ops watch` (src/watch/): a restart on a schedule, a restart above a memory size
export const CronRestart = Schema.String.check(rule(validateCron, { minLength: 1, maxLength: 200 }, "a cron expression")).annotate({
  description:
    "Restart the session on this schedule, a 5-field cron expression (minute hour day-of-month month day-of-week, local time) or @hourly/@daily/@weekly/@monthly/@yearly. Enforced while `kstlib ops watch` runs."
})

export const MaxMemory = byteSize(parseByteSize, MIN_MAX_MEMORY).annotate({
  description:
    "Restart the session when the resident memory (RSS) of its process tree exceeds this size: 512M, 1.5G, or bytes (units are powers of 1024). Checked every few seconds while `kstlib ops watch` runs."
})

// Container limits (`--memory`, `--cpus`)
export const ContainerMemory = byteSize(parseContainerMemory, MIN_CONTAINER_MEMORY).annotate({
  description: "Memory limit of the container (`--memory`; swarm `--limit-memory`): 512M, 1.5G, or bytes (units are powers of 1024), at least 6M."
})
export const Cpus = Schema.Finite.check(rule(validateCpus, { minimum: 0.01, maximum: 1024 }, "a number of CPUs")).annotate({
  description: "CPU limit of the container, in CPUs (`--cpus`; swarm `--limit-cpu`): 1.5 is one and a half cores."
})

const watchedFields = {
  cron_restart: Schema.optionalKey(Schema.NullOr(CronRestart)),
  max_memory: Schema.optionalKey(Schema.NullOr(MaxMemory))
}

// Durable logs (src/logs/): every session's output also goes to a file
export const LogFile = Schema.Union([
  Schema.String.check(rule(validateLogFile, { minLength: 1, maxLength: 1024 }, "a file path")),
  Schema.Literal(false)
]).annotate({
  description:
    "Where the session's output is also written, each line time-stamped (default $XDG_STATE_HOME/kstlib/logs/PROJECT/NAME.log); relative to this config file, absolute on a host; false: no log file."
})
export const LogMaxSize = byteSize(parseLogSize, MIN_LOG_SIZE).annotate({
  description: "The log file is rotated (NAME.log.1, .2, …) when it grows past this size: 10M by default, at least 4K."
})
export const LogKeep = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(100)).annotate({
  description: "Rotated log files kept besides the current one (default 3; 0: the file is emptied when full)."
})
const loggedFields = {
  log_file: Schema.optionalKey(Schema.NullOr(LogFile)),
  log_max_size: Schema.optionalKey(Schema.NullOr(LogMaxSize)),
  log_keep: Schema.optionalKey(Schema.NullOr(LogKeep))
}
// Hosts
export const HostName = Schema.String.check(
  rule(validateSessionName, { minLength: 1, maxLength: MAX_SESSION_NAME_LENGTH, pattern: SESSION_NAME_PATTERN.source }, "a host name")
)
export const SshTarget = Schema.String.check(
  rule((s: string) => {
    const t = parseSshTarget(s)
    return "error" in t ? t.error : null
  }, { minLength: 1, pattern: "^(?:[A-Za-z0-9._][A-Za-z0-9._-]*@)?(?:[A-Za-z0-9][A-Za-z0-9.-]*|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]{1,5})?$" }, "an SSH target")
).annotate({ description: "`[user@]host[:port]` (IPv6: `[::1]:22`)." })
const HostFile = Schema.String.check(Schema.isMinLength(1))
/** It goes into podman's `ssh://…/PATH` URL as is: absolute, no spaces or control characters. */
const PodmanSocket = Schema.String.check(
  rule((s: string) => (isPodmanSocketPath(s) ? null : "must be an absolute path on the host (no spaces, ?, # or %)"), { pattern: "^/[^\\s?#%]+$" }, "a socket path")
)
export const HostEntry = Schema.Struct({
  ssh: SshTarget,
  identity_file: Schema.optionalKey(
    Schema.NullOr(HostFile).annotate({ description: "Private key (`ssh -i`), relative to this config file; must exist. Absent: ssh's defaults / agent." })
  ),
  known_hosts: Schema.optionalKey(
    Schema.NullOr(HostFile).annotate({ description: "known_hosts file with the host's key, relative to this config file; must exist. Absent: ~/.ssh/known_hosts. Host keys are always verified." })
  ),
  runtime: Schema.optionalKey(
    Schema.NullOr(Schema.Literals(["docker", "podman"])).annotate({
      description: "The container engine of this host's container sessions: docker (DOCKER_HOST=ssh://…) or podman (its --url ssh://…, needs the Podman API service on the host). Default docker."
    })
  ),
  podman_socket: Schema.optionalKey(
    Schema.NullOr(PodmanSocket).annotate({
      description: "Path of the Podman API socket on the host (runtime: podman). Absent: asked of the host's podman (`podman info`)."
    })
  )
}).annotate({ identifier: "Host", title: "remote host (SSH)" })
const hostFields = {
  host: Schema.optionalKey(
    Schema.NullOr(HostName).annotate({ description: "An `ops.hosts` entry: the session runs there (over SSH). Absent or null = this machine." })
  )
}

const common = {
  ...hostFields,
  command: Schema.optionalKey(Schema.NullOr(CommandOrList)),
  shell: Schema.optionalKey(Shell),
  env: Schema.optionalKey(Schema.NullOr(SessionEnv)),
  state: Schema.optionalKey(DesiredState),
  ...supervisionFields,
  ...watchedFields,
  ...loggedFields
}

/** The fields every session has, whatever its backend (decode/common.ts reads these). */
export const SessionCommon = Schema.Struct({ ...common, ...envFileField })

// Windows and panes (tmux)
export const WindowName = Schema.String.check(
  rule(validateWindowName, { minLength: 1, maxLength: 32, pattern: WINDOW_NAME_PATTERN.source }, "a window name")
).annotate({ description: "Unique in the session: letters, digits, _ . - (not starting with a digit)." })
export const Layout = Schema.String.check(
  rule(validateLayout, { minLength: 1, maxLength: 2000 }, "a tmux layout")
).annotate({ description: "even-horizontal, even-vertical, main-horizontal, main-vertical, tiled, or a layout string (`tmux list-windows -F '#{window_layout}'`). Default: tiled." })
const PaneFields = Schema.Struct({
  command: Schema.optionalKey(Schema.NullOr(Command)),
  shell: Schema.optionalKey(Shell),
  working_dir: Schema.optionalKey(Schema.NullOr(WorkingDir.annotate({ description: "Start directory of this pane; relative = relative to this config file. Default: the session's." }))),
  env: Schema.optionalKey(Schema.NullOr(Env.annotate({ description: "Over the session's env." }))),
  focus: Schema.optionalKey(Schema.Boolean.annotate({ description: "The active pane of its window." }))
}).annotate({ identifier: "Pane", title: "pane" })
/** A pane: its command as a string, or its fields; null: the user's shell. */
export const Pane = Schema.Union([Command, PaneFields, Schema.Null])
export const Window = Schema.Struct({
  name: WindowName,
  command: Schema.optionalKey(Schema.NullOr(Command)),
  shell: Schema.optionalKey(Shell),
  working_dir: Schema.optionalKey(Schema.NullOr(WorkingDir.annotate({ description: "Start directory of the window (its panes' default); relative = relative to this config file." }))),
  env: Schema.optionalKey(Schema.NullOr(Env.annotate({ description: "Over the session's env (its panes' default)." }))),
  panes: Schema.optionalKey(Schema.Array(Pane).check(Schema.isMinLength(1), Schema.isMaxLength(MAX_PANES))),
  layout: Schema.optionalKey(Schema.NullOr(Layout)),
  focus: Schema.optionalKey(Schema.Boolean.annotate({ description: "The window `attach` lands on (default: the first)." }))
}).annotate({ identifier: "Window", title: "window", description: "One `command` or `panes` (each pane a command with the same rules as a session's)." })
export const Windows = Schema.Array(Window).check(Schema.isMinLength(1), Schema.isMaxLength(MAX_WINDOWS)).annotate({
  description: "Windows and panes of the session (as tmuxp's); the session's own command must then be absent. Each pane is supervised by the session's restart policy and logged to its own file."
})

export const TmuxSession = Schema.Struct({
  backend: Schema.optionalKey(Schema.Literal("tmux").annotate({ description: "Default: ops.default_backend." })),
  ...common,
  working_dir: Schema.optionalKey(
    Schema.NullOr(WorkingDir.annotate({ description: "Start directory; relative = relative to this config file." }))
  ),
  socket_name: Schema.optionalKey(Schema.NullOr(SocketName)),
  windows: Schema.optionalKey(Schema.NullOr(Windows)),
  ...envFileField
}).annotate({ identifier: "TmuxSession", title: "tmux session" })

/** An `ops.networks` or `ops.volumes` key, and a session's reference to one. */
export const ObjectName = Schema.String.check(
  rule(validateObjectName, { minLength: 1, maxLength: MAX_OBJECT_NAME_LENGTH, pattern: OBJECT_NAME_PATTERN.source }, "a network or volume name")
)

const Capabilities = (what: string) =>
  Schema.Array(Schema.String.check(rule(validateCapability, { pattern: CAPABILITY_PATTERN.source }, "a capability"))).check(
    rule((a: ReadonlyArray<unknown>) => (a.length > 64 ? `at most 64 capabilities` : null), { maxItems: 64 }, "capabilities")
  ).annotate({ description: what })

/** How the container runs (Podman and Docker `run` options; not for runtime: swarm). Each only when set in the fingerprint. */
const containerRuntimeFields = {
  network_mode: Schema.optionalKey(
    Schema.Literals(["host", "none"]).annotate({
      description: "Leave the project network: `host` shares this machine's network, `none` has none. Default: the project's network (`kstlib-<project>`), where sessions reach each other by name."
    })
  ),
  user: Schema.optionalKey(
    Schema.String.check(rule(validateContainerUser, { pattern: CONTAINER_USER_PATTERN.source }, "a user")).annotate({
      description: "The user (and group) the command runs as: `name`, `uid`, `name:group`, `uid:gid` (`--user`)."
    })
  ),
  hostname: Schema.optionalKey(
    Schema.String.check(rule(validateHostname, { pattern: HOSTNAME_PATTERN.source }, "a host name")).annotate({
      description: "The container's host name (`--hostname`). Others on the project network still reach it by its session name."
    })
  ),
  init: Schema.optionalKey(
    Schema.Boolean.annotate({ default: false, description: "Run an init process as PID 1 that forwards signals and reaps zombies (`--init`)." })
  ),
  read_only: Schema.optionalKey(
    Schema.Boolean.annotate({ default: false, description: "Mount the container's root filesystem read-only (`--read-only`); volumes stay writable." })
  ),
  pids_limit: Schema.optionalKey(
    Schema.Int.check(Schema.isGreaterThanOrEqualTo(PIDS_LIMIT_BOUNDS.min), Schema.isLessThanOrEqualTo(PIDS_LIMIT_BOUNDS.max)).annotate({
      description: "Most processes the container may have at once (`--pids-limit`)."
    })
  ),
  labels: Schema.optionalKey(
    Schema.Record(Schema.String, Schema.String).check(
      rule((m: Readonly<Record<string, string>>) => {
        const keys = Object.keys(m)
        if (keys.length > MAX_LABELS) return `at most ${MAX_LABELS} labels`
        for (const k of keys) {
          const reason = validateLabel(k, m[k]!)
          if (reason !== null) return reason
        }
        return null
      }, { maxProperties: MAX_LABELS }, "labels")
    ).annotate({ description: "Labels on the container (`--label KEY=VALUE`), besides kstlib's own `io.kstlib.*` marks (which may not be set here)." })
  ),
  extra_hosts: Schema.optionalKey(
    Schema.Array(Schema.String.check(rule(validateExtraHost, {}, "HOST:IP"))).check(
      rule((a: ReadonlyArray<unknown>) => (a.length > 64 ? "at most 64 extra hosts" : null), { maxItems: 64 }, "extra hosts")
    ).annotate({ description: "Lines added to the container's /etc/hosts, `HOST:IP` (`--add-host`)." })
  ),
  build: Schema.optionalKey(
    Schema.Struct({
      context: Schema.String.check(Schema.isMinLength(1)).annotate({ description: "The build context directory, relative to this config file." }),
      dockerfile: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1)).annotate({ description: "The Dockerfile, relative to the context (default: Dockerfile)." })),
      target: Schema.optionalKey(Schema.String.check(rule((t: string) => (/^[A-Za-z0-9][A-Za-z0-9_.-]*$/u.test(t) ? null : "a stage name"), { pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]*$" }, "a stage name")).annotate({ description: "The stage to build (`--target`)." })),
      args: Schema.optionalKey(
        Schema.Record(Schema.String.check(rule((k: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/u.test(k) ? null : "a build argument name"), { pattern: "^[A-Za-z_][A-Za-z0-9_]*$" }, "a name")), EnvValue).annotate({
          description: "Build arguments (`--build-arg`): not secrets (they are kept in the image's history)."
        })
      )
    }).annotate({
      identifier: "Build",
      title: "build",
      description:
        "Build the image with the session's engine before a launch, tagged as `image` (absent: localhost/kstlib-<project>-<session>:latest); rebuilt when the context's content changes (the plan says `build context changed`). Not pulled."
    })
  ),
  pull: Schema.optionalKey(
    Schema.Literals(["missing", "always", "never"]).annotate({
      default: "missing",
      description: "Pull the image before a launch: missing (only when this engine lacks it), always (a newer one if the registry has it), never (a missing image fails the launch)."
    })
  ),
  privileged: Schema.optionalKey(
    Schema.Boolean.annotate({
      default: false,
      description: "Every capability and device of this machine (`--privileged`): only with unsafe_mounts: true next to it."
    })
  ),
  entrypoint: Schema.optionalKey(
    Schema.Union([Command, CommandList, Schema.Literal("")]).annotate({
      description:
        "The image's ENTRYPOINT replaced (`--entrypoint`): a string split into words, or a list of words; the command's words follow it. \"\" clears it."
    })
  ),
  networks: Schema.optionalKey(
    Schema.Array(ObjectName).check(
      Schema.makeFilter<ReadonlyArray<string>>(
        (a) => (new Set(a).size !== a.length ? "a network is listed twice" : a.length > 16 ? "at most 16 networks" : undefined),
        { expected: "network names", toJsonSchema: () => ({ uniqueItems: true, maxItems: 16 }) }
      )
    ).annotate({
      description: "`ops.networks` this container joins, besides the project network (others on them reach it by its session name). Not with network_mode."
    })
  ),
  cap_add: Schema.optionalKey(Capabilities("Linux capabilities added to the engine's default set (`--cap-add`), e.g. NET_ADMIN.")),
  cap_drop: Schema.optionalKey(Capabilities("Linux capabilities removed from the engine's default set (`--cap-drop`); ALL drops every one."))
}

export const ContainerSession = Schema.Struct({
  backend: Schema.optionalKey(Schema.Literal("container").annotate({ description: "Default: ops.default_backend." })),
  image: Schema.optionalKey(Image.annotate({ description: "Container image, e.g. `python:3.12-slim` or `localhost:5000/app:1.2`. Required unless `build:` is set (then the tag it gets)." })),
  ...common,
  working_dir: Schema.optionalKey(
    Schema.NullOr(WorkingDir.annotate({ description: "Absolute directory inside the container (`-w`)." }))
  ),
  volumes: Schema.optionalKey(Schema.NullOr(Volumes.annotate({
    description: "Mounts: `HOST:CONTAINER[:ro]` (a host path, relative to this config file, or a named volume, declared in ops.volumes to be the project's), or the long syntax {type: bind|volume|tmpfs, source, target, read_only}."
  }))),
  ports: Schema.optionalKey(Schema.NullOr(Ports)),
  log_volume: Schema.optionalKey(
    Schema.NullOr(Volume.annotate({ description: "Extra mount that keeps logs after the container is removed." }))
  ),
  runtime: Schema.optionalKey(
    Schema.NullOr(RuntimeName.annotate({ description: "Default: ops.container_runtime, else auto-detect (podman, then docker). swarm: a Docker Swarm service (never auto-detected)." }))
  ),
  ...envFileField,
  ...unsafeMountsField,
  memory: Schema.optionalKey(Schema.NullOr(ContainerMemory)),
  cpus: Schema.optionalKey(Schema.NullOr(Cpus)),
  ...containerRuntimeFields,
  // Swarm
  replicas: Schema.optionalKey(
    Schema.Int.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(1000)).annotate({
      default: 1,
      description: "runtime: swarm only: how many tasks the service runs."
    })
  )
}).annotate({ identifier: "ContainerSession", title: "container session" })

/** Discriminated by `backend`; an entry without it takes `ops.default_backend` (decode.ts picks the member). */
export const Session = Schema.Union([TmuxSession, ContainerSession])

/** The fields of `ops` besides `sessions` (decoded on their own so one bad session rejects only itself). */
export const NetworkEntry = Schema.Struct({
  internal: Schema.optionalKey(
    Schema.Boolean.annotate({ default: false, description: "No route outside the network (`network create --internal`): its containers reach only each other." })
  )
}).annotate({ identifier: "Network", title: "network" })
export const VolumeEntry = Schema.Struct({}).annotate({ identifier: "Volume", title: "named volume" })

export const opsSettingsFields = {
  default_backend: Schema.optionalKey(BackendKind.annotate({ default: "tmux" })),
  tmux_binary: Schema.optionalKey(
    Schema.String.check(Schema.isMinLength(1)).annotate({
      default: "tmux",
      description: "tmux program name (looked up in PATH) or absolute path outside the config file's directory."
    })
  ),
  project: Schema.optionalKey(
    Schema.String.check(
      rule(validateProjectName, { minLength: 1, maxLength: MAX_PROJECT_NAME_LENGTH, pattern: PROJECT_NAME_PATTERN.source }, "a project name")
    ).annotate({
      description: "Project (unit of ownership). Default: the config file's directory name; overridden by -p/--project and KSTLIB_PROJECT."
    })
  ),
  container_runtime: Schema.optionalKey(
    Schema.NullOr(RuntimeName).annotate({ default: null, description: "null = auto-detect (podman, then docker)." })
  ),
  max_sessions: Schema.optionalKey(
    Schema.Int.check(Schema.isGreaterThanOrEqualTo(1), Schema.isLessThanOrEqualTo(MAX_SESSIONS_LIMIT)).annotate({
      default: MAX_CONFIG_SESSIONS,
      description: `Sessions accepted in this config, at most ${MAX_SESSIONS_LIMIT}; entries beyond it are rejected (never run), in config order.`
    })
  ),
  hosts: Schema.optionalKey(
    Schema.NullOr(Schema.Record(Schema.String, HostEntry).check(Schema.isPropertyNames(HostName))).annotate({
      description: "Remote machines reached over SSH, by name; a session's `host:` names one."
    })
  ),
  networks: Schema.optionalKey(
    Schema.NullOr(Schema.Record(Schema.String, Schema.NullOr(NetworkEntry)).check(Schema.isPropertyNames(ObjectName))).annotate({
      description:
        "Networks container sessions join with `networks: [NAME]`, besides the project's: created on demand as `kstlib-<project>.<NAME>` with kstlib's marks, removed by `down` when empty. A network of that name that is not this project's refuses the launch."
    })
  ),
  volumes: Schema.optionalKey(
    Schema.NullOr(Schema.Record(Schema.String, Schema.NullOr(VolumeEntry)).check(Schema.isPropertyNames(ObjectName))).annotate({
      description:
        "Named volumes (`NAME:/path` in a session's volumes): created on demand as `kstlib-<project>.<NAME>` with kstlib's marks; `down` keeps them, `down --volumes` removes them. A volume of that name that is not this project's refuses the launch."
    })
  )
}

export const Ops = Schema.Struct({
  ...opsSettingsFields,
  // A null entry (`web:`) is an empty session: a tmux shell with the defaults.
  sessions: Schema.optionalKey(
    Schema.NullOr(Schema.Record(Schema.String, Schema.NullOr(Session)).check(Schema.isPropertyNames(SessionName)))
  )
}).annotate({ identifier: "Ops" })

/** `ops` with `sessions` left undecoded: used by the loader, which decodes each session separately. */
export const OpsSettings = Schema.Struct({ ...opsSettingsFields, sessions: Schema.optionalKey(Schema.Unknown) })

/** Other top-level keys are allowed: kstlib.conf.yml is shared with other kstlib modules. */
export const ConfigFile = Schema.StructWithRest(
  Schema.Struct({
    include: Schema.optionalKey(
      Schema.Union([Schema.String, Schema.Array(Schema.String)]).annotate({
        description: "Files merged before this one (relative to it, inside its directory); this file's keys win."
      })
    ),
    ops: Schema.optionalKey(Schema.NullOr(Ops))
  }),
  [Schema.Record(Schema.String, Schema.Unknown)]
).annotate({ title: "kstlib.conf.yml" })

/** JSON Schema (draft 2020-12) of kstlib.conf.yml, for editors (`# yaml-language-server: $schema=…`). */
export const configJsonSchema = (): JsonSchema.JsonSchema => {
  const doc = Schema.toJsonSchemaDocument(ConfigFile, { onExcessProperty: "error" })
  return { $schema: JsonSchema.META_SCHEMA_URI_DRAFT_2020_12, ...doc.schema, $defs: doc.definitions }
}

/** Field names of each backend's entry, for "did you mean" hints. */
export const sessionFields = {
  tmux: Object.keys(TmuxSession.fields),
  container: Object.keys(ContainerSession.fields)
} as const
