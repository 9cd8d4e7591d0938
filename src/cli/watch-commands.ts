/** `kstlib ops watch`: the foreground controller (src/watch/), rendered as apply renders, or as JSON lines. */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Console, Duration, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { CommandFailed, ExitWith, InvalidInput } from "../errors.js"
import { run } from "../proc.js"
import { requireConfigFile } from "../reconcile/reconciler.js"
import { defaultSettle } from "../reconcile/execute.js"
import { planToJson, renderPlan, resultLine, resultToJson } from "../reconcile/render.js"
import type { Style } from "../style.js"
import { paint } from "../style.js"
import type { WatchEvent } from "../watch/watcher.js"
import type { UnitScope } from "../watch/startup.js"
import { cronLine, interpolatedVariables, renderUnit, unitName, unitPath } from "../watch/startup.js"
import { watch } from "../watch/watcher.js"
import { loadFromFlags, opsBase, reportConfigProblems } from "./app.js"
import { withDefaultShown } from "./flags.js"
import { stdoutStyle } from "./output.js"

const clock = () => new Date().toISOString().slice(11, 19)

/** One JSON object per line: `{"event":"plan",…}`, `{"event":"step",…}`… with a time stamp. */
export const eventJson = (e: WatchEvent): Record<string, unknown> => {
  const at = new Date().toISOString()
  switch (e.event) {
    case "plan":
      return { event: "plan", at, ...planToJson(e.plan) }
    case "step":
      return { event: "step", at, ...resultToJson(e.result) }
    default:
      return { ...e, at }
  }
}

/**
 * Text: the plan and one line per step, as `apply` prints them; the change that caused a plan just
 * above it (a change that needed nothing is not news: the watcher's own launches are changes too).
 */
const textRenderer = (style: Style) => {
  let lastChange: string | null = null
  return (e: WatchEvent): Effect.Effect<void> => {
    switch (e.event) {
      case "watching":
        return Console.log(
          `kstlib: watching project ${e.project} (pid ${e.pid}): ${e.inputs.length} input files, a full check every ${e.interval_s}s. Ctrl-C stops watching; sessions keep running.`
        )
      case "change":
        lastChange = `${paint(style, "dim", `[${clock()}]`)} ${e.source === "config" ? `config changed: ${e.detail}` : e.source === "start" ? "start" : e.detail}`
        return Effect.void
      case "plan": {
        const head = lastChange === null ? [] : [lastChange]
        lastChange = null
        return Console.log([...head, renderPlan(e.plan, style)].join("\n"))
      }
      case "step":
        return Console.log(resultLine(style, e.result))
      case "backoff":
        return Console.log(
          `${paint(style, "yellow", "backoff")} ${e.session}: ended again within 10s of its start (${e.failures} in a row); next start in ${(e.wait_ms / 1000).toFixed(0)}s`
        )
      case "restart":
        lastChange = null
        return Console.log(`${paint(style, "dim", `[${clock()}]`)} ${paint(style, "cyan", "restart")} ${e.detail}`)
      case "error":
        return Console.error(`kstlib: ${e.message}`)
    }
  }
}

const watchCommand = Command.make("watch", {
  names: Argument.String("name").pipe(Argument.withDescription("Only these sessions (default: all)."), Argument.variadic()),
  json: Flag.Boolean("json").pipe(Flag.withDescription("One JSON event per line on stdout (change, plan, step, backoff, error)."), Flag.withDefault(false)),
  interval: Flag.Finite("interval").pipe(withDefaultShown("Seconds between full checks (the safety net under the events).", 30)),
  settle: Flag.Finite("settle").pipe(withDefaultShown("Seconds a started process must stay up to count as started.", Duration.toSeconds(defaultSettle))),
  timeout: Flag.Int("timeout").pipe(
    Flag.withAlias("t"),
    Flag.withDescription("Seconds a graceful stop waits after the first signal before TERM, then KILL (default: each session's stop_timeout, 10)."),
    Flag.optional
  )
}, (f) =>
  Effect.gen(function*() {
    if (!(f.interval >= 1 && f.interval <= 86400)) return yield* new InvalidInput({ field: "--interval", reason: "must be between 1 and 86400 seconds" })
    if (!(f.settle >= 0 && f.settle <= 300)) return yield* new InvalidInput({ field: "--settle", reason: "must be between 0 and 300 seconds" })
    if (Option.isSome(f.timeout) && (f.timeout.value < 0 || f.timeout.value > 3600)) return yield* new InvalidInput({ field: "--timeout", reason: "must be between 0 and 3600 seconds" })
    const { config, project } = yield* opsBase
    const text = textRenderer(stdoutStyle())
    yield* watch({
      load: { path: Option.getOrUndefined(config), project: Option.getOrUndefined(project) },
      only: f.names,
      interval: Duration.seconds(f.interval),
      debounce: Duration.millis(200),
      settle: Duration.seconds(f.settle),
      stopTimeout: Option.getOrUndefined(f.timeout),
      emit: f.json ? (e) => Console.log(JSON.stringify(eventJson(e))) : text
    })
  })).pipe(
  Command.withDescription(
    "Keep the sessions converged, in the foreground: apply at start, then again when a config file changes or a session of this project is gone or stopped behind kstlib's back. Sessions stopped through kstlib stay stopped; Ctrl-C (or SIGTERM) ends the watch, never the sessions."
  ),
  Command.withExamples([
    { command: "kstlib ops watch", description: "Watch everything the config declares" },
    { command: "kstlib ops watch --json | jq -c 'select(.event == \"step\")'", description: "Each step as a JSON line" },
    { command: "kstlib ops watch web --interval 10", description: "Only web, a full check every 10 s" }
  ])
)

