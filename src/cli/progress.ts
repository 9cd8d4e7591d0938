/**
 * Feedback while apply/down run: one live line on a terminal listing the steps running for more
 * than a second, with their elapsed time; on Ctrl-C, what it still waits for; a second Ctrl-C quits
 * at once (exit 130) naming the steps left in an unknown state, after ending the engine clients it
 * started and removing the private env files of launches in flight. Without a terminal: nothing live.
 */
import { Effect } from "effect"
import { removeLiveEnvFiles } from "../backends/container/envfile.js"
import { endChildren } from "../proc.js"
import type { Step } from "../reconcile/plan.js"

export interface Progress {
  readonly started: (steps: ReadonlyArray<Step>) => Effect.Effect<void>
  readonly finished: (step: Step) => Effect.Effect<void>
  /** Print a result line without tearing the live line. */
  readonly print: (write: () => void) => Effect.Effect<void>
}

export const withProgress = <A, E, R>(live: boolean, body: (p: Progress) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const running = new Map<Step, number>()
  let shown = false
  let interrupts = 0
  const clear = () => {
    if (shown) process.stderr.write("\r\u001b[2K")
    shown = false
  }
  const draw = () => {
    if (!live) return
    const now = performance.now()
    const slow = [...running].filter(([, t]) => now - t > 1000)
    clear()
    if (slow.length === 0) return
    const parts = slow.map(([s, t]) => `${s.session} ${s._tag.toLowerCase()} ${((now - t) / 1000).toFixed(0)}s`)
    // A pseudo-terminal with no size set reports 0 columns: then assume 100, never slice(0, -1).
    const columns = process.stderr.columns !== undefined && process.stderr.columns > 0 ? process.stderr.columns : 100
    process.stderr.write(`  … ${parts.join(", ")}`.slice(0, columns - 1))
    shown = true
  }
  const names = () => [...running.keys()].map((s) => s.session).join(", ")
  const onSigint = () => {
    interrupts++
    clear()
    if (interrupts === 1) {
      if (running.size > 0) {
        process.stderr.write(`Interrupted: waiting for ${running.size} running step(s) to finish: ${names()}. Press Ctrl-C again to quit now.\n`)
      }
    } else {
      process.stderr.write(`Quit: ${running.size === 0 ? "no step was running" : `left in an unknown state: ${names()}`}.\n`)
      // No finalizer runs from here: end the engine clients still running (a hung `podman run`)
      // and remove the env files of the launches in flight, then exit.
      endChildren()
      removeLiveEnvFiles()
      process.exit(130)
    }
  }
  return Effect.acquireUseRelease(
    Effect.sync(() => {
      process.on("SIGINT", onSigint)
      return live ? setInterval(draw, 500) : undefined
    }),
    () =>
      body({
        started: (steps) => Effect.sync(() => steps.forEach((s) => running.set(s, performance.now()))),
        finished: (step) => Effect.sync(() => running.delete(step)),
        print: (write) =>
          Effect.sync(() => {
            clear()
            write()
            draw()
          })
      }),
    (timer) =>
      Effect.sync(() => {
        if (timer !== undefined) clearInterval(timer)
        clear()
        process.off("SIGINT", onSigint)
      })
  )
}
