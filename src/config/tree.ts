/**
 * YAML as a located tree: every map entry, list item and scalar remembers the file and line it
 * came from, so that after several files are merged each field can still be reported at its own
 * `file:line`. Pure functions over plain data, except `parseYaml` which throws the typed
 * ConfigParseError (the loader runs it inside Effect.try).
 */
import { Effect } from "effect"
import type * as Yaml from "yaml"
import { ConfigParseError } from "../errors.js"

/** The yaml package, loaded on the first config load (`loadYamlParser`), so importing kstlib does not load its 70 files. */
let YAML: typeof Yaml | undefined

/** Loads the YAML parser once; `parseYaml` needs it (the config loader runs this first). */
export const loadYamlParser: Effect.Effect<void> = Effect.suspend(() =>
  YAML !== undefined ? Effect.void : Effect.promise(() => import("yaml")).pipe(Effect.map((m) => void (YAML = m)))
)

const yaml = (): typeof Yaml => {
  if (YAML === undefined) throw new Error("kstlib bug: YAML parsed before loadYamlParser")
  return YAML
}

export interface Loc {
  readonly file: string
  /** 1-based. */
  readonly line: number | null
}

export interface MapNode {
  readonly kind: "map"
  readonly loc: Loc
  /** Insertion order = file order. `keyLoc` is where the key is written (the line reported for the field). */
  readonly entries: ReadonlyMap<string, { readonly keyLoc: Loc; readonly value: Node }>
}
export interface SeqNode {
  readonly kind: "seq"
  readonly loc: Loc
  readonly items: ReadonlyArray<Node>
}
export interface ScalarNode {
  readonly kind: "scalar"
  readonly loc: Loc
  readonly value: unknown
  /** The text as written, for plain (unquoted) numbers and booleans: `1.50`, `0x1F`, `true`. */
  readonly text: string | null
}
export type Node = MapNode | SeqNode | ScalarNode

export interface NodeBudget {
  left: number
  readonly limit: number
}

/** Bounds the nodes produced by alias expansion (`&a [*b, *b, …]` nested: the "billion laughs" document). */
const MAX_ALIASED_NODES = 100_000

const UNRESOLVED_ALIAS = "unresolved YAML alias (a value starting with '*' must be quoted)"

/** The parser's message, minus its source excerpt; alias errors never quote the alias (it may be a secret). */
const reasonOf = (e: Yaml.YAMLError) =>
  /alias/iu.test(e.message) || e.code === "BAD_ALIAS" ? UNRESOLVED_ALIAS : e.message.split(" at line ")[0]!.split("\n")[0]!

/**
 * A key as the text written. YAML 1.2 reads plain `NULL`, `~`, `True`, `.inf`, `0x1F` as null,
 * booleans and numbers; as names (sessions, env keys) they mean what they say, and `true:` and
 * `"true":` are the same name.
 */
const keyText = (key: Yaml.Scalar): string =>
  key.type === "PLAIN" ? key.source ?? String(key.value ?? "") : typeof key.value === "string" ? key.value : String(key.value ?? "")

/**
 * Parses one YAML document. An empty (or comments-only) file is an empty map. `budget`: the nodes
 * the caller's load may still produce (shared by the files of one load), counted down here.
 */
