/**
 * The config file formats the original kstlib loads besides YAML (its `include:` takes `.toml`,
 * `.json` and `.ini` files), each parsed into the same located tree as YAML (tree.ts), so that every
 * field is still reported at its own `file:line`. JSON is YAML 1.2 (parsed by tree.ts once it is
 * known to be JSON); TOML is parsed by smol-toml, its keys located by a line scan; INI follows
 * Python's ConfigParser defaults, which the original used. Pure functions; they throw the typed
 * ConfigParseError (the loader runs them inside Effect.try).
 */
import { Effect } from "effect"
import { ConfigParseError } from "../errors.js"
import { type Loc, type MapNode, type Node, type NodeBudget, parseYaml } from "./tree.js"

export type Format = "yaml" | "json" | "toml" | "ini"

/**
 * A file's format from its name: `.json`, `.toml`, `.ini`, else YAML (as kstlib.conf.yml). `sops`:
 * named `*.sops.<ext>`, the original's convention for files that `sops -d` decrypts.
 */
export const formatOf = (file: string): { readonly format: Format; readonly sops: boolean } => {
  const name = file.slice(file.lastIndexOf("/") + 1).toLowerCase()
  const ext = name.slice(name.lastIndexOf(".") + 1)
  const format: Format = ext === "json" || ext === "toml" || ext === "ini" ? ext : "yaml"
  return { format, sops: /\.sops\.[^.]+$/u.test(name) }
}

/** smol-toml, loaded on the first TOML include (rare), so importing kstlib does not load it. */
export type TomlParser = typeof import("smol-toml")

export const loadTomlParser: Effect.Effect<TomlParser> = Effect.promise(() => import("smol-toml"))

/** `toml`: the parser (loadTomlParser), needed for a TOML file only. */
export const parseConfigText = (file: string, text: string, format: Format, budget: NodeBudget, toml?: TomlParser): Node => {
  switch (format) {
    case "yaml":
      return parseYaml(file, text, budget)
    case "json":
      return parseJson(file, text, budget)
    case "toml":
      if (toml === undefined) throw new Error("kstlib bug: a TOML file parsed without its parser (loadTomlParser)")
      return parseToml(file, text, budget, toml)
    case "ini":
      return parseIni(file, text, budget)
  }
}

/** 1-based line and column of `offset` in `text`. */
const position = (text: string, offset: number) => {
  let line = 1
  let start = 0
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === "\n") {
      line++
      start = i + 1
    }
  }
  return { line, column: offset - start + 1 }
}

// ---- JSON ----

/**
 * Where `text` stops being JSON (RFC 8259), and why; null when it is JSON. Iterative (a deeply nested
 * document cannot overflow the stack). Reasons never quote the text (it may hold a secret).
 */
export const jsonError = (text: string): { readonly at: number; readonly reason: string } | null => {
  let i = 0
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++
  }
  const fail = (reason: string) => ({ at: i, reason })
  /** After a value: inside a container, `,` or its closing bracket. */
  const stack: Array<"{" | "["> = []
  const string = (): string | null => {
    i++
    while (i < text.length) {
      const c = text.charCodeAt(i)
      if (c === 0x22) {
        i++
        return null
      }
      if (c < 0x20) return "a control character inside a string"
      if (c === 0x5c) {
        const e = text[i + 1]
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/u.test(text.slice(i + 2, i + 6))) return "a bad \\u escape"
          i += 6
          continue
        }
        if (e === undefined || !"\"\\/bfnrt".includes(e)) return "a bad escape"
        i += 2
        continue
      }
      i++
    }
    return "an unterminated string"
  }
  /** One value's start (a scalar whole, a container opened). */
  const value = (): string | null => {
    ws()
    const c = text[i]
    if (c === "{" || c === "[") {
      stack.push(c)
      i++
      ws()
      if (text[i] === (c === "{" ? "}" : "]")) {
        stack.pop()
        i++
        return null
      }
      return c === "{" ? member() : value()
    }
    if (c === "\"") return string()
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|^true|^false|^null/u.exec(text.slice(i, i + 400))
    if (m === null) return c === undefined ? "unexpected end of the document" : "unexpected character"
    i += m[0].length
    return null
  }
  /** `"key": value` in an object. */
  const member = (): string | null => {
    ws()
    if (text[i] !== "\"") return "expected a property name in double quotes"
    const s = string()
    if (s !== null) return s
    ws()
    if (text[i] !== ":") return "expected ':' after a property name"
    i++
    return value()
  }
  let problem = value()
  while (problem === null && stack.length > 0) {
    ws()
    const top = stack[stack.length - 1]!
    const close = top === "{" ? "}" : "]"
    if (text[i] === close) {
      stack.pop()
      i++
    } else if (text[i] === ",") {
      i++
      problem = top === "{" ? member() : value()
    } else {
      problem = `expected ',' or '${close}'`
    }
  }
  if (problem !== null) return fail(problem)
  ws()
  return i < text.length ? fail("unexpected text after the document") : null
}

