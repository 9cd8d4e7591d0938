/**
 * Observation of several hosts runs concurrently: three hosts (all the test's sshd, under three
 * names) behind an ssh wrapper that takes 1 s per call and logs when each call starts and ends.
 * Sequential would be >= 3 s with no overlap; concurrent is about one call, all three overlapping.
 * A refused host in the same pass is reported once, typed, and does not hide the others.
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Layer } from "effect"
import { Backends } from "../../src/backends/registry.js"
import { SshBinary, SshHosts } from "../../src/backends/ssh.js"
import type { HostSpec } from "../../src/model.js"
import { observe } from "../../src/reconcile/observe.js"
import { recordSkip } from "../support/skips.js"
import type { Sshd } from "../support/sshd.js"
import { freePort, sshdAvailable, startSshd } from "../support/sshd.js"

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
      name, user: "root", hostname: "127.0.0.1", port, identity_file: sshd.identity, known_hosts: sshd.knownHosts
    })
    const hosts = [host("a", sshd.port), host("b", sshd.port), host("c", sshd.port)]
    const program = observe({ sockets: [], kinds: ["tmux"] }).pipe(
      Effect.provideService(SshHosts, hosts),
      Effect.provideService(SshBinary, slow),
      Effect.provide(BackendsLive)
    )
    const started = performance.now()
    const o = await Effect.runPromise(program)
    const ms = performance.now() - started
    expect(o.problems.filter((p) => p.host !== undefined), JSON.stringify(o.problems)).toEqual([])
    const lines = readFileSync(log, "utf8").trim().split("\n").map((l) => l.split(" ") as [string, string])
    const starts = lines.filter(([k]) => k === "start").map(([, t]) => Number(BigInt(t) / 1_000_000n))
    const ends = lines.filter(([k]) => k === "end").map(([, t]) => Number(BigInt(t) / 1_000_000n))
    expect(starts).toHaveLength(3)
    // every call started before any ended: all three in flight at once
    expect(Math.max(...starts)).toBeLessThan(Math.min(...ends))
    expect(ms).toBeLessThan(2600)

    const closed = await freePort()
    const down = await Effect.runPromise(
      observe({ sockets: ["x", "y"], kinds: ["tmux"] }).pipe(
        Effect.provideService(SshHosts, [host("a", sshd.port), host("down", closed)]),
        Effect.provide(BackendsLive)
      )
    )
    expect(down.unreachable?.map((u) => [u._tag, u.host])).toEqual([["HostUnreachable", "down"]])
    expect(down.unreachable?.[0]?.reason).toMatch(/Connection refused/u)
    expect(down.problems.filter((p) => p.host === "down")).toHaveLength(1)
    // its three places (default, x, y) are unknown; host a's are not
    expect(down.unreadable.filter((p) => p.host === "down")).toHaveLength(3)
    expect(down.unreadable.filter((p) => p.host === "a")).toHaveLength(0)
  })
})
