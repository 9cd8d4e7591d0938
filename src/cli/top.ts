/**
 * `kstlib ops top`: the terminal loop around the pure view (top-view.ts). Every `--interval`
 * seconds one observation (as `list`: one call per tmux socket and engine) and one usage
 * measurement; keys from stdin in raw mode; the frame drawn on the alternate screen, which is left
 * (cursor shown, raw mode off) however the loop ends. Not a terminal, `--once` or `--json`: one
 * frame (or one JSON snapshot) printed, for scripts.
 */
import { Console, Duration, Effect, Fiber, Option, Queue } from "effect"
import { Command, Flag } from "effect/cli"
import { KstlibConfig } from "../config/service.js"
import { InvalidInput } from "../errors.js"
import { unreadableOf } from "../reconcile/observe.js"
import { observeFor } from "../session/locate.js"
import * as Ops from "../session/operations.js"
import type { SessionStatus } from "../session/status.js"
import { listRows, shownSessions } from "../session/status.js"
import { EnvDigests } from "../spec/digest-key.js"
import { withApp } from "./app.js"
import { withDefaultShown } from "./flags.js"
import { statusJson, stdoutStyle } from "./output.js"
import type { Key, TopState } from "./top-view.js"
import { initialState, parseKeys, render, snapshotJson, update, withLogs, withRows } from "./top-view.js"

/** The project's rows, as `list` shows them, with CPU and memory. */
const fetchRows = Effect.gen(function*() {
  const config = yield* KstlibConfig
  const observation = yield* observeFor(config, {})
  const shown = shownSessions(observation.sessions, config, {})
  // the `ready:` probes (one attempt each, at most 1 s) during the CPU window
  const [measured, probed] = yield* Effect.all([
    Ops.usageOf(shown),
    Effect.forEach(shown, (o) => Ops.probeOnce(o, config).pipe(Effect.timeoutOption("1 second"), Effect.map((r) => [o.name, Option.getOrNull(r)] as const)), {
      concurrency: "unbounded"
    })
  ], { concurrency: 2 })
  const usage = new Map(shown.map((o, i) => [o, measured[i] ?? null] as const))
  const ready = new Map(probed.filter(([, r]) => r !== null))
  return listRows(observation.sessions, config, { digest: yield* EnvDigests, unreadable: unreadableOf(observation), usage })
    .map((row) => (ready.has(row.name) ? { ...row, ready: ready.get(row.name)! } : row))
})

type Event =
  | { readonly kind: "rows"; readonly rows: ReadonlyArray<SessionStatus> }
  | { readonly kind: "key"; readonly key: Key }
  | { readonly kind: "logs"; readonly name: string; readonly lines: ReadonlyArray<string> }
  | { readonly kind: "message"; readonly text: string }
  | { readonly kind: "resize" }

const ENTER = "\x1b[?1049h\x1b[?25l"
const LEAVE = "\x1b[?25h\x1b[?1049l"

/** Raw keys and the alternate screen for the loop's life; restored on any end (q, Ctrl-C, an error, interruption). */
const terminal = (events: Queue.Queue<Event>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const onData = (data: Buffer | string) => {
        for (const key of parseKeys(data.toString())) Queue.offerUnsafe(events, { kind: "key", key })
      }
      const onResize = () => void Queue.offerUnsafe(events, { kind: "resize" })
      process.stdin.setRawMode?.(true)
      process.stdin.on("data", onData)
      process.stdin.resume()
      process.stdout.on("resize", onResize)
      process.stdout.write(ENTER)
      return { onData, onResize }
    }),
    ({ onData, onResize }) =>
      Effect.sync(() => {
        process.stdout.write(LEAVE)
        process.stdout.off("resize", onResize)
        process.stdin.off("data", onData)
        process.stdin.setRawMode?.(false)
        process.stdin.pause()
      })
  )