export const parseYaml = (file: string, text: string, budget: NodeBudget = { left: Infinity, limit: Infinity }): Node => {
  const YAML = yaml()
  const lineCounter = new YAML.LineCounter()
  // duplicates are found below, on the keys as written (YAML compares `true` and `True` as one value)
  const doc = YAML.parseDocument(text, { lineCounter, uniqueKeys: false })
  const err = doc.errors[0]
  if (err !== undefined) {
    const pos = lineCounter.linePos(err.pos[0])
    throw new ConfigParseError({ file, line: pos.line, column: pos.col, reason: `invalid YAML: ${reasonOf(err)}` })
  }
  let aliased = MAX_ALIASED_NODES
  let insideAlias = 0
  /** Where the outermost alias being expanded is written: the location of a bomb. */
  let aliasAt: number | undefined
  const locOf = (offset: number | undefined): Loc => ({
    file,
    line: offset === undefined ? null : lineCounter.linePos(offset).line
  })
  const fail = (offset: number | undefined, reason: string): never => {
    const pos = offset === undefined ? undefined : lineCounter.linePos(offset)
    throw new ConfigParseError({ file, line: pos?.line ?? null, column: pos?.col ?? null, reason })
  }

  const convert = (node: unknown, fallback: Loc): Node => {
    if (--budget.left < 0) fail(YAML.isNode(node) ? node.range?.[0] : undefined, `too many nodes (keys, values, list items) in one load (the limit is ${budget.limit})`)
    if (insideAlias > 0 && --aliased < 0) fail(aliasAt, `too many alias expansions (more than ${MAX_ALIASED_NODES} nodes)`)
    if (YAML.isAlias(node)) {
      const target = node.resolve(doc)
      // never echo the alias text: an unquoted value starting with '*' may be a password
      if (target === undefined) fail(node.range?.[0], UNRESOLVED_ALIAS)
      if (insideAlias === 0) aliasAt = node.range?.[0]
      insideAlias++
      try {
        return convert(target, locOf(node.range?.[0]))
      } finally {
        insideAlias--
      }
    }
    if (YAML.isMap(node)) {
      const entries = new Map<string, { keyLoc: Loc; value: Node }>()
      const merged: Array<[string, { keyLoc: Loc; value: Node }]> = []
      for (const pair of node.items) {
        const key = pair.key
        if (key !== null && !YAML.isScalar(key)) fail(YAML.isNode(key) ? key.range?.[0] : undefined, "complex mapping keys are not supported")
        const keyLoc = locOf(YAML.isScalar(key) ? key.range?.[0] : node.range?.[0])
        const name = YAML.isScalar(key) ? keyText(key) : ""
        // `<<: *base` / `<<: [*a, *b]` (YAML merge key): explicit keys win, earlier sources win over later ones
        if (YAML.isScalar(key) && name === "<<" && key.type === "PLAIN") {
          const source = convert(pair.value, keyLoc)
          const sources = source.kind === "seq" ? source.items : [source]
          for (const s of sources) {
            if (s.kind !== "map") fail(key.range?.[0], "a merge key (<<) needs a mapping or a list of mappings")
            for (const [k, v] of (s as MapNode).entries) if (!merged.some(([mk]) => mk === k)) merged.push([k, v])
          }
          continue
        }
        const first = entries.get(name)
        if (first !== undefined) {
          const shown = name.length > 64 ? `${name.slice(0, 61)}...` : name
          fail(YAML.isScalar(key) ? key.range?.[0] : undefined, `invalid YAML: duplicate key '${shown}'${first.keyLoc.line === null ? "" : ` (first at line ${first.keyLoc.line})`}`)
        }
        entries.set(name, { keyLoc, value: convert(pair.value, keyLoc) })
      }
      for (const [k, v] of merged) if (!entries.has(k)) entries.set(k, v)
      return { kind: "map", loc: locOf(node.range?.[0]), entries }
    }
    if (YAML.isSeq(node)) {
      return { kind: "seq", loc: locOf(node.range?.[0]), items: node.items.map((i) => convert(i, locOf(node.range?.[0]))) }
    }
    if (YAML.isScalar(node)) {
      const value = node.value
      if (typeof value === "number" && !Number.isFinite(value)) {
        fail(node.range?.[0], `NaN and Infinity are not allowed in config files (${node.source ?? String(value)})`)
      }
      const plain = node.type === "PLAIN" && (typeof value === "number" || typeof value === "boolean")
      return { kind: "scalar", loc: locOf(node.range?.[0]), value, text: plain ? node.source ?? null : null }
    }
    // `key:` with no value
    return { kind: "scalar", loc: fallback, value: null, text: null }
  }

  if (doc.contents === null) return emptyMap({ file, line: 1 })
  return convert(doc.contents, { file, line: 1 })
}

export const emptyMap = (loc: Loc): MapNode => ({ kind: "map", loc, entries: new Map() })

export const isNull = (n: Node | undefined): boolean => n === undefined || (n.kind === "scalar" && n.value === null)

/**
 * Deep merge, `high` wins: maps merge key by key (recursively), lists and scalars are replaced whole.
 * A key keeps its first position; its location becomes the one in the winning file.
 */
export const merge = (low: Node, high: Node): Node => {
  if (low.kind !== "map" || high.kind !== "map") return high
  const entries = new Map(low.entries)
  for (const [k, h] of high.entries) {
    const l = entries.get(k)
    entries.set(k, l === undefined ? h : { keyLoc: h.keyLoc, value: merge(l.value, h.value) })
  }
  return { kind: "map", loc: high.loc, entries }
}

export const without = (node: MapNode, key: string): MapNode => {
  const entries = new Map(node.entries)
  entries.delete(key)
  return { ...node, entries }
}

/** Plain JS value. `scalarText`: numbers/booleans as written (env values: `1.50` stays `"1.50"`). */
export const toPlain = (node: Node, options: { readonly scalarText?: boolean } = {}): unknown => {
  switch (node.kind) {
    case "map":
      // fromEntries defines own properties, so a key like `__proto__` stays data
      return Object.fromEntries([...node.entries].map(([k, e]) => [k, toPlain(e.value, options)]))
    case "seq":
      return node.items.map((i) => toPlain(i, options))
    case "scalar":
      return options.scalarText === true && node.text !== null ? node.text : node.value
  }
}

/**
 * The location of `path` inside `node`: a map entry is located at its key, a list item at the item.
 * When the path does not exist (a missing key), the deepest existing part is returned.
 */
export const locate = (node: Node, path: ReadonlyArray<PropertyKey>, start: Loc = node.loc): Loc => {
  let cur: Node = node
  let loc = start
  for (const k of path) {
    if (cur.kind === "map" && typeof k === "string") {
      const e = cur.entries.get(k)
      if (e === undefined) break
      loc = e.keyLoc
      cur = e.value
    } else if (cur.kind === "seq" && typeof k === "number" && cur.items[k] !== undefined) {
      cur = cur.items[k]
      loc = cur.loc
    } else break
  }
  return loc
}
