/**
 * The pure heart of the reconciler: desired (config entries) × observed (what the backends report)
 * → ordered typed steps, each with a typed reason. No I/O, no backend imports, no wording (the
 * renderer words the reasons): data in, data out.
 *
 * Ownership: a session is ours only when it carries kstlib's managed mark AND this project's mark.
 * Anything else holding a configured name is a conflict, never stopped, replaced or pruned.
 */
import type { ConfigIssue } from "../errors.js"
import type { ConfigEntry } from "../config/types.js"
import type { BackendKind, ConfiguredSpec, Fingerprint, ObservedSession, Place, RuntimeName, SessionSpec } from "../model.js"
import { appliedDependencies, canonicalJson, dependenciesOf, fingerprint, isOurs, placeOf, placeOfSpec, samePlace, specHash } from "../model.js"

/** One changed field. Env values are never carried: only which key changed and how. */
export type Change =
  | { readonly field: string; readonly from: string | null; readonly to: string | null }
  | { readonly field: string; readonly change: "added" | "removed" | "changed" }

/** Desired running, nothing observed. */
export interface Create {
  readonly _tag: "Create"
  readonly session: string
  readonly spec: SessionSpec
  readonly reason: "not-running"
}
/**
 * Started again in place: ours with the same spec, not running; or `requested`, an explicit
 * `restart NAME` of a session kstlib has no spec for (it runs again as it was created, marks kept).
 */
export interface Start {
  readonly _tag: "Start"
  readonly session: string
  readonly spec: SessionSpec
  readonly target: ObservedSession
  readonly reason: "stopped" | "exited" | "requested"
}
/** Ours, drifted or in another place: the old instances go, the spec is launched. */
export interface Replace {
  readonly _tag: "Replace"
  readonly session: string
  readonly spec: SessionSpec
  readonly targets: ReadonlyArray<ObservedSession>
  readonly reason: "spec-changed" | "moved"
  readonly changes: ReadonlyArray<Change>
}
export interface Stop {
  readonly _tag: "Stop"
  readonly session: string
  readonly target: ObservedSession
  /**
   * `requested`: an explicit `stop NAME` (the only way a session that is not ours is ever stopped);
   * `restart`: the first half of an in-place restart (a container is kept, to be started again).
   */
  readonly reason: "desired-stopped" | "requested" | "restart"
}
export interface Prune {
  readonly _tag: "Prune"
  readonly session: string
  readonly target: ObservedSession
  /** `stale-copy`: ours in another place than the config says; `down`: `ops down`. */
  readonly reason: "not-in-config" | "stale-copy" | "down"
  /** stale-copy: where the config places it. */
  readonly current: Place | null
}
export interface Conflict {
  readonly _tag: "Conflict"
  readonly session: string
  readonly target: ObservedSession
  readonly reason: "not-managed" | "other-project"
}
export interface Invalid {
  readonly _tag: "Invalid"
  readonly session: string
  readonly backend: BackendKind
  readonly reason: "rejected" | "tmux-missing" | "runtime-missing" | "unreadable"
  /** rejected: the reasons the config entry was rejected. */
  readonly issues: ReadonlyArray<ConfigIssue>
  /** runtime-missing: the runtime asked for (null: auto-detection found none). unreadable: where. */
  readonly runtime: RuntimeName | null
  readonly place: Place | null
}

export type Step = Create | Start | Replace | Stop | Prune | Conflict | Invalid
export type StepTag = Step["_tag"]
/** Lower-case step names, as printed (`create`, `replace`...). */
export type StepAction = Lowercase<StepTag>
export const actionOf = (s: Step): StepAction => s._tag.toLowerCase() as StepAction

export interface PlanOptions {
  readonly prune: boolean
  /** Restrict to these session names (CLI `NAME...`); empty = all. */
  readonly only: ReadonlyArray<string>
  /** The project whose sessions this plan may touch. */
  readonly project: string
  /** Container runtimes usable on this machine, in auto-detect order. */
  readonly runtimes: ReadonlyArray<RuntimeName>
  /** Whether tmux could be run at all. */
  readonly tmuxAvailable: boolean
  /** Places that could not be read (a failing socket or runtime): nothing is planned there. */
  readonly unreadable?: ReadonlyArray<Place>
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
  readonly project: string
  readonly steps: ReadonlyArray<Step>
  readonly summary: PlanSummary
  /** This project's sessions no longer in config, left alone because `--prune` was not given. */
  readonly orphans: ReadonlyArray<string>
  /** Config sessions already as desired. */
  readonly unchanged: ReadonlyArray<string>
  /** Dependency order: see Ordering. */
  readonly order: Ordering
}