/** JSON is YAML 1.2: once it is known to be JSON, tree.ts parses it with its locations. */
const parseJson = (file: string, text: string, budget: NodeBudget): Node => {
  const problem = jsonError(text.replace(/^\uFEFF/u, ""))
  if (problem !== null) {
    const { line, column } = position(text, problem.at)
    throw new ConfigParseError({ file, line, column, reason: `invalid JSON: ${problem.reason}` })
  }
  return parseYaml(file, text, budget)
}

// ---- located tree builder (TOML and INI values) ----

const tooMany = (file: string, line: number | null, budget: NodeBudget) =>
  new ConfigParseError({ file, line, column: null, reason: `too many nodes (keys, values, list items) in one load (the limit is ${budget.limit})` })

// ---- TOML ----

/** A dotted TOML key (`a."b.c".d`) starting at `s[i]`: its parts and where it ends, or null. */
const tomlKey = (s: string, i: number): { readonly parts: ReadonlyArray<string>; readonly end: number } | null => {
  const parts: Array<string> = []
  for (;;) {
    while (s[i] === " " || s[i] === "\t") i++
    const q = s[i]
    if (q === "\"" || q === "'") {
      let j = i + 1
      let part = ""
      while (j < s.length && s[j] !== q) {
        if (q === "\"" && s[j] === "\\") {
          const e = s[j + 1] ?? ""
          const esc: Record<string, string> = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", "\"": "\"", "\\": "\\" }
          if (e === "u" || e === "U") {
            const n = e === "u" ? 4 : 8
            part += String.fromCodePoint(parseInt(s.slice(j + 2, j + 2 + n), 16))
            j += 2 + n
            continue
          }
          part += esc[e] ?? e
          j += 2
          continue
        }
        part += s[j]
        j++
      }
      if (j >= s.length) return null
      parts.push(part)
      i = j + 1
    } else {
      const m = /^[A-Za-z0-9_-]+/u.exec(s.slice(i))
      if (m === null) return null
      parts.push(m[0])
      i += m[0].length
    }
    while (s[i] === " " || s[i] === "\t") i++
    if (s[i] !== ".") return { parts, end: i }
    i++
  }
}

/**
 * Lines of a TOML document's keys: `[table]`, `[[array]]` (with its index) and `key = value`,
 * by path (parts joined with NUL), plus the value text of one-line numbers and booleans.
 */
