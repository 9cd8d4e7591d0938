/** One observation pass over both backends, concurrently: one tmux call per socket, one `ps` per runtime. */
import { Effect } from "effect"
import { Containers } from "../backends/container.js"
import { Tmux } from "../backends/tmux.js"
import type { LoadedConfig } from "../config/types.js"
import type { ObservedSession, RuntimeName } from "../model.js"

export interface Observation {
  readonly sessions: ReadonlyArray<ObservedSession>
  readonly tmuxAvailable: boolean
  readonly runtimes: ReadonlyArray<RuntimeName>
  /** Backends that could not be read (e.g. a docker client whose daemon is down), one per runtime. */
  readonly warnings: ReadonlyArray<ObserveWarning>
}

export interface ObserveWarning {
  readonly runtime: RuntimeName
  readonly message: string
}

export interface ObserveOptions {
  /** tmux sockets named in config (null = default server); discovered sockets are always included. */
  readonly sockets: ReadonlyArray<string | null>
  readonly tmux?: boolean
  readonly containers?: boolean
}

/** The tmux sockets config sessions live on (besides the default server). */
export const configSockets = (config: LoadedConfig): ReadonlyArray<string | null> => [
  ...new Set(
    config.sessions.flatMap((e) => (e._tag === "Valid" && e.spec.backend === "tmux" && e.spec.socket_name !== null ? [e.spec.socket_name] : []))
  )
]

export const observe = (options: ObserveOptions): Effect.Effect<Observation, never, Tmux | Containers> =>
  Effect.gen(function*() {
    const tmux = yield* Tmux
    const containers = yield* Containers
    const tmuxPart = options.tmux === false
      ? Effect.succeed({ sessions: [] as ReadonlyArray<ObservedSession>, available: true })
      : tmux.observe(options.sockets).pipe(
        Effect.map((sessions) => ({ sessions, available: true })),
        Effect.catchTag("TmuxNotFound", () => Effect.succeed({ sessions: [], available: false }))
      )
    const containerPart = options.containers === false
      ? Effect.succeed({ sessions: [] as ReadonlyArray<ObservedSession>, runtimes: [] as ReadonlyArray<RuntimeName>, warnings: [] })
      : Effect.gen(function*() {
        // Each runtime on its own, so a docker client without a daemon does not hide podman's containers.
        const per = yield* Effect.forEach(yield* containers.available, (runtime) =>
          containers.observe([runtime]).pipe(
            Effect.map((sessions) => ({ runtime, sessions, warning: null as ObserveWarning | null })),
            Effect.catchTag("CommandFailed", (e) =>
              Effect.succeed({ runtime, sessions: [] as ReadonlyArray<ObservedSession>, warning: { runtime, message: e.message } }))
          ), { concurrency: "unbounded" })
        return {
          sessions: per.flatMap((p) => p.sessions),
          runtimes: per.filter((p) => p.warning === null).map((p) => p.runtime),
          warnings: per.flatMap((p) => (p.warning === null ? [] : [p.warning]))
        }
      })
    const [t, c] = yield* Effect.all([tmuxPart, containerPart], { concurrency: 2 })
    return {
      sessions: [...t.sessions, ...c.sessions],
      tmuxAvailable: t.available,
      runtimes: c.runtimes,
      warnings: c.warnings
    }
  })

/**
 * Warnings worth a line on stderr: a runtime the config names or uses, or any when containers were
 * asked for explicitly. A docker client with no daemon behind it is common and otherwise not news.
 */
export const relevantWarnings = (
  observation: Observation,
  config: LoadedConfig,
  explicit: boolean
): ReadonlyArray<string> => {
  const named = new Set<string>([
    ...(config.container_runtime === null ? [] : [config.container_runtime]),
    ...config.sessions.flatMap((e) => (e._tag === "Valid" && e.spec.backend === "container" && e.spec.runtime !== null ? [e.spec.runtime] : [])),
    ...(config.sessions.some((e) => e._tag === "Valid" && e.spec.backend === "container" && e.spec.runtime === null) && observation.runtimes.length === 0
      ? ["podman", "docker"]
      : [])
  ])
  return observation.warnings.filter((w) => explicit || named.has(w.runtime)).map((w) => `${w.runtime}: ${w.message}`)
}
