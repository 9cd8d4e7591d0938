/**
 * "Deep defense" validation rules, ported from the original `kstlib.ops.validators` with its exact
 * messages. Each rule is a pure function returning the reason a value is refused, or `null` when it
 * is fine. The Effect Schema of the config (schema.ts) and the CLI overrides both use these, so every
 * rule lives here once.
 *
 * Deliberate fixes over the original:
 * - images with a registry port (`localhost:5000/app:1.2`) are valid;
 * - newlines (`\n`, `\r`) are refused in commands and send-keys text (a newline chains commands
 *   in a shell), and so is every other control character in send-keys text;
 * - commands are checked quote-aware on the words that will run (command-rules.ts), not with the
 *   original's substring regexes, which refused `grep -E 'a|b'` and let `e''val` through;
 * - JS `^…$` (no `m` flag) has no Python trailing-newline hole, and character classes that would
 *   match control characters (`[^:]`) exclude them explicitly;
 * - `log_volume`, `working_dir` and `socket_name` are validated too;
 * - env values may not contain NUL (execve cannot pass them).
 */
import * as path from "node:path"
import { RE2JS } from "re2js"
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
/** `ops.sessions` entries kept by default (the original `_MAX_CONFIG_SESSIONS`); `ops.max_sessions` raises it. */
export const MAX_CONFIG_SESSIONS = 50
/** The highest `ops.max_sessions`: a fleet across hosts, still a bound on one load's work. */
export const MAX_SESSIONS_LIMIT = 1000

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
/** `[IP:][HOST:]CONTAINER[/proto]`, HOST and CONTAINER a port or a range `A-B`; an IP needs its HOST part (maybe empty: `127.0.0.1::80`). */
export const PORT_PATTERN =
  /^(?:(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|\[[0-9A-Fa-f:.]+\]):(?:[0-9]{1,5}(?:-[0-9]{1,5})?)?:|[0-9]{1,5}(?:-[0-9]{1,5})?:)?[0-9]{1,5}(?:-[0-9]{1,5})?(?:\/tcp|\/udp|\/sctp)?$/u

/** A published port, read: `ip` null = every address, `host` null = a port the engine picks. */
export interface PortSpec {
  readonly ip: string | null
  readonly host: readonly [number, number] | null
  readonly container: readonly [number, number]
  readonly protocol: "tcp" | "udp" | "sctp"
}

/** `[IP:][HOST:]CONTAINER[/proto]` → its parts, or why not (the one reader of port text: validation, probes, export). */
export const parsePortSpec = (port: string): PortSpec | string => {
  if (!PORT_PATTERN.test(port)) return `Invalid port format: ${port}`
  const slash = port.indexOf("/")
  const protocol = (slash < 0 ? "tcp" : port.slice(slash + 1)) as PortSpec["protocol"]
  const body = slash < 0 ? port : port.slice(0, slash)
  const close = body.startsWith("[") ? body.indexOf("]") + 1 : 0
  const parts = [...(close > 0 ? [body.slice(0, close)] : []), ...body.slice(close > 0 ? close + 1 : 0).split(":")]
  const ip = parts.length === 3 ? parts[0]! : null
  if (ip !== null && !ip.startsWith("[") && ip.split(".").some((o) => Number(o) > 255)) return `Invalid IP address in port: ${ip}`
  const range = (text: string): readonly [number, number] | string => {
    const ends = text.split("-")
    for (const n of ends) if (Number(n) < 1 || Number(n) > 65535) return `Port number out of range (1-65535): ${n}`
    const [a, hi] = [Number(ends[0]), Number(ends[ends.length - 1])]
    return a <= hi ? [a, hi] : `Port range ${text} goes down`
  }
  const hostText = parts.length === 1 ? "" : parts[parts.length - 2]!
  const host = hostText === "" ? null : range(hostText)
  const container = range(parts[parts.length - 1]!)
  if (typeof host === "string") return host
  if (typeof container === "string") return container
  if (host !== null && container[1] > container[0] && host[1] - host[0] !== container[1] - container[0]) {
    return `Port ranges ${hostText} and ${parts[parts.length - 1]} differ in length`
  }
  return { ip, host, container, protocol }
}
export const ENV_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/u
/** Container env keys may hold dots (`discovery.type`): no shell names them, the engine passes them as they are. */
export const DOTTED_ENV_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.]*$/u
const CONTROL_KEY_PATTERN = /^(?:C-[a-zA-Z]|M-[a-zA-Z]|Enter|Escape|Space|Tab|BSpace)$/u

