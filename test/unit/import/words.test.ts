import { describe, expect, it } from "vitest"
import { scanCommand } from "../../../src/command.js"
import { joinTyped, withoutComment } from "../../../src/import/panes.js"
import { fromArgv, fromShellLine, joinWords, literal } from "../../../src/import/words.js"

describe("commands between formats", () => {
  it("quoted words split back to the same words", () => {
    const words = ["a b", "it's", "$HOME", "", "x|y", "--opt=v", "\\", "\"q\"", "*.py", "~"]
    const scan = scanCommand(joinWords(words))
    expect(scan.ok && scan.words).toEqual(words)
  })

  it("$ is doubled where kstlib must not interpolate", () => {
    expect(literal("echo $HOME ${X} $$")).toBe("echo $$HOME $${X} $$$$")
    expect(fromShellLine("echo $PORT")).toEqual({ command: "echo $$PORT", shell: true })
    expect(fromShellLine("npm start")).toEqual({ command: "npm start", shell: false })
    expect(fromArgv(["node", "a b.js"])).toEqual({ command: "node 'a b.js'", shell: false })
    expect(fromArgv(["sh", "-c", "x"])).toEqual({ command: "sh -c x", shell: true })
  })

  it("typed lines joined as a shell would have run them one by one", () => {
    expect(joinTyped(["a", "b &", "c &&", "d", "e;", "f\\;", "g"])).toBe("a; b & c && d; e; f\\;; g")
    expect(withoutComment("make # build it")).toBe("make")
    expect(withoutComment("echo '#1' \"#2\" a#b \\# # cut")).toBe("echo '#1' \"#2\" a#b \\#")
  })
})
