/**
 * `depends_on` across the whole config, pure: a dependency must name a session of the config, and
 * the dependencies must not form a cycle. Entries that break either rule are rejected (their
 * issues located at their `depends_on`), so the planner, `list` and `status` all see them invalid.
 */
import type { ConfigIssue } from "../errors.js"
import { escapeText } from "../errors.js"
import { dependenciesOf } from "../model.js"
import { closestNames } from "./decode/index.js"
import type { Loc } from "./tree.js"
import type { ConfigEntry } from "./types.js"

/**
 * Every cycle through the valid entries, each once, as the path that closes it (`a → b → a`),
 * starting from its first session in config order.
 */
export const dependencyCycles = (deps: ReadonlyMap<string, ReadonlyArray<string>>): ReadonlyArray<ReadonlyArray<string>> => {
  const cycles: Array<ReadonlyArray<string>> = []
  const seen = new Set<string>()
  const state = new Map<string, "visiting" | "done">()
  const visit = (name: string, path: ReadonlyArray<string>) => {
    const st = state.get(name)
    if (st === "done") return
    if (st === "visiting") {
      const cycle = [...path.slice(path.indexOf(name)), name]
      const key = [...new Set(cycle)].sort().join("\u0000")
      if (!seen.has(key)) {
        seen.add(key)
        cycles.push(cycle)
      }
      return
    }
    state.set(name, "visiting")
    for (const d of deps.get(name) ?? []) if (deps.has(d)) visit(d, [...path, name])
    state.set(name, "done")
  }
  for (const name of deps.keys()) visit(name, [])
  return cycles
}

/** The entries with dependency problems rejected; `locate(name)` is where that entry's `depends_on` is written. */
export const checkDependencies = (
  entries: ReadonlyArray<ConfigEntry>,
  locate: (name: string) => Loc | null = () => null
): ReadonlyArray<ConfigEntry> => {
  const names = entries.map((e) => e.name)
  const problems = new Map<string, Array<string>>()
  const note = (name: string, reason: string) => problems.set(name, [...(problems.get(name) ?? []), reason])
  const deps = new Map<string, ReadonlyArray<string>>()
  for (const e of entries) {
    if (e._tag !== "Valid") continue
    deps.set(e.name, dependenciesOf(e.spec))
    for (const d of dependenciesOf(e.spec)) {
      if (names.includes(d)) continue
      const close = closestNames(d, names.filter((n) => n !== e.name))
      note(e.name, `unknown session '${d}'${close.length === 0 ? "" : ` (did you mean '${close[0]}'?)`}`)
    }
  }
  for (const cycle of dependencyCycles(deps)) {
    for (const name of new Set(cycle)) {
      // each member names the cycle starting from itself
      const at = cycle.indexOf(name)
      const rotated = [...cycle.slice(at, -1), ...cycle.slice(0, at), name]
      note(name, `dependency cycle ${rotated.join(" → ")}`)
    }
  }
  if (problems.size === 0) return entries
  return entries.map((e): ConfigEntry => {
    const reasons = problems.get(e.name)
    if (reasons === undefined || e._tag !== "Valid") return e
    const at = locate(e.name) ?? e.source
    const issues: ReadonlyArray<ConfigIssue> = reasons.map((reason) => ({
      file: at.file,
      line: at.line,
      session: e.name,
      field: "depends_on",
      reason: escapeText(reason)
    }))
    return { _tag: "Rejected", name: e.name, backend: e.spec.backend, issues, source: e.source }
  })
}