/**
 * Environment variables refused in `env:` and `env_file`: those that make a program load or run code
 * other than the validated command, silently, where the command itself looks harmless. The one place
 * the list and its reasons live (README: "Env keys that run code"). Reviewed against each runtime's
 * and tool's documentation of the variables it reads at startup:
 * - dynamic loader (ld.so(8), dyld): every `LD_*`, `DYLD_*` (prefixes below); glibc: GCONV_PATH
 *   (iconv modules are shared objects), GLIBC_TUNABLES (CVE-2023-4911);
 * - shells (bash(1), dash(1), zsh(1)): startup files and strings they evaluate (prompts are expanded
 *   with command substitution), exported functions (`BASH_FUNC_*`);
 * - python: module search paths and hooks (PYTHONPATH, PYTHONHOME, PYTHONUSERBASE, PYTHONSTARTUP,
 *   PYTHONWARNINGS and PYTHONBREAKPOINT import a named module, PYTHONPYCACHEPREFIX names where
 *   bytecode is read from); node: NODE_OPTIONS (`--require`), NODE_PATH, NODE_REPL_EXTERNAL_MODULE;
 *   perl: PERL5OPT, PERL5LIB, PERLLIB, PERL5DB; ruby: RUBYOPT, RUBYLIB; php: PHPRC, PHP_INI_SCAN_DIR
 *   (`auto_prepend_file`); java: JAVA_TOOL_OPTIONS, _JAVA_OPTIONS, JDK_JAVA_OPTIONS (`-javaagent`);
 *   lua: LUA_INIT (code run at startup), LUA_PATH, LUA_CPATH and their versioned forms; R:
 *   R_PROFILE, R_PROFILE_USER (R code run at startup), R_ENVIRON, R_ENVIRON_USER (which can set them);
 * - git: GIT_SSH_COMMAND, GIT_SSH, GIT_PROXY_COMMAND, GIT_ASKPASS, GIT_EXTERNAL_DIFF (programs it
 *   runs by itself on fetch, push, diff), GIT_EXEC_PATH (where its subcommands are found),
 *   GIT_TEMPLATE_DIR (hooks copied into new repositories), GIT_CONFIG and every `GIT_CONFIG_*`
 *   (GIT_CONFIG_PARAMETERS and GIT_CONFIG_COUNT/KEY_n/VALUE_n set any option: core.sshCommand,
 *   core.fsmonitor run commands); ssh: SSH_ASKPASS; sudo: SUDO_ASKPASS;
 * - less: LESSOPEN, LESSCLOSE (a command run for every file less opens, git's pager included);
 * - openssl: OPENSSL_CONF (engine/provider loading), OPENSSL_ENGINES, OPENSSL_MODULES (shared objects).
 * Not blocked, deliberately: PAGER, EDITOR, VISUAL, GIT_PAGER, GIT_EDITOR, MANPAGER, BROWSER (a
 * program the user picks for interactive use, run when asked for, and commonly set in a tmux
 * session); HOME, PATH, XDG_*, CLASSPATH, GIT_DIR, CURL_HOME and the like (they select files, as the
 * working directory does; they inject nothing into an otherwise safe command); curl runs no program
 * named by its environment.
 */
export const DANGEROUS_ENV_KEYS: ReadonlyArray<string> = [
  // the original's list (LD_* and DYLD_* are refused as whole prefixes below)
  "LD_PRELOAD",
  "LD_LIBRARY_PATH",
  "DYLD_INSERT_LIBRARIES",
  "DYLD_LIBRARY_PATH",
  "PYTHONPATH",
  "PYTHONSTARTUP",
  "NODE_OPTIONS",
  "PERL5OPT",
  "RUBYOPT",
  // shells
  "BASH_ENV",
  "ENV",
  "SHELLOPTS",
  "BASHOPTS",
  "PROMPT_COMMAND",
  "PS0",
  "PS1",
  "PS2",
  "PS4",
  "ZDOTDIR",
  // glibc
  "GCONV_PATH",
  "GLIBC_TUNABLES",
  // interpreters and runtimes
  "PYTHONHOME",
  "PYTHONUSERBASE",
  "PYTHONWARNINGS",
  "PYTHONBREAKPOINT",
  "PYTHONPYCACHEPREFIX",
  "NODE_PATH",
  "NODE_REPL_EXTERNAL_MODULE",
  "PERL5LIB",
  "PERLLIB",
  "PERL5DB",
  "RUBYLIB",
  "JAVA_TOOL_OPTIONS",
  "_JAVA_OPTIONS",
  "JDK_JAVA_OPTIONS",
  "PHPRC",
  "PHP_INI_SCAN_DIR",
  "LUA_INIT",
  "LUA_PATH",
  "LUA_CPATH",
  "R_PROFILE",
  "R_PROFILE_USER",
  "R_ENVIRON",
  "R_ENVIRON_USER",
  // tools that run a program named by a variable
  "GIT_SSH_COMMAND",
  "GIT_SSH",
  "GIT_PROXY_COMMAND",
  "GIT_ASKPASS",
  "GIT_EXTERNAL_DIFF",
  "GIT_EXEC_PATH",
  "GIT_TEMPLATE_DIR",
  "GIT_CONFIG",
  "SSH_ASKPASS",
  "SUDO_ASKPASS",
  "LESSOPEN",
  "LESSCLOSE",
  // openssl
  "OPENSSL_CONF",
  "OPENSSL_ENGINES",
  "OPENSSL_MODULES"
]

