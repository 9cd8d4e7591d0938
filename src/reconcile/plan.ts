/**
 * The pure heart of the reconciler: desired (config entries) × observed (what the backends report)
 * → ordered typed steps, each with its cause. No I/O, no backend imports: data in, data out.
 */
import type { ConfigIssue } from "../errors.js"
import { formatConfigIssue } from "../errors.js"
import type { ConfigEntry } from "../config/types.js"
import type { BackendKind, Fingerprint, ObservedSession, RuntimeName, SessionSpec } from "../model.js"
import { canonicalJson, fingerprint, specHash } from "../model.js"

export type StepAction = "create" | "start" | "replace" | "stop" | "prune" | "conflict" | "invalid"

/** One changed field. Env values are never carried: only which key changed and how. */
export type Change =
  | { readonly field: string; readonly from: string | null; readonly to: string | null }
  | { readonly field: string; readonly change: "added" | "removed" | "changed" }

export interface Step {
  readonly action: StepAction
  readonly session: string
  /** The backend the step acts on (for a replace: where the session ends up). */
  readonly backend: BackendKind
  /** Human words for why this step exists. */
  readonly cause: string
  readonly changes: ReadonlyArray<Change>
  /** What to run (create, start, replace). */
  readonly spec: SessionSpec | null
  /** Existing instances this step stops, removes or restarts (replace: the old ones). */
  readonly targets: ReadonlyArray<ObservedSession>
  /** invalid: the reasons the config entry was rejected. */
  readonly issues: ReadonlyArray<ConfigIssue>
}

export interface PlanOptions {
  readonly prune: boolean
  /** Restrict to these session names (CLI `NAME...`); empty = all. */
  readonly only: ReadonlyArray<string>
  /** Container runtimes usable on this machine, in auto-detect order. */
  readonly runtimes: ReadonlyArray<RuntimeName>
  /** Whether tmux could be run at all. */
  readonly tmuxAvailable: boolean
}

export interface PlanSummary {
  readonly create: number
  readonly replace: number
  readonly start: number
  readonly stop: number
  readonly prune: number
  readonly conflict: number
  readonly invalid: number
}

export interface Plan {
  readonly steps: ReadonlyArray<Step>
  readonly summary: PlanSummary
  /** Owned sessions no longer in config, left alone because `--prune` was not given. */
  readonly orphans: ReadonlyArray<string>
  /** Config sessions already as desired. */
  readonly unchanged: ReadonlyArray<string>
}

/** Where a session lives: a tmux socket or a container runtime. */
export const placeOf = (s: ObservedSession): string =>
  s.backend === "tmux" ? `tmux socket ${s.socket_name ?? "default"}` : `${s.runtime ?? "container"}`

/** The observed session is where the spec puts it: same name and backend, same tmux socket or container runtime. */
export const sameSlot = (spec: SessionSpec, o: ObservedSession): boolean =>
  o.name === spec.name &&
  (spec.backend === "tmux"
    ? o.backend === "tmux" && o.socket_name === spec.socket_name
    : o.backend === "container" && o.runtime === spec.runtime)

const show = (v: unknown): string | null =>
  v === null || v === undefined ? null : typeof v === "string" ? v : Array.isArray(v) ? `[${v.join(", ")}]` : canonicalJson(v)

/** Absent, empty list and empty map all mean "nothing" (e.g. a tmux fingerprint has no `volumes`). */
const isEmpty = (v: unknown) =>
  v === null || (Array.isArray(v) && v.length === 0) || (typeof v === "object" && Object.keys(v as object).length === 0)

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
    } else {
      changes.push({ field: key, from: show(before), to: show(after) })
    }
  }
  return changes
}

const step = (s: Omit<Step, "changes" | "spec" | "targets" | "issues"> & Partial<Step>): Step => ({
  changes: [],
  spec: null,
  targets: [],
  issues: [],
  ...s
})

const stateWords = (o: ObservedSession): string =>
  o.state === "exited" ? `exited${o.exit_code === null ? "" : ` with code ${o.exit_code}`}` : o.state

