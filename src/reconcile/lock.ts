/**
 * One `apply` (or `down`) at a time per config and project: an exclusive lock file naming its holder. Node's fs is used
 * directly (synchronously: every call is a local, bounded file operation).
 *
 * The lock file holds the holder's identity, one JSON line: pid, process start time (Linux:
 * /proc/PID/stat field 22), boot id, pid namespace and a random nonce. A holder is alive when its
 * pid exists AND (where it can be checked) its start time and boot id are the recorded ones, so a
 * recycled pid never keeps a dead holder's lock. A holder in another pid namespace cannot be
 * checked and counts as alive (waiting is the safe side).
 *
 * Taking the lock:
 *   1. write my identity to a file of my own, `<lock>.<pid>.<nonce>.tmp` (O_EXCL, complete before it
 *      is visible under any shared name);
 *   2. `link(tmp, lock)`: atomic, fails with EEXIST when a lock exists. Success = held.
 *   3. EEXIST: read the lock's content X. Holder alive: ApplyLocked. Holder dead: take over, below.
 *
 * Taking over a stale lock (compare-and-swap on the file's content):
 *   - Every lock content is unique (the nonce), so a content X, once replaced, never comes back.
 *   - The right to replace X is the guard file `<lock>.takeover-<sha256(X)>`, created with
 *     `link(tmp, guard)` (O_EXCL semantics): at most one process holds it at a time.
 *   - Holding the guard, the taker re-reads the lock; only if it is still exactly X does it
 *     `rename(tmp, lock)` (atomic replace); then it removes the guard.
 *   Why no interleaving gives two holders: the lock's name changes only by (a) link() when absent,
 *   which fails if any holder exists; (b) a holder removing its own content on release; (c) a rename
 *   by the guard holder for the content it saw. For (c), the check "lock is still X" and the rename
 *   cannot be separated by another change: (a) needs the name absent (then the check failed), (b)
 *   needs X's holder alive (it is dead, and dead stays dead: pid + start time + boot id never come
 *   back), and another (c) on X needs the same guard. ABA: P1 and P2 both read stale X; P2 wins the
 *   guard, renames, removes the guard; P1 then gets the guard, but re-reads the lock, finds P2's
 *   content (not X: X never recurs), and retries from step 2, where it sees P2 alive.
 *   - A taker that dies holding a guard would block takeover of X forever; its guard is itself a
 *     file naming a dead holder, so it is removed by the same compare-and-swap one level up
 *     (guard `<lock>.takeover-<sha256(guard content)>`), then the takeover of X is retried.
 *
 * Every file-system error is a LockFailed (one line), never a crash. The lock directory,
 * `$XDG_RUNTIME_DIR/kstlib-<uid>` (only an absolute XDG_RUNTIME_DIR counts; else the OS temp dir),
 * is created 0700 and must be a real directory owned by the current user.
 */
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Context, Effect, Schedule } from "effect"
import { ApplyLocked, LockFailed } from "../errors.js"
import { bootId, pidNamespace, processStartTime } from "../system/process-identity.js"

/** The directory every apply lock of this user lives in. */
export const lockDirFor = (env: Readonly<Record<string, string | undefined>>): string => {
  const xdg = env["XDG_RUNTIME_DIR"]
  // Empty or relative: ignored (a relative one would put the lock in whatever directory apply runs from).
  const base = xdg !== undefined && xdg !== "" && path.isAbsolute(xdg) ? xdg : os.tmpdir()
  return path.join(base, `kstlib-${process.getuid?.() ?? "user"}`)
}

/** The lock directory of the context (default: this user's, from the environment); a test gives its own. */
export const LockDirectory = Context.Reference<string>("kstlib/LockDirectory", { defaultValue: () => lockDirFor(process.env) })

/** A path with every symlink resolved; as given (absolute) when it cannot be resolved. */
const realPath = (p: string): string => readOr(() => fs.realpathSync(p), path.resolve(p))

