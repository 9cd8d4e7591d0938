#!/usr/bin/env node
/**
 * The `kstlib` binary. Exit codes: 0 ok; 1 runtime or config error (or failed steps); 2 usage error;
 * 130 interrupted; `plan --detailed-exitcode` 2 = changes pending. Expected errors are one line on
 * stderr, never a stack trace.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Console, Effect, Exit, Layer, Logger, Runtime } from "effect"
import { CliConfig, CliError, CliOutput, Command, Flag, GlobalFlag } from "effect/cli"
import { styleFor } from "../style.js"
import { exitCode, opsBase } from "./app.js"
import { colorModeFromArgv, withColorFlag } from "./color.js"
import { configCommands } from "./config-commands.js"
import { reconcileCommands } from "./reconcile-commands.js"
import { sessionCommands } from "./session-commands.js"
import { presenter } from "./usage.js"

const VERSION = "0.1.0"

const ops = opsBase.pipe(Command.withSubcommands([...reconcileCommands, ...sessionCommands, ...configCommands]))

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

const isKstlibError = (e: unknown): e is { readonly _tag: string; readonly message: string } =>
  typeof e === "object" && e !== null && "_tag" in e && "message" in e

/** Usage mistakes exit 2; everything else the program understood exits 1. */
const USAGE = new Set(["InvalidInput"])

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
    if (isKstlibError(e) && Cause.hasFails(cause)) {
      return Console.error(`kstlib: ${e.message}`).pipe(Effect.as(USAGE.has(e._tag) ? 2 : 1))
    }
    return Console.error(Cause.pretty(cause)).pipe(Effect.as(1))
  }),
  Effect.map((code) => Math.max(code, exitCode()))
)

program.pipe(
  Effect.provide(Layer.mergeAll(NodeServices.layer, Layer.succeed(Logger.LogToStderr, true))),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    teardown: (exit, onExit) => (Exit.isSuccess(exit) ? onExit(Number(exit.value)) : Runtime.defaultTeardown(exit, onExit))
  })
)