/**
 * Whole namespaces. `LD_`: every variable ld.so(8) reads steers the dynamic loader of every
 * program started (LD_AUDIT and LD_PRELOAD load code, LD_TRACE_LOADED_OBJECTS stops the program
 * from running, LD_DEBUG_OUTPUT/LD_PROFILE_OUTPUT write files) and glibc adds new ones; no
 * application needs them from a config file. `DYLD_` is the macOS equivalent. `BASH_FUNC_`: bash
 * imports functions from such variables. `LUA_INIT_`, `LUA_PATH_`, `LUA_CPATH_`: the versioned
 * forms (LUA_INIT_5_4). `GIT_CONFIG_`: GIT_CONFIG_PARAMETERS, GIT_CONFIG_COUNT/KEY_n/VALUE_n set any
 * git option (GIT_CONFIG_GLOBAL/SYSTEM/NOSYSTEM go with them: an application has no need of them).
 */
export const DANGEROUS_ENV_PREFIXES: ReadonlyArray<string> = ["LD_", "DYLD_", "BASH_FUNC_", "LUA_INIT_", "LUA_PATH_", "LUA_CPATH_", "GIT_CONFIG_"]

export const isDangerousEnvKey = (key: string): boolean =>
  DANGEROUS_ENV_KEYS.includes(key) || DANGEROUS_ENV_PREFIXES.some((p) => key.startsWith(p))

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
  const p = parsePortSpec(port)
  return typeof p === "string" ? p : null
}

export const validatePortCount = (count: number): string | null =>
  count > MAX_PORTS ? `Too many ports (max ${MAX_PORTS})` : null

export const validatePorts = validateList(validatePortCount, validatePort)

/**
 * All of a session's env together. A process receives its arguments and environment in one block
 * of at most ARG_MAX (2 MiB on Linux, shared with what it inherits): more can never start, so it is
 * refused here, plainly, instead of failing at exec (E2BIG).
 */
export const MAX_ENV_TOTAL = 1024 * 1024

export const validateEnvTotal = (env: Readonly<Record<string, string>>): string | null => {
  const total = Object.entries(env).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v) + 2, 0)
  return total > MAX_ENV_TOTAL
    ? `Env too large: ${total} bytes in all (max ${MAX_ENV_TOTAL}: a process receives its arguments and environment in one block of about 2 MiB)`
    : null
}

export const validateEnvCount = (count: number): string | null =>
  count > MAX_ENV_VARS ? `Too many env vars (max ${MAX_ENV_VARS})` : null

/** One variable, checks in the original order: key length, value length, key format, blocked key. */
export const validateEnvEntry = (key: string, value: string, options: { readonly dots?: boolean } = {}): string | null => {
  if (key.length > MAX_ENV_KEY_LENGTH) return `Env key too long (max ${MAX_ENV_KEY_LENGTH}): ${key.slice(0, 20)}...`
  if (value.length > MAX_ENV_VALUE_LENGTH) return `Env value too long (max ${MAX_ENV_VALUE_LENGTH}) for key: ${key}`
  if (!(options.dots === true ? DOTTED_ENV_KEY_PATTERN : ENV_KEY_PATTERN).test(key)) return `Invalid env key format: ${key}`
  if (isDangerousEnvKey(key)) return `Environment variable '${key}' is blocked for security reasons`
  if (value.includes("\u0000")) return `Null bytes are not allowed in env values (key: ${key})`
  // a search path never holds one, and on a remote host PATH travels as one line of stdin
  if (key === "PATH" && /[\r\n]/u.test(value)) return "PATH must not contain a line break"
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
  return validateEnvTotal(env)
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
  // typed into a line editor, a control character is a command of its own (C-o accepts the line
  // in bash, ESC starts a key sequence): control keys go by name, never inside text
  if (/[\u0000-\u001f\u007f-\u009f]/u.test(keys)) {
    return "Control characters are not allowed in keys; send a control key by its name (C-c, Escape, Tab, ...) on its own"
  }
  const hit = SEND_KEYS_PATTERNS.find((p) => p.regex.test(keys))
  return hit === undefined ? null : `${hit.what} in the shell the keys are typed into; send one simple command`
}

const hasControlChar = (s: string) => /[\u0000-\u001f\u007f]/u.test(s)

