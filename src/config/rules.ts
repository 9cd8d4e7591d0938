/**
 * "Deep defense" validation rules, ported from the original `kstlib.ops.validators` with its exact
 * messages. Each rule is a pure function returning the reason a value is refused, or `null` when it
 * is fine. The Effect Schema of the config (schema.ts) and the CLI overrides both use these, so every
 * rule lives here once.
 *
 * Deliberate fixes over the original:
 * - images with a registry port (`localhost:5000/app:1.2`) are valid;
 * - newlines (`\n`, `\r`) are refused in commands and send-keys text (a newline chains commands
 *   in a shell);
 * - commands are checked quote-aware on the words that will run (command-rules.ts), not with the
 *   original's substring regexes, which refused `grep -E 'a|b'` and let `e''val` through;
 * - JS `^…$` (no `m` flag) has no Python trailing-newline hole, and character classes that would
 *   match control characters (`[^:]`) exclude them explicitly;
 * - `log_volume`, `working_dir` and `socket_name` are validated too;
 * - env values may not contain NUL (execve cannot pass them).
 */
import { argvReason, commandSyntaxReason } from "./command-rules.js"

export const MAX_SESSION_NAME_LENGTH = 64
export const MAX_IMAGE_NAME_LENGTH = 256
export const MAX_VOLUMES = 20
export const MAX_PORTS = 50
export const MAX_ENV_VARS = 100
export const MAX_ENV_KEY_LENGTH = 128
export const MAX_ENV_VALUE_LENGTH = 32768
export const MAX_COMMAND_LENGTH = 4096
export const MAX_SEND_KEYS_LENGTH = 4096
/** tmux puts the socket at `$TMUX_TMPDIR/tmux-UID/NAME`; a Unix socket path is limited to ~107 bytes. */
export const MAX_SOCKET_NAME_LENGTH = 64
/** PATH_MAX on Linux. */
export const MAX_WORKING_DIR_LENGTH = 4096
/** `ops.sessions` entries kept (the original `_MAX_CONFIG_SESSIONS`). */
export const MAX_CONFIG_SESSIONS = 50

/** The `u` flag lets Effect Schema export these patterns to JSON Schema (see schema.ts). */
export const SESSION_NAME_PATTERN = /^[a-zA-Z][a-zA-Z0-9_-]*$/u
/**
 * The original's image pattern plus an optional `host:port/` registry prefix. The port part only
 * exists before a `/`, so `name:tag` keeps meaning a tag.
 */
