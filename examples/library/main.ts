/**
 * kstlib as a library: load a config, plan, print the plan, apply it, and report — a small Effect
 * program composing kstlib's services. Run (after `npm run build`):
 *   npx node --experimental-strip-types examples/library/main.ts examples/tmux/kstlib.conf.yml
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { defaultSettle, execute, hasChanges, layerNode, planFromConfig, renderPlan, SessionManager } from "kstlib"

const configPath = process.argv[2] ?? "kstlib.conf.yml"

const program = Effect.gen(function*() {
  const { plan } = yield* planFromConfig()
  yield* Console.log(renderPlan(plan, { color: false }))
  if (hasChanges(plan)) {
    const report = yield* execute(plan, { parallel: 4, settle: defaultSettle, stopTimeout: 10 })
    for (const r of report.results) {
      yield* Console.log(`${r.error === null ? "ok    " : "failed"} ${r.step.action} ${r.step.session}${r.error === null ? "" : `: ${r.error.message}`}`)
    }
  }
  // The per-session facade, as the original SessionManager.
  const first = plan.steps[0]?.session
  if (first !== undefined) {
    const session = yield* SessionManager.fromConfig(first)
    const status = yield* session.status()
    yield* Console.log(`${status.name}: ${status.state}${status.pid === null ? "" : ` (pid ${status.pid})`}`)
  }
}).pipe(
  // Typed errors: handle the ones this program expects, by tag.
  Effect.catchTags({
    ConfigNotFound: (e) => Console.error(e.message),
    ConfigParseError: (e) => Console.error(e.message),
    ConfigInvalid: (e) => Console.error(e.message)
  })
)

program.pipe(Effect.provide(layerNode({ path: configPath })), NodeRuntime.runMain)
