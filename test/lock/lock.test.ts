/**
 * The apply lock, one process: typed errors for every file-system refusal (never a throw), where the
 * lock lives, the holder's identity (pid + start time), takeover of stale holders and abandoned
 * takeover guards, --wait-lock. The multi-process race is in concurrency.test.ts.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, chownSync, chmodSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { Cause, Effect, Exit } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { cliMessage } from "../../src/cli/hints.js"
import { encodeHolder, holderAlive, lockDirFor, lockPathFor, processStartTime, readLockHolder, withApplyLock } from "../../src/reconcile/lock.js"

const uid = process.getuid?.() ?? 0
let root: string
const dirs: Array<string> = []
const fresh = () => {
  const d = mkdtempSync(join(root, "t-"))
  dirs.push(d)
  return d
}
/** The lock file of a fake config, in a private runtime dir `d`. */
const lockIn = (d: string) => lockPathFor({ files: [join(d, "kstlib.conf.yml")], project: "p" }, { XDG_RUNTIME_DIR: d })

/** Takes the lock, runs `body` while holding it, returns the exit (failures are values, never throws). */
const withLock = <A>(file: string, body: Effect.Effect<A> = Effect.void as Effect.Effect<A>, wait = false) =>
  Effect.runPromiseExit(Effect.scoped(withApplyLock(file, { wait }).pipe(Effect.andThen(body))))

const failure = (exit: Exit.Exit<unknown, { readonly _tag: string; readonly message: string }>) => {
  if (!Exit.isFailure(exit)) throw new Error("expected a failure")
  const e = Cause.squash(exit.cause) as { readonly _tag: string; readonly message: string }
  return { tag: e._tag, message: e.message, cli: cliMessage(e as typeof e & Record<string, unknown>) }
}

/** A one-line message, not an exception dump. */
const oneLine = (m: string) => {
  expect(m.split("\n")).toHaveLength(1)
  expect(m).not.toMatch(/\s+at\s.*:\d+/u)
}

const children: Array<ChildProcess> = []
const liveChild = () => {
  const c = spawn("sleep", ["60"], { stdio: "ignore" })
  children.push(c)
  return c.pid!
}
const deadPid = () => spawnSync("true").pid!

beforeAll(() => void (root = mkdtempSync(join(tmpdir(), "kt-lockunit-"))))
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL")
})
afterAll(() => {
  for (const d of dirs) spawnSync("umount", [d], { stdio: "ignore" }) // the tmpfs mounts, if any are left
  rmSync(root, { recursive: true, force: true })
})

