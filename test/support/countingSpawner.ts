/**
 * The real Node spawner, wrapped to record every argv it starts: integration tests use it to assert
 * how many processes an operation costs (e.g. one tmux call per socket to observe).
 */
import { NodeServices } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"

export const countingSpawner = () => {
  const calls: Array<ReadonlyArray<string>> = []
  const layer = Layer.effect(
    ChildProcessSpawner.ChildProcessSpawner,
    Effect.gen(function*() {
      const real = yield* ChildProcessSpawner.ChildProcessSpawner
      return ChildProcessSpawner.make((command) => {
        if (ChildProcess.isStandardCommand(command)) calls.push([command.command, ...command.args.map(String)])
        return real.spawn(command)
      })
    })
  ).pipe(Layer.provide(NodeServices.layer))
  return { layer, calls, reset: () => void calls.splice(0) }
}
