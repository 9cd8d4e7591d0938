/** tmux backend: argv building and output parsing, on a fake spawner (no tmux runs here). */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { Tmux } from "../../src/backends/tmux.js"
import {
  captureArgs,
  createCommands,
  escapeArg,
  GLOBALS_MARKER,
  listPanesArgs,
  PANE_FIELD_NAMES,
  PANE_STATE_FORMAT,
  quoteArg,
  respawnCommands,
  script,
  SEP,
  sendKeysArgs,
  socketArgs
} from "../../src/backends/tmux/argv.js"
import {
  captureLines,
  isMissingTarget,
  isNoServer,
  newLines,
  parseFollowPoll,
  parsePanes,
  tmuxEnvSocketPath
} from "../../src/backends/tmux/parse.js"
import { mergeSockets, parseRemoteSockets } from "../../src/backends/tmux/sockets.js"
import { SUPERVISOR_SCRIPT, supervisedArgv } from "../../src/backends/tmux/supervisor.js"
import { NO_MARK } from "../../src/model.js"
import { encodeFingerprint } from "../../src/spec/fingerprint.js"
import { fingerprint, launchOf, specHash } from "../../src/testing/specs.js"
import type { ObservedTmux, TmuxSpec } from "../../src/model.js"
import { fakeSpawner } from "../../src/testing/spawner.js"
import type { StopOptions } from "../../src/backends/driver.js"

// Socket discovery reads $TMUX_TMPDIR: point it at an empty directory so only the asked sockets count.
const saved = { TMUX_TMPDIR: process.env["TMUX_TMPDIR"], TMUX: process.env["TMUX"] }
let empty = ""
beforeAll(() => {
  empty = mkdtempSync(join(tmpdir(), "kstlib-tmux-unit-"))
  process.env["TMUX_TMPDIR"] = empty
  delete process.env["TMUX"]
})
afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
  rmSync(empty, { recursive: true, force: true })
})

const spec = (name: string, extra: Partial<TmuxSpec> = {}): TmuxSpec => ({
  backend: "tmux",
  name,
  command: "sleep 300",
  shell: false,
  working_dir: null,
  env: {},
  socket_name: null,
  state: "running",
  ...extra
})

/** The 13 fields before the restart bookkeeping (restarts, last exit, the command's pid) are padded with those left empty. */
const row = (fields: ReadonlyArray<string>) =>
  (fields.length >= 13 ? [...fields, ...Array<string>(PANE_FIELD_NAMES.length - fields.length).fill("")] : fields).join(SEP)
// name, window, pane, pid, created, windows, dead, status, signal, managed, project, spec, applied
const webSpec = spec("web", { socket_name: "work", env: { A: "1" } })
const applied = (s: TmuxSpec) => encodeFingerprint(fingerprint(s))
const sample = [
  row(["web", "0", "0", "4242", "1700000000", "1", "0", "", "", "1", "proj", specHash(webSpec), applied(webSpec)]),
  row(["multi", "1", "0", "900", "1700000001", "2", "1", "2", "", "", "", "", ""]),
  row(["multi", "0", "1", "901", "1700000001", "2", "0", "", "", "", "", "", ""]),
  row(["multi", "0", "0", "800", "1700000001", "2", "1", "5", "", "", "", "", ""]),
  row(["crashed", "0", "0", "77", "1700000002", "1", "1", "", "9", "1", "proj", "v1:x", "not json"]),
  row(["fake", "0", "0", "78", "1700000002", "1", "0", "", "", "false", "proj", "v1:x", ""]),
  row(["broken", "0", "0"]), // a foreign option value with a newline would leave such a fragment
  GLOBALS_MARKER,
  ""
].join("\n")

/** An observed tmux session to act on (the backend methods take what observe returned). */
const observed = (name: string, socket_name: string | null = null): ObservedTmux => ({
  backend: "tmux",
  name,
  socket_name,
  state: "running",
  pid: 1,
  created_at: null,
  exit_code: null,
  window_count: 1,
  mark: NO_MARK
})

