/**
 * Every typed error of kstlib, in one place. Each carries the data a program needs to react and a
 * one-line human `message` that the CLI prints as is. Fields never use `name` (it would shadow
 * `Error.name`): sessions are `session`.
 */
import { Runtime, Schema } from "effect"

const Backend = Schema.Literals(["tmux", "container"])

/** One problem found in a config file, located as precisely as the YAML allows. */
export const ConfigIssue = Schema.Struct({
  file: Schema.String,
  line: Schema.NullOr(Schema.Number),
  /** `null` for file-level problems; else the session the issue belongs to. */
  session: Schema.NullOr(Schema.String),
  /** Dotted field path inside the session (or from the top of the file when `session` is null). */
  field: Schema.String,
  reason: Schema.String
})
export type ConfigIssue = typeof ConfigIssue.Type

/**
 * Text from a config file made safe for a terminal: control characters (C0, DEL, C1), line and
 * paragraph separators and bidi overrides are written JSON-style (`\u001b`), so a key or value
 * can neither move the cursor, inject escape sequences nor fake extra lines.
 */
export const escapeText = (s: string): string =>
  s.replace(
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
  )

/** `file:line: session 'x': field: reason`, the one format every config problem is printed in. */
export const formatConfigIssue = (i: ConfigIssue): string =>
  escapeText(
    `${i.file}${i.line === null ? "" : `:${i.line}`}: ${i.session === null ? "" : `session '${i.session}': `}${
      i.field === "" ? "" : `${i.field}: `
    }${i.reason}`
  )

export class ConfigNotFound extends Schema.TaggedError<ConfigNotFound>()("ConfigNotFound", {
  /** The file asked for (`--config`, `KSTLIB_CONFIG`); null when the cascade found nothing. */
  path: Schema.NullOr(Schema.String),
  /** Every path looked at, in cascade order. */
  searched: Schema.Array(Schema.String)
}) {
  override get message() {
    return escapeText(
      this.path !== null
        ? `config file not found: ${this.path}`
        : `no kstlib.conf.yml found; looked in: ${this.searched.length === 0 ? "(nowhere: HOME is not set)" : this.searched.join(", ")}`
    )
  }
}

export class ConfigParseError extends Schema.TaggedError<ConfigParseError>()("ConfigParseError", {
  file: Schema.String,
  line: Schema.NullOr(Schema.Number),
  column: Schema.NullOr(Schema.Number),
  reason: Schema.String
}) {
  override get message() {
    const at = this.line === null ? "" : `:${this.line}${this.column === null ? "" : `:${this.column}`}`
    return escapeText(`${this.file}${at}: ${this.reason}`)
  }
}

/** File-level problems (a bad `ops` shape, include errors) or a session the user asked for that was rejected. */
export class ConfigInvalid extends Schema.TaggedError<ConfigInvalid>()("ConfigInvalid", {
  issues: Schema.Array(ConfigIssue)
}) {
  override get message() {
    return this.issues.map(formatConfigIssue).join("\n")
  }
}

export class TmuxNotFound extends Schema.TaggedError<TmuxNotFound>()("TmuxNotFound", {
  binary: Schema.String
}) {
  override get message() {
    return `tmux binary '${this.binary}' not found in PATH. Install tmux: apt install tmux (Debian/Ubuntu), brew install tmux (macOS)`
  }
}

export class ContainerRuntimeNotFound extends Schema.TaggedError<ContainerRuntimeNotFound>()(
  "ContainerRuntimeNotFound",
  {
    /** The runtimes that were looked for on PATH, in order. */
    tried: Schema.Array(Schema.String)
  }
) {
  override get message() {
    return `no container runtime found in PATH (looked for ${this.tried.join(", ")}). Install Podman (https://podman.io, apt install podman) or Docker (https://docs.docker.com/engine/install/)`
  }
}

export class SessionNotFound extends Schema.TaggedError<SessionNotFound>()("SessionNotFound", {
  session: Schema.String,
  backend: Schema.NullOr(Backend),
  /** Close names that do exist (typos). */
  suggestions: Schema.optionalKey(Schema.Array(Schema.String)),
  /** What could not be looked at (a missing or failing tmux/engine): the session may be there. */
  unreadable: Schema.optionalKey(Schema.Array(Schema.String))
}) {
  override get message() {
    const s = this.suggestions ?? []
    const u = this.unreadable ?? []
    return `${this.backend === null ? "" : `${this.backend} `}session '${this.session}' not found${
      s.length === 0 ? "" : ` (did you mean ${s.map((x) => `'${x}'`).join(" or ")}?)`
    }${u.length === 0 ? "" : `; could not look everywhere: ${u.join("; ")}`}`
  }
}