/** tmux `-L NAME`: a file name in tmux's socket directory. */
export const validateSocketName = (socket: string): string | null => {
  if (socket === "") return "Socket name cannot be empty"
  if (socket.length > MAX_SOCKET_NAME_LENGTH) return `Socket name too long (max ${MAX_SOCKET_NAME_LENGTH} chars)`
  // `.` and `..` would name tmux's socket directory or its parent, not a socket
  if (socket === "." || socket === ".." || socket.includes("/") || socket.includes("\\") || hasControlChar(socket)) {
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

// Project, tmux binary, host mounts

export const MAX_PROJECT_NAME_LENGTH = 64
/** Like a session name, but it may start with a digit (a directory name often does, as in compose). */
export const PROJECT_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_-]*$/u

export const validateProjectName = (project: string): string | null => {
  if (project === "") return "Project name cannot be empty"
  if (project.length > MAX_PROJECT_NAME_LENGTH) return `Project name too long (max ${MAX_PROJECT_NAME_LENGTH} chars)`
  if (!PROJECT_NAME_PATTERN.test(project)) {
    return "Project name must start with a letter or digit and contain only alphanumeric, underscore, or hyphen characters"
  }
  return null
}

/**
 * A directory name as a project name, the way docker compose normalises it: lower case, only
 * `[a-z0-9_-]` kept, leading `_`/`-` dropped; nothing left → "default".
 */
export const normalizeProjectName = (dirName: string): string => {
  const s = dirName.toLowerCase().replace(/[^a-z0-9_-]/gu, "").replace(/^[_-]+/u, "").slice(0, MAX_PROJECT_NAME_LENGTH)
  return s === "" ? "default" : s
}

/**
 * `ops.tmux_binary`: a bare name (looked up on PATH) or an absolute path outside every config
 * file's directory. Even read-only commands run tmux, so a path into the repository that ships the
 * config (`./evil.sh`) would run the repository's file on `kstlib ops list`.
 * `configDirs` are real paths; `real` is the binary's real path when it exists.
 */
export const validateTmuxBinary = (binary: string, configDirs: ReadonlyArray<string>, real: string | null): string | null => {
  if (binary === "") return "tmux binary cannot be empty"
  if (hasControlChar(binary)) return "control characters are not allowed in the tmux binary"
  if (!binary.includes("/")) return binary === "." || binary === ".." ? "must be a program name or an absolute path" : null
  if (!binary.startsWith("/")) return "must be a program name (looked up in PATH) or an absolute path; a relative path is refused"
  const inside = (p: string) => configDirs.some((d) => p === d || p.startsWith(d.endsWith("/") ? d : `${d}/`))
  if (inside(binary) || (real !== null && inside(real))) {
    return "must not be inside a config file's directory (a repository must not ship the program kstlib runs)"
  }
  return null
}

/** Host directories never bind-mounted (without `unsafe_mounts: true`): the directory itself. */
export const FORBIDDEN_MOUNT_DIRS: ReadonlyArray<string> = ["/", "/proc", "/sys", "/dev", "/boot", "/etc"]
/** ... and everything below these. */
export const FORBIDDEN_MOUNT_TREES: ReadonlyArray<string> = ["/proc", "/sys", "/boot"]
/** Devices: a disk (`/dev/sda`) mounted into a container is the host's data, raw. */
export const DEVICE_TREE = "/dev"
/** Container engines' API sockets: mounting one (or a directory holding one) gives root on the host. */
export const ENGINE_SOCKETS: ReadonlyArray<RegExp> = [
  /^\/var\/run\/docker\.sock$/u,
  /^\/run\/docker\.sock$/u,
  /^\/run\/podman\/podman\.sock$/u,
  /^\/run\/user\/[0-9]+\/podman\/podman\.sock$/u,
  /^\/run\/user\/[0-9]+\/docker\.sock$/u,
  /^\/run\/containerd\/containerd\.sock$/u
]
/** The directories on the way to those sockets (mounting them exposes the socket too). */
const ENGINE_SOCKET_DIRS: ReadonlyArray<RegExp> = [
  /^\/var$/u,
  /^\/var\/run$/u,
  /^\/run$/u,
  /^\/run\/podman$/u,
  /^\/run\/containerd$/u,
  /^\/run\/user$/u,
  /^\/run\/user\/[0-9]+$/u,
  /^\/run\/user\/[0-9]+\/podman$/u
]

/**
 * The unix sockets the environment points the engine clients at (`DOCKER_HOST`, `CONTAINER_HOST`
 * as `unix:///path`), normalised; other transports (tcp, ssh) name no local socket. The caller
 * adds their real paths (a socket named through a symlink is the same socket).
 */
export const engineSocketsFromEnv = (env: Readonly<Record<string, string | undefined>>): ReadonlyArray<string> =>
  ["DOCKER_HOST", "CONTAINER_HOST"].flatMap((key) => {
    const m = /^unix:\/\/(\/.*)$/u.exec(env[key] ?? "")
    return m === null ? [] : [path.posix.normalize(m[1]!)]
  })

/** `dir` is `p` or one of the directories above it. */
const holds = (dir: string, p: string) => p === dir || p.startsWith(dir.endsWith("/") ? dir : `${dir}/`)

/** What the caller found out about a host path (file-system facts the pure rule cannot read itself). */
export interface MountFacts {
  /** A block or character device is there (stat of the real path). */
  readonly device?: boolean
  /** The sockets of the engines in use (engineSocketsFromEnv, as given and resolved, or as an engine reports it). */
  readonly sockets?: ReadonlyArray<string>
}

/**
 * Why a bind mount of host path `host` (absolute, normalised, symlinks already resolved by the
 * caller) is refused, or null. `shown` is the path as written, for the message. Mounting an
 * engine's socket, or a directory holding one, gives the container root on the host too.
 */
export const validateHostMount = (host: string, shown: string, facts: MountFacts = {}): string | null => {
  const device = facts.device ?? false
  const sockets = facts.sockets ?? []
  const via = host === shown ? "" : ` (resolves to '${host}')`
  const refuse = (what: string) => `refusing to mount host '${shown}'${via}: ${what}; set unsafe_mounts: true to allow it`
  if (FORBIDDEN_MOUNT_DIRS.includes(host) || FORBIDDEN_MOUNT_TREES.some((t) => host.startsWith(`${t}/`))) {
    return refuse("host system directory")
  }
  if (device) return refuse("device node")
  if (host.startsWith(`${DEVICE_TREE}/`)) return refuse("under /dev (devices)")
  if (ENGINE_SOCKETS.some((r) => r.test(host)) || ENGINE_SOCKET_DIRS.some((r) => r.test(host))) {
    return refuse("container engine socket (root on the host)")
  }
  const socket = sockets.find((s) => holds(host, s))
  if (socket !== undefined) return refuse(`it holds the socket of a container engine kstlib drives (${socket}: root on the host)`)
  return null
}

// Supervision: restart, ready, depends_on

export const MAX_RESTARTS_LIMIT = 1000
export const MAX_READY_TIMEOUT = 3600
export const MAX_READY_INTERVAL = 300
export const MAX_READY_PATTERN_LENGTH = 1024
export const MAX_READY_URL_LENGTH = 2048
export const MAX_DEPENDENCIES = 50

/** Restart timings and stop timeouts: seconds (fractions allowed, as pm2's milliseconds), within these bounds. */
export const SECONDS_BOUNDS = {
  restart_delay: { min: 0, max: 3600 },
  max_backoff: { min: 0.1, max: 3600 },
  min_uptime: { min: 0, max: 86400 },
  stop_timeout: { min: 0, max: 3600 }
} as const
export type SecondsField = keyof typeof SECONDS_BOUNDS

export const validateSeconds = (what: SecondsField) => (n: number): string | null => {
  const { max, min } = SECONDS_BOUNDS[what]
  return Number.isFinite(n) && n >= min && n <= max ? null : `${what} must be a number of seconds between ${min} and ${max}`
}

export const validateMaxRestarts = (n: number): string | null =>
  Number.isInteger(n) && n >= 0 && n <= MAX_RESTARTS_LIMIT ? null : `max_restarts must be an integer between 0 and ${MAX_RESTARTS_LIMIT}`

export const validateReadyUrl = (url: string): string | null => {
  if (url.length > MAX_READY_URL_LENGTH) return `URL too long (max ${MAX_READY_URL_LENGTH} chars)`
  if (hasControlChar(url)) return "control characters are not allowed in the URL"
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return `not a URL: ${url}`
  }
  return parsed.protocol === "http:" || parsed.protocol === "https:" ? null : `only http:// and https:// URLs can be probed: ${url}`
}

