/**
 * Remote hosts over SSH, end to end through the built CLI, against a real sshd (Debian's
 * openssh-server) started per test on 127.0.0.1 with keys and known_hosts generated for it
 * (test/support/sshd.ts). The "remote" is the test user kstlib-test@127.0.0.1 (shell /bin/sh, a
 * temporary HOME: no rc file of root's runs) with its own TMUX_TMPDIR, so its tmux servers are not
 * the local test's.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import type { AddressInfo } from "node:net"
import { createServer } from "node:net"
import { userInfo } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { recordSkip } from "../support/skips.js"
import type { Sshd } from "../support/sshd.js"
import { freePort, sshdAvailable, startSshd, testUser } from "../support/sshd.js"
import { availableEngines, DOCKERD_SOCKET } from "../support/engines.js"
import type { PodmanService } from "../support/podmanService.js"
import { startPodmanService } from "../support/podmanService.js"
import type { PlanJson, StatusJson } from "./harness.js"
import { eventually, Sandbox, TEST_IMAGE, tmuxEntry } from "./harness.js"

const available = process.getuid?.() === 0 && sshdAvailable()
if (!available) recordSkip(expect.getState().testPath ?? "ssh.test.ts", "needs root and openssh-server (/usr/sbin/sshd): run bash .ci/engines.sh")

const dockerOk = spawnSync("docker", ["info"], { env: { ...process.env, DOCKER_HOST: `unix://${DOCKERD_SOCKET}` }, stdio: "ignore", timeout: 30_000 }).status === 0

let sb: Sandbox
let sshd: Sshd
beforeEach(async () => {
  if (!available) return
  sb = new Sandbox()
  sshd = await startSshd({ dockerHost: `unix://${DOCKERD_SOCKET}` })
})
afterEach(() => {
  if (!available) return
  sb.cleanup()
  sshd.stop()
})

const hostEntry = (port: number) => ({ ssh: `${sshd.user}@127.0.0.1:${port}`, identity_file: sshd.identity, known_hosts: sshd.knownHosts })
const env = () => ({ KSTLIB_SSH_CONTROL_DIR: sshd.controlDir })
const run = (args: ReadonlyArray<string>, extra: Record<string, string> = {}) => sb.kstlib(args, { env: { ...env(), ...extra } })
const remoteHas = (name: string) => sshd.remoteTmuxCmd(["has-session", "-t", `=${name}`]).code === 0

/** `$` is written `$$` in a config file (interpolation). */
const dollars = (s: string) => s.replaceAll("$", "$$$$")
const SECRET = "s3cr3t 'quoted' $(touch /tmp/kt-pwned) `x`;|&"
const REMOTE_PATH = "/kt-path-marker/bin:/usr/local/bin:/usr/bin:/bin"

