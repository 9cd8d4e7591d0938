/**
 * A network or volume kstlib owns (a project network, the swarm overlay, a declared network or
 * volume), before anything joins or mounts it: used when it carries this project's exact marks,
 * created with them when absent, refused otherwise; never touched when it is not ours. Shared by
 * the engine and swarm drivers, which give their own `inspect` and `create` calls.
 */
import { Effect } from "effect"
import { Marks } from "../../model.js"
import type { RunResult } from "../../proc.js"
import { isProjectNetwork } from "./argv.js"
import { engineMessage } from "./parse.js"

export interface OwnedObject<E> {
  readonly kind: "network" | "volume"
  readonly name: string
  readonly project: string
  /** Its labels as JSON, or null when there is no such object. */
  readonly inspect: Effect.Effect<string | null, E>
  readonly create: Effect.Effect<RunResult, E>
  /** The engine's command, for a create that failed without a word (`docker network create`). */
  readonly command: string
  /** What the refused launch would have made on it: `container`, `service`. */
  readonly launches: string
}

/**
 * null when the object is there and ours (found, or created now); else why the launch is refused.
 * Two launches racing to create it both end up with the one that won (the loser's create fails, its
 * second look finds ours).
 */
export const lookOrCreate = <E>(o: OwnedObject<E>): Effect.Effect<string | null, E> =>
  Effect.gen(function*() {
    const foreign = `${o.kind} ${o.name} exists and is not this project's (it lacks the labels ${Marks.labelManaged}=${Marks.managedValue.container} and ${Marks.labelProject}=${o.project}): it was left untouched and no ${o.launches} was created on it`
    const seen = yield* o.inspect
    if (seen !== null) return isProjectNetwork(seen, o.project) ? null : foreign
    const created = yield* o.create
    if (created.exitCode === 0) return null
    const again = yield* o.inspect
    if (again !== null) return isProjectNetwork(again, o.project) ? null : foreign
    return `creating ${o.kind} ${o.name}: ${engineMessage(created.stderr) || `${o.command} exited with ${created.exitCode}`}`
  })