describe("parsing", () => {
  it("list-panes: restart bookkeeping only on sessions with a policy (restarts done, last exit)", () => {
    const { sessions } = parsePanes([
      row(["supervised", "0", "0", "79", "1700000002", "1", "1", "1", "", "1", "proj", "v1:x", "", "2", "1"]),
      row(["restarted", "0", "0", "80", "1700000002", "1", "0", "", "", "1", "proj", "v1:x", "", "1", "3"]),
      row(["plain", "0", "0", "81", "1700000002", "1", "0", "", "", "1", "proj", "v1:x", ""])
    ].join("\n"), null)
    expect(sessions[0]).toMatchObject({ state: "exited", exit_code: 1, restarts: 2, last_exit_code: 1 })
    expect(sessions[1]).toMatchObject({ state: "running", exit_code: null, restarts: 1, last_exit_code: 3 })
    expect(sessions[2]).not.toHaveProperty("restarts")
  })

  it("list-panes: a dead pane whose exit tmux missed (no status) has the code its supervisor wrote", () => {
    const { sessions } = parsePanes([
      row(["missed", "0", "0", "79", "1700000002", "1", "1", "", "", "1", "proj", "v1:x", "", "2", "5"]),
      row(["nothing", "0", "0", "80", "1700000002", "1", "1", "", "", "1", "proj", "v1:x", ""])
    ].join("\n"), null)
    expect(sessions[0]).toMatchObject({ state: "exited", exit_code: 5, restarts: 2, last_exit_code: 5 })
    expect(sessions[1]).toMatchObject({ state: "exited", exit_code: null })
  })

  it("list-panes: the pid is the command's own as the supervisor recorded it; none between runs; the pane's otherwise", () => {
    const { sessions } = parsePanes([
      row(["sup", "0", "0", "79", "1700000002", "1", "0", "", "", "1", "proj", "v1:x", "", "0", "", "4321"]),
      row(["waiting", "0", "0", "80", "1700000002", "1", "0", "", "", "1", "proj", "v1:x", "", "1", "3", "-"]),
      // an earlier release's session (no supervisor): the pane's process is the command
      row(["old", "0", "0", "81", "1700000002", "1", "0", "", "", "1", "proj", "v1:x", ""]),
      row(["ended", "0", "0", "82", "1700000002", "1", "1", "3", "", "1", "proj", "v1:x", "", "0", "3", "-"])
    ].join("\n"), null)
    expect(sessions.map((o) => o.pid)).toEqual([4321, null, 81, 82])
  })

  it("list-panes: one session per name, first pane, state, exit code, marks, fingerprint", () => {
    const { sessions, globalMarks } = parsePanes(sample, "work")
    const [web, multi, crashed, fake, ...rest] = sessions
    expect(rest).toEqual([])
    expect(globalMarks).toEqual([])
    expect(web).toEqual({
      name: "web",
      backend: "tmux",
      state: "running",
      pid: 4242,
      created_at: "2023-11-14T22:13:20.000Z",
      socket_name: "work",
      exit_code: null,
      window_count: 1,
      mark: { managed: true, project: "proj", spec_hash: specHash(webSpec), applied: JSON.parse(JSON.stringify(fingerprint(webSpec))) }
    })
    // window 0 pane 0 describes it whatever the line order; running while any pane runs (0.1 does), every pane listed
    expect(multi).toMatchObject({ pid: 800, state: "running", exit_code: null, window_count: 2, mark: NO_MARK })
    expect(multi!.panes!.map((p) => [p.window_index, p.pane, p.state, p.exit_code])).toEqual([[0, 0, "exited", 5], [0, 1, "running", null], [1, 0, "exited", 2]])
    // killed by signal 9 → 128+9; an unreadable fingerprint is null, the rest is kept
    expect(crashed).toMatchObject({ state: "exited", exit_code: 137, mark: { managed: true, spec_hash: "v1:x", applied: null } })
    // only kstlib's exact value counts as managed
    expect(fake!.mark.managed).toBe(false)
  })

  it("a kstlib option set GLOBALLY makes every mark on that server untrusted", () => {
    const poisoned = `${sample}@kstlib-managed 1\n@kstlib-project proj\n`
    const { sessions, globalMarks } = parsePanes(poisoned, "work")
    expect(globalMarks).toEqual(["@kstlib-managed", "@kstlib-project"])
    expect(sessions.map((o) => o.mark)).toEqual(sessions.map(() => NO_MARK))
    // the observe call asks for them in the same invocation, session and window scope
    expect(listPanesArgs().join(" ")).toContain("; show-options -gq @kstlib-managed ; show-options -gwq @kstlib-managed")
  })

  it("captures: trailing screen rows dropped, the dead notice kept next to the output", () => {
    const cap = "a\n\nb\n\n\n\n\nPane is dead (status 3, Sat Nov 21 05:09:30 2026)\n"
    expect(captureLines(cap)).toEqual(["a", "", "b", "Pane is dead (status 3, Sat Nov 21 05:09:30 2026)"])
    expect(captureLines("x\n\x1b[0m  \n\n")).toEqual(["x"])
  })

  it("follow: new lines between two whole-history captures", () => {
    expect(newLines([], ["a", "b"])).toEqual(["a", "b"])
    expect(newLines(["a", "b"], ["a", "b", "c"])).toEqual(["c"])
    expect(newLines(["a", "b", "c"], ["b", "c", "d", "e"])).toEqual(["d", "e"]) // history trimmed at the top
    expect(newLines(["a", "b"], ["a", "b"])).toEqual([])
    expect(newLines(["a", "b"], ["x", "y"])).toEqual(["x", "y"]) // cleared
    // the partial line under the cursor is held back until complete (or the process died)
    expect(parseFollowPoll(`7${SEP}0\nline1\npart\n\n`)).toEqual({ complete: ["line1"], dead: false })
    expect(parseFollowPoll(`0${SEP}0\nline1\nline2\n\n`)).toEqual({ complete: ["line1", "line2"], dead: false })
    expect(parseFollowPoll(`7${SEP}1\nline1\npart\n`)).toEqual({ complete: ["line1", "part"], dead: true })
  })

  it("tmux messages, $TMUX, socket merging", () => {
    expect(isNoServer("no server running on /tmp/tmux-0/x\n")).toBe(true)
    expect(isNoServer("error connecting to /tmp/tmux-0/x (No such file or directory)")).toBe(true)
    expect(isNoServer("no current target")).toBe(true) // the server is exiting: its last session just ended
    expect(isMissingTarget("can't find session: astro")).toBe(true)
    expect(isMissingTarget("can't find window: astro")).toBe(true)
    expect(isNoServer("can't find session: astro")).toBe(false)
    expect(tmuxEnvSocketPath("/tmp/tmux-0/default,1234,0")).toBe("/tmp/tmux-0/default")
    expect(tmuxEnvSocketPath("/tmp/a,b/tmux-0/w,1234,0")).toBe("/tmp/a,b/tmux-0/w")
    expect(tmuxEnvSocketPath(undefined)).toBeNull()
    expect(mergeSockets(["work", null, "default", "work"], ["other", "work"])).toEqual([null, "work", "other"])
  })

  it("a host's socket listing: names tmux -L takes, sorted, once; default, paths and control characters dropped", () => {
    expect(parseRemoteSockets("work\ndefault\nb-2\nwork\n\n..\na/b\nbad\u001b]0;x\u0007\nsp ace\n")).toEqual(["b-2", "work"])
    expect(parseRemoteSockets("")).toEqual([])
  })
})