/**
 * The lock of one project converged from one set of config files. Keyed by the files' REAL paths
 * (the same file reached through a symlinked directory is the same lock, so two applies, or an apply
 * and a down, never run at once on it) and by the project (another `--project` on the same file is
 * other sessions, which may converge meanwhile).
 */
export const lockPathFor = (
  of: { readonly files: ReadonlyArray<string>; readonly project: string },
  env: Readonly<Record<string, string | undefined>>
) => lockPathIn(of, lockDirFor(env))

export const lockPathIn = (of: { readonly files: ReadonlyArray<string>; readonly project: string }, dir: string) => {
  const key = createHash("sha256").update([`project:${of.project}`, ...of.files.map(realPath)].join("\n")).digest("hex").slice(0, 16)
  return path.join(dir, `apply-${key}.lock`)
}

/** Who holds (or tries to take) a lock. `null` fields: not known on this platform / old lock format. */
export interface LockHolder {
  readonly pid: number
  /** Process start time, /proc/PID/stat field 22 (clock ticks since boot). */
  readonly start: string | null
  readonly boot: string | null
  /** The pid namespace (`pid:[inode]`): pids of another namespace cannot be checked from here. */
  readonly pidns: string | null
  readonly nonce: string
  /** What holds it when that is not an apply (`watch`: an `ops watch` converging), for the refusal's wording. */
  readonly role?: string
}

const readOr = <A>(f: () => A, fallback: A): A => {
  try {
    return f()
  } catch {
    return fallback
  }
}

export { processStartTime }

const myIdentity = (role: string | undefined): LockHolder => ({
  pid: process.pid,
  start: processStartTime(process.pid),
  boot: bootId(),
  pidns: pidNamespace(),
  nonce: randomBytes(12).toString("hex"),
  ...(role === undefined ? {} : { role })
})

export const encodeHolder = (h: LockHolder): string =>
  `${JSON.stringify({ pid: h.pid, start: h.start, boot: h.boot, pidns: h.pidns, nonce: h.nonce, ...(h.role === undefined ? {} : { role: h.role }) })}\n`

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null)

/** A lock file's content, or null when it names no process (then it is stale). Accepts the old format, a bare pid. */
export const parseHolder = (text: string): LockHolder | null => {
  const t = text.trim()
  if (/^\d+$/u.test(t)) return { pid: Number(t), start: null, boot: null, pidns: null, nonce: "" }
  try {
    const o = JSON.parse(t) as Record<string, unknown>
    if (typeof o["pid"] !== "number" || !Number.isInteger(o["pid"]) || o["pid"] <= 0) return null
    const role = str(o["role"])
    return { pid: o["pid"], start: str(o["start"]), boot: str(o["boot"]), pidns: str(o["pidns"]), nonce: str(o["nonce"]) ?? "", ...(role === null ? {} : { role }) }
  } catch {
    return null
  }
}

/** The current holder of a lock file, or null (no lock, or unreadable content). */
export const readLockHolder = (file: string): LockHolder | null => {
  const text = readOr(() => fs.readFileSync(file, "utf8"), null)
  return text === null ? null : parseHolder(text)
}

/** Is the process this identity names still running (the very same process, not a pid reuse)? */
export const holderAlive = (h: LockHolder): boolean => {
  const ns = pidNamespace()
  if (h.pidns !== null && ns !== null && h.pidns !== ns) return true // cannot check another namespace's pids
  const boot = bootId()
  if (h.boot !== null && boot !== null && h.boot !== boot) return false // from before a reboot
  try {
    process.kill(h.pid, 0)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false
  }
  if (h.start === null) return true // pid only: all that can be checked
  const now = processStartTime(h.pid)
  return now === null || now === h.start // unreadable /proc: trust the pid
}

/** A one-line description of a thrown file-system error. */
const describe = (e: unknown): string => {
  const err = e as NodeJS.ErrnoException
  const text = typeof err?.message === "string" ? err.message : String(e)
  return text.replace(/\s+/gu, " ").trim()
}

class Refused {
  constructor(readonly reason: string) {}
}