export const IMAGE_PATTERN =
  /^(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?:[0-9]{1,5}\/)?[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?(?:\/[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?)*(?::[a-zA-Z0-9._-]+)?(?:@sha256:[a-f0-9]{64})?$/u
/** `[^:]` of the original, minus control characters (a newline would otherwise pass). */
export const VOLUME_PATTERN = /^[^:\u0000-\u001f\u007f]+:[^:\u0000-\u001f\u007f]+(?::ro|:rw)?$/u
export const PORT_PATTERN = /^(?:[0-9]{1,5}:)?[0-9]{1,5}(?:\/tcp|\/udp)?$/u
export const ENV_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/u
const CONTROL_KEY_PATTERN = /^(?:C-[a-zA-Z]|M-[a-zA-Z]|Enter|Escape|Space|Tab|BSpace)$/u

export const DANGEROUS_ENV_KEYS: ReadonlyArray<string> = [
  "LD_PRELOAD",
  "LD_LIBRARY_PATH",
  "DYLD_INSERT_LIBRARIES",
  "DYLD_LIBRARY_PATH",
  "PYTHONPATH",
  "PYTHONSTARTUP",
  "NODE_OPTIONS",
  "PERL5OPT",
  "RUBYOPT"
]

/**
 * What send-keys text may not contain: it is TYPED into an interactive shell, so the original's
 * strict scan stays (quotes do not protect anything there). Each pattern names its construct.
 */
const SEND_KEYS_PATTERNS: ReadonlyArray<{ readonly regex: RegExp; readonly what: string }> = [
  { regex: /;/u, what: "';' would chain commands" },
  { regex: /&&/u, what: "'&&' would chain commands" },
  { regex: /\|\|/u, what: "'||' would chain commands" },
  { regex: /\|/u, what: "'|' would pipe into another command" },
  { regex: /\$\(.*\)/u, what: "'$(…)' would run a command (command substitution)" },
  { regex: /`.*`/u, what: "backticks would run a command (command substitution)" },
  { regex: />\s*[/\p{L}\p{N}_]/u, what: "'>' would redirect output to a file" },
  { regex: /<\s*[/\p{L}\p{N}_]/u, what: "'<' would redirect input from a file" },
  { regex: /\beval\b/iu, what: "'eval' would run shell code" },
  { regex: /\bsource\b/iu, what: "'source' would run a file as shell code" },
  { regex: /\bexec\b/iu, what: "'exec' would replace the shell" }
]

const hasNewline = (s: string) => s.includes("\n") || s.includes("\r")

export const validateSessionName = (name: string): string | null => {
  if (name === "") return "Session name cannot be empty"
  if (name.length > MAX_SESSION_NAME_LENGTH) return `Session name too long (max ${MAX_SESSION_NAME_LENGTH} chars)`
  if (!SESSION_NAME_PATTERN.test(name)) {
    return "Session name must start with letter and contain only alphanumeric, underscore, or hyphen characters"
  }
  return null
}

export const validateImage = (image: string): string | null => {
  if (image === "") return "Image name cannot be empty"
  if (image.length > MAX_IMAGE_NAME_LENGTH) return `Image name too long (max ${MAX_IMAGE_NAME_LENGTH} chars)`
  if (!IMAGE_PATTERN.test(image)) return `Invalid image name format: ${image}`
  return null
}

/** One `host:container[:ro|:rw]` mount (also `log_volume`). Format first, then `..` anywhere. */
export const validateVolume = (volume: string): string | null => {
  if (!VOLUME_PATTERN.test(volume)) return `Invalid volume format: ${volume}`
  if (volume.includes("..")) return `Path traversal not allowed in volume: ${volume}`
  return null
}

export const validateVolumeCount = (count: number): string | null =>
  count > MAX_VOLUMES ? `Too many volumes (max ${MAX_VOLUMES})` : null

/** A whole list, as the original checks it: the count first, then each item in order; the first problem. */
const validateList = <A>(count: (n: number) => string | null, item: (a: A) => string | null) =>
(xs: ReadonlyArray<A>): string | null => {
  const c = count(xs.length)
  if (c !== null) return c
  for (const x of xs) {
    const r = item(x)
    if (r !== null) return r
  }
  return null
}

export const validateVolumes = validateList(validateVolumeCount, validateVolume)

export const validatePort = (port: string): string | null => {
  if (!PORT_PATTERN.test(port)) return `Invalid port format: ${port}`
  for (const num of port.match(/[0-9]+/gu) ?? []) {
    const n = Number(num)
    if (n < 1 || n > 65535) return `Port number out of range (1-65535): ${num}`
  }
  return null
}

export const validatePortCount = (count: number): string | null =>
  count > MAX_PORTS ? `Too many ports (max ${MAX_PORTS})` : null

export const validatePorts = validateList(validatePortCount, validatePort)

export const validateEnvCount = (count: number): string | null =>
  count > MAX_ENV_VARS ? `Too many env vars (max ${MAX_ENV_VARS})` : null

/** One variable, checks in the original order: key length, value length, key format, blocked key. */
export const validateEnvEntry = (key: string, value: string): string | null => {
  if (key.length > MAX_ENV_KEY_LENGTH) return `Env key too long (max ${MAX_ENV_KEY_LENGTH}): ${key.slice(0, 20)}...`
  if (value.length > MAX_ENV_VALUE_LENGTH) return `Env value too long (max ${MAX_ENV_VALUE_LENGTH}) for key: ${key}`
  if (!ENV_KEY_PATTERN.test(key)) return `Invalid env key format: ${key}`
  if (DANGEROUS_ENV_KEYS.includes(key)) return `Environment variable '${key}' is blocked for security reasons`
  if (value.includes("\u0000")) return `Null bytes are not allowed in env values (key: ${key})`
  return null
}

export const validateEnv = (env: Readonly<Record<string, string>>): string | null => {
  const entries = Object.entries(env)
  const count = validateEnvCount(entries.length)
  if (count !== null) return count
  for (const [k, v] of entries) {
    const r = validateEnvEntry(k, v)
    if (r !== null) return r
  }
  return null
}

/**
 * `strict` (the default, used for every session command) adds the newline check and, unless the
 * session opts in to a shell (`shell: true`), the deep check of command-rules.ts; non-strict checks
 * only length and NUL, as the original's `strict=False`. Newlines are refused with a shell too.
 */
export const validateCommand = (
  command: string,
  options: { readonly strict?: boolean; readonly shell?: boolean } = {}
): string | null => {
  const base = validateCommandText(command, options.strict)
  if (base !== null || options.strict === false) return base
  if (command.trim() === "") return "the command is empty; leave command out to run the default"
  return options.shell === true ? null : commandSyntaxReason(command)
}

/** Length, NUL and (strict) newlines: what every command must pass, shell or not. */
export const validateCommandText = (command: string, strict = true): string | null => {
  if (command.length > MAX_COMMAND_LENGTH) return `Command too long (max ${MAX_COMMAND_LENGTH} chars)`
  if (command.includes("\u0000")) return "Null bytes are not allowed in commands"
  if (strict && hasNewline(command)) return "Newlines are not allowed in commands"
  return null
}

/**
 * `exec NAME -- ARGV`: words already split, executed as they are (no shell), so only the word-level
 * checks apply, plus NUL and newlines in any word and the overall length.
 */
export const validateArgv = (argv: ReadonlyArray<string>): string | null => {
  const joined = argv.join(" ")
  if (joined.length > MAX_COMMAND_LENGTH) return `Command too long (max ${MAX_COMMAND_LENGTH} chars)`
  if (argv.some((w) => w.includes("\u0000"))) return "Null bytes are not allowed in commands"
  if (argv.some(hasNewline)) return "Newlines are not allowed in commands"
  return argvReason(argv)
}

/** Text typed into the session's shell: one simple command, or a control key (`C-c`, `Enter`). */
export const validateSendKeys = (keys: string): string | null => {
  if (keys === "") return "Keys cannot be empty"
  if (keys.length > MAX_SEND_KEYS_LENGTH) return `Keys too long (max ${MAX_SEND_KEYS_LENGTH} chars)`
  if (keys.includes("\u0000")) return "Null bytes are not allowed in keys"
  if (CONTROL_KEY_PATTERN.test(keys)) return null
  if (hasNewline(keys)) return "Newlines are not allowed in keys"
  const hit = SEND_KEYS_PATTERNS.find((p) => p.regex.test(keys))
  return hit === undefined ? null : `${hit.what} in the shell the keys are typed into; send one simple command`
}

const hasControlChar = (s: string) => /[\u0000-\u001f\u007f]/u.test(s)

/** tmux `-L NAME`: a file name in tmux's socket directory. */
export const validateSocketName = (socket: string): string | null => {
  if (socket === "") return "Socket name cannot be empty"
  if (socket.length > MAX_SOCKET_NAME_LENGTH) return `Socket name too long (max ${MAX_SOCKET_NAME_LENGTH} chars)`
  if (socket.includes("/") || socket.includes("\\") || hasControlChar(socket)) {
    return `Invalid socket name: '${socket}'`
  }
  return null
}

export const validateWorkingDir = (dir: string): string | null => {
  if (dir === "") return "Working directory cannot be empty"
  if (dir.length > MAX_WORKING_DIR_LENGTH) return `Working directory too long (max ${MAX_WORKING_DIR_LENGTH} chars)`
  if (dir.includes("\u0000")) return "Null bytes are not allowed in working directory"
  if (hasNewline(dir)) return "Newlines are not allowed in working directory"
  return null
}
