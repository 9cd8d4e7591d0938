/**
 * How effect/cli's own output is presented. Help and version: unchanged, on stdout. A usage error
 * (unknown flag or subcommand, missing argument, bad value) fits a pipe: nothing on stdout, two lines
 * on stderr (the error, and where the help is), instead of the whole help text before the error.
 */
import { Console } from "effect"
import type { CliError } from "effect/cli"
import { CliOutput } from "effect/cli"

// Its formatCliError escapes control characters a user may have typed into a flag value.
const plain = CliOutput.defaultFormatter({ colors: false })

const oneLine = (e: CliError.CliError): string => {
  // effect appends a multi-line "Did you mean this?" block; keep the first line and rebuild the hint.
  const first = plain.formatCliError(e).split("\n")[0]!.trim()
  const suggestions = "suggestions" in e && Array.isArray(e.suggestions) ? (e.suggestions as ReadonlyArray<string>) : []
  return suggestions.length > 0 ? `${first} (did you mean ${suggestions.join(", ")}?)` : first
}

export const usageError = (commandPath: ReadonlyArray<string>, errors: ReadonlyArray<CliError.CliError>): string =>
  `kstlib: ${errors.map(oneLine).join("; ")}\nsee '${commandPath.join(" ")} --help'`

export const presenter: CliOutput.Presenter = {
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Console.error(usageError(event.commandPath, event.errors))
      : CliOutput.defaultPresenter.present(event)
}
