/**
 * A real "remote host" for the SSH tests: Debian's sshd on 127.0.0.1 and a free port, with a host
 * key, a client key, authorized_keys and known_hosts generated in a private directory. Its login is
 * the test user `kstlib-test` (created here if absent): a system user whose shell is /bin/sh, so no
 * rc file runs on a login (root's ~/.bashrc may hang: a stale pyenv lock), with a temporary HOME and
 * its own TMUX_TMPDIR (sshd's `SetEnv`: the remote tmux never sees the local test servers), and,
 * when given, a DOCKER_HOST for the remote docker CLI (and any other environment, e.g.
 * CONTAINER_HOST for the remote podman CLI). The test user is in the `docker` group when there is
 * one, so the remote docker CLI can reach the test daemon's socket.
 * `stop()` closes kstlib's multiplexed masters, kills the remote tmux servers and sshd, and removes
 * the directory.
 */
import type { ChildProcess } from "node:child_process"
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer, Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

export const SSHD = "/usr/sbin/sshd"
export const sshdAvailable = () => existsSync(SSHD) && spawnSync("ssh", ["-V"]).status === 0 && spawnSync("ssh-keygen", ["-?"]).error === undefined

export const TEST_USER = "kstlib-test"

export interface TestUser {
  readonly name: string
  readonly uid: number
  readonly gid: number
}

const passwdEntry = (name: string): TestUser | null => {
  const r = spawnSync("getent", ["passwd", name], { encoding: "utf8" })
  const f = r.status === 0 ? r.stdout.trim().split(":") : []
  return f.length >= 7 ? { name, uid: Number(f[2]), gid: Number(f[3]) } : null
}

let ensured: TestUser | undefined

/** sshd without PAM refuses a locked account (`!` in /etc/shadow): useradd's default. */
const locked = (name: string) =>
  readFileSync("/etc/shadow", "utf8").split("\n").some((l) => l.startsWith(`${name}:!`))
const inGroup = (name: string, group: string) => spawnSync("id", ["-nG", name], { encoding: "utf8" }).stdout.split(/\s+/u).includes(group)

/**
 * The ssh tests' login, created if absent (as root, on a fresh CI machine too): a system user with
 * no home directory of its own (each sshd gives it a temporary HOME), /bin/sh, no password but not
 * locked (key logins only), in the `docker` group when there is one. Test files running at once may
 * race on /etc/passwd (useradd/usermod then fail to lock it): retried until it is as needed.
 */
export const testUser = (): TestUser => {
  if (ensured !== undefined) return ensured
  const docker = spawnSync("getent", ["group", "docker"], { stdio: "ignore" }).status === 0
  for (let i = 0; i < 50; i++) {
    const user = passwdEntry(TEST_USER)
    if (user !== null && !locked(TEST_USER) && (!docker || inGroup(TEST_USER, "docker"))) return (ensured = user)
    if (user === null) {
      spawnSync("useradd", ["--system", "-M", "-d", "/nonexistent", "-s", "/bin/sh", "-p", "*", ...(docker ? ["-G", "docker"] : []), TEST_USER], { stdio: "ignore" })
    } else {
      spawnSync("usermod", ["-p", "*", ...(docker ? ["-aG", "docker"] : []), TEST_USER], { stdio: "ignore" })
    }
    if (i > 0) spawnSync("sleep", ["0.1"])
  }
  throw new Error(`cannot create the ssh tests' user ${TEST_USER} (useradd/usermod as root)`)
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address()
      const port = typeof addr === "object" && addr !== null ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = new Socket()
    s.once("connect", () => {
      s.destroy()
      resolve(true)
    })
    s.once("error", () => resolve(false))
    s.connect(port, "127.0.0.1")
  })

export interface Sshd {
  readonly port: number
  /** The login: the test user (`kstlib-test`). */
  readonly user: string
  readonly uid: number
  /** The login's HOME on the "host" (temporary, the test user's). */
  readonly remoteHome: string
  readonly dir: string
  readonly identity: string
  readonly knownHosts: string
  /** The remote side's TMUX_TMPDIR. */
  readonly remoteTmux: string
  /** kstlib's ssh control directory for this test (KSTLIB_SSH_CONTROL_DIR). */
  readonly controlDir: string
  /** Runs tmux "on the host" (its TMUX_TMPDIR, as the test user), for assertions. */
  readonly remoteTmuxCmd: (args: ReadonlyArray<string>) => { readonly code: number; readonly stdout: string }
  readonly stop: () => void
}

