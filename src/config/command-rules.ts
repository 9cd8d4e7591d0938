/**
 * Deep defense for `command:` (and `exec -- ARGV`). No shell runs a command (src/command.ts), so
 * what matters is what a shell WOULD have done with the text: its author may have expected chaining,
 * a pipe or a redirection that will not happen, and some words execute code by themselves
 * (`eval`, `bash -c`). Quoted metacharacters are plain argument bytes and pass.
 *
 * Checks run on the words as they will be executed (after quote removal), so `e''val` is `eval`.
 * Not a sandbox: a program may still run code it is given (`python -c`); these rules stop shell
 * code from hiding in a command that is declared to run without one.
 */
import type { SyntaxHit } from "../command.js"
import { scanCommand } from "../command.js"

const QUOTE_OR_SHELL = "but no shell runs this command; quote it to pass it as an argument, or set shell: true"
const SINGLE_QUOTE_OR_SHELL =
  "but no shell runs this command; put it in single quotes to pass it as an argument, or set shell: true"
const SHELL_CODE = "is shell code, but no shell runs this command; set shell: true to run shell code"

const syntaxReason = ({ op }: SyntaxHit): string => {
  if (op === "$(") return `'$(…)' would run a command (command substitution), ${SINGLE_QUOTE_OR_SHELL}`
  if (op === "`") return `a backtick would run a command (command substitution), ${SINGLE_QUOTE_OR_SHELL}`
  if (op === "<(" || op === ">(") return `unquoted '${op}…)' would run a command (process substitution), ${QUOTE_OR_SHELL}`
  if (op === ";" || op === ";;" || op === "&&" || op === "||") return `unquoted '${op}' would chain commands, ${QUOTE_OR_SHELL}`
  if (op === "|" || op === "|&") return `unquoted '${op}' would pipe into another command, ${QUOTE_OR_SHELL}`
  if (op === "&") return `unquoted '&' would run a command in the background, ${QUOTE_OR_SHELL}`
  if (op.includes("<")) return `unquoted '${op}' would redirect input from a file, ${QUOTE_OR_SHELL}`
  return `unquoted '${op}' would redirect output to a file, ${QUOTE_OR_SHELL}`
}

const basename = (w: string) => w.slice(w.lastIndexOf("/") + 1)

/** Builtins whose arguments are shell code (or a file of it). */
const CODE_BUILTINS = new Set(["eval", "source", "exec", "."])

const SHELLS = new Set(["sh", "bash", "rbash", "dash", "zsh", "ksh", "mksh", "pdksh", "ash", "yash", "posh", "fish", "csh", "tcsh"])

interface Wrapper {
  /** Options whose value is the next word (`-n 5`); `-n5` and `--opt=v` need no entry. */
  readonly valued: ReadonlyArray<string>
  /** Positional words before the wrapped command (`timeout 5s CMD`). */
  readonly positionals?: number
}

/** Programs that run the rest of their argv as a command. */
const WRAPPERS: Readonly<Record<string, Wrapper>> = {
  env: { valued: ["-u", "--unset", "-C", "--chdir"] },
  nice: { valued: ["-n", "--adjustment"] },
  nohup: { valued: [] },
  setsid: { valued: [] },
  timeout: { valued: ["-s", "--signal", "-k", "--kill-after"], positionals: 1 },
  stdbuf: { valued: ["-i", "-o", "-e", "--input", "--output", "--error"] },
  xargs: {
    valued: ["-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--arg-file", "--delimiter", "--max-args", "--max-procs", "--max-chars", "--process-slot-var"]
  },
  ionice: { valued: ["-c", "-n", "-p", "-P", "-u", "--class", "--classdata", "--pid", "--pgid", "--uid"] },
  taskset: { valued: [], positionals: 1 },
  chrt: { valued: ["-T", "-P", "-D", "--sched-runtime", "--sched-period", "--sched-deadline"], positionals: 1 },
  time: { valued: ["-f", "--format", "-o", "--output"] },
  command: { valued: [] },
  builtin: { valued: [] },
  sudo: { valued: ["-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "--user", "--group", "--chdir", "--prompt"] },
  doas: { valued: ["-u", "-C"] },
  busybox: { valued: [] }
}

/** `bash -c CODE` / `sh -ec CODE` (options before the first operand; `-o`/`-O` take a value). */
const shellRunsCode = (args: ReadonlyArray<string>): boolean => {
  for (let j = 0; j < args.length; j++) {
    const w = args[j]!
    if (w === "--" || w === "-" || !/^[-+]./u.test(w)) return false
    if (w.startsWith("--")) {
      if (w === "--rcfile" || w === "--init-file") j++
      continue
    }
    if (w.startsWith("-") && w.includes("c")) return true
    if (/[oO]/u.test(w)) j++
  }
  return false
}

/** Index of the wrapped command in `words` (after the wrapper at `at`), or a refusal. */
const skipWrapper = (name: string, w: Wrapper, words: ReadonlyArray<string>, at: number): number | string => {
  let j = at + 1
  while (j < words.length) {
    const x = words[j]!
    if (x === "--") {
      j++
      break
    }
    if (name === "env" && /^-[^-]*S|^--split-string/u.test(x)) {
      return `'env -S' splits its argument into a command line that cannot be checked; write the words directly, or set shell: true`
    }
    if (name === "sudo" && /^-[^-]*[si]|^--(?:shell|login)$/u.test(x)) {
      return `'sudo ${x}' runs the command through a shell, but no shell runs this command; set shell: true to run shell code`
    }
    if (x.startsWith("-") && x.length > 1) {
      j += w.valued.includes(x) ? 2 : 1
      continue
    }
    if (name === "env" && /^[A-Za-z_][A-Za-z0-9_]*=/u.test(x)) {
      j++
      continue
    }
    break
  }
  return j + (w.positionals ?? 0)
}

/**
 * The word-level checks, on an argv as it will be executed: the command word (looking through
 * wrappers such as `env`, `nice`, `timeout`) must not be a builtin that runs shell code, nor a shell
 * given code with `-c`, nor a `NAME=value` assignment (only a shell reads it so).
 */
export const argvReason = (words: ReadonlyArray<string>): string | null => {
  if (words.length === 0) return "the command is empty"
  if (/^[A-Za-z_][A-Za-z0-9_]*=/u.test(words[0]!)) {
    const assignment = words[0]!.slice(0, words[0]!.indexOf("=") + 1)
    return `'${assignment}…' would set a variable in a shell, but no shell runs this command; put it under env:, or set shell: true`
  }
  let i = 0
  while (i < words.length) {
    const word = words[i]!
    const name = basename(word)
    if (CODE_BUILTINS.has(word) || CODE_BUILTINS.has(name)) {
      return `'${word}' runs its arguments as shell code, but no shell runs this command; set shell: true to run shell code`
    }
    if (SHELLS.has(name)) {
      return shellRunsCode(words.slice(i + 1)) ? `'${name} -c' ${SHELL_CODE}` : null
    }
    const wrapper = WRAPPERS[name]
    if (wrapper === undefined) return null
    const next = skipWrapper(name, wrapper, words, i)
    if (typeof next === "string") return next
    i = next
  }
  return null
}

/** The deep check of a command that runs without a shell: shell syntax first, then the words. */
export const commandSyntaxReason = (command: string): string | null => {
  const scan = scanCommand(command)
  if (!scan.ok) return `cannot split the command into words: ${scan.reason}`
  const first = scan.syntax[0]
  if (first !== undefined) return syntaxReason(first)
  return argvReason(scan.words)
}