describe("where the lock lives", () => {
  it("ignores an empty or relative XDG_RUNTIME_DIR (the lock must not land in the current directory)", () => {
    expect(lockDirFor({ XDG_RUNTIME_DIR: "" })).toBe(join(tmpdir(), `kstlib-${uid}`))
    expect(lockDirFor({ XDG_RUNTIME_DIR: "run" })).toBe(join(tmpdir(), `kstlib-${uid}`))
    expect(lockDirFor({ XDG_RUNTIME_DIR: "./" })).toBe(join(tmpdir(), `kstlib-${uid}`))
    expect(lockDirFor({})).toBe(join(tmpdir(), `kstlib-${uid}`))
    expect(lockDirFor({ XDG_RUNTIME_DIR: "/run/user/1000" })).toBe(`/run/user/1000/kstlib-${uid}`)
    expect(dirname(lockPathFor({ files: ["/a/kstlib.conf.yml"], project: "a" }, { XDG_RUNTIME_DIR: "" }))).toBe(join(tmpdir(), `kstlib-${uid}`))
  })

  it("one config is one lock whatever path reaches it (a symlinked directory, a symlink to the file); the project is part of the key", () => {
    const d = fresh()
    mkdirSync(join(d, "real"))
    writeFileSync(join(d, "real", "kstlib.conf.yml"), "ops: {}\n")
    symlinkSync(join(d, "real"), join(d, "via-dir"))
    symlinkSync(join(d, "real", "kstlib.conf.yml"), join(d, "via-file.yml"))
    const env = { XDG_RUNTIME_DIR: d }
    const lock = (file: string, project = "shop") => lockPathFor({ files: [file], project }, env)
    const real = lock(join(d, "real", "kstlib.conf.yml"))
    expect(lock(join(d, "via-dir", "kstlib.conf.yml"))).toBe(real)
    expect(lock(join(d, "via-file.yml"))).toBe(real)
    expect(lock(join(d, "real", ".", "kstlib.conf.yml"))).toBe(real)
    // another project through the same file: its own sessions, its own lock
    expect(lock(join(d, "real", "kstlib.conf.yml"), "other")).not.toBe(real)
  })

  it("creates the lock directory 0700 and makes an existing one of ours private", async () => {
    const d = fresh()
    const file = lockIn(d)
    expect(Exit.isSuccess(await withLock(file))).toBe(true)
    expect(lstatSync(dirname(file)).mode & 0o777).toBe(0o700)
    chmodSync(dirname(file), 0o755)
    expect(Exit.isSuccess(await withLock(file))).toBe(true)
    expect(lstatSync(dirname(file)).mode & 0o777).toBe(0o700)
  })

  it.skipIf(uid !== 0)("refuses a lock directory owned by another user (as root: chown)", async () => {
    const d = fresh()
    const file = lockIn(d)
    mkdirSync(dirname(file), { mode: 0o700 })
    chownSync(dirname(file), 65534, 65534)
    const f = failure(await withLock(file))
    expect(f.tag).toBe("LockFailed")
    expect(f.message).toContain("owned by uid 65534")
    oneLine(f.message)
  })

  it("refuses a lock directory that is a symbolic link", async () => {
    const d = fresh()
    const file = lockIn(d)
    mkdirSync(join(d, "elsewhere"), { mode: 0o700 })
    symlinkSync(join(d, "elsewhere"), dirname(file))
    const f = failure(await withLock(file))
    expect(f.tag).toBe("LockFailed")
    expect(f.message).toContain("symbolic link")
    expect(readdirSync(join(d, "elsewhere"))).toEqual([])
  })
})

