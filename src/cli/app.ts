/** What every `kstlib ops` command shares: `--config` and `--project`, loading the config once, reporting its problems. */
import * as path from "node:path"
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { loadConfig } from "../config/load.js"
import { normalizeProjectName } from "../config/rules.js"
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
    ),
    project: Flag.String("project").pipe(
      Flag.withAlias("p"),
      Flag.withDescription("Project name: only its sessions are ever stopped, replaced or pruned (default: $KSTLIB_PROJECT, ops.project, else the config's directory name)"),
      Flag.optional
    )
  }),
  Command.withDescription("Manage sessions (tmux and containers) declared in kstlib.conf.yml")
)

const warning = (text: string) => Effect.sync(() => stderrStyle()).pipe(Effect.flatMap((style) => Console.error(`${paint(style, "yellow", "warning:")} ${text}`)))

/** Rejected entries and warnings on stderr: they never run, and they are never silent. */
export const reportConfigProblems = (config: LoadedConfig) =>
  Effect.gen(function*() {
    for (const w of config.warnings) yield* warning(formatConfigIssue(w))
    for (const e of config.sessions) {
      if (e._tag === "Rejected") for (const i of e.issues) yield* warning(`${formatConfigIssue(i)} (session not used)`)
    }
  })

export const loadFromFlags = Effect.gen(function*() {
  const { config, project } = yield* opsBase
  return yield* loadConfig({ path: Option.getOrUndefined(config), project: Option.getOrUndefined(project) })
})

/** What read commands work with when the config cannot be loaded: no entries, the project from the flag, env or directory. */
const fallbackConfig = (project: string | undefined): LoadedConfig => ({
  files: [],
  searched: [],
  project: project ?? process.env["KSTLIB_PROJECT"] ?? normalizeProjectName(path.basename(process.cwd())),
  default_backend: "tmux",
  tmux_binary: "tmux",
  container_runtime: null,
  sessions: [],
  warnings: []
})

/**
 * Loads the config, reports its problems, and runs `self` with the config and the backends
 * provided. `tolerant` (read commands, stop): an unreadable or invalid config is reported on
 * stderr and the command still shows and acts on what runs.
 */
export const withApp = <A, E, R>(self: Effect.Effect<A, E, R>, options: { readonly tolerant?: boolean } = {}) =>
  Effect.gen(function*() {
    const config = options.tolerant === true
      ? yield* loadFromFlags.pipe(
        Effect.catch((e) =>
          Effect.gen(function*() {
            yield* Console.error(`kstlib: config not used: ${e.message}`)
            const { project } = yield* opsBase
            return fallbackConfig(Option.getOrUndefined(project))
          })
        )
      )
      : yield* loadFromFlags
    yield* reportConfigProblems(config)
    return yield* Effect.provide(self, layerNodeWith(config))
  })
