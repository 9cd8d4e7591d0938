/**
 * Deep defense for `command:` (and `exec -- ARGV`). No shell runs a command (src/command.ts), so
 * what matters is what a shell WOULD have done with the text: its author may have expected chaining,
 * a pipe or a redirection that will not happen, and some words execute code by themselves
 * (`eval`, `bash -c`). Quoted metacharacters are plain argument bytes and pass.
 *
 * Checks run on the words as they will be executed (after quote removal), so `e''val` is `eval`.
 *
 * Threat model. What this guarantees: kstlib itself never hands a command to a shell unless the
 * session says `shell: true`, and shell syntax that would silently become an argument is refused.
 * What it also does, as a deny-list that cannot be complete: refuse the obvious ways of smuggling
 * shell code into a command declared to run without one: shells given `-c`, the builtins that run
 * code, and the known programs that hand a string to a shell (`su -c`, `flock -c`, `watch`, `ssh
 * HOST CMD`, `tmux new-session CMD`, `find -exec sh -c`…), looking through the programs that run
 * their argv (`env`, `nice`, `chroot`, `unshare`, `systemd-run`…). Not a sandbox: a program the
 * user names may run code it is given (`python -c`, `make`, an interpreter reading a file): that is
 * the user's choice, as it would be on a command line.
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

const RUNS_IN_SHELL = "but no shell runs this command; set shell: true to run shell code"

/** A program's option syntax: which options take a value (`-n 5`, `-n5`, `--user x`; `--user=x` needs no entry). */
interface OptionSyntax {
  /** Short option letters that take a value: the rest of the word, else the next word. */
  readonly short?: string
  /** Long options that take the next word as their value. */
  readonly long?: ReadonlyArray<string>
}

/**
 * The option word at `words[j]` (getopt rules: `-abc` is three letters until one that takes a
 * value): the options it names and how many words it spans. null: an operand, `-` or `--`.
 */
const readOption = (words: ReadonlyArray<string>, j: number, o: OptionSyntax): { readonly names: ReadonlyArray<string>; readonly span: number } | null => {
  const w = words[j]!
  if (w === "--" || w === "-" || !w.startsWith("-")) return null
  if (w.startsWith("--")) {
    const name = w.includes("=") ? w.slice(0, w.indexOf("=")) : w
    return { names: [name], span: !w.includes("=") && (o.long ?? []).includes(name) ? 2 : 1 }
  }
  const names: Array<string> = []
  for (let k = 1; k < w.length; k++) {
    names.push(`-${w[k]}`)
    if ((o.short ?? "").includes(w[k]!)) return { names, span: k === w.length - 1 ? 2 : 1 }
  }
  return { names, span: 1 }
}

interface Wrapper extends OptionSyntax {
  /** Positional words before the wrapped command (`timeout 5s CMD`, `chroot DIR CMD`). */
  readonly positionals?: number
}