/**
 * `depends_on`, resolved by the planner for the executor (which makes no decisions): who waits for
 * whom, what can never be satisfied, and which running sessions are probed before their dependents.
 */
export interface Ordering {
  /**
   * Every session's dependencies: a config session's `depends_on`; for a session only observed (to
   * be pruned), the dependencies recorded in its fingerprint when it was started.
   */
  readonly dependencies: Readonly<Record<string, ReadonlyArray<string>>>
  /** The start order of the sessions this plan launches, wave by wave (each wave runs in parallel). */
  readonly waves: ReadonlyArray<ReadonlyArray<string>>
  /** Dependencies this plan cannot satisfy, with why: `invalid`, `conflict`, `stopped` (state: stopped), `not running` (outside the plan). */
  readonly unsatisfied: Readonly<Record<string, string>>
  /** Dependencies left running as they are but with a `ready:` probe: probed before their dependents start. */
  readonly probes: ReadonlyArray<{ readonly session: string; readonly target: ObservedSession; readonly spec: SessionSpec }>
}

export const NO_ORDER: Ordering = { dependencies: {}, waves: [], unsatisfied: {}, probes: [] }

/** Whether any dependency edge exists (without one, the executor runs everything at once, as before). */
export const hasDependencies = (o: Ordering): boolean => Object.values(o.dependencies).some((d) => d.length > 0)

/**
 * Topological level of each session: 0 without dependencies, else one more than its deepest
 * dependency. Dependencies outside the map count as level 0; a cycle (rejected by the loader, so
 * only possible in hand-built data) is cut where it closes.
 */
export const dependencyLevels = (dependencies: Readonly<Record<string, ReadonlyArray<string>>>): ReadonlyMap<string, number> => {
  const levels = new Map<string, number>()
  const visiting = new Set<string>()
  const level = (name: string): number => {
    const known = levels.get(name)
    if (known !== undefined) return known
    if (visiting.has(name)) return 0
    visiting.add(name)
    const deps = dependencies[name] ?? []
    const l = deps.length === 0 ? 0 : 1 + Math.max(...deps.map(level))
    visiting.delete(name)
    levels.set(name, l)
    return l
  }
  for (const name of Object.keys(dependencies)) level(name)
  return levels
}

/** Names grouped by level, in the order given. */
export const wavesOf = (names: ReadonlyArray<string>, levels: ReadonlyMap<string, number>): ReadonlyArray<ReadonlyArray<string>> => {
  const waves: Array<Array<string>> = []
  for (const n of names) {
    const l = levels.get(n) ?? 0
    while (waves.length <= l) waves.push([])
    waves[l]!.push(n)
  }
  return waves.filter((w) => w.length > 0)
}

/** The sessions that depend on `name` (directly). */
export const dependentsOf = (o: Ordering, name: string): ReadonlyArray<string> =>
  Object.entries(o.dependencies).filter(([, deps]) => deps.includes(name)).map(([n]) => n)

/** The backend a step acts on (a replace: where the session ends up). */
export const backendOf = (s: Step): BackendKind => {
  switch (s._tag) {
    case "Create":
    case "Start":
    case "Replace":
      return s.spec.backend
    case "Stop":
    case "Prune":
    case "Conflict":
      return s.target.backend
    case "Invalid":
      return s.backend
  }
}

/** The sessions a step acts on (stops, removes or restarts). */
export const targetsOf = (s: Step): ReadonlyArray<ObservedSession> => {
  switch (s._tag) {
    case "Create":
    case "Invalid":
      return []
    case "Replace":
      return s.targets
    case "Start":
    case "Stop":
    case "Prune":
    case "Conflict":
      return [s.target]
  }
}

export const specOf = (s: Step): SessionSpec | null =>
  s._tag === "Create" || s._tag === "Start" || s._tag === "Replace" ? s.spec : null

/** Steps that change something (conflicts and invalid entries are reported, never executed). */
export const isActionable = (s: Step): boolean => s._tag !== "Conflict" && s._tag !== "Invalid"

export const hasChanges = (p: Plan): boolean => p.steps.some(isActionable)

/** Whether convergence is blocked (a conflict or an invalid entry). */
export const isBlocked = (p: Plan): boolean => p.summary.conflict + p.summary.invalid > 0