describe("argv", () => {
  it("exact targets, socket flags, trailing-semicolon escape", () => {
    expect(captureArgs("web", 100, false)).toEqual(["capture-pane", "-p", "-J", "-S", "-100", "-t", "=web:"])
    expect(captureArgs("web", 5, true)).toEqual(["capture-pane", "-p", "-J", "-e", "-S", "-5", "-t", "=web:"])
    expect(sendKeysArgs("web", "ls;", true)).toEqual(["send-keys", "-t", "=web:", "--", "ls\\;", "Enter"])
    expect(sendKeysArgs("web", "C-c", false)).toEqual(["send-keys", "-t", "=web:", "--", "C-c"])
    expect(escapeArg("a;b")).toBe("a;b")
    expect(socketArgs(null, false)).toEqual([])
    expect(socketArgs(null, true)).toEqual(["-L", "default"]) // inside tmux a bare `tmux` means $TMUX's server
    expect(socketArgs("work", false)).toEqual(["-L", "work"])
  })

  it("create commands: detached, dir, env, the command's words as data to the supervisor, remain-on-exit, marks, stop settings", () => {
    const s = spec("api", { working_dir: "/srv/api", env: { A: "1", B: "x y" }, command: "-weird start 'a b' \"c;d\"" })
    // policy no: one run (max 0), default timings in ms, the tmux on PATH
    const sup = (...words: ReadonlyArray<string>) => ["/bin/sh", "-c", SUPERVISOR_SCRIPT, "kstlib-supervise", "no", "0", "1000", "30000", "10000", "tmux", ...words]
    expect(createCommands(launchOf(s), "proj")).toEqual([
      ["new-session", "-d", "-s", "api", "-c", "/srv/api", "-e", "A=1", "-e", "B=x y", "--", ...sup("-weird", "start", "a b", "c;d")],
      ["set-option", "-w", "-t", "=api:", "remain-on-exit", "on"],
      ["set-option", "-t", "=api:", "@kstlib-managed", "1"],
      ["set-option", "-t", "=api:", "@kstlib-project", "proj"],
      ["set-option", "-t", "=api:", "@kstlib-spec", specHash(s)],
      ["set-option", "-t", "=api:", "@kstlib-applied", applied(s)],
      // an earlier release's restart hook goes (the supervisor restarts now); no count without a policy
      ["set-hook", "-u", "-t", "=api:", "pane-died"],
      ["set-option", "-u", "-t", "=api:", "@kstlib-restarts"],
      ["set-option", "-u", "-t", "=api:", "@kstlib-last-exit"],
      ["set-option", "-u", "-t", "=api:", "@kstlib-pid"],
      ["set-option", "-u", "-t", "=api:", "@kstlib-stopped"],
      ["set-option", "-t", "=api:", "@kstlib-stop", "INT 10"],
      // the supervisor's own bookkeeping is pane options: an earlier run's, kept by a respawn, goes
      ["set-option", "-p", "-u", "-t", "=api:", "@kstlib-restarts"],
      ["set-option", "-p", "-u", "-t", "=api:", "@kstlib-last-exit"],
      ["set-option", "-p", "-u", "-t", "=api:", "@kstlib-pid"]
    ])
    // No command: tmux starts the user's shell, unsupervised without a policy.
    expect(createCommands(launchOf(spec("sh", { command: null })), "proj")[0]).toEqual(["new-session", "-d", "-s", "sh"])
    // A single word is one argument of the supervisor (data), never parsed.
    expect(createCommands(launchOf(spec("one", { command: "'a;touch /tmp/p'" })), "proj")[0]).toEqual(
      ["new-session", "-d", "-s", "one", "--", ...sup("a;touch /tmp/p")]
    )
    // shell: true is `sh -c COMMAND`, under the supervisor like any command.
    expect(createCommands(launchOf(spec("sh", { command: "echo a | wc -w", shell: true })), "proj")[0]).toEqual(
      ["new-session", "-d", "-s", "sh", "--", ...sup("sh", "-c", "echo a | wc -w")]
    )
    // Unsplittable (validation refuses it first): the session fails visibly, nothing of it runs.
    expect(createCommands(launchOf(spec("bad", { command: "echo 'x" })), "proj")[0]).toEqual(
      ["new-session", "-d", "-s", "bad", "--", "/bin/sh", "-c", "echo \"kstlib: $0\" >&2; exit 2", "invalid command: no closing quotation (')"]
    )
    expect(respawnCommands(spec("api", { command: "node server.js --port 3000" }), null)[0]).toEqual(
      ["respawn-pane", "-k", "-t", "=api:", "--", ...sup("node", "server.js", "--port", "3000")]
    )
    // tmux expands formats in -c (`#(…)` would run a shell command): `##` is a literal `#`
    expect(createCommands(launchOf(spec("d", { working_dir: "/srv/#(touch x)#{pane_id}" })), "proj")[0]).toContain("/srv/##(touch x)##{pane_id}")
  })

  it("supervisor argv: the policy and timings as arguments (ms), the tmux program, the words last; the script text is fixed", () => {
    const s = spec("w", { restart: "on-failure", max_restarts: 3, restart_delay: 0.5, max_backoff: 4, min_uptime: 2, stop_signal: "TERM", stop_timeout: 3 })
    expect(supervisedArgv(s, ["a", "$(x)"], "/usr/bin/tmux")).toEqual(
      ["/bin/sh", "-c", SUPERVISOR_SCRIPT, "kstlib-supervise", "on-failure", "3", "500", "4000", "2000", "/usr/bin/tmux", "a", "$(x)"]
    )
    // always without max_restarts: unlimited (empty)
    expect(supervisedArgv(spec("w", { restart: "always" }), ["a"], "tmux").slice(4, 6)).toEqual(["always", ""])
    // no config text in the script, whatever the spec
    expect(supervisedArgv(spec("w", { command: "x'\"$(y)#{z}", socket_name: "s'$(z)" }), ["q"], "tmux")[2]).toBe(SUPERVISOR_SCRIPT)
    expect(createCommands(launchOf(s), "proj")).toContainEqual(["set-option", "-t", "=w:", "@kstlib-stop", "TERM 3"])
    expect(createCommands(launchOf(s), "proj")).toContainEqual(["set-option", "-t", "=w:", "@kstlib-restarts", "0"])
  })

  it("script quoting: nothing the tmux parser would expand or split survives unescaped", () => {
    expect(quoteArg("plain")).toBe('"plain"')
    expect(quoteArg("")).toBe('""')
    expect(quoteArg(`a "b" $HOME ~ \\ #{x} ; %if 'q'`)).toBe(`"a \\"b\\" \\$HOME \\~ \\\\ \\#\\{x\\} \\; \\%if \\'q\\'"`)
    expect(quoteArg("l1\nl2\tt\x01é")).toBe('"l1\\nl2\\tt\\001é"')
    expect(script([[["new-session", "-d"], ["set-option", "x"]], [["new-session", "-s", "b"]]])).toBe(
      '"new-session" "-d" ; "set-option" "x"\n"new-session" "-s" "b"\n'
    )
  })
})

