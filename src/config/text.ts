/**
 * Text-level helpers of the loader: strict UTF-8 decoding, dotenv files and compose-style
 * `${VAR}` interpolation. Pure functions; none of them ever puts a variable's value in a message.
 */
import { ENV_KEY_PATTERN, MAX_ENV_KEY_LENGTH } from "./rules.js"

/** Decoded text, or why the bytes are not UTF-8 (with the 1-based line of the first bad byte). */
export type Decoded = { readonly text: string } | { readonly line: number | null; readonly reason: string }

const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false })

/** Index of the first byte that is not part of a well-formed UTF-8 sequence. */
const firstInvalidUtf8 = (b: Uint8Array): number => {
  let i = 0
  while (i < b.length) {
    const c = b[i]!
    const n = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1
    if (n < 0) return i
    if (n > 0) {
      // second-byte ranges exclude overlongs, surrogates and > U+10FFFF
      const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80
      const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf
      const b1 = b[i + 1]
      if (b1 === undefined || b1 < lo || b1 > hi) return i
      for (let k = 2; k <= n; k++) {
        const bk = b[i + k]
        if (bk === undefined || bk < 0x80 || bk > 0xbf) return i
      }
    }
    i += n + 1
  }
  return -1
}

/** UTF-16 saved by an editor: a BOM, or NUL bytes in every other position of the first bytes. */
const looksUtf16 = (b: Uint8Array): boolean => {
  if (b.length >= 2 && ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff))) return true
  const n = Math.min(b.length, 64) & ~1
  if (n < 4) return false
  let even = 0
  let odd = 0
  for (let i = 0; i < n; i += 2) {
    if (b[i] === 0) even++
    if (b[i + 1] === 0) odd++
  }
  return even === n / 2 || odd === n / 2
}

/** Strict UTF-8 (a leading BOM is dropped): never a silent U+FFFD. */
export const decodeUtf8 = (bytes: Uint8Array): Decoded => {
  if (looksUtf16(bytes)) return { line: null, reason: "the file is UTF-16: save the file as UTF-8" }
  try {
    return { text: fatal.decode(bytes) }
  } catch {
    const at = firstInvalidUtf8(bytes)
    let line = 1
    for (let i = 0; i < at; i++) if (bytes[i] === 0x0a) line++
    return { line: at < 0 ? null : line, reason: "invalid UTF-8 (save the file as UTF-8)" }
  }
}

// Dotenv

export interface DotenvEntry {
  readonly key: string
  readonly value: string
  /** 1-based line where the entry starts. */
  readonly line: number
}
export interface DotenvProblem {
  readonly line: number
  readonly reason: string
}

const DOUBLE_QUOTE_ESCAPES: Readonly<Record<string, string>> = { n: "\n", r: "\r", t: "\t", "\\": "\\", "\"": "\"", $: "$" }

/**
 * `KEY=VALUE` lines as dotenv / docker compose read them: blank lines and `#` comments skipped,
 * an optional `export ` prefix, unquoted values trimmed with a ` #` comment cut off, single quotes
 * literal, double quotes with `\n \r \t \\ \"` escapes; quoted values may span lines. Problems
 * name the line and a well-formed key, never the value nor a malformed line's text.
 */