const fsCall = <A>(what: string, f: () => A): A => {
  try {
    return f()
  } catch (e) {
    throw new Refused(`${what}: ${describe(e)}`)
  }
}

const code = (e: unknown) => (e as NodeJS.ErrnoException)?.code

/** Content of a file, or null when it does not exist (any other error is a Refused). */
const readIfExists = (file: string): string | null => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch (e) {
    if (code(e) === "ENOENT") return null
    throw new Refused(`cannot read ${file}: ${describe(e)}`)
  }
}

const unlinkQuietly = (file: string) => {
  try {
    fs.unlinkSync(file)
  } catch {
    // already gone, or nothing more can be done about it
  }
}

/**
 * `mkdir -p` with mode 0700, one component at a time. Not `fs.mkdirSync(dir, { recursive: true })`:
 * under /proc (mkdir says ENOENT although the parent exists) Node's loops forever.
 */
const mkdirs = (dir: string) => {
  const missing: Array<string> = []
  let d = path.resolve(dir)
  while (!fs.existsSync(d)) {
    missing.unshift(d)
    const parent = path.dirname(d)
    if (parent === d) break
    d = parent
  }
  for (const m of missing) {
    try {
      fs.mkdirSync(m, { mode: 0o700 })
    } catch (e) {
      if (code(e) !== "EEXIST") throw e // EEXIST: created meanwhile, or a file (then lstat below refuses)
    }
  }
}

/** Creates the lock directory 0700, and refuses one that is not a directory of the current user. */
const ensureDir = (dir: string) => {
  fsCall(`cannot create the lock directory ${dir}`, () => mkdirs(dir))
  const st = fsCall(`cannot inspect the lock directory ${dir}`, () => fs.lstatSync(dir))
  if (st.isSymbolicLink()) throw new Refused(`the lock directory ${dir} is a symbolic link; refusing to use it (remove it)`)
  if (!st.isDirectory()) throw new Refused(`the lock directory ${dir} is not a directory; refusing to use it (remove it)`)
  const uid = process.getuid?.()
  if (uid !== undefined && st.uid !== uid) {
    throw new Refused(`the lock directory ${dir} is owned by uid ${st.uid}, not by the current user (uid ${uid}); refusing to use it`)
  }
  if ((st.mode & 0o077) !== 0) fsCall(`cannot make the lock directory ${dir} private`, () => fs.chmodSync(dir, 0o700))
}

type Outcome = { readonly _tag: "Done" } | { readonly _tag: "Held"; readonly pid: number | null } | { readonly _tag: "Retry" }
const Done: Outcome = { _tag: "Done" }
const Retry: Outcome = { _tag: "Retry" }

/** Crashed takers stacked on one stale lock before giving up: each level needs a process killed at one precise instant. */
const MAX_DEPTH = 8

/**
 * Runs `action` (which replaces or removes `target`) only if `target` still holds `seen`, holding the
 * guard `<lock>.takeover-<sha256(seen)>` meanwhile: the compare-and-swap described at the top.
 */
const replaceStale = (lock: string, tmp: string, target: string, seen: string, action: () => void, depth: number): Outcome => {
  if (depth > MAX_DEPTH) throw new Refused(`too many abandoned takeover files next to ${lock}; remove ${lock}.takeover-* by hand`)
  const guard = `${lock}.takeover-${createHash("sha256").update(seen).digest("hex").slice(0, 32)}`
  try {
    fs.linkSync(tmp, guard)
  } catch (e) {
    if (code(e) !== "EEXIST") throw new Refused(`cannot create ${guard}: ${describe(e)}`)
    const g = readIfExists(guard)
    if (g === null) return Retry // its taker just finished
    const taker = parseHolder(g)
    if (taker !== null && holderAlive(taker)) return { _tag: "Held", pid: taker.pid } // it is taking the lock right now
    // That taker died holding the guard: remove the guard (same compare-and-swap), then start over.
    const r = replaceStale(lock, tmp, guard, g, () => fs.unlinkSync(guard), depth + 1)
    return r._tag === "Held" ? r : Retry
  }
  try {
    if (readIfExists(target) !== seen) return Retry // someone else replaced it first (never X again: the ABA case)
    fsCall(`cannot take over ${target}`, action)
    return Done
  } finally {
    unlinkQuietly(guard)
  }
}

