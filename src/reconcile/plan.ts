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
import type { BackendKind, ConfiguredSpec, ObservedSession, RuntimeName, SessionSpec } from "../model.js"
import { dependenciesOf, isOurs } from "../model.js"
import type { Place, Scope } from "../place.js"
import { claims, declaredNetwork, hostField, hostOf, placeOf, projectNetwork, samePlace, swarmNetwork } from "../place.js"
import { containerDefaults } from "../spec/container.js"
import type { Change } from "../spec/diff.js"
import { diffFingerprints } from "../spec/diff.js"
import type { EnvDigest, Stamp } from "../spec/fingerprint.js"
import { appliedDependencies, digestFor, fingerprint, specHash, stampOf } from "../spec/fingerprint.js"
import { tmuxDefaults } from "../spec/tmux.js"

export type { Change } from "../spec/diff.js"
export { diffFingerprints } from "../spec/diff.js"

/** Desired running, nothing observed. */
export interface Create {
  readonly _tag: "Create"
  readonly session: string
  readonly spec: SessionSpec
  readonly reason: "not-running"
  /** What the new session is marked with. */
  readonly stamp: Stamp
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
  /** kstlib's marks refreshed with it (the digest it was stamped with: the same hash); null for `requested`: marks left as they are. */
  readonly stamp: Stamp | null
}
/** Ours, drifted or in another place: the old instances go, the spec is launched. */
export interface Replace {
  readonly _tag: "Replace"
  readonly session: string
  readonly spec: SessionSpec
  readonly targets: ReadonlyArray<ObservedSession>
  readonly reason: "spec-changed" | "moved"
  readonly changes: ReadonlyArray<Change>
  readonly stamp: Stamp
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
  /** runtime-missing: the runtime asked for (null: auto-detection found none). */
  readonly runtime: RuntimeName | null
  /** unreadable: what could not be read (a socket, an engine, a whole host). */
  readonly scope: Scope | null
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
  /**
   * What answered the observation: a tmux on a machine, each engine (in auto-detect order). A spec
   * whose backend did not answer where it runs cannot run (`Invalid`, missing).
   */
  readonly available: ReadonlyArray<Scope>
  /** What could not be read (a failing socket, engine or host): nothing is planned where a spec claims it. */
  readonly unreadable: ReadonlyArray<Scope>
  /** The env digest new sessions are stamped with (each existing one is compared with its own: `digestFor`). */
  readonly digest: EnvDigest
  /**
   * Sessions not to launch now although the config says running (`ops watch`: stopped through
   * kstlib, or backing off after a crash loop): nothing is planned for them while they do not run.
   */
  readonly hold?: ReadonlyArray<string>
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
  /**
   * The order the executor runs the actionable steps in, as indices into `steps`: phase after
   * phase, the steps of one phase at once (see phasesOf).
   */
  readonly phases: ReadonlyArray<ReadonlyArray<number>>
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

/**
 * A config entry resolved for planning: the auto-detected runtime bound ONCE here (to the first
 * usable one), or the reason it cannot run on this machine.
 */
export type Resolved =
  | { readonly _tag: "Runnable"; readonly spec: SessionSpec }
  | { readonly _tag: "Unrunnable"; readonly step: Invalid }

/** Whether the backend of `scope` answered on its machine (an engine: that engine). */
const answered = (available: ReadonlyArray<Scope>, scope: Scope) =>
  available.some((a) =>
    hostOf(a) === hostOf(scope) && a.backend === scope.backend && (scope.runtime === undefined || a.runtime === scope.runtime)
  )

/** The engine auto-detection binds: the first local one that answered (swarm is asked for by name, never detected). */
const detectedRuntime = (available: ReadonlyArray<Scope>): RuntimeName | undefined =>
  available.find((a) => a.backend === "container" && a.host === undefined && a.runtime !== undefined && a.runtime !== "swarm")?.runtime

export const resolveSpec = (spec: ConfiguredSpec, available: ReadonlyArray<Scope>): Resolved => {
  const invalid = (reason: Invalid["reason"], runtime: RuntimeName | null): Resolved => ({
    _tag: "Unrunnable",
    step: { _tag: "Invalid", session: spec.name, backend: spec.backend, reason, issues: [], runtime, scope: null }
  })
  if (spec.backend === "tmux") {
    return answered(available, { backend: "tmux", ...hostField(spec.host) }) ? { _tag: "Runnable", spec } : invalid("tmux-missing", null)
  }
  const runtime = spec.runtime ?? detectedRuntime(available)
  if (runtime === undefined || !answered(available, { backend: "container", runtime, ...hostField(spec.host) })) {
    return invalid("runtime-missing", spec.runtime)
  }
  return { _tag: "Runnable", spec: { ...spec, runtime } }
}

/**
 * The config spec as it runs in the place `o` was seen in (an auto-detected runtime bound to the
 * one it runs on), or null when the config does not put it there.
 */
export const boundTo = (spec: ConfiguredSpec, o: ObservedSession): SessionSpec | null => {
  if (spec.backend === "tmux") return o.backend === "tmux" ? spec : null
  if (o.backend !== "container" || (spec.runtime !== null && spec.runtime !== o.runtime)) return null
  return { ...spec, runtime: o.runtime }
}

/** Why a session that is not ours is a conflict: another kstlib project holds it, or no kstlib project does. */
const conflictReason = (o: ObservedSession): Conflict["reason"] =>
  o.mark.managed && o.mark.project !== null ? "other-project" : "not-managed"

/** `same`: the observed sessions with the entry's name (wherever they are; ours or not). */
const planEntry = (entry: ConfigEntry, same: ReadonlyArray<ObservedSession>, options: PlanOptions): ReadonlyArray<Step> => {
  if (entry._tag === "Rejected") {
    return [{
      _tag: "Invalid",
      session: entry.name,
      backend: entry.backend ?? "tmux",
      reason: "rejected",
      issues: entry.issues,
      runtime: null,
      scope: null
    }]
  }
  // What could not be read (a failing socket, engine or host) and may hold it: its session is
  // unknown, so nothing is planned for it (checked before binding: a failing engine is not a missing one).
  const unreadable = options.unreadable.find((scope) => claims(entry.spec, scope))
  if (unreadable !== undefined) {
    return [{ _tag: "Invalid", session: entry.name, backend: entry.spec.backend, reason: "unreadable", issues: [], runtime: null, scope: unreadable }]
  }
  const resolved = resolveSpec(entry.spec, options.available)
  // Nothing can run where the backend is missing, which is what a stopped entry asks for anyway.
  if (resolved._tag === "Unrunnable") return entry.spec.state === "stopped" ? [] : [resolved.step]
  const spec = resolved.spec
  const name = spec.name
  const place = placeOf(spec)
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

  // each session compared under the digest it was stamped with; new stamps take the current one
  const changesFrom = (o: ObservedSession) => diffFingerprints(o.mark.applied, fingerprint(spec, digestFor(o.mark.applied, options.digest)))
  const stamp = stampOf(spec, options.digest)
  const held = options.hold?.includes(name) === true
  if (current === undefined) {
    if (held && !elsewhere.some((o) => o.state === "running")) return []
    if (elsewhere.length > 0) {
      return [{ _tag: "Replace", session: name, spec, targets: elsewhere, reason: "moved", changes: changesFrom(elsewhere[0]!), stamp }]
    }
    return [{ _tag: "Create", session: name, spec, reason: "not-running", stamp }]
  }

  if (current.state !== "running" && held) return []
  const steps: Array<Step> = []
  const own = digestFor(current.mark.applied, options.digest)
  if (current.mark.spec_hash !== specHash(spec, own)) {
    steps.push({ _tag: "Replace", session: name, spec, targets: [current], reason: "spec-changed", changes: changesFrom(current), stamp })
  } else if (current.state !== "running") {
    steps.push({
      _tag: "Start",
      session: name,
      spec,
      target: current,
      reason: current.state === "exited" ? "exited" : "stopped",
      stamp: stampOf(spec, own)
    })
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

/** Steps that launch a session (create, replace, start in place). */
export const launchesSession = (s: Step): s is Create | Replace | Start => s._tag === "Create" || s._tag === "Replace" || s._tag === "Start"

/**
 * The phases the executor runs the actionable steps in. Without any dependency: one phase,
 * everything at once (one post-launch check). With dependencies: stops and removals first,
 * dependents before what they depend on (reverse order), then launches wave by wave (a session's
 * wave is one more than its deepest dependency's); each phase has its own post-launch check and
 * readiness wait. The steps of one phase are independent of each other and run concurrently.
 */
export const phasesOf = (steps: ReadonlyArray<Step>, order: Ordering): ReadonlyArray<ReadonlyArray<number>> => {
  const actionable = steps.flatMap((s, i) => (isActionable(s) ? [i] : []))
  if (!hasDependencies(order)) return actionable.length === 0 ? [] : [actionable]
  const levels = dependencyLevels(order.dependencies)
  const max = Math.max(0, ...levels.values())
  const group = (of: ReadonlyArray<number>, key: (s: Step) => number) => {
    const out: Array<Array<number>> = []
    for (const i of of) {
      const k = key(steps[i]!)
      while (out.length <= k) out.push([])
      out[k]!.push(i)
    }
    return out.filter((g) => g.length > 0)
  }
  const level = (s: Step) => levels.get(s.session) ?? 0
  return [
    ...group(actionable.filter((i) => !launchesSession(steps[i]!)), (s) => max - level(s)),
    ...group(actionable.filter((i) => launchesSession(steps[i]!)), level)
  ]
}

/** A plan's phases as steps. */
export const phaseSteps = (p: Plan): ReadonlyArray<ReadonlyArray<Step>> => p.phases.map((phase) => phase.map((i) => p.steps[i]!))

export const makePlan = (
  project: string,
  steps: ReadonlyArray<Step>,
  extra: { readonly orphans?: ReadonlyArray<string>; readonly unchanged?: ReadonlyArray<string>; readonly order?: Ordering } = {}
): Plan => {
  const order = extra.order ?? NO_ORDER
  return {
    project,
    steps,
    phases: phasesOf(steps, order),
    summary: summarize(steps),
    orphans: extra.orphans ?? [],
    unchanged: extra.unchanged ?? [],
    order
  }
}

/**
 * The ordering of a plan from the desired entries (pure): dependencies of config sessions (and,
 * for sessions only observed, those recorded at their start), the launch waves, what cannot be
 * satisfied, and the running dependencies to probe first.
 */
/** Observed sessions grouped by name, in observed order (a lookup per session keeps work linear in the sessions). */
export const byName = (observed: ReadonlyArray<ObservedSession>): ReadonlyMap<string, ReadonlyArray<ObservedSession>> => {
  const groups = new Map<string, Array<ObservedSession>>()
  for (const o of observed) {
    const group = groups.get(o.name)
    if (group === undefined) groups.set(o.name, [o])
    else group.push(o)
  }
  return groups
}

export const orderingOf = (
  desired: ReadonlyArray<ConfigEntry>,
  observed: ReadonlyArray<ObservedSession>,
  steps: ReadonlyArray<Step>,
  options: Pick<PlanOptions, "project" | "available">
): Ordering => {
  const dependencies: Record<string, ReadonlyArray<string>> = {}
  for (const o of observed) {
    if (isOurs(o, options.project) && appliedDependencies(o.mark.applied).length > 0) dependencies[o.name] = appliedDependencies(o.mark.applied)
  }
  for (const e of desired) dependencies[e.name] = e._tag === "Valid" ? dependenciesOf(e.spec) : []
  if (!Object.values(dependencies).some((d) => d.length > 0)) return NO_ORDER
  const launched = new Set(steps.filter(launchesSession).map((s) => s.session))
  // looked up by name (one pass each), not searched per dependency: a plan stays linear in the sessions
  const entryOf = new Map(desired.map((e) => [e.name, e] as const))
  const stepOfName = new Map<string, Step>()
  for (const s of steps) if (!stepOfName.has(s.session)) stepOfName.set(s.session, s)
  const observedOf = byName(observed)
  const needed = new Set(
    Object.entries(dependencies).filter(([n]) => launched.has(n)).flatMap(([, deps]) => deps).filter((d) => !launched.has(d))
  )
  const unsatisfied: Record<string, string> = {}
  const probes: Array<Ordering["probes"][number]> = []
  for (const dep of needed) {
    const entry = entryOf.get(dep)
    const stepOf = stepOfName.get(dep)
    if (entry === undefined) unsatisfied[dep] = "not in the config"
    else if (entry._tag === "Rejected" || stepOf?._tag === "Invalid") unsatisfied[dep] = "invalid"
    else if (stepOf?._tag === "Conflict") unsatisfied[dep] = "held by another session"
    else if (entry.spec.state === "stopped") unsatisfied[dep] = "state: stopped"
    else {
      const resolved = resolveSpec(entry.spec, options.available)
      const running = resolved._tag === "Runnable"
        ? observedOf.get(dep)?.find((o) => samePlace(placeOf(o), placeOf(resolved.spec)) && o.state === "running")
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
  const only = new Set(options.only)
  const wanted = (name: string) => only.size === 0 || only.has(name)
  const steps: Array<Step> = []
  const unchanged: Array<string> = []
  const observedOf = byName(observed)
  for (const entry of desired.filter((e) => wanted(e.name))) {
    const s = planEntry(entry, observedOf.get(entry.name) ?? [], options)
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
  const only = new Set(options.only)
  const ours = observed.filter((o) => isOurs(o, options.project) && (only.size === 0 || only.has(o.name)))
  const prunes = ours.map((o): Step => ({ _tag: "Prune", session: o.name, target: o, reason: "down", current: null }))
  const pruned = new Set(ours.map((o) => o.name))
  // `down NAME` where NAME is held only by another project's (or a foreign) session: say so (a
  // conflict, never touched) rather than "no changes".
  const conflicts = options.only
    .filter((name) => !pruned.has(name))
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

/** What an in-place restart runs again: the session as it was created (tmux: its original command); every other field at its default. */
export const asCreated = (o: ObservedSession): SessionSpec =>
  o.backend === "tmux"
    ? { ...tmuxDefaults, backend: "tmux", name: o.name, socket_name: o.socket_name, ...hostField(o.host) }
    : {
      ...containerDefaults,
      backend: "container",
      name: o.name,
      image: o.image ?? "",
      runtime: o.runtime,
      ...hostField(o.host)
    }

/**
 * `restart NAME` of a session the config does not describe: started again in place as it was
 * created, its marks left as they are. A container is stopped first (and kept); a tmux pane is
 * not: `respawn-pane -k` replaces its process in one step, and a session without remain-on-exit
 * would vanish if its process were stopped first.
 */
export const planRestartInPlace = (o: ObservedSession, project: string): { readonly stop: Plan; readonly start: Plan } => ({
  stop: makePlan(project, o.state === "running" && o.backend === "container" ? [{ _tag: "Stop", session: o.name, target: o, reason: "restart" }] : []),
  start: makePlan(project, [{ _tag: "Start", session: o.name, spec: asCreated(o), target: o, reason: "requested", stamp: null }])
})

/** What `start NAME` does, decided as data (the executor then runs `Run`'s plan as it is). */
export type StartPlan =
  | { readonly _tag: "Run"; readonly plan: Plan }
  /** Nothing to do: it runs already (start is idempotent); `observed`: the session of ours found. */
  | { readonly _tag: "AlreadyRunning"; readonly observed: ObservedSession | null }
  /** It runs (or would be moved from) another place than the one asked for: never a second copy, never a silent move. */
  | { readonly _tag: "Elsewhere"; readonly observed: ObservedSession }
  /** A conflict (not ours holds the name) or an entry that cannot run. */
  | { readonly _tag: "Blocked"; readonly step: Conflict | Invalid }

/**
 * `start NAME`: the session's entry (the config's, with command-line overrides) planned as `apply
 * NAME` would, with its dependencies (`dependencies`: their entries, in config order) started first
 * when they do not run — never replaced or stopped by `start`. `placeAsked`: the command line named
 * a socket or backend, so a session of ours running elsewhere is an error, not a move.
 */
export const planStart = (
  target: Extract<ConfigEntry, { _tag: "Valid" }>,
  dependencies: ReadonlyArray<ConfigEntry>,
  observed: ReadonlyArray<ObservedSession>,
  options: Omit<PlanOptions, "only" | "prune"> & { readonly placeAsked: boolean }
): StartPlan => {
  const name = target.name
  const entries = [...dependencies, target]
  const planOptions = { ...options, prune: false, only: entries.map((e) => e.name) }
  const full = plan(entries, observed, planOptions)
  const steps = full.steps.filter((s) => s.session === name || s._tag === "Create" || s._tag === "Start")
  const own = steps.filter((s) => s.session === name)
  const same = observed.filter((o) => o.name === name)
  const moved = options.placeAsked && own.some((s) => s._tag === "Replace" && s.reason === "moved")
  const running = same.find((o) => o.state === "running")
  if (moved || (own.some((s) => s._tag === "Create") && running !== undefined)) return { _tag: "Elsewhere", observed: running ?? same[0]! }
  const blocked = own.find((s): s is Conflict | Invalid => s._tag === "Conflict" || s._tag === "Invalid")
  if (blocked !== undefined) return { _tag: "Blocked", step: blocked }
  if (own.length === 0) return { _tag: "AlreadyRunning", observed: same.find((o) => isOurs(o, options.project)) ?? null }
  return { _tag: "Run", plan: makePlan(options.project, steps, { order: orderingOf(entries, observed, steps, planOptions) }) }
}

/** A project network the plan's launches join: created by the first of them when absent. */
export interface PlannedNetwork {
  readonly name: string
  readonly runtime: RuntimeName
  readonly host: string | null
  /** The sessions launched onto it by this plan. */
  readonly sessions: ReadonlyArray<string>
}

/**
 * The networks of a plan's container launches: for Podman/Docker without `network_mode` the
 * project's and the declared ones they join, for swarm services the project's overlay; one per
 * engine and machine.
 */
export const networksOf = (p: Plan): ReadonlyArray<PlannedNetwork> => {
  const out = new Map<string, { name: string; runtime: RuntimeName; host: string | null; sessions: Array<string> }>()
  for (const s of p.steps) {
    if (s._tag !== "Create" && s._tag !== "Replace") continue
    const spec = s.spec
    if (spec.backend !== "container" || spec.network_mode !== undefined) continue
    const names = spec.runtime === "swarm"
      ? [swarmNetwork(p.project)]
      : [projectNetwork(p.project), ...(spec.networks ?? []).map((d) => declaredNetwork(p.project, d.name))]
    for (const name of names) {
      const key = `${spec.runtime}\u0000${spec.host ?? ""}\u0000${name}`
      const n = out.get(key) ?? { name, runtime: spec.runtime, host: spec.host ?? null, sessions: [] }
      n.sessions.push(spec.name)
      out.set(key, n)
    }
  }
  return [...out.values()]
}

/** A step that holds its session once it succeeds (reconcile/holds.ts, `ops watch` leaves it stopped): a stop on request, a removal by `down`. */
export const holdsSession = (step: Step): boolean =>
  (step._tag === "Stop" && step.reason === "requested") || (step._tag === "Prune" && step.reason === "down")
