/** Schema failures as located config issues, and the "did you mean" of names and fields. */
import { Schema, SchemaIssue } from "effect"

const UNKNOWN_FIELD = "\u0000unknown-field"
const format = SchemaIssue.makeFormatterStandardSchemaV1({
  leafHook: (issue) =>
    issue._tag === "UnexpectedKey"
      ? UNKNOWN_FIELD
      : issue._tag === "MissingKey"
      ? "required field is missing"
      : SchemaIssue.defaultLeafHook(issue)
})

/** Every issue of a decoding failure, flattened; `unknownField` marks keys the schema does not know. */
export const flattenIssues = (
  error: Schema.SchemaError
): ReadonlyArray<{ readonly path: ReadonlyArray<PropertyKey>; readonly message: string; readonly unknownField: boolean }> =>
  format(error.issue).issues.map((i) => ({
    // the formatter's paths are plain property keys
    path: (i.path ?? []) as ReadonlyArray<PropertyKey>,
    message: i.message,
    unknownField: i.message === UNKNOWN_FIELD
  }))

/** `env.LD_PRELOAD`, `ports[1]`, `comand`. */
export const fieldPath = (p: ReadonlyArray<PropertyKey>): string =>
  p.reduce<string>((acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc === "" ? String(k) : `${acc}.${String(k)}`), "")

const distance = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return row[b.length]!
}

const norm = (s: string) => s.toLowerCase().replace(/[-_]/gu, "")

/** The known names closest to `name` (typos: at most a third of the letters differ), best first. */
export const closestNames = (name: string, known: ReadonlyArray<string>): ReadonlyArray<string> => {
  const scored = known.map((k) => ({ k, d: distance(norm(name), norm(k)) })).filter((x) => x.d <= Math.max(1, Math.floor(x.k.length / 3)))
  const best = Math.min(...scored.map((x) => x.d))
  return scored.filter((x) => x.d === best).map((x) => x.k)
}

/** `unknown field (did you mean 'command'?)`, else the list of known fields. */
export const suggestField = (key: string, known: ReadonlyArray<string>): string => {
  const best = known
    .map((f) => ({ f, d: distance(norm(key), norm(f)) }))
    .sort((x, y) => x.d - y.d)[0]
  if (best !== undefined && best.d <= Math.max(1, Math.floor(best.f.length / 3))) {
    return `unknown field (did you mean '${best.f}'?)`
  }
  return `unknown field (expected one of: ${known.join(", ")})`
}
