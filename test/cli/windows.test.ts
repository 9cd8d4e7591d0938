/**
 * `windows:` on real tmux 3.3a through the built binary: windows and panes created in one call with
 * their layouts and focus, each pane supervised and logged on its own, `status` listing panes,
 * `logs NAME:WINDOW.N`, a stop ending every pane, a change replacing the session; and tmuxp's and
 * tmuxinator's own example files imported, validated and applied with their panes and layouts; and
 * `ops freeze` (ours from their stamps, a foreign tmux session with panes, a foreign container).
 */
import { copyFileSync, mkdirSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import type { RuntimeName } from "../../src/model.js"
import { requireEngines, TEST_IMAGE } from "../support/engines.js"
import { BIN, eventually, Sandbox } from "./harness.js"

const FIXTURES = join(import.meta.dirname, "../fixtures/import")

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => {
  // interactive shells (tmuxp's blank panes) take INT as input: do not wait out their stop_timeout
  sb.kstlib(["ops", "down", "--timeout", "1"])
  sb.cleanup()
})

const ok = (args: ReadonlyArray<string>) => {
  const r = sb.kstlib(args)
  expect(r.code, `${args.join(" ")}\n${r.stdout}\n${r.stderr}`).toBe(0)
  return r
}

/** `window_name panes layout active` per window, and `window.pane active dead command` per pane. */
const windowsOf = (session: string, socket: string) =>
  sb.tmux(["-L", socket, "list-windows", "-t", `=${session}`, "-F", "#{window_name}\t#{window_panes}\t#{window_layout}\t#{window_active}"]).stdout.trim().split("\n").map((l) => l.split("\t"))
const panesOf = (session: string, socket: string) =>
  sb.tmux(["-L", socket, "list-panes", "-s", "-t", `=${session}:`, "-F", "#{window_name}\t#{pane_active}\t#{pane_dead}\t#{pane_current_command}"]).stdout.trim().split("\n").map((l) => l.split("\t"))

/** The window's layout is what tmux itself makes of `layout` on it (applying it again changes nothing). */
const expectLayout = (session: string, socket: string, window: string, layout: string) => {
  const before = sb.tmux(["-L", socket, "display", "-p", "-t", `=${session}:=${window}`, "#{window_layout}"]).stdout.trim()
  sb.tmux(["-L", socket, "select-layout", "-t", `=${session}:=${window}`, layout])
  expect(sb.tmux(["-L", socket, "display", "-p", "-t", `=${session}:=${window}`, "#{window_layout}"]).stdout.trim()).toBe(before)
}