/**
 * `ready.log` as RE2 (linear time: the probe runs it in kstlib's own thread over many lines), or why
 * it cannot be. RE2 has no backreferences or lookaround, the features that need backtracking.
 */
export const compileReadyPattern = (pattern: string): RE2JS | string => {
  if (pattern === "") return "the pattern is empty"
  if (pattern.length > MAX_READY_PATTERN_LENGTH) return `pattern too long (max ${MAX_READY_PATTERN_LENGTH} chars)`
  try {
    return RE2JS.compile(pattern)
  } catch (e) {
    const reason = (e as Error).message.replace(/^error parsing regexp: /u, "")
    return `not a valid RE2 regular expression (no backreferences or lookaround; see https://github.com/google/re2/wiki/Syntax): ${reason}`
  }
}

export const validateReadyPattern = (pattern: string): string | null => {
  const re = compileReadyPattern(pattern)
  return typeof re === "string" ? re : null
}

export const validateReadySeconds = (what: "timeout" | "interval") => (n: number): string | null => {
  const max = what === "timeout" ? MAX_READY_TIMEOUT : MAX_READY_INTERVAL
  return Number.isFinite(n) && n > 0 && n <= max ? null : `${what} must be a number of seconds above 0 and at most ${max}`
}

/** `depends_on` as a list: no duplicates, not the session itself (names are checked one by one, and against the config by the loader). */
export const validateDependencies = (self: string, deps: ReadonlyArray<string>): string | null => {
  if (deps.length > MAX_DEPENDENCIES) return `Too many dependencies (max ${MAX_DEPENDENCIES})`
  if (deps.includes(self)) return `a session cannot depend on itself ('${self}')`
  const dup = deps.find((d, i) => deps.indexOf(d) !== i)
  return dup === undefined ? null : `'${dup}' is listed twice`
}

