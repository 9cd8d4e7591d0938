/**
 * `kstlib ops import FILE`: a docker compose, pm2, tmuxp, tmuxinator or Procfile file as a kstlib
 * config. The YAML goes to stdout or `-o FILE`; every key not carried is reported (stderr, or
 * `--json`), and a written file is validated at once. Exit: 0 ok, 1 unreadable or unsupported
 * file, 2 usage (bad flag, output exists without --force).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Console, Effect, Option, Result } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { loadConfig } from "../config/load.js"
import { decodeUtf8 } from "../config/text.js"
import { escapeText, formatConfigIssue, ImportFailed, InvalidInput } from "../errors.js"
import { detectFormat, type Format, FORMATS, importPm2Data, importText, type ImportResult, renderYaml } from "../import/index.js"
import { evaluateEcosystem, type Isolation, JS_TIMEOUT_SECONDS } from "../import/pm2-js.js"
import { paint } from "../style.js"
import { stderrStyle } from "./output.js"

const MAX_SOURCE_SIZE = 10 * 1024 * 1024

const readSource = (file: string) =>
  Effect.try({
    try: () => {
      const st = fs.statSync(file)
      if (!st.isFile()) throw new ImportFailed({ file, reason: "not a regular file" })
      if (st.size > MAX_SOURCE_SIZE) throw new ImportFailed({ file, reason: "larger than 10 MiB" })
      const decoded = decodeUtf8(fs.readFileSync(file))
      if (!("text" in decoded)) throw new ImportFailed({ file, reason: `${decoded.line === null ? "" : `line ${decoded.line}: `}${decoded.reason}` })
      return { text: decoded.text, mode: st.mode & 0o666 }
    },
    catch: (e) => (e instanceof ImportFailed ? e : new ImportFailed({ file, reason: `cannot read it: ${(e as NodeJS.ErrnoException).code ?? String(e)}` }))
  })

/** Without --force the file is created exclusively (never replaced); with it, replaced in one rename. */
export const writeOutput = (out: string, text: string, mode: number, force: boolean) =>
  Effect.try({
    try: () => {
      if (!force) return fs.writeFileSync(out, text, { flag: "wx", mode })
      const tmp = path.join(path.dirname(out), `.${path.basename(out)}.import-${process.pid}`)
      fs.writeFileSync(tmp, text, { flag: "wx", mode })
      try {
        fs.renameSync(tmp, out)
      } catch (e) {
        fs.rmSync(tmp, { force: true })
        throw e
      }
    },
    catch: (e) =>
      (e as NodeJS.ErrnoException).code === "EEXIST" && !force
        ? new InvalidInput({ field: "--output", reason: `${out} exists: add --force to replace it` })
        : new ImportFailed({ file: out, reason: `cannot write it: ${(e as NodeJS.ErrnoException).code ?? String(e)}` })
  })

/** What `kstlib ops validate` would say of the written file. */
const validateWritten = (out: string) =>
  loadConfig({ path: out }).pipe(
    Effect.map((loaded) => {
      const issues = [
        ...loaded.warnings.map(formatConfigIssue),
        ...loaded.sessions.flatMap((e) => (e._tag === "Rejected" ? e.issues.map(formatConfigIssue) : []))
      ]
      return { valid: loaded.sessions.every((e) => e._tag === "Valid"), issues }
    }),
    Effect.catch((e) => Effect.succeed({ valid: false, issues: e.message.split("\n").filter((l) => l !== "") }))
  )

const report = (result: ImportResult, file: string) =>
  Effect.gen(function*() {
    const style = stderrStyle()
    const where = (w: string) => escapeText(w === "" ? file : w)
    for (const n of result.notCarried) yield* Console.error(`${paint(style, "yellow", "not carried")} ${where(n.where)}: ${escapeText(n.why)}`)
    for (const n of result.notes) yield* Console.error(`${paint(style, "dim", "note       ")} ${where(n.where)}: ${escapeText(n.what)}`)
  })

