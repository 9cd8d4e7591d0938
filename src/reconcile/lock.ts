/**
 * One `apply` at a time per config: an exclusive lock file holding the owner's pid. A lock whose owner
 * is dead is taken over. Node's fs is used directly: O_EXCL creation is the whole mechanism.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Schedule } from "effect"
import { ApplyLocked } from "../errors.js"

export const lockPathFor = (configFiles: ReadonlyArray<string>, cwd: string, env: Readonly<Record<string, string | undefined>>) => {
  const key = createHash("sha256").update(configFiles.length > 0 ? configFiles.join("\n") : `cwd:${cwd}`).digest("hex").slice(0, 16)
  const dir = path.join(env["XDG_RUNTIME_DIR"] ?? os.tmpdir(), `kstlib-${process.getuid?.() ?? "user"}`)
  return path.join(dir, `apply-${key}.lock`)
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

const tryAcquire = (file: string): Effect.Effect<void, ApplyLocked> =>
  Effect.suspend(() => {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" })
      return Effect.void
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
    }
    const pid = Number.parseInt(fs.readFileSync(file, "utf8"), 10)
    if (!Number.isInteger(pid) || !alive(pid)) {
      fs.rmSync(file, { force: true })
      return tryAcquire(file)
    }
    return Effect.fail(new ApplyLocked({ lockFile: file, pid }))
  })

/** Holds the lock for the scope's lifetime. `wait`: poll until free instead of failing at once. */
export const withApplyLock = (file: string, options: { readonly wait: boolean }) =>
  Effect.acquireRelease(
    options.wait
      ? tryAcquire(file).pipe(Effect.retry({ schedule: Schedule.spaced("200 millis"), while: (e) => e._tag === "ApplyLocked" }))
      : tryAcquire(file),
    () =>
      Effect.sync(() => {
        try {
          if (fs.readFileSync(file, "utf8") === String(process.pid)) fs.rmSync(file, { force: true })
        } catch {
          // already gone
        }
      })
  )
