/** Values every importer converts the same way: session names, host paths, durations, sizes. */
import * as path from "node:path"
import { MAX_SESSION_NAME_LENGTH, SESSION_NAME_PATTERN } from "../config/rules.js"
import { STOP_SIGNALS } from "../model.js"
import type { ImportOptions } from "./report.js"

/** kstlib's rule (a letter, then letters, digits, `_`, `-`) applied to a source name. */
const sanitize = (raw: string, fallback: string): string => {
  let n = raw.replace(/[^A-Za-z0-9_-]+/gu, "-").replace(/^-+|-+$/gu, "")
  if (n === "") n = fallback
  if (!/^[A-Za-z]/u.test(n)) n = `s-${n}`
  return n.slice(0, MAX_SESSION_NAME_LENGTH)
}

const isValidName = (s: string) => SESSION_NAME_PATTERN.test(s) && s.length <= MAX_SESSION_NAME_LENGTH

/** Unique kstlib names for the source's names (sessions, windows): renamed only when needed. */
export class Names {
  private readonly used = new Set<string>()
  private readonly bySource = new Map<string, string>()
  /** `known`: every name of the source, so that the valid ones keep theirs and only the others yield. */
  constructor(known: ReadonlyArray<string> = []) {
    for (const k of known) if (isValidName(k)) this.used.add(k)
  }
  /** The name for `source`; `renamed` is what the report says when it differs. */
  take(source: string, fallback = "session"): { readonly name: string; readonly renamed: boolean } {
    if (isValidName(source) && this.used.has(source) && !this.bySource.has(source) && ![...this.bySource.values()].includes(source)) {
      this.bySource.set(source, source)
      return { name: source, renamed: false }
    }
    const base = isValidName(source) ? source : sanitize(source, fallback)
    let name = base
    for (let i = 2; this.used.has(name); i++) name = `${base.slice(0, MAX_SESSION_NAME_LENGTH - String(i).length - 1)}-${i}`
    this.used.add(name)
    if (!this.bySource.has(source)) this.bySource.set(source, name)
    return { name, renamed: name !== source }
  }
  of(source: string): string | undefined {
    return this.bySource.get(source)
  }
}

/**
 * A host path of the source (relative to the source file) as the kstlib config writes it (relative
 * to the config file). `~`, absolute paths, URLs and paths with `${VAR}` stay as written; a path
 * that would climb out of the config's directory is written absolute. `noParent` (volumes, where
 * kstlib refuses `..`): so is any path with `..`.
 */
export const rebase = (p: string, o: ImportOptions, noParent = false): { readonly path: string; readonly absolute: boolean } => {
  if (p.startsWith("/") || p === "~" || p.startsWith("~/") || p.includes("$") || p.includes("://")) return { path: p, absolute: false }
  const abs = path.resolve(o.sourceDir, p)
  if (o.sourceDir === o.outputDir && !(noParent && p.split("/").includes(".."))) return { path: p, absolute: false }
  const rel = path.relative(o.outputDir, abs)
  if (rel === "") return { path: ".", absolute: false }
  // climbing out of the config's directory reads worse than the path itself (and kstlib refuses `..` in volumes)
  if (rel.split(path.sep).includes("..")) return { path: abs, absolute: true }
  return { path: rel.startsWith(".") ? rel : `./${rel}`, absolute: false }
}

/** A path below `parent` (both as the source wrote them): absolute and `~` paths stand alone. */
export const under = (parent: string | undefined, p: string): string =>
  p.startsWith("/") || p === "~" || p.startsWith("~/") || p.startsWith("$") || parent === undefined ? p : path.posix.join(parent, p)

const DURATION_UNITS: Readonly<Record<string, number>> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, "µs": 1e-6, ns: 1e-9 }

/** A Go duration as compose writes it (`1m30s`, `500ms`) in seconds, or null. */
export const goDuration = (u: unknown): number | null => {
  if (typeof u !== "string" || !/^(?:\d+(?:\.\d+)?(?:h|ms|m|s|us|µs|ns))+$/u.test(u)) return null
  let total = 0
  for (const m of u.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/gu)) total += Number(m[1]) * DURATION_UNITS[m[2]!]!
  return Math.round(total * 1000) / 1000
}

const SIZE_UNITS: Readonly<Record<string, number>> = { "": 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 }

/** A byte size (`512m`, `1.5g`, `268435456`, `260M`) as kstlib writes it (`512m`, `1536m`, `256m`), or null. */
export const byteSize = (u: unknown): string | null => {
  const text = typeof u === "number" && Number.isInteger(u) ? String(u) : typeof u === "string" ? u.trim().toLowerCase() : null
  const m = text === null ? null : /^(\d+(?:\.\d+)?)\s*(b|kb?|mb?|gb?)?$/u.exec(text)
  if (m === null) return null
  const bytes = Math.round(Number(m[1]) * SIZE_UNITS[m[2] ?? ""]!)
  if (bytes <= 0) return null
  for (const [unit, size] of [["g", 1024 ** 3], ["m", 1024 ** 2], ["k", 1024]] as const) {
    if (bytes % size === 0) return `${bytes / size}${unit}`
  }
  return String(bytes)
}

/** `SIGTERM` / `TERM` / `15`… as kstlib's name, or null. */
export const stopSignal = (u: unknown): string | null => {
  const numbers: Readonly<Record<string, string>> = { "1": "HUP", "2": "INT", "3": "QUIT", "9": "KILL", "10": "USR1", "12": "USR2", "15": "TERM" }
  const text = typeof u === "number" ? numbers[String(u)] ?? "" : typeof u === "string" ? u.toUpperCase().replace(/^SIG/u, "") : ""
  return (STOP_SIGNALS as ReadonlyArray<string>).includes(text) ? text : numbers[text] ?? null
}
