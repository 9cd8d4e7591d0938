/**
 * Podman on a remote host through Podman's own SSH transport: `podman --url ssh://user@host:port/SOCKET
 * --identity KEY …`, talking to the Podman API service on the host. Nothing is copied or installed
 * there; the service must run (`systemctl --user enable --now podman.socket`, as `podman system
 * connection add` also expects).
 *
 * - The socket path is `ops.hosts.<name>.podman_socket`, else asked of the host's podman over
 *   kstlib's own ssh (`podman info`, as `podman system connection add` does), once per process.
 * - Podman's SSH client (Go's) trusts `$HOME/.ssh/known_hosts` only and silently adds unknown hosts.
 *   Its HOME is therefore a private directory whose known_hosts holds exactly the keys OpenSSH would
 *   accept for this host; with none, kstlib refuses to connect instead of trusting the first key it
 *   sees. What OpenSSH would do is asked of it (`ssh -G`: the user's ssh_config applies — HostName,
 *   Port, User, HostKeyAlias, known_hosts files, default keys), so both clients reach one machine.
 * - Env values never travel on argv: `--env-file` is read by the local podman client.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { EngineUnavailable, HostUnreachable } from "../errors.js"
import type { HostSpec } from "../model.js"
import { isPodmanSocketPath } from "../config/rules.js"
import { hostKeys, knownHostsName, knownHostsText, mergeHostKeys } from "./known-hosts.js"
import { controlDir, hostNamed, type SshEffective, sshEffective, sshReason, sshRun } from "./ssh.js"

// ---------------------------------------------------------------------------------------------
// Pure parts (unit-tested)
// ---------------------------------------------------------------------------------------------

/** `ssh://user@host:port/socket` for `podman --url` (where OpenSSH connects: `ssh -G`; IPv6 in brackets). */
export const podmanUrl = (target: Pick<SshEffective, "user" | "hostname" | "port">, socket: string): string =>
  `ssh://${target.user}@${target.hostname.includes(":") ? `[${target.hostname}]` : target.hostname}:${target.port}${socket}`

const RemoteSocket = Schema.Struct({ path: Schema.String, exists: Schema.Boolean })
const decodeRemoteSocket = Schema.decodeUnknownOption(Schema.fromJsonString(RemoteSocket))

/**
 * `podman info --format '{{json .Host.RemoteSocket}}'` → the socket's path (without `unix://`) and
 * whether it exists; null when the output is something else.
 */
export const parseRemoteSocket = (stdout: string): { readonly path: string; readonly exists: boolean } | null => {
  const last = stdout.trim().split(/\r?\n/u).at(-1) ?? ""
  const decoded = decodeRemoteSocket(last)
  if (decoded._tag === "None") return null
  const p = decoded.value.path.replace(/^unix:(?:\/\/)?/u, "")
  // the host's answer: held to what ops.hosts.<name>.podman_socket may say
  return isPodmanSocketPath(p) ? { path: p, exists: decoded.value.exists } : null
}

/** How to start the service on the host: the hint of every "no service" message. */
export const SERVICE_HINT = "start it on the host: systemctl --user enable --now podman.socket (as root: systemctl enable --now podman.socket)"

/**
 * A failed `podman --url ssh://…` call, classified: its SSH connection failing (refused, host key,
 * authentication: the host is unreachable), the connection working but no service at the socket,
 * or neither (the engine's own error, returned as is).
 */
export const podmanRemoteFailure = (
  stderr: string,
  socket: string
): { readonly unreachable: string } | { readonly service: string } | null => {
  const connect = /failed to connect: (.*)$/mu.exec(stderr)
  if (connect !== null) return { unreachable: connect[1]!.trim() }
  // the SSH side answered but nothing listens at the socket (other "unable to connect" errors, such
  // as podman 4.3 failing to parse an IPv6 host, are the engine's own and shown as they are)
  if (/unable to connect to Podman socket.*(?:connect failed|no such file or directory|connection refused)/iu.test(stderr)) {
    return { service: `no Podman API service answers at ${socket} on the host; ${SERVICE_HINT}` }
  }
  return null
}

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

/** `--identity`: the host's `identity_file`; else ssh's first existing default key, unless an agent holds the keys. */
const identityOf = (host: HostSpec, ssh: SshEffective): string | null => {
  if (host.identity_file !== null) return host.identity_file
  if ((process.env["SSH_AUTH_SOCK"] ?? "") !== "") return null
  return ssh.identityFiles.find((f) => fs.existsSync(f)) ?? null
}

const readOrEmpty = (file: string): string => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return ""
  }
}

