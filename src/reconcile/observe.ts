/** One observation pass over both backends, concurrently: one tmux call per socket, one `ps` per runtime. */
import { Effect } from "effect"
import { Containers } from "../backends/container.js"
import { Tmux } from "../backends/tmux.js"
import type { ObservedSession, RuntimeName } from "../model.js"

export interface Observation {
  readonly sessions: ReadonlyArray<ObservedSession>
  readonly tmuxAvailable: boolean
  readonly runtimes: ReadonlyArray<RuntimeName>
  /** Backends that could not be read (e.g. a docker client whose daemon is down): one line each, for stderr. */
  readonly warnings: ReadonlyArray<string>
}

export interface ObserveOptions {
  /** tmux sockets named in config (null = default server); discovered sockets are always included. */
  readonly sockets: ReadonlyArray<string | null>
  readonly tmux?: boolean
  readonly containers?: boolean
}

export const observe = (options: ObserveOptions): Effect.Effect<Observation, never, Tmux | Containers> =>
  Effect.gen(function*() {
    const tmux = yield* Tmux
    const containers = yield* Containers
    const tmuxPart = options.tmux === false
      ? Effect.succeed({ sessions: [] as ReadonlyArray<ObservedSession>, available: true, warning: null })
      : tmux.observe(options.sockets).pipe(
        Effect.map((sessions) => ({ sessions, available: true, warning: null })),
        Effect.catchTag("TmuxNotFound", () => Effect.succeed({ sessions: [], available: false, warning: null }))
      )
    const containerPart = options.containers === false
      ? Effect.succeed({ sessions: [] as ReadonlyArray<ObservedSession>, runtimes: [] as ReadonlyArray<RuntimeName>, warning: null })
      : Effect.gen(function*() {
        // Each runtime on its own, so a docker client without a daemon does not hide podman's containers.
        const per = yield* Effect.forEach(yield* containers.available, (runtime) =>
          containers.observe([runtime]).pipe(
            Effect.map((sessions) => ({ runtime, sessions, warning: null as string | null })),
            Effect.catchTag("CommandFailed", (e) =>
              Effect.succeed({ runtime, sessions: [] as ReadonlyArray<ObservedSession>, warning: `${runtime}: ${e.message}` }))
          ), { concurrency: "unbounded" })
        return {
          sessions: per.flatMap((p) => p.sessions),
          runtimes: per.filter((p) => p.warning === null).map((p) => p.runtime),
          warning: per.map((p) => p.warning).filter((w) => w !== null).join("\n") || null
        }
      })
    const [t, c] = yield* Effect.all([tmuxPart, containerPart], { concurrency: 2 })
    return {
      sessions: [...t.sessions, ...c.sessions],
      tmuxAvailable: t.available,
      runtimes: c.runtimes,
      warnings: [t.warning, c.warning].filter((w): w is string => w !== null)
    }
  })
