/**
 * What a session's `command:` means, once for every backend: the text is split into words like a
 * POSIX shell would split it (the rules of Python's `shlex.split`, which the original used) and the
 * words are executed as an argv, WITHOUT a shell. `shell: true` opts in to `sh -c <command>`.
 *
 * The scanner also reports what a shell would have treated as syntax (unquoted `;`, `|`, `&`,
 * redirections, substitutions), so validation can refuse commands whose author expected a shell.
 * Pure and dependency-free: config (validation) and backends (argv building) both import it.
 */

/** An operator a shell would act on, with where it starts in the text. */
export interface SyntaxHit {
  /** As written: `;`, `&&`, `||`, `|`, `&`, `>`, `2>`, `>>`, `&>`, `<`, `<(`, `>(`, `$(`, `` ` ``. */
  readonly op: string
  readonly index: number
}

export type ScanResult =
  | {
    readonly ok: true
    readonly words: ReadonlyArray<string>
    readonly syntax: ReadonlyArray<SyntaxHit>
    /** Where a word starts with an unquoted `~` (what a shell would expand to a home directory). */
    readonly tildes: ReadonlyArray<number>
  }
  | { readonly ok: false; readonly reason: string }

export type SplitResult =
  | { readonly ok: true; readonly words: ReadonlyArray<string> }
  | { readonly ok: false; readonly reason: string }

const isSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\r"

/** The longest shell operator starting at `i` (the text there is `;`, `&`, `|`, `<` or `>`). */
const operatorAt = (text: string, i: number): string => {
  for (const op of ["&>>", "<<<", "&&", "||", "|&", ";;", ">>", ">|", ">&", "&>", "<<", "<>", "<&", "<(", ">("]) {
    if (text.startsWith(op, i)) return op
  }
  return text[i]!
}

/**
 * Splits `text` into words: whitespace separates words, single quotes are literal, double quotes
 * allow `\"` and `\\`, a backslash outside quotes escapes any character. No expansion, no comments.
 * Along the way it records every place a shell would see syntax instead of argument bytes.
 */
export const scanCommand = (text: string): ScanResult => {
  const words: Array<string> = []
  const syntax: Array<SyntaxHit> = []
  const tildes: Array<number> = []
  // null = between words; "" = a word has started (so `''` yields an empty argument)
  let word: string | null = null
  let quote: "'" | "\"" | null = null
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quote === "'") {
      if (c === "'") quote = null
      else word += c
    } else if (quote === "\"") {
      const next = text[i + 1]
      if (c === "\"") quote = null
      else if (c === "\\" && (next === "\"" || next === "\\")) {
        word += next
        i++
      } else if (c === "\\" && (next === "$" || next === "`")) {
        // A shell's escape (no substitution); the backslash stays in the word, as with shlex.
        word += c + next
        i++
      } else {
        // A shell still substitutes inside double quotes.
        if (c === "`") syntax.push({ op: "`", index: i })
        else if (c === "$" && next === "(") syntax.push({ op: "$(", index: i })
        word += c
      }
    } else if (isSpace(c)) {
      if (word !== null) words.push(word)
      word = null
    } else if (c === "'" || c === "\"") {
      word ??= ""
      quote = c
    } else if (c === "\\") {
      if (i + 1 >= text.length) return { ok: false, reason: "no character after the final backslash" }
      word = (word ?? "") + text[i + 1]!
      i++
    } else {
      if (c === "~" && word === null) tildes.push(i)
      if (c === "`") syntax.push({ op: "`", index: i })
      else if (c === "$" && text[i + 1] === "(") syntax.push({ op: "$(", index: i })
      else if (";&|<>".includes(c)) {
        const op = operatorAt(text, i)
        // `2>` / `2>>`: a word of digits right before a redirection is its file descriptor
        const fd = (c === "<" || c === ">") && word !== null && /^[0-9]+$/u.test(word) ? word : ""
        syntax.push({ op: fd + op, index: i - fd.length })
        // the operator's bytes stay in the word (no shell runs it); scanning resumes after it
        word = (word ?? "") + op
        i += op.length - 1
        continue
      }
      word = (word ?? "") + c
    }
  }
  if (quote !== null) return { ok: false, reason: `no closing quotation (${quote})` }
  if (word !== null) words.push(word)
  return { ok: true, words, syntax, tildes }
}

/** A word as a POSIX shell reads it back: as is when plain, else single-quoted. */
export const quoteWord = (w: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/u.test(w) ? w : `'${w.replaceAll("'", "'\\''")}'`)

export type TildeResult = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly reason: string }

/**
 * `text` with the tilde-prefix of each word a shell would expand (`~`, `~/x`, `~user`, `~user/x`,
 * unquoted) replaced by that home directory, quoted as needed: no shell runs a command, so kstlib
 * does what the original's `sh -c` did. Quoted (`'~/x'`) or inside a word (`a~/b`) stays literal,
 * as in a shell. `homeOf("")` is the current user's home; undefined: none (the reason says which).
 */
export const expandTilde = (text: string, homeOf: (user: string) => string | undefined): TildeResult => {
  const scan = scanCommand(text)
  if (!scan.ok || scan.tildes.length === 0) return { ok: true, text }
  let out = ""
  let from = 0
  for (const at of scan.tildes) {
    const m = /^~([A-Za-z0-9._-]*)(?=$|[/\s])/u.exec(text.slice(at))
    // `~"x"`, `~$USER`: not a tilde-prefix for a shell either
    if (m === null) continue
    const user = m[1]!
    const home = homeOf(user)
    if (home === undefined) {
      return { ok: false, reason: user === "" ? "cannot expand '~': HOME is not set" : `cannot expand '~${user}': no such user on this machine` }
    }
    out += text.slice(from, at) + quoteWord(home)
    from = at + m[0].length
  }
  return { ok: true, text: out + text.slice(from) }
}

/** The words only (what the container backends used to call `shellSplit`). */
export const splitWords = (text: string): SplitResult => {
  const r = scanCommand(text)
  return r.ok ? { ok: true, words: r.words } : r
}

/** The shell `shell: true` runs the command with, on every backend (the image's, for containers). */
export const SHELL = "sh"

export type CommandArgv =
  | { readonly ok: true; readonly argv: ReadonlyArray<string> | null }
  | { readonly ok: false; readonly reason: string }

/**
 * The argv a session runs: `null` when there is no command (the backend's default: the user's shell
 * in tmux, the image's command in a container), `sh -c <command>` with `shell`, else the words.
 */
export const commandArgv = (spec: { readonly command: string | null; readonly shell: boolean }): CommandArgv => {
  if (spec.command === null) return { ok: true, argv: null }
  if (spec.shell) return { ok: true, argv: [SHELL, "-c", spec.command] }
  const split = splitWords(spec.command)
  if (!split.ok) return { ok: false, reason: `invalid command: ${split.reason}` }
  if (split.words.length === 0) return { ok: false, reason: "invalid command: it is empty" }
  return { ok: true, argv: split.words }
}