export const parseDotenv = (text: string): { readonly entries: ReadonlyArray<DotenvEntry>; readonly problems: ReadonlyArray<DotenvProblem> } => {
  const entries: Array<DotenvEntry> = []
  const problems: Array<DotenvProblem> = []
  const lines = text.split(/\r?\n/u)
  let i = 0
  while (i < lines.length) {
    const lineNo = i + 1
    const raw = lines[i]!
    i++
    const trimmed = raw.trim()
    if (trimmed === "" || trimmed.startsWith("#")) continue
    const body = trimmed.replace(/^export\s+/u, "")
    const eq = body.indexOf("=")
    if (eq < 0) {
      problems.push({ line: lineNo, reason: "expected KEY=VALUE" })
      continue
    }
    const key = body.slice(0, eq).trim()
    // a malformed line may be a pasted secret (`hunter2 topsecret=1`): only its line and the rule are named
    const keyProblem = !ENV_KEY_PATTERN.test(key)
      ? "invalid env key (letters, digits and _, not starting with a digit; the line is not shown)"
      : key.length > MAX_ENV_KEY_LENGTH
      ? `env key too long (max ${MAX_ENV_KEY_LENGTH} chars)`
      : null
    const problem = (reason: string) => problems.push({ line: lineNo, reason: keyProblem ?? reason })
    let rest = body.slice(eq + 1).replace(/^[ \t]+/u, "")
    const quote = rest[0]
    if (quote === "'" || quote === "\"") {
      // the value may continue on the next lines until its closing quote
      let value = ""
      let pos = 1
      let closed = false
      for (;;) {
        while (pos < rest.length) {
          const ch = rest[pos]!
          if (quote === "\"" && ch === "\\" && pos + 1 < rest.length) {
            const next = rest[pos + 1]!
            value += DOUBLE_QUOTE_ESCAPES[next] ?? `\\${next}`
            pos += 2
            continue
          }
          if (ch === quote) {
            closed = true
            break
          }
          value += ch
          pos++
        }
        if (closed || i >= lines.length) break
        value += "\n"
        rest = lines[i]!
        pos = 0
        i++
      }
      if (!closed) {
        problem(`unterminated ${quote === "'" ? "single" : "double"}-quoted value for key ${key}`)
        continue
      }
      const after = rest.slice(pos + 1).trim()
      if (keyProblem !== null || (after !== "" && !after.startsWith("#"))) {
        problem(`unexpected text after the closing quote for key ${key}`)
        continue
      }
      entries.push({ key, value, line: lineNo })
      continue
    }
    if (keyProblem !== null) {
      problem(keyProblem)
      continue
    }
    // unquoted: a `#` after whitespace starts a comment
    const comment = rest.search(/\s#/u)
    entries.push({ key, value: (comment < 0 ? rest : rest.slice(0, comment)).trim(), line: lineNo })
  }
  return { entries, problems }
}

// Interpolation

/** Result of interpolating one string: the value, the variables used, or the first problem. */
export type Interpolated =
  | { readonly _tag: "Ok"; readonly value: string; readonly used: ReadonlyArray<string> }
  | { readonly _tag: "Error"; readonly reason: string; readonly unset?: string }

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/u

class InterpolationError {
  /** `unset`: the variable that is not set, when that is the problem. */
  constructor(readonly reason: string, readonly unset?: string) {}
}

/**
 * docker compose's rules: `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}`
 * (unset), `${VAR:?message}` / `${VAR?message}` (required), `${VAR:+alt}` / `${VAR+alt}`, `$$` for
 * a literal `$`; defaults may nest. Any other `$` is an error (compose: "invalid interpolation
 * format"). An unset variable without default is an error naming the variable, never a value.
 */
export const interpolate = (input: string, lookup: (name: string) => string | undefined): Interpolated => {
  if (!input.includes("$")) return { _tag: "Ok", value: input, used: [] }
  const used = new Set<string>()
  const get = (name: string) => {
    used.add(name)
    return lookup(name)
  }
  /** Index of the `}` closing a `${` whose body starts at `from` (nested `${…}` skipped), or -1. */
  const closing = (s: string, from: number): number => {
    let depth = 0
    for (let k = from; k < s.length; k++) {
      if (s[k] === "$" && (s[k + 1] === "$" || s[k + 1] === "{")) {
        if (s[k + 1] === "{") depth++
        k++
      } else if (s[k] === "}") {
        if (depth === 0) return k
        depth--
      }
    }
    return -1
  }
  const expand = (s: string): string => {
    let out = ""
    let i = 0
    while (i < s.length) {
      const ch = s[i]!
      if (ch !== "$") {
        out += ch
        i++
        continue
      }
      const next = s[i + 1]
      if (next === "$") {
        out += "$"
        i += 2
        continue
      }
      if (next === "{") {
        const m = NAME.exec(s.slice(i + 2))
        if (m === null) throw new InterpolationError("invalid interpolation format: '${' must be followed by a variable name (write $$ for a literal $)")
        const name = m[0]
        let j = i + 2 + name.length
        const two = s.slice(j, j + 2)
        const op = two === ":-" || two === ":?" || two === ":+" ? two : s[j] === "-" || s[j] === "?" || s[j] === "+" ? s[j]! : ""
        j += op.length
        const end = closing(s, j)
        if (end < 0 || (op === "" && end !== j)) throw new InterpolationError(`invalid interpolation format for variable ${name}: missing '}'`)
        // the default / alternative is expanded only when it is used (compose does the same)
        const word = () => expand(s.slice(j, end))
        const value = get(name)
        const set = value !== undefined
        const nonEmpty = set && value !== ""
        switch (op) {
          case "":
            if (!set) throw new InterpolationError(`variable ${name} is not set (give a default with \${${name}:-default})`, name)
            out += value
            break
          case ":-":
            out += nonEmpty ? value : word()
            break
          case "-":
            out += set ? value : word()
            break
          case ":?":
          case "?":
            if (op === ":?" ? !nonEmpty : !set) {
              // the message as written (not expanded: expanding could print another variable's value)
              const message = s.slice(j, end)
              throw new InterpolationError(`required variable ${name} is ${set ? "empty" : "not set"}${message === "" ? "" : `: ${message}`}`)
            }
            out += value
            break
          case ":+":
            out += nonEmpty ? word() : ""
            break
          case "+":
            out += set ? word() : ""
            break
        }
        i = end + 1
        continue
      }
      const m = NAME.exec(s.slice(i + 1))
      if (m === null) throw new InterpolationError("invalid interpolation format: '$' must be followed by a variable name or '{' (write $$ for a literal $)")
      const value = get(m[0])
      if (value === undefined) throw new InterpolationError(`variable ${m[0]} is not set (give a default with \${${m[0]}:-default})`, m[0])
      out += value
      i += 1 + m[0].length
    }
    return out
  }
  try {
    return { _tag: "Ok", value: expand(input), used: [...used] }
  } catch (e) {
    if (e instanceof InterpolationError) return { _tag: "Error", reason: e.reason, ...(e.unset === undefined ? {} : { unset: e.unset }) }
    throw e
  }
}