describe("windows and panes", () => {
  it("one session of two windows: panes, layout, focus, per-pane restart and logs, status, stop, replace", async () => {
    const s = sb.name("dev")
    const sock = `${sb.prefix}w`
    sb.file("crash.sh", "echo crashing-pane; sleep 0.3; exit 5\n")
    sb.file("tick.sh", "i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.3; done\n")
    sb.writeConfig({
      [s]: {
        backend: "tmux",
        socket_name: sock,
        restart: "on-failure",
        restart_delay: 0.2,
        max_restarts: 2,
        env: { WHO: "session" },
        windows: [
          {
            name: "editor",
            layout: "main-vertical",
            panes: [`sh ${sb.dir}/tick.sh`, `sh ${sb.dir}/crash.sh`, { command: "echo pane-env-$$WHO-$$PANE; exec sleep 300", shell: true, env: { PANE: "three" }, focus: true }]
          },
          { name: "server", command: "sleep 301", focus: true }
        ]
      }
    })
    ok(["ops", "apply"])
    const wins = windowsOf(s, sock)
    expect(wins.map(([n, p, , a]) => [n, p, a])).toEqual([["editor", "3", "0"], ["server", "1", "1"]])
    expectLayout(s, sock, "editor", "main-vertical")
    expect(panesOf(s, sock).map(([w, a]) => `${w}:${a}`)).toEqual(["editor:0", "editor:0", "editor:1", "server:1"])

    // the crashing pane restarts on its own (its own count), the others keep running
    const status = await eventually(() => {
      const st = JSON.parse(sb.kstlib(["ops", "status", s, "--json"]).stdout) as { panes?: Array<{ window: string; pane: number; state: string; restarts: number | null }> }
      const crash = st.panes?.find((p) => p.window === "editor" && p.pane === 1)
      return crash !== undefined && crash.restarts === 2 && crash.state === "exited" ? st : undefined
    }, 100, 200)
    expect(status, sb.kstlib(["ops", "status", s]).stdout).toBeDefined()
    expect(status!.panes!.map((p) => [p.window, p.state])).toEqual([["editor", "running"], ["editor", "exited"], ["editor", "running"], ["server", "running"]])
    expect(sb.kstlib(["ops", "status", s]).stdout).toMatch(/Pane editor\.1\s+exited \(5\), 2 restarts/u)

    // each pane its own log file; NAME:WINDOW.N reads one, NAME all, labelled
    const crash = ok(["ops", "logs", `${s}:editor.1`, "-n", "100"]).stdout
    expect(crash.split("\n").filter((l) => l === "crashing-pane")).toHaveLength(3)
    expect(crash).toContain("[kstlib] run 3 exited with code 5")
    expect(ok(["ops", "logs", `${s}:editor.2`]).stdout).toContain("pane-env-session-three")
    const all = ok(["ops", "logs", s, "-n", "1000"]).stdout
    expect(all).toContain("editor.1 | crashing-pane")
    expect(all).toContain("editor.0 | tick-1")
    const base = readdirSync(join(sb.home, ".local", "state", "kstlib", "logs"))
    expect(readdirSync(join(sb.home, ".local", "state", "kstlib", "logs", base[0]!)).sort()).toEqual(
      [`${s}.editor.0.log`, `${s}.editor.1.log`, `${s}.editor.2.log`, `${s}.server.0.log`]
    )
    const bad = sb.kstlib(["ops", "logs", `${s}:nope.0`])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain(`has no pane nope.0 (its panes: editor.0, editor.1, editor.2, server.0)`)

    // nothing drifted
    expect(ok(["ops", "plan"]).stdout).toContain("0 to create, 0 to replace")
    ok(["ops", "stop", s])
    expect(sb.tmuxHas(s, sock)).toBe(false)
    expect(ok(["ops", "logs", `${s}:server.0`]).stdout).toMatch(/\[kstlib\] run 1 (killed by signal INT|exited with code)/u)
  })

  it("a changed window is drift (a replace); a changed pane alone is respawned in place; validation names file:line", () => {
    const s = sb.name("w2")
    const sock = `${sb.prefix}x`
    const entry = (layout: string) => ({ backend: "tmux", socket_name: sock, windows: [{ name: "a", layout, panes: ["sleep 300", "sleep 301"] }] })
    sb.writeConfig({ [s]: entry("even-horizontal") })
    ok(["ops", "apply"])
    expectLayout(s, sock, "a", "even-horizontal")
    sb.writeConfig({ [s]: entry("even-vertical") })
    const plan = ok(["ops", "plan"]).stdout
    expect(plan).toMatch(/replace, spec changed\n\s+windows\.a\.layout: even-horizontal → even-vertical/u)
    ok(["ops", "apply"])
    expectLayout(s, sock, "a", "even-vertical")

    // only a pane's command changed: that pane is respawned where it is, the other keeps running
    const pids = () => sb.tmux(["-L", sock, "list-panes", "-t", `=${s}:=a`, "-F", "#{pane_pid}"]).stdout.trim().split("\n")
    const before = pids()
    sb.writeConfig({ [s]: { ...entry("even-vertical"), windows: [{ name: "a", layout: "even-vertical", panes: ["sleep 300", "sleep 302"] }] } })
    expect(ok(["ops", "plan"]).stdout).toMatch(/windows\.a\.panes\[1\]\.command: sleep 301 → sleep 302/u)
    ok(["ops", "apply"])
    const after = pids()
    expect(after[0]).toBe(before[0])
    expect(after[1]).not.toBe(before[1])
    expect(sb.tmux(["-L", sock, "list-panes", "-t", `=${s}:=a`, "-F", "#{pane_start_command}"]).stdout).toContain("sleep 302")
    expect(ok(["ops", "plan"]).stdout).toContain("0 to create, 0 to replace")

    sb.writeRaw(`ops:\n  sessions:\n    ${s}:\n      backend: tmux\n      command: sleep 1\n      windows:\n        - name: 1bad\n          command: sleep 2\n        - name: b\n          command: sleep 3\n          panes: [sleep 4]\n          layout: sideways\n`)
    const v = sb.kstlib(["ops", "validate"])
    expect(v.code).toBe(1)
    expect(v.stderr).toMatch(/kstlib\.conf\.yml:\d+: .*windows\[0\]\.name: /u)
    expect(v.stderr).toMatch(/windows\[1\]\.layout: must be one of even-horizontal/u)
    sb.writeRaw(`ops:\n  sessions:\n    ${s}:\n      backend: tmux\n      command: sleep 1\n      windows:\n        - name: a\n          command: sleep 2\n        - name: a\n          command: sleep 3 | cat\n`)
    const v2 = sb.kstlib(["ops", "validate"])
    expect(v2.code).toBe(1)
    expect(v2.stderr).toContain("a session with windows has no command of its own")
    expect(v2.stderr).toContain("window 'a' is defined twice")
    expect(v2.stderr).toMatch(/windows\[1\]\.command: .*shell/u)
  })
})