/** Writes `text` to `file` (0600) unless it holds it already; atomically (a concurrent podman reads a whole file). */
const writeIfChanged = (file: string, text: string) => {
  if (readOrEmpty(file) === text) return
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`
  fs.writeFileSync(tmp, text, { mode: 0o600 })
  fs.renameSync(tmp, file)
}

/**
 * The private HOME podman runs with for `host`: `.ssh/known_hosts` with exactly the host's keys. One
 * directory per known_hosts text, never rewritten with another: two configs may name two machines
 * alike and share the control directory, and a podman reading the other's file would find its host
 * unknown and trust whatever key it is shown.
 */
const podmanHome = (host: HostSpec, ssh: SshEffective, dir: string) =>
  Effect.try({
    try: () => {
      // podman looks up where it dials; OpenSSH's files may know the host under its HostKeyAlias
      const name = knownHostsName(ssh)
      const lookup = ssh.hostKeyAlias ?? name
      const files = ssh.knownHostsFiles
      const keys = mergeHostKeys(files.map((f) => hostKeys(readOrEmpty(f), lookup)))
      if (keys.keys.length === 0) {
        return {
          error: keys.authorities > 0
            ? `${lookup} is known only through a host certificate authority, which podman's SSH client cannot check`
            : `no host key for ${lookup} in ${files.filter((f) => fs.existsSync(f)).join(", ") || "any known_hosts file"}; podman's SSH client would trust any key, so kstlib will not connect (add the key: ssh-keyscan)`
        }
      }
      const text = knownHostsText(name, keys)
      const home = path.join(dir, `podman-${host.name}-${createHash("sha256").update(text).digest("hex").slice(0, 16)}`)
      fs.mkdirSync(path.join(home, ".ssh"), { recursive: true, mode: 0o700 })
      writeIfChanged(path.join(home, ".ssh", "known_hosts"), text)
      return { home }
    },
    catch: (e) => new HostUnreachable({ host: host.name, reason: `cannot prepare podman's known_hosts: ${(e as Error).message}` })
  }).pipe(Effect.flatMap((r) => ("error" in r ? Effect.fail(new HostUnreachable({ host: host.name, reason: r.error })) : Effect.succeed(r.home))))

/** Discovered socket paths, per host (only successes: a service started later is found next time). */
const discovered = new Map<string, string>()

/** The socket: configured, or asked of the host's podman over kstlib's ssh (its key checked by OpenSSH). */
const socketOf = (host: HostSpec) =>
  Effect.gen(function*() {
    if (host.podman_socket !== null) return host.podman_socket
    const key = `${host.name}\u0000${host.user}\u0000${host.hostname}\u0000${host.port}`
    const known = discovered.get(key)
    if (known !== undefined) return known
    const unavailable = (reason: string) => new EngineUnavailable({ host: host.name, runtime: "podman", reason })
    const r = yield* sshRun(host.name, ["podman", "info", "--format", "{{json .Host.RemoteSocket}}"])
    if (r.exitCode === 127) return yield* unavailable("podman is not installed on the host (or not on the SSH login's PATH)")
    const socket = r.exitCode === 0 ? parseRemoteSocket(r.stdout) : null
    if (socket === null) {
      return yield* unavailable(r.exitCode === 0
        ? `podman info on the host reported no usable socket path (absolute, without spaces, ?, # or %): ${sshReason(r.stdout)}`
        : `podman info on the host failed: ${sshReason(r.stderr || r.stdout)}`)
    }
    if (!socket.exists) return yield* unavailable(`no Podman API service on the host (${socket.path} does not exist); ${SERVICE_HINT}`)
    discovered.set(key, socket.path)
    return socket.path
  })

/** What a `podman` call needs to run on the host: global flags before its arguments, and the environment. */
export interface PodmanRemote {
  readonly flags: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly socket: string
}

export const podmanRemote = (hostName: string) =>
  Effect.gen(function*() {
    const host = yield* hostNamed(hostName)
    const dir = yield* controlDir(hostName)
    // where OpenSSH would connect and which keys it would trust, after the user's ssh_config
    const ssh = yield* sshEffective(hostName)
    if (ssh.proxy !== null) {
      return yield* new EngineUnavailable({
        host: hostName,
        runtime: "podman",
        reason: `the host is reached through a proxy (${ssh.proxy}), which podman's SSH client cannot use; reach it directly, or use runtime: docker`
      })
    }
    const home = yield* podmanHome(host, ssh, dir)
    const socket = yield* socketOf(host)
    const identity = identityOf(host, ssh)
    const remote: PodmanRemote = {
      flags: ["--url", podmanUrl(ssh, socket), ...(identity === null ? [] : ["--identity", identity])],
      env: { HOME: home },
      socket
    }
    return remote
  })
