/**
 * The tmux backend against the REAL tmux. Every test works on its own `-L kstlib-test-<random>`
 * socket, killed in a finalizer, inside a private TMUX_TMPDIR so socket discovery (and the
 * "default" server) only ever see what this suite created.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Result, Stream } from "effect"
import { Tmux, TmuxBinary } from "../../src/backends/tmux.js"
import { fingerprint, specHash } from "../../src/model.js"
import type { ObservedSession, TmuxSpec } from "../../src/model.js"
import { countingSpawner } from "../support/countingSpawner.js"
import { usePrivateTmux } from "../support/privateTmux.js"

const suite = usePrivateTmux("tmux")

const rnd = () => Math.random().toString(36).slice(2, 10)

const tmuxRaw = (socket: string, args: ReadonlyArray<string>) =>
  execFileSync("tmux", ["-L", socket, ...args], { stdio: ["ignore", "pipe", "pipe"] }).toString()

/** A fresh socket name whose server is killed when the test's scope closes. */
const socket = Effect.acquireRelease(
  Effect.sync(() => `kstlib-test-${rnd()}`),
  (s) =>
    Effect.sync(() => {
      try {
        tmuxRaw(s, ["kill-server"])
      } catch { /* no server left */ }
    })
)

/** Snippets with shell syntax (exit codes, traps, `$$`) say `shell: true`; plain words run without a shell. */
const spec = (name: string, command: string | null, socketName: string, extra: Partial<TmuxSpec> = {}): TmuxSpec => ({
  backend: "tmux",
  name,
  command,
  shell: false,
  working_dir: null,
  env: {},
  socket_name: socketName,
  state: "running",
  ...extra
})

/** A per-test directory for files the sessions write. */
const dir = () => {
  const d = join(suite.workDir(), rnd())
  mkdirSync(d)
  return d
}

const waitFor = (check: () => boolean, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100; i++) {
      if (check()) return
      yield* Effect.sleep("100 millis")
    }
    return yield* Effect.die(new Error(`timed out waiting for ${what}`))
  })

const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`expected success, got ${JSON.stringify(r.failure)}`)
  return r.success
}

const find = (all: ReadonlyArray<ObservedSession>, name: string, sock: string | null) =>
  all.find((o) => o.name === name && o.socket_name === sock)

const settle = { settle: "300 millis" } as const

