/**
 * Colour decisions (flag > NO_COLOR > FORCE_COLOR > TERM=dumb > TTY), the painter, table alignment by
 * display width, and the two-line usage error text.
 */
import { CliError } from "effect/cli"
import { describe, expect, it } from "vitest"
import { colorModeFromArgv } from "../../src/cli/color.js"
import { table } from "../../src/cli/output.js"
import { usageError } from "../../src/cli/usage.js"
import { paint, styleFor } from "../../src/style.js"

const ANSI = /\u001b\[[0-9;]*m/gu
const strip = (s: string) => s.replace(ANSI, "")

describe("styleFor", () => {
  it.each([
    // [tty, env, mode, colour]
    [false, {}, "auto", false],
    [true, {}, "auto", true],
    [false, { FORCE_COLOR: "1" }, "auto", true],
    [false, { FORCE_COLOR: "true" }, "auto", true],
    [false, { FORCE_COLOR: "0" }, "auto", false],
    [false, { FORCE_COLOR: "" }, "auto", false],
    [true, { FORCE_COLOR: "0" }, "auto", true], // `0` does not force; the TTY still decides
    [true, { NO_COLOR: "1" }, "auto", false],
    [false, { NO_COLOR: "1", FORCE_COLOR: "1" }, "auto", false], // NO_COLOR wins over FORCE_COLOR
    [true, { TERM: "dumb" }, "auto", false],
    [false, { TERM: "dumb", FORCE_COLOR: "1" }, "auto", true],
    [false, { NO_COLOR: "1" }, "always", true], // the flag wins over everything
    [true, { FORCE_COLOR: "1" }, "never", false],
    [true, {}, "never", false]
  ] as const)("tty=%s env=%j --color %s → %s", (tty, env, mode, color) => {
    expect(styleFor(tty, env, mode)).toEqual({ color })
  })
})

describe("paint", () => {
  it("wraps in SGR codes only when colour is on, whatever stream the test runs on", () => {
    expect(paint({ color: false }, "green", "ok")).toBe("ok")
    expect(paint({ color: true }, "green", "ok")).toBe("\u001b[32mok\u001b[39m")
    expect(paint({ color: true }, "bold", "ok")).toBe("\u001b[1mok\u001b[22m")
  })
})

describe("table", () => {
  const rows = [["日本語", "x", "end"], ["🚀🚀", "yy", "end"], ["ascii", "zzz", "end"]]
  const cellStarts = (line: string) => {
    // Display column where each cell after the first starts: count cells of the text before it.
    const plainLine = strip(line)
    const cols: Array<number> = []
    let col = 0
    let prevSpace = false
    for (const ch of plainLine) {
      if (ch !== " " && prevSpace) cols.push(col)
      prevSpace = ch === " "
      col += /[\u3000-\u9fff]|\p{Emoji_Presentation}/u.test(ch) ? 2 : 1
    }
    return cols
  }

  it.each([false, true])("aligns columns by display width (CJK, emoji), colour %s", (color) => {
    const style = { color }
    const text = table(style, ["NAME", "COL", "LAST"], rows, (col, _cell, padded) => (col === 1 ? paint(style, "green", padded) : padded))
    const lines = text.split("\n")
    expect(lines).toHaveLength(4)
    expect(ANSI.test(text)).toBe(color)
    ANSI.lastIndex = 0
    const starts = lines.map(cellStarts)
    // "日本語" and "🚀🚀" are 6 and 4 cells wide: the second column starts at 6 + 2 on every line.
    for (const s of starts) expect(s).toEqual([8, 13])
  })

  it("aligns 1000 rows (ops.max_sessions) where one wide name sets the first column's width", () => {
    const many = Array.from({ length: 1000 }, (_, i) => [i === 999 ? "名前-999" : `s${i}`, i % 2 === 0 ? "tmux" : "container", "end"])
    const lines = table({ color: false }, ["NAME", "BACKEND", "LAST"], many).split("\n")
    expect(lines).toHaveLength(1001)
    // "名前-999" is 8 cells: the second column starts at 8 + 2, the third after "container" (9 + 2)
    for (const line of lines) expect(cellStarts(line), line).toEqual([10, 21])
  })
})

describe("colorModeFromArgv", () => {
  it.each([
    [[], "auto"],
    [["--color", "never", "ops", "list"], "never"],
    [["ops", "list", "--color=always"], "always"],
    [["--color", "bogus"], "auto"], // a bad value is the parser's usage error, not a mode
    [["ops", "exec", "x", "--", "ls", "--color", "never"], "auto"] // after `--`: the command's own argument
  ] as const)("%j → %s", (argv, mode) => {
    expect(colorModeFromArgv(argv)).toBe(mode)
  })
})

describe("usageError", () => {
  it("is two lines: the error with its suggestion on one line, and where the help is", () => {
    const text = usageError(["kstlib", "ops", "plan"], [
      new CliError.UnrecognizedOption({ option: "--jsn", command: ["kstlib", "ops", "plan"], suggestions: ["--json"] })
    ])
    expect(text.split("\n")).toEqual([
      "kstlib: Unrecognized flag: --jsn in command kstlib ops plan (did you mean --json?)",
      "see 'kstlib ops plan --help'"
    ])
  })

  it("joins several errors on the first line and escapes control characters from the input", () => {
    const text = usageError(["kstlib", "ops", "start"], [
      new CliError.MissingArgument({ argument: "name" }),
      new CliError.UnrecognizedOption({ option: "--x\u001b[31m", suggestions: [] })
    ])
    const lines = text.split("\n")
    expect(lines).toHaveLength(2)
    expect(lines[0]).toContain("Missing required argument: name; Unrecognized flag: --x")
    expect(text).not.toContain("\u001b")
  })
})