const scopeFlags = {
  user: Flag.Boolean("user").pipe(Flag.withDescription("A user unit (~/.config/systemd/user; the default)."), Flag.withDefault(false)),
  system: Flag.Boolean("system").pipe(Flag.withDescription("A system unit (/etc/systemd/system; needs root), run as the current user."), Flag.withDefault(false))
}

const scopeOf = (f: { readonly user: boolean; readonly system: boolean }) =>
  f.user && f.system ? Effect.fail(new InvalidInput({ field: "--user/--system", reason: "give one of them" })) : Effect.succeed<UnitScope>(f.system ? "system" : "user")

/** systemd runs this machine (sd_booted: /run/systemd/system) and systemctl is there. */
const hasSystemd = () => fs.existsSync("/run/systemd/system")

const systemctl = (scope: UnitScope, args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const argv = [...(scope === "user" ? ["--user"] : []), ...args]
    const r = yield* run("systemctl", argv)
    if (r.exitCode !== 0) return yield* new CommandFailed({ argv: ["systemctl", ...argv], exitCode: r.exitCode, stderr: r.stderr })
  })

const userName = () => {
  try {
    return os.userInfo().username
  } catch {
    return null
  }
}

const startupCommand = Command.make("startup", {
  ...scopeFlags,
  print: Flag.Boolean("print").pipe(Flag.withDescription("Print the unit and change nothing."), Flag.withDefault(false))
}, (f) =>
  Effect.gen(function*() {
    const scope = yield* scopeOf(f)
    const config = yield* loadFromFlags
    yield* reportConfigProblems(config)
    yield* requireConfigFile(config)
    const flags = yield* opsBase
    const explicit = Option.getOrUndefined(flags.config) ?? (process.env["KSTLIB_CONFIG"] || undefined)
    const input = {
      scope,
      config,
      configFile: explicit === undefined ? null : path.resolve(explicit),
      node: process.execPath,
      script: fs.realpathSync(process.argv[1] ?? ""),
      cwd: process.cwd(),
      env: process.env,
      variables: interpolatedVariables(config.files),
      user: userName()
    }
    const unit = renderUnit(input)
    if (f.print) return yield* Console.log(unit.trimEnd())
    if (!hasSystemd()) {
      yield* Console.error(
        "kstlib: systemd is not running on this machine (no /run/systemd/system): no unit was written. The same with cron, as a line for `crontab -e`:"
      )
      yield* Console.log(cronLine(input, path.join(os.homedir(), `.kstlib-watch-${config.project}.log`)))
      return yield* new ExitWith({ code: 1, reason: "" })
    }
    const file = unitPath(scope, config.project, process.env)
    if (file === null) return yield* new InvalidInput({ field: "HOME", reason: "is not set: the user unit directory is unknown" })
    yield* Effect.try({
      try: () => {
        fs.mkdirSync(path.dirname(file), { recursive: true })
        fs.writeFileSync(file, unit, { mode: 0o644 })
      },
      catch: (e) => new InvalidInput({ field: file, reason: `cannot write the unit: ${(e as Error).message}` })
    })
    yield* systemctl(scope, ["daemon-reload"])
    yield* systemctl(scope, ["enable", "--now", unitName(config.project)])
    yield* Console.log(`Wrote ${file}; enabled and started ${unitName(config.project)}.`)
    if (input.variables.length > 0) {
      yield* Console.log(`The config interpolates ${input.variables.join(", ")}: set them in the unit (systemctl ${scope === "user" ? "--user " : ""}edit ${unitName(config.project)}) or its EnvironmentFile.`)
    }
    if (scope === "user") {
      yield* Console.log(
        `A user unit runs while you are logged in. To start it at boot and keep it after logout: loginctl enable-linger ${userName() ?? "$USER"}`
      )
    }
  })).pipe(
  Command.withDescription("Run `kstlib ops watch` for this config at boot: writes a systemd unit (same Node, absolute paths, Restart=on-failure) and enables it. Without systemd: prints the cron @reboot line."),
  Command.withExamples([
    { command: "kstlib ops startup", description: "A user unit, enabled and started now" },
    { command: "kstlib ops startup --print", description: "Only print the unit" },
    { command: "sudo kstlib ops startup --system", description: "A system unit (starts at boot without a login)" }
  ])
)

const unstartupCommand = Command.make("unstartup", scopeFlags, (f) =>
  Effect.gen(function*() {
    const scope = yield* scopeOf(f)
    const config = yield* loadFromFlags
    const file = unitPath(scope, config.project, process.env)
    if (file === null || !fs.existsSync(file)) {
      return yield* Console.log(`No startup unit for project ${config.project}${file === null ? "" : ` (${file} does not exist)`}.`)
    }
    if (hasSystemd()) yield* systemctl(scope, ["disable", "--now", unitName(config.project)])
    yield* Effect.sync(() => fs.rmSync(file, { force: true }))
    if (hasSystemd()) yield* systemctl(scope, ["daemon-reload"])
    yield* Console.log(`Removed ${file}${hasSystemd() ? `; ${unitName(config.project)} stopped and disabled` : ""}. The sessions keep running.`)
  })).pipe(Command.withDescription("Remove what `kstlib ops startup` installed (the watcher stops; the sessions keep running)."))

export const watchCommands = [watchCommand, startupCommand, unstartupCommand] as const