/**
 * A Podman API socket path as podman's `--url ssh://…/PATH` carries it as is: absolute, without
 * whitespace, control characters (a terminal would act on them), `?`, `#` or `%` (URL syntax).
 * Checked on `ops.hosts.<name>.podman_socket` and on what a host's podman reports.
 */
export const isPodmanSocketPath = (s: string): boolean => /^\/[^\s\u0000-\u001f\u007f-\u009f?#%]+$/u.test(s)

// --- cron_restart and max_memory (enforced by ops watch) ---

/**
 * `cron_restart` and `max_memory`: the values `ops watch` enforces, parsed and validated here
 * (pure), so the loader rejects a bad one with file:line and the watcher only reads the result.
 *
 * Cron: five fields, `minute hour day-of-month month day-of-week`, each `*`, a number, a range
 * `a-b`, a step `*\/n` or `a-b/n`, or a comma list of those; months and days may be named (`jan`,
 * `mon`); day-of-week 0 and 7 are Sunday. As in Vixie cron, when both day fields are restricted a
 * day matching either one counts. `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly` (`@annually`)
 * are accepted. Times are this machine's local time, as cron's.
 */

export interface Cron {
  readonly minutes: ReadonlySet<number>
  readonly hours: ReadonlySet<number>
  readonly days: ReadonlySet<number>
  readonly months: ReadonlySet<number>
  /** 0 = Sunday. */
  readonly weekdays: ReadonlySet<number>
  readonly anyDay: boolean
  readonly anyWeekday: boolean
}

const MACROS: Readonly<Record<string, string>> = {
  "@hourly": "0 * * * *",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@weekly": "0 0 * * 0",
  "@monthly": "0 0 1 * *",
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *"
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

interface FieldDef {
  readonly name: string
  readonly min: number
  readonly max: number
  readonly names?: ReadonlyArray<string>
  /** The first name's number (months: 1). */
  readonly base?: number
}

const FIELDS: ReadonlyArray<FieldDef> = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS, base: 1 },
  { name: "day of week", min: 0, max: 7, names: DAYS, base: 0 }
]

const valueOf = (text: string, def: FieldDef): number | null => {
  if (/^\d{1,2}$/u.test(text)) return Number(text)
  const i = def.names?.indexOf(text.toLowerCase()) ?? -1
  return i === -1 ? null : i + (def.base ?? 0)
}

/** One field's values, or why it is not one. */
const parseField = (text: string, def: FieldDef): Set<number> | string => {
  const out = new Set<number>()
  for (const part of text.split(",")) {
    const m = /^(\*|[^-/]+)(?:-([^/]+))?(?:\/(\d{1,2}))?$/u.exec(part)
    if (m === null) return `${def.name} '${part}' is not a value, a range or a step`
    const step = m[3] === undefined ? 1 : Number(m[3])
    if (step < 1) return `${def.name} step must be at least 1`
    let lo: number
    let hi: number
    if (m[1] === "*") {
      if (m[2] !== undefined) return `${def.name} '${part}': a range cannot start with *`
      ;[lo, hi] = [def.min, def.max]
    } else {
      const a = valueOf(m[1]!, def)
      const b = m[2] === undefined ? (m[3] === undefined ? a : def.max) : valueOf(m[2], def)
      if (a === null || b === null) return `${def.name} '${part}' is not a number${def.names === undefined ? "" : " or a name"}`
      ;[lo, hi] = [a, b]
    }
    if (lo < def.min || hi > def.max) return `${def.name} '${part}' is outside ${def.min}-${def.max}`
    if (lo > hi) return `${def.name} '${part}': the range goes backwards`
    for (let v = lo; v <= hi; v += step) out.add(v)
  }
  return out
}

/** The parsed expression, or why it is not one. */
export const parseCron = (expression: string): Cron | string => {
  const text = expression.trim()
  const expanded = MACROS[text.toLowerCase()] ?? text
  if (expanded.startsWith("@")) return `unknown shorthand '${text}' (known: ${Object.keys(MACROS).join(", ")})`
  const parts = expanded.split(/\s+/u)
  if (parts.length !== 5) return `a cron expression has 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`
  const sets: Array<Set<number>> = []
  for (const [i, p] of parts.entries()) {
    const s = parseField(p, FIELDS[i]!)
    if (typeof s === "string") return s
    sets.push(s)
  }
  const weekdays = new Set([...sets[4]!].map((d) => d % 7))
  return {
    minutes: sets[0]!,
    hours: sets[1]!,
    days: sets[2]!,
    months: sets[3]!,
    weekdays,
    anyDay: parts[2] === "*",
    anyWeekday: parts[4] === "*"
  }
}