/** Absent, empty list and empty map all mean "nothing" (e.g. a tmux fingerprint has no `volumes`). */
const isEmpty = (v: unknown) =>
  v === null || (Array.isArray(v) && v.length === 0) || (typeof v === "object" && Object.keys(v as object).length === 0)

const show = (v: unknown): string | null =>
  v === null || v === undefined ? null : typeof v === "string" ? v : Array.isArray(v) ? `[${v.join(", ")}]` : canonicalJson(v)

/** What a fingerprint field left out means (model.ts stores these only when not at their default). */
const OMITTED: Readonly<Record<string, string>> = { shell: "false", unsafe_mounts: "false", replicas: "1", restart: "no", host: "local" }
const shown = (key: string, v: unknown): string | null => show(v) ?? OMITTED[key] ?? null

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
      changes.push({ field: key, from: shown(key, before), to: shown(key, after) })
    }
  }
  return changes
}

/**
 * A config entry resolved for planning: the auto-detected runtime bound ONCE here (to the first
 * usable one), or the reason it cannot run on this machine.
 */
export type Resolved =
  | { readonly _tag: "Runnable"; readonly spec: SessionSpec }
  | { readonly _tag: "Unrunnable"; readonly step: Invalid }

export const resolveSpec = (spec: ConfiguredSpec, options: Pick<PlanOptions, "runtimes" | "tmuxAvailable">): Resolved => {
  const invalid = (reason: Invalid["reason"], runtime: RuntimeName | null): Resolved => ({
    _tag: "Unrunnable",
    step: { _tag: "Invalid", session: spec.name, backend: spec.backend, reason, issues: [], runtime, place: null }
  })
  if (spec.backend === "tmux") return options.tmuxAvailable ? { _tag: "Runnable", spec } : invalid("tmux-missing", null)
  // swarm is asked for by name, never auto-detected
  const runtime = spec.runtime ?? options.runtimes.find((r) => r !== "swarm")
  if (runtime === undefined || !options.runtimes.includes(runtime)) return invalid("runtime-missing", spec.runtime)
  return { _tag: "Runnable", spec: { ...spec, runtime } }
}

/** Why a session that is not ours is a conflict: another kstlib project holds it, or no kstlib project does. */
const conflictReason = (o: ObservedSession): Conflict["reason"] =>
  o.mark.managed && o.mark.project !== null ? "other-project" : "not-managed"

/** Where the entry may already run: same name; ours or not. */
const planEntry = (entry: ConfigEntry, observed: ReadonlyArray<ObservedSession>, options: PlanOptions): ReadonlyArray<Step> => {
  if (entry._tag === "Rejected") {
    return [{
      _tag: "Invalid",
      session: entry.name,
      backend: entry.backend ?? "tmux",
      reason: "rejected",
      issues: entry.issues,
      runtime: null,
      place: null
    }]
  }
  // A place that could not be read (a failing socket or engine): its sessions are unknown, so
  // nothing is planned there (checked before binding: a failing engine is not a missing one).
  const configured = entry.spec
  const unreadable = (options.unreadable ?? []).find((p) =>
    (p.host ?? null) === (configured.host ?? null) && // hosts (ssh branch): an unreachable host's places
    (configured.backend === "tmux"
      ? p.backend === "tmux" && p.socket === configured.socket_name && (options.tmuxAvailable || p.host !== undefined)
      : p.backend === "container" && (configured.runtime === null || p.runtime === configured.runtime))
  )
  if (unreadable !== undefined) {
    return [{ _tag: "Invalid", session: entry.name, backend: configured.backend, reason: "unreadable", issues: [], runtime: null, place: unreadable }]
  }
  const resolved = resolveSpec(entry.spec, options)
  // Nothing can run where the backend is missing, which is what a stopped entry asks for anyway.
  if (resolved._tag === "Unrunnable") return entry.spec.state === "stopped" ? [] : [resolved.step]
  const spec = resolved.spec
  const name = spec.name
  const place = placeOfSpec(spec)
  const same = observed.filter((o) => o.name === name)
  const inPlace = same.filter((o) => samePlace(placeOf(o), place))
  const notOurs = inPlace.find((o) => !isOurs(o, options.project))
  if (notOurs !== undefined) {
    return [{
      _tag: "Conflict",
      session: name,
      target: notOurs,
      reason: conflictReason(notOurs)
    }]
  }
  const current = inPlace.find((o) => isOurs(o, options.project))
  const elsewhere = same.filter((o) => isOurs(o, options.project) && !samePlace(placeOf(o), place))

  if (spec.state === "stopped") {
    return [...(current === undefined ? [] : [current]), ...elsewhere]
      .filter((o) => o.state === "running")
      .map((o): Step => ({ _tag: "Stop", session: name, target: o, reason: "desired-stopped" }))
  }

  if (current === undefined) {
    if (elsewhere.length > 0) {
      return [{
        _tag: "Replace",
        session: name,
        spec,
        targets: elsewhere,
        reason: "moved",
        changes: diffFingerprints(elsewhere[0]!.mark.applied, fingerprint(spec))
      }]
    }
    return [{ _tag: "Create", session: name, spec, reason: "not-running" }]
  }

  const steps: Array<Step> = []
  if (current.mark.spec_hash !== specHash(spec)) {
    steps.push({
      _tag: "Replace",
      session: name,
      spec,
      targets: [current],
      reason: "spec-changed",
      changes: diffFingerprints(current.mark.applied, fingerprint(spec))
    })
  } else if (current.state !== "running") {
    steps.push({ _tag: "Start", session: name, spec, target: current, reason: current.state === "exited" ? "exited" : "stopped" })
  }
  // A copy of ours left in another place (e.g. after a socket change done by hand) is stale.
  for (const o of elsewhere) steps.push({ _tag: "Prune", session: name, target: o, reason: "stale-copy", current: place })
  return steps
}

