/**
 * "Deep defense" validation rules, ported from the original `kstlib.ops.validators` with its exact
 * messages. Each rule is a pure function returning the reason a value is refused, or `null` when it
 * is fine. The Effect Schema of the config (schema.ts) and the CLI overrides both use these, so every
 * rule lives here once.
 *
 * Deliberate fixes over the original:
 * - images with a registry port (`localhost:5000/app:1.2`) are valid;
 * - newlines (`\n`, `\r`) are refused in commands and send-keys text (tmux runs commands through
 *   `sh -c`, where a newline chains commands);
 * - JS `^…$` (no `m` flag) has no Python trailing-newline hole, and character classes that would
 *   match control characters (`[^:]`) exclude them explicitly;
 * - `log_volume`, `working_dir` and `socket_name` are validated too;
 * - env values may not contain NUL (execve cannot pass them).
 */

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
 * The original `DANGEROUS_PATTERNS`, in its order. `source` is the raw regex text the original
 * reports in its message; `regex` is the JS equivalent (case-insensitive like `re.IGNORECASE`;
 * Python's `\w` is Unicode-aware, hence `[\p{L}\p{N}_]` in the redirection patterns).
 */
export const DANGEROUS_PATTERNS: ReadonlyArray<{ readonly source: string; readonly regex: RegExp }> = [
  { source: ";", regex: /;/iu },
  { source: "&&", regex: /&&/iu },
  { source: "\\|\\|", regex: /\|\|/iu },
  { source: "\\|", regex: /\|/iu },
  { source: "\\$\\(.*\\)", regex: /\$\(.*\)/iu },
  { source: "`.*`", regex: /`.*`/iu },
  { source: ">\\s*[/\\w]", regex: />\s*[/\p{L}\p{N}_]/iu },
  { source: "<\\s*[/\\w]", regex: /<\s*[/\p{L}\p{N}_]/iu },
  { source: "\\beval\\b", regex: /\beval\b/iu },
  { source: "\\bsource\\b", regex: /\bsource\b/iu },
  { source: "\\bexec\\b", regex: /\bexec\b/iu },
  { source: "\\x00", regex: /\x00/iu }
]

const hasNewline = (s: string) => s.includes("\n") || s.includes("\r")
const firstDangerous = (s: string) => DANGEROUS_PATTERNS.find((p) => p.regex.test(s))

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
 * `strict` (the default, used for every session command) adds the newline check and the
 * dangerous-pattern scan; non-strict checks only length and NUL, as the original's `strict=False`.
 */
export const validateCommand = (command: string, options: { readonly strict?: boolean } = {}): string | null => {
  if (command.length > MAX_COMMAND_LENGTH) return `Command too long (max ${MAX_COMMAND_LENGTH} chars)`
  if (command.includes("\u0000")) return "Null bytes are not allowed in commands"
  if (options.strict === false) return null
  if (hasNewline(command)) return "Newlines are not allowed in commands"
  const hit = firstDangerous(command)
  return hit === undefined ? null : `Potentially dangerous command pattern detected: ${hit.source}`
}

export const validateSendKeys = (keys: string): string | null => {
  if (keys === "") return "Keys cannot be empty"
  if (keys.length > MAX_SEND_KEYS_LENGTH) return `Keys too long (max ${MAX_SEND_KEYS_LENGTH} chars)`
  if (keys.includes("\u0000")) return "Null bytes are not allowed in keys"
  if (CONTROL_KEY_PATTERN.test(keys)) return null
  if (hasNewline(keys)) return "Newlines are not allowed in keys"
  const hit = firstDangerous(keys)
  return hit === undefined ? null : `Potentially dangerous pattern in keys: ${hit.source}`
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
