/**
 * The container half of the runtime layer: one service, a Podman dialect and a Docker dialect.
 * CONTRACT (implementation in progress): see the shape below.
 */
import { Context } from "effect"
import type { Duration, Effect, Stream } from "effect"
import type {
  CommandFailed,
  ContainerRuntimeNotFound,
  SessionAttachFailed,
  SessionNotFound,
  SessionStartFailed,
  SessionStopFailed
} from "../errors.js"
import type { ContainerSpec, ObservedSession, RuntimeName } from "../model.js"

export interface ContainerStopOptions {
  readonly force?: boolean
  readonly timeout?: number
}

export class Containers extends Context.Service<Containers, {
  /** Runtimes on PATH, in auto-detect order (podman, then docker). Cached after the first look. */
  readonly available: Effect.Effect<ReadonlyArray<RuntimeName>>
  /** The requested runtime if it is on PATH, else (requested null) the first available, else ContainerRuntimeNotFound. */
  readonly resolveRuntime: (requested: RuntimeName | null) => Effect.Effect<RuntimeName, ContainerRuntimeNotFound>
  /** Every container of each runtime, owned or not: one `ps -a` call per runtime. */
  readonly observe: (runtimes: ReadonlyArray<RuntimeName>) => Effect.Effect<ReadonlyArray<ObservedSession>, CommandFailed>
  /** Container-only inspection of one name (never matches an image). */
  readonly inspect: (name: string, runtime: RuntimeName) => Effect.Effect<ObservedSession, SessionNotFound | CommandFailed>
  /**
   * `run -d` with ownership labels and the spec hash. A container that exits within `settle` is a
   * SessionStartFailed with its exit code and last log lines.
   */
  readonly start: (
    spec: ContainerSpec,
    runtime: RuntimeName,
    options: { readonly settle: Duration.Input }
  ) => Effect.Effect<ObservedSession, SessionStartFailed>
  /** Starts an existing stopped/exited container again (`start NAME`). */
  readonly restart: (
    name: string,
    runtime: RuntimeName,
    options: { readonly settle: Duration.Input }
  ) => Effect.Effect<ObservedSession, SessionNotFound | SessionStartFailed>
  /** Graceful `stop -t`, or `kill` with force; an owned container is then removed, a foreign one only stopped. */
  readonly stop: (
    name: string,
    runtime: RuntimeName,
    options?: ContainerStopOptions
  ) => Effect.Effect<void, SessionNotFound | SessionStopFailed>
  /** Removes a container whatever its state (used to replace/prune owned ones). */
  readonly remove: (name: string, runtime: RuntimeName) => Effect.Effect<void, SessionNotFound | SessionStopFailed>
  readonly logs: (name: string, runtime: RuntimeName, options?: { readonly lines?: number }) => Effect.Effect<string, SessionNotFound | CommandFailed>
  readonly follow: (name: string, runtime: RuntimeName) => Stream.Stream<string, SessionNotFound | CommandFailed>
  /** Runs argv in the container; interactive inherits the terminal. Returns the exit code. */
  readonly exec: (
    name: string,
    runtime: RuntimeName,
    argv: ReadonlyArray<string>,
    options?: { readonly interactive?: boolean }
  ) => Effect.Effect<{ readonly exitCode: number; readonly stdout: string; readonly stderr: string }, SessionNotFound | CommandFailed>
  readonly attach: (name: string, runtime: RuntimeName) => Effect.Effect<void, SessionNotFound | SessionAttachFailed>
}>()("kstlib/Containers") {}
