/** What every `kstlib ops` command shares: the `--config` flag, loading the config once, exit codes. */
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { loadConfig } from "../config/load.js"
import type { LoadedConfig } from "../config/types.js"
import { formatConfigIssue } from "../errors.js"
import { layerNodeWith } from "../layer.js"
import { paint } from "../style.js"
import { stderrStyle } from "./output.js"

export const opsBase = Command.make("ops").pipe(
  Command.withSharedFlags({
    config: Flag.String("config").pipe(
      Flag.withDescription("Use exactly this config file (default: the cascade ~/.config, XDG, ~, ./kstlib.conf.yml; or $KSTLIB_CONFIG)"),
      Flag.optional
    )
  }),
  Command.withDescription("Manage sessions (tmux and containers) declared in kstlib.conf.yml")
)

/** The process exit code a handler asks for without failing (plan --detailed-exitcode, apply with failed steps). */
let requestedExitCode = 0
export const setExitCode = (code: number) => Effect.sync(() => void (requestedExitCode = Math.max(requestedExitCode, code)))
export const exitCode = () => requestedExitCode

/** Rejected entries and warnings on stderr: they never run, and they are never silent. */
export const reportConfigProblems = (config: LoadedConfig) =>
  Effect.gen(function*() {
    const style = stderrStyle()
    for (const w of config.warnings) yield* Console.error(`${paint(style, "yellow", "warning:")} ${formatConfigIssue(w)}`)
    for (const e of config.sessions) {
      if (e._tag === "Rejected") {
        for (const i of e.issues) yield* Console.error(`${paint(style, "yellow", "warning:")} ${formatConfigIssue(i)} (session not used)`)
      }
    }
  })

export const loadFromFlags = Effect.gen(function*() {
  const { config } = yield* opsBase
  return yield* loadConfig({ path: Option.getOrUndefined(config) })
})

/** Loads the config, reports its problems, and runs `self` with the config and both backends provided. */
export const withApp = <A, E, R>(self: Effect.Effect<A, E, R>, options: { readonly quietConfig?: boolean } = {}) =>
  Effect.gen(function*() {
    const config = yield* loadFromFlags
    if (options.quietConfig !== true) yield* reportConfigProblems(config)
    return yield* Effect.provide(self, layerNodeWith(config))
  })
