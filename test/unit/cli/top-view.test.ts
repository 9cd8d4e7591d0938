/**
 * `ops top`'s view, pure: keys → keys parsed from terminal input; moving, sorting, filtering,
 * restarting (asked y/n), logs and quitting as state transitions; frames as lines (an 80×24
 * terminal, the selection, HOST only when a session is remote, NO_COLOR: no escape codes).
 */
import { describe, expect, it } from "vitest"
import type { Key, TopState } from "../../../src/cli/top-view.js"
import { formatUptime, initialState, parseKeys, render, snapshotJson, update, visibleRows, withLogs, withRows } from "../../../src/cli/top-view.js"
import type { SessionStatus } from "../../../src/session/status.js"
import { styleFor } from "../../../src/style.js"

const NOW = Date.parse("2026-01-01T12:00:00Z")
const row = (name: string, over: Partial<SessionStatus> = {}): SessionStatus => ({
  name,
  state: "running",
  backend: "tmux",
  pid: 100,
  created_at: new Date(NOW - 90_000).toISOString(),
  window_count: 1,
  socket_name: null,
  image: null,
  exit_code: null,
  runtime: null,
  host: null,
  owned: true,
  project: "p",
  in_sync: true,
  in_config: true,
  issues: [],
  restarts: 0,
  last_exit_code: null,
  ready: null,
  cpu_percent: 1,
  memory_bytes: 1024 * 1024,
  ...over
})

const ROWS = [
  row("web", { cpu_percent: 50, memory_bytes: 300 * 1024 ** 2, restarts: 2 }),
  row("api", { cpu_percent: 90, memory_bytes: 10 * 1024 ** 2, created_at: new Date(NOW - 5_000).toISOString() }),
  row("worker", { state: "exited", exit_code: 3, pid: null, cpu_percent: null, memory_bytes: null, restarts: 5, last_exit_code: 3 })
]
const plain = styleFor(false, {}, "never")
const colored = styleFor(true, {}, "always")
const frame = { width: 80, height: 24, style: plain, title: "kstlib top", interactive: true }

const start = (): TopState => withRows(initialState(NOW), ROWS, NOW)
const press = (s: TopState, ...keys: ReadonlyArray<Key | string>) =>
  keys.reduce((st, k) => update(st, typeof k === "string" ? { kind: "char", char: k } : k).state, s)
const names = (s: TopState) => visibleRows(s).map((r) => r.name)

describe("keys from terminal input", () => {
  it("arrows (CSI and SS3), Enter, Escape, Backspace, Ctrl-C, characters, several in one read", () => {
    expect(parseKeys("\x1b[A\x1bOB\r\x1b\x7f\x03j/")).toEqual([
      { kind: "up" },
      { kind: "down" },
      { kind: "enter" },
      { kind: "escape" },
      { kind: "backspace" },
      { kind: "interrupt" },
      { kind: "char", char: "j" },
      { kind: "char", char: "/" }
    ])
    expect(parseKeys("\x1b[5~\x1b[6~")).toEqual([{ kind: "pageup" }, { kind: "pagedown" }])
  })
})