describe("service on a fake spawner", () => {
  it.effect("observe: one list-panes per socket (default without -L); no server is no sessions", () => {
    const fake = fakeSpawner((_cmd, args) =>
      args[0] === "-L" && args[1] === "work" ? { stdout: sample } : { stderr: "no server running on /x/default\n", exitCode: 1 }
    )
    return Effect.gen(function*() {
      const obs = yield* (yield* Tmux).observe({ sockets: ["work", null] })
      expect(fake.calls).toEqual([["tmux", ...listPanesArgs()], ["tmux", "-L", "work", ...listPanesArgs()]])
      expect(obs.sessions.map((o) => `${o.backend === "tmux" ? o.socket_name : "?"}/${o.name}`)).toEqual(["work/web", "work/multi", "work/crashed", "work/fake"])
      expect([obs.answered, obs.problems]).toEqual([[{ backend: "tmux" }], []])
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(fake.layer))
  })

  it.effect("observe: a dead pane without status (tmux missed the SIGCHLD) is re-listed after a reaping run-shell", () => {
    const fake = fakeSpawner((_cmd, args) => ({
      stdout: row(["job", "0", "0", "2", "1", "1", "1", args[0] === "run-shell" ? "4" : "", "", "", "", "", ""])
    }))
    return Effect.gen(function*() {
      const { sessions: [job] } = yield* (yield* Tmux).observe({ sockets: [] })
      expect(job).toMatchObject({ state: "exited", exit_code: 4 })
      expect(fake.calls).toEqual([["tmux", ...listPanesArgs()], ["tmux", "run-shell", "true", ";", ...listPanesArgs()]])
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(fake.layer))
  })

  it.effect("observe: tmux missing is reported (not thrown); a failing socket is unreadable", () => {
    const fake = fakeSpawner((_cmd, args) => (args[0] === "-L" ? { exitCode: 1, stderr: "server exploded" } : { stdout: GLOBALS_MARKER }))
    return Effect.gen(function*() {
      const obs = yield* (yield* Tmux).observe({ sockets: ["bad"] })
      expect(obs.answered).toEqual([{ backend: "tmux" }])
      expect(obs.problems).toMatchObject([{ scope: { backend: "tmux", socket: "bad" }, kind: "failed" }])
      expect(obs.problems[0]!.message).toContain("server exploded")
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(fake.layer))
  })

  it.live("launch on a socket whose path is over 107 bytes: that batch fails naming the path, tmux is not run; the others launch", () => {
    const fake = fakeSpawner(() => ({}))
    const long = `s${"x".repeat(107 - Buffer.byteLength(`${empty}/tmux-${process.getuid?.() ?? 0}/`))}`
    return Effect.gen(function*() {
      const results = yield* (yield* Tmux).launch([launchOf(spec("a", { socket_name: long })), launchOf(spec("b", { socket_name: long.slice(1) }))], { project: "proj" })
      const path = `${empty}/tmux-${process.getuid?.() ?? 0}/${long}`
      expect(results[0]!._tag === "Failure" && results[0].failure.reason).toBe(
        `tmux socket path too long: ${path} is 108 bytes, a Unix socket path has at most 107; shorten TMUX_TMPDIR`
      )
      expect(results[1]!._tag).toBe("Success") // 107 bytes: fits
      expect(fake.calls.map((c) => c.slice(1, 3))).toEqual([["-L", long.slice(1)]])
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(fake.layer))
  })

  it.live("launch: ONE script invocation per socket, nothing observed; a duplicate fails alone", () => {
    const fake = fakeSpawner(() => ({ exitCode: 1, stderr: "duplicate session: taken\n" }))
    return Effect.gen(function*() {
      const results = yield* (yield* Tmux).launch([launchOf(spec("taken")), launchOf(spec("new")), launchOf(spec("other", { socket_name: "b" }))], { project: "proj" })
      expect(fake.calls.map((c) => c.filter((a) => a !== "-L" && a !== "b").slice(1, 4))).toEqual([
        ["start-server", ";", "source-file"],
        ["start-server", ";", "source-file"]
      ])
      expect(results[0]!._tag === "Failure" && results[0].failure.reason).toMatch(/already exists/)
      // only the session tmux named is refused; the other socket's launch is its own call
      expect(results.slice(1).map((r) => r._tag)).toEqual(["Success", "Success"])
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(fake.layer))
  })

  /** A real process leading its own session and group (as a pane's process does), to stop. */
  const paneProcess = Effect.acquireRelease(
    Effect.sync(() => spawn("sleep", ["300"], { detached: true, stdio: "ignore" })),
    (child) => Effect.sync(() => void child.kill("SIGKILL"))
  )
  const stopOn = (fake: ReturnType<typeof fakeSpawner>, o: ObservedTmux, options: StopOptions) =>
    Effect.gen(function*() {
      return yield* (yield* Tmux).stop(o, options)
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(fake.layer))
  const paneLine = (pid: number, dead: boolean, stop = "") => [`%3`, "0", "0", dead ? "1" : "0", String(pid), "", stop].join(SEP)

  it.live("stop --force: exact targets, no stop signal, the process group TERMinated, the session closed", () =>
    Effect.gen(function*() {
      const child = yield* paneProcess
      const fake = fakeSpawner((_cmd, args) => (args.includes("list-panes") ? { stdout: `${paneLine(child.pid!, false)}\n` } : {}))
      const outcome = yield* stopOn(fake, observed("web", "work"), { force: true, leave: "stopped" })
      expect(outcome).toBe("killed")
      expect(fake.calls).toEqual([
        ["tmux", "-L", "work", "list-panes", "-s", "-t", "=web:", "-F", PANE_STATE_FORMAT],
        ["tmux", "-L", "work", "kill-session", "-t", "=web"]
      ])
      yield* Effect.sleep("100 millis")
      expect(child.signalCode).toBe("SIGTERM")
    }).pipe(Effect.scoped))

  it.live("stop: the session's stop_signal to the pane's group, seen ended from /proc (no tmux poll), session closed: stopped gracefully", () =>
    Effect.gen(function*() {
      const child = yield* paneProcess
      const fake = fakeSpawner((_cmd, args) => (args.includes("list-panes") ? { stdout: `${paneLine(child.pid!, false, "USR1 5")}\n` } : {}))
      expect(yield* stopOn(fake, observed("web"), { leave: "stopped" })).toBe("stopped")
      expect(fake.calls.map((c) => c.slice(1).join(" "))).toEqual([expect.stringMatching(/^list-panes -s -t =web: /), "kill-session -t =web"])
      yield* Effect.sleep("100 millis") // Node records the exit on its next turn
      expect(child.signalCode).toBe("SIGUSR1")
    }).pipe(Effect.scoped))

  it.effect("missing sessions are SessionNotFound; logs trims and cuts; exec is unsupported", () => {
    const fake = fakeSpawner((_cmd, args) =>
      // (startInPlace's target travels in the script on stdin, which the fake does not see)
      args.includes("=gone:") || args.includes("=gone") || args.includes("source-file")
        ? { stderr: "can't find session: gone\n", exitCode: 1 }
        : { stdout: "1\n2\n3\n\n\n" }
    )
    return Effect.gen(function*() {
      const tmux = yield* Tmux
      const gone = observed("gone")
      expect(yield* tmux.logs(observed("web"), { lines: 2 })).toBe("2\n3")
      const nf = { _tag: "SessionNotFound", session: "gone", backend: "tmux" }
      expect(yield* Effect.flip(tmux.logs(gone, { lines: 100 }))).toMatchObject(nf)
      expect(yield* Effect.flip(tmux.stop(gone, { leave: "stopped" }))).toMatchObject(nf)
      expect(yield* Effect.flip(tmux.sendKeys(gone, "q", { enter: true }))).toMatchObject(nf)
      expect(yield* Effect.flip(tmux.attach(gone))).toMatchObject(nf)
      expect(yield* Effect.flip(Stream.runCollect(tmux.follow(gone, { lines: 0 })))).toMatchObject(nf)
      expect(yield* Effect.flip(tmux.startInPlace(gone, spec("gone"), { project: "proj", stamp: launchOf(spec("gone")).stamp }))).toMatchObject(nf)
      expect(yield* Effect.flip(tmux.exec(gone, ["ls"], { interactive: false }))).toMatchObject({ _tag: "Unsupported" })
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(fake.layer))
  })
})