describe("file-system errors are LockFailed, one line", () => {
  it("the runtime dir's kstlib-<uid> is a regular file (EEXIST)", async () => {
    const d = fresh()
    const file = lockIn(d)
    writeFileSync(dirname(file), "not a dir")
    const f = failure(await withLock(file))
    expect(f.tag).toBe("LockFailed")
    expect(f.message).toMatch(/EEXIST|not a directory/u)
    oneLine(f.message)
  })

  it("a lock path under a regular file (ENOTDIR)", async () => {
    const d = fresh()
    writeFileSync(join(d, "file"), "x")
    const f = failure(await withLock(join(d, "file", "kstlib-0", "apply-x.lock")))
    expect(f.tag).toBe("LockFailed")
    expect(f.message).toContain("ENOTDIR")
    oneLine(f.message)
  })

  it("a directory the kernel refuses (/proc, /sys: chmod would not stop root)", async () => {
    for (const file of ["/proc/kstlib-nope/kstlib-0/apply-x.lock", "/sys/kstlib-nope/apply-x.lock"]) {
      const f = failure(await withLock(file))
      expect(f.tag).toBe("LockFailed")
      expect(f.message).toContain(file.split("/").slice(0, 3).join("/"))
      oneLine(f.message)
    }
  })

  // Real EROFS and ENOSPC need a tmpfs: only where this process may mount (root in this CI container).
  const canMount = (() => {
    if (uid !== 0) return false
    const d = mkdtempSync(join(tmpdir(), "kt-mnt-"))
    const ok = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", d], { stdio: "ignore" }).status === 0
    if (ok) spawnSync("umount", [d], { stdio: "ignore" })
    rmSync(d, { recursive: true, force: true })
    if (!ok) console.warn("[lock.test] cannot mount a tmpfs here: the EROFS / ENOSPC cases are skipped")
    return ok
  })()

  it.skipIf(!canMount)("a read-only file system (EROFS)", async () => {
    const d = fresh()
    mkdirSync(join(d, `kstlib-${uid}`), { mode: 0o700 }) // exists, so only the lock's own files fail
    expect(spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=64k,uid=0", "tmpfs", d]).status).toBe(0)
    try {
      const f = failure(await withLock(lockIn(d)))
      expect(f.tag).toBe("LockFailed")
      expect(f.message).toMatch(/EROFS/u)
      oneLine(f.message)
    } finally {
      spawnSync("umount", [d])
    }
  })

  it.skipIf(!canMount)("a full file system (ENOSPC)", async () => {
    const d = fresh()
    expect(spawnSync("mount", ["-t", "tmpfs", "-o", "size=8k,nr_inodes=16", "tmpfs", d]).status).toBe(0)
    try {
      mkdirSync(join(d, `kstlib-${uid}`), { mode: 0o700 })
      spawnSync("sh", ["-c", `cat /dev/zero > ${d}/fill`]) // fills the 8 KiB
      const f = failure(await withLock(lockIn(d)))
      expect(f.tag).toBe("LockFailed")
      expect(f.message).toMatch(/ENOSPC/u)
      oneLine(f.message)
      expect(readdirSync(join(d, `kstlib-${uid}`))).toEqual([]) // no half-written temp file left
    } finally {
      spawnSync("umount", [d])
    }
  })
})

describe("holder identity", () => {
  it("writes pid and start time, and removes the lock on release", async () => {
    const file = lockIn(fresh())
    const during = await withLock(file, Effect.sync(() => readLockHolder(file)))
    expect(Exit.isSuccess(during) && during.value).toMatchObject({ pid: process.pid, start: processStartTime(process.pid) })
    expect(existsSync(file)).toBe(false)
  })

  it("a live holder: ApplyLocked naming its pid", async () => {
    const file = lockIn(fresh())
    const pid = liveChild()
    mkdirSync(dirname(file), { mode: 0o700 })
    writeFileSync(file, encodeHolder({ pid, start: processStartTime(pid), boot: null, pidns: null, nonce: "n1" }))
    const f = failure(await withLock(file))
    expect(f.tag).toBe("ApplyLocked")
    expect(f.message).toContain(`(pid ${pid})`)
    // the library names no flag; the CLI's is --wait-lock (`--wait` waits for readiness)
    expect(f.message).not.toContain("--")
    expect(f.cli).toContain("pass --wait-lock")
    expect(readLockHolder(file)?.pid).toBe(pid) // untouched
  })

  it("pid reuse: a live pid with another start time is stale and taken over", async () => {
    const file = lockIn(fresh())
    const pid = liveChild()
    const start = processStartTime(pid)
    expect(start).not.toBeNull()
    mkdirSync(dirname(file), { mode: 0o700 })
    writeFileSync(file, encodeHolder({ pid, start: String(Number(start) - 1), boot: null, pidns: null, nonce: "n2" }))
    const during = await withLock(file, Effect.sync(() => readLockHolder(file)?.pid))
    expect(Exit.isSuccess(during) && during.value).toBe(process.pid)
  })

  it("a holder from another boot is stale; a dead pid is stale; an old bare-pid lock is understood", () => {
    const pid = liveChild()
    expect(holderAlive({ pid, start: processStartTime(pid), boot: "another-boot", pidns: null, nonce: "" })).toBe(false)
    expect(holderAlive({ pid, start: processStartTime(pid), boot: null, pidns: null, nonce: "" })).toBe(true)
    expect(holderAlive({ pid: deadPid(), start: null, boot: null, pidns: null, nonce: "" })).toBe(false)
  })

  it("an old-format lock with a live pid blocks; with a dead pid it is taken over", async () => {
    const file = lockIn(fresh())
    mkdirSync(dirname(file), { mode: 0o700 })
    const pid = liveChild()
    writeFileSync(file, String(pid))
    expect(failure(await withLock(file)).message).toContain(`(pid ${pid})`)
    writeFileSync(file, String(deadPid()))
    expect(Exit.isSuccess(await withLock(file))).toBe(true)
  })

  it("unreadable content: held while young (a writer may be mid-write), taken over once old", async () => {
    const file = lockIn(fresh())
    mkdirSync(dirname(file), { mode: 0o700 })
    writeFileSync(file, "")
    expect(failure(await withLock(file)).tag).toBe("ApplyLocked")
    utimesSync(file, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000))
    expect(Exit.isSuccess(await withLock(file))).toBe(true)
  })
})