const summarize = (steps: ReadonlyArray<Step>): PlanSummary => {
  const count = (tag: StepTag) => steps.filter((s) => s._tag === tag).length
  return {
    create: count("Create"),
    replace: count("Replace"),
    start: count("Start"),
    stop: count("Stop"),
    prune: count("Prune"),
    conflict: count("Conflict"),
    invalid: count("Invalid")
  }
}

export const makePlan = (
  project: string,
  steps: ReadonlyArray<Step>,
  extra: { readonly orphans?: ReadonlyArray<string>; readonly unchanged?: ReadonlyArray<string>; readonly order?: Ordering } = {}
): Plan => ({
  project,
  steps,
  summary: summarize(steps),
  orphans: extra.orphans ?? [],
  unchanged: extra.unchanged ?? [],
  order: extra.order ?? NO_ORDER
})

const launchesSession = (s: Step) => s._tag === "Create" || s._tag === "Replace" || s._tag === "Start"

/**
 * The ordering of a plan from the desired entries (pure): dependencies of config sessions (and,
 * for sessions only observed, those recorded at their start), the launch waves, what cannot be
 * satisfied, and the running dependencies to probe first.
 */
export const orderingOf = (
  desired: ReadonlyArray<ConfigEntry>,
  observed: ReadonlyArray<ObservedSession>,
  steps: ReadonlyArray<Step>,
  options: Pick<PlanOptions, "project" | "runtimes" | "tmuxAvailable">
): Ordering => {
  const dependencies: Record<string, ReadonlyArray<string>> = {}
  for (const o of observed) {
    if (isOurs(o, options.project) && appliedDependencies(o.mark.applied).length > 0) dependencies[o.name] = appliedDependencies(o.mark.applied)
  }
  for (const e of desired) dependencies[e.name] = e._tag === "Valid" ? dependenciesOf(e.spec) : []
  if (!Object.values(dependencies).some((d) => d.length > 0)) return NO_ORDER
  const launched = new Set(steps.filter(launchesSession).map((s) => s.session))
  const needed = new Set(
    Object.entries(dependencies).filter(([n]) => launched.has(n)).flatMap(([, deps]) => deps).filter((d) => !launched.has(d))
  )
  const unsatisfied: Record<string, string> = {}
  const probes: Array<Ordering["probes"][number]> = []
  for (const dep of needed) {
    const entry = desired.find((e) => e.name === dep)
    const stepOf = steps.find((s) => s.session === dep)
    if (entry === undefined) unsatisfied[dep] = "not in the config"
    else if (entry._tag === "Rejected" || stepOf?._tag === "Invalid") unsatisfied[dep] = "invalid"
    else if (stepOf?._tag === "Conflict") unsatisfied[dep] = "held by another session"
    else if (entry.spec.state === "stopped") unsatisfied[dep] = "state: stopped"
    else {
      const resolved = resolveSpec(entry.spec, options)
      const running = resolved._tag === "Runnable"
        ? observed.find((o) => o.name === dep && samePlace(placeOf(o), placeOfSpec(resolved.spec)) && o.state === "running")
        : undefined
      if (running === undefined || resolved._tag !== "Runnable") unsatisfied[dep] = "not running"
      else if (resolved.spec.ready !== undefined && resolved.spec.ready !== null) probes.push({ session: dep, target: running, spec: resolved.spec })
    }
  }
  const levels = dependencyLevels(dependencies)
  const order = [...new Set(steps.filter(launchesSession).map((s) => s.session))]
  return { dependencies, waves: wavesOf(order, levels), unsatisfied, probes }
}