describe("state", () => {
  it("rows sorted by name first; the selection starts on the first row", () => {
    const s = start()
    expect(names(s)).toEqual(["api", "web", "worker"])
    expect(s.selected).toBe("api")
  })

  it("j/k and arrows move, bounded at both ends", () => {
    const s = start()
    expect(press(s, "j").selected).toBe("web")
    expect(press(s, "j", "j", "j", "j").selected).toBe("worker")
    expect(press(s, "j", { kind: "up" }, "k", "k").selected).toBe("api")
    expect(press(s, { kind: "down" }).selected).toBe("web")
  })

  it("s cycles the sort: cpu and mem busiest first, restarts, uptime longest first, state, name again", () => {
    const sorts: Array<[string, Array<string>]> = []
    let s = start()
    for (let i = 0; i < 6; i++) {
      s = press(s, "s")
      sorts.push([s.sort, names(s)])
    }
    expect(sorts).toEqual([
      ["cpu", ["api", "web", "worker"]],
      ["mem", ["web", "api", "worker"]],
      ["restarts", ["worker", "web", "api"]],
      ["uptime", ["web", "api", "worker"]],
      ["state", ["worker", "api", "web"]],
      ["name", ["api", "web", "worker"]]
    ])
  })

  it("the selection follows its session across a sort and a refresh; a gone session moves it to the first row", () => {
    const s = press(start(), "j") // web
    expect(press(s, "s").selected).toBe("web")
    const refreshed = withRows(s, [ROWS[0]!, ROWS[2]!, row("zzz")], NOW + 2000)
    expect(refreshed.selected).toBe("web")
    expect(withRows(s, [ROWS[1]!, ROWS[2]!], NOW).selected).toBe("api")
    expect(withRows(s, [], NOW).selected).toBeNull()
  })

  it("/ filters by a part of the name (any case): typed, Backspace, Enter applies, Esc cancels; Esc clears it", () => {
    const typing = press(start(), "/", "W", "x", { kind: "backspace" })
    expect(typing.mode).toEqual({ kind: "filter", draft: "W" })
    expect(names(typing)).toEqual(["api", "web", "worker"]) // not applied while typed
    const applied = press(typing, { kind: "enter" })
    expect(applied.filter).toBe("W")
    expect(names(applied)).toEqual(["web", "worker"])
    expect(applied.selected).toBe("web")
    expect(press(typing, { kind: "escape" }).filter).toBe("")
    expect(press(applied, { kind: "escape" }).filter).toBe("")
    // keys while typing are text: q does not quit, j does not move
    expect(update(press(start(), "/"), { kind: "char", char: "q" }).command).toBeNull()
  })

  it("r asks y/n: y restarts the selected session, anything else cancels", () => {
    const asked = press(start(), "j", "r")
    expect(asked.mode).toEqual({ kind: "confirm", name: "web" })
    const yes = update(asked, { kind: "char", char: "y" })
    expect(yes.command).toEqual({ kind: "restart", name: "web" })
    expect(yes.state.mode.kind).toBe("list")
    const no = update(asked, { kind: "char", char: "n" })
    expect(no.command).toBeNull()
    expect(no.state.message).toBe("restart cancelled")
    expect(update(asked, { kind: "enter" }).command).toBeNull()
  })

  it("Enter asks for the selected session's logs; they show when they arrive (for that session only); any key goes back, q quits", () => {
    const r = update(start(), { kind: "enter" })
    expect(r.command).toEqual({ kind: "logs", name: "api" })
    expect(r.state.mode).toEqual({ kind: "logs", name: "api", lines: null })
    const shown = withLogs(r.state, "api", ["line 1", "line 2"])
    expect(shown.mode).toEqual({ kind: "logs", name: "api", lines: ["line 1", "line 2"] })
    expect(withLogs(r.state, "web", ["x"]).mode).toEqual(r.state.mode)
    expect(press(shown, "x").mode.kind).toBe("list")
    expect(update(shown, { kind: "char", char: "q" }).command).toEqual({ kind: "quit" })
  })

  it("q and Ctrl-C quit, Ctrl-C in any mode", () => {
    expect(update(start(), { kind: "char", char: "q" }).command).toEqual({ kind: "quit" })
    for (const s of [start(), press(start(), "/"), press(start(), "r")]) expect(update(s, { kind: "interrupt" }).command).toEqual({ kind: "quit" })
  })
})

