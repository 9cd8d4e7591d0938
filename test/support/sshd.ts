/**
 * A real "remote host" for the SSH tests: Debian's sshd on 127.0.0.1 and a free port, with a host
 * key, a client key, authorized_keys and known_hosts generated in a private directory. It is
 * root@127.0.0.1, so its sessions get their own TMUX_TMPDIR (sshd's `SetEnv`: the remote tmux never
 * sees the local test servers) and, when given, a DOCKER_HOST for the remote docker CLI (and any
 * other environment, e.g. CONTAINER_HOST for the remote podman CLI).
 * `stop()` closes kstlib's multiplexed masters, kills the remote tmux servers and sshd, and removes
 * the directory.
 */
import type { ChildProcess } from "node:child_process"
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer, Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

export const SSHD = "/usr/sbin/sshd"
export const sshdAvailable = () => existsSync(SSHD) && spawnSync("ssh", ["-V"]).status === 0 && spawnSync("ssh-keygen", ["-?"]).error === undefined

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
  readonly dir: string
  readonly identity: string
  readonly knownHosts: string
  /** The remote side's TMUX_TMPDIR. */
  readonly remoteTmux: string
  /** kstlib's ssh control directory for this test (KSTLIB_SSH_CONTROL_DIR). */
  readonly controlDir: string
  /** Runs tmux "on the host" (its TMUX_TMPDIR), for assertions. */
  readonly remoteTmuxCmd: (args: ReadonlyArray<string>) => { readonly code: number; readonly stdout: string }
  readonly stop: () => void
}

export const startSshd = async (options: { readonly dockerHost?: string; readonly env?: Readonly<Record<string, string>> } = {}): Promise<Sshd> => {
  const dir = mkdtempSync(join(tmpdir(), "kt-ssh-"))
  chmodSync(dir, 0o700)
  const remoteTmux = join(dir, "rtmx")
  const controlDir = join(dir, "ctl")
  mkdirSync(remoteTmux)
  const key = (name: string) => {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `kstlib-test-${name}`, "-f", join(dir, name)])
    return join(dir, name)
  }
  const hostKey = key("host_key")
  const identity = key("id_client")
  const authorized = join(dir, "authorized_keys")
  writeFileSync(authorized, readFileSync(`${identity}.pub`), { mode: 0o600 })
  const port = await freePort()
  const knownHosts = join(dir, "known_hosts")
  const pub = readFileSync(`${hostKey}.pub`, "utf8").trim().split(/\s+/u).slice(0, 2).join(" ")
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${pub}\n`)
  // sshd's privilege separation directory (the package's service would create it)
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 })
  const setEnv = [
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
    "-o", "PermitRootLogin=prohibit-password",
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
  const remoteTmuxCmd = (args: ReadonlyArray<string>) => {
    const r = spawnSync("tmux", [...args], { env: { ...process.env, TMUX_TMPDIR: remoteTmux, TMUX: "" }, encoding: "utf8" })
    return { code: r.status ?? -1, stdout: r.stdout }
  }
  const stop = () => {
    // kstlib's masters (ControlPersist) for this test's control dir
    if (existsSync(controlDir)) {
      for (const s of readdirSync(controlDir).filter((f) => !f.startsWith("bin-"))) {
        spawnSync("ssh", ["-o", `ControlPath=${join(controlDir, s)}`, "-O", "exit", "x"], { stdio: "ignore", timeout: 5000 })
      }
    }
    const sockets = join(remoteTmux, `tmux-${process.getuid?.() ?? 0}`)
    if (existsSync(sockets)) {
      for (const s of readdirSync(sockets)) remoteTmuxCmd(["-L", s, "kill-server"])
    }
    child.kill("SIGTERM")
    rmSync(dir, { recursive: true, force: true })
  }
  return { port, dir, identity, knownHosts, remoteTmux, controlDir, remoteTmuxCmd, stop }
}
