/**
 * The log file's line format, pure: `YYYY-MM-DDTHH:MM:SSZ TEXT` (UTC; a container's lines keep the
 * engine's fraction of a second). Runs are delimited by the supervisor's marker lines
 * (`[kstlib] run N started at …`, `[kstlib] run N exited with code S`) or, for a removed container,
 * by the ones written with its output (containerMarkers).
 */

export interface LogLine {
  /** null: a line without a time (written by something else, or cut by a rotation). */
  readonly time: Date | null
  readonly text: string
}

/** Ours (`Z`), Docker's (`…123456789Z`) and Podman's (`…123456789+00:00`). */
const STAMPED = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})) (.*)$/su

export const parseLine = (line: string): LogLine => {
  const m = STAMPED.exec(line)
  if (m === null) return { time: null, text: line }
  const time = new Date(m[1]!)
  return Number.isNaN(time.getTime()) ? { time: null, text: line } : { time, text: m[2]! }
}

/** A file's text as lines (a last line cut off by a write in progress is kept). */
export const parseLines = (text: string): Array<LogLine> => {
  if (text === "") return []
  const lines = text.split("\n")
  if (lines[lines.length - 1] === "") lines.pop()
  return lines.map(parseLine)
}

/** RFC 3339 UTC, whole seconds: the form the tmux writer stamps with. */
export const stamp = (date: Date): string => `${date.toISOString().slice(0, 19)}Z`

/** RFC 3339 UTC: whole seconds as `…:SSZ`, else with milliseconds. */
const timeText = (t: Date) => t.toISOString().replace(/\.000Z$/u, "Z")

export const formatLine = (line: LogLine): string => `${timeText(line.time ?? new Date())} ${line.text}`

/**
 * The lines `logs` shows: at or after `since` (an undated line follows the one before it), then
 * the last `lines` of those.
 */
export const selectLines = (all: ReadonlyArray<LogLine>, options: { readonly lines: number; readonly since?: Date | undefined }): Array<LogLine> => {
  let picked: Array<LogLine> = [...all]
  if (options.since !== undefined) {
    const since = options.since.getTime()
    // a line stamped in whole seconds is kept when its second contains `since`
    const keep = (t: Date) => t.getTime() >= since - (t.getMilliseconds() === 0 ? 999 : 0)
    let inside = false
    picked = all.filter((l) => (inside = l.time === null ? inside : keep(l.time)))
  }
  return options.lines >= 0 && picked.length > options.lines ? picked.slice(picked.length - options.lines) : picked
}

/** As printed: the text, or (`--timestamps`) the time, a space and the text. */
export const renderLine = (line: LogLine, timestamps: boolean): string =>
  timestamps ? (line.time === null ? line.text : `${timeText(line.time)} ${line.text}`) : line.text

/** The lines written around a removed container's output, so its runs read like a tmux session's. */
export const containerMarkers = (c: {
  readonly name: string
  readonly id: string | null
  readonly created: Date | null
  readonly exitCode: number | null
  readonly restarts: number | null
  readonly removed: Date
}): { readonly head: LogLine; readonly tail: LogLine } => ({
  head: {
    time: c.created ?? c.removed,
    text: `[kstlib] container ${c.name}${c.id === null ? "" : ` (${c.id.slice(0, 12)})`} started at ${stamp(c.created ?? c.removed)}`
  },
  tail: {
    time: c.removed,
    text: `[kstlib] container ${c.name} ${c.exitCode === null ? "removed" : `exited with code ${c.exitCode}`}${c.restarts !== null && c.restarts > 0 ? ` after ${c.restarts} restart${c.restarts === 1 ? "" : "s"}` : ""}; output kept at removal`
  }
})
