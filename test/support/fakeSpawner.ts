/**
 * A ChildProcessSpawner that starts nothing: it answers from `respond` and records argv. For
 * argv/parsing unit tests only. Its layer also gives tmux a socket directory of its own (no socket
 * files to discover, a server on every socket asked for), so no real directory is read.
 */
import { Effect, Layer, Sink, Stream } from "effect"
import { TmuxSocketDirectory } from "../../src/backends/tmux/sockets.js"
import { ChildProcess, ChildProcessSpawner } from "effect/process"

export interface FakeResult {
  readonly stdout?: string
  readonly stderr?: string
  readonly exitCode?: number
}

export const fakeSpawner = (respond: (cmd: string, args: ReadonlyArray<string>) => FakeResult) => {
  const calls: Array<ReadonlyArray<string>> = []
  const bytes = (s: string | undefined) => Stream.make(new TextEncoder().encode(s ?? ""))
  const spawner = Layer.succeed(
    ChildProcessSpawner.ChildProcessSpawner,
    ChildProcessSpawner.make((command) =>
      Effect.sync(() => {
        if (!ChildProcess.isStandardCommand(command)) throw new Error("pipelines are not faked")
        const args = command.args.map(String)
        calls.push([command.command, ...args])
        const r = respond(command.command, args)
        return ChildProcessSpawner.makeHandle({
          pid: ChildProcessSpawner.ProcessId(1),
          exitCode: Effect.succeed(ChildProcessSpawner.ExitCode(r.exitCode ?? 0)),
          isRunning: Effect.succeed(false),
          kill: () => Effect.void,
          unref: Effect.succeed(Effect.void),
          stdin: Sink.drain,
          stdout: bytes(r.stdout),
          stderr: bytes(r.stderr),
          all: Stream.concat(bytes(r.stdout), bytes(r.stderr)),
          getInputFd: () => Sink.drain,
          getOutputFd: () => Stream.empty
        })
      })
    )
  )
  const sockets = Layer.succeed(TmuxSocketDirectory, { discover: Effect.succeed([]), listens: () => Effect.succeed(true) })
  return { layer: Layer.merge(spawner, sockets), calls }
}