export const validateCron = (expression: string): string | null => {
  const r = parseCron(expression)
  return typeof r === "string" ? r : null
}

const dayMatches = (c: Cron, d: Date): boolean => {
  const dom = c.days.has(d.getDate())
  const dow = c.weekdays.has(d.getDay())
  if (c.anyDay && c.anyWeekday) return true
  if (c.anyDay) return dow
  if (c.anyWeekday) return dom
  return dom || dow
}

/** The first minute strictly after `after` that the expression matches (null: none within 5 years, e.g. Feb 31). */
export const nextCron = (c: Cron, after: Date): Date | null => {
  const t = new Date(after.getTime())
  t.setSeconds(0, 0)
  t.setMinutes(t.getMinutes() + 1)
  const limit = after.getTime() + 5 * 366 * 24 * 3600 * 1000
  while (t.getTime() <= limit) {
    if (!c.months.has(t.getMonth() + 1)) {
      t.setMonth(t.getMonth() + 1, 1)
      t.setHours(0, 0, 0, 0)
    } else if (!dayMatches(c, t)) {
      t.setDate(t.getDate() + 1)
      t.setHours(0, 0, 0, 0)
    } else if (!c.hours.has(t.getHours())) {
      t.setHours(t.getHours() + 1, 0, 0, 0)
    } else if (!c.minutes.has(t.getMinutes())) {
      t.setMinutes(t.getMinutes() + 1, 0, 0)
    } else return t
  }
  return null
}

const UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3
}

/** The smallest container `memory:` limit the engines accept (Docker refuses less than 6 MiB). */
export const MIN_CONTAINER_MEMORY = 6 * 1024 * 1024

/** A container's `memory:` limit → bytes, or why not (a byte size, at least 6M). */
export const parseContainerMemory = (value: string | number): number | string => {
  const r = parseByteSize(value)
  return typeof r === "number" && r < MIN_CONTAINER_MEMORY ? "must be at least 6M (the engines refuse less)" : r
}

/**
 * A container's `cpus:` limit: CPUs in whole hundredths (1.5, 0.25), more than 0, at most 1024. A
 * value that rounds to 0 hundredths is refused too (`1e-12` is not "two decimals": the engines get it as written).
 */
export const validateCpus = (n: number): string | null =>
  !(n > 0) || n > 1024
    ? "must be more than 0 and at most 1024"
    : Math.round(n * 100) < 1 || Math.abs(n * 100 - Math.round(n * 100)) > 1e-9
    ? "at most two decimals, at least 0.01 (e.g. 1.5, 0.25)"
    : null

/** The smallest `max_memory` accepted: below it nothing real runs. */
export const MIN_MAX_MEMORY = 1024 * 1024

/** `512M`, `1.5G`, `300MiB`, `1048576` (bytes; units are powers of 1024, as docker's `--memory`) → bytes, or why not. */
export const parseByteSize = (value: string | number, min: number = MIN_MAX_MEMORY): number | string => {
  const m = typeof value === "number" ? [String(value), String(value), ""] : /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/u.exec(value)
  if (m === null) return "a size such as 512M, 1.5G or a number of bytes"
  const unit = UNITS[m[2]!.toLowerCase()]
  if (unit === undefined) return `unknown unit '${m[2]}' (use K, M or G)`
  const bytes = Math.round(Number(m[1]) * unit)
  if (!Number.isFinite(bytes) || bytes < min) return `must be at least ${min % 1048576 === 0 ? `${min / 1048576}M` : `${min / 1024}K`}`
  if (bytes > 2 ** 50) return "must be at most 1024T"
  return bytes
}

// --- windows and panes (tmux) ---

export const MAX_WINDOWS = 50
export const MAX_PANES = 30
/** Not starting with a digit: tmux reads a target window that is a number as an index. */
export const WINDOW_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/u

export const validateWindowName = (name: string): string | null =>
  WINDOW_NAME_PATTERN.test(name) ? null : "must start with a letter or _ and contain only letters, digits, _ . - (at most 32)"

export const NAMED_LAYOUTS = ["even-horizontal", "even-vertical", "main-horizontal", "main-vertical", "tiled"] as const
/** tmux's own layout string: a checksum, then cells `WxH,X,Y[,ID]` nested in `{…}` / `[…]`. */
const LAYOUT_STRING = /^[0-9a-f]{4},\d+x\d+,\d+,\d+(?:[,{}[\]x\d]*)$/u

export const validateLayout = (layout: string): string | null =>
  (NAMED_LAYOUTS as ReadonlyArray<string>).includes(layout) || LAYOUT_STRING.test(layout)
    ? null
    : `must be one of ${NAMED_LAYOUTS.join(", ")} or a tmux layout string (tmux list-windows -F '#{window_layout}')`