describe("tmux backend (real tmux)", () => {
  it.live("start, observe (state, owner marks, fingerprint, created, pid), graceful stop", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const s = spec("web", "sleep 300", sock)
      const [r] = yield* tmux.start([s], settle)
      const started = ok(r!)
      expect(started).toMatchObject({ name: "web", backend: "tmux", state: "running", socket_name: sock, owned: true })

      const o = find(yield* tmux.observe([sock]), "web", sock)!
      expect(o.state).toBe("running")
      expect(o.owned).toBe(true)
      expect(o.spec_hash).toBe(specHash(s))
      expect(o.applied).toEqual(JSON.parse(JSON.stringify(fingerprint(s))))
      expect(o.exit_code).toBeNull()
      expect(o.window_count).toBe(1)
      expect(Math.abs(Date.parse(o.created_at!) - Date.now())).toBeLessThan(60_000)
      expect(o.pid).toBeGreaterThan(1)

      yield* tmux.stop("web", sock)
      expect(find(yield* tmux.observe([sock]), "web", sock)).toBeUndefined()
    }).pipe(Effect.provide(Tmux.layerNode)))

  it.live("env, working_dir, pid = the pane process ($$), a command with quotes and spaces", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const d = dir()
      const wd = dir()
      // A multi-line command (YAML block scalars give those) goes through as is.
      const cmd = `printf '%s|%s|%s\\n' "$FOO" "$(pwd)" "$$" > ${d}/env.txt\necho "it's \\"quoted\\"  two  spaces" > ${d}/q.txt; sleep 300`
      const s = spec("envy", cmd, sock, { shell: true, working_dir: wd, env: { FOO: `~ a b 'c' "q" $HOME \\ #{pane_id} ;`, BAR: "x;" } })
      ok((yield* tmux.start([s], settle))[0]!)
      yield* waitFor(() => existsSync(join(d, "q.txt")), "the command's files")
      const [foo, pwd, pid] = readFileSync(join(d, "env.txt"), "utf8").trim().split("|")
      expect(foo).toBe(`~ a b 'c' "q" $HOME \\ #{pane_id} ;`) // nothing expanded by tmux
      expect(pwd).toBe(wd)
      expect(readFileSync(join(d, "q.txt"), "utf8")).toBe(`it's "quoted"  two  spaces\n`)
      const o = find(yield* tmux.observe([sock]), "envy", sock)!
      expect(o.pid).toBe(Number(pid))
    }).pipe(Effect.provide(Tmux.layerNode)))

  it.live("a process that exits at once: exited with its status, a start failure with its last output", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const results = yield* tmux.start([
        spec("instant", "exit 7", sock, { shell: true }),
        spec("killed", "kill -9 $$", sock, { shell: true }),
        // The output of a process dying within microseconds of printing is sometimes lost by
        // tmux 3.3a itself (the pane is destroyed before its last read); a short pause avoids that.
        spec("talker", "echo 'last words'; echo 'really last'; sleep 0.3; exit 3", sock, { shell: true }),
        spec("fine", "sleep 300", sock)
      ], { settle: "1500 millis" })
      const [instant, killed, talker, fine] = results
      expect(Result.isFailure(instant!) && instant.failure).toMatchObject({ _tag: "SessionStartFailed", session: "instant", exitCode: 7 })
      expect(Result.isFailure(killed!) && killed.failure).toMatchObject({ exitCode: 137 })
      expect(Result.isFailure(talker!) && talker.failure).toMatchObject({ exitCode: 3, output: "last words\nreally last" })
      expect(ok(fine!).state).toBe("running")

      const all = yield* tmux.observe([sock])
      expect(find(all, "instant", sock)).toMatchObject({ state: "exited", exit_code: 7, owned: true })
      expect(find(all, "talker", sock)).toMatchObject({ state: "exited", exit_code: 3 })
      const logs = yield* tmux.logs("talker", sock)
      expect(logs).toContain("last words\nreally last")
      expect(logs.endsWith("\n")).toBe(false)
      // The last line is tmux's own remain-on-exit notice.
      expect(logs.split("\n").at(-1)).toMatch(/^Pane is dead \(status 3/)
      expect(yield* tmux.logs("talker", sock, { lines: 2 })).toMatch(/^really last\nPane is dead/)
      // An exited pane counts as gone: a graceful stop kills the session without waiting.
      yield* tmux.stop("talker", sock, { timeout: 30 })
      expect(find(yield* tmux.observe([sock]), "talker", sock)).toBeUndefined()
    }).pipe(Effect.provide(Tmux.layerNode)))

  it.live("graceful stop waits for a process that handles SIGINT", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const d = dir()
      const marker = join(d, "marker")
      const cmd = `trap 'sleep 1; echo done > ${marker}; exit 0' INT; touch ${d}/ready; while :; do sleep 0.1; done`
      ok((yield* tmux.start([spec("graceful", cmd, sock, { shell: true })], settle))[0]!)
      yield* waitFor(() => existsSync(join(d, "ready")), "the trap to be installed")
      yield* tmux.stop("graceful", sock, { timeout: 10 })
      expect(existsSync(marker)).toBe(true)
      expect(find(yield* tmux.observe([sock]), "graceful", sock)).toBeUndefined()
    }).pipe(Effect.provide(Tmux.layerNode)))

  it.live("stop kills a process that ignores SIGINT after the timeout; force does not wait", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const d = dir()
      const marker = join(d, "marker")
      yield* tmux.start([
        spec("stubborn", `trap '' INT; touch ${d}/r1; sleep 300`, sock, { shell: true }),
        spec("forced", `trap 'sleep 1; echo done > ${marker}; exit 0' INT; touch ${d}/r2; while :; do sleep 0.1; done`, sock, { shell: true })
      ], settle)
      yield* waitFor(() => existsSync(join(d, "r1")) && existsSync(join(d, "r2")), "the traps to be installed")
      const pid = find(yield* tmux.observe([sock]), "stubborn", sock)!.pid!
      yield* tmux.stop("stubborn", sock, { timeout: 1 })
      expect(find(yield* tmux.observe([sock]), "stubborn", sock)).toBeUndefined()
      yield* waitFor(() => {
        try {
          process.kill(pid, 0)
          return false
        } catch {
          return true
        }
      }, "the stubborn process to die")

      yield* tmux.stop("forced", sock, { force: true })
      expect(find(yield* tmux.observe([sock]), "forced", sock)).toBeUndefined()
      yield* Effect.sleep("1500 millis") // longer than its trap would take
      expect(existsSync(marker)).toBe(false)
    }).pipe(Effect.provide(Tmux.layerNode)))

  it.live("exact names: with astro-dev running, astro does not exist", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      ok((yield* tmux.start([spec("astro-dev", "sleep 300", sock)], settle))[0]!)
      const notFound = { _tag: "SessionNotFound", session: "astro", backend: "tmux" }
      expect(yield* Effect.flip(tmux.stop("astro", sock, { force: true }))).toMatchObject(notFound)
      expect(yield* Effect.flip(tmux.stop("astro", sock))).toMatchObject(notFound)
      expect(yield* Effect.flip(tmux.logs("astro", sock))).toMatchObject(notFound)
      expect(yield* Effect.flip(tmux.sendKeys("astro", sock, "echo hi"))).toMatchObject(notFound)
      expect(yield* Effect.flip(tmux.attach("astro", sock))).toMatchObject(notFound)
      expect(yield* Effect.flip(tmux.respawn(spec("astro", "sleep 300", sock), settle))).toMatchObject(notFound)
      expect(yield* Effect.flip(Stream.runCollect(tmux.follow("astro", sock)))).toMatchObject(notFound)
      expect(find(yield* tmux.observe([sock]), "astro-dev", sock)?.state).toBe("running")
      // And starting `astro` next to it is not blocked by the prefix.
      expect(ok((yield* tmux.start([spec("astro", "sleep 300", sock)], settle))[0]!).name).toBe("astro")
    }).pipe(Effect.provide(Tmux.layerNode)))

  it.live("an existing session fails alone; the rest of the batch is still created", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      tmuxRaw(sock, ["new-session", "-d", "-s", "taken", "sleep 300"])
      const results = yield* tmux.start([
        spec("first", "sleep 300", sock),
        spec("taken", "sleep 300", sock),
        spec("last", "sleep 300", sock),
        spec("last", "sleep 300", sock)
      ], settle)
      expect(ok(results[0]!).name).toBe("first")
      expect(Result.isFailure(results[1]!) && results[1].failure.reason).toMatch(/already exists/)
      expect(ok(results[2]!).name).toBe("last")
      expect(Result.isFailure(results[3]!) && results[3].failure.reason).toMatch(/listed twice/)
      const taken = find(yield* tmux.observe([sock]), "taken", sock)!
      expect(taken).toMatchObject({ owned: false, spec_hash: null, applied: null }) // foreign, untouched
    }).pipe(Effect.provide(Tmux.layerNode)))

  it.live("a missing working directory is a start failure (tmux would silently use another one)", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const [r] = yield* tmux.start([spec("nowhere", "sleep 300", sock, { working_dir: join(suite.workDir(), "no-such-dir") })], settle)
      expect(Result.isFailure(r!) && r.failure.reason).toMatch(/working directory does not exist/)
      expect(find(yield* tmux.observe([sock]), "nowhere", sock)).toBeUndefined()
    }).pipe(Effect.provide(Tmux.layerNode)))

  it.live("socket discovery: sessions on sockets not asked for are found; stale sockets are skipped", () =>
    Effect.gen(function*() {
      const other = yield* socket
      const stale = yield* socket
      const tmux = yield* Tmux
      tmuxRaw(other, ["new-session", "-d", "-s", "hidden", "sleep 300"])
      tmuxRaw(stale, ["new-session", "-d", "-s", "gone", "sleep 300"])
      tmuxRaw(stale, ["kill-server"]) // leaves its socket file behind
      const sockDir = join(process.env["TMUX_TMPDIR"]!, `tmux-${process.getuid?.() ?? 0}`)
      expect(existsSync(join(sockDir, stale))).toBe(true)
      writeFileSync(join(sockDir, "not-a-socket"), "")
      const all = yield* tmux.observe()
      expect(find(all, "hidden", other)).toMatchObject({ state: "running", owned: false })
      expect(all.find((o) => o.name === "gone")).toBeUndefined()
      rmSync(join(sockDir, "not-a-socket"))
    }).pipe(Effect.provide(Tmux.layerNode)))

  it.live("the default server is observed with socket_name null", () =>
    Effect.gen(function*() {
      const tmux = yield* Tmux
      // Private TMUX_TMPDIR: this "default" server belongs to the suite.
      yield* Effect.acquireRelease(
        Effect.sync(() => execFileSync("tmux", ["new-session", "-d", "-s", "dflt", "sleep 300"])),
        () => Effect.sync(() => execFileSync("tmux", ["kill-server"]))
      )
      expect(find(yield* tmux.observe(), "dflt", null)).toMatchObject({ state: "running" })
      expect(yield* tmux.logs("dflt", "default")).toBe("")
    }).pipe(Effect.provide(Tmux.layerNode)))

  it.live("observe is ONE tmux call per socket, for 1 and for 50 sessions; starting 50 is ONE invocation", () => {
    const counting = countingSpawner()
    return Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const onSock = () => counting.calls.filter((c) => c.includes(sock))

      ok((yield* tmux.start([spec("s0", "sleep 300", sock)], settle))[0]!)
      counting.reset()
      expect((yield* tmux.observe([sock])).filter((o) => o.socket_name === sock)).toHaveLength(1)
      expect(onSock()).toHaveLength(1)
      const socketsSeen = counting.calls.length

      const specs = Array.from({ length: 49 }, (_, i) => spec(`s${i + 1}`, "sleep 300", sock))
      counting.reset()
      const results = yield* tmux.start(specs, settle)
      expect(results.filter(Result.isFailure).map((r) => r.failure.message)).toEqual([])
      expect(results.filter(Result.isSuccess)).toHaveLength(49)
      const creating = onSock().filter((c) => !c.includes("list-panes"))
      expect(creating).toHaveLength(1) // the 49 new-session commands go through its stdin
      expect(creating[0]).toEqual(["tmux", "-L", sock, "start-server", ";", "source-file", "-"])

      counting.reset()
      expect((yield* tmux.observe([sock])).filter((o) => o.socket_name === sock)).toHaveLength(50)
      expect(onSock()).toHaveLength(1)
      expect(counting.calls).toHaveLength(socketsSeen) // 50 sessions cost what 1 did
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(counting.layer))
  })

  it.live("respawn restarts an exited session in place with the new spec", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const d = dir()
      const [r] = yield* tmux.start([spec("phoenix", "exit 4", sock, { shell: true })], settle)
      expect(Result.isFailure(r!) && r.failure.exitCode).toBe(4)
      // A respawn that dies again is a start failure with its status.
      const e = yield* Effect.flip(tmux.respawn(spec("phoenix", "echo again; sleep 0.2; exit 9", sock, { shell: true }), { settle: "1 second" }))
      expect(e).toMatchObject({ _tag: "SessionStartFailed", exitCode: 9, output: expect.stringContaining("again") })
      const s2 = spec("phoenix", `echo risen > ${d}/out; sleep 300`, sock, { shell: true })
      const o = yield* tmux.respawn(s2, settle)
      expect(o).toMatchObject({ name: "phoenix", state: "running", exit_code: null, spec_hash: specHash(s2), owned: true })
      expect(readFileSync(join(d, "out"), "utf8")).toBe("risen\n")
      const seen = find(yield* tmux.observe([sock]), "phoenix", sock)!
      expect(seen.applied).toEqual(JSON.parse(JSON.stringify(fingerprint(s2))))
      expect(seen.pid).toBe(o.pid)
    }).pipe(Effect.provide(Tmux.layerNode)))

  it.live("sendKeys types into the pane (Enter by default; a trailing ';' survives)", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const d = dir()
      ok((yield* tmux.start([spec("reader", `read l; echo "got:$l" > ${d}/got; sleep 300`, sock, { shell: true })], settle))[0]!)
      yield* tmux.sendKeys("reader", sock, "hello world;")
      yield* waitFor(() => existsSync(join(d, "got")), "the line to be read")
      expect(readFileSync(join(d, "got"), "utf8")).toBe("got:hello world;\n")
    }).pipe(Effect.provide(Tmux.layerNode)))

  it.live("follow emits new lines as they appear", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const cmd = "echo before; sleep 1.5; for i in 1 2 3; do echo line$i; sleep 0.2; done; sleep 300"
      ok((yield* tmux.start([spec("chatty", cmd, sock, { shell: true })], settle))[0]!)
      const lines = yield* tmux.follow("chatty", sock, { lines: 1, interval: "100 millis" }).pipe(
        Stream.take(4),
        Stream.runCollect,
        Effect.timeout("20 seconds")
      )
      expect(lines).toEqual(["before", "line1", "line2", "line3"])
    }).pipe(Effect.provide(Tmux.layerNode)))

  it.live("attach: not a terminal is a clear failure", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      ok((yield* tmux.start([spec("tty", "sleep 300", sock)], settle))[0]!)
      const e = yield* Effect.flip(tmux.attach("tty", sock))
      expect(e).toMatchObject({ _tag: "SessionAttachFailed", reason: "stdin is not a terminal" })
    }).pipe(Effect.provide(Tmux.layerNode)))

  it.live("a missing binary is TmuxNotFound when tmux is first needed, not when the layer is built", () =>
    Effect.gen(function*() {
      const tmux = yield* Tmux // the layer builds fine
      const e = yield* Effect.flip(tmux.observe())
      expect(e).toMatchObject({ _tag: "TmuxNotFound", binary: "no-such-tmux-kstlib" })
      expect((yield* Effect.flip(tmux.stop("x", null)))._tag).toBe("TmuxNotFound")
    }).pipe(
      Effect.provide(Layer.mergeAll(Tmux.layerNode, Layer.succeed(TmuxBinary, "no-such-tmux-kstlib")))
    ))
})
