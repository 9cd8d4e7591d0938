// A real process that competes for the apply lock (test/lock/concurrency.test.ts forks ten of them).
// It imports the BUILT module (dist/reconcile/lock.js, or $LOCK_MODULE). For each {round} message it
// tries once (no --wait) and, while holding, creates <inside> with O_EXCL: if that file already
// exists, another process holds the lock at the same time (an overlap). It reports its hold interval.
import { openSync, closeSync, unlinkSync } from "node:fs"
import { pathToFileURL } from "node:url"
import { Effect } from "effect"

const modulePath = process.env.LOCK_MODULE ?? new URL("../../dist/reconcile/lock.js", import.meta.url).pathname
const { withApplyLock } = await import(pathToFileURL(modulePath).href)
const now = () => performance.timeOrigin + performance.now()

process.on("message", async (m) => {
  if (m === "exit") return process.exit(0)
  const { round, lockFile, inside, holdMs } = m
  const r = { round, pid: process.pid, acquired: false, overlap: false, t0: 0, t1: 0, error: null }
  const hold = Effect.promise(async () => {
    r.acquired = true
    r.t0 = now()
    let mine = false
    try {
      closeSync(openSync(inside, "wx"))
      mine = true
    } catch {
      r.overlap = true
    }
    await new Promise((res) => setTimeout(res, holdMs))
    if (mine) unlinkSync(inside)
    r.t1 = now()
  })
  const exit = await Effect.runPromiseExit(Effect.scoped(Effect.andThen(withApplyLock(lockFile, { wait: false }), hold)))
  if (exit._tag === "Failure") {
    const e = exit.cause.reasons?.[0]?.error ?? exit.cause.failures?.[0]
    r.error = e?._tag ?? String(exit.cause)
  }
  process.send(r)
})
process.send("ready")