/** The smallest `log_max_size`: rotation below it would rotate on every few lines. */
export const MIN_LOG_SIZE = 4096

/** `log_max_size`: a size, at least 4K. */
export const parseLogSize = (value: string | number): number | string => parseByteSize(value, MIN_LOG_SIZE)

/**
 * `log_file:` a path (relative to the config file; absolute on a host), or `false` for none. Its
 * text reaches a shell only as a quoted word and tmux only with `#` doubled; control characters,
 * which would break the log line it is read back from, are refused.
 */
export const validateLogFile = (p: string): string | null =>
  p.trim() === ""
    ? "must not be empty (use false for no log file)"
    : /[\u0000-\u001f\u007f]/u.test(p)
    ? "must not contain control characters"
    : p.endsWith("/") || p === "." || p === ".." || p.endsWith("/.") || p.endsWith("/..")
    ? "must name a file, not a directory"
    : Buffer.byteLength(p) > 1024
    ? "is longer than 1024 bytes"
    : null

/** `user:` — `name`, `uid`, `name:group` or `uid:gid` (Podman and Docker `--user`); never an option. */
export const CONTAINER_USER_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})?$/u
export const validateContainerUser = (user: string): string | null =>
  CONTAINER_USER_PATTERN.test(user) ? null : `Invalid user '${user}': expected name, uid, name:group or uid:gid (letters, digits, '_', '.', '-')`

/** `hostname:` — an RFC 1123 host name (labels of at most 63 letters, digits and '-', 253 in all). */
export const HOSTNAME_PATTERN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/u
export const validateHostname = (name: string): string | null =>
  HOSTNAME_PATTERN.test(name) ? null : `Invalid hostname '${name}': expected an RFC 1123 host name (letters, digits, '-', dots between labels of at most 63)`

/** `cap_add:`/`cap_drop:` — a Linux capability (`NET_ADMIN`, `CAP_NET_ADMIN`) or `ALL`. */
export const CAPABILITY_PATTERN = /^(CAP_)?[A-Z][A-Z0-9_]{1,31}$/u
export const validateCapability = (cap: string): string | null =>
  CAPABILITY_PATTERN.test(cap) ? null : `Invalid capability '${cap}': expected a name such as NET_ADMIN or CAP_NET_ADMIN, or ALL`

/** `pids_limit:` bounds: at least 1 (a container needs its own process), at most the kernel's pid_max ceiling. */
export const PIDS_LIMIT_BOUNDS = { min: 1, max: 4_194_304 } as const

/** `labels:` keys: reverse-DNS style (`team`, `com.example.tier`), never kstlib's own `io.kstlib.*` marks. */
export const LABEL_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/u
export const MAX_LABELS = 64
export const MAX_LABEL_VALUE_LENGTH = 1024
export const validateLabel = (key: string, value: string): string | null => {
  if (!LABEL_KEY_PATTERN.test(key)) return `Invalid label '${key}': letters, digits, '.', '_', '/', '-' (at most 128), starting with a letter or digit`
  if (key.toLowerCase().startsWith("io.kstlib.")) return `label '${key}': io.kstlib.* labels are kstlib's own ownership marks`
  if (value.length > MAX_LABEL_VALUE_LENGTH) return `label '${key}': value longer than ${MAX_LABEL_VALUE_LENGTH} characters`
  if (/[\n\r\0]/u.test(value)) return `label '${key}': the value may not hold a newline or NUL`
  return null
}

/** `extra_hosts:` entries: `HOST:IP` (IPv4, or IPv6 after the first ':'), an /etc/hosts line of the container. */
export const validateExtraHost = (entry: string): string | null => {
  const colon = entry.indexOf(":")
  const host = colon < 0 ? "" : entry.slice(0, colon)
  const ip = colon < 0 ? "" : entry.slice(colon + 1)
  const v4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/u.test(ip)
  const v6 = /^[0-9A-Fa-f:.]{2,45}$/u.test(ip) && ip.includes(":")
  if (!HOSTNAME_PATTERN.test(host) || !(v4 || v6)) return `Invalid extra host '${entry}': expected HOST:IP (e.g. db.local:10.0.0.5)`
  return null
}

/** An `ops.networks` / `ops.volumes` name (the engine's own name rule; it becomes `kstlib-<project>.<name>`). */
export const OBJECT_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/u
export const MAX_OBJECT_NAME_LENGTH = 64
export const validateObjectName = (name: string): string | null =>
  name.length > MAX_OBJECT_NAME_LENGTH
    ? `too long (max ${MAX_OBJECT_NAME_LENGTH} characters)`
    : OBJECT_NAME_PATTERN.test(name) ? null : `'${name}': letters, digits, _ . - (starting with a letter or digit)`