describe.skipIf(!available)("remote hosts over ssh (tmux)", () => {
  it("applies, observes, logs and stops tmux sessions on a host; the env value is on no command line", async () => {
    const local = sb.name("local")
    const remote = sb.name("remote")
    sb.writeConfig({
      [local]: tmuxEntry("sleep 300"),
      [remote]: {
        backend: "tmux", host: "edge1", shell: true, command: "echo \"KT=$$KT_VAR P=$$PATH\"; exec sleep 300",
        env: { KT_VAR: dollars(SECRET), PATH: REMOTE_PATH }
      }
    }, { hosts: { edge1: hostEntry(sshd.port) } })

    const plan = run(["ops", "plan", "--json"])
    expect(plan.code, plan.stderr).toBe(0)
    const pj = JSON.parse(plan.stdout) as PlanJson
    expect(pj.steps.map((s) => [s.action, s.session])).toEqual([["create", local], ["create", remote]])
    const text = run(["ops", "plan"])
    expect(text.stdout).toContain("on edge1")

    const applied = run(["--log-level", "debug", "ops", "apply"])
    expect(applied.code, applied.stdout + applied.stderr).toBe(0)
    // every call is logged with its argv at debug level: the env value is on none (local or remote)
    expect(applied.stderr).toContain("ssh")
    expect(applied.stderr).not.toContain("s3cr3t")
    expect(applied.stderr).not.toContain("kt-path-marker")
    expect(remoteHas(remote)).toBe(true)
    expect(sb.tmuxHas(remote)).toBe(false)
    expect(sb.tmuxHas(local)).toBe(true)
    expect(remoteHas(local)).toBe(false)
    // a tmux-only host is never asked for containers: docker's ssh transport (its wrapper) was never set up
    expect(existsSync(join(sshd.controlDir, "bin-edge1"))).toBe(false)

    const again = run(["ops", "plan", "--detailed-exitcode"])
    expect(again.code, again.stdout + again.stderr).toBe(0)
    expect(again.stdout).toContain("No changes")

    const list = run(["ops", "list", "--json"])
    expect(list.code, list.stderr).toBe(0)
    const rows = JSON.parse(list.stdout) as Array<StatusJson & { host: string | null }>
    expect(rows.find((r) => r.name === remote)).toMatchObject({ state: "running", host: "edge1", owned: true, in_sync: true })
    expect(rows.find((r) => r.name === local)).toMatchObject({ state: "running", host: null })
    const listText = run(["ops", "list"])
    expect(listText.stdout).toMatch(/NAME\s+HOST\s+BACKEND/u)
    expect(listText.stdout).toMatch(new RegExp(`${remote}\\s+edge1\\s+tmux\\s+running`, "u"))

    const st = run(["ops", "status", remote, "--json"])
    expect(st.code, st.stderr).toBe(0)
    expect(JSON.parse(st.stdout)).toMatchObject({ name: remote, host: "edge1", state: "running" })

    const logs = await eventually(() => {
      const l = run(["ops", "logs", remote, "-n", "5"])
      return l.code === 0 && l.stdout.includes("KT=s3cr3t") ? l : undefined
    })
    expect(logs?.stdout).toContain(`KT=${SECRET}`)
    // the session's own PATH is its pane's PATH on the host too (it travels on ssh's stdin)
    expect(logs?.stdout).toContain(`P=${REMOTE_PATH}`)

    // per-session verbs on a host session: restart, stop, start (each through the config's host)
    const restarted = run(["ops", "restart", remote, "-t", "2"])
    expect(restarted.code, restarted.stdout + restarted.stderr).toBe(0)
    expect(remoteHas(remote)).toBe(true)

    const stopped = run(["ops", "stop", remote, "-t", "2"])
    expect(stopped.code, stopped.stdout + stopped.stderr).toBe(0)
    expect(remoteHas(remote)).toBe(false)
    const started = run(["ops", "start", remote])
    expect(started.code, started.stdout + started.stderr).toBe(0)
    expect(remoteHas(remote)).toBe(true)
    expect(sb.tmuxHas(remote)).toBe(false)
    expect(run(["ops", "stop", remote, "-t", "2"]).code).toBe(0)
    expect(sb.tmuxHas(local)).toBe(true)
  })

  it("a session's log file on the host: logs reads it there, after a crash and a stop (every run), --since and one pane of a windows: session", async () => {
    const remote = sb.name("rlog")
    const panes = sb.name("rwin")
    // each run prints its number of runs so far, then crashes; the pane keeps only the last screen
    sb.writeConfig({
      [remote]: { backend: "tmux", host: "edge1", shell: true, restart: "on-failure", restart_delay: 0.2, max_restarts: 2, command: "echo \"line-$$(date +%N)\"; sleep 1; exit 4" },
      [panes]: { backend: "tmux", host: "edge1", windows: [{ name: "w", panes: [{ command: "echo pane-zero; exec sleep 300", shell: true }, { command: "echo pane-one; exec sleep 300", shell: true }] }] }
    }, { hosts: { edge1: hostEntry(sshd.port) } })
    const applied = run(["ops", "apply", "--settle", "0"])
    expect(applied.code, applied.stdout + applied.stderr).toBe(0)
    const base = join(sshd.remoteHome, ".local", "state", "kstlib", "logs")
    const file = () => join(base, readdirSync(base)[0]!, `${remote}.log`)
    // three runs (max_restarts 2), all in the host's file
    const three = await eventually(() => {
      const l = run(["ops", "logs", remote])
      return l.code === 0 && (l.stdout.match(/\[kstlib\] run \d exited with code 4/gu) ?? []).length === 3 ? l : undefined
    }, 60, 250)
    expect(three?.stdout).toBeDefined()
    expect(existsSync(file())).toBe(true)
    expect((three!.stdout.match(/^line-\d+$/gmu) ?? []).length).toBe(3)
    // stopped (the session is gone from the host): its runs are still read there
    expect(run(["ops", "stop", remote]).code).toBe(0)
    expect(remoteHas(remote)).toBe(false)
    const after = run(["ops", "logs", remote, "-n", "2", "--timestamps"])
    expect(after.code, after.stderr).toBe(0)
    expect(after.stdout.trimEnd().split("\n")).toHaveLength(2)
    expect(after.stdout).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z /mu)
    expect(after.stdout).toContain("[kstlib] run 3 exited with code 4")
    // --since works on a host's file; a time after every line: nothing
    expect(run(["ops", "logs", remote, "--since", "1h"]).stdout).toContain("[kstlib] run 1 started")
    const future = run(["ops", "logs", remote, "--since", new Date(Date.now() + 3_600_000).toISOString()])
    expect(future.code, future.stderr).toBe(0)
    expect(future.stdout.trim()).toBe("")
    // one pane of a windows: session, from its own file on the host
    const one = await eventually(() => {
      const l = run(["ops", "logs", `${panes}:w.1`])
      return l.code === 0 && l.stdout.includes("pane-one") ? l : undefined
    }, 40, 250)
    expect(one?.stdout).not.toContain("pane-zero")
    const both = run(["ops", "logs", panes])
    expect(both.stdout).toMatch(/^w\.0 \| pane-zero$/mu)
    expect(both.stdout).toMatch(/^w\.1 \| pane-one$/mu)
    // down --purge-logs removes them there too (the session's file, each pane's)
    const purged = run(["ops", "down", "--timeout", "1", "--purge-logs"])
    expect(purged.code, purged.stdout + purged.stderr).toBe(0)
    expect(purged.stderr).toMatch(/Removed [3-9] log files\./u)
    expect(readdirSync(join(base, readdirSync(base)[0]!)).filter((f) => f.includes(remote) || f.includes(panes))).toEqual([])
    expect(run(["ops", "logs", remote]).code).not.toBe(0)
  })

  it("logs -f of a session on a host follows its file there: across a restart, only new lines, each once; it ends with Ctrl-C, leaving no tail behind", async () => {
    const t = sb.name("rfol")
    sb.writeConfig({
      [t]: { backend: "tmux", host: "edge1", shell: true, command: "trap 'exit 0' TERM INT; i=0; while :; do i=$$((i+1)); echo \"tick-$$$$-$$i\"; sleep 0.2; done" }
    }, { hosts: { edge1: hostEntry(sshd.port) } })
    expect(run(["ops", "apply"]).code).toBe(0)
    const tailsOnHost = () => spawnSync("pgrep", ["-u", sshd.user, "-f", "tail -n 0 -F"], { encoding: "utf8" }).stdout.trim()
    const before = tailsOnHost()
    const bg = sb.kstlibBackground(["ops", "logs", t, "-f", "-n", "2"], { env: env() })
    const ticks = () => bg.output().split("\n").filter((l) => l.startsWith("tick-"))
    expect(await eventually(() => (ticks().length >= 3 ? true : undefined), 60, 200), bg.output()).toBe(true)
    // it is the host's file that is followed: a `tail -F` runs there
    expect(tailsOnHost()).not.toBe(before)
    expect(run(["ops", "restart", t, "-t", "2"]).code).toBe(0)
    expect(await eventually(() => (new Set(ticks().map((l) => l.split("-")[1])).size >= 2 && ticks().length >= 8 ? true : undefined), 80, 200), bg.output()).toBe(true)
    process.kill(bg.pid, "SIGINT")
    const r = await bg.done
    const all = r.stdout.split("\n").filter((l) => l.startsWith("tick-"))
    expect(new Set(all.map((l) => l.split("-")[1])).size, r.stdout).toBe(2)
    expect(new Set(all).size, r.stdout).toBe(all.length)
    expect(r.stdout).toContain("[kstlib] run 1 started")
    // the remote tail ended with the follow
    expect(await eventually(() => (tailsOnHost() === before ? true : undefined), 40, 250), tailsOnHost()).toBe(true)
    expect(run(["ops", "down", "--timeout", "1", "--purge-logs"]).code).toBe(0)
  })

  it("a session on a host's own socket that left the config is still found there: apply --prune removes it", () => {
    const kept = sb.name("kept")
    const gone = sb.name("gone")
    sb.writeConfig({
      [kept]: tmuxEntry("sleep 300", { host: "edge1" }),
      [gone]: tmuxEntry("sleep 300", { host: "edge1", socket_name: `${sb.prefix}sock` })
    }, { hosts: { edge1: hostEntry(sshd.port) } })
    expect(run(["ops", "apply"]).code).toBe(0)
    expect(sshd.remoteTmuxCmd(["-L", `${sb.prefix}sock`, "has-session", "-t", `=${gone}`]).code).toBe(0)
    // the entry (and so its socket) leaves the config
    sb.writeConfig({ [kept]: tmuxEntry("sleep 300", { host: "edge1" }) }, { hosts: { edge1: hostEntry(sshd.port) } })
    const plan = run(["ops", "plan", "--prune", "--json"])
    expect(plan.code, plan.stdout + plan.stderr).toBe(0)
    expect((JSON.parse(plan.stdout) as PlanJson).steps.map((x) => [x.action, x.session])).toEqual([["prune", gone]])
    const pruned = run(["ops", "apply", "--prune"])
    expect(pruned.code, pruned.stdout + pruned.stderr).toBe(0)
    expect(sshd.remoteTmuxCmd(["-L", `${sb.prefix}sock`, "has-session", "-t", `=${gone}`]).code).not.toBe(0)
    expect(remoteHas(kept)).toBe(true)
  })

  it("a host's socket named like shell code is only ever a quoted word", () => {
    // no slash in a socket name: the code would touch a file in the remote login's directory (or here)
    const marker = `kt-pwned-sock-${process.pid}`
    const hostile = `$(touch\${IFS}${marker})`
    const h = sb.name("h")
    expect(sshd.remoteTmuxCmd(["-L", hostile, "new-session", "-d", "-s", h, "sleep 300"]).code).toBe(0)
    sb.writeConfig({ [sb.name("x")]: tmuxEntry("sleep 300", { host: "edge1" }) }, { hosts: { edge1: hostEntry(sshd.port) } })
    const list = run(["ops", "list", "--all", "--json"])
    expect(list.code, list.stderr).toBe(0)
    for (const dir of [userInfo().homedir, sshd.remoteHome, "/", sb.dir, process.cwd()]) expect(existsSync(join(dir, marker))).toBe(false)
    // the session on it was looked at, by its socket's real name
    const row = (JSON.parse(list.stdout) as Array<{ name: string; socket_name: string | null; host: string | null }>).find((r) => r.name === h)
    expect(row).toMatchObject({ socket_name: hostile, host: "edge1" })
  })

  it("moving a session from this machine to a host is a replace", () => {
    const s = sb.name("mover")
    sb.writeConfig({ [s]: tmuxEntry("sleep 300") }, { hosts: { edge1: hostEntry(sshd.port) } })
    expect(run(["ops", "apply"]).code).toBe(0)
    expect(sb.tmuxHas(s)).toBe(true)
    sb.writeConfig({ [s]: tmuxEntry("sleep 300", { host: "edge1" }) }, { hosts: { edge1: hostEntry(sshd.port) } })
    const plan = run(["ops", "plan", "--json"])
    const pj = JSON.parse(plan.stdout) as PlanJson
    expect(pj.steps.map((x) => x.action)).toEqual(["replace"])
    const applied = run(["--log-level", "debug", "ops", "apply"])
    expect(applied.code, applied.stdout + applied.stderr).toBe(0)
    expect(sb.tmuxHas(s)).toBe(false)
    expect(remoteHas(s)).toBe(true)
  })

  it("a host that refuses connections: HostUnreachable reported once, its sessions unknown, everything else converges", async () => {
    const closed = await freePort()
    const local = sb.name("local")
    const ok = sb.name("ok")
    const lost = sb.name("lost")
    const lost2 = sb.name("lost2")
    sb.writeConfig({
      [local]: tmuxEntry("sleep 300"),
      [ok]: tmuxEntry("sleep 300", { host: "edge1" }),
      [lost]: tmuxEntry("sleep 300", { host: "down" }),
      [lost2]: tmuxEntry("sleep 300", { host: "down", socket_name: "other" })
    }, { hosts: { edge1: hostEntry(sshd.port), down: hostEntry(closed) } })

    const applied = run(["ops", "apply"])
    expect(applied.code).toBe(1)
    const mentions = applied.stderr.split("\n").filter((l) => l.includes("host down unreachable"))
    expect(mentions, applied.stderr).toHaveLength(1)
    expect(mentions[0]).toMatch(/Connection refused/u)
    expect(applied.stdout).toMatch(/could not be read; nothing is planned there/u)
    expect(sb.tmuxHas(local)).toBe(true)
    expect(remoteHas(ok)).toBe(true)

    const list = run(["ops", "list", "--json"])
    const rows = JSON.parse(list.stdout) as Array<StatusJson & { host: string | null }>
    expect(list.stderr.split("\n").filter((l) => l.includes("host down unreachable"))).toHaveLength(1)
    expect(rows.find((r) => r.name === lost), list.stderr).toMatchObject({ state: "unknown", host: "down" })
    expect(rows.find((r) => r.name === ok)).toMatchObject({ state: "running", host: "edge1" })
  })

  it("a host whose login never answers: said to hang (login or remote command), once, within the call timeout; the rest converges", async () => {
    // accepts TCP and says nothing: ssh waits for the server's banner (the kernel completes the
    // handshake even while this process is blocked running kstlib)
    const silent = createServer(() => undefined)
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve))
    const port = (silent.address() as AddressInfo).port
    try {
      const local = sb.name("local")
      const stuck = sb.name("stuck")
      sb.writeConfig({ [local]: tmuxEntry("sleep 300"), [stuck]: tmuxEntry("sleep 300", { host: "slow" }) }, { hosts: { slow: hostEntry(port) } })
      const applied = run(["ops", "apply"], { KSTLIB_CALL_TIMEOUT: "2" })
      expect(applied.code, applied.stdout + applied.stderr).toBe(1)
      const hung = applied.stderr.split("\n").filter((l) => l.includes("ssh to slow:"))
      expect(hung, applied.stderr).toEqual(["warning: ssh: ssh to slow: no answer within 2 s (the login or the remote command hung); set KSTLIB_CALL_TIMEOUT=SECONDS to wait longer"])
      expect(applied.stderr).not.toContain("did not answer within")
      expect(applied.stdout).toMatch(new RegExp(`! ${stuck} .*could not be read; nothing is planned there`, "u"))
      expect(sb.tmuxHas(local)).toBe(true)
    } finally {
      silent.close()
    }
  })

  it("config: unknown host names the host; a bad ssh target and a missing key file are located", () => {
    const s = sb.name("x")
    sb.writeConfig({ [s]: tmuxEntry("sleep 1", { host: "nowhere" }) }, { hosts: { edge1: hostEntry(sshd.port) } })
    const v = run(["ops", "plan"])
    expect(v.stdout + v.stderr).toContain("unknown host 'nowhere' (ops.hosts has: edge1)")

    sb.writeRaw(`ops:\n  hosts:\n    edge1:\n      ssh: "-oProxyCommand=x@h"\n  sessions: {}\n`)
    const bad = run(["ops", "plan"])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/kstlib\.conf\.yml:4: .*ops\.hosts\.edge1\.ssh/u)

    sb.writeRaw(`ops:\n  hosts:\n    edge1:\n      ssh: ${sshd.user}@127.0.0.1\n      identity_file: ./missing_key\n  sessions: {}\n`)
    const missing = run(["ops", "plan"])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/kstlib\.conf\.yml:5: ops\.hosts\.edge1\.identity_file: file not found: .*missing_key/u)
  })
})

