/** `kstlib ops validate`, `kstlib ops config` and `kstlib ops schema`. */
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import * as YAML from "yaml"
import { configJsonSchema } from "../config/schema.js"
import { escapeText, ExitWith, formatConfigIssue } from "../errors.js"
import { paint } from "../style.js"
import { loadFromFlags } from "./app.js"
import { configJson, configView } from "./config-view.js"
import { stderrStyle, stdoutStyle } from "./output.js"

const validate = Command.make("validate", {
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print JSON on stdout."), Flag.withDefault(false))
}, (f) =>
  Effect.gen(function*() {
    const config = yield* loadFromFlags
    const rejected = config.sessions.filter((e) => e._tag === "Rejected")
    const done = rejected.length > 0 ? Effect.fail(new ExitWith({ code: 1, reason: "" })) : Effect.void
    if (f.json) {
      yield* Console.log(JSON.stringify({
        files: config.files,
        valid: rejected.length === 0,
        sessions: config.sessions.map((e) => ({
          name: e.name,
          valid: e._tag === "Valid",
          backend: e._tag === "Valid" ? e.spec.backend : e.backend,
          file: e.source.file,
          line: e.source.line,
          issues: e._tag === "Rejected" ? e.issues : []
        })),
        warnings: config.warnings,
        project: config.project
      }, null, 2))
      return yield* done
    }
    const out = stdoutStyle()
    const err = stderrStyle()
    if (config.files.length === 0) yield* Console.error("No config file found (looked for kstlib.conf.yml in ~/.config, $XDG_CONFIG_HOME/kstlib, ~ and .).")
    else yield* Console.log(`Config: ${config.files.join(", ")}`)
    for (const w of config.warnings) yield* Console.error(`${paint(err, "yellow", "warning:")} ${formatConfigIssue(w)}`)
    for (const e of config.sessions) {
      if (e._tag === "Valid") {
        yield* Console.log(`${paint(out, "green", "valid   ")} ${escapeText(e.name)} (${e.spec.backend}${e.spec.shell ? ", shell" : ""})`)
      } else {
        for (const i of e.issues) yield* Console.error(`${paint(err, "red", "rejected")} ${formatConfigIssue(i)}`)
      }
    }
    yield* Console.log(
      `${config.sessions.length - rejected.length} valid, ${rejected.length} rejected${
        rejected.length > 0 ? " (rejected sessions are never run)" : ""
      }.`
    )
    return yield* done
  })).pipe(
  Command.withDescription("Check the config: each session is valid or rejected with file:line: reason. Exit 1 if any is rejected."),
  Command.withExamples([
    { command: "kstlib ops validate", description: "Check the cascade's config" },
    { command: "kstlib ops validate --config examples/tmux/kstlib.conf.yml", description: "Check one file" }
  ])
)

/** YAML for a terminal: every key and value passed through escapeText (no escape sequence gets through). */
const escapeAll = (value: unknown): unknown => {
  if (typeof value === "string") return escapeText(value)
  if (Array.isArray(value)) return value.map(escapeAll)
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [escapeText(String(k)), escapeAll(v)]))
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [escapeText(k), escapeAll(v)]))
  return value
}

const config = Command.make("config", {
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print JSON on stdout."), Flag.withDefault(false))
}, (f) =>
  Effect.gen(function*() {
    const loaded = yield* loadFromFlags
    if (loaded.files.length === 0) yield* Console.error("No config file found (looked for kstlib.conf.yml in ~/.config, $XDG_CONFIG_HOME/kstlib, ~ and .): defaults only.")
    const view = configView(loaded)
    yield* Console.log(f.json ? configJson(view) : YAML.stringify(escapeAll(view), { lineWidth: 0 }).trimEnd())
  })).pipe(
  Command.withDescription(
    "Print the configuration as kstlib uses it: files merged, ${VAR} interpolated, env files read, defaults filled in; each session valid or rejected (with why). Environment values are masked (***)."
  ),
  Command.withExamples([
    { command: "kstlib ops config", description: "As YAML" },
    { command: "kstlib ops config --json | jq '.ops.sessions | keys'", description: "As JSON" }
  ])
)

const schema = Command.make("schema", {}, () =>
  Effect.gen(function*() {
    yield* Console.log(JSON.stringify(configJsonSchema(), null, 2))
  })).pipe(
  Command.withDescription("Print the JSON Schema of kstlib.conf.yml (for editor completion and checks)."),
  Command.withExamples([{ command: "kstlib ops schema > kstlib.schema.json", description: "Then: # yaml-language-server: $schema=./kstlib.schema.json" }])
)

export const configCommands = [validate, config, schema] as const