describe("windows and panes: attach", () => {
  it("attach NAME lands on the focused window, NAME:WINDOW on that window (a real terminal); a wrong window is a usage error", async () => {
    const s = sb.name("att")
    sb.writeConfig({ [s]: { backend: "tmux", windows: [{ name: "main", command: "sleep 300", focus: true }, { name: "logs", command: "sleep 301" }] } })
    ok(["ops", "apply"])
    // a terminal of its own: a pane of another tmux server, TMUX unset there so the client nests
    const view = `ka${sb.id}`
    const clients = () => sb.tmux(["list-clients", "-F", "#{client_session}:#{window_name}"]).stdout.trim()
    const attachIn = (arg: string) =>
      sb.tmux(["-L", view, "new-session", "-d", "-x", "100", "-y", "24", "-s", arg.replace(/\W/gu, ""), `env -u TMUX '${process.execPath}' '${BIN}' ops attach ${arg} --config '${sb.configPath}'`]).code
    try {
      expect(attachIn(s)).toBe(0)
      expect(await eventually(() => (clients() === `${s}:main` ? true : undefined), 50, 200), clients()).toBe(true)
      sb.tmux(["detach-client", "-s", `=${s}`])
      expect(await eventually(() => (clients() === "" ? true : undefined), 50, 200), clients()).toBe(true)
      expect(attachIn(`${s}:logs`)).toBe(0)
      expect(await eventually(() => (clients() === `${s}:logs` ? true : undefined), 50, 200), clients()).toBe(true)
    } finally {
      sb.tmux(["-L", view, "kill-server"])
    }
    const wrong = sb.kstlib(["ops", "attach", `${s}:nope`])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain(`'${s}' has no window 'nope' (its windows: main, logs)`)
  })
})

describe("windows and panes: usage", () => {
  it("memory_bytes covers every pane of the session, not its first only", async () => {
    const s = sb.name("mem")
    const sock = `${sb.prefix}m`
    // the second window's pane holds ~64 MiB (a string doubled 26 times), the first is a sleep
    sb.file("big.awk", "BEGIN { s = \"x\"; for (i = 0; i < 26; i++) s = s s; system(\"exec sleep 300\") }\n")
    sb.writeConfig({ [s]: { backend: "tmux", socket_name: sock, windows: [{ name: "small", command: "sleep 300" }, { name: "big", command: `awk -f ${sb.dir}/big.awk` }] } })
    ok(["ops", "apply"])
    const memory = () => {
      const rows = JSON.parse(ok(["ops", "list", "--json"]).stdout) as Array<{ name: string; memory_bytes: number | null }>
      return rows.find((r) => r.name === s)?.memory_bytes ?? 0
    }
    expect(await eventually(() => (memory() > 60 * 1024 * 1024 ? true : undefined), 30, 250)).toBe(true)
  })
})

describe("tmuxp and tmuxinator examples: imported, validated, applied", () => {
  it.each([
    ["tmuxp/examples/3-pane.yaml", [["dev-window", "3"]], "main-vertical"],
    ["tmuxp/examples/focus-window-and-panes.yaml", null, null],
    ["tmuxp/examples/blank-panes.yaml", null, null],
    ["tmuxinator/sample.yml", null, null]
  ] as const)("%s", (fixture, windows, layout) => {
    // tmuxinator's sample starts in ~/test
    mkdirSync(join(sb.home, "test"), { recursive: true })
    const file = join(sb.dir, fixture.replaceAll("/", "_"))
    copyFileSync(join(FIXTURES, fixture), file)
    const out = join(sb.dir, "kstlib.conf.yml")
    const imported = sb.kstlib(["ops", "import", file, "-o", out, "--force"], { config: false })
    expect(imported.code, imported.stderr).toBe(0)
    ok(["ops", "validate"])
    const applied = sb.kstlib(["ops", "apply"])
    expect(applied.stdout, applied.stderr).toContain("created")
    const list = (JSON.parse(ok(["ops", "list", "--json"]).stdout) as Array<{ name: string; state: string; socket_name: string | null; window_count: number }>)
    expect(list.map((r) => r.state).every((st) => st === "running"), JSON.stringify(list)).toBe(true)
    expect(list.length).toBeGreaterThan(0)
    for (const row of list) {
      const sock = row.socket_name ?? "default"
      const wins = windowsOf(row.name, sock)
      expect(wins.length).toBe(row.window_count)
      if (windows !== null) expect(wins.map(([n, p]) => [n, p])).toEqual(windows)
      if (layout !== null) expectLayout(row.name, sock, windows![0]![0], layout)
    }
  })
})

