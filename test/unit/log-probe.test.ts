/**
 * `ready.log`: the pattern runs in kstlib's own thread over up to LOG_PROBE_LINES lines, so it runs
 * on a linear-time engine (RE2): a pattern that makes a backtracking engine take exponential time
 * (`^(a+)+$` against a line of `a`s) still answers, and validation refuses what RE2 cannot run.
 */
import { describe, expect, it } from "vitest"
import { LOG_PROBE_LINES, logMatches } from "../../src/backends/probe.js"
import { validateReadyPattern } from "../../src/config/rules.js"

describe("ready.log on a linear-time engine", () => {
  it("a catastrophic-backtracking pattern over a full log still answers", () => {
    const log = Array.from({ length: LOG_PROBE_LINES }, () => `${"a".repeat(64)}!`).join("\n")
    expect(logMatches(log, "^(a+)+$")).toEqual({ ready: false, detail: "no line matches /^(a+)+$/" })
    expect(logMatches(`${log}\n${"a".repeat(64)}`, "^(a+)+$")).toEqual({ ready: true, detail: "a line matches" })
  })

  it("matches line by line, as before", () => {
    expect(logMatches("start\nready to accept connections on 5432\n", "ready to accept connections")).toMatchObject({ ready: true })
    expect(logMatches("listening on :8080\n", "^listening on :\\d+$")).toMatchObject({ ready: true })
    // a class never crosses a line: each line is matched on its own
    expect(logMatches("ready\ndone", "ready[^!]*done")).toMatchObject({ ready: false })
    expect(logMatches("Ready", "(?i)ready")).toMatchObject({ ready: true })
  })

  it("validation refuses what RE2 cannot run, saying why", () => {
    const refused = (p: string, what: string) =>
      expect(validateReadyPattern(p)).toBe(`not a valid RE2 regular expression (no backreferences or lookaround; see https://github.com/google/re2/wiki/Syntax): ${what}`)
    refused("(a)\\1", "invalid escape sequence: `\\1`")
    refused("(?=x)y", "invalid or unsupported Perl syntax: `(?=`")
    refused("(unclosed", "missing closing ): `(unclosed`")
    expect(validateReadyPattern("^(a+)+$")).toBeNull()
    expect(validateReadyPattern("\\bready\\b \\d+ (?P<port>\\d+)")).toBeNull()
  })
})
