/**
 * `logs --since`: a duration back from now (`90s`, `10m`, `1h30m`, `1.5h`, `2d`) or a point in time
 * (RFC 3339 / ISO 8601: `2024-05-01`, `2024-05-01T14:30`, `2024-05-01T14:30:00Z`,
 * `2024-05-01T14:30:00.5+02:00`; without a zone it is local time, as Docker reads it), or Unix
 * seconds (`1714566600`). Resolved here, once, to an instant: both engines then get the same value.
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/u
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gu
const UNIX = /^\d{1,12}(?:\.\d{1,9})?$/u
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/iu

export const SINCE_HELP = "a duration back from now (90s, 10m, 1h30m, 2d) or a time (2024-05-01, 2024-05-01T14:30:00Z; local time without a zone; or Unix seconds)"

/** The instant, or why the text is neither a duration nor a time. */
export const parseSince = (text: string, now: Date = new Date()): { readonly since: Date } | { readonly error: string } => {
  const t = text.trim()
  const bad = { error: `'${t}' is not ${SINCE_HELP}` }
  if (t === "") return bad
  if (DURATION.test(t)) {
    let ms = 0
    for (const [, n, unit] of t.matchAll(DURATION_PART)) ms += Number(n) * UNIT_MS[unit!]!
    return { since: new Date(now.getTime() - Math.round(ms)) }
  }
  if (UNIX.test(t)) return { since: new Date(Math.round(Number(t) * 1000)) }
  const m = DATE_TIME.exec(t)
  if (m === null) return bad
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone] = m
  const nums = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number]
  const ms = Number(frac.padEnd(3, "0").slice(0, 3))
  const [Y, M, D, H, MI, S] = nums
  if (M < 1 || M > 12 || D < 1 || H > 23 || MI > 59 || S > 59) return bad
  let date: Date
  if (zone === undefined) {
    date = new Date(Y, M - 1, D, H, MI, S, ms)
    // Date rolls 2024-02-30 over to March: a day the month does not have is an error
    if (date.getFullYear() !== Y || date.getMonth() !== M - 1 || date.getDate() !== D) return bad
  } else {
    const utc = Date.UTC(Y, M - 1, D, H, MI, S, ms)
    const check = new Date(utc)
    if (check.getUTCMonth() !== M - 1 || check.getUTCDate() !== D) return bad
    let offset = 0
    if (zone.toUpperCase() !== "Z") {
      const digits = zone.slice(1).replace(":", "")
      const oh = Number(digits.slice(0, 2))
      const om = Number(digits.slice(2))
      if (oh > 23 || om > 59) return bad
      offset = (zone[0] === "-" ? -1 : 1) * (oh * 60 + om) * 60_000
    }
    date = new Date(utc - offset)
  }
  return Number.isNaN(date.getTime()) ? bad : { since: date }
}
