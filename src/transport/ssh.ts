/**
 * Remote hosts over SSH (`ops.hosts`). Everything kstlib does on a host is ONE `ssh` invocation of a
 * command there (tmux), or the engine's own SSH transport (`DOCKER_HOST=ssh://…`, which runs `ssh`
 * from PATH: a private wrapper gives it the same options; Podman's, in podman-remote.ts). Nothing is
 * copied or installed on the host.
 *
 * Connections are multiplexed: one master per host (`ControlMaster=auto`, `ControlPersist=60`) in a
 * private 0700 directory. Host keys are always verified (`StrictHostKeyChecking=yes`, with the
 * host's `known_hosts` when given) and nothing ever prompts (`BatchMode=yes`).
 *
 * ssh joins the remote command's words with spaces and hands the line to the remote user's shell:
 * every word is quoted here (`shellQuote`) for a POSIX shell. Env values never travel on it: tmux
 * creation scripts go on ssh's stdin, docker env files are read by the local docker client.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Context, Effect, Stream } from "effect"
import { HostUnreachable, sshHung } from "../errors.js"
import type { HostSpec } from "../model.js"
import type { RunOptions, RunResult } from "../proc.js"
import { interactive, run, streamLines } from "../proc.js"
import { lookPath } from "./path.js"

/** The hosts of the loaded config (`ops.hosts`); provided from the config (layer.ts), empty by default. */
export const SshHosts = Context.Reference<ReadonlyArray<HostSpec>>("kstlib/SshHosts", { defaultValue: () => [] })

/** The ssh client program (a test may point it elsewhere). */
export const SshBinary = Context.Reference<string>("kstlib/SshBinary", { defaultValue: () => "ssh" })

// ---------------------------------------------------------------------------------------------
// Pure parts (unit-tested)
// ---------------------------------------------------------------------------------------------

/** Words a POSIX shell reads as themselves, unquoted. */
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/u

/**
 * One word for a POSIX shell: as is when it only has safe characters, else in single quotes (inside
 * which nothing is special), each `'` written `'\''`. Newlines, `$`, backquotes, globs, `;` all stay
 * data. (A NUL cannot be passed at all: no argv can hold one.)
 */
export const shellQuote = (arg: string): string => (SAFE.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)

/** The remote command line: every word quoted, joined as ssh would. */
export const remoteCommand = (argv: ReadonlyArray<string>): string => argv.map(shellQuote).join(" ")

/** A path inside an `-o Key=value` option: double-quoted (spaces), `%` doubled (ssh's tokens). */
const optionPath = (p: string) => `"${p.replaceAll("%", "%%")}"`

/** The ssh options kstlib always uses for `host`, without the destination. */
export const sshOptions = (host: HostSpec, controlDir: string): ReadonlyArray<string> => [
  "-o", "ControlMaster=auto",
  // `%C`: a hash of (local host, host, port, user): one master per destination
  "-o", `ControlPath=${optionPath(controlDir).slice(0, -1)}/%C"`,
  "-o", "ControlPersist=60",
  "-o", "BatchMode=yes",
  "-o", "StrictHostKeyChecking=yes",
  "-o", "ConnectTimeout=10",
  "-o", "LogLevel=ERROR",
  ...(host.known_hosts === null ? [] : ["-o", `UserKnownHostsFile=${optionPath(host.known_hosts)}`]),
  ...(host.identity_file === null ? [] : ["-o", `IdentityFile=${optionPath(host.identity_file)}`, "-o", "IdentitiesOnly=yes"]),
  ...(host.port === null ? [] : ["-p", String(host.port)]),
  ...(host.user === null ? [] : ["-l", host.user])
]

/** `ssh OPTIONS -T|-t -- HOST 'quoted remote command'`. */
export const sshArgs = (
  host: HostSpec,
  controlDir: string,
  remote: ReadonlyArray<string>,
  options: { readonly tty?: boolean } = {}
): ReadonlyArray<string> => [...sshOptions(host, controlDir), options.tty === true ? "-t" : "-T", "--", host.hostname, remoteCommand(remote)]

