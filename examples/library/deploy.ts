/**
 * A small library built on kstlib's `Kstlib` service: `deploy` converges the config and reports
 * progress through a handler of the caller's own (any error, any services: `applyWith`), then fails with a typed `StepsFailed` if any step did not succeed.
 * `examples/library/deploy.test.ts` unit-tests it on kstlib/testing's in-memory backends.
 */
import type { Duration } from "effect"
import { Effect } from "effect"
import type { ApplyEvent } from "kstlib"
import { actionOf, Kstlib, renderPlan, requireSuccess } from "kstlib"

/** One progress line per event worth a line (the plan, each finished step). */
export const progressLine = (e: ApplyEvent): string | null => {
  switch (e._tag) {
    case "Planned":
      return renderPlan(e.planned.plan, { color: false })
    case "StepFinished": {
      const r = e.result
      return `${r.error === null ? "ok    " : "failed"} ${actionOf(r.step)} ${r.step.session}${r.error === null ? "" : `: ${r.error.message}`}`
    }
    default:
      return null
  }
}

/**
 * Applies the config (only `names`, if given), each progress line to `onLine`, and succeeds with the
 * report only when every step succeeded.
 */
export const deploy = <E, R>(
  onLine: (line: string) => Effect.Effect<void, E, R>,
  options: { readonly names?: ReadonlyArray<string>; readonly settle?: Duration.Input } = {}
) =>
  Effect.gen(function*() {
    const kstlib = yield* Kstlib
    const report = yield* kstlib.applyWith(
      (e) => {
        const line = progressLine(e)
        return line === null ? Effect.void : onLine(line)
      },
      { only: options.names ?? [] },
      options.settle === undefined ? {} : { settle: options.settle }
    )
    return yield* requireSuccess(report)
  })
