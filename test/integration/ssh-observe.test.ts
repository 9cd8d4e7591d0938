/**
 * Observation of several hosts runs concurrently: three hosts (all the test's sshd, under three
 * names) behind an ssh wrapper that takes 1 s per call and logs when each call starts and ends.
 * Sequential would be >= 3 s with no overlap; concurrent is about one call, all three overlapping.
 * A refused host in the same pass is reported once, typed, and does not hide the others.
 */
import { spawnSync } from "node:child_process"
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Layer } from "effect"
import { podmanRemote } from "../../src/transport/podman-remote.js"
import { Backends } from "../../src/backends/registry.js"
import { SshBinary, SshHosts } from "../../src/transport/ssh.js"
import type { HostSpec } from "../../src/model.js"
import { observe, problemText, unreadableOf } from "../../src/reconcile/observe.js"
import { availableEngines } from "../support/engines.js"
import type { PodmanService } from "../support/podmanService.js"
import { startPodmanService } from "../support/podmanService.js"
import { recordSkip } from "../support/skips.js"
import type { Sshd } from "../support/sshd.js"
import { freePort, sshdAvailable, startSshd, testUser } from "../support/sshd.js"

const available = process.getuid?.() === 0 && sshdAvailable()
if (!available) recordSkip(expect.getState().testPath ?? "ssh-observe.test.ts", "needs root and openssh-server (/usr/sbin/sshd)")

let sshd: Sshd
const saved = process.env["KSTLIB_SSH_CONTROL_DIR"]
beforeAll(async () => {
  if (!available) return
  sshd = await startSshd()
  process.env["KSTLIB_SSH_CONTROL_DIR"] = sshd.controlDir
})
afterAll(() => {
  if (!available) return
  if (saved === undefined) delete process.env["KSTLIB_SSH_CONTROL_DIR"]
  else process.env["KSTLIB_SSH_CONTROL_DIR"] = saved
  sshd.stop()
})

const BackendsLive = Backends.layerWith.pipe(Layer.provide(NodeServices.layer))

describe.skipIf(!available)("observe over ssh", () => {
  it("3 hosts are observed concurrently (overlapping ssh calls, about one round trip); a refused 4th is one typed problem", async () => {
    const log = join(sshd.dir, "calls.log")
    const slow = join(sshd.dir, "slow-ssh")
    writeFileSync(slow, `#!/bin/sh\necho "start $(date +%s%N)" >> ${log}\nsleep 1\nssh "$@"\nrc=$?\necho "end $(date +%s%N)" >> ${log}\nexit $rc\n`)
    chmodSync(slow, 0o700)
    const host = (name: string, port: number): HostSpec => ({
      name, user: sshd.user, hostname: "127.0.0.1", port, identity_file: sshd.identity, known_hosts: sshd.knownHosts, runtime: "docker", podman_socket: null, containers: false
    })
    const hosts = [host("a", sshd.port), host("b", sshd.port), host("c", sshd.port)]
    const program = observe({ sockets: [], kinds: ["tmux"] }).pipe(
      Effect.provideService(SshHosts, hosts),
      Effect.provideService(SshBinary, slow),
      Effect.provide(BackendsLive)
    )
    const o = await Effect.runPromise(program)
    expect(o.problems.filter((p) => p.scope.host !== undefined), JSON.stringify(o.problems)).toEqual([])
    const lines = readFileSync(log, "utf8").trim().split("\n").map((l) => l.split(" ") as [string, string])
    const starts = lines.filter(([k]) => k === "start").map(([, t]) => Number(BigInt(t) / 1_000_000n))
    const ends = lines.filter(([k]) => k === "end").map(([, t]) => Number(BigInt(t) / 1_000_000n))
    // per host: list-panes of its default server and the listing of its other sockets, all at once
    expect(starts).toHaveLength(6)
    // every call started before any ended: all three in flight at once
    expect(Math.max(...starts)).toBeLessThan(Math.min(...ends))

    const closed = await freePort()
    const down = await Effect.runPromise(
      observe({ sockets: ["x", "y"], kinds: ["tmux"] }).pipe(
        Effect.provideService(SshHosts, [host("a", sshd.port), host("down", closed)]),
        Effect.provide(BackendsLive)
      )
    )
    expect(down.unreachable?.map((u) => [u._tag, u.host])).toEqual([["HostUnreachable", "down"]])
    expect(down.unreachable?.[0]?.reason).toMatch(/Connection refused/u)
    expect(down.problems.filter((p) => p.scope.host === "down")).toHaveLength(1)
    // its three places (default, x, y) are unknown; host a's are not
    // the whole host is unreadable, as one scope; the others are not
    expect(unreadableOf(down).filter((p) => p.host === "down")).toEqual([{ host: "down" }])
    expect(unreadableOf(down).filter((p) => p.host === "a")).toHaveLength(0)
  })
})

