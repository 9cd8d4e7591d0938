/**
 * POSIX shell-style word splitting (the rules of Python's `shlex.split`, which the original used):
 * whitespace separates words, single quotes are literal, double quotes allow `\"` and `\\`, a
 * backslash outside quotes escapes any character. No expansion, no comments: the words become argv.
 */

export type SplitResult =
  | { readonly ok: true; readonly words: ReadonlyArray<string> }
  | { readonly ok: false; readonly reason: string }

const isSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\r"

export const shellSplit = (text: string): SplitResult => {
  const words: Array<string> = []
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
      } else word += c
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
      word = (word ?? "") + c
    }
  }
  if (quote !== null) return { ok: false, reason: `no closing quotation (${quote})` }
  if (word !== null) words.push(word)
  return { ok: true, words }
}
