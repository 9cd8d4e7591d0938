/**
 * Commands between formats: kstlib splits `command:` into words and runs them without a shell
 * (src/command.ts), unless `shell: true`. Sources say either "these words" (compose lists, pm2) or
 * "this shell line" (Procfile, tmux panes); these helpers write each so kstlib runs the same thing.
 */
import { scanCommand } from "../command.js"
import { argvReason, commandSyntaxReason } from "../config/command-rules.js"
import { validateCommandText } from "../config/rules.js"

/** A word written so that kstlib's splitter (and a POSIX shell) reads it back unchanged. */
export const quoteWord = (w: string): string =>
  w !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/u.test(w) ? w : `'${w.replace(/'/gu, () => "'\\''")}'`

export const joinWords = (words: ReadonlyArray<string>): string => words.map(quoteWord).join(" ")

/**
 * Text kstlib must not interpolate: every string under `ops` goes through `${VAR}` interpolation at
 * load time, so a `$` meant for the program (or for the shell at run time) is written `$$`.
 */
export const literal = (s: string): string => s.replace(/\$/gu, () => "$$")

/** What a POSIX shell would do with this line that a plain word split does not (so it needs `shell: true`). */
export const needsShell = (line: string): boolean => commandSyntaxReason(line) !== null || /[$*?[~#]/u.test(line)

export interface KstlibCommand {
  /** As written in the YAML (`$` already doubled). */
  readonly command: string
  readonly shell: boolean
}

/** A shell command line (Procfile entry, a command typed into a tmux pane). */
export const fromShellLine = (line: string): KstlibCommand =>
  needsShell(line) ? { command: literal(line), shell: true } : { command: line, shell: false }

/**
 * An argv to run as is (pm2's interpreter + script + args). Words kstlib refuses to run without a
 * shell (`bash -c …`, `eval`) get `shell: true` over the same quoted words: sh then runs exactly
 * that argv.
 */
export const fromArgv = (words: ReadonlyArray<string>): KstlibCommand => {
  const line = joinWords(words)
  return { command: literal(line), shell: argvReason(words) !== null }
}

/** The words of a command string as kstlib splits them (null: unbalanced quotes or a trailing backslash). */
export const wordsOf = (line: string): ReadonlyArray<string> | null => {
  const scan = scanCommand(line)
  return scan.ok ? scan.words : null
}

/** Why a command cannot be carried at all (length, NUL, a line break), or null. */
export const commandTextProblem = (command: string): string | null => validateCommandText(command)
