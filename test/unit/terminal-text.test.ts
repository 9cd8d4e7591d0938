/**
 * Text that comes from an engine or a host (error output, image names, labels, a session's last
 * lines) reaches the terminal escaped: a hostile host's Podman API service answered every call with
 * an error holding escape sequences (window title, clear screen, colours), and kstlib printed them
 * as they were.
 */
import { describe, expect, it } from "vitest"
import { CommandFailed, SessionAttachFailed, SessionNotReady, SessionStartFailed, SessionStopFailed } from "../../src/errors.js"
import { renderList, renderStatus } from "../../src/cli/output.js"
import { resultLine } from "../../src/reconcile/render.js"
import { plan } from "../../src/reconcile/plan.js"
import type { SessionStatus } from "../../src/session/status.js"
import { styleFor } from "../../src/style.js"
import { containerSpec, planOptions, valid } from "../../src/testing/specs.js"

const HOSTILE = "\u001b]2;PWNED\u0007\u001b[2J\u001b[31mFAKE\u001b[0m\u009b1m\ndone   + fake line"
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u

const status = (over: Partial<SessionStatus> = {}): SessionStatus => ({
  name: "web",
  state: "running",
  backend: "container",
  pid: 1,
  created_at: null,
  window_count: 0,
  socket_name: null,
  image: null,
  exit_code: null,
  runtime: "podman",
  host: "edge1",
  owned: false,
  project: null,
  in_sync: null,
  in_config: false,
  issues: [],
  restarts: null,
  last_exit_code: null,
  ready: null,
  cpu_percent: null,
  memory_bytes: null,
  ...over
})

describe("text from engines and hosts on the terminal", () => {
  it("error messages carry the engine's output escaped, on one line", () => {
    const errors = [
      new CommandFailed({ argv: ["podman", "ps"], exitCode: 125, stderr: `Error: ${HOSTILE}` }),
      new SessionStartFailed({ session: "web", backend: "container", reason: HOSTILE, exitCode: null, output: "" }),
      new SessionStopFailed({ session: "web", backend: "container", reason: HOSTILE }),
      new SessionAttachFailed({ session: "web", backend: "container", reason: HOSTILE }),
      new SessionNotReady({ session: "web", backend: "container", probe: "log x", timeout: 1, detail: HOSTILE, output: "" })
    ]
    for (const e of errors) {
      expect(e.message, e._tag).not.toMatch(CONTROL)
      expect(e.message, e._tag).toContain("\\u001b]2;PWNED\\u0007")
    }
  })

  it("list and status show a host's image, project and dates escaped", () => {
    const s = status({ image: `img${HOSTILE}`, project: `p${HOSTILE}`, created_at: `2024${HOSTILE}` })
    const plain = styleFor(false, {}, "never")
    for (const text of [renderList(plain, [s], { withProject: true }), renderStatus(plain, s)]) {
      expect(text.replaceAll("\n", "")).not.toMatch(CONTROL)
      expect(text).toContain("img\\u001b]2;PWNED")
    }
  })

  it("a failed step's last output lines (the session's, on its host) are escaped", () => {
    const step = plan([valid(containerSpec("web"))], [], planOptions()).steps[0]!
    const error = new SessionStartFailed({ session: "web", backend: "container", reason: "exited", exitCode: 1, output: `ok\n${HOSTILE}\n` })
    const text = resultLine(styleFor(false, {}, "never"), { step, error, durationMs: 1, outcome: null, observed: null, unverified: false })
    expect(text.replaceAll("\n", "")).not.toMatch(CONTROL)
    expect(text).toContain("| \\u001b]2;PWNED")
  })
})
