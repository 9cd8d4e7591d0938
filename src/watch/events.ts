/**
 * What tells `ops watch` that something may have drifted, without a busy poll:
 *   - container engines: `podman events` / `docker events` filtered by the project's label, one JSON
 *     object per line (each line is a nudge; the pass that follows observes what it means);
 *   - tmux: a control-mode client (`tmux -C attach -f no-output,read-only,ignore-size`) on one of
 *     the project's sessions per socket. tmux tells every control client when a session is created
 *     or destroyed (`%sessions-changed`) and ends it (`%exit`) when the session it watches goes.
 *     No hook, no global option is set on the user's server.
 * A source that ends (engine restarted, session gone) is started again after a short pause.
 */
import { Duration, Effect, Queue, Schedule, Stream } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import { socketArgs } from "../backends/tmux/argv.js"
import { Marks } from "../model.js"
import { run, streamLines } from "../proc.js"

export type Nudge =
  | { readonly source: "engine"; readonly runtime: string; readonly detail: string }
  | { readonly source: "tmux"; readonly socket: string | null; readonly detail: string }

/** `podman events` / `docker events` arguments: container events of this project only, as JSON lines. */
export const engineEventsArgs = (project: string): ReadonlyArray<string> => [
  "events",
  "--filter",
  "type=container",
  "--filter",
  `label=${Marks.labelProject}=${project}`,
  "--format",
  "{{json .}}"
]

/** `die web`, `start web`: what an engine event line says, for the change line (unreadable: the line's start). */
export const describeEngineEvent = (line: string): string => {
  try {
    const e = JSON.parse(line) as Record<string, unknown>
    const actor = e["Actor"] as { Attributes?: Record<string, unknown> } | undefined
    const action = e["Action"] ?? e["Status"] ?? e["status"]
    const name = actor?.Attributes?.["name"] ?? e["Name"] ?? e["name"]
    return `${String(action ?? "event")} ${String(name ?? "")}`.trim()
  } catch {
    return line.slice(0, 60)
  }
}

/** Control-mode lines that mean a session came or went (everything else is ignored). */
export const tmuxNudgeOf = (line: string): string | null => {
  const word = line.split(" ", 1)[0] ?? ""
  return ["%sessions-changed", "%session-changed", "%exit", "%window-close", "%unlinked-window-close"].includes(word) ? word.slice(1) : null
}

/** `tmux` arguments of a control client on `session` that never writes, never resizes, gets no pane output. */
export const controlArgs = (socket: string | null, session: string): ReadonlyArray<string> => [
  ...socketArgs(socket, (process.env["TMUX"] ?? "") !== ""),
  "-C",
  "attach-session",
  "-t",
  `=${session}`,
  "-f",
  "no-output,read-only,ignore-size"
]

const RETRY = Duration.seconds(1)

/** One engine's events, forever: each line is a nudge; an ended or failed stream is started again. */
export const engineEvents = (runtime: string, project: string, nudges: Queue.Queue<Nudge>) =>
  streamLines(runtime, engineEventsArgs(project)).pipe(
    Stream.runForEach((line) => (line.trim() === "" ? Effect.void : Queue.offer(nudges, { source: "engine", runtime, detail: describeEngineEvent(line) }))),
    Effect.ignore,
    Effect.andThen(Effect.sleep(RETRY)),
    Effect.forever
  )

/** A session of this project on `socket` (null: none, or no server). */
const projectSession = (tmux: string, socket: string | null, project: string) =>
  run(tmux, [...socketArgs(socket, (process.env["TMUX"] ?? "") !== ""), "list-sessions", "-F", `#{session_name}\t#{${Marks.tmuxProject}}`]).pipe(
    Effect.map((r) =>
      r.exitCode !== 0 ? null : r.stdout.split("\n").map((l) => l.split("\t")).find(([name, p]) => name !== undefined && name !== "" && p === project)?.[0] ?? null
    ),
    Effect.orElseSucceed(() => null)
  )

/**
 * One tmux socket, forever: a control client on one of the project's sessions, its notifications
 * as nudges; when it ends (its session went), a nudge, then a new client. With no session of the
 * project there, it waits for `kick` (the watcher's pass launched something) or `idle`.
 */
export const tmuxEvents = (
  tmux: string,
  socket: string | null,
  project: string,
  nudges: Queue.Queue<Nudge>,
  kick: Queue.Queue<void>,
  idle: Duration.Duration
): Effect.Effect<never, never, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function*() {
    const session = yield* projectSession(tmux, socket, project)
    if (session === null) {
      yield* Queue.take(kick).pipe(Effect.timeoutOption(idle))
      yield* Queue.clear(kick)
      return
    }
    yield* streamLines(tmux, controlArgs(socket, session), { keepStdin: true }).pipe(
      Stream.runForEach((line) => {
        const what = tmuxNudgeOf(line)
        return what === null ? Effect.void : Queue.offer(nudges, { source: "tmux", socket, detail: what })
      }),
      Effect.ignore
    )
    yield* Queue.offer(nudges, { source: "tmux", socket, detail: "client ended" })
    yield* Effect.sleep(Duration.millis(300))
  }).pipe(Effect.repeat(Schedule.forever), Effect.andThen(Effect.never))
