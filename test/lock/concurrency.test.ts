/**
 * The apply lock under real contention: ten processes (test/lock/worker.mjs, importing the BUILT
 * dist/reconcile/lock.js) try to take the same lock at once, 50 rounds, with a stale lock present at the
 * start of every round (a dead holder, a live pid with another start time, an old-format bare pid).
 * Two holders at once are detected two ways: the O_EXCL marker a holder creates (exact), and the hold
 * intervals each process records. Before the compare-and-swap takeover, this saw overlaps in 5 of 30 trials.
 */
import { fork, spawnSync, type ChildProcess } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { encodeHolder, lockPathFor, processStartTime } from "../../src/reconcile/lock.js"

const WORKER = fileURLToPath(new URL("./worker.mjs", import.meta.url))
const BUILT = fileURLToPath(new URL("../../dist/reconcile/lock.js", import.meta.url))
if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run \`npm run build\` first`)

interface Result {
  readonly round: number
  readonly pid: number
  readonly acquired: boolean
  readonly overlap: boolean
  readonly t0: number
  readonly t1: number
  readonly error: string | null
}

const WORKERS = 10
const ROUNDS = 50

let dir: string
let workers: Array<ChildProcess> = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kt-lock-"))
  workers = Array.from({ length: WORKERS }, () => fork(WORKER, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] }))
  await Promise.all(workers.map((w) => new Promise<void>((res) => w.once("message", () => res()))))
})

afterAll(() => {
  for (const w of workers) w.kill("SIGKILL")
  rmSync(dir, { recursive: true, force: true })
})

/** A pid that is certainly dead now: a process that has exited. */
const deadPid = () => spawnSync("true").pid!

describe("apply lock: ten concurrent processes", () => {
  it("never has two holders at once, with a stale lock taken over at each of 50 rounds", async () => {
    const lockFile = lockPathFor({ files: [join(dir, "kstlib.conf.yml")], project: "p" }, { XDG_RUNTIME_DIR: dir })
    const inside = join(dir, "inside")
    mkdirSync(dirname(lockFile), { mode: 0o700 })
    const all: Array<Result> = []
    const stale = (round: number): string => {
      const kind = round % 3
      if (kind === 0) return encodeHolder({ pid: deadPid(), start: "12345", boot: null, pidns: null, nonce: `stale-${round}` })
      // A live pid (this test process) recorded with another start time: a recycled pid, so stale.
      if (kind === 1) return encodeHolder({ pid: process.pid, start: `${Number(processStartTime(process.pid) ?? 7) - 5}`, boot: null, pidns: null, nonce: `reused-${round}` })
      return `${deadPid()}` // the old format: a bare pid
    }
    for (let round = 0; round < ROUNDS; round++) {
      writeFileSync(lockFile, stale(round))
      const results = await Promise.all(workers.map((w) =>
        new Promise<Result>((res) => {
          w.once("message", (r) => res(r as Result))
          w.send({ round, lockFile, inside, holdMs: 15 })
        })
      ))
      all.push(...results)
      // Someone took the stale lock over in every round, and released it.
      expect(results.filter((r) => r.acquired).length, `round ${round}`).toBeGreaterThanOrEqual(1)
      expect(existsSync(lockFile), `round ${round}: lock left behind`).toBe(false)
    }
    const overlaps = all.filter((r) => r.overlap)
    expect(overlaps, "two holders at once (marker)").toEqual([])
    // Everyone who did not get it was told who holds it: no other error.
    expect(all.filter((r) => !r.acquired && r.error !== "ApplyLocked")).toEqual([])
    // The same from the recorded intervals (1 ms of slack for clock reads in different processes).
    for (let round = 0; round < ROUNDS; round++) {
      const held = all.filter((r) => r.round === round && r.acquired).sort((a, b) => a.t0 - b.t0)
      for (let i = 1; i < held.length; i++) expect(held[i]!.t0, `round ${round}: pids ${held[i - 1]!.pid} and ${held[i]!.pid}`).toBeGreaterThan(held[i - 1]!.t1 - 1)
    }
    // Nothing but the (released) lock's directory remains: no temp or takeover files left.
    expect(readdirSync(join(dir, `kstlib-${process.getuid?.() ?? "user"}`))).toEqual([])
  }, 120_000)
})