export const plan = (
  desired: ReadonlyArray<ConfigEntry>,
  observed: ReadonlyArray<ObservedSession>,
  options: PlanOptions
): Plan => {
  const wanted = (name: string) => options.only.length === 0 || options.only.includes(name)
  const steps: Array<Step> = []
  const unchanged: Array<string> = []
  for (const entry of desired.filter((e) => wanted(e.name))) {
    const s = planEntry(entry, observed, options)
    if (s.length === 0) unchanged.push(entry.name)
    steps.push(...s)
  }
  const configured = new Set(desired.map((e) => e.name))
  const orphans = observed.filter((o) => isOurs(o, options.project) && !configured.has(o.name) && wanted(o.name))
  if (options.prune) {
    for (const o of orphans) steps.push({ _tag: "Prune", session: o.name, target: o, reason: "not-in-config", current: null })
  }
  return makePlan(options.project, steps, {
    orphans: options.prune ? [] : [...new Set(orphans.map((o) => o.name))],
    unchanged,
    order: orderingOf(desired, observed, steps, options)
  })
}

/** `ops down [NAME...]`: every session of this project (configured or not) is removed. Never another project's. */
export const planDown = (
  observed: ReadonlyArray<ObservedSession>,
  options: { readonly project: string; readonly only: ReadonlyArray<string> }
): Plan => {
  const ours = observed.filter((o) => isOurs(o, options.project) && (options.only.length === 0 || options.only.includes(o.name)))
  const prunes = ours.map((o): Step => ({ _tag: "Prune", session: o.name, target: o, reason: "down", current: null }))
  // `down NAME` where NAME is held only by another project's (or a foreign) session: say so (a
  // conflict, never touched) rather than "no changes".
  const conflicts = options.only
    .filter((name) => !prunes.some((s) => s.session === name))
    .flatMap((name) => observed.filter((o) => o.name === name && !isOurs(o, options.project)))
    .map((o): Step => ({
      _tag: "Conflict",
      session: o.name,
      target: o,
      reason: conflictReason(o)
    }))
  // Removal in reverse dependency order, from the dependencies recorded at each session's start.
  const dependencies = Object.fromEntries(ours.map((o) => [o.name, appliedDependencies(o.mark.applied)]))
  return makePlan(options.project, [...prunes, ...conflicts], {
    order: Object.values(dependencies).some((d) => d.length > 0) ? { ...NO_ORDER, dependencies } : NO_ORDER
  })
}

/**
 * An explicit `stop NAME` of the session found (the user named it: it may be foreign). An exited
 * one is stopped too: its dead pane or container is cleared (a container of ours removed).
 */
export const planStop = (o: ObservedSession, project: string): Plan =>
  makePlan(project, [{ _tag: "Stop", session: o.name, target: o, reason: "requested" }])

/** What an in-place restart runs again: the session as it was created (tmux: its original command). */
export const asCreated = (o: ObservedSession): SessionSpec =>
  o.backend === "tmux"
    ? { backend: "tmux", name: o.name, command: null, shell: false, working_dir: null, env: {}, socket_name: o.socket_name, state: "running" }
    : {
      backend: "container",
      name: o.name,
      image: o.image ?? "",
      command: null,
      shell: false,
      working_dir: null,
      env: {},
      volumes: [],
      ports: [],
      log_volume: null,
      runtime: o.runtime,
      unsafe_mounts: false,
      state: "running"
    }

/**
 * `restart NAME` of a session the config does not describe: started again in place as it was
 * created, its marks left as they are. A container is stopped first (and kept); a tmux pane is
 * not: `respawn-pane -k` replaces its process in one step, and a session without remain-on-exit
 * would vanish if its process were stopped first.
 */
export const planRestartInPlace = (o: ObservedSession, project: string): { readonly stop: Plan; readonly start: Plan } => ({
  stop: makePlan(project, o.state === "running" && o.backend === "container" ? [{ _tag: "Stop", session: o.name, target: o, reason: "restart" }] : []),
  start: makePlan(project, [{ _tag: "Start", session: o.name, spec: asCreated(o), target: o, reason: "requested" }])
})