describe.skipIf(!available || !dockerOk)("remote hosts over ssh (docker)", () => {
  it("a container session on a host through DOCKER_HOST=ssh://: applied, observed, logged, stopped", async () => {
    // The "remote" docker CLI (run by sshd's session) talks to the shared test dockerd (sshd SetEnv
    // DOCKER_HOST); kstlib's LOCAL docker is pointed at nothing, so that the one daemon is seen
    // only as edge1's (two views of one container would be a stale copy to prune).
    const noLocalDocker = { DOCKER_HOST: `unix://${sshd.dir}/no-docker.sock` }
    const c = sb.name("rc")
    sb.writeConfig({
      [c]: { backend: "container", host: "edge1", image: TEST_IMAGE, shell: true, command: "echo \"KC=$$KC_VAR\"; exec sleep 300", env: { KC_VAR: dollars(SECRET) } }
    }, { hosts: { edge1: hostEntry(sshd.port) } })
    const plan = run(["ops", "plan"], noLocalDocker)
    expect(plan.stdout).toContain(`${c} (container, docker, on edge1): create`)
    const applied = run(["--log-level", "debug", "ops", "apply"], noLocalDocker)
    expect(applied.code, applied.stdout + applied.stderr).toBe(0)
    expect(applied.stderr).not.toContain("s3cr3t")
    expect(sb.containerState("docker", c)).toBe("running")

    const list = run(["ops", "list", "--json"], noLocalDocker)
    const rows = JSON.parse(list.stdout) as Array<StatusJson & { host: string | null }>
    expect(rows.find((r) => r.name === c)).toMatchObject({ state: "running", backend: "container", runtime: "docker", host: "edge1", in_sync: true })

    const again = run(["ops", "plan", "--detailed-exitcode"], noLocalDocker)
    expect(again.code, again.stdout + again.stderr).toBe(0)

    const logs = await eventually(() => {
      const l = run(["ops", "logs", c, "-n", "5"], noLocalDocker)
      return l.code === 0 && l.stdout.includes("KC=") ? l : undefined
    })
    expect(logs?.stdout).toContain(`KC=${SECRET}`)

    const stopped = run(["ops", "stop", c, "-t", "1"], noLocalDocker)
    expect(stopped.code, stopped.stdout + stopped.stderr).toBe(0)
    // ours: stopped and removed
    expect(sb.containerState("docker", c)).toBeNull()
  })
})

