/** One observation pass over the backends, concurrently: one tmux call per socket, one `ps` per runtime. */
import { Effect } from "effect"
import type { ObserveProblem } from "../backends/backend.js"
import type { HostUnreachable } from "../errors.js"
import { Backends } from "../backends/registry.js"
import type { LoadedConfig } from "../config/types.js"
import type { BackendKind, ObservedSession, Place, RuntimeName } from "../model.js"

export interface Observation {
  readonly sessions: ReadonlyArray<ObservedSession>
  readonly tmuxAvailable: boolean
  readonly runtimes: ReadonlyArray<RuntimeName>
  /** What could not be read, and why. */
  readonly problems: ReadonlyArray<ObserveProblem>
  /** Places whose sessions are unknown. */
  readonly unreadable: ReadonlyArray<Place>
  /** `ops.hosts` entries that could not be reached at all, once each (their places are in `unreadable`). */
  readonly unreachable?: ReadonlyArray<HostUnreachable>
}

export interface ObserveOptions {
  /** tmux sockets to look at (null = default server); discovered sockets are always included. */
  readonly sockets: ReadonlyArray<string | null>
  /** Only these backends (default: all). */
  readonly kinds?: ReadonlyArray<BackendKind>
  /** Only these `ops.hosts` entries (default: every configured host). */
  readonly hosts?: ReadonlyArray<string>
}

// ---- hosts (ssh branch) ----
/** A host that could not be reached is ONE problem (every backend saw it): its other problems are dropped. */
export const dedupeHostProblems = (problems: ReadonlyArray<ObserveProblem>): ReadonlyArray<ObserveProblem> => {
  const down = new Map<string, ObserveProblem>()
  for (const p of problems) if (p.host !== undefined && p.unreachable !== undefined && !down.has(p.host)) down.set(p.host, p)
  return problems.filter((p) => p.host === undefined || !down.has(p.host) || down.get(p.host) === p)
}
// ---- end hosts ----

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
    const tmux = parts.find((p) => p.kind === "tmux")
    const problems = dedupeHostProblems(parts.flatMap((p) => p.problems))
    return {
      sessions: parts.flatMap((p) => p.sessions),
      // Not looked at = not known to be missing.
      tmuxAvailable: tmux === undefined || tmux.available,
      runtimes: parts.flatMap((p) => p.runtimes),
      problems,
      unreadable: parts.flatMap((p) => p.unreadable),
      unreachable: problems.flatMap((p) => (p.unreachable === undefined ? [] : [p.unreachable]))
    }
  })

/**
 * Problems worth a line on stderr: anything about tmux or a runtime the config uses (or any, when
 * asked explicitly). A docker client with no daemon behind it is common and otherwise not news.
 */
export const relevantProblems = (observation: Observation, config: LoadedConfig, explicit: boolean): ReadonlyArray<string> => {
  // this machine's problems matter for the sessions that run here (a host's engine is its own)
  const here = config.sessions.flatMap((e) => (e._tag === "Valid" && e.spec.host === undefined ? [e.spec] : []))
  const usesContainers = here.some((s) => s.backend === "container")
  const usesTmux = here.some((s) => s.backend === "tmux")
  const named = new Set<string>([
    ...(config.container_runtime === null ? [] : [config.container_runtime]),
    ...here.flatMap((s) => (s.backend === "container" && s.runtime !== null ? [s.runtime] : [])),
    ...(usesContainers && observation.runtimes.length === 0 ? ["podman", "docker", "container"] : [])
  ])
  const onHost = new Set(config.sessions.flatMap((e) => (e._tag === "Valid" && e.spec.host !== undefined ? [`${e.spec.host}\u0000${e.spec.backend}`] : [])))
  return observation.problems
    .filter((p) =>
      explicit || p.garbled === true ||
      (p.host !== undefined
        // a host that cannot be reached is always news; a backend failing there, when the config uses it there
        ? p.unreachable !== undefined || onHost.has(`${p.host}\u0000${p.where.startsWith("tmux") ? "tmux" : "container"}`)
        : p.where.startsWith("tmux") ? usesTmux : named.has(p.where))
    )
    .map((p) => `${p.where}: ${p.message}`)
}
