/**
 * `kstlib ops freeze [NAME…]`: what runs now (tmux sessions and containers, kstlib's or not) written
 * as a kstlib config — windows and panes included; env keys as `${KEY}` placeholders, never their
 * values. kstlib's own sessions come from the spec they were stamped with; the others from what
 * tmux or the engine shows of them (drivers' `freeze`).
 */
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { Backends } from "../backends/registry.js"
import { KstlibConfig } from "../config/service.js"
import { escapeText, InvalidInput, SessionNotFound } from "../errors.js"
import type { ImportResult, NotCarried } from "../import/report.js"
import { renderConfigYaml } from "../import/index.js"
import { describePlace, placeOf } from "../place.js"
import { observeFor } from "../session/locate.js"
import { withApp } from "./app.js"
import { writeOutput } from "./import-commands.js"

const freeze = Command.make("freeze", {
  names: Argument.String("name").pipe(Argument.withDescription("Only these sessions (default: every running one)."), Argument.variadic()),
  output: Flag.String("output").pipe(Flag.withAlias("o"), Flag.withDescription("Write the config to this file (default: stdout); never replaces one without --force."), Flag.optional),
  force: Flag.Boolean("force").pipe(Flag.withDescription("Replace the --output file if it exists."), Flag.withDefault(false)),
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print {config, notCarried} as JSON instead of YAML."), Flag.withDefault(false))
}, (f) =>
  withApp(Effect.gen(function*() {
    const output = Option.getOrUndefined(f.output)
    if (output === "") return yield* new InvalidInput({ field: "--output", reason: "give a file name" })
    const config = yield* KstlibConfig
    const observation = yield* observeFor(config, {})
    const running = observation.sessions.filter((o) => o.state === "running")
    for (const n of f.names) {
      if (!running.some((o) => o.name === n)) return yield* new SessionNotFound({ session: n, backend: null })
    }
    const picked = f.names.length === 0 ? running : running.filter((o) => f.names.includes(o.name))
    const frozen = yield* (yield* Backends).freeze(picked)
    const sessions: Record<string, Record<string, unknown>> = {}
    const notCarried: Array<NotCarried> = []
    picked.forEach((o, i) => {
      const where = describePlace(placeOf(o))
      const fz = frozen[i]
      if (fz === null || fz === undefined) notCarried.push({ where: `${o.name} (${where})`, why: "could not be read (gone since, or its engine did not answer)" })
      else if (sessions[o.name] !== undefined) notCarried.push({ where: `${o.name} (${where})`, why: "a session of this name is frozen already (from another place): one config has one session per name" })
      else {
        sessions[o.name] = { ...fz.entry, ...(o.host === undefined ? {} : { host: o.host }) }
        for (const n of fz.notes) notCarried.push({ where: o.name, why: n, session: o.name })
      }
    })
    const result: ImportResult = { config: { ops: { sessions } }, notCarried, notes: [] }
    const envKeys = [...new Set(Object.values(sessions).flatMap((s) => Object.keys((s["env"] as Record<string, string> | undefined) ?? {})))].sort()
    if (f.json) return yield* Console.log(JSON.stringify({ config: result.config, notCarried, env: envKeys }, null, 2))
    const yaml = renderConfigYaml(result, [
      `Frozen by kstlib ops freeze on ${new Date().toISOString().slice(0, 10)}: ${Object.keys(sessions).length} running session(s).`,
      ...(envKeys.length === 0 ? [] : [`Env values are not written: set ${envKeys.join(", ")} in the environment or .env (or write the values here).`]),
      `Check it with: kstlib ops validate${output === undefined ? "" : ` --config ${output}`}`
    ])
    if (output === undefined) return yield* Effect.sync(() => void process.stdout.write(yaml))
    yield* writeOutput(output, yaml, 0o644, f.force)
    yield* Console.error(`${Object.keys(sessions).length} session(s) written to ${escapeText(output)}, ${notCarried.length} not carried.`)
  }), { tolerant: true })).pipe(
  Command.withDescription(
    "Write what runs now (tmux sessions and containers, kstlib's or not; windows and panes included) as a kstlib config. Env values are never written: each key becomes a ${KEY} placeholder."
  ),
  Command.withExamples([
    { command: "kstlib ops freeze -o kstlib.conf.yml", description: "Every running session" },
    { command: "kstlib ops freeze dev api", description: "Two sessions, to stdout" },
    { command: "kstlib ops freeze --json | jq '.env'", description: "The env keys to fill in" }
  ])
)

export const freezeCommands = [freeze] as const