const importCommand = Command.make("import", {
  file: Argument.String("file").pipe(Argument.withDescription("The compose, pm2, tmuxp, tmuxinator or Procfile file.")),
  format: Flag.Literals("format", FORMATS).pipe(Flag.withDescription("Its format (default: from the file's name, else its contents)."), Flag.optional),
  output: Flag.String("output").pipe(Flag.withAlias("o"), Flag.withDescription("Write the config to this file (default: stdout); never replaces one without --force."), Flag.optional),
  force: Flag.Boolean("force").pipe(Flag.withDescription("Replace the --output file if it exists."), Flag.withDefault(false)),
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print the report (and, without -o, the config) as JSON on stdout."), Flag.withDefault(false)),
  allowJs: Flag.Boolean("allow-js").pipe(
    Flag.withDescription(
      `pm2: evaluate a JavaScript ecosystem file. It RUNS AS CODE, in a child node: no network, PATH alone as its environment, read access to its directory only, no writes or processes, ${JS_TIMEOUT_SECONDS} s.`
    ),
    Flag.withDefault(false)
  ),
  env: Flag.String("env").pipe(Flag.withDescription("pm2: merge env_NAME over env (the other env_* are reported)."), Flag.optional)
}, (f) =>
  Effect.gen(function*() {
    const output = Option.getOrUndefined(f.output)
    if (output === "") return yield* new InvalidInput({ field: "--output", reason: "give a file name" })
    const { text, mode } = yield* readSource(f.file)
    const detected = Option.isSome(f.format) ? { format: f.format.value as Format, js: /\.[cm]?js$/iu.test(f.file) && f.format.value === "pm2" } : detectFormat(f.file, text)
    if (detected === null) {
      return yield* new ImportFailed({ file: f.file, reason: `cannot tell its format from its name or contents: give --format (${FORMATS.join(", ")})` })
    }
    const pm2Env = Option.getOrUndefined(f.env)
    if (pm2Env !== undefined && detected.format !== "pm2") return yield* new InvalidInput({ field: "--env", reason: "only for a pm2 ecosystem file" })
    const sourceDir = path.dirname(path.resolve(f.file))
    const outputDir = output === undefined ? process.cwd() : path.dirname(path.resolve(output))
    const options = { file: f.file, sourceDir, outputDir, pm2Env, dotenv: fs.existsSync(path.join(sourceDir, ".env")) }
    let isolation: Isolation | null = null
    const evaluate = (mode: "module" | "expression") =>
      evaluateEcosystem(f.file, mode).pipe(Effect.map((e) => {
        isolation = e.isolation
        return importPm2Data(e.data, options)
      }))
    let imported
    if (detected.js) {
      if (!f.allowJs) {
        return yield* new ImportFailed({
          file: f.file,
          reason: "a JavaScript ecosystem file is code that pm2 runs: kstlib evaluates it only with --allow-js (sandboxed: see --help), or convert it to JSON or YAML"
        })
      }
      imported = yield* evaluate("module")
    } else {
      imported = importText(detected.format, text, options)
      // pm2 evaluates a .json file as JavaScript: with --allow-js, so does kstlib when it is not JSON/YAML
      if (Result.isFailure(imported) && detected.format === "pm2" && f.allowJs && /\.json$/iu.test(f.file)) imported = yield* evaluate("expression")
    }
    if (Result.isFailure(imported)) return yield* imported.failure
    const result = imported.success
    const yaml = renderYaml(result, {
      source: f.file,
      format: detected.format,
      date: new Date().toISOString().slice(0, 10),
      output: output ?? null
    })
    let validation: { readonly valid: boolean; readonly issues: ReadonlyArray<string> } | null = null
    if (output !== undefined) {
      yield* writeOutput(output, yaml, mode, f.force)
      validation = yield* validateWritten(output)
    }
    const sessions = Object.keys(result.config.ops.sessions)
    if (f.json) {
      yield* Console.log(JSON.stringify({
        source: f.file,
        format: detected.format,
        output: output === undefined ? null : path.resolve(output),
        sessions,
        notCarried: result.notCarried,
        notes: result.notes,
        isolation,
        validation,
        ...(output === undefined ? { config: result.config } : {})
      }, null, 2))
      return
    }
    if (output === undefined) yield* Effect.sync(() => process.stdout.write(yaml))
    yield* report(result, f.file)
    if (isolation !== null) yield* Console.error(`evaluated as JavaScript (network: ${isolation})`)
    const style = stderrStyle()
    yield* Console.error(
      `${escapeText(f.file)} (${detected.format}): ${sessions.length} session${sessions.length === 1 ? "" : "s"}${output === undefined ? "" : ` written to ${escapeText(output)}`}, ${result.notCarried.length} key${
        result.notCarried.length === 1 ? "" : "s"
      } not carried, ${result.notes.length} note${result.notes.length === 1 ? "" : "s"}.`
    )
    if (validation !== null && !validation.valid) {
      for (const i of validation.issues) yield* Console.error(`${paint(style, "red", "invalid")} ${i}`)
      yield* Console.error(`kstlib ops validate --config ${escapeText(output!)} will not accept all of it: see above.`)
    }
  })).pipe(
  Command.withDescription(
    "Write a kstlib config from a docker compose, pm2 ecosystem, tmuxp, tmuxinator or Procfile file, reporting every key it could not carry and why. pm2 JavaScript files run as code: only with --allow-js."
  ),
  Command.withExamples([
    { command: "kstlib ops import compose.yaml -o kstlib.conf.yml", description: "Write the config, report on stderr, validate it" },
    { command: "kstlib ops import Procfile > kstlib.conf.yml", description: "To stdout" },
    { command: "kstlib ops import ~/.tmuxp/dev.yaml --json | jq '.notCarried'", description: "The report as data" },
    { command: "kstlib ops import ecosystem.config.js --allow-js --env production", description: "Evaluate a pm2 JS file (sandboxed), with env_production" }
  ])
)

export const importCommands = [importCommand] as const
