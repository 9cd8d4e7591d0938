/** A ChildProcessSpawner that starts nothing: it answers from `respond` and records argv. For argv/parsing unit tests only. */
import { Effect, Layer, Sink, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"

export interface FakeResult {
  readonly stdout?: string
  readonly stderr?: string
  readonly exitCode?: number
}

export const fakeSpawner = (respond: (cmd: string, args: ReadonlyArray<string>) => FakeResult) => {
  const calls: Array<ReadonlyArray<string>> = []
  const bytes = (s: string | undefined) => Stream.make(new TextEncoder().encode(s ?? ""))
  const layer = Layer.succeed(
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
  return { layer, calls }
}
