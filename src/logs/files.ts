/**
 * Reading, appending, rotating, following and purging a session's log file on
 * this machine. Files are mode 0600 in 0700 directories. A tmux session's file is written by the
 * pane's writer (backends/tmux/log-writer.ts); a container's output is appended here when kstlib
 * removes the container.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Schedule, Stream } from "effect"
import type { LogLine } from "./format.js"
import { containerMarkers, formatLine, parseLines } from "./format.js"
import type { LogTarget } from "./target.js"

/** The file and its rotated copies, oldest first (`NAME.log.3` … `NAME.log.1`, `NAME.log`). */
const generations = (file: string, keep: number): Array<string> => [
  ...Array.from({ length: keep }, (_, i) => `${file}.${keep - i}`),
  file
]

/** Rotated copies beyond `keep` are looked for too (a smaller `log_keep` leaves them): at most this many. */
const MAX_GENERATIONS = 100

const readIfThere = (file: string): string | null => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return null
  }
}

/** The file or a rotated copy of it exists. */
export const logExists = (file: string): boolean => fs.existsSync(file) || fs.existsSync(`${file}.1`)

/** Every line of the file and its rotated copies, oldest first; null: there is no file. */
export const readLog = (file: string): Effect.Effect<Array<LogLine> | null> =>
  Effect.sync(() => {
    const texts = generations(file, MAX_GENERATIONS).map(readIfThere)
    if (texts[texts.length - 1] === null && texts.every((t) => t === null)) return null
    return texts.flatMap((t) => (t === null ? [] : parseLines(t)))
  })

/** Creates the file's directory (0700 for the ones it makes). */
const ensureDir = (file: string) => fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })

/** NAME.log → NAME.log.1 → … → NAME.log.KEEP (the oldest dropped); keep 0: emptied. */
export const rotate = (file: string, keep: number): void => {
  if (keep === 0) {
    fs.truncateSync(file)
    return
  }
  for (let i = keep; i > 1; i--) {
    if (fs.existsSync(`${file}.${i - 1}`)) fs.renameSync(`${file}.${i - 1}`, `${file}.${i}`)
  }
  fs.renameSync(file, `${file}.1`)
}

/** Appends the lines, rotating when the file would grow past `maxSize`. */
export const appendLog = (target: LogTarget & { readonly path: string }, lines: ReadonlyArray<LogLine>): Effect.Effect<void> =>
  Effect.sync(() => {
    ensureDir(target.path)
    let size = fs.statSync(target.path, { throwIfNoEntry: false })?.size ?? 0
    let chunk = ""
    const flush = () => {
      if (chunk !== "") fs.appendFileSync(target.path, chunk, { mode: 0o600 })
      chunk = ""
    }
    for (const line of lines) {
      const text = `${formatLine(line)}\n`
      const bytes = Buffer.byteLength(text)
      if (size > 0 && size + bytes > target.maxSize) {
        flush()
        rotate(target.path, target.keep)
        size = 0
      }
      chunk += text
      size += bytes
    }
    flush()
  })

/** How much of a removed container's (or service's) output is kept: the engine's last lines. */
export const KEPT_LINES = 200_000

/**
 * A container's (or a swarm service's) output as the engine printed it with `--timestamps`,
 * appended between the two marker lines of its removal (format.ts containerMarkers).
 */
export const keepRemovedOutput = (
  target: LogTarget & { readonly path: string },
  c: { readonly name: string; readonly created_at: string | null; readonly exit_code: number | null; readonly restarts?: number | null | undefined },
  engineText: string,
  removed: Date
): Effect.Effect<void> => {
  const { head, tail } = containerMarkers({
    name: c.name,
    id: null,
    created: c.created_at === null ? null : new Date(c.created_at),
    exitCode: c.exit_code,
    restarts: c.restarts ?? null,
    removed
  })
  const lines = engineText.replace(/\r\n/gu, "\n").split("\n").filter((l, i, all) => l !== "" || i < all.length - 1)
  return appendLog(target, [head, ...parseLines(lines.join("\n")), tail])
}

/** Removes the file and every rotated copy; the names of what was removed. */
export const purgeLog = (file: string): Effect.Effect<Array<string>> =>
  Effect.sync(() =>
    generations(file, MAX_GENERATIONS).filter((f) => {
      try {
        fs.unlinkSync(f)
        return true
      } catch {
        return false
      }
    })
  )

/**
 * The file's lines as they are written, from its current end: a rotation (a new file under the
 * name) is followed after the old one is read to its end. Until `until` completes (the session is
 * gone), then the lines written up to then.
 */
export const followLog = <R>(file: string, until: Effect.Effect<void, never, R>, interval = 250): Stream.Stream<LogLine, never, R> =>
  // each run of the stream has a reader (descriptor, offset) of its own
  Stream.suspend(() => {
    let fd: number | null = null
    let ino = -1
    let offset = 0
    let partial = ""
    const open = (fromEnd: boolean) => {
      try {
        fd = fs.openSync(file, "r")
        const st = fs.fstatSync(fd)
        ino = st.ino
        offset = fromEnd ? st.size : 0
      } catch {
        fd = null
      }
    }
    const drain = (): Array<LogLine> => {
      if (fd === null) return []
      const chunks: Array<Buffer> = []
      for (;;) {
        const buf = Buffer.alloc(65536)
        const n = fs.readSync(fd, buf, 0, buf.length, offset)
        if (n <= 0) break
        offset += n
        chunks.push(buf.subarray(0, n))
      }
      const text = partial + Buffer.concat(chunks).toString("utf8")
      const cut = text.lastIndexOf("\n")
      partial = cut === -1 ? text : text.slice(cut + 1)
      return cut === -1 ? [] : parseLines(text.slice(0, cut + 1))
    }
    const poll = (): Array<LogLine> => {
      const out = drain()
      const now = fs.statSync(file, { throwIfNoEntry: false })
      if (fd === null || (now !== undefined && now.ino !== ino)) {
        // rotated (or created): the old file was read to its end, the new one is read from its start
        if (fd !== null) fs.closeSync(fd)
        partial = ""
        open(false)
        out.push(...drain())
      }
      return out
    }
    const ticks = Stream.fromEffectRepeat(Effect.sync(poll)).pipe(
      Stream.schedule(Schedule.spaced(interval)),
      Stream.interruptWhen(until)
    )
    return Stream.concat(Stream.fromEffect(Effect.sync(() => open(true))).pipe(Stream.drain), Stream.concat(ticks, Stream.fromEffect(Effect.sync(poll)))).pipe(
      Stream.flatMap((lines) => Stream.fromIterable(lines)),
      Stream.ensuring(Effect.sync(() => {
        if (fd !== null) fs.closeSync(fd)
        fd = null
      }))
    )
  })