const interactiveLoop = (interval: Duration.Duration, title: string) =>
  Effect.scoped(Effect.gen(function*() {
    const events = yield* Queue.unbounded<Event>()
    yield* terminal(events)
    const style = stdoutStyle()
    let state: TopState = initialState(Date.now())
    const draw = () => {
      const lines = render(state, { width: process.stdout.columns ?? 80, height: process.stdout.rows ?? 24, style, title, interactive: true })
      // home, each line cleared to its end, the rest of the screen cleared: no flicker
      process.stdout.write(`\x1b[H${lines.map((l) => `${l}\x1b[K`).join("\r\n")}\x1b[J`)
    }
    yield* Effect.sync(draw)
    const refresh = yield* fetchRows.pipe(
      Effect.flatMap((rows) => Queue.offer(events, { kind: "rows", rows })),
      Effect.andThen(Effect.sleep(interval)),
      Effect.forever,
      Effect.forkScoped
    )
    /** A session verb in the background; its outcome comes back as an event. */
    const background = <R>(work: Effect.Effect<Event, never, R>) => Effect.forkScoped(work.pipe(Effect.flatMap((e) => Queue.offer(events, e))))
    while (true) {
      const e = yield* Queue.take(events)
      if (e.kind === "rows") state = withRows(state, e.rows, Date.now())
      else if (e.kind === "logs") state = withLogs(state, e.name, e.lines)
      else if (e.kind === "message") state = { ...state, message: e.text }
      else if (e.kind === "key") {
        const r = update(state, e.key)
        state = r.state
        const c = r.command
        if (c?.kind === "quit") break
        if (c?.kind === "restart") {
          yield* background(Ops.restart(c.name).pipe(
            Effect.match({ onSuccess: () => ({ kind: "message", text: `${c.name} restarted` }), onFailure: (err) => ({ kind: "message", text: `${c.name}: ${err.message}` }) })
          ))
        }
        if (c?.kind === "logs") {
          const lines = Math.max(5, (process.stdout.rows ?? 24) - 3)
          yield* background(Ops.logs(c.name, {}, { lines }).pipe(
            Effect.match({
              onSuccess: (text): Event => ({ kind: "logs", name: c.name, lines: text === "" ? [] : text.split("\n") }),
              onFailure: (err): Event => ({ kind: "logs", name: c.name, lines: [`(no logs: ${err.message})`] })
            })
          ))
        }
      }
      yield* Effect.sync(draw)
    }
    yield* Fiber.interrupt(refresh)
  }))

const topCommand = Command.make("top", {
  interval: Flag.Finite("interval").pipe(withDefaultShown("Seconds between refreshes.", 2)),
  once: Flag.Boolean("once").pipe(Flag.withDescription("Print one frame and exit (also when stdout is not a terminal)."), Flag.withDefault(false)),
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print one JSON snapshot and exit."), Flag.withDefault(false))
}, (f) =>
  withApp(Effect.gen(function*() {
    if (!(f.interval >= 0.2 && f.interval <= 3600)) return yield* new InvalidInput({ field: "--interval", reason: "must be between 0.2 and 3600 seconds" })
    const config = yield* KstlibConfig
    const title = `kstlib top · project ${config.project}`
    const tty = process.stdout.isTTY === true && process.stdin.isTTY === true
    if (f.json || f.once || !tty) {
      const state = withRows(initialState(Date.now()), yield* fetchRows, Date.now())
      if (f.json) return yield* Console.log(JSON.stringify(snapshotJson(state, statusJson), null, 2))
      const width = process.stdout.isTTY === true ? process.stdout.columns ?? 80 : 1000
      return yield* Console.log(render(state, { width, height: Infinity, style: stdoutStyle(), title, interactive: false }).join("\n"))
    }
    yield* interactiveLoop(Duration.seconds(f.interval), `${title} · every ${f.interval}s`)
  }), { tolerant: true })).pipe(
  Command.withDescription(
    "A live view of the project's sessions: state, pid, restarts, last exit, CPU, memory, uptime. Keys: j/k or arrows move, s sort, / filter, Enter logs, r restart (y/n), q quits."
  ),
  Command.withExamples([
    { command: "kstlib ops top", description: "Live, refreshed every 2 s" },
    { command: "kstlib ops top --once", description: "One frame, for a script or a log" },
    { command: "kstlib ops top --json | jq '.sessions[] | {name, cpu_percent}'", description: "One JSON snapshot" }
  ])
)

export const topCommands = [topCommand] as const

