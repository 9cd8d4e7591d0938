/**
 * Running external programs (tmux, podman, docker) through Effect's ChildProcessSpawner, so tests can
 * swap in a fake spawner for argv/parsing unit tests or a counting one around the real spawner.
 *
 * Every call has a timeout (a hanging engine must not hang kstlib) and is interruptible: closing the
 * call's scope kills the child's process group. The process groups of calls still running are
 * known (`endChildren`), so a forced quit, which runs no finalizer, ends them too. Every call is
 * logged at debug level with its argv, exit code and duration (`kstlib --log-level debug …`); argv
 * never carries env values (they travel in the child's environment or a private file), so the log
 * may show it whole.
 */
import * as NodeChildProcessSpawner from "@effect/platform-node/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Context, Duration, Effect, Layer, Option, Schema, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import type { PlatformError } from "effect/PlatformError"
import { BackendTimeout, escapeText } from "./errors.js"

/**
 * Node's process spawner and nothing else of Node's services (no stdio, no terminal): what kstlib's
 * calls need. Subpath imports, so a library import does not load the platform's whole barrel.
 */
export const nodeSpawnerLayer: Layer.Layer<ChildProcessSpawner.ChildProcessSpawner> = NodeChildProcessSpawner.layer.pipe(
  Layer.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer))
)

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

/** Seconds any one external call may take: `KSTLIB_CALL_TIMEOUT` (default 60), or provided by a program. */
export const CallTimeout = Context.Reference<number>("kstlib/CallTimeout", {
  defaultValue: () => {
    const env = Number(process.env["KSTLIB_CALL_TIMEOUT"])
    return Number.isFinite(env) && env > 0 ? env : 60
  }
})

export interface RunResult {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number
}

export interface RunOptions {
  readonly cwd?: string
  /** Added to the inherited environment (this is how env values reach a child: never on argv). */
  readonly env?: Readonly<Record<string, string>>
  /** `env` is the child's whole environment: nothing inherited. */
  readonly onlyEnv?: boolean
  /** Written to the child's stdin, then closed. */
  readonly input?: string
  /** stdout and stderr as ONE text in arrival order (in `stdout`; `stderr` is then empty). */
  readonly merged?: boolean
  /** At least this many seconds, whatever CallTimeout says (a graceful `stop -t 30` needs 30 s). */
  readonly minTimeout?: number
  /**
   * Each line of output (stdout and stderr, `\r` ending a line too) as it arrives, while the whole is
   * still captured: a pull's progress on a terminal. Not with `merged`.
   */
  readonly onLine?: (line: string) => void
}

/**
 * Bytes of each output stream `run` keeps: the last ones (answers, JSON ends and error reasons come
 * last). A host may answer with endless output, which whole would exceed memory or V8's longest
 * string and end kstlib itself, not just the call.
 */
export const MAX_OUTPUT_BYTES = 64 * 1024 * 1024

/** A byte stream's text, at most MAX_OUTPUT_BYTES of it: its end (a character cut in two shows as U+FFFD). */
const tailText = <E, R>(bytes: Stream.Stream<Uint8Array, E, R>) =>
  Stream.runFold(bytes, () => ({ chunks: [] as Array<Uint8Array>, size: 0 }), (acc, chunk) => {
    acc.chunks.push(chunk)
    acc.size += chunk.length
    // whole chunks dropped while the rest still holds the limit
    while (acc.size - acc.chunks[0]!.length >= MAX_OUTPUT_BYTES) acc.size -= acc.chunks.shift()!.length
    return acc
  }).pipe(Effect.map(({ chunks }) => Buffer.concat(chunks).subarray(-MAX_OUTPUT_BYTES).toString("utf8")))

/** The bytes of a stream passed on unchanged, each whole line of them handed to `onLine` on the way (a last partial line too, at its end). */
const tapLines = <E, R>(bytes: Stream.Stream<Uint8Array, E, R>, onLine: ((line: string) => void) | undefined): Stream.Stream<Uint8Array, E, R> => {
  if (onLine === undefined) return bytes
  const decoder = new TextDecoder()
  let pending = ""
  const feed = (text: string) => {
    const parts = (pending + text).split(/\r\n|\r|\n/u)
    pending = parts.pop()!
    for (const line of parts) if (line.trim() !== "") onLine(line)
  }
  return bytes.pipe(
    Stream.tap((chunk) => Effect.sync(() => feed(decoder.decode(chunk, { stream: true })))),
    Stream.onEnd(Effect.sync(() => {
      feed(decoder.decode())
      if (pending.trim() !== "") onLine(pending)
      pending = ""
    }))
  )
}

const toSpawnFailed = (command: string) => (e: PlatformError) =>
  new SpawnFailed({ command, notFound: e.reason._tag === "NotFound", reason: e.message })

/**
 * The command as shown in errors and logs: program and arguments, long ones shortened, control
 * characters escaped (an argument may be a name a host reported).
 */
export const showCommand = (command: string, args: ReadonlyArray<string>): string =>
  escapeText([command, ...args].map((a) => (a.length > 80 ? `${a.slice(0, 77)}...` : a)).join(" "))

const spawnOptions = (options: RunOptions) => ({
  ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  ...(options.env !== undefined ? { env: { ...options.env }, extendEnv: options.onlyEnv !== true } : {}),
  stdin: options.input !== undefined ? { stream: Stream.make(new TextEncoder().encode(options.input)) } : "ignore" as const,
  // A child that ignores SIGTERM is killed after this when its call is interrupted or times out.
  forceKillAfter: Duration.seconds(2)
})