describe("frames", () => {
  it("an 80×24 frame: title, the columns, one line per session, prompt and key help; nothing wider than 80", () => {
    const lines = render(start(), frame)
    expect(lines.length).toBeLessThanOrEqual(24)
    expect(lines.every((l) => l.length <= 80)).toBe(true)
    expect(lines[1]).toMatch(/^ {2}NAME\*\s+BACKEND\s+STATE\s+PID\s+RESTARTS\s+LAST-EXIT\s+READY\s+CPU%\s+MEM\s+UPTIME$/u)
    expect(lines[2]).toMatch(/^> api\s+tmux\s+running\s+100\s+0\s+-\s+-\s+90\.0%\s+10M\s+5s$/u)
    expect(lines[3]).toMatch(/^ {2}web\s+.*50\.0%\s+300M\s+1m$/u)
    expect(lines[4]).toMatch(/^ {2}worker\s+tmux\s+exited\(3\)\s+-\s+5\s+3\s+-\s+-\s+-\s+-$/u)
    expect(lines.at(-1)).toContain("q quit")
    // a wide terminal: two spaces between columns
    expect(render(start(), { ...frame, width: 120 })[1]).toContain("NAME*   BACKEND")
  })

  it("narrow: long names are cut with … so the other columns stay whole", () => {
    const long = withRows(initialState(NOW), [row("a-very-long-session-name-indeed"), row("b")], NOW)
    const lines = render(long, { ...frame, width: 70 })
    expect(lines.every((l) => l.length <= 70)).toBe(true)
    expect(lines[2]).toMatch(/^> a-very…\s+tmux\s+running\s+100\s+0\s+-\s+-\s+1\.0%\s+1M\s+1m$/u)
  })

  it("many sessions in 24 lines: the selected one is always on screen", () => {
    const many = Array.from({ length: 60 }, (_, i) => row(`s${String(i).padStart(2, "0")}`))
    let s = withRows(initialState(NOW), many, NOW)
    for (let i = 0; i < 45; i++) s = press(s, "j")
    const lines = render(s, frame)
    expect(lines.length).toBeLessThanOrEqual(24)
    expect(lines.some((l) => l.startsWith("> s45"))).toBe(true)
  })

  it("HOST only when a session is remote", () => {
    expect(render(start(), frame)[1]).not.toContain("HOST")
    const remote = withRows(initialState(NOW), [...ROWS, row("edge", { host: "edge1", cpu_percent: null, memory_bytes: null })], NOW)
    const lines = render(remote, frame)
    expect(lines[1]).toMatch(/NAME\*\s+HOST\s+BACKEND/u)
    expect(lines.find((l) => l.includes("edge "))).toMatch(/edge\s+edge1\s+tmux/u)
  })

  it("NO_COLOR (a plain style): no escape codes; with colour: the selection reversed, states coloured", () => {
    expect(render(start(), frame).join("\n")).not.toMatch(/\x1b/u)
    const c = render(start(), { ...frame, style: colored })
    expect(c[2]).toContain("\x1b[7m")
    expect(c[3]).toContain("\x1b[32mrunning")
  })

  it("a printed frame (--once): every row, no selection, no key help", () => {
    const lines = render(start(), { ...frame, height: Infinity, interactive: false })
    expect(lines).toHaveLength(2 + ROWS.length)
    expect(lines[1]).toMatch(/^NAME\s/u)
    expect(lines.join("\n")).not.toContain("q quit")
    expect(render(initialState(NOW), { ...frame, interactive: false })[2]).toBe("No sessions.")
  })

  it("the filter prompt, the restart question and the logs view", () => {
    expect(render(press(start(), "/", "w"), frame).at(-2)).toContain("/w")
    expect(render(press(start(), "r"), frame).at(-2)).toBe("restart api? (y/n)")
    const logs = withLogs(update(start(), { kind: "enter" }).state, "api", ["hello", "\x1b[31mred\x1b[0m"])
    const lines = render(logs, frame)
    expect(lines[0]).toContain("logs of api")
    expect(lines).toContain("hello")
    expect(lines.join("\n")).not.toContain("\x1b[31m")
  })

  it("uptime: s, m, h, d", () => {
    expect([formatUptime(null), formatUptime(45), formatUptime(720), formatUptime(3 * 3600 + 300), formatUptime(2 * 86400 + 4 * 3600)]).toEqual(["-", "45s", "12m", "3h05m", "2d04h"])
  })

  it("--json: the rows in the view's order, with the time", () => {
    const j = snapshotJson(press(start(), "s"), (r) => ({ name: r.name, cpu: r.cpu_percent }))
    expect(j).toEqual({ at: new Date(NOW).toISOString(), sort: "cpu", sessions: [{ name: "api", cpu: 90 }, { name: "web", cpu: 50 }, { name: "worker", cpu: null }] })
  })
})