/** Programs that run the rest of their argv as a command (the wrapped command is checked in turn). */
const WRAPPERS: Readonly<Record<string, Wrapper>> = {
  env: { short: "uC", long: ["--unset", "--chdir"] },
  nice: { short: "n", long: ["--adjustment"] },
  nohup: {},
  setsid: {},
  timeout: { short: "sk", long: ["--signal", "--kill-after"], positionals: 1 },
  stdbuf: { short: "ioe", long: ["--input", "--output", "--error"] },
  xargs: { short: "adEILnPs", long: ["--arg-file", "--delimiter", "--max-args", "--max-procs", "--max-chars", "--process-slot-var"] },
  ionice: { short: "cnpPu", long: ["--class", "--classdata", "--pid", "--pgid", "--uid"] },
  taskset: { positionals: 1 },
  chrt: { short: "TPD", long: ["--sched-runtime", "--sched-period", "--sched-deadline"], positionals: 1 },
  time: { short: "fo", long: ["--format", "--output"] },
  command: {},
  builtin: {},
  sudo: { short: "ugCDhprtUT", long: ["--user", "--group", "--chdir", "--prompt"] },
  doas: { short: "uC" },
  busybox: {},
  chroot: { long: ["--userspec", "--groups"], positionals: 1 },
  unshare: { short: "RwSGl", long: ["--root", "--wd", "--setuid", "--setgid", "--load-interp", "--map-user", "--map-group", "--map-users", "--map-groups", "--propagation", "--setgroups"] },
  prlimit: { short: "po", long: ["--pid", "--output"] },
  nsenter: { short: "tSG", long: ["--target", "--setuid", "--setgid"] },
  setpriv: {
    long: ["--reuid", "--regid", "--ruid", "--rgid", "--euid", "--egid", "--groups", "--inh-caps", "--ambient-caps", "--bounding-set", "--securebits", "--pdeathsig", "--selinux-label", "--apparmor-profile"]
  },
  "systemd-run": {
    short: "upEMHC",
    long: ["--unit", "--property", "--setenv", "--machine", "--host", "--capsule", "--description", "--slice", "--uid", "--gid", "--nice", "--working-directory", "--service-type", "--on-active", "--on-boot", "--on-startup", "--on-unit-active", "--on-unit-inactive", "--on-calendar", "--path-property", "--socket-property", "--timer-property"]
  },
  pkexec: { long: ["--user"] },
  gosu: { positionals: 1 },
  "su-exec": { positionals: 1 },
  tini: { short: "pe" },
  "dumb-init": { short: "r", long: ["--rewrite"] },
  strace: { short: "abeEIoOpPsSuUX", long: ["--output", "--attach", "--user", "--env"] },
  numactl: { short: "iNmCpP", long: ["--interleave", "--cpunodebind", "--membind", "--physcpubind", "--preferred"] },
  cgexec: { short: "g" },
  screen: { short: "ScehpsTtX" }
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
      return `'sudo ${x}' runs the command through a shell, ${RUNS_IN_SHELL}`
    }
    const opt = readOption(words, j, w)
    if (opt !== null) {
      if (name === "screen" && opt.names.includes("-X")) return `'screen -X' sends commands to a screen session, ${RUNS_IN_SHELL}`
      j += opt.span
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
 * What a program at `words[at]` does with the words after it: a refusal (string), the index of a
 * command it runs as words (checked in turn), or null: nothing more to check.
 */
type Step = string | number | null

/** The operands of `words` after `at` and the options met, wherever they are (getopt permutes, until `--`). */
const scanArgs = (words: ReadonlyArray<string>, at: number, o: OptionSyntax) => {
  const options: Array<string> = []
  const operands: Array<number> = []
  for (let j = at + 1; j < words.length;) {
    if (words[j] === "--") {
      for (let k = j + 1; k < words.length; k++) operands.push(k)
      break
    }
    const opt = readOption(words, j, o)
    if (opt === null) {
      operands.push(j)
      j++
    } else {
      options.push(...opt.names)
      j += opt.span
    }
  }
  return { options, operands }
}

/** su, runuser, script: `-c CODE` / `--command CODE` is given to a shell, wherever it is. */
const codeOption = (o: OptionSyntax & { readonly code: ReadonlyArray<string>; readonly runsOperands?: ReadonlyArray<string> }) =>
(words: ReadonlyArray<string>, at: number): Step => {
  const { operands, options } = scanArgs(words, at, o)
  const code = options.find((n) => o.code.includes(n))
  if (code !== undefined) return `'${basename(words[at]!)} ${code}' ${SHELL_CODE}`
  // `runuser -u USER CMD…` runs its operands as a command
  return options.some((n) => (o.runsOperands ?? []).includes(n)) ? operands[0] ?? null : null
}

/** Programs that pass a string to a shell, and where. */
const SPECIAL: Readonly<Record<string, (words: ReadonlyArray<string>, at: number) => Step>> = {
  su: codeOption({ short: "cgGsw", long: ["--command", "--session-command", "--group", "--supp-group", "--shell", "--whitelist-environment"], code: ["-c", "--command", "--session-command"] }),
  runuser: codeOption({
    short: "cgGswu",
    long: ["--command", "--session-command", "--group", "--supp-group", "--shell", "--whitelist-environment", "--user"],
    code: ["-c", "--command", "--session-command"],
    runsOperands: ["-u", "--user"]
  }),
  script: codeOption({ short: "cBEIOmoT", long: ["--command", "--log-io", "--echo", "--log-in", "--log-out", "--logging-format", "--output-limit", "--log-timing"], code: ["-c", "--command"] }),
  // `sg GROUP COMMAND` runs COMMAND with /bin/sh -c
  sg: (words, at) => {
    const { operands } = scanArgs(words, at, {})
    return operands.length > 1 ? `'sg GROUP COMMAND' runs COMMAND through a shell (sh -c), ${RUNS_IN_SHELL}` : null
  },
  // `flock [opts] FILE -c CODE` (a shell) or `flock [opts] FILE CMD…` (words); options end at FILE
  flock: (words, at) => {
    let j = at + 1
    for (let opt = readOption(words, j, { short: "wE" }); j < words.length && opt !== null; opt = readOption(words, j, { short: "wE" })) j += opt.span
    const file = words[j] === "--" ? j + 1 : j
    const next = words[file + 1]
    if (next === "-c" || next === "--command") return `'flock ${next}' ${SHELL_CODE}`
    return next === undefined ? null : file + 1
  },
  // `watch CMD…` joins the words and runs them with sh -c; `watch -x` runs them as words
  watch: (words, at) => {
    let j = at + 1
    let exec = false
    for (let opt = readOption(words, j, { short: "nq", long: ["--interval", "--equexit"] }); opt !== null; opt = readOption(words, j, { short: "nq", long: ["--interval", "--equexit"] })) {
      if (opt.names.includes("-x") || opt.names.includes("--exec")) exec = true
      j += opt.span
      if (j >= words.length) return null
    }
    if (words[j] === "--") j++
    if (j >= words.length) return null
    return exec ? j : `'watch' runs its command through a shell (sh -c), but no shell runs this command; use watch -x to run the words as they are, or set shell: true`
  },
  parallel: (words, at) =>
    words.slice(at + 1).some((w) => !w.startsWith("-")) ? `'parallel' runs its command through a shell (sh -c), ${RUNS_IN_SHELL}` : null,
  // ssh joins the words after HOST into one line for the remote login shell
  ssh: (words, at) => {
    const { operands } = scanArgs(words, at, { short: "BbcDEeFIiJLlmOopQRSWw" })
    return operands.length > 1 ? `'ssh HOST COMMAND' runs COMMAND through the remote login shell, ${RUNS_IN_SHELL}` : null
  },
  // each `-exec CMD… ;` (and -execdir, -ok, -okdir) runs CMD as words
  find: (words, at) => {
    for (let j = at + 1; j < words.length; j++) {
      if (!["-exec", "-execdir", "-ok", "-okdir"].includes(words[j]!)) continue
      let end = j + 1
      while (end < words.length && words[end] !== ";" && words[end] !== "+") end++
      const inner = argvReason(words.slice(j + 1, end))
      if (inner !== null && end > j + 1) return inner
      j = end
    }
    return null
  },
  tmux: (words, at) => tmuxReason(words.slice(at + 1))
}

/** tmux commands that run a shell command given as their operands, with their options that take a value. */
const TMUX_COMMAND_RUNNERS: Readonly<Record<string, string>> = {
  "new-session": "cefFnstxy",
  "new-window": "ceFnt",
  "split-window": "ceFlpt",
  "respawn-pane": "cet",
  "respawn-window": "cet",
  "display-popup": "bcdehsStTwxy"
}
/** tmux commands whose arguments are shell code (or text typed into a shell). */
const TMUX_CODE: ReadonlyArray<string> = ["run-shell", "if-shell", "pipe-pane", "send-keys"]
const TMUX_ALIASES: Readonly<Record<string, string>> = {
  new: "new-session",
  neww: "new-window",
  splitw: "split-window",
  respawnp: "respawn-pane",
  respawnw: "respawn-window",
  popup: "display-popup",
  run: "run-shell",
  if: "if-shell",
  pipep: "pipe-pane",
  send: "send-keys",
  // aliases of other commands that look like prefixes of the ones above
  display: "display-message",
  displayp: "display-panes"
}
/** tmux commands whose arguments are tmux commands (a key binding, a hook, a prompt). */
const TMUX_NESTING = ["bind-key", "bind", "set-hook", "confirm-before", "confirm", "command-prompt", "display-menu", "menu"]

/** A tmux command name as tmux reads it: an alias, a full name, or a unique prefix of one. */
const tmuxCommand = (word: string): string => {
  const alias = TMUX_ALIASES[word]
  if (alias !== undefined) return alias
  const known = [...Object.keys(TMUX_COMMAND_RUNNERS), ...TMUX_CODE]
  return word.length >= 3 ? known.find((k) => k.startsWith(word)) ?? word : word
}

/** `tmux [-c CODE] CMD [args] [; CMD …]`: the commands that would run shell code. */
const tmuxReason = (args: ReadonlyArray<string>): string | null => {
  let j = 0
  for (let opt = readOption(args, j, { short: "cfLST" }); opt !== null; opt = readOption(args, j, { short: "cfLST" })) {
    if (opt.names.includes("-c")) return `'tmux -c' ${SHELL_CODE}`
    j += opt.span
    if (j >= args.length) return null
  }
  if (args[j] === "--") j++
  // commands are separated by a `;` word (`\;` on a command line), or a word ending in `;`
  const commands: Array<Array<string>> = [[]]
  for (const w of args.slice(j)) {
    if (w === ";") {
      commands.push([])
    } else if (w.endsWith(";") && !w.endsWith("\\;")) {
      commands.at(-1)!.push(w.slice(0, -1))
      commands.push([])
    } else {
      commands.at(-1)!.push(w)
    }
  }
  for (const [name, ...rest] of commands.filter((c) => c.length > 0)) {
    const cmd = tmuxCommand(name!)
    if (TMUX_CODE.includes(cmd)) {
      return cmd === "send-keys" ? `'tmux ${name}' types into a shell, ${RUNS_IN_SHELL}` : `'tmux ${name}' runs shell code, ${RUNS_IN_SHELL}`
    }
    const valued = TMUX_COMMAND_RUNNERS[cmd]
    if (valued !== undefined) {
      const { operands } = scanArgs([name!, ...rest], 0, { short: valued })
      if (operands.length > 0) return `'tmux ${name} COMMAND' runs COMMAND through a shell, ${RUNS_IN_SHELL}`
      continue
    }
    // a command string inside another command (`set-hook -g x 'run-shell …'`, `bind x run-shell …`)
    for (const arg of rest) {
      if (!TMUX_NESTING.includes(cmd) && !/\s/u.test(arg)) continue
      const inner = tmuxReason(arg.trim().split(/\s+/u))
      if (inner !== null) return inner
    }
  }
  return null
}

/**
 * The word-level checks, on an argv as it will be executed: the command word (looking through
 * wrappers such as `env`, `nice`, `timeout`) must not be a builtin that runs shell code, nor a shell
 * given code with `-c`, nor a program that hands a string to a shell (SPECIAL), nor a `NAME=value`
 * assignment (only a shell reads it so).
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
      return `'${word}' runs its arguments as shell code, ${RUNS_IN_SHELL}`
    }
    if (SHELLS.has(name)) {
      return shellRunsCode(words.slice(i + 1)) ? `'${name} -c' ${SHELL_CODE}` : null
    }
    const special = SPECIAL[name]
    const wrapper = WRAPPERS[name]
    const next = special !== undefined ? special(words, i) : wrapper !== undefined ? skipWrapper(name, wrapper, words, i) : null
    if (typeof next !== "number") return next
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
