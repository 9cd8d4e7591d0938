/** What every `kstlib ops` command shares: `--config` and `--project`, loading the config once, reporting its problems. */
import * as path from "node:path"
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { sweepStaleEnvFiles } from "../backends/container/envfile.js"
import { loadConfig, projectOverride } from "../config/load.js"
import { normalizeProjectName } from "../config/rules.js"
import type { LoadedConfig } from "../config/types.js"
import { formatConfigIssue, InvalidInput } from "../errors.js"
import { layerNodeWith } from "../layer.js"
import { paint } from "../style.js"
import { stderrStyle } from "./output.js"

export const opsBase = Command.make("ops").pipe(
  Command.withSharedFlags({
    config: Flag.String("config").pipe(
      Flag.withDescription("Use exactly this config file (default: the cascade ~/.config, XDG, ~, ./kstlib.conf.yml; or $KSTLIB_CONFIG)"),
      Flag.optional
    ),
    // No `-p`: shared flags are parsed on every subcommand, where `-p` is `start --port` (as in docker).
    project: Flag.String("project").pipe(
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

/**
 * What read commands work with when the config cannot be loaded: no entries; the project from the
 * flag, else KSTLIB_PROJECT, else the directory of `--config` / KSTLIB_CONFIG, else of the cwd.
 */
const fallbackConfig = (flagProject: string | undefined, configPath: string | undefined): Effect.Effect<LoadedConfig, InvalidInput> =>
  Effect.gen(function*() {
    const explicit = configPath !== undefined && configPath !== "" ? configPath : process.env["KSTLIB_CONFIG"]
    const dir = explicit !== undefined && explicit !== "" ? path.dirname(path.resolve(explicit)) : process.cwd()
    const override = projectOverride(flagProject, process.env["KSTLIB_PROJECT"])
    if (override instanceof InvalidInput) return yield* override
    return {
      files: [],
      searched: [],
      project: override ?? normalizeProjectName(path.basename(dir)),
      default_backend: "tmux",
      tmux_binary: "tmux",
      container_runtime: null,
      sessions: [],
      warnings: []
    }
  })

/**
 * Loads the config, reports its problems, and runs `self` with the config and the backends
 * provided. `tolerant` (read commands, stop): an unreadable or invalid config is reported on
 * stderr and the command still shows and acts on what runs (a usage error, InvalidInput, still fails).
 */
export const withApp = <A, E, R>(self: Effect.Effect<A, E, R>, options: { readonly tolerant?: boolean } = {}) =>
  Effect.gen(function*() {
    // env files left in TMPDIR by a kstlib killed with SIGKILL (dead owners only)
    yield* Effect.sync(() => sweepStaleEnvFiles())
    const config = options.tolerant === true
      ? yield* loadFromFlags.pipe(
        Effect.catch((e) =>
          // A bad `--project` / `KSTLIB_PROJECT` / `--config ""` is a usage error, not a broken file:
          // listing under an invalid project would show nothing and exit 0.
          e instanceof InvalidInput ? Effect.fail(e) : Effect.gen(function*() {
            yield* Console.error(`kstlib: config not used: ${e.message}`)
            const { config, project } = yield* opsBase
            return yield* fallbackConfig(Option.getOrUndefined(project), Option.getOrUndefined(config))
          })
        )
      )
      : yield* loadFromFlags
    yield* reportConfigProblems(config)
    return yield* Effect.provide(self, layerNodeWith(config))
  })