/** How long a lock file with unreadable content may be in the middle of being written. */
const UNREADABLE_GRACE_MS = 5_000

/** Rounds of "the lock changed under me" before giving up (each needs another process to act meanwhile). */
const MAX_ROUNDS = 50

/** One attempt: the content written to the lock when taken, or the holder's pid when held. */
type Attempt = { readonly _tag: "Acquired"; readonly content: string } | { readonly _tag: "Held"; readonly pid: number | null; readonly role?: string }

const tryAcquireSync = (file: string, role: string | undefined): Attempt => {
  ensureDir(path.dirname(file))
  const me = myIdentity(role)
  const content = encodeHolder(me)
  const tmp = `${file}.${me.pid}.${me.nonce}.tmp`
  try {
    fsCall(`cannot write ${tmp}`, () => fs.writeFileSync(tmp, content, { flag: "wx", mode: 0o600 }))
    for (let round = 0; round < MAX_ROUNDS; round++) {
      try {
        fs.linkSync(tmp, file)
        return { _tag: "Acquired", content }
      } catch (e) {
        if (code(e) !== "EEXIST") throw new Refused(`cannot create ${file}: ${describe(e)}`)
      }
      const seen = readIfExists(file)
      if (seen === null) continue // released meanwhile
      const holder = parseHolder(seen)
      if (holder !== null && holderAlive(holder)) return { _tag: "Held", pid: holder.pid, ...(holder.role === undefined ? {} : { role: holder.role }) }
      // Unreadable content (an older kstlib writes the file, then its pid): stale only once it is old.
      if (holder === null && Date.now() - readOr(() => fs.statSync(file).mtimeMs, 0) < UNREADABLE_GRACE_MS) return { _tag: "Held", pid: null }
      const r = replaceStale(file, tmp, file, seen, () => fs.renameSync(tmp, file), 0)
      if (r._tag === "Done") return { _tag: "Acquired", content }
      if (r._tag === "Held") return r
    }
    throw new Refused(`the lock file keeps changing (${MAX_ROUNDS} attempts)`)
  } finally {
    unlinkQuietly(tmp)
  }
}

const tryAcquire = (file: string, role: string | undefined): Effect.Effect<string, ApplyLocked | LockFailed> =>
  Effect.suspend((): Effect.Effect<string, ApplyLocked | LockFailed> => {
    try {
      const r = tryAcquireSync(file, role)
      return r._tag === "Acquired"
        ? Effect.succeed(r.content)
        : Effect.fail(new ApplyLocked({ lockFile: file, pid: r.pid, ...(r.role === undefined ? {} : { role: r.role }) }))
    } catch (e) {
      return Effect.fail(new LockFailed({ lockFile: file, reason: e instanceof Refused ? e.reason : describe(e) }))
    }
  })

/** Removes the lock if it is still ours (a holder is never taken over while alive, so no one else's content can be there). */
const release = (file: string, content: string) =>
  Effect.sync(() => {
    if (readOr(() => fs.readFileSync(file, "utf8"), null) === content) unlinkQuietly(file)
  })

/**
 * Holds the lock for the scope's lifetime. `wait`: poll until free instead of failing at once.
 * Fails with ApplyLocked (a live holder, named by pid) or LockFailed (the file system refused).
 */
export const withApplyLock = (file: string, options: { readonly wait: boolean; readonly role?: string }) =>
  Effect.acquireRelease(
    options.wait
      ? tryAcquire(file, options.role).pipe(Effect.retry({ schedule: Schedule.spaced("200 millis"), while: (e) => e._tag === "ApplyLocked" }))
      : tryAcquire(file, options.role),
    (content) => release(file, content)
  ).pipe(Effect.asVoid)
