/**
 * CPU and memory of tmux sessions end to end, and `ops top`: a busy loop reads high (> 25%: shared cores) in list and
 * status; `top --once` and `--json` print the project's sessions; the interactive view in a real
 * tmux pane (80×24) moves, sorts, shows logs and quits on q, leaving the terminal as it was
 * (alternate screen off, cursor shown, raw mode off: the shell after it reads a line).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { BIN, eventually, Sandbox, tmuxEntry } from "./harness.js"

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => {
  // the sessions stopped through kstlib first: a busy loop must not outlive its test (and load the next one)
  sb.kstlib(["ops", "down"])
  sb.cleanup()
})

type Row = { readonly name: string; readonly state: string; readonly cpu_percent: number | null; readonly memory_bytes: number | null; readonly pid: number | null }

const project = () => {
  const busy = sb.name("busy")
  const idle = sb.name("idle")
  sb.writeConfig({
    [busy]: tmuxEntry("while :; do :; done", { shell: true }),
    [idle]: tmuxEntry("echo idle-was-here; exec sleep 1000", { shell: true, ready: { log: "idle-was-here" } })
  })
  const up = sb.kstlib(["ops", "apply"])
  expect(up.code, up.stderr + up.stdout).toBe(0)
  return { busy, idle }
}

describe("CPU and memory of tmux sessions", () => {
  // a busy loop gets a whole core on an idle machine; on a loaded 2-core runner it shares one, so the
  // bound is well below 100 and the comparison is with the idle session
  it("a busy loop shows a high cpu_percent in list and status, an idle one near 0; both have an RSS", () => {
    const { busy, idle } = project()
    const list = sb.kstlib(["ops", "list", "--json"])
    expect(list.code, list.stderr).toBe(0)
    const rows = JSON.parse(list.stdout) as Array<Row>
    const b = rows.find((r) => r.name === busy)!
    const i = rows.find((r) => r.name === idle)!
    expect(b.cpu_percent).toBeGreaterThan(25)
    expect(i.cpu_percent).toBeLessThan(10)
    expect(b.cpu_percent! - i.cpu_percent!).toBeGreaterThan(20)
    expect(b.memory_bytes).toBeGreaterThan(100_000)
    expect(i.memory_bytes).toBeGreaterThan(100_000)
    const st = JSON.parse(sb.kstlib(["ops", "status", busy, "--json"]).stdout) as Row
    expect(st.cpu_percent).toBeGreaterThan(25)
    expect(sb.kstlib(["ops", "status", busy]).stdout).toMatch(/CPU\s+\d+\.\d%/u)
    // a session not running: not measured
    sb.kstlib(["ops", "stop", idle])
    const after = (JSON.parse(sb.kstlib(["ops", "list", "--json"]).stdout) as Array<Row>).find((r) => r.name === idle)!
    expect([after.state, after.cpu_percent, after.memory_bytes]).toEqual(["defined", null, null])
  })
})

describe("ops top", () => {
  it("--once prints one frame of the project's sessions (not a terminal: the same); --json one snapshot", () => {
    const { busy, idle } = project()
    const once = sb.kstlib(["ops", "top", "--once"])
    expect(once.code, once.stderr).toBe(0)
    const lines = once.stdout.trimEnd().split("\n")
    expect(lines[0]).toContain("kstlib top")
    expect(lines[1]).toMatch(/^NAME\s+BACKEND\s+STATE\s+PID\s+RESTARTS\s+LAST-EXIT\s+READY\s+CPU%\s+MEM\s+UPTIME$/u)
    expect(lines.find((l) => l.startsWith(busy))).toMatch(/tmux\s+running\s+\d+\s+.*\s(\d{2,3})\.\d%\s+\d+[KM]\s+\d+s$/u)
    expect(lines.find((l) => l.startsWith(idle))).toMatch(/running/u)
    expect(once.stdout).not.toMatch(/\x1b/u)
    // stdout a pipe, no --once: one frame too (scripts)
    expect(sb.kstlib(["ops", "top"]).stdout.split("\n")[1]).toMatch(/^NAME/u)
    const json = sb.kstlib(["ops", "top", "--json"])
    expect(json.code, json.stderr).toBe(0)
    const snap = JSON.parse(json.stdout) as { at: string; sort: string; sessions: Array<Row> }
    expect(snap.sort).toBe("name")
    expect(snap.sessions.map((s) => s.name)).toEqual([busy, idle])
    expect(snap.sessions[0]!.cpu_percent).toBeGreaterThan(25)
    // READY: the `ready:` probe, once per refresh (none: null, shown as -)
    const ready = (snap.sessions as unknown as Array<{ ready: boolean | null }>).map((s) => s.ready)
    expect(ready).toEqual([null, true])
    expect(lines.find((l) => l.startsWith(idle))).toMatch(/\syes\s/u)
  })

  it("--interval is checked", () => {
    project()
    const r = sb.kstlib(["ops", "top", "--once", "--interval", "0"])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("--interval")
  })

  it("interactive in a 100×24 tmux pane (80×24: the view's unit tests): j, s, Enter (logs), then q quits and restores the terminal", async () => {
    const { busy, idle } = project()
    const view = `kv${sb.id}`
    const cmd = `'${process.execPath}' '${BIN}' ops top --interval 1 --config '${sb.configPath}'; echo TOP-ENDED; read x; echo GOT-$x; sleep 100`
    expect(sb.tmux(["-L", view, "new-session", "-d", "-x", "100", "-y", "24", "-s", "v", cmd]).code).toBe(0)
    const screen = () => sb.tmux(["-L", view, "capture-pane", "-p", "-t", "v"]).stdout
    const shows = (re: RegExp) => eventually(() => (re.test(screen()) ? true : undefined), 50, 200)
    try {
      expect(await shows(new RegExp(`${busy}[^\\n]*running[^\\n]*%`, "u")), screen()).toBe(true)
      expect(sb.tmux(["-L", view, "display", "-p", "-t", "v", "#{alternate_on}"]).stdout.trim()).toBe("1")
      const frame = screen().split("\n")
      expect(frame.every((l) => l.length <= 100)).toBe(true)
      expect(frame.find((l) => l.includes(busy))).toMatch(/^> /u) // NO_COLOR: the selection is a margin mark
      sb.tmux(["-L", view, "send-keys", "-t", "v", "j", "s"])
      expect(await shows(/sort: cpu/u), screen()).toBe(true)
      // sorted by CPU the busy one is first, the selection stayed on the idle one
      expect(screen().split("\n").find((l) => l.includes(idle))).toMatch(/^> /u)
      sb.tmux(["-L", view, "send-keys", "-t", "v", "Enter"])
      expect(await shows(/idle-was-here/u), screen()).toBe(true)
      expect(screen()).toContain(`logs of ${idle}`)
      sb.tmux(["-L", view, "send-keys", "-t", "v", "x"])
      expect(await shows(/NAME\s+BACKEND/u), screen()).toBe(true)
      sb.tmux(["-L", view, "send-keys", "-t", "v", "q"])
      expect(await shows(/TOP-ENDED/u), screen()).toBe(true)
      expect(sb.tmux(["-L", view, "display", "-p", "-t", "v", "#{alternate_on} #{cursor_flag}"]).stdout.trim()).toBe("0 1")
      // the terminal is back in cooked mode: a typed line reaches the shell's `read`
      sb.tmux(["-L", view, "send-keys", "-t", "v", "hello", "Enter"])
      expect(await shows(/GOT-hello/u), screen()).toBe(true)
    } finally {
      sb.tmux(["-L", view, "kill-server"])
    }
  })

  it("Ctrl-C quits too, restoring the terminal", async () => {
    const { busy } = project()
    const view = `kc${sb.id}`
    const cmd = `'${process.execPath}' '${BIN}' ops top --config '${sb.configPath}'; echo TOP-ENDED-$?; sleep 100`
    expect(sb.tmux(["-L", view, "new-session", "-d", "-x", "100", "-y", "24", "-s", "v", cmd]).code).toBe(0)
    const screen = () => sb.tmux(["-L", view, "capture-pane", "-p", "-t", "v"]).stdout
    const shows = (re: RegExp) => eventually(() => (re.test(screen()) ? true : undefined), 50, 200)
    try {
      expect(await shows(new RegExp(busy, "u")), screen()).toBe(true)
      sb.tmux(["-L", view, "send-keys", "-t", "v", "C-c"])
      expect(await shows(/TOP-ENDED-0/u), screen()).toBe(true)
      expect(sb.tmux(["-L", view, "display", "-p", "-t", "v", "#{alternate_on} #{cursor_flag}"]).stdout.trim()).toBe("0 1")
    } finally {
      sb.tmux(["-L", view, "kill-server"])
    }
  })
})