describe.skipIf(!available || !dockerOk)("remote hosts over ssh (docker): the project network", () => {
  it("containers on a host join the project's network there and reach each other by session name; down removes it", () => {
    const noLocalDocker = { DOCKER_HOST: `unix://${sshd.dir}/no-docker.sock` }
    const db = sb.name("rdb")
    const api = sb.name("rapi")
    sb.writeConfig({
      [db]: { backend: "container", host: "edge1", image: TEST_IMAGE, command: "sleep 300" },
      [api]: { backend: "container", host: "edge1", image: TEST_IMAGE, command: "sleep 300" }
    }, { hosts: { edge1: hostEntry(sshd.port) } })
    // the plan names the network its launches join
    const plan = JSON.parse(run(["ops", "plan", "--json"], noLocalDocker).stdout) as { networks?: Array<{ name: string }> }
    const net = plan.networks?.find((n) => n.name.startsWith("kstlib-"))
    expect(net, JSON.stringify(plan)).toBeDefined()
    const applied = run(["ops", "apply"], noLocalDocker)
    expect(applied.code, applied.stdout + applied.stderr).toBe(0)
    // the engine on the host (the shared test daemon behind edge1) has it, with kstlib's marks
    const labels = sb.rt("docker", ["network", "inspect", "--format", "{{json .Labels}}", net!.name])
    expect(labels.code, labels.stderr).toBe(0)
    expect(JSON.parse(labels.stdout)).toMatchObject({ "io.kstlib.managed": "true" })
    const lookup = sb.rt("docker", ["exec", api, "nslookup", db])
    expect(lookup.code, lookup.stdout + lookup.stderr).toBe(0)
    expect(lookup.stdout).toMatch(new RegExp(`Name:\\s+${db}`, "u"))
    const down = run(["ops", "down", "--timeout", "1"], noLocalDocker)
    expect(down.code, down.stdout + down.stderr).toBe(0)
    expect(sb.rt("docker", ["network", "inspect", net!.name]).code).not.toBe(0)
  })
})

