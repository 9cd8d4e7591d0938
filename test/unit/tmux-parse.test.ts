/** tmux backend: argv building and output parsing, on a fake spawner (no tmux runs here). */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Result, Stream } from "effect"
import { Tmux } from "../../src/backends/tmux.js"
import {
  captureArgs,
  createCommands,
  encodeApplied,
  escapeArg,
  PANE_FORMAT,
  quoteArg,
  respawnCommands,
  script,
  SEP,
  sendKeysArgs,
  socketArgs
} from "../../src/backends/tmux/argv.js"
import {
  captureLines,
  deathOutput,
  decodeApplied,
  isMissingTarget,
  isNoServer,
  newLines,
  parseFollowPoll,
  parsePanes,
  tmuxEnvSocketPath
} from "../../src/backends/tmux/parse.js"
import { mergeSockets } from "../../src/backends/tmux/sockets.js"
import { fingerprint, specHash } from "../../src/model.js"
import type { TmuxSpec } from "../../src/model.js"
import { fakeSpawner } from "../support/fakeSpawner.js"

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

const row = (fields: ReadonlyArray<string>) => fields.join(SEP)
// name, window, pane, pid, created, windows, dead, status, signal, managed, spec, applied
const webSpec = spec("web", { socket_name: "work", env: { A: "1" } })
const sample = [
  row(["web", "0", "0", "4242", "1700000000", "1", "0", "", "", "1", specHash(webSpec), encodeApplied(webSpec)]),
  row(["multi", "1", "0", "900", "1700000001", "2", "1", "2", "", "", "", ""]),
  row(["multi", "0", "1", "901", "1700000001", "2", "0", "", "", "", "", ""]),
  row(["multi", "0", "0", "800", "1700000001", "2", "1", "5", "", "", "", ""]),
  row(["crashed", "0", "0", "77", "1700000002", "1", "1", "", "9", "1", "v1:x", "not json"]),
  row(["broken", "0", "0"]), // a foreign option value with a newline would leave such a fragment
  ""
].join("\n")

