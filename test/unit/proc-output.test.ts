/**
 * `run` keeps a bounded part of a child's output: the end of it. A hostile host answering
 * `podman info` (or any engine call) with gigabytes made the output one string longer than V8
 * allows: a RangeError that ended the whole run, every other host and this machine included.
 */
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { MAX_OUTPUT_BYTES, run, showCommand } from "../../src/proc.js"

const flood = `head -c ${MAX_OUTPUT_BYTES + 4 * 1024 * 1024} /dev/zero | tr '\\0' A; echo; echo the-answer`
const runSh = (script: string, merged: boolean) =>
  Effect.runPromise(run("sh", ["-c", script], { merged }).pipe(Effect.provide(NodeServices.layer)))

describe("output of a called program", () => {
  it("keeps at most MAX_OUTPUT_BYTES of each stream: its end, where the answer is", async () => {
    const r = await runSh(`{ ${flood}; }; { ${flood}; } >&2`, false)
    expect(r.exitCode).toBe(0)
    for (const text of [r.stdout, r.stderr]) {
      expect(text.length).toBeLessThanOrEqual(MAX_OUTPUT_BYTES)
      expect(text.endsWith("\nthe-answer\n")).toBe(true)
    }
    const m = await runSh(flood, true)
    expect(m.stdout.length).toBeLessThanOrEqual(MAX_OUTPUT_BYTES)
    expect(m.stdout.endsWith("\nthe-answer\n")).toBe(true)
  })

  it("passes small output through whole", async () => {
    const r = await runSh("printf 'a\\nb\\n'; printf 'é' >&2", false)
    expect(r).toEqual({ stdout: "a\nb\n", stderr: "é", exitCode: 0 })
  })

  it("shows a command (debug log, timeouts) with control characters escaped: names may come from a host", () => {
    const shown = showCommand("podman", ["rm", "-f", "web\u001b]2;PWNED\u0007"])
    expect(shown).not.toMatch(/[\u0000-\u001f]/u)
    expect(shown).toBe("podman rm -f web\\u001b]2;PWNED\\u0007")
  })
})
