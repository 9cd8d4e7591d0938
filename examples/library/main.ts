/**
 * kstlib as a library: the `Kstlib` service on Node — apply a config with progress lines (the
 * `deploy` of ./deploy.ts), then the status of one session through its handle. Run (after
 * `npm run build`):
 *   npx node --experimental-strip-types examples/library/main.ts examples/tmux/kstlib.conf.yml
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { Kstlib } from "kstlib"
import { deploy } from "./deploy.ts"

const configPath = process.argv[2] ?? "kstlib.conf.yml"

const program = Effect.gen(function*() {
  // lock + observe + plan + execute; each progress line to the console; StepsFailed if a step failed
  const { planned } = yield* deploy(Console.log)
  const kstlib = yield* Kstlib
  const first = planned.plan.steps[0]?.session ?? kstlib.config.sessions[0]?.name
  if (first !== undefined) {
    // a handle's methods need nothing more: the layer below provided everything
    const status = yield* kstlib.session(first).status()
    yield* Console.log(`${status.name}: ${status.state}${status.pid === null ? "" : ` (pid ${status.pid})`}`)
  }
})

program.pipe(
  Effect.provide(Kstlib.layerNode({ config: { path: configPath } })),
  // Typed errors: each one this program (and loading its config) can fail with, by tag.
  Effect.catchTags({
    ConfigNotFound: (e) => Console.error(e.message),
    ConfigParseError: (e) => Console.error(e.message),
    ConfigInvalid: (e) => Console.error(e.message),
    ApplyLocked: (e) => Console.error(e.message),
    StepsFailed: (e) => Console.error(e.message)
  }),
  NodeRuntime.runMain
)
