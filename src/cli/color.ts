/** The global `--color auto|always|never` flag. */
import { Effect } from "effect"
import { Command, Flag, GlobalFlag } from "effect/cli"
import type { ColorMode } from "../style.js"
import { colorModes } from "../style.js"
import { withDefaultShown } from "./flags.js"
import { setColorMode } from "./output.js"

export const ColorFlag = GlobalFlag.Setting("color")({
  flag: Flag.Literals("color", colorModes).pipe(
    withDefaultShown("Colours: auto (on a terminal; NO_COLOR turns them off, FORCE_COLOR on), always or never.", "auto")
  )
})

/**
 * Declares the flag on `command` (and so on all its subcommands) and hands the parsed value to the
 * output helpers before any handler prints: they are plain functions, not services.
 */
export const withColorFlag = <Name extends string, Input, ContextInput, E, R>(command: Command.Command<Name, Input, ContextInput, E, R>) =>
  command.pipe(
    Command.provideEffectDiscard(Effect.map(ColorFlag, setColorMode)),
    Command.withGlobalFlags([ColorFlag])
  )

/**
 * The flag's value read from raw argv, for what is printed before parsing (help, version): the last
 * valid `--color X` / `--color=X` before `--`. The parser still rejects a bad value as a usage error.
 */
export const colorModeFromArgv = (argv: ReadonlyArray<string>): ColorMode => {
  let mode: ColorMode = "auto"
  const end = argv.indexOf("--")
  const args = end === -1 ? argv : argv.slice(0, end)
  args.forEach((a, i) => {
    const value = a.startsWith("--color=") ? a.slice("--color=".length) : a === "--color" ? args[i + 1] : undefined
    if ((colorModes as ReadonlyArray<string | undefined>).includes(value)) mode = value as ColorMode
  })
  return mode
}