export class SessionExists extends Schema.TaggedError<SessionExists>()("SessionExists", {
  session: Schema.String,
  backend: Backend
}) {
  override get message() {
    return `${this.backend} session '${this.session}' already exists.`
  }
}

export class SessionAmbiguous extends Schema.TaggedError<SessionAmbiguous>()("SessionAmbiguous", {
  session: Schema.String,
  /** Where the name was found, e.g. `tmux (socket default)`, `container (podman)`. */
  places: Schema.Array(Schema.String)
}) {
  override get message() {
    return `session '${this.session}' found in several places: ${this.places.join(", ")}.`
  }
}

export class SessionStartFailed extends Schema.TaggedError<SessionStartFailed>()("SessionStartFailed", {
  session: Schema.String,
  backend: Backend,
  reason: Schema.String,
  /** Exit code of the session's process when it died right after starting. */
  exitCode: Schema.NullOr(Schema.Number),
  /** Last lines the process printed, when known. */
  output: Schema.String
}) {
  override get message() {
    return escapeText(`failed to start ${this.backend} session '${this.session}': ${this.reason}`)
  }
}

export class SessionStopFailed extends Schema.TaggedError<SessionStopFailed>()("SessionStopFailed", {
  session: Schema.String,
  backend: Backend,
  reason: Schema.String
}) {
  override get message() {
    return escapeText(`failed to stop ${this.backend} session '${this.session}': ${this.reason}`)
  }
}

export class SessionAttachFailed extends Schema.TaggedError<SessionAttachFailed>()("SessionAttachFailed", {
  session: Schema.String,
  backend: Backend,
  reason: Schema.String
}) {
  override get message() {
    return escapeText(`failed to attach to ${this.backend} session '${this.session}': ${this.reason}`)
  }
}

/**
 * A backend command exited non-zero where that was not expected. Its output is the engine's (on a
 * host: that host's), so the message escapes it like every reason below that may quote it.
 */
export class CommandFailed extends Schema.TaggedError<CommandFailed>()("CommandFailed", {
  argv: Schema.Array(Schema.String),
  exitCode: Schema.Number,
  stderr: Schema.String
}) {
  override get message() {
    const err = this.stderr.trim()
    return escapeText(`${this.argv.join(" ")} exited with ${this.exitCode}${err === "" ? "" : `: ${err}`}`)
  }
}

/** A value given on the command line or through the library API that breaks a validation rule. */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  /** The option or argument refused, by its library name (`socket`, `timeout`, `image`…; the CLI shows its flag). */
  field: Schema.String,
  reason: Schema.String
}) {
  /** A usage error. */
  readonly [Runtime.errorExitCode] = 2
  override get message() {
    return escapeText(`${this.field}: ${this.reason}`)
  }
}

/** Another `apply` or `down` holds the lock for the same config and project. */
export class ApplyLocked extends Schema.TaggedError<ApplyLocked>()("ApplyLocked", {
  lockFile: Schema.String,
  pid: Schema.NullOr(Schema.Number),
  /** `watch`: the holder is `kstlib ops watch`, converging right now. */
  role: Schema.optionalKey(Schema.String)
}) {
  override get message() {
    const pid = this.pid === null ? "" : ` (pid ${this.pid})`
    return this.role === "watch"
      ? `kstlib ops watch${pid} is converging this config right now (lock ${this.lockFile}); retry in a moment`
      : `another kstlib apply${pid} is running on this config (lock ${this.lockFile}); retry when it finishes`
  }
}

/** `ops watch` while another watch runs on the same config and project. */
export class WatchRunning extends Schema.TaggedError<WatchRunning>()("WatchRunning", {
  lockFile: Schema.String,
  pid: Schema.NullOr(Schema.Number)
}) {
  override get message() {
    return `another ops watch${this.pid === null ? "" : ` (pid ${this.pid})`} already watches this config (lock ${this.lockFile}); stop it first (one watcher per project)`
  }
}

/** An external command (tmux, podman, docker) did not answer in time; it was killed. */
export class BackendTimeout extends Schema.TaggedError<BackendTimeout>()("BackendTimeout", {
  /** The program and its first arguments (never env values: those are not on command lines). */
  command: Schema.String,
  seconds: Schema.Number
}) {
  override get message() {
    return `${this.command} did not answer within ${this.seconds}s (killed); set KSTLIB_CALL_TIMEOUT=SECONDS to wait longer`
  }
}

/**
 * An engine answered, but its listing could not be read whole (a line that is not JSON, an entry
 * that is not a container): what it holds is unknown, so nothing is planned there.
 */