/** Process groups (each child of `run` leads its own) whose call has not ended yet. */
const liveGroups = new Set<number>()
let hooked = false

/**
 * Kills the process group of every call still running, at once (SIGKILL): the forced quit (second
 * Ctrl-C) and any other `process.exit` run no finalizer, and a hung `podman run` must not outlive
 * kstlib. Also run by an `exit` hook.
 */
export const endChildren = (): void => {
  for (const group of liveGroups) {
    try {
      process.kill(-group, "SIGKILL")
    } catch {
      // already gone
    }
  }
  liveGroups.clear()
}

const trackGroup = (pid: number) => {
  // never a group that is not a child's: kill(-1) would signal every process we may signal (a fake
  // spawner in unit tests answers pid 1)
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return
  if (!hooked) {
    process.on("exit", endChildren)
    hooked = true
  }
  liveGroups.add(pid)
}

/** Runs to completion, capturing output and the exit code, within the call timeout. */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: RunOptions = {}
): Effect.Effect<RunResult, SpawnFailed | BackendTimeout, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function*() {
    const seconds = Math.max(yield* CallTimeout, options.minTimeout ?? 0)
    const started = performance.now()
    const call = Effect.scoped(
      Effect.gen(function*() {
        // Added before the spawn, so it runs after the spawner's own cleanup has ended the group.
        const group: { pid: number | null } = { pid: null }
        yield* Effect.addFinalizer(() => Effect.sync(() => void (group.pid !== null && liveGroups.delete(group.pid))))
        // Calls started together (observe's engines) spawn together: without this yield the first
        // one's post-spawn setup runs before the others start (its spawn event is a nextTick, ahead of
        // the scheduler's queue), so each engine call began ~15-20 ms after the previous one.
        yield* Effect.yieldNow
        const handle = yield* ChildProcess.make(command, args, spawnOptions(options))
        group.pid = Number(handle.pid)
        trackGroup(group.pid)
        if (options.merged === true) {
          const [output, exitCode] = yield* Effect.all([
            tailText(handle.all),
            handle.exitCode
          ], { concurrency: "unbounded" })
          return { stdout: output, stderr: "", exitCode: Number(exitCode) } satisfies RunResult
        }
        const [stdout, stderr, exitCode] = yield* Effect.all([
          tailText(tapLines(handle.stdout, options.onLine)),
          tailText(tapLines(handle.stderr, options.onLine)),
          handle.exitCode
        ], { concurrency: "unbounded" })
        return { stdout, stderr, exitCode: Number(exitCode) } satisfies RunResult
      })
    ).pipe(Effect.mapError(toSpawnFailed(command)))
    const result = yield* Effect.timeoutOption(call, Duration.seconds(seconds))
    const ms = Math.round(performance.now() - started)
    if (Option.isNone(result)) {
      yield* Effect.logDebug(`timeout after ${ms}ms: ${showCommand(command, args)}`)
      return yield* new BackendTimeout({ command: showCommand(command, args.slice(0, 3)), seconds })
    }
    yield* Effect.logDebug(`exit ${result.value.exitCode} in ${ms}ms: ${showCommand(command, args)}`)
    return result.value
  }).pipe(Effect.tapError((e) => Effect.logDebug(`failed: ${showCommand(command, args)}: ${e.message}`)))

/**
 * Hands the user's terminal to a child (`tmux attach`, `podman attach`): stdio inherited and not
 * detached, so it keeps the controlling tty and receives SIGWINCH. No timeout: the user ends it.
 */
export const interactive = (
  command: string,
  args: ReadonlyArray<string>,
  options: Pick<RunOptions, "env"> = {}
): Effect.Effect<number, SpawnFailed, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.logDebug(`interactive: ${showCommand(command, args)}`).pipe(
    Effect.andThen(ChildProcessSpawner.ChildProcessSpawner.use((spawner) =>
      spawner.exitCode(ChildProcess.make(command, args, {
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
        detached: false,
        ...(options.env === undefined ? {} : { env: { ...options.env }, extendEnv: true })
      }))
    )),
    Effect.map(Number),
    Effect.mapError(toSpawnFailed(command))
  )

/**
 * Lines of a long-running child (stdout and stderr) until it ends or the stream is interrupted (which kills it).
 * `keepStdin`: its stdin is a pipe left open (a tmux control client ends at end of input).
 */
export const streamLines = (
  command: string,
  args: ReadonlyArray<string>,
  options: Pick<RunOptions, "env"> & { readonly keepStdin?: boolean } = {}
): Stream.Stream<string, SpawnFailed, ChildProcessSpawner.ChildProcessSpawner> =>
  Stream.unwrap(
    Effect.logDebug(`stream: ${showCommand(command, args)}`).pipe(
      Effect.andThen(ChildProcessSpawner.ChildProcessSpawner.use((spawner) =>
        Effect.succeed(spawner.streamLines(ChildProcess.make(command, args, {
          stdin: options.keepStdin === true ? "pipe" : "ignore",
          ...(options.env === undefined ? {} : { env: { ...options.env }, extendEnv: true })
        }), { includeStderr: true }))
      ))
    )
  ).pipe(Stream.mapError(toSpawnFailed(command)))