describe("parsing", () => {
  it("list-panes: one session per name, first pane, state, exit code, marks, fingerprint", () => {
    const [web, multi, crashed, ...rest] = parsePanes(sample, "work")
    expect(rest).toEqual([])
    expect(web).toEqual({
      name: "web",
      backend: "tmux",
      state: "running",
      pid: 4242,
      created_at: "2023-11-14T22:13:20.000Z",
      image: null,
      socket_name: "work",
      runtime: null,
      exit_code: null,
      window_count: 1,
      owned: true,
      spec_hash: specHash(webSpec),
      applied: JSON.parse(JSON.stringify(fingerprint(webSpec)))
    })
    // window 0 pane 0 wins whatever the line order
    expect(multi).toMatchObject({ pid: 800, state: "exited", exit_code: 5, window_count: 2, owned: false, spec_hash: null })
    // killed by signal 9 → 128+9; an unreadable fingerprint is null, the rest is kept
    expect(crashed).toMatchObject({ state: "exited", exit_code: 137, owned: true, spec_hash: "v1:x", applied: null })
  })

  it("the stored fingerprint: ASCII JSON (no separator, newline or non-ASCII), read back; legacy base64 too", () => {
    const s = spec("x", { command: "echo \"é\"\n\x1f;", env: { K: "v" } })
    const enc = encodeApplied(s)
    expect(enc).toMatch(/^[\x20-\x7e]+$/)
    expect(decodeApplied(enc)).toEqual(JSON.parse(JSON.stringify(fingerprint(s))))
    expect(decodeApplied(Buffer.from(enc).toString("base64"))).toEqual(decodeApplied(enc))
    expect(decodeApplied("")).toBeNull()
    expect(decodeApplied("[1]")).toBeNull()
  })

  it("captures: trailing screen rows dropped, the dead notice kept next to the output", () => {
    const cap = "a\n\nb\n\n\n\n\nPane is dead (status 3, Sat Nov 21 05:09:30 2026)\n"
    expect(captureLines(cap)).toEqual(["a", "", "b", "Pane is dead (status 3, Sat Nov 21 05:09:30 2026)"])
    expect(deathOutput(cap, 20)).toBe("a\n\nb")
    expect(deathOutput(cap, 1)).toBe("b")
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

  it("create commands: detached, dir, env, the command's words as argv, remain-on-exit, marks", () => {
    const s = spec("api", { working_dir: "/srv/api", env: { A: "1", B: "x y" }, command: "-weird start 'a b' \"c;d\"" })
    expect(createCommands(s)).toEqual([
      ["new-session", "-d", "-s", "api", "-c", "/srv/api", "-e", "A=1", "-e", "B=x y", "--", "-weird", "start", "a b", "c;d"],
      ["set-option", "-w", "-t", "=api:", "remain-on-exit", "on"],
      ["set-option", "-t", "=api:", "@kstlib-managed", "1"],
      ["set-option", "-t", "=api:", "@kstlib-spec", specHash(s)],
      ["set-option", "-t", "=api:", "@kstlib-applied", encodeApplied(s)]
    ])
    // No command: tmux starts the user's shell.
    expect(createCommands(spec("sh", { command: null }))[0]).toEqual(["new-session", "-d", "-s", "sh"])
    // tmux would run ONE argument through `sh -c`: a single word is only exec'd, as data ($0).
    expect(createCommands(spec("one", { command: "'a;touch /tmp/p'" }))[0]).toEqual(
      ["new-session", "-d", "-s", "one", "--", "/bin/sh", "-c", "exec \"$0\"", "a;touch /tmp/p"]
    )
    // shell: true is `sh -c COMMAND` (three arguments: exec'd, not re-wrapped).
    expect(createCommands(spec("sh", { command: "echo a | wc -w", shell: true }))[0]).toEqual(
      ["new-session", "-d", "-s", "sh", "--", "sh", "-c", "echo a | wc -w"]
    )
    // Unsplittable (validation refuses it first): the session fails visibly, nothing of it runs.
    expect(createCommands(spec("bad", { command: "echo 'x" }))[0]).toEqual(
      ["new-session", "-d", "-s", "bad", "--", "/bin/sh", "-c", "echo \"kstlib: $0\" >&2; exit 2", "invalid command: no closing quotation (')"]
    )
    expect(respawnCommands(spec("api", { command: "node server.js --port 3000" }))[0]).toEqual(
      ["respawn-pane", "-k", "-t", "=api:", "--", "node", "server.js", "--port", "3000"]
    )
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
      const all = yield* (yield* Tmux).observe(["work", null])
      expect(fake.calls).toEqual([
        ["tmux", "list-panes", "-a", "-F", PANE_FORMAT],
        ["tmux", "-L", "work", "list-panes", "-a", "-F", PANE_FORMAT]
      ])
      expect(all.map((o) => `${o.socket_name}/${o.name}`)).toEqual(["work/web", "work/multi", "work/crashed"])
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(fake.layer))
  })

  it.effect("observe: a dead pane without status (tmux missed the SIGCHLD) is re-listed after a reaping run-shell", () => {
    const fake = fakeSpawner((_cmd, args) => ({
      stdout: row(["job", "0", "0", "2", "1", "1", "1", args[0] === "run-shell" ? "4" : "", "", "", "", ""])
    }))
    return Effect.gen(function*() {
      const [job] = yield* (yield* Tmux).observe()
      expect(job).toMatchObject({ state: "exited", exit_code: 4 })
      expect(fake.calls).toEqual([
        ["tmux", "list-panes", "-a", "-F", PANE_FORMAT],
        ["tmux", "run-shell", "true", ";", "list-panes", "-a", "-F", PANE_FORMAT]
      ])
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(fake.layer))
  })

  it.live("start: one observe, ONE script invocation, one observe; an existing name fails alone", () => {
    let lists = 0
    const fake = fakeSpawner((_cmd, args) => {
      if (args.includes("list-panes")) {
        lists++
        const existing = row(["taken", "0", "0", "1", "1700000000", "1", "0", "", "", "", "", ""])
        const created = row(["new", "0", "0", "2", "1700000000", "1", "0", "", "", "1", "v1:h", ""])
        return { stdout: lists === 1 ? existing : `${existing}\n${created}` }
      }
      return {}
    })
    return Effect.gen(function*() {
      const results = yield* (yield* Tmux).start([spec("taken"), spec("new")], { settle: "1 millis" })
      expect(fake.calls.map((c) => c.slice(1, 4))).toEqual([
        ["list-panes", "-a", "-F"],
        ["start-server", ";", "source-file"],
        ["list-panes", "-a", "-F"]
      ])
      expect(Result.isFailure(results[0]!) && results[0].failure.reason).toMatch(/already exists/)
      expect(Result.isSuccess(results[1]!) && results[1].success.name).toBe("new")
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(fake.layer))
  })

  it.live("start with settle 0: no observe after the script; the sessions as launched (apply verifies itself)", () => {
    const fake = fakeSpawner(() => ({}))
    return Effect.gen(function*() {
      const [r] = yield* (yield* Tmux).start([spec("new")], { settle: 0 })
      expect(fake.calls.map((c) => c.slice(1, 2)[0])).toEqual(["list-panes", "start-server"])
      expect(Result.isSuccess(r!) && r.success).toMatchObject({ name: "new", state: "running", owned: true })
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(fake.layer))
  })

  it.live("start: a process dead after settle is a failure with its status and last output", () => {
    const fake = fakeSpawner((_cmd, args) => {
      if (args.includes("list-panes")) {
        return fake.calls.length === 1 ? {} : { stdout: row(["job", "0", "0", "2", "1", "1", "1", "3", "", "1", "", ""]) }
      }
      if (args.includes("capture-pane")) return { stdout: "boom\n\n\nPane is dead (status 3, now)\n" }
      return {}
    })
    return Effect.gen(function*() {
      const [r] = yield* (yield* Tmux).start([spec("job")], { settle: "1 millis" })
      expect(Result.isFailure(r!) && r.failure).toMatchObject({ _tag: "SessionStartFailed", exitCode: 3, output: "boom" })
      expect(fake.calls.at(-1)).toEqual(["tmux", "capture-pane", "-p", "-J", "-S", "-200", "-t", "=job:"])
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(fake.layer))
  })

  it.effect("stop --force: exact targets, no interrupt", () => {
    const fake = fakeSpawner((_cmd, args) => (args[0] === "list-panes" ? { stdout: `%3${SEP}0${SEP}0${SEP}0\n` } : {}))
    return Effect.gen(function*() {
      yield* (yield* Tmux).stop("web", "work", { force: true })
      expect(fake.calls).toEqual([
        ["tmux", "-L", "work", "list-panes", "-s", "-t", "=web:", "-F", `#{pane_id}${SEP}#{window_index}${SEP}#{pane_index}${SEP}#{pane_dead}`],
        ["tmux", "-L", "work", "kill-session", "-t", "=web"]
      ])
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(fake.layer))
  })

  it.effect("stop: interrupt the first pane, see it dead, kill", () => {
    let polls = 0
    const fake = fakeSpawner((_cmd, args) => {
      if (args[0] !== "list-panes") return {}
      polls++
      return { stdout: `%3${SEP}0${SEP}0${SEP}${polls === 1 ? 0 : 1}\n%4${SEP}1${SEP}0${SEP}0\n` }
    })
    return Effect.gen(function*() {
      yield* (yield* Tmux).stop("web", null)
      expect(fake.calls.map((c) => c.slice(1).join(" "))).toEqual([
        expect.stringMatching(/^list-panes -s -t =web: /),
        "send-keys -t %3 C-c",
        expect.stringMatching(/^list-panes -s -t =web: /),
        "kill-session -t =web"
      ])
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(fake.layer))
  })

  it.effect("missing sessions are SessionNotFound; logs trims and cuts", () => {
    const fake = fakeSpawner((_cmd, args) =>
      // (respawn's target travels in the script on stdin, which the fake does not see)
      args.includes("=gone:") || args.includes("=gone") || args.includes("source-file")
        ? { stderr: "can't find session: gone\n", exitCode: 1 }
        : { stdout: "1\n2\n3\n\n\n" }
    )
    return Effect.gen(function*() {
      const tmux = yield* Tmux
      expect(yield* tmux.logs("web", null, { lines: 2 })).toBe("2\n3")
      const nf = { _tag: "SessionNotFound", session: "gone", backend: "tmux" }
      expect(yield* Effect.flip(tmux.logs("gone", null))).toMatchObject(nf)
      expect(yield* Effect.flip(tmux.stop("gone", null))).toMatchObject(nf)
      expect(yield* Effect.flip(tmux.sendKeys("gone", null, "q"))).toMatchObject(nf)
      expect(yield* Effect.flip(tmux.attach("gone", null))).toMatchObject(nf)
      expect(yield* Effect.flip(Stream.runCollect(tmux.follow("gone", null)))).toMatchObject(nf)
      expect(yield* Effect.flip(tmux.respawn(spec("gone"), { settle: 0 }))).toMatchObject(nf)
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(fake.layer))
  })
})
