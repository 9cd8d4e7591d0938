/**
 * A ChildProcessSpawner that starts nothing: it answers from `respond` and records argv. Its layer
 * also gives tmux a socket directory of its own (no socket files to discover, a server on every
 * socket asked for) and a PATH of its own (every program found, at `/usr/bin/NAME`, unless `path`
 * says otherwise), so nothing real is read or run.
 */
import { type Duration, Effect, Layer, Sink, Stream } from "effect"
import type { SocketDirectory } from "../backends/tmux/sockets.js"
import { TmuxSocketDirectory } from "../backends/tmux/sockets.js"
import type { PathLookupService } from "../transport/path.js"
import { PathLookup } from "../transport/path.js"
import { ChildProcess, ChildProcessSpawner } from "effect/process"

/** A tmux socket directory with no socket files and a server listening on every socket. */
export const emptySocketDirectory: SocketDirectory = { discover: Effect.succeed([]), listens: () => Effect.succeed(true) }

/** A PATH from memory: each program at its path here (null: not installed); the others at `/usr/bin/NAME`. */
export const memoryPath = (found: Readonly<Record<string, string | null>> = {}): PathLookupService => ({
  find: (binary) => Effect.succeed(binary in found ? found[binary]! : `/usr/bin/${binary}`)
})

/** What the fake program prints and exits with (default: nothing, 0). */
export interface FakeResult {
  readonly stdout?: string
  readonly stderr?: string
  readonly exitCode?: number
  /** How long the fake program runs before it exits (default: it exits at once). */
  readonly runsFor?: Duration.Input
}

/**
 * The fake spawner: `respond` answers each command (program and arguments); `calls` records every
 * argv, program first. `layer` provides the spawner, the socket directory and the PATH.
 */
export const fakeSpawner = (
  respond: (cmd: string, args: ReadonlyArray<string>) => FakeResult,
  options: { readonly path?: Readonly<Record<string, string | null>> } = {}
) => {
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
          exitCode: Effect.as(r.runsFor === undefined ? Effect.void : Effect.sleep(r.runsFor), ChildProcessSpawner.ExitCode(r.exitCode ?? 0)),
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
  const settings = Layer.merge(Layer.succeed(TmuxSocketDirectory, emptySocketDirectory), Layer.succeed(PathLookup, memoryPath(options.path)))
  return { layer: Layer.merge(spawner, settings), calls }
}