export class UnreadableOutput extends Schema.TaggedError<UnreadableOutput>()("UnreadableOutput", {
  /** The program and its first arguments. */
  command: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return escapeText(`${this.command}: the listing could not be read whole (${this.reason}); its ${
      this.command.startsWith("docker service") ? "services" : "containers"
    } are unknown`)
  }
}

/**
 * A tmux socket whose path is longer than a Unix socket address can hold (108 bytes with the NUL):
 * tmux could neither create nor reach it. Said up front, with the path, instead of tmux's hidden
 * `File name too long`.
 */
export class SocketPathTooLong extends Schema.TaggedError<SocketPathTooLong>()("SocketPathTooLong", {
  path: Schema.String,
  bytes: Schema.Number,
  max: Schema.Number
}) {
  override get message() {
    return escapeText(`tmux socket path too long: ${this.path} is ${this.bytes} bytes, a Unix socket path has at most ${this.max}; shorten TMUX_TMPDIR`)
  }
}

/** The private env file of a container launch could not be written (TMPDIR full, read-only, not ours). */
export class EnvFileFailed extends Schema.TaggedError<EnvFileFailed>()("EnvFileFailed", {
  /** The directory it was to be created in (TMPDIR). */
  dir: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return escapeText(`cannot write the private env file in ${this.dir}: ${this.reason}`)
  }
}

/** What a backend cannot do (e.g. exec in a tmux session). */
export class Unsupported extends Schema.TaggedError<Unsupported>()("Unsupported", {
  session: Schema.String,
  backend: Backend,
  operation: Schema.String,
  hint: Schema.String
}) {
  readonly [Runtime.errorExitCode] = 2
  override get message() {
    return `${this.operation} is not supported for ${this.backend} session '${this.session}'${this.hint === "" ? "" : `: ${this.hint}`}`
  }
}

/** A session that is not kstlib's for this project holds the name: kstlib never touches it. */
export class SessionConflict extends Schema.TaggedError<SessionConflict>()("SessionConflict", {
  session: Schema.String,
  /** Where it lives, e.g. `tmux socket default`. */
  place: Schema.String,
  /** The project that owns it; null when no kstlib project created it. */
  owner: Schema.NullOr(Schema.String)
}) {
  override get message() {
    return `'${this.session}' (${this.place}) is ${
      this.owner === null ? "not managed by kstlib" : `owned by project '${this.owner}'`
    }; kstlib leaves it untouched (stop it yourself, or rename the session in the config)`
  }
}

/** A name that is not in the config, where the command needs a config session. */
export class SessionNotInConfig extends Schema.TaggedError<SessionNotInConfig>()("SessionNotInConfig", {
  session: Schema.String,
  /** The closest configured names. */
  suggestions: Schema.Array(Schema.String),
  hint: Schema.String
}) {
  readonly [Runtime.errorExitCode] = 2
  override get message() {
    const guess = this.suggestions.length === 0 ? "" : ` (did you mean ${this.suggestions.map((s) => `'${s}'`).join(" or ")}?)`
    return `session '${this.session}' is not in the config${guess}${this.hint === "" ? "" : `; ${this.hint}`}`
  }
}

/** A config session that nothing runs, asked for by a command that needs it running. */
export class SessionNotRunning extends Schema.TaggedError<SessionNotRunning>()("SessionNotRunning", {
  session: Schema.String,
  /** What could not be looked at: it may run there. */
  unreadable: Schema.optionalKey(Schema.Array(Schema.String))
}) {
  override get message() {
    const u = this.unreadable ?? []
    return u.length === 0
      ? `session '${this.session}' is defined in the config but not running`
      : `session '${this.session}' was not found running, but not everything could be looked at: ${u.join("; ")}`
  }
}

/** A config session already runs somewhere else than where the command asks for it. */
export class SessionElsewhere extends Schema.TaggedError<SessionElsewhere>()("SessionElsewhere", {
  session: Schema.String,
  place: Schema.String
}) {
  override get message() {
    return `session '${this.session}' already runs in ${this.place}; stop it there first (kstlib never starts a second copy)`
  }
}

/** Not a failure of kstlib: a result that scripts read from the exit code. `message` empty = nothing printed. */
export class ExitWith extends Schema.TaggedError<ExitWith>()("ExitWith", {
  code: Schema.Number,
  reason: Schema.String
}) {
  get [Runtime.errorExitCode]() {
    return this.code
  }
  override get message() {
    return this.reason
  }
}

/** A step not run because a session it depends on failed, never became ready, or cannot run. */
export class DependencyFailed extends Schema.TaggedError<DependencyFailed>()("DependencyFailed", {
  session: Schema.String,
  dependency: Schema.String,
  /** `failed`, `not ready`, `invalid`, `state: stopped`, `not running`... */
  reason: Schema.String
}) {
  override get message() {
    return `not run (dependency ${this.dependency} ${this.reason === "failed" ? "failed" : `failed: ${this.reason}`})`
  }
}

