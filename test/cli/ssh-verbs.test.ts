/**
 * Per-session verbs on sessions on a host, through the built CLI, against ONE real sshd per
 * describe (test/support/sshd.ts; each test has its own sandbox and names): what each verb says
 * when the session's host cannot be reached or another place failed, what it names, two projects
 * sharing a host, depends_on across machines, a name both here and on a host.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { recordSkip } from "../support/skips.js"
import type { Sshd } from "../support/sshd.js"
import { freePort, sshdAvailable, startSshd } from "../support/sshd.js"
import { DOCKERD_SOCKET } from "../support/engines.js"
import type { Run, StatusJson } from "./harness.js"
import { Sandbox, TEST_IMAGE, tmuxEntry } from "./harness.js"
import { spawnSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { stringify } from "yaml"

const available = process.getuid?.() === 0 && sshdAvailable()
if (!available) recordSkip(expect.getState().testPath ?? "ssh-verbs.test.ts", "needs root and openssh-server (/usr/sbin/sshd): run bash .ci/engines.sh")
const dockerOk = available &&
  spawnSync("docker", ["info"], { env: { ...process.env, DOCKER_HOST: `unix://${DOCKERD_SOCKET}` }, stdio: "ignore", timeout: 30_000 }).status === 0

type Row = StatusJson & { readonly host: string | null; readonly project: string | null }
const show = (r: Run) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`

let sb: Sandbox
beforeEach(() => {
  if (available) sb = new Sandbox()
})
afterEach(() => {
  if (available) sb.cleanup()
})

describe.skipIf(!available)("per-session verbs on a host (tmux)", () => {
  let sshd: Sshd
  beforeAll(async () => {
    sshd = await startSshd()
  })
  afterAll(() => sshd?.stop())

  const hostEntry = (port = sshd.port) => ({ ssh: `${sshd.user}@127.0.0.1:${port}`, identity_file: sshd.identity, known_hosts: sshd.knownHosts })
  const run = (args: ReadonlyArray<string>, options: { readonly cwd?: string; readonly env?: Record<string, string> } = {}) =>
    sb.kstlib(args, { ...(options.cwd === undefined ? {} : { cwd: options.cwd, config: false }), env: { KSTLIB_SSH_CONTROL_DIR: sshd.controlDir, ...options.env } })
  const remoteHas = (name: string) => sshd.remoteTmuxCmd(["has-session", "-t", `=${name}`]).code === 0

  it("a session on a host that cannot be reached: status says unknown, every verb names the host (never 'not running')", async () => {
    const closed = await freePort()
    const lost = sb.name("lost")
    sb.writeConfig({ [lost]: tmuxEntry("sleep 300", { host: "down" }) }, { hosts: { down: hostEntry(closed) } })

    const st = run(["ops", "status", lost, "--json"])
    expect(st.code, show(st)).toBe(0)
    expect(JSON.parse(st.stdout)).toMatchObject({ name: lost, state: "unknown", host: "down" })
    for (const verb of [["stop", lost], ["logs", lost], ["attach", lost], ["send-keys", lost, "x"], ["start", lost], ["restart", lost]]) {
      const r = run(["ops", ...verb])
      expect(r.code, `${verb[0]}: ${show(r)}`).toBe(1)
      expect(r.stderr, verb[0]).toContain("host down unreachable")
      expect(r.stderr, verb[0]).not.toContain("defined in the config but not running")
      expect(r.stderr, verb[0]).not.toMatch(/kstlib: +exited with/u)
    }
  })

  it("a failing place elsewhere (this machine's docker daemon) changes nothing for a tmux session on a host: stop twice, status, start say where", () => {
    const r1 = sb.name("r1")
    sb.writeConfig({ [r1]: tmuxEntry("sleep 300", { host: "edge1" }) }, { hosts: { edge1: hostEntry() } })
    const noDocker = { DOCKER_HOST: `unix://${sb.dir}/no-docker.sock` }
    const started = run(["ops", "start", r1], { env: noDocker })
    expect(started.code, show(started)).toBe(0)
    // the pid is the host's: the line says where it runs
    expect(started.stdout).toMatch(new RegExp(`Session '${r1}' started \\(tmux backend, socket default, on edge1\\), pid \\d+`, "u"))
    expect(run(["ops", "start", r1], { env: noDocker }).stdout).toContain("already running (tmux backend, socket default, on edge1)")
    expect(run(["ops", "stop", r1, "-t", "1"], { env: noDocker }).code).toBe(0)
    expect(remoteHas(r1)).toBe(false)
    const again = run(["ops", "stop", r1, "-t", "1"], { env: noDocker })
    expect(again.code, show(again)).toBe(0)
    expect(again.stdout).toContain("is not running (nothing to stop)")
    const st = run(["ops", "status", r1, "--json"], { env: noDocker })
    expect(JSON.parse(st.stdout)).toMatchObject({ state: "defined", host: "edge1" })
  })

  it("two projects on one host: list, apply --prune and down each touch only their own; depends_on across machines", () => {
    const dirA = sb.subdir("proja")
    const dirB = sb.subdir("projb")
    const write = (dir: string, sessions: Record<string, unknown>) =>
      writeFileSync(join(dir, "kstlib.conf.yml"), stringify({ ops: { hosts: { edge1: hostEntry() }, sessions } }))
    const [a1, a2, aLocal, b1] = [sb.name("a1"), sb.name("a2"), sb.name("alocal"), sb.name("b1")]
    // a local session that depends on a remote one: started after it, by `start` too
    write(dirA, { [a1]: tmuxEntry("sleep 300", { host: "edge1" }), [a2]: tmuxEntry("sleep 300", { host: "edge1" }), [aLocal]: tmuxEntry("sleep 300", { depends_on: [a1] }) })
    write(dirB, { [b1]: tmuxEntry("sleep 300", { host: "edge1" }) })
    const st = run(["ops", "start", aLocal], { cwd: dirA })
    expect(st.code, show(st)).toBe(0)
    expect(st.stdout).toContain(`Started first (dependencies): ${a1}.`)
    expect(remoteHas(a1) && sb.tmuxHas(aLocal)).toBe(true)
    expect(run(["ops", "apply"], { cwd: dirA }).code).toBe(0)
    expect(run(["ops", "apply"], { cwd: dirB }).code).toBe(0)

    const listA = JSON.parse(run(["ops", "list", "--json"], { cwd: dirA }).stdout) as ReadonlyArray<Row>
    expect(listA.map((r) => r.name).sort()).toEqual([a1, a2, aLocal].sort())
    const all = JSON.parse(run(["ops", "list", "--all", "--json"], { cwd: dirA }).stdout) as ReadonlyArray<Row>
    expect(all.find((r) => r.name === b1)).toMatchObject({ host: "edge1", project: "projb", owned: false })
    // B's session is another project's: status shows it, stop of a name of A's config never reaches it
    expect(run(["ops", "status", b1, "--json"], { cwd: dirA }).stdout).toContain("\"project\": \"projb\"")

    // a2 leaves A's config: pruned on the host; B's session, same host and socket, untouched
    write(dirA, { [a1]: tmuxEntry("sleep 300", { host: "edge1" }), [aLocal]: tmuxEntry("sleep 300", { depends_on: [a1] }) })
    const pruned = run(["ops", "apply", "--prune"], { cwd: dirA })
    expect(pruned.code, show(pruned)).toBe(0)
    expect(pruned.stdout).toContain(`- ${a2} (tmux socket default on edge1): prune, no longer in config`)
    expect(remoteHas(a2)).toBe(false)
    expect(remoteHas(b1)).toBe(true)

    const down = run(["ops", "down"], { cwd: dirA })
    expect(down.code, show(down)).toBe(0)
    expect(remoteHas(a1) || sb.tmuxHas(aLocal)).toBe(false)
    expect(remoteHas(b1)).toBe(true)
    // `down NAME` of the other project's session: not A's (as on this machine), never touched
    const downB = run(["ops", "down", b1], { cwd: dirA })
    expect(downB.code, show(downB)).toBe(2)
    expect(downB.stderr).toContain("is not in the config")
    expect(remoteHas(b1)).toBe(true)
    expect(run(["ops", "down"], { cwd: dirB }).code).toBe(0)
    expect(remoteHas(b1)).toBe(false)
  })

  it("a name both on this machine and on a host: the config's place wins; otherwise ambiguous, and --host picks one", () => {
    const dual = sb.name("dual")
    const adhoc = sb.name("adhoc")
    sb.writeConfig({ [dual]: tmuxEntry("sleep 300", { host: "edge1" }) }, { hosts: { edge1: hostEntry() } })
    expect(run(["ops", "apply"]).code).toBe(0)
    sb.tmux(["new-session", "-d", "-s", dual, "sleep 300"])
    expect(JSON.parse(run(["ops", "status", dual, "--json"]).stdout)).toMatchObject({ host: "edge1", owned: true })

    sb.tmux(["new-session", "-d", "-s", adhoc, "sleep 300"])
    expect(sshd.remoteTmuxCmd(["new-session", "-d", "-s", adhoc, "sleep 300"]).code).toBe(0)
    const amb = run(["ops", "status", adhoc])
    expect(amb.code, show(amb)).toBe(1)
    expect(amb.stderr).toContain(`found in several places: tmux socket default, tmux socket default on edge1`)
    expect(amb.stderr).toContain("--host")
    expect(JSON.parse(run(["ops", "status", adhoc, "--host", "edge1", "--json"]).stdout)).toMatchObject({ host: "edge1" })
    expect(JSON.parse(run(["ops", "status", adhoc, "--host", "local", "--json"]).stdout)).toMatchObject({ host: null })
    const stopped = run(["ops", "stop", adhoc, "--host", "edge1", "-t", "1"])
    expect(stopped.code, show(stopped)).toBe(0)
    expect(sshd.remoteTmuxCmd(["has-session", "-t", `=${adhoc}`]).code).not.toBe(0)
    expect(sb.tmuxHas(adhoc)).toBe(true)
    const unknown = run(["ops", "status", adhoc, "--host", "nowhere"])
    expect(unknown.code, show(unknown)).toBe(2)
    expect(unknown.stderr).toContain("--host: unknown host 'nowhere' (ops.hosts has: edge1; 'local' is this machine)")
  })
})

describe.skipIf(!dockerOk)("per-session verbs on a host (docker), this machine's docker daemon absent", () => {
  let sshd: Sshd
  beforeAll(async () => {
    sshd = await startSshd({ dockerHost: `unix://${DOCKERD_SOCKET}` })
  })
  afterAll(() => sshd?.stop())

  it("stop twice, status and start of a container on a host are not disturbed by the local daemon's absence", () => {
    // the local docker client has no daemon (README: the local machine needs the client only)
    const env = { KSTLIB_SSH_CONTROL_DIR: sshd.controlDir, DOCKER_HOST: `unix://${sshd.dir}/no-docker.sock` }
    mkdirSync(sshd.controlDir, { recursive: true })
    const run = (args: ReadonlyArray<string>) => sb.kstlib(args, { env })
    const c = sb.name("dc")
    sb.writeConfig({ [c]: { backend: "container", host: "edge1", image: TEST_IMAGE, command: "sleep 300" } }, {
      hosts: { edge1: { ssh: `${sshd.user}@127.0.0.1:${sshd.port}`, identity_file: sshd.identity, known_hosts: sshd.knownHosts } }
    })
    const started = run(["ops", "start", c])
    expect(started.code, show(started)).toBe(0)
    expect(started.stdout).toContain(`Session '${c}' started (container backend, docker, on edge1)`)
    expect(sb.containerState("docker", c)).toBe("running")
    expect(run(["ops", "stop", c, "-t", "0"]).code).toBe(0)
    expect(sb.containerState("docker", c)).toBeNull()
    const st = run(["ops", "status", c, "--json"])
    expect(JSON.parse(st.stdout), show(st)).toMatchObject({ state: "defined", host: "edge1" })
    const again = run(["ops", "stop", c])
    expect(again.code, show(again)).toBe(0)
    expect(again.stdout).toContain("is not running (nothing to stop)")
  })
})
