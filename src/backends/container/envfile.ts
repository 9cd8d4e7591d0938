/**
 * The private env file of one container create (Podman, Docker, swarm): env values never go on a
 * command line, where any local user could read them.
 *
 * Its lifetime: removed when its launch ends, even on interrupt; on the ways out that run no
 * finalizer (a second Ctrl-C's exit 130, any `process.exit`), by an `exit` hook. After a SIGKILL
 * nothing of kstlib runs: the directory's name says who made it
 * (`kstlib-env-<pid namespace>-<pid>-<start time>-XXXXXX`), and the next kstlib run removes those
 * whose owner is dead, never a live process's.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { EnvFileFailed } from "../../errors.js"
import { pidNamespace, processStartTime, sameProcessAlive } from "../../system/process-identity.js"

const PREFIX = "kstlib-env-"
/** `kstlib-env-<ns inode>-<pid>-<start>-<mkdtemp's 6 characters>`; start `0`: not known. */
const OWNED = /^kstlib-env-(\d+)-(\d+)-(\d+)-[A-Za-z0-9]{6}$/u

const namespaceId = () => /\[(\d+)\]/u.exec(pidNamespace() ?? "")?.[1] ?? "0"

const rmQuietly = (dir: string) => {
  try {
    fs.rmSync(dir, { recursive: true, force: true })
  } catch {
    // nothing more can be done about it here
  }
}

/** Directories of launches in flight, removed by the exit hook if their launch never ends. */
const live = new Set<string>()
let hooked = false

/** Removes the env files of launches still in flight (the forced exit path; also the `exit` hook). */
export const removeLiveEnvFiles = (): void => {
  for (const dir of live) rmQuietly(dir)
  live.clear()
}

const track = (dir: string) => {
  if (!hooked) {
    process.on("exit", removeLiveEnvFiles)
    hooked = true
  }
  live.add(dir)
}

/**
 * Removes the env directories in `tmp` left by kstlib processes that are dead (killed with SIGKILL:
 * nothing of theirs ran): only this user's, of this pid namespace, whose owner (pid + start time) is
 * gone. Never throws. Returns what it removed.
 */
export const sweepStaleEnvFiles = (tmp: string = os.tmpdir()): ReadonlyArray<string> => {
  const removed: Array<string> = []
  try {
    const ns = namespaceId()
    const uid = process.getuid?.()
    for (const name of fs.readdirSync(tmp)) {
      const m = OWNED.exec(name)
      if (m === null || m[1] !== ns) continue
      const pid = Number(m[2])
      if (pid === process.pid || sameProcessAlive(pid, m[3] === "0" ? null : m[3]!)) continue
      const dir = path.join(tmp, name)
      const st = fs.lstatSync(dir, { throwIfNoEntry: false })
      if (st === undefined || !st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue
      rmQuietly(dir)
      removed.push(dir)
    }
  } catch {
    // an unreadable TMPDIR: nothing to sweep here
  }
  return removed
}

let swept = false

const create = (text: string): { readonly dir: string; readonly file: string } | EnvFileFailed => {
  if (!swept) {
    swept = true
    sweepStaleEnvFiles()
  }
  const tmp = os.tmpdir()
  let dir: string | null = null
  try {
    dir = fs.mkdtempSync(path.join(tmp, `${PREFIX}${namespaceId()}-${process.pid}-${processStartTime(process.pid) ?? "0"}-`))
    track(dir)
    const file = path.join(dir, "env")
    fs.writeFileSync(file, text, { mode: 0o600, flag: "wx" })
    return { dir, file }
  } catch (e) {
    // a full or read-only TMPDIR: no half-written file stays behind
    if (dir !== null) {
      rmQuietly(dir)
      live.delete(dir)
    }
    return new EnvFileFailed({ dir: tmp, reason: ((e as Error).message ?? String(e)).replace(/\s+/gu, " ") })
  }
}

/**
 * A fresh 0700 directory holding the file (0600), removed when `use` ends, even on interrupt.
 * Nothing is created when there is nothing to write. A file system that refuses (full, read-only)
 * is an EnvFileFailed for this launch only.
 */
export const withEnvFile = <A, E, R>(
  text: string,
  use: (file: string | null) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | EnvFileFailed, R> =>
  text === ""
    ? use(null)
    : Effect.acquireUseRelease(
      Effect.suspend(() => {
        const made = create(text)
        return made instanceof EnvFileFailed ? Effect.fail(made) : Effect.succeed(made)
      }),
      ({ file }) => use(file),
      ({ dir }) =>
        Effect.sync(() => {
          rmQuietly(dir)
          live.delete(dir)
        })
    )