describe("takeover guards", () => {
  it("a guard abandoned by a dead taker does not block the takeover forever", async () => {
    const file = lockIn(fresh())
    mkdirSync(dirname(file), { mode: 0o700 })
    const stale = encodeHolder({ pid: deadPid(), start: null, boot: null, pidns: null, nonce: "stale" })
    writeFileSync(file, stale)
    const { createHash } = await import("node:crypto")
    const guard = `${file}.takeover-${createHash("sha256").update(stale).digest("hex").slice(0, 32)}`
    writeFileSync(guard, encodeHolder({ pid: deadPid(), start: null, boot: null, pidns: null, nonce: "taker" }))
    const during = await withLock(file, Effect.sync(() => readLockHolder(file)?.pid))
    expect(Exit.isSuccess(during) && during.value).toBe(process.pid)
    expect(readdirSync(dirname(file))).toEqual([]) // guard, temp file and lock all gone
  })

  it("a guard held by a live taker: ApplyLocked naming the taker", async () => {
    const file = lockIn(fresh())
    mkdirSync(dirname(file), { mode: 0o700 })
    const stale = encodeHolder({ pid: deadPid(), start: null, boot: null, pidns: null, nonce: "stale2" })
    writeFileSync(file, stale)
    const { createHash } = await import("node:crypto")
    const taker = liveChild()
    writeFileSync(`${file}.takeover-${createHash("sha256").update(stale).digest("hex").slice(0, 32)}`, encodeHolder({ pid: taker, start: processStartTime(taker), boot: null, pidns: null, nonce: "t" }))
    expect(failure(await withLock(file)).message).toContain(`(pid ${taker})`)
  })
})

describe("release and --wait-lock", () => {
  it("release leaves a lock that is no longer ours", async () => {
    const file = lockIn(fresh())
    const other = encodeHolder({ pid: liveChild(), start: null, boot: null, pidns: null, nonce: "other" })
    await withLock(file, Effect.sync(() => writeFileSync(file, other)))
    expect(readFileSync(file, "utf8")).toBe(other)
  })

  it("wait: polls until the holder releases, then holds", async () => {
    const file = lockIn(fresh())
    const t0 = Date.now()
    let releasedAt = 0
    const first = withLock(file, Effect.sleep("800 millis").pipe(Effect.andThen(Effect.sync(() => void (releasedAt = Date.now())))))
    await new Promise((r) => setTimeout(r, 100)) // the first one holds by now
    expect(failure(await withLock(file)).tag).toBe("ApplyLocked") // without wait: at once
    const second = await withLock(file, Effect.sync(() => Date.now()), true)
    await first
    expect(Exit.isSuccess(second)).toBe(true)
    expect(Exit.isSuccess(second) && second.value).toBeGreaterThanOrEqual(releasedAt)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(800)
    expect(statSync(dirname(file)).isDirectory()).toBe(true)
    expect(existsSync(file)).toBe(false)
  })
})
