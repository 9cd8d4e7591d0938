/**
 * Running external programs (tmux, podman, docker) through Effect's ChildProcessSpawner, so tests can
 * swap in a fake spawner for argv/parsing unit tests or a counting one around the real spawner.
 */
import { Effect, Schema, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import type { PlatformError } from "effect/PlatformError"

/** The program could not be started at all (not found, not executable). Backends turn it into their own error. */
export class SpawnFailed extends Schema.TaggedError<SpawnFailed>()("SpawnFailed", {
  command: Schema.String,
  notFound: Schema.Boolean,
  reason: Schema.String
}) {
  override get message() {
    return `cannot run ${this.command}: ${this.reason}`
  }
}

export interface RunResult {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number
}

export interface RunOptions {
  readonly cwd?: string
  /** Added to the inherited environment. */
  readonly env?: Readonly<Record<string, string>>
  /** Written to the child's stdin, then closed. */
  readonly input?: string
}

const toSpawnFailed = (command: string) => (e: PlatformError) =>
  new SpawnFailed({
    command,
    notFound: e.reason._tag === "NotFound",
    reason: e.message
  })

/** Runs to completion, capturing stdout, stderr (drained concurrently) and the exit code. */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: RunOptions = {}
): Effect.Effect<RunResult, SpawnFailed, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.scoped(
    Effect.gen(function*() {
      const handle = yield* ChildProcess.make(command, args, {
        ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
        ...(options.env !== undefined ? { env: { ...options.env }, extendEnv: true } : {}),
        stdin: options.input !== undefined ? { stream: Stream.make(new TextEncoder().encode(options.input)) } : "ignore"
      })
      const [stdout, stderr, exitCode] = yield* Effect.all([
        handle.stdout.pipe(Stream.decodeText(), Stream.mkString),
        handle.stderr.pipe(Stream.decodeText(), Stream.mkString),
        handle.exitCode
      ], { concurrency: "unbounded" })
      return { stdout, stderr, exitCode: Number(exitCode) } satisfies RunResult
    })
  ).pipe(Effect.mapError(toSpawnFailed(command)))

/**
 * Hands the user's terminal to a child (`tmux attach`, `podman attach`): stdio inherited and not
 * detached, so it keeps the controlling tty and receives SIGWINCH. Returns the exit code.
 */
export const interactive = (
  command: string,
  args: ReadonlyArray<string>
): Effect.Effect<number, SpawnFailed, ChildProcessSpawner.ChildProcessSpawner> =>
  ChildProcessSpawner.ChildProcessSpawner.use((spawner) =>
    spawner.exitCode(ChildProcess.make(command, args, {
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
      detached: false
    }))
  ).pipe(Effect.map(Number), Effect.mapError(toSpawnFailed(command)))

/** Lines of a long-running child (stdout and stderr), until it ends or the stream is interrupted (which kills it). */
export const streamLines = (
  command: string,
  args: ReadonlyArray<string>
): Stream.Stream<string, SpawnFailed, ChildProcessSpawner.ChildProcessSpawner> =>
  Stream.unwrap(
    ChildProcessSpawner.ChildProcessSpawner.use((spawner) =>
      Effect.succeed(spawner.streamLines(ChildProcess.make(command, args, { stdin: "ignore" }), { includeStderr: true }))
    )
  ).pipe(Stream.mapError(toSpawnFailed(command)))