describe("ops freeze", () => {
  it("running sessions (ours and a foreign tmux session with panes) as a config that validates and, applied, makes them again; env keys only", () => {
    const ours = sb.name("ours")
    const foreign = sb.name("fgn")
    const sock = `${sb.prefix}f`
    sb.writeConfig({
      [ours]: { backend: "tmux", socket_name: sock, restart: "always", env: { TOKEN: "t0ps3cret" }, windows: [{ name: "a", layout: "even-horizontal", panes: ["sleep 300", "sleep 301"] }] }
    })
    ok(["ops", "apply"])
    expect(sb.tmux(["-L", sock, "new-session", "-d", "-s", foreign, "-c", sb.dir, "--", "sleep", "302"]).code).toBe(0)
    sb.tmux(["-L", sock, "split-window", "-t", `=${foreign}:`, "--", "sleep", "303"])
    sb.tmux(["-L", sock, "set-environment", "-t", foreign, "FGN_KEY", "hidden-value"])

    const json = JSON.parse(ok(["ops", "freeze", ours, foreign, "--json"]).stdout) as { config: { ops: { sessions: Record<string, Record<string, unknown>> } }; env: Array<string> }
    const s = json.config.ops.sessions
    expect(Object.keys(s).sort()).toEqual([foreign, ours].sort())
    expect(s[ours]).toMatchObject({ backend: "tmux", socket_name: sock, restart: "always", env: { TOKEN: "${TOKEN}" } })
    expect(s[ours]!["windows"]).toEqual([{ name: "a", panes: [{ command: "sleep 300" }, { command: "sleep 301" }], layout: "even-horizontal" }])
    expect(s[foreign]).toMatchObject({ backend: "tmux", socket_name: sock, working_dir: sb.dir, env: { FGN_KEY: "${FGN_KEY}" } })
    expect((s[foreign]!["windows"] as Array<{ panes: Array<{ command: string }> }>)[0]!.panes.map((p) => p.command)).toEqual(["sleep 302", "sleep 303"])
    expect(JSON.stringify(json)).not.toContain("t0ps3cret")
    expect(JSON.stringify(json)).not.toContain("hidden-value")
    expect(json.env).toEqual(["FGN_KEY", "TOKEN"])

    // the YAML written to a new project's config validates (with the env given) and makes the sessions again
    const dir = sb.subdir("thawed")
    const out = join(dir, "kstlib.conf.yml")
    // (names given: the engines here also run other tests' containers)
    const written = sb.kstlib(["ops", "freeze", ours, foreign, "-o", out])
    expect(written.code, written.stderr).toBe(0)
    expect(sb.kstlib(["ops", "freeze", ours, "-o", out]).code).toBe(2) // never replaced without --force
    ok(["ops", "down", "--timeout", "1"])
    sb.tmux(["-L", sock, "kill-session", "-t", `=${foreign}`])
    const env = { TOKEN: "x", FGN_KEY: "y" }
    const v = sb.kstlib(["ops", "validate"], { cwd: dir, config: false, env })
    expect(v.code, v.stdout + v.stderr).toBe(0)
    const applied = sb.kstlib(["ops", "apply"], { cwd: dir, config: false, env })
    expect(applied.code, applied.stdout + applied.stderr).toBe(0)
    expect(windowsOf(ours, sock).map(([n, p]) => [n, p])).toEqual([["a", "2"]])
    expect(windowsOf(foreign, sock).map(([, p]) => p)).toEqual(["2"])
    sb.kstlib(["ops", "down", "--timeout", "1"], { cwd: dir, config: false, env })
  })

  it("an unknown name is exit 1 with one line", () => {
    sb.writeConfig({})
    const r = sb.kstlib(["ops", "freeze", sb.name("nope")])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`session '${sb.name("nope")}' not found`)
  })
})

const engines = requireEngines("test/cli/windows.test.ts")
describe.each(engines)("ops freeze of a %s container kstlib did not create", (rt: RuntimeName) => {
  it("image, command, directory, env keys, ports, binds and restart policy; env values never written", () => {
    const c = sb.name("fc")
    const run = sb.rt(rt, ["run", "-d", "--name", c, "-e", "API_KEY=v4lue", "-p", "18931:80", "-v", `${sb.dir}:/data:ro`, "-w", "/data", "--restart", "on-failure:3", TEST_IMAGE, "sleep", "300"])
    expect(run.code, run.stderr).toBe(0)
    sb.writeConfig({})
    const json = JSON.parse(ok(["ops", "freeze", c, "--json"]).stdout) as { config: { ops: { sessions: Record<string, Record<string, unknown>> } } }
    expect(json.config.ops.sessions[c]).toEqual({
      backend: "container",
      runtime: rt,
      image: TEST_IMAGE,
      command: "sleep 300",
      working_dir: "/data",
      env: { API_KEY: "${API_KEY}" },
      ports: ["18931:80"],
      volumes: [`${sb.dir}:/data:ro`],
      restart: "on-failure",
      max_restarts: 3
    })
    expect(JSON.stringify(json)).not.toContain("v4lue")
  })
})