/** A session's `ready:` probe did not pass within its timeout. */
export class SessionNotReady extends Schema.TaggedError<SessionNotReady>()("SessionNotReady", {
  session: Schema.String,
  backend: Backend,
  /** The probe, e.g. `tcp 5432`. */
  probe: Schema.String,
  timeout: Schema.Number,
  /** What the last probe saw (`connection refused`, `HTTP 503`...). */
  detail: Schema.String,
  /** Last lines of the session's output. */
  output: Schema.String
}) {
  override get message() {
    return escapeText(`session '${this.session}' not ready after ${this.timeout}s (${this.probe}${this.detail === "" ? "" : `: ${this.detail}`})`)
  }
}

/** A host of `ops.hosts` could not be reached over SSH (refused, timed out, host key, authentication): its sessions are unknown. */
export class HostUnreachable extends Schema.TaggedError<HostUnreachable>()("HostUnreachable", {
  host: Schema.String,
  /** ssh's own error line(s). */
  reason: Schema.String,
  /** ssh connected (or may have) but nothing answered in time: the login or the remote command hung. */
  hung: Schema.optionalKey(Schema.Boolean)
}) {
  override get message() {
    return escapeText(this.hung === true ? `ssh to ${this.host}: ${this.reason}` : `host ${this.host} unreachable: ${this.reason}`)
  }
}

/** A call over ssh that got no answer within the call timeout (`seconds`). */
export const sshHung = (host: string, seconds: number) =>
  new HostUnreachable({
    host,
    reason: `no answer within ${seconds} s (the login or the remote command hung); set KSTLIB_CALL_TIMEOUT=SECONDS to wait longer`,
    hung: true
  })

/** A host's container engine cannot be used although the host answers (Podman's API service not running, podman missing). */
export class EngineUnavailable extends Schema.TaggedError<EngineUnavailable>()("EngineUnavailable", {
  host: Schema.String,
  runtime: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return escapeText(`${this.runtime} on ${this.host}: ${this.reason}`)
  }
}

/** One step of an apply or down that did not succeed: failed, not run, or blocked (conflict, invalid). */
export const FailedStep = Schema.Struct({
  session: Schema.String,
  /** `create`, `replace`, `start`, `stop`, `prune`, `conflict`, `invalid`. */
  action: Schema.String,
  /** The step error's message, `not run`, or why the step is blocked. */
  reason: Schema.String
})
export type FailedStep = typeof FailedStep.Type

/**
 * An apply or down ran, and not every step succeeded: one failed or did not run (interrupted, a
 * dependency failed), or the plan had blocked steps. `requireSuccess` turns a report into it.
 */
export class StepsFailed extends Schema.TaggedError<StepsFailed>()("StepsFailed", {
  steps: Schema.Array(FailedStep),
  interrupted: Schema.Boolean
}) {
  readonly [Runtime.errorExitCode] = 1
  override get message() {
    const head = `${this.steps.length} step(s) did not succeed${this.interrupted ? " (interrupted)" : ""}`
    return escapeText([head, ...this.steps.map((s) => `${s.session} (${s.action}): ${s.reason}`)].join("; "))
  }
}

export type KstlibError =
  | StepsFailed
  | ConfigNotFound
  | ConfigParseError
  | ConfigInvalid
  | TmuxNotFound
  | ContainerRuntimeNotFound
  | SessionNotFound
  | SessionExists
  | SessionAmbiguous
  | SessionStartFailed
  | SessionStopFailed
  | SessionAttachFailed
  | CommandFailed
  | InvalidInput
  | ApplyLocked
  | BackendTimeout
  | Unsupported
  | SessionConflict
  | SessionNotInConfig
  | SessionElsewhere
  | SessionNotRunning
  | LockFailed
  | DependencyFailed
  | SessionNotReady
  | HostUnreachable
  | EngineUnavailable
  | UnreadableOutput
  | EnvFileFailed
  | SocketPathTooLong

/** The apply lock could not be taken because the file system refused (not a directory, no space, read-only, not owned by you...). */
export class LockFailed extends Schema.TaggedError<LockFailed>()("LockFailed", {
  lockFile: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot take the apply lock ${this.lockFile}: ${this.reason}`
  }
}

/** `ops import`: the file cannot be read, is not of a format kstlib imports, or cannot be parsed. */
export class ImportFailed extends Schema.TaggedError<ImportFailed>()("ImportFailed", {
  file: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return escapeText(`${this.file}: ${this.reason}`)
  }
}
