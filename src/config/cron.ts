/**
 * `cron_restart` and `max_memory`: the values `ops watch` enforces, parsed and validated here
 * (pure), so the loader rejects a bad one with file:line and the watcher only reads the result.
 *
 * Cron: five fields, `minute hour day-of-month month day-of-week`, each `*`, a number, a range
 * `a-b`, a step `*\/n` or `a-b/n`, or a comma list of those; months and days may be named (`jan`,
 * `mon`); day-of-week 0 and 7 are Sunday. As in Vixie cron, when both day fields are restricted a
 * day matching either one counts. `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly` (`@annually`)
 * are accepted. Times are this machine's local time, as cron's.
 */

export interface Cron {
  readonly minutes: ReadonlySet<number>
  readonly hours: ReadonlySet<number>
  readonly days: ReadonlySet<number>
  readonly months: ReadonlySet<number>
  /** 0 = Sunday. */
  readonly weekdays: ReadonlySet<number>
  readonly anyDay: boolean
  readonly anyWeekday: boolean
}

const MACROS: Readonly<Record<string, string>> = {
  "@hourly": "0 * * * *",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@weekly": "0 0 * * 0",
  "@monthly": "0 0 1 * *",
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *"
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

interface FieldDef {
  readonly name: string
  readonly min: number
  readonly max: number
  readonly names?: ReadonlyArray<string>
  /** The first name's number (months: 1). */
  readonly base?: number
}

const FIELDS: ReadonlyArray<FieldDef> = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS, base: 1 },
  { name: "day of week", min: 0, max: 7, names: DAYS, base: 0 }
]

const valueOf = (text: string, def: FieldDef): number | null => {
  if (/^\d{1,2}$/u.test(text)) return Number(text)
  const i = def.names?.indexOf(text.toLowerCase()) ?? -1
  return i === -1 ? null : i + (def.base ?? 0)
}

/** One field's values, or why it is not one. */
const parseField = (text: string, def: FieldDef): Set<number> | string => {
  const out = new Set<number>()
  for (const part of text.split(",")) {
    const m = /^(\*|[^-/]+)(?:-([^/]+))?(?:\/(\d{1,2}))?$/u.exec(part)
    if (m === null) return `${def.name} '${part}' is not a value, a range or a step`
    const step = m[3] === undefined ? 1 : Number(m[3])
    if (step < 1) return `${def.name} step must be at least 1`
    let lo: number
    let hi: number
    if (m[1] === "*") {
      if (m[2] !== undefined) return `${def.name} '${part}': a range cannot start with *`
      ;[lo, hi] = [def.min, def.max]
    } else {
      const a = valueOf(m[1]!, def)
      const b = m[2] === undefined ? (m[3] === undefined ? a : def.max) : valueOf(m[2], def)
      if (a === null || b === null) return `${def.name} '${part}' is not a number${def.names === undefined ? "" : " or a name"}`
      ;[lo, hi] = [a, b]
    }
    if (lo < def.min || hi > def.max) return `${def.name} '${part}' is outside ${def.min}-${def.max}`
    if (lo > hi) return `${def.name} '${part}': the range goes backwards`
    for (let v = lo; v <= hi; v += step) out.add(v)
  }
  return out
}

/** The parsed expression, or why it is not one. */
export const parseCron = (expression: string): Cron | string => {
  const text = expression.trim()
  const expanded = MACROS[text.toLowerCase()] ?? text
  if (expanded.startsWith("@")) return `unknown shorthand '${text}' (known: ${Object.keys(MACROS).join(", ")})`
  const parts = expanded.split(/\s+/u)
  if (parts.length !== 5) return `a cron expression has 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`
  const sets: Array<Set<number>> = []
  for (const [i, p] of parts.entries()) {
    const s = parseField(p, FIELDS[i]!)
    if (typeof s === "string") return s
    sets.push(s)
  }
  const weekdays = new Set([...sets[4]!].map((d) => d % 7))
  return {
    minutes: sets[0]!,
    hours: sets[1]!,
    days: sets[2]!,
    months: sets[3]!,
    weekdays,
    anyDay: parts[2] === "*",
    anyWeekday: parts[4] === "*"
  }
}

export const validateCron = (expression: string): string | null => {
  const r = parseCron(expression)
  return typeof r === "string" ? r : null
}

const dayMatches = (c: Cron, d: Date): boolean => {
  const dom = c.days.has(d.getDate())
  const dow = c.weekdays.has(d.getDay())
  if (c.anyDay && c.anyWeekday) return true
  if (c.anyDay) return dow
  if (c.anyWeekday) return dom
  return dom || dow
}

/** The first minute strictly after `after` that the expression matches (null: none within 5 years, e.g. Feb 31). */
export const nextCron = (c: Cron, after: Date): Date | null => {
  const t = new Date(after.getTime())
  t.setSeconds(0, 0)
  t.setMinutes(t.getMinutes() + 1)
  const limit = after.getTime() + 5 * 366 * 24 * 3600 * 1000
  while (t.getTime() <= limit) {
    if (!c.months.has(t.getMonth() + 1)) {
      t.setMonth(t.getMonth() + 1, 1)
      t.setHours(0, 0, 0, 0)
    } else if (!dayMatches(c, t)) {
      t.setDate(t.getDate() + 1)
      t.setHours(0, 0, 0, 0)
    } else if (!c.hours.has(t.getHours())) {
      t.setHours(t.getHours() + 1, 0, 0, 0)
    } else if (!c.minutes.has(t.getMinutes())) {
      t.setMinutes(t.getMinutes() + 1, 0, 0)
    } else return t
  }
  return null
}

const UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3
}

/** The smallest `max_memory` accepted: below it nothing real runs. */
export const MIN_MAX_MEMORY = 1024 * 1024

/** `512M`, `1.5G`, `300MiB`, `1048576` (bytes; units are powers of 1024, as docker's `--memory`) → bytes, or why not. */
export const parseByteSize = (value: string | number): number | string => {
  const m = typeof value === "number" ? [String(value), String(value), ""] : /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/u.exec(value)
  if (m === null) return "a size such as 512M, 1.5G or a number of bytes"
  const unit = UNITS[m[2]!.toLowerCase()]
  if (unit === undefined) return `unknown unit '${m[2]}' (use K, M or G)`
  const bytes = Math.round(Number(m[1]) * unit)
  if (!Number.isFinite(bytes) || bytes < MIN_MAX_MEMORY) return "must be at least 1M"
  if (bytes > 2 ** 50) return "must be at most 1024T"
  return bytes
}
