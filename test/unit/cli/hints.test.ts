/** Library messages name no CLI flag or command; the CLI adds its own (issue 25.4). */
import { describe, expect, it } from "vitest"
import { cliMessage } from "../../../src/cli/hints.js"
import { ApplyLocked, InvalidInput, SessionAmbiguous, SessionExists, SessionNotRunning } from "../../../src/errors.js"

const cases = [
  [new SessionExists({ session: "web", backend: "tmux" }), "Use 'kstlib ops stop web' first."],
  [new SessionAmbiguous({ session: "web", places: ["tmux (socket default)", "container (podman)"] }), "Use --backend, --socket or --host to choose one."],
  [new ApplyLocked({ lockFile: "/l", pid: 7 }), "retry when it finishes or pass --wait-lock"],
  [new SessionNotRunning({ session: "web" }), "not running; start it with 'kstlib ops start web'"],
  [new InvalidInput({ field: "timeout", reason: "must be between 0 and 3600 seconds" }), "--timeout: must be between 0 and 3600 seconds"],
  [new InvalidInput({ field: "volumes", reason: "applies to container sessions only" }), "--volume: applies to container sessions only"]
] as const

describe("CLI hints", () => {
  it.each(cases)("%s: the library message has no flag, the CLI's adds it", (e, cli) => {
    expect(e.message).not.toMatch(/--|kstlib ops/u)
    expect(cliMessage(e as typeof e & Record<string, unknown>)).toContain(cli)
  })

  it("a not-running session that could not be looked at everywhere gets no start hint", () => {
    const e = new SessionNotRunning({ session: "web", unreadable: ["tmux: timed out"] })
    expect(cliMessage(e as typeof e & Record<string, unknown>)).toBe(e.message)
  })
})
