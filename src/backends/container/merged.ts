/**
 * Runs a command and captures stdout and stderr as ONE text, in the order the chunks arrive (so
 * `logs` keeps a container's stdout/stderr interleaving as far as the engine preserves it).
 */
import { Effect, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { SpawnFailed } from "../../proc.js"

export interface MergedResult {
  readonly output: string
  readonly exitCode: number
}

export const runMerged = (
  command: string,
  args: ReadonlyArray<string>
): Effect.Effect<MergedResult, SpawnFailed, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.scoped(
    Effect.gen(function*() {
      const handle = yield* ChildProcess.make(command, args, { stdin: "ignore" })
      const [output, exitCode] = yield* Effect.all([
        handle.all.pipe(Stream.decodeText(), Stream.mkString),
        handle.exitCode
      ], { concurrency: "unbounded" })
      return { output, exitCode: Number(exitCode) } satisfies MergedResult
    })
  ).pipe(
    Effect.mapError((e) => new SpawnFailed({ command, notFound: e.reason._tag === "NotFound", reason: e.message }))
  )