/**
 * Podman's SSH client (Go's) would trust and record any key of a host missing from its known_hosts.
 * kstlib gives it a private known_hosts with exactly the keys OpenSSH accepts for the host, and
 * connects through nothing else: these run the real podman client against the test's sshd and a
 * real Podman API service (private store), container observation only.
 */
const podmanOk = available && availableEngines().includes("podman")
describe.skipIf(!podmanOk)("podman on a host: host keys and the API service", () => {
  let svc: PodmanService
  beforeAll(async () => {
    svc = await startPodmanService({ user: testUser() })
  })
  afterAll(() => svc?.stop())

  const podmanHost = (name: string, over: Partial<HostSpec>): HostSpec => ({
    name, user: sshd.user, hostname: "127.0.0.1", port: sshd.port, identity_file: sshd.identity, known_hosts: sshd.knownHosts,
    runtime: "podman", podman_socket: svc.socket, containers: true, ...over
  })
  const observeContainers = (hosts: ReadonlyArray<HostSpec>) =>
    Effect.runPromise(observe({ sockets: [], kinds: ["container"] }).pipe(Effect.provideService(SshHosts, hosts), Effect.provide(BackendsLive)))
  /** The private known_hosts podman got for the host of that name (its only one, in these tests). */
  const privateKnownHosts = (name: string) => {
    const homes = existsSync(sshd.controlDir) ? readdirSync(sshd.controlDir).filter((d) => d.startsWith(`podman-${name}-`)) : []
    return join(sshd.controlDir, homes[0] ?? `podman-${name}-none`, ".ssh", "known_hosts")
  }
  const hostKeyLine = () => readFileSync(sshd.knownHosts, "utf8").trim()

  it("a host OpenSSH knows: observed through podman --url ssh://, podman given exactly that host's key", async () => {
    const svcName = `kt-pr-${process.pid}`
    expect(svc.podman(["create", "--name", svcName, "--label", "io.kstlib.managed=true", "localhost/kstlib-busybox:latest", "sleep", "1"]).code).toBe(0)
    const o = await observeContainers([podmanHost("good", {})])
    expect(o.problems.filter((p) => p.scope.host !== undefined), JSON.stringify(o.problems)).toEqual([])
    expect(o.answered).toContainEqual({ backend: "container", runtime: "podman", host: "good" })
    const seen = o.sessions.find((x) => x.name === svcName)
    expect(seen).toMatchObject({ backend: "container", runtime: "podman", host: "good", state: "stopped" })
    expect(readFileSync(privateKnownHosts("good"), "utf8")).toBe(`${hostKeyLine()}\n`)
    svc.podman(["rm", "-f", svcName])
  })

  it("the user's ssh_config applies to podman too: an alias with HostName, Port, User and HostKeyAlias", async () => {
    // ssh reads this file through a wrapper (`ssh -F`), as it would read ~/.ssh/config
    const cfg = join(sshd.dir, "ssh_config")
    writeFileSync(cfg, `Host kt-edge-alias\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User ${sshd.user}\n  HostKeyAlias kt-key-alias\n`)
    const wrapper = join(sshd.dir, "ssh-with-config")
    writeFileSync(wrapper, `#!/bin/sh\nexec ssh -F ${cfg} "$@"\n`)
    chmodSync(wrapper, 0o700)
    // the host's key is known under the alias only
    const aliased = join(sshd.dir, "aliased_known_hosts")
    writeFileSync(aliased, `${hostKeyLine().replace(`[127.0.0.1]:${sshd.port}`, "kt-key-alias")}\n`)
    const h = podmanHost("aliased", { user: null, hostname: "kt-edge-alias", port: null, known_hosts: aliased })
    const o = await Effect.runPromise(
      observe({ sockets: [], kinds: ["container"] }).pipe(
        Effect.provideService(SshHosts, [h]),
        Effect.provideService(SshBinary, wrapper),
        Effect.provide(BackendsLive)
      )
    )
    expect(o.problems.filter((p) => p.scope.host !== undefined), JSON.stringify(o.problems)).toEqual([])
    // podman dialled where OpenSSH would, and got the alias's key under that address
    expect(readFileSync(privateKnownHosts("aliased"), "utf8")).toBe(`${hostKeyLine()}\n`)
  })

  it("a host missing from its known_hosts is refused before podman connects, and nothing is recorded", async () => {
    const otherOnly = join(sshd.dir, "other_known_hosts")
    const text = `${hostKeyLine().replace(`[127.0.0.1]:${sshd.port}`, "[127.0.0.1]:1")}\n`
    writeFileSync(otherOnly, text)
    const o = await observeContainers([podmanHost("stranger", { known_hosts: otherOnly })])
    expect(o.unreachable?.map((u) => u.host)).toEqual(["stranger"])
    expect(o.unreachable?.[0]?.reason).toContain(`no host key for [127.0.0.1]:${sshd.port} in ${otherOnly}`)
    // a host that cannot be reached is unknown as a whole
    expect(unreadableOf(o)).toContainEqual({ host: "stranger" })
    expect(readFileSync(otherOnly, "utf8")).toBe(text)
    expect(existsSync(privateKnownHosts("stranger"))).toBe(false)
  })

  it("a host presenting another key than the known one: podman's own check refuses (key mismatch)", async () => {
    const wrong = join(sshd.dir, "wrong_known_hosts")
    const other = readFileSync(`${sshd.identity}.pub`, "utf8").trim().split(/\s+/u).slice(0, 2).join(" ")
    writeFileSync(wrong, `[127.0.0.1]:${sshd.port} ${other}\n`)
    const o = await observeContainers([podmanHost("liar", { known_hosts: wrong })])
    expect(o.unreachable?.map((u) => u.host)).toEqual(["liar"])
    expect(o.unreachable?.[0]?.reason).toMatch(/key mismatch/u)
    expect(readFileSync(wrong, "utf8")).toBe(`[127.0.0.1]:${sshd.port} ${other}\n`)
  })

  it("two configs naming two machines alike (one control directory): podman for one never gets the other's keys", async () => {
    // Config B's "twin" is another machine, known by its own key; config A's "twin" is the test's
    // sshd, known by a key it does not present (a man in the middle, as far as A can tell). Runs
    // of both interleave: B prepares podman's files between A's preparing them and A's podman
    // reading them. With one private HOME per host name, A's podman then found its host unknown,
    // trusted the key it was shown and connected.
    const otherPort = await freePort()
    const bKnown = join(sshd.dir, "twin_b_known_hosts")
    writeFileSync(bKnown, `${hostKeyLine().replace(`[127.0.0.1]:${sshd.port}`, `[127.0.0.1]:${otherPort}`)}\n`)
    const aKnown = join(sshd.dir, "twin_a_known_hosts")
    const other = readFileSync(`${sshd.identity}.pub`, "utf8").trim().split(/\s+/u).slice(0, 2).join(" ")
    writeFileSync(aKnown, `[127.0.0.1]:${sshd.port} ${other}\n`)
    const twinA = podmanHost("twin", { known_hosts: aKnown })
    const twinB = podmanHost("twin", { port: otherPort, known_hosts: bKnown })
    const prepare = (host: HostSpec) =>
      Effect.runPromise(podmanRemote("twin").pipe(Effect.provideService(SshHosts, [host]), Effect.provide(NodeServices.layer)))
    await prepare(twinB)
    const a = await prepare(twinA)
    await prepare(twinB)
    const r = spawnSync("podman", [...a.flags, "ps", "-a", "-q"], { env: { ...process.env, ...a.env }, encoding: "utf8", timeout: 60_000 })
    expect(r.status, r.stdout).not.toBe(0)
    expect(r.stderr).toMatch(/key mismatch/u)
    expect(readFileSync(join(a.env["HOME"]!, ".ssh", "known_hosts"), "utf8")).toBe(readFileSync(aKnown, "utf8"))
  })

  it("no API service at the socket: one problem naming it and how to start one; the host is reachable", async () => {
    const none = join(sshd.dir, "none.sock")
    const o = await observeContainers([podmanHost("nosvc", { podman_socket: none })])
    expect(o.unreachable ?? []).toEqual([])
    const problems = o.problems.filter((p) => p.scope.host === "nosvc")
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatchObject({ scope: { backend: "container", runtime: "podman", host: "nosvc" }, kind: "failed" })
    expect(problemText(problems[0]!)).toMatch(/^podman on nosvc: /u)
    expect(problems[0]?.message).toContain(`no Podman API service answers at ${none} on the host`)
    expect(problems[0]?.message).toContain("systemctl --user enable --now podman.socket")
    expect(unreadableOf(o)).toContainEqual({ backend: "container", runtime: "podman", host: "nosvc" })
  })
})
