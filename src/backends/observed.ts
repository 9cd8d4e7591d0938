/** Acting on a session as observed: the same call whichever backend reported it. */
import { Effect } from "effect"
import type { ObservedSession } from "../model.js"
import { Containers } from "./container.js"
import { Tmux } from "./tmux.js"

/** Graceful unless `force`; an owned container is also removed (see Containers.stop). */
export const stopObserved = (o: ObservedSession, options: { readonly force?: boolean; readonly timeout?: number } = {}) =>
  Effect.gen(function*() {
    if (o.backend === "tmux") return yield* (yield* Tmux).stop(o.name, o.socket_name, options)
    return yield* (yield* Containers).stop(o.name, o.runtime!, options)
  })

export const logsOf = (o: ObservedSession, options: { readonly lines?: number; readonly colors?: boolean } = {}) =>
  Effect.gen(function*() {
    if (o.backend === "tmux") return yield* (yield* Tmux).logs(o.name, o.socket_name, options)
    return yield* (yield* Containers).logs(o.name, o.runtime!, options.lines === undefined ? {} : { lines: options.lines })
  })