export const startSshd = async (options: { readonly dockerHost?: string; readonly env?: Readonly<Record<string, string>> } = {}): Promise<Sshd> => {
  const user = testUser()
  const dir = mkdtempSync(join(tmpdir(), "kt-ssh-"))
  // the login reaches its own directories and authorized_keys in here, and lists nothing
  chmodSync(dir, 0o711)
  const remoteTmux = join(dir, "rtmx")
  const remoteHome = join(dir, "rhome")
  const controlDir = join(dir, "ctl")
  for (const d of [remoteTmux, remoteHome]) {
    mkdirSync(d, { mode: 0o700 })
    chownSync(d, user.uid, user.gid)
  }
  const key = (name: string) => {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `kstlib-test-${name}`, "-f", join(dir, name)])
    return join(dir, name)
  }
  const hostKey = key("host_key")
  const identity = key("id_client")
  const authorized = join(dir, "authorized_keys")
  // read by sshd as the login user
  writeFileSync(authorized, readFileSync(`${identity}.pub`), { mode: 0o644 })
  const port = await freePort()
  const knownHosts = join(dir, "known_hosts")
  const pub = readFileSync(`${hostKey}.pub`, "utf8").trim().split(/\s+/u).slice(0, 2).join(" ")
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${pub}\n`)
  // sshd's privilege separation directory (the package's service would create it)
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 })
  const setEnv = [
    `HOME=${remoteHome}`,
    `TMUX_TMPDIR=${remoteTmux}`,
    ...(options.dockerHost === undefined ? [] : [`DOCKER_HOST=${options.dockerHost}`]),
    ...Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`)
  ]
  const child: ChildProcess = spawn(SSHD, [
    "-D", "-e", "-f", "/dev/null",
    "-o", "ListenAddress=127.0.0.1",
    "-o", `Port=${port}`,
    "-o", `HostKey=${hostKey}`,
    "-o", `AuthorizedKeysFile=${authorized}`,
    "-o", "UsePAM=no",
    "-o", `PidFile=${join(dir, "sshd.pid")}`,
    "-o", "StrictModes=no",
    "-o", "PermitRootLogin=no",
    "-o", `AllowUsers=${user.name}`,
    "-o", "PasswordAuthentication=no",
    "-o", "KbdInteractiveAuthentication=no",
    "-o", "MaxSessions=50",
    "-o", "MaxStartups=50",
    "-o", `SetEnv=${setEnv.join(" ")}`
  ], { stdio: ["ignore", "ignore", "pipe"] })
  let log = ""
  child.stderr?.on("data", (d: Buffer) => (log += d.toString()))
  for (let i = 0; i < 100 && !(await accepts(port)); i++) {
    if (child.exitCode !== null) throw new Error(`sshd exited: ${log}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  // the login works, as the test user, and at once (a failure here is the setup's, said as such)
  const login = spawnSync("ssh", [
    "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "IdentitiesOnly=yes",
    "-i", identity, "-p", String(port), "-l", user.name, "-T", "127.0.0.1", "id -un"
  ], { encoding: "utf8", timeout: 20_000 })
  if (login.status !== 0 || login.stdout.trim() !== user.name) {
    child.kill("SIGTERM")
    throw new Error(`the test sshd does not let ${user.name} log in: ${login.error?.message ?? login.stderr}\nsshd: ${log}`)
  }
  const remoteTmuxCmd = (args: ReadonlyArray<string>) => {
    const r = spawnSync("tmux", [...args], {
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: remoteHome, TMUX_TMPDIR: remoteTmux },
      uid: user.uid,
      gid: user.gid,
      cwd: remoteHome,
      encoding: "utf8"
    })
    return { code: r.status ?? -1, stdout: r.stdout }
  }
  const stop = () => {
    // kstlib's masters (ControlPersist) for this test's control dir
    if (existsSync(controlDir)) {
      for (const s of readdirSync(controlDir).filter((f) => !f.startsWith("bin-"))) {
        spawnSync("ssh", ["-o", `ControlPath=${join(controlDir, s)}`, "-O", "exit", "x"], { stdio: "ignore", timeout: 5000 })
      }
    }
    const sockets = join(remoteTmux, `tmux-${user.uid}`)
    if (existsSync(sockets)) {
      for (const s of readdirSync(sockets)) remoteTmuxCmd(["-L", s, "kill-server"])
    }
    child.kill("SIGTERM")
    rmSync(dir, { recursive: true, force: true })
  }
  return { port, user: user.name, uid: user.uid, remoteHome, dir, identity, knownHosts, remoteTmux, controlDir, remoteTmuxCmd, stop }
}
