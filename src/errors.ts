/**
 * Every typed error of kstlib, in one place. Each carries the data a program needs to react and a
 * one-line human `message` that the CLI prints as is. Fields never use `name` (it would shadow
 * `Error.name`): sessions are `session`.
 */
import { Schema } from "effect"

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

/** `file:line: session 'x': field: reason`, the one format every config problem is printed in. */
export const formatConfigIssue = (i: ConfigIssue): string =>
  `${i.file}${i.line === null ? "" : `:${i.line}`}: ${i.session === null ? "" : `session '${i.session}': `}${
    i.field === "" ? "" : `${i.field}: `
  }${i.reason}`

export class ConfigNotFound extends Schema.TaggedError<ConfigNotFound>()("ConfigNotFound", {
  path: Schema.String
}) {
  override get message() {
    return `config file not found: ${this.path}`
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
    return `${this.file}${at}: ${this.reason}`
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
  backend: Schema.NullOr(Backend)
}) {
  override get message() {
    return `${this.backend === null ? "" : `${this.backend} `}session '${this.session}' not found`
  }
}

export class SessionExists extends Schema.TaggedError<SessionExists>()("SessionExists", {
  session: Schema.String,
  backend: Backend
}) {
  override get message() {
    return `${this.backend} session '${this.session}' already exists. Use 'kstlib ops stop ${this.session}' first.`
  }
}

export class SessionAmbiguous extends Schema.TaggedError<SessionAmbiguous>()("SessionAmbiguous", {
  session: Schema.String,
  /** Where the name was found, e.g. `tmux (socket default)`, `container (podman)`. */
  places: Schema.Array(Schema.String)
}) {
  override get message() {
    return `session '${this.session}' found in several places: ${this.places.join(", ")}. Use --backend (and --socket) to choose one.`
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
    return `failed to start ${this.backend} session '${this.session}': ${this.reason}`
  }
}

export class SessionStopFailed extends Schema.TaggedError<SessionStopFailed>()("SessionStopFailed", {
  session: Schema.String,
  backend: Backend,
  reason: Schema.String
}) {
  override get message() {
    return `failed to stop ${this.backend} session '${this.session}': ${this.reason}`
  }
}

export class SessionAttachFailed extends Schema.TaggedError<SessionAttachFailed>()("SessionAttachFailed", {
  session: Schema.String,
  backend: Backend,
  reason: Schema.String
}) {
  override get message() {
    return `failed to attach to ${this.backend} session '${this.session}': ${this.reason}`
  }
}

/** A backend command exited non-zero where that was not expected. */
export class CommandFailed extends Schema.TaggedError<CommandFailed>()("CommandFailed", {
  argv: Schema.Array(Schema.String),
  exitCode: Schema.Number,
  stderr: Schema.String
}) {
  override get message() {
    const err = this.stderr.trim()
    return `${this.argv.join(" ")} exited with ${this.exitCode}${err === "" ? "" : `: ${err}`}`
  }
}

/** A value given on the command line or through the library API that breaks a validation rule. */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  field: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.field}: ${this.reason}`
  }
}

/** Another `apply` holds the lock for the same config. */
export class ApplyLocked extends Schema.TaggedError<ApplyLocked>()("ApplyLocked", {
  lockFile: Schema.String,
  pid: Schema.NullOr(Schema.Number)
}) {
  override get message() {
    return `another kstlib apply${this.pid === null ? "" : ` (pid ${this.pid})`} is running on this config (lock ${this.lockFile}); retry when it finishes or pass --wait`
  }
}

export type KstlibError =
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
  | LockFailed

/** The apply lock could not be taken because the file system refused (not a directory, no space, read-only, not owned by you...). */
export class LockFailed extends Schema.TaggedError<LockFailed>()("LockFailed", {
  lockFile: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot take the apply lock ${this.lockFile}: ${this.reason}`
  }
}
