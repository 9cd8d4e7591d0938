/** A replace of a `windows:` session names what changed window by window and pane by pane; a pane's env only as keys. */
import { describe, expect, it } from "vitest"
import type { TmuxSpec, WindowSpec } from "../../../src/model.js"
import { panesToRespawn } from "../../../src/backends/tmux/argv.js"
import { diffFingerprints } from "../../../src/spec/diff.js"
import { fingerprint } from "../../../src/spec/fingerprint.js"
import { tmuxSpec } from "../../../src/testing/specs.js"

const digest = { recipe: "h1" as const, of: (k: string, v: string) => `h1:${k}-${Buffer.from(v).toString("hex")}-digest` }
const pane = (command: string, env: Record<string, string> = {}) => ({ command, shell: false, working_dir: null, env })
const win = (name: string, panes: WindowSpec["panes"], layout: string | null = null): WindowSpec => ({ name, panes, layout, focus: false, focus_pane: 0 })
const spec = (windows: ReadonlyArray<WindowSpec>): TmuxSpec => tmuxSpec("dev", { command: null, windows })
const diff = (a: ReadonlyArray<WindowSpec>, b: ReadonlyArray<WindowSpec>) => diffFingerprints(fingerprint(spec(a), digest), fingerprint(spec(b), digest))

describe("windows drift", () => {
  it("a layout, a pane's command and a pane's env key, each named; no digest shown", () => {
    const before = [win("ed", [pane("vim"), pane("npm run dev", { PORT: "3000", TOKEN: "abc" })], "tiled"), win("srv", [pane("sleep 1")])]
    const after = [win("ed", [pane("vim"), pane("npm start", { PORT: "4000" })], "main-vertical"), win("srv", [pane("sleep 1")])]
    const changes = diff(before, after)
    expect(changes).toEqual([
      { field: "windows.ed.layout", from: "tiled", to: "main-vertical" },
      { field: "windows.ed.panes[1].command", from: "npm run dev", to: "npm start" },
      { field: "windows.ed.panes[1].env.PORT", change: "changed" },
      { field: "windows.ed.panes[1].env.TOKEN", change: "removed" }
    ])
    expect(JSON.stringify(changes)).not.toContain("digest")
  })

  it("windows added, removed, reordered; panes added", () => {
    expect(diff([win("a", [pane("x")])], [win("a", [pane("x"), pane("y")]), win("b", [pane("z")])])).toEqual([
      { field: "windows.a.panes[1]", change: "added" },
      { field: "windows.b", change: "added" }
    ])
    expect(diff([win("a", [pane("x")]), win("b", [pane("y")])], [win("b", [pane("y")]), win("a", [pane("x")])])).toEqual([
      { field: "windows", from: "a, b", to: "b, a" }
    ])
    expect(diff([win("a", [pane("x")]), win("b", [pane("y")])], [win("a", [pane("x")])])).toEqual([{ field: "windows.b", change: "removed" }])
  })

  it("a session gaining windows (from a plain command) shows the field", () => {
    const plain = fingerprint(tmuxSpec("dev", { command: "sleep 1" }), digest)
    const changes = diffFingerprints(plain, fingerprint(spec([win("a", [pane("x")])]), digest))
    expect(changes.map((c) => c.field)).toContain("command")
    expect(changes.map((c) => c.field)).toContain("windows.a")
  })
})

describe("panesToRespawn", () => {
  it("only pane command, shell, directory or env changes are done in place", () => {
    expect(panesToRespawn([{ field: "windows.ed.panes[1].command" }, { field: "windows.ed.panes[1].env.PORT" }, { field: "windows.my.win.panes[0].working_dir" }])).toEqual([
      { window: "ed", pane: 1 },
      { window: "my.win", pane: 0 }
    ])
    expect(panesToRespawn([{ field: "windows.ed.panes[1].command" }, { field: "windows.ed.layout" }])).toBeNull()
    expect(panesToRespawn([{ field: "windows.ed.panes[2]" }])).toBeNull()
    expect(panesToRespawn([{ field: "command" }])).toBeNull()
    expect(panesToRespawn([])).toBeNull()
  })
})
