/** One observation pass over the drivers, concurrently: one tmux call per socket, one `ps` per engine. */
import { Effect } from "effect"
import type { ObserveProblem } from "../backends/driver.js"
import { Backends } from "../backends/registry.js"
import type { LoadedConfig } from "../config/types.js"
import type { HostUnreachable } from "../errors.js"
import type { BackendKind, ObservedSession } from "../model.js"
import type { Scope } from "../place.js"
import { describeScope } from "../place.js"

export interface Observation {
  readonly sessions: ReadonlyArray<ObservedSession>
  /** What answered: a tmux on a machine, each engine (engines in auto-detect order). */
  readonly answered: ReadonlyArray<Scope>
  /** What could not be read or has to be said, and why (a host that could not be reached: once). */
  readonly problems: ReadonlyArray<ObserveProblem>
  /** `ops.hosts` entries that could not be reached at all, once each. */
  readonly unreachable: ReadonlyArray<HostUnreachable>
}

export interface ObserveOptions {
  /** tmux sockets to look at (null = default server); discovered sockets are always included. */
  readonly sockets: ReadonlyArray<string | null>
  /** Only these backends (default: all). */
  readonly kinds?: ReadonlyArray<BackendKind>
  /** Only these `ops.hosts` entries (default: every configured host). */
  readonly hosts?: ReadonlyArray<string>
}

/** A host that could not be reached is ONE problem (every driver saw it): its other problems are dropped. */
export const dedupeHostProblems = (problems: ReadonlyArray<ObserveProblem>): ReadonlyArray<ObserveProblem> => {
  const down = new Map<string, ObserveProblem>()
  for (const p of problems) if (p.scope.host !== undefined && p.unreachable !== undefined && !down.has(p.scope.host)) down.set(p.scope.host, p)
  return problems.filter((p) => p.scope.host === undefined || !down.has(p.scope.host) || down.get(p.scope.host) === p)
}

/** What could not be read: nothing is planned where a spec claims it (place.ts `claims`). */
export const unreadableOf = (o: Pick<Observation, "problems">): ReadonlyArray<Scope> =>
  o.problems.flatMap((p) => (p.kind === "failed" ? [p.scope] : []))

/** The observation as the planner takes it. */
export const planInputs = (o: Observation) => ({ available: o.answered, unreadable: unreadableOf(o) })

/** `tmux socket orion: …`, `podman: …`; a host that could not be reached: `ssh: …`. */
export const problemText = (p: ObserveProblem): string => `${p.scope.backend === undefined ? "ssh" : describeScope(p.scope)}: ${p.message}`

/** The tmux sockets config sessions live on (besides the default server). */
export const configSockets = (config: LoadedConfig): ReadonlyArray<string | null> => [
  ...new Set(
    config.sessions.flatMap((e) => (e._tag === "Valid" && e.spec.backend === "tmux" && e.spec.socket_name !== null ? [e.spec.socket_name] : []))
  )
]

export const observe = (options: ObserveOptions): Effect.Effect<Observation, never, Backends> =>
  Effect.gen(function*() {
    const backends = yield* Backends
    const parts = yield* backends.observe({ sockets: options.sockets, ...(options.hosts === undefined ? {} : { hosts: options.hosts }) }, options.kinds)
    const problems = dedupeHostProblems(parts.flatMap((p) => p.problems))
    return {
      sessions: parts.flatMap((p) => p.sessions),
      answered: parts.flatMap((p) => p.answered),
      problems,
      unreachable: problems.flatMap((p) => (p.unreachable === undefined ? [] : [p.unreachable]))
    }
  })

/**
 * Problems worth a line on stderr: anything about a backend where the config runs sessions (or any,
 * when asked explicitly). On this machine, an engine only when the config names it or has
 * container sessions and no engine answered: a docker client with no daemon behind it is common and
 * otherwise not news.
 */
export const relevantProblems = (observation: Observation, config: LoadedConfig, explicit: boolean): ReadonlyArray<string> => {
  const specs = config.sessions.flatMap((e) => (e._tag === "Valid" ? [e.spec] : []))
  const here = specs.filter((s) => s.host === undefined)
  const localContainers = here.some((s) => s.backend === "container")
  const named = new Set<string>([
    ...(config.container_runtime === null ? [] : [config.container_runtime]),
    ...here.flatMap((s) => (s.backend === "container" && s.runtime !== null ? [s.runtime] : []))
  ])
  const noEngineHere = !observation.answered.some((a) => a.backend === "container" && a.host === undefined)
  const relevant = (p: ObserveProblem) => {
    if (explicit || p.unreachable !== undefined || p.garbled === true) return true
    const { host, backend, runtime } = p.scope
    if (host !== undefined) return specs.some((s) => s.host === host && (backend === undefined || s.backend === backend))
    if (backend === "tmux") return here.some((s) => s.backend === "tmux")
    if (runtime === undefined) return localContainers
    return named.has(runtime) || (localContainers && noEngineHere)
  }
  return observation.problems.filter(relevant).map(problemText)
}