/** `ssh://user@host:port` for DOCKER_HOST. */
export const dockerHostUrl = (host: HostSpec): string =>
  `ssh://${host.user === null ? "" : `${host.user}@`}${host.hostname.includes(":") ? `[${host.hostname}]` : host.hostname}${host.port === null ? "" : `:${host.port}`}`

/** The SSH error of a failed connection: the last non-empty stderr lines (ssh prints the reason last). */
export const sshReason = (stderr: string): string => {
  const lines = stderr.split(/\r?\n/u).map((l) => l.trim()).filter((l) => l !== "")
  return lines.slice(-2).join("; ") || "ssh exited with 255"
}

/**
 * Docker's ssh transport failing to connect: `… exited with exit status 255 … stderr=ssh: connect to
 * host … Connection refused`. Null when the error is something else (the daemon answered).
 */
export const dockerSshFailure = (stderr: string): string | null => {
  if (!/exit status 255|stderr=ssh:|ssh: connect to host|Host key verification failed|Permission denied \(/u.test(stderr)) return null
  const m = /stderr=(.*)$/su.exec(stderr)
  return sshReason(m === null ? stderr : m[1]!)
}

/** What OpenSSH resolves for a host after ssh_config and kstlib's options (`ssh -G`). */
export interface SshEffective {
  readonly user: string
  readonly hostname: string
  readonly port: number
  /** The name its host keys are looked up under instead of the hostname (`HostKeyAlias`). */
  readonly hostKeyAlias: string | null
  readonly knownHostsFiles: ReadonlyArray<string>
  readonly identityFiles: ReadonlyArray<string>
  /** `ProxyJump` / `ProxyCommand`, when set: the host is not reached directly. */
  readonly proxy: string | null
}

/**
 * `ssh -G` output → the fields kstlib needs; null when it is not that. Paths get `~` and `%d` as
 * ssh expands them (the account's home directory, not $HOME).
 */
export const parseSshEffective = (text: string, home: string): SshEffective | null => {
  const values = new Map<string, Array<string>>()
  for (const line of text.split(/\r?\n/u)) {
    const m = /^(\S+)\s+(.*)$/u.exec(line.trim())
    if (m !== null) values.set(m[1]!.toLowerCase(), [...(values.get(m[1]!.toLowerCase()) ?? []), m[2]!])
  }
  const one = (k: string) => values.get(k)?.[0] ?? null
  const expand = (p: string) => (p === "~" || p.startsWith("~/") ? `${home}${p.slice(1)}` : p).replaceAll("%d", home).replaceAll("%%", "%")
  const user = one("user")
  const hostname = one("hostname")
  const port = Number(one("port"))
  if (user === null || hostname === null || !Number.isInteger(port)) return null
  const paths = (k: string) => (values.get(k) ?? []).flatMap((v) => v.split(/\s+/u)).filter((p) => p !== "" && p !== "none").map(expand)
  const set = (k: string) => {
    const v = one(k)
    return v === null || v === "none" ? null : v
  }
  return {
    user,
    hostname,
    port,
    hostKeyAlias: set("hostkeyalias"),
    knownHostsFiles: [...paths("userknownhostsfile"), ...paths("globalknownhostsfile")],
    identityFiles: paths("identityfile"),
    proxy: set("proxyjump") ?? set("proxycommand")
  }
}

// ---------------------------------------------------------------------------------------------
// Control directory and the docker wrapper
// ---------------------------------------------------------------------------------------------

/** `KSTLIB_SSH_CONTROL_DIR`, else `$XDG_RUNTIME_DIR/kstlib-ssh`, else `<tmp>/kstlib-ssh-<uid>`. */
export const controlDirPath = (env: NodeJS.ProcessEnv = process.env): string => {
  const explicit = env["KSTLIB_SSH_CONTROL_DIR"]
  if (explicit !== undefined && explicit !== "") return path.resolve(explicit)
  const runtime = env["XDG_RUNTIME_DIR"]
  if (runtime !== undefined && runtime !== "" && path.isAbsolute(runtime)) return path.join(runtime, "kstlib-ssh")
  return path.join(os.tmpdir(), `kstlib-ssh-${process.getuid?.() ?? 0}`)
}

/** Creates the control directory 0700, refusing one that is a symlink or another user's (someone could then sit on our sockets). */
export const ensureControlDir = (dir: string = controlDirPath()): string | { readonly error: string } => {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    const st = fs.lstatSync(dir)
    if (st.isSymbolicLink() || !st.isDirectory()) return { error: `ssh control directory ${dir} is not a directory` }
    const uid = process.getuid?.()
    if (uid !== undefined && st.uid !== uid) return { error: `ssh control directory ${dir} belongs to another user` }
    if ((st.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700)
    return dir
  } catch (e) {
    return { error: `cannot create the ssh control directory ${dir}: ${(e as Error).message}` }
  }
}

/**
 * A private directory holding `ssh`, a wrapper that runs the real ssh with kstlib's options for this
 * host: docker's `ssh://` transport runs `ssh` from PATH with its own few flags, and ssh keeps the
 * first value of each option, so ours (identity, known_hosts, multiplexing, strict keys) apply.
 */
export const dockerSshWrapper = (host: HostSpec, controlDir: string, realSsh: string): string => {
  const dir = path.join(controlDir, `bin-${host.name}`)
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const text = `#!/bin/sh\nexec ${remoteCommand([realSsh, ...sshOptions(host, controlDir)])} "$@"\n`
  const file = path.join(dir, "ssh")
  let current: string | null = null
  try {
    current = fs.readFileSync(file, "utf8")
  } catch { /* absent */ }
  if (current !== text) {
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`
    fs.writeFileSync(tmp, text, { mode: 0o700 })
    fs.renameSync(tmp, file)
  }
  return dir
}

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

/** The host of that name in the config; unknown = unreachable (naming it). */
export const hostNamed = (name: string) =>
  Effect.gen(function*() {
    const hosts = yield* SshHosts
    const host = hosts.find((h) => h.name === name)
    if (host === undefined) return yield* new HostUnreachable({ host: name, reason: "no such host in ops.hosts" })
    return host
  })

/**
 * Where ssh's control sockets are, as a service: by default the private directory above, created
 * (0700) on first use; a program on a fake spawner (kstlib/testing) names one that is never created.
 */
export const SshControlDirectory = Context.Reference<{ readonly ensure: Effect.Effect<string | { readonly error: string }> }>(
  "kstlib/SshControlDirectory",
  { defaultValue: () => ({ ensure: Effect.sync(() => ensureControlDir()) }) }
)

export const controlDir = (host: string) =>
  Effect.flatMap(SshControlDirectory, (c) => c.ensure).pipe(
    Effect.flatMap((dir) => (typeof dir === "string" ? Effect.succeed(dir) : Effect.fail(new HostUnreachable({ host, reason: dir.error }))))
  )

/**
 * Runs `remote` (argv, quoted here) on the host. ssh's own failures (exit 255: refused, timed out,
 * host key, authentication) are HostUnreachable naming the host, and so is no answer within the call
 * timeout (`hung`: the login or the remote command hung); the remote command's exit code and output
 * are returned as they are.
 */
export const sshRun = (
  hostName: string,
  remote: ReadonlyArray<string>,
  options: Pick<RunOptions, "input" | "minTimeout" | "merged"> = {}
) =>
  Effect.gen(function*() {
    const host = yield* hostNamed(hostName)
    const dir = yield* controlDir(hostName)
    const ssh = yield* SshBinary
    const r: RunResult = yield* run(ssh, sshArgs(host, dir, remote), options).pipe(
      Effect.catchTag("SpawnFailed", (e) => Effect.fail(new HostUnreachable({ host: hostName, reason: e.message }))),
      // ssh's argv says nothing useful here: what hung is the login (a slow rc file, a silent server) or the command
      Effect.catchTag("BackendTimeout", (e) => Effect.fail(sshHung(hostName, e.seconds)))
    )
    if (r.exitCode === 255) return yield* new HostUnreachable({ host: hostName, reason: sshReason(r.stderr) })
    return r
  })

/**
 * `remote`'s output lines (stdout and stderr) as they come, until it ends or the stream is
 * interrupted (the ssh client is then killed: the remote command sees its stdin, the channel, end).
 */
export const sshStream = (hostName: string, remote: ReadonlyArray<string>) =>
  Stream.unwrap(Effect.gen(function*() {
    const host = yield* hostNamed(hostName)
    const dir = yield* controlDir(hostName)
    const ssh = yield* SshBinary
    return streamLines(ssh, sshArgs(host, dir, remote), { keepStdin: true }).pipe(
      Stream.mapError((e) => new HostUnreachable({ host: hostName, reason: e.message }))
    )
  }))

/** `ssh -G` answers per (ssh program, options, destination): asked once per process, not per engine call. */
const effective = new Map<string, SshEffective>()

/** OpenSSH's view of the host with kstlib's options (`ssh -G`, local: no connection is made). */
export const sshEffective = (hostName: string) =>
  Effect.gen(function*() {
    const host = yield* hostNamed(hostName)
    const dir = yield* controlDir(hostName)
    const ssh = yield* SshBinary
    const args = ["-G", ...sshOptions(host, dir), "--", host.hostname]
    const key = [ssh, ...args].join("\u0000")
    const known = effective.get(key)
    if (known !== undefined) return known
    const r = yield* run(ssh, args).pipe(
      Effect.catchTag("SpawnFailed", (e) => Effect.fail(new HostUnreachable({ host: hostName, reason: e.message })))
    )
    const parsed = r.exitCode === 0 ? parseSshEffective(r.stdout, os.userInfo().homedir) : null
    if (parsed === null) return yield* new HostUnreachable({ host: hostName, reason: `ssh -G: ${sshReason(r.stderr || r.stdout)}` })
    effective.set(key, parsed)
    return parsed
  })

/**
 * The environment a docker client needs to reach the host's engine over its own SSH transport:
 * `DOCKER_HOST=ssh://user@host:port`, and PATH starting with the private ssh wrapper (our options).
 */
export const dockerEnv = (hostName: string) =>
  Effect.gen(function*() {
    const host = yield* hostNamed(hostName)
    const dir = yield* controlDir(hostName)
    const ssh = yield* SshBinary
    const real = ssh.includes("/") ? ssh : (yield* lookPath(ssh)) ?? ssh
    const bin = yield* Effect.try({
      try: () => dockerSshWrapper(host, dir, real),
      catch: (e) => new HostUnreachable({ host: hostName, reason: `cannot write the ssh wrapper: ${(e as Error).message}` })
    })
    return { DOCKER_HOST: dockerHostUrl(host), PATH: `${bin}${path.delimiter}${process.env["PATH"] ?? ""}` } as Readonly<Record<string, string>>
  })

/** The user's terminal handed to `remote` on the host (`ssh -t`): tmux attach. */
export const sshInteractive = (hostName: string, remote: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const host = yield* hostNamed(hostName)
    const dir = yield* controlDir(hostName)
    const ssh = yield* SshBinary
    return yield* interactive(ssh, sshArgs(host, dir, remote, { tty: true })).pipe(
      Effect.catchTag("SpawnFailed", (e) => Effect.fail(new HostUnreachable({ host: hostName, reason: e.message })))
    )
  })