const tomlLines = (text: string) => {
  const lines = new Map<string, number>()
  const raw = new Map<string, string>()
  const counts = new Map<string, number>()
  const note = (path: ReadonlyArray<string | number>, line: number) => {
    for (let k = 1; k <= path.length; k++) {
      const key = path.slice(0, k).join("\u0000")
      if (!lines.has(key)) lines.set(key, line)
    }
  }
  /** `path = value` on line `lineNo`: its line, the text of a number or boolean, an inline table's members. */
  const assignment = (path: ReadonlyArray<string | number>, value: string, lineNo: number) => {
    note(path, lineNo)
    const plain = value.replace(/\s+#.*$/u, "").trim()
    if (/^[-+0-9a-z_.:]+$/iu.test(plain)) raw.set(path.join("\u0000"), plain)
    if (!plain.startsWith("{")) return
    // `{ a = 1, b = { c = true } }`: members split at top-level commas (outside quotes and brackets)
    let depth = 0
    let quote: string | null = null
    let from = 1
    for (let i = 1; i < plain.length; i++) {
      const c = plain[i]!
      if (quote !== null) {
        if (c === "\\" && quote === "\"") i++
        else if (c === quote) quote = null
      } else if (c === "\"" || c === "'") {
        quote = c
      } else if (c === "{" || c === "[") {
        depth++
      } else if ((c === "}" || c === "]") && depth > 0) {
        depth--
      } else if ((c === "," || c === "}") && depth === 0) {
        const member = plain.slice(from, i)
        const k = tomlKey(member, 0)
        if (k !== null && member[k.end] === "=") assignment([...path, ...k.parts], member.slice(k.end + 1).trim(), lineNo)
        from = i + 1
        if (c === "}") break
      }
    }
  }
  let table: ReadonlyArray<string | number> = []
  let inString: string | null = null
  text.split("\n").forEach((line, n) => {
    const lineNo = n + 1
    if (inString !== null) {
      if (line.includes(inString)) inString = null
      return
    }
    const t = line.trimStart()
    if (t.startsWith("[[")) {
      const k = tomlKey(t, 2)
      if (k === null) return
      const base = k.parts.join("\u0000")
      const index = counts.get(base) ?? 0
      counts.set(base, index + 1)
      table = [...k.parts, index]
      note(table, lineNo)
    } else if (t.startsWith("[")) {
      const k = tomlKey(t, 1)
      if (k === null) return
      table = k.parts
      note(table, lineNo)
    } else {
      const k = tomlKey(t, 0)
      if (k === null || t[k.end] !== "=") return
      const path = [...table, ...k.parts]
      const value = t.slice(k.end + 1).trim()
      assignment(path, value, lineNo)
      // a multi-line string runs until its closing delimiter
      for (const d of ["\"\"\"", "'''"]) {
        if (value.startsWith(d) && !value.slice(3).includes(d)) inString = d
      }
    }
  })
  return { lines, raw }
}

const parseToml = (file: string, text: string, budget: NodeBudget, { parse: parseTomlText, TomlDate, TomlError }: TomlParser): Node => {
  let doc: Record<string, unknown>
  try {
    doc = parseTomlText(text) as Record<string, unknown>
  } catch (e) {
    if (e instanceof TomlError) {
      // the message's first line only: the rest quotes the document
      const reason = e.message.split("\n")[0]!.replace(/^Invalid TOML document: /u, "")
      throw new ConfigParseError({ file, line: e.line, column: e.column, reason: `invalid TOML: ${reason}` })
    }
    throw e
  }
  const { lines, raw } = tomlLines(text)
  const locOf = (path: ReadonlyArray<string | number>): Loc => {
    for (let k = path.length; k > 0; k--) {
      const line = lines.get(path.slice(0, k).join("\u0000"))
      if (line !== undefined) return { file, line }
    }
    return { file, line: 1 }
  }
  const convert = (v: unknown, path: ReadonlyArray<string | number>): Node => {
    const loc = locOf(path)
    if (--budget.left < 0) throw tooMany(file, loc.line, budget)
    if (Array.isArray(v)) return { kind: "seq", loc, items: v.map((x, i) => convert(x, [...path, i])) }
    if (v instanceof TomlDate) return { kind: "scalar", loc, value: v.toISOString(), text: null }
    if (typeof v === "object" && v !== null) {
      return {
        kind: "map",
        loc,
        entries: new Map(Object.entries(v).map(([k, x]) => [k, { keyLoc: locOf([...path, k]), value: convert(x, [...path, k]) }]))
      }
    }
    if (typeof v === "number" && !Number.isFinite(v)) {
      throw new ConfigParseError({ file, line: loc.line, column: null, reason: "NaN and Infinity are not allowed in config files" })
    }
    const text = typeof v === "number" || typeof v === "boolean" ? raw.get(path.join("\u0000")) ?? String(v) : null
    return { kind: "scalar", loc, value: v, text }
  }
  return convert(doc, [])
}

// ---- INI (Python's ConfigParser defaults) ----

const MAX_INI_INTERPOLATION_DEPTH = 10

/**
 * `[section]` headers, `key = value` / `key: value` options (keys lower-cased), `#`/`;` comment
 * lines, indented continuation lines, `[DEFAULT]` options inherited by every section, and
 * `%(name)s` / `%%` interpolation, as ConfigParser reads them by default. Every value is a string.
 */
const parseIni = (file: string, text: string, budget: NodeBudget): MapNode => {
  const fail = (line: number, reason: string): never => {
    throw new ConfigParseError({ file, line, column: null, reason: `invalid INI: ${reason}` })
  }
  interface Option {
    value: string
    readonly line: number
  }
  const sections = new Map<string, { readonly line: number; readonly options: Map<string, Option> }>()
  let current: Map<string, Option> | null = null
  let last: { option: Option; indent: number } | null = null
  text.replace(/^\uFEFF/u, "").split(/\r?\n/u).forEach((line, n) => {
    const lineNo = n + 1
    const t = line.trim()
    if (t === "") {
      last = null
      return
    }
    if (t.startsWith("#") || t.startsWith(";")) return
    const indent = line.length - line.trimStart().length
    if (last !== null && indent > last.indent) {
      last.option.value += `\n${t}`
      return
    }
    const header = /^\[(.+)\]$/u.exec(t)
    if (header !== null && indent === 0) {
      const name = header[1]!
      const seen = sections.get(name)
      if (seen !== undefined) fail(lineNo, `section '${name}' already exists (line ${seen.line})`)
      current = new Map()
      sections.set(name, { line: lineNo, options: current })
      last = null
      return
    }
    if (current === null) fail(lineNo, "an option before the first [section] header")
    const d = t.search(/[=:]/u)
    if (d <= 0) fail(lineNo, "expected 'key = value' or a [section] header")
    const key = t.slice(0, d).trim().toLowerCase()
    if (current!.has(key)) fail(lineNo, `option '${key}' already exists in this section (line ${current!.get(key)!.line})`)
    const option = { value: t.slice(d + 1).trim(), line: lineNo }
    current!.set(key, option)
    last = { option, indent }
  })
  const defaults = sections.get("DEFAULT")?.options ?? new Map<string, Option>()
  const interpolate = (options: ReadonlyMap<string, Option>, option: Option, depth: number): string =>
    option.value.replace(/%(%|\((.*?)\)s|)/gu, (_m, what: string, name: string | undefined) => {
      if (what === "%") return "%"
      if (name === undefined) return fail(option.line, "'%' must be followed by '%' or '(name)s'")
      if (depth >= MAX_INI_INTERPOLATION_DEPTH) return fail(option.line, `interpolation deeper than ${MAX_INI_INTERPOLATION_DEPTH} (a loop?)`)
      const ref = options.get(name.toLowerCase()) ?? defaults.get(name.toLowerCase())
      if (ref === undefined) return fail(option.line, `'%(${name})s' names no option of this section or DEFAULT`)
      return interpolate(options, ref, depth + 1)
    })
  const entries = new Map<string, { keyLoc: Loc; value: Node }>()
  for (const [name, section] of sections) {
    if (name === "DEFAULT") continue
    const all = new Map([...defaults, ...section.options])
    const options = new Map<string, { keyLoc: Loc; value: Node }>()
    for (const [key, option] of all) {
      if ((budget.left -= 2) < 0) throw tooMany(file, option.line, budget)
      const loc = { file, line: option.line }
      options.set(key, { keyLoc: loc, value: { kind: "scalar", loc, value: interpolate(all, option, 0), text: null } })
    }
    const loc = { file, line: section.line }
    entries.set(name, { keyLoc: loc, value: { kind: "map", loc, entries: options } })
  }
  return { kind: "map", loc: { file, line: 1 }, entries }
}

// ---- SOPS ----

/** A SOPS-encrypted value: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:str]`. */
const SOPS_VALUE = /^ENC\[[A-Za-z0-9_]+,data:/u

/** The first string value of `node` that is SOPS ciphertext: its path and location (never the value). */
export const findCiphertext = (node: Node, path: ReadonlyArray<PropertyKey> = []): { readonly path: ReadonlyArray<PropertyKey>; readonly loc: Loc } | null => {
  switch (node.kind) {
    case "map":
      for (const [k, e] of node.entries) {
        if (e.value.kind === "scalar" && typeof e.value.value === "string" && SOPS_VALUE.test(e.value.value)) return { path: [...path, k], loc: e.keyLoc }
        const inner = findCiphertext(e.value, [...path, k])
        if (inner !== null) return inner
      }
      return null
    case "seq":
      for (const [i, item] of node.items.entries()) {
        const inner = findCiphertext(item, [...path, i])
        if (inner !== null) return inner
      }
      return null
    case "scalar":
      return typeof node.value === "string" && SOPS_VALUE.test(node.value) ? { path, loc: node.loc } : null
  }
}