const planEntry = (entry: ConfigEntry, observed: ReadonlyArray<ObservedSession>, options: PlanOptions): ReadonlyArray<Step> => {
  const same = observed.filter((o) => o.name === entry.name)
  if (entry._tag === "Rejected") {
    return [step({
      action: "invalid",
      session: entry.name,
      backend: entry.backend ?? "tmux",
      cause: entry.issues.map(formatConfigIssue).join("; "),
      issues: entry.issues
    })]
  }
  const spec = entry.spec
  const name = spec.name
  // Nothing can run where the backend is missing, which is what a stopped entry asks for anyway.
  if (spec.state === "stopped" && (spec.backend === "tmux" ? !options.tmuxAvailable : !options.runtimes.includes(spec.runtime!))) {
    return []
  }
  if (spec.backend === "tmux" && !options.tmuxAvailable) {
    return [step({ action: "invalid", session: name, backend: "tmux", cause: "tmux is not installed" })]
  }
  if (spec.backend === "container" && (spec.runtime === null || !options.runtimes.includes(spec.runtime))) {
    return [step({
      action: "invalid",
      session: name,
      backend: "container",
      cause: spec.runtime === null
        ? "no container runtime found (looked for podman, docker)"
        : `container runtime '${spec.runtime}' not found`
    })]
  }
  const inSlot = same.filter((o) => sameSlot(spec, o))
  const foreignInSlot = inSlot.find((o) => !o.owned)
  if (foreignInSlot !== undefined) {
    return [step({
      action: "conflict",
      session: name,
      backend: spec.backend,
      cause: `a ${foreignInSlot.backend === "tmux" ? "tmux session" : "container"} not created by kstlib holds the name (${
        placeOf(foreignInSlot)
      }); left untouched`,
      targets: [foreignInSlot]
    })]
  }
  const current = inSlot.find((o) => o.owned)
  const elsewhere = same.filter((o) => o.owned && !sameSlot(spec, o))
  const desiredHash = specHash(spec)
  const desiredFp = fingerprint(spec)
  const steps: Array<Step> = []

  if (spec.state === "stopped") {
    for (const o of [...(current === undefined ? [] : [current]), ...elsewhere]) {
      if (o.state === "running") {
        steps.push(step({ action: "stop", session: name, backend: o.backend, cause: "state: stopped in config", targets: [o] }))
      }
    }
    return steps
  }

  if (current === undefined) {
    if (elsewhere.length > 0) {
      const from = elsewhere[0]!
      steps.push(step({
        action: "replace",
        session: name,
        backend: spec.backend,
        cause: `moves from ${placeOf(from)} to ${spec.backend === "tmux" ? `tmux socket ${spec.socket_name ?? "default"}` : spec.runtime}`,
        changes: diffFingerprints(from.applied, desiredFp),
        spec,
        targets: elsewhere
      }))
    } else {
      steps.push(step({ action: "create", session: name, backend: spec.backend, cause: "not running", spec }))
    }
    return steps
  }

  if (current.spec_hash !== desiredHash) {
    steps.push(step({
      action: "replace",
      session: name,
      backend: spec.backend,
      cause: "spec changed",
      changes: diffFingerprints(current.applied, desiredFp),
      spec,
      targets: [current]
    }))
  } else if (current.state !== "running") {
    steps.push(step({ action: "start", session: name, backend: spec.backend, cause: stateWords(current), spec, targets: [current] }))
  }
  // An owned copy left in another place (e.g. after a socket change done by hand) is stale.
  for (const o of elsewhere) {
    steps.push(step({
      action: "prune",
      session: name,
      backend: o.backend,
      cause: `stale copy in ${placeOf(o)}; config places it in ${placeOf(current)}`,
      targets: [o]
    }))
  }
  return steps
}

const count = (steps: ReadonlyArray<Step>, action: StepAction) => steps.filter((s) => s.action === action).length

export const plan = (
  desired: ReadonlyArray<ConfigEntry>,
  observed: ReadonlyArray<ObservedSession>,
  options: PlanOptions
): Plan => {
  const wanted = (name: string) => options.only.length === 0 || options.only.includes(name)
  const entries = bindRuntimes(desired, options.runtimes).filter((e) => wanted(e.name))
  const steps: Array<Step> = []
  const unchanged: Array<string> = []
  for (const entry of entries) {
    const s = planEntry(entry, observed, options)
    if (s.length === 0) unchanged.push(entry.name)
    steps.push(...s)
  }
  const configured = new Set(desired.map((e) => e.name))
  const orphans = observed.filter((o) => o.owned && !configured.has(o.name) && wanted(o.name))
  if (options.prune) {
    for (const o of orphans) {
      steps.push(step({ action: "prune", session: o.name, backend: o.backend, cause: `no longer in config (${placeOf(o)})`, targets: [o] }))
    }
  }
  return {
    steps,
    summary: {
      create: count(steps, "create"),
      replace: count(steps, "replace"),
      start: count(steps, "start"),
      stop: count(steps, "stop"),
      prune: count(steps, "prune"),
      conflict: count(steps, "conflict"),
      invalid: count(steps, "invalid")
    },
    orphans: options.prune ? [] : [...new Set(orphans.map((o) => o.name))],
    unchanged
  }
}

/** Steps that change something (conflicts and invalid entries are reported, never executed). */
export const isActionable = (s: Step): boolean => s.action !== "conflict" && s.action !== "invalid"

export const hasChanges = (p: Plan): boolean => p.steps.some(isActionable)

/**
 * Binds container specs that ask for auto-detection (`runtime: null`) to the first usable runtime, so
 * the spec that is hashed and started names the runtime it runs on. Left null when none is usable.
 */
export const bindRuntimes = (entries: ReadonlyArray<ConfigEntry>, runtimes: ReadonlyArray<RuntimeName>): ReadonlyArray<ConfigEntry> =>
  entries.map((e) =>
    e._tag === "Valid" && e.spec.backend === "container" && e.spec.runtime === null && runtimes.length > 0
      ? { ...e, spec: { ...e.spec, runtime: runtimes[0]! } }
      : e
  )
