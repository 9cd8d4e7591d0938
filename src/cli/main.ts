#!/usr/bin/env node
/**
 * The `kstlib` binary. Exit codes: 0 ok; 1 runtime or config error (or failed steps); 2 usage error;
 * 130 interrupted; `plan --detailed-exitcode` 2 = changes pending. Expected errors are one line on
 * stderr, never a stack trace.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Console, Effect, Exit, Layer, Logger, References, Runtime } from "effect"
import { CliConfig, CliError, CliOutput, Command, Flag, GlobalFlag } from "effect/cli"
import { styleFor } from "../style.js"
import { opsBase } from "./app.js"
import { colorModeFromArgv, withColorFlag } from "./color.js"
import { configCommands } from "./config-commands.js"
import { exportCommands } from "./export-commands.js"
import { freezeCommands } from "./freeze-command.js"
import { importCommands } from "./import-commands.js"
import { reconcileCommands } from "./reconcile-commands.js"
import { sessionCommands } from "./session-commands.js"
import { watchCommands } from "./watch-commands.js"
import { topCommands } from "./top.js"
import { presenter } from "./usage.js"
import { cliMessage } from "./hints.js"

const VERSION = "0.1.0"

const ops = opsBase.pipe(Command.withSubcommands([...reconcileCommands, ...sessionCommands, ...configCommands, ...exportCommands, ...importCommands, ...freezeCommands, ...watchCommands, ...topCommands]))

const cli = Command.make("kstlib").pipe(
  Command.withDescription("Run long-lived sessions in tmux or containers from one declarative file, kstlib.conf.yml."),
  Command.withExamples([
    { command: "kstlib ops apply", description: "Start everything kstlib.conf.yml declares" },
    { command: "kstlib ops list", description: "What runs where" }
  ]),
  Command.withSubcommands([ops]),
  withColorFlag
)

// `-v` belongs to `start --volume` (as in the original), so --version keeps only its long form.
const builtIns = [
  GlobalFlag.Help,
  { ...GlobalFlag.Version, flag: Flag.Boolean("version").pipe(Flag.withDescription("Show version information"), Flag.withDefault(false)) },
  GlobalFlag.Completions,
  GlobalFlag.LogLevel
] as unknown as CliConfig.CliConfig.Service["builtIns"]

/**
 * Exit codes and messages come from the error types: a typed failure prints its own message (one
 * line, no stack) and exits with its `Runtime.errorExitCode` (1 by default; usage errors 2; an
 * `ExitWith` its code, printing nothing when it has no reason). A defect is a bug: full trace, 1.
 */
const program = Command.run(cli, { version: VERSION }).pipe(
  Effect.provideService(CliConfig.CliConfig, { builtIns }),
  Effect.provideService(CliOutput.Presenter, presenter),
  // Help is printed before flags are parsed, so its colours follow --color as read from argv.
  Effect.provideService(CliOutput.Formatter, CliOutput.defaultFormatter({
    colors: styleFor(process.stdout.isTTY === true, process.env, colorModeFromArgv(process.argv.slice(2))).color
  })),
  Effect.as(0),
  Effect.catchCause((cause) => {
    if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
    const e = Cause.squash(cause)
    // Already rendered by the presenter. Help shown because a command was left out is not an error.
    if (CliError.isCliError(e)) return Effect.succeed(e._tag === "ShowHelp" && e.errors.length === 0 ? 0 : 2)
    if (Cause.hasFails(cause) && e instanceof Error) {
      const code = Runtime.getErrorExitCode(e)
      return (e.message === "" ? Effect.void : Console.error(`kstlib: ${cliMessage(e as Error & Record<string, unknown>)}`)).pipe(Effect.as(code))
    }
    return Console.error(Cause.pretty(cause)).pipe(Effect.as(1))
  })
)

/** `KSTLIB_LOG=debug` does what `--log-level debug` does (the flag wins when given). */
const logLevelFromEnv = () => {
  const level = (process.env["KSTLIB_LOG"] ?? "").toLowerCase()
  const levels = { trace: "Trace", debug: "Debug", info: "Info", warning: "Warn", warn: "Warn", error: "Error" } as const
  return level in levels ? Layer.succeed(References.MinimumLogLevel, levels[level as keyof typeof levels]) : Layer.empty
}

program.pipe(
  Effect.provide(Layer.mergeAll(NodeServices.layer, Layer.succeed(Logger.LogToStderr, true), logLevelFromEnv())),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    teardown: (exit, onExit) => (Exit.isSuccess(exit) ? onExit(Number(exit.value)) : Runtime.defaultTeardown(exit, onExit))
  })
)
