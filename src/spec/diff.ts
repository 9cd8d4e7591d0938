/** What changed between the fingerprint stored on a session and the desired one, field by field. */
import type { Fingerprint, FingerprintValue } from "../model.js"
import { canonicalJson, showValue, shownWhenLeftOut } from "./field.js"
import { FIELDS, unkeyedDigest } from "./fingerprint.js"
import { storedWindows } from "./tmux.js"

/** One changed field. Env values are never carried: only which key changed and how. */
export type Change =
  | { readonly field: string; readonly from: string | null; readonly to: string | null }
  | { readonly field: string; readonly change: "added" | "removed" | "changed" }

/** Absent, empty list and empty map all mean "nothing" (e.g. a tmux fingerprint has no `volumes`). */
const isEmpty = (v: unknown) =>
  v === null || (Array.isArray(v) && v.length === 0) || (typeof v === "object" && Object.keys(v as object).length === 0)

/**
 * A stored value in words; a `when-set` field the fingerprint left out shows what leaving it out
 * means (its default). Any other absent field (a tmux fingerprint has no `image`) is nothing.
 */
const shown = (key: string, v: unknown): string | null => {
  const value = showValue(v)
  if (value !== null) return value
  const f = FIELDS.get(key)
  return f === undefined || f.fingerprint !== "when-set" ? null : shownWhenLeftOut(f, unkeyedDigest)
}

const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v))

/**
 * Windows compared by name, panes by place: `windows.editor.layout: tiled → main-vertical`,
 * `windows.editor.panes[1].command: …`, a pane's env as keys only (its digests are never shown).
 */
const windowChanges = (before: FingerprintValue, after: FingerprintValue): Array<Change> => {
  const b = new Map((storedWindows(before) ?? []).map((w) => [w.name, w] as const))
  const a = new Map((storedWindows(after) ?? []).map((w) => [w.name, w] as const))
  const out: Array<Change> = []
  const names = [...b.keys(), ...[...a.keys()].filter((n) => !b.has(n))]
  if (names.join("\u0000") !== [...a.keys()].join("\u0000") && [...b.keys()].every((n) => a.has(n)) && [...a.keys()].every((n) => b.has(n))) {
    out.push({ field: "windows", from: [...b.keys()].join(", "), to: [...a.keys()].join(", ") })
  }
  for (const name of names) {
    const wb = b.get(name)
    const wa = a.get(name)
    const at = `windows.${name}`
    if (wb === undefined || wa === undefined) {
      out.push({ field: at, change: wb === undefined ? "added" : "removed" })
      continue
    }
    for (const k of ["layout", "focus", "focus_pane"] as const) {
      if (canonicalJson(wb[k]) !== canonicalJson(wa[k])) out.push({ field: `${at}.${k}`, from: text(wb[k]), to: text(wa[k]) })
    }
    const pb = wb.panes
    const pa = wa.panes
    for (let i = 0; i < Math.max(pb.length, pa.length); i++) {
      const x = pb[i]
      const y = pa[i]
      const pat = `${at}.panes[${i}]`
      if (x === undefined || y === undefined) {
        out.push({ field: pat, change: x === undefined ? "added" : "removed" })
        continue
      }
      for (const k of ["command", "shell", "working_dir"] as const) {
        if (canonicalJson(x[k]) !== canonicalJson(y[k])) out.push({ field: `${pat}.${k}`, from: text(x[k]), to: text(y[k]) })
      }
      const eb = x.env
      const ea = y.env
      for (const k of [...new Set([...Object.keys(eb), ...Object.keys(ea)])].sort()) {
        if (!(k in eb)) out.push({ field: `${pat}.env.${k}`, change: "added" })
        else if (!(k in ea)) out.push({ field: `${pat}.env.${k}`, change: "removed" })
        else if (eb[k] !== ea[k]) out.push({ field: `${pat}.env.${k}`, change: "changed" })
      }
    }
  }
  return out.length === 0 ? [{ field: "windows", change: "changed" }] : out
}

/** Every field that differs between the fingerprint stored on a session and the desired one. */
export const diffFingerprints = (applied: Fingerprint | null, desired: Fingerprint): ReadonlyArray<Change> => {
  if (applied === null) return [{ field: "spec", change: "changed" }]
  const changes: Array<Change> = []
  const keys = [...new Set([...Object.keys(desired), ...Object.keys(applied)])]
  // backend first, then the fingerprint's own field order
  keys.sort((a, b) => (a === "backend" ? -1 : b === "backend" ? 1 : 0))
  for (const key of keys) {
    const before = applied[key] ?? null
    const after = desired[key] ?? null
    if (canonicalJson(before) === canonicalJson(after) || (isEmpty(before) && isEmpty(after))) continue
    if (key === "env") {
      const b = (before ?? {}) as Readonly<Record<string, string>>
      const a = (after ?? {}) as Readonly<Record<string, string>>
      for (const k of [...new Set([...Object.keys(b), ...Object.keys(a)])].sort()) {
        if (!(k in b)) changes.push({ field: `env.${k}`, change: "added" })
        else if (!(k in a)) changes.push({ field: `env.${k}`, change: "removed" })
        else if (a[k] !== b[k]) changes.push({ field: `env.${k}`, change: "changed" })
      }
    } else if (key === "windows") {
      changes.push(...windowChanges(before, after))
    } else if (key === "build_context" && before !== null && after !== null) {
      // a digest says nothing to a reader: that the content changed is the news
      changes.push({ field: "build context", change: "changed" })
    } else {
      changes.push({ field: key, from: shown(key, before), to: shown(key, after) })
    }
  }
  return changes
}

/**
 * Whether a replace's changes are all to fields an engine updates in place (swarm's `service
 * update`; env is not one: `update` has no `--env-file`, and `--env-add` would put the values on
 * its command line). A fingerprint that could not be read (`spec (changed)`) is not.
 */
export const updatableChanges = (changes: ReadonlyArray<Change>): boolean =>
  changes.every((c) => FIELDS.get(c.field)?.updatable === true)
