/**
 * kstlib as a library: load a config, plan, print the plan, apply it, and report — a small Effect
 * program composing kstlib's services. Run (after `npm run build`):
 *   npx node --experimental-strip-types examples/library/main.ts examples/tmux/kstlib.conf.yml
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { actionOf, apply, layerNode, renderPlan, SessionManager } from "kstlib"

const configPath = process.argv[2] ?? "kstlib.conf.yml"

const program = Effect.gen(function*() {
  // apply = lock + observe + plan + execute; the callbacks are where a program reports progress.
  const { planned, report } = yield* apply({}, {
    onPlan: ({ plan }) => Console.log(renderPlan(plan, { color: false })),
    onResult: (r) =>
      Console.log(`${r.error === null ? "ok    " : "failed"} ${actionOf(r.step)} ${r.step.session}${r.error === null ? "" : `: ${r.error.message}`}`)
  })
  const plan = planned.plan
  if (report === null) yield* Console.log(renderPlan(plan, { color: false }))
  // The per-session facade, as the original SessionManager.
  const first = plan.steps[0]?.session
  if (first !== undefined) {
    const session = yield* SessionManager.fromConfig(first)
    const status = yield* session.status()
    yield* Console.log(`${status.name}: ${status.state}${status.pid === null ? "" : ` (pid ${status.pid})`}`)
  }
})

program.pipe(
  Effect.provide(layerNode({ path: configPath })),
  // Typed errors: handle the ones this program (and loading its config) can fail with, by tag.
  Effect.catchTags({
    ConfigNotFound: (e) => Console.error(e.message),
    ConfigParseError: (e) => Console.error(e.message),
    ConfigInvalid: (e) => Console.error(e.message),
    ApplyLocked: (e) => Console.error(e.message)
  }),
  NodeRuntime.runMain
)