const podmanOk = available && availableEngines().includes("podman")
if (available && !podmanOk) recordSkip(expect.getState().testPath ?? "ssh.test.ts", "podman on a host: needs podman and the test image (bash .ci/engines.sh)")

describe.skipIf(!podmanOk)("remote hosts over ssh (podman)", () => {
  // The "remote" is a real Podman API service over a private store (never this machine's podman's
  // containers), and a second sshd whose sessions' podman CLI talks to it (CONTAINER_HOST), so that
  // `podman info` on the host reports its socket: kstlib discovers it as `podman system connection add` would.
  let svc: PodmanService
  let pod: Sshd
  beforeEach(async () => {
    svc = await startPodmanService({ user: testUser() })
    pod = await startSshd({ env: { CONTAINER_HOST: `unix://${svc.socket}`, CONTAINERS_CONF: process.env["CONTAINERS_CONF"] ?? "" } })
  })
  afterEach(() => {
    pod?.stop()
    svc?.stop()
  })
  const podEntry = (extra: Record<string, unknown> = {}) => ({
    ssh: `${pod.user}@127.0.0.1:${pod.port}`, identity_file: pod.identity, known_hosts: pod.knownHosts, runtime: "podman", ...extra
  })
  const prun = (args: ReadonlyArray<string>) => sb.kstlib(args, { env: { KSTLIB_SSH_CONTROL_DIR: pod.controlDir } })
  const remoteState = (name: string) => {
    const r = svc.podman(["container", "inspect", "--format", "{{.State.Status}}", name])
    return r.code === 0 ? r.stdout.trim() : null
  }

  it("a podman session on a host through podman --url ssh://: socket discovered, applied, observed, logged, exec'd, stopped", async () => {
    const c = sb.name("pc")
    sb.writeConfig({
      [c]: { backend: "container", host: "edge1", image: TEST_IMAGE, shell: true, command: "echo \"KP=$$KP_VAR\"; exec sleep 300", env: { KP_VAR: dollars(SECRET) } }
    }, { hosts: { edge1: podEntry() } })
    const knownBefore = readFileSync(pod.knownHosts, "utf8")

    const plan = prun(["ops", "plan"])
    expect(plan.code, plan.stdout + plan.stderr).toBe(0)
    expect(plan.stdout).toContain(`${c} (container, podman, on edge1): create`)
    const applied = prun(["--log-level", "debug", "ops", "apply"])
    expect(applied.code, applied.stdout + applied.stderr).toBe(0)
    // the engine's own transport, to the socket the host's podman reported
    expect(applied.stderr).toContain(`podman --url ssh://${pod.user}@127.0.0.1:${pod.port}${svc.socket} --identity ${pod.identity}`)
    expect(applied.stderr).not.toContain("s3cr3t")
    expect(remoteState(c)).toBe("running")
    // on the host only: this machine's podman has no such container
    expect(sb.containerState("podman", c)).toBeNull()

    const list = prun(["ops", "list", "--json"])
    const rows = JSON.parse(list.stdout) as Array<StatusJson & { host: string | null }>
    expect(rows.find((r) => r.name === c)).toMatchObject({ state: "running", backend: "container", runtime: "podman", host: "edge1", owned: true, in_sync: true })
    const again = prun(["ops", "plan", "--detailed-exitcode"])
    expect(again.code, again.stdout + again.stderr).toBe(0)

    const logs = await eventually(() => {
      const l = prun(["ops", "logs", c, "-n", "5"])
      return l.code === 0 && l.stdout.includes("KP=") ? l : undefined
    })
    expect(logs?.stdout).toContain(`KP=${SECRET}`)
    const ex = prun(["ops", "exec", c, "--", "echo", "from-exec"])
    expect(ex.code, ex.stderr).toBe(0)
    expect(ex.stdout.trim()).toBe("from-exec")

    const restarted = prun(["ops", "restart", c, "-t", "1"])
    expect(restarted.code, restarted.stdout + restarted.stderr).toBe(0)
    expect(remoteState(c)).toBe("running")

    const stopped = prun(["ops", "stop", c, "-t", "1"])
    expect(stopped.code, stopped.stdout + stopped.stderr).toBe(0)
    expect(remoteState(c)).toBeNull()
    const started = prun(["ops", "start", c])
    expect(started.code, started.stdout + started.stderr).toBe(0)
    expect(remoteState(c)).toBe("running")
    expect(prun(["ops", "stop", c, "-t", "1"]).code).toBe(0)
    expect(remoteState(c)).toBeNull()
    // podman's SSH client never wrote to the user's known_hosts
    expect(readFileSync(pod.knownHosts, "utf8")).toBe(knownBefore)
  })

  it("an env value the client's environment must carry (a newline) under a name the remote client needs itself (HOME): refused, nothing created", () => {
    // podman on a host runs with kstlib's private HOME (its known_hosts): `-e HOME` gave the
    // container that directory instead of the configured value, and plan called it in sync.
    const c = sb.name("ph")
    sb.writeConfig({
      [c]: { backend: "container", host: "edge1", image: TEST_IMAGE, command: "sleep 300", env: { HOME: "/home/app\nsecond" } }
    }, { hosts: { edge1: podEntry({ podman_socket: svc.socket }) } })
    const applied = prun(["ops", "apply"])
    expect(applied.code, applied.stdout + applied.stderr).toBe(1)
    expect(applied.stdout).toContain("HOME")
    expect(applied.stdout).not.toContain("second")
    expect(remoteState(c)).toBeNull()
  })

  it("no API service on a host: its sessions are unknown, the message says how to start one, local sessions converge", () => {
    const local = sb.name("local")
    const c = sb.name("pc")
    const none = `${pod.dir}/none.sock`
    sb.writeConfig({
      [local]: tmuxEntry("sleep 300"),
      [c]: { backend: "container", host: "edge1", image: TEST_IMAGE, command: "sleep 300" }
    }, { hosts: { edge1: podEntry({ podman_socket: none }) } })
    const applied = prun(["ops", "apply"])
    expect(applied.code, applied.stdout + applied.stderr).toBe(1)
    expect(applied.stderr).toContain(`podman on edge1: no Podman API service answers at ${none} on the host`)
    expect(applied.stderr).toContain("systemctl --user enable --now podman.socket")
    expect(applied.stdout).toMatch(/could not be read; nothing is planned there/u)
    expect(sb.tmuxHas(local)).toBe(true)
    expect(remoteState(c)).toBeNull()
  })
})
