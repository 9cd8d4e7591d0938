/** The pipeline in one place: config → observe → pure plan. Execution is `execute` (apply.ts), separate by design. */
import { Effect } from "effect"
import type { Containers } from "../backends/container.js"
import type { Tmux } from "../backends/tmux.js"
import { KstlibConfig } from "../config/service.js"
import type { ConfigEntry } from "../config/types.js"
import type { Observation } from "./observe.js"
import { configSockets, observe } from "./observe.js"
import type { Plan } from "./plan.js"
import { bindRuntimes, plan } from "./plan.js"

export interface Planned {
  readonly plan: Plan
  readonly observation: Observation
  /** Config entries with auto-detected container runtimes bound. */
  readonly desired: ReadonlyArray<ConfigEntry>
}

export const planFromConfig = (
  options: { readonly prune?: boolean; readonly only?: ReadonlyArray<string> } = {}
): Effect.Effect<Planned, never, Tmux | Containers | KstlibConfig> =>
  Effect.gen(function*() {
    const config = yield* KstlibConfig
    const observation = yield* observe({ sockets: configSockets(config) })
    const desired = bindRuntimes(config.sessions, observation.runtimes)
    return {
      plan: plan(desired, observation.sessions, {
        prune: options.prune ?? false,
        only: options.only ?? [],
        runtimes: observation.runtimes,
        tmuxAvailable: observation.tmuxAvailable
      }),
      observation,
      desired
    }
  })
