/**
 * Feedback while apply/down run: one live line on a terminal listing the steps running for more
 * than a second, with their elapsed time, and the image pulls running (with the engine's last
 * progress line), each finished pull then one line of its own; on Ctrl-C, what it still waits for; a second Ctrl-C quits
 * at once (exit 130) naming the steps left in an unknown state, after ending the engine clients it
 * started and removing the private env files of launches in flight. Without a terminal: nothing live.
 */
import { Effect } from "effect"
import { removeLiveEnvFiles } from "../backends/container/envfile.js"
import type { PullEvent, PullReporter } from "../backends/container/pull-progress.js"
import { escapeText } from "../errors.js"
import { endChildren } from "../proc.js"
import type { Step } from "../reconcile/plan.js"

export interface Progress {
  readonly started: (steps: ReadonlyArray<Step>) => Effect.Effect<void>
  readonly finished: (step: Step) => Effect.Effect<void>
  /** Print a result line without tearing the live line. */
  readonly print: (write: () => void) => Effect.Effect<void>
  /** What a launch's image pull reports to (provided as `PullProgress` on a terminal only). */
  readonly pulls: PullReporter
}

/** A pull in flight: since when, and the engine's last progress line. */
export interface RunningPull {
  readonly started: number
  last: string
}

/**
 * The live line (pure): what has run for more than a second, steps then pulls, cut to the width.
 * A pull shows the engine's last line, escaped (it comes from a registry).
 */
export const liveLine = (
  steps: ReadonlyArray<readonly [Step, number]>,
  pulls: ReadonlyArray<readonly [PullEvent, RunningPull]>,
  now: number,
  columns: number
): string | null => {
  const secs = (t: number) => `${((now - t) / 1000).toFixed(0)}s`
  const parts = [
    ...steps.filter(([, t]) => now - t > 1000).map(([s, t]) => `${s.session} ${s._tag.toLowerCase()} ${secs(t)}`),
    ...pulls.filter(([, p]) => now - p.started > 1000).map(([e, p]) => `pull ${escapeText(e.image)} ${secs(p.started)}${p.last === "" ? "" : `: ${escapeText(p.last.trim())}`}`)
  ]
  return parts.length === 0 ? null : `  … ${parts.join(", ")}`.slice(0, columns - 1)
}

/** The line a finished pull leaves on the terminal (its failure's reason is in the step's own result line). */
export const pullDoneLine = (e: PullEvent, seconds: number, failed: boolean): string =>
  failed
    ? `  pull of ${escapeText(e.image)} from ${escapeText(e.registry)} failed (${seconds.toFixed(1)}s)`
    : `  pulled ${escapeText(e.image)} from ${escapeText(e.registry)} (${seconds.toFixed(1)}s)`

export const withProgress = <A, E, R>(live: boolean, body: (p: Progress) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const running = new Map<Step, number>()
  const pulling = new Map<PullEvent, RunningPull>()
  let shown = false
  let interrupts = 0
  const clear = () => {
    if (shown) process.stderr.write("\r\u001b[2K")
    shown = false
  }
  const draw = () => {
    if (!live) return
    // A pseudo-terminal with no size set reports 0 columns: then assume 100, never slice(0, -1).
    const columns = process.stderr.columns !== undefined && process.stderr.columns > 0 ? process.stderr.columns : 100
    const line = liveLine([...running], [...pulling], performance.now(), columns)
    clear()
    if (line === null) return
    process.stderr.write(line)
    shown = true
  }
  const printNow = (write: () => void) => {
    clear()
    write()
    draw()
  }
  const pulls: PullReporter = {
    began: (e) => void pulling.set(e, { started: performance.now(), last: "" }),
    line: (e, text) => {
      const p = pulling.get(e)
      if (p !== undefined) p.last = text
    },
    ended: (e, failure) => {
      const p = pulling.get(e)
      if (p === undefined) return
      pulling.delete(e)
      if (live) printNow(() => process.stderr.write(`${pullDoneLine(e, (performance.now() - p.started) / 1000, failure !== null)}\n`))
    }
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
        print: (write) => Effect.sync(() => printNow(write)),
        pulls
      }),
    (timer) =>
      Effect.sync(() => {
        if (timer !== undefined) clearInterval(timer)
        clear()
        process.off("SIGINT", onSigint)
      })
  )
}
