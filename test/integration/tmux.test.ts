/**
 * The tmux Backend against the REAL tmux. Every test works on its own `-L kstlib-test-<random>`
 * socket, killed in a finalizer, inside a private TMUX_TMPDIR so socket discovery (and the
 * "default" server) only ever see what this suite created.
 */
import { execFileSync } from "node:child_process"
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { dirname, join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Result, Stream } from "effect"
import { Backends } from "../../src/backends/registry.js"
import { Tmux, TmuxBinary } from "../../src/backends/tmux.js"
import { serverListens, socketPath, TmuxSocketDirectory } from "../../src/backends/tmux/sockets.js"
import type { ObservedSession, ObservedTmux, TmuxSpec } from "../../src/model.js"
import { isOurs, NO_MARK } from "../../src/model.js"
import { fingerprint, launchOf, specHash } from "../../src/testing/specs.js"
import { unreadableOf } from "../../src/reconcile/observe.js"
import { CallTimeout } from "../../src/proc.js"
import { execute } from "../../src/reconcile/execute.js"
import { plan, targetsOf } from "../../src/reconcile/plan.js"
import { countingSpawner } from "../support/countingSpawner.js"
import { planOptions, PROJECT, tmuxSpec, valid } from "../../src/testing/specs.js"
import { usePrivateTmux } from "../support/privateTmux.js"

const suite = usePrivateTmux("tmux")

const TmuxLive = Tmux.layer.pipe(Layer.provide(NodeServices.layer))
const BackendsLive = Backends.layerWith.pipe(Layer.provide(NodeServices.layer))

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

/**
 * The snippets here use shell syntax (exit codes, traps, `$$`, `;`), so they run with `shell: true`:
 * these tests are about the backend; what a command means without a shell is test/cli/commands.test.ts's.
 */
const spec = (name: string, command: string | null, socketName: string, extra: Partial<TmuxSpec> = {}): TmuxSpec =>
  tmuxSpec(name, { command, shell: command !== null, working_dir: null, socket_name: socketName, ...extra })

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

/** A file the session wrote, complete (its last line ended): existence alone races with the write. */
const written = (file: string) => existsSync(file) && readFileSync(file, "utf8").endsWith("\n")

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const failures = <E extends { readonly message: string }>(rs: ReadonlyArray<Result.Result<void, E>>) =>
  rs.flatMap((r) => (Result.isFailure(r) ? [r.failure.message] : []))

/** Launches and expects every spec to be created. */
const launchAll = (specs: ReadonlyArray<TmuxSpec>) =>
  Effect.gen(function*() {
    const results = yield* (yield* Tmux).launch(specs.map(launchOf), { project: PROJECT })
    expect(failures(results)).toEqual([])
  })

const sessionsOn = (sock: string) =>
  Effect.gen(function*() {
    const obs = yield* (yield* Tmux).observe({ sockets: [sock] })
    return obs.sessions.filter((o): o is ObservedTmux => o.backend === "tmux" && o.socket_name === sock)
  })

const find = (all: ReadonlyArray<ObservedSession>, name: string, sock: string | null): ObservedTmux | undefined =>
  all.find((o): o is ObservedTmux => o.backend === "tmux" && o.name === name && o.socket_name === sock)

const observed = (name: string, sock: string) =>
  Effect.gen(function*() {
    const o = find(yield* sessionsOn(sock), name, sock)
    if (o === undefined) return yield* Effect.die(new Error(`${name} not observed on ${sock}`))
    return o
  })

describe("tmux backend (real tmux)", () => {
  it.live("launch, observe (state, both marks, spec hash, fingerprint, created, pid), graceful stop", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const s = spec("web", "sleep 300", sock)
      yield* launchAll([s])

      const o = yield* observed("web", sock)
      expect(o).toMatchObject({ name: "web", backend: "tmux", state: "running", socket_name: sock, exit_code: null, window_count: 1 })
      expect(o.mark).toMatchObject({ managed: true, project: PROJECT, spec_hash: specHash(s) })
      expect(o.mark.applied).toEqual(JSON.parse(JSON.stringify(fingerprint(s))))
      expect(isOurs(o, PROJECT)).toBe(true)
      expect(isOurs(o, "another-project")).toBe(false)
      expect(Math.abs(Date.parse(o.created_at!) - Date.now())).toBeLessThan(60_000)
      expect(o.pid).toBeGreaterThan(1)
      // The marks are session-scope options with kstlib's exact values.
      expect(tmuxRaw(sock, ["show-options", "-v", "-t", "=web:", "@kstlib-managed"]).trim()).toBe("1")
      expect(tmuxRaw(sock, ["show-options", "-v", "-t", "=web:", "@kstlib-project"]).trim()).toBe(PROJECT)

      expect(yield* tmux.stop(o, { timeout: 5, leave: "stopped" })).toBe("stopped")
      expect(find(yield* sessionsOn(sock), "web", sock)).toBeUndefined()
    }).pipe(Effect.provide(TmuxLive)))

  it.live("env, working_dir, pid = the pane process ($$), a command with quotes and spaces", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const d = dir()
      const wd = dir()
      // A multi-line command (YAML block scalars give those) goes through as is.
      const cmd = `printf '%s|%s|%s\\n' "$FOO" "$(pwd)" "$$" > ${d}/env.txt\necho "it's \\"quoted\\"  two  spaces" > ${d}/q.txt; sleep 300`
      const s = spec("envy", cmd, sock, { working_dir: wd, env: { FOO: `~ a b 'c' "q" $HOME \\ #{pane_id} ;`, BAR: "x;" } })
      yield* launchAll([s])
      yield* waitFor(() => written(join(d, "q.txt")), "the command's files")
      const [foo, pwd, pid] = readFileSync(join(d, "env.txt"), "utf8").trim().split("|")
      expect(foo).toBe(`~ a b 'c' "q" $HOME \\ #{pane_id} ;`) // nothing expanded by tmux
      expect(pwd).toBe(wd)
      expect(readFileSync(join(d, "q.txt"), "utf8")).toBe(`it's "quoted"  two  spaces\n`)
      expect((yield* observed("envy", sock)).pid).toBe(Number(pid))
    }).pipe(Effect.provide(TmuxLive)))

  it.live("env PATH in a spec is the PATH the session's process sees (new server and existing server)", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const d = dir()
      const bin = dir()
      writeFileSync(join(bin, "kstlib-probe"), "#!/bin/sh\necho probe-found\n", { mode: 0o755 })
      const path = `${bin}:/usr/local/bin:/usr/bin:/bin`
      // First launch creates the server with this PATH.
      yield* launchAll([spec("p1", `echo "$PATH" > ${d}/p1; kstlib-probe > ${d}/probe1; sleep 300`, sock, { env: { PATH: path } })])
      // The server now exists (started with another PATH): a second session with its own PATH, one without.
      const path2 = `${bin}:/bin:/usr/bin`
      yield* launchAll([
        spec("p2", `echo "$PATH" > ${d}/p2; kstlib-probe > ${d}/probe2; sleep 300`, sock, { env: { PATH: path2 } }),
        spec("p3", `echo "$PATH" > ${d}/p3; sleep 300`, sock)
      ])
      yield* waitFor(() => ["p1", "p2", "p3", "probe1", "probe2"].every((f) => written(join(d, f))), "the PATH files")
      expect(readFileSync(join(d, "p1"), "utf8").trim()).toBe(path)
      expect(readFileSync(join(d, "p2"), "utf8").trim()).toBe(path2)
      expect(readFileSync(join(d, "probe1"), "utf8").trim()).toBe("probe-found")
      expect(readFileSync(join(d, "probe2"), "utf8").trim()).toBe("probe-found")
      // No PATH in the spec: the client's (ours).
      expect(readFileSync(join(d, "p3"), "utf8").trim()).toBe(process.env["PATH"])
    }).pipe(Effect.provide(TmuxLive)))

  it.live("a process that exits at once is observed exited with its status; logs keep its last output", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      yield* launchAll([
        spec("instant", "exit 7", sock),
        spec("killed", "kill -9 $$", sock),
        // The output of a process dying within microseconds of printing is sometimes lost by
        // tmux 3.3a itself (the pane is destroyed before its last read); a short pause avoids that.
        spec("talker", "echo 'last words'; echo 'really last'; sleep 0.3; exit 3", sock),
        spec("fine", "sleep 300", sock)
      ])
      yield* Effect.sleep("1 second")
      const all = yield* sessionsOn(sock)
      expect(find(all, "instant", sock)).toMatchObject({ state: "exited", exit_code: 7, mark: { managed: true, project: PROJECT } })
      expect(find(all, "killed", sock)).toMatchObject({ state: "exited", exit_code: 137 })
      expect(find(all, "talker", sock)).toMatchObject({ state: "exited", exit_code: 3 })
      expect(find(all, "fine", sock)).toMatchObject({ state: "running", exit_code: null })
      const talker = find(all, "talker", sock)!
      const logs = yield* tmux.logs(talker, { lines: 100 })
      expect(logs).toContain("last words\nreally last")
      expect(logs.endsWith("\n")).toBe(false)
      // The supervisor's marker of the run's end, right after the last output; after it, only
      // tmux's remain-on-exit notice, which tmux 3.3a draws once it has handled the exit (observe
      // may have seen it first, from /proc and the supervisor's @kstlib-last-exit).
      const lines = logs.split("\n")
      const end = lines.indexOf("[kstlib] run 1 exited with code 3")
      expect(lines[end - 1], logs).toBe("really last")
      expect(lines.slice(end + 1).every((l) => /^Pane is dead \(status 3/u.test(l)), logs).toBe(true)
      expect(lines.length - end, logs).toBeLessThanOrEqual(2)
      // An exited pane: stop does not wait, the session is closed.
      expect(yield* tmux.stop(talker, { timeout: 30, leave: "stopped" })).toBe("already-stopped")
      expect(find(yield* sessionsOn(sock), "talker", sock)).toBeUndefined()
    }).pipe(Effect.provide(TmuxLive)))

  it.live("the post-launch check (executor): a dying process is a failed step with exit code and last output; Start of an exited one checks again", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const specs = [
        spec("instant", "exit 7", sock),
        spec("killed", "kill -9 $$", sock),
        spec("talker", "echo 'last words'; echo 'really last'; sleep 0.3; exit 3", sock),
        spec("fine", "sleep 300", sock)
      ]
      const p = plan(specs.map((s) => valid(s)), [], planOptions())
      expect(p.steps.map((s) => s._tag)).toEqual(["Create", "Create", "Create", "Create"])
      const report = yield* execute(p, { parallel: 4, settle: "1500 millis", stopTimeout: 5 })
      expect(report.interrupted).toBe(false)
      expect(report.notRun).toEqual([])
      const by = (name: string) => report.results.find((r) => r.step.session === name)!
      expect(by("instant").error).toMatchObject({ _tag: "SessionStartFailed", session: "instant", exitCode: 7 })
      expect(by("killed").error).toMatchObject({ _tag: "SessionStartFailed", exitCode: 137 })
      expect(by("talker").error).toMatchObject({ exitCode: 3, output: expect.stringContaining("last words\nreally last") })
      expect(by("talker").error!.message).toMatch(/exited with code 3/)
      expect(by("fine").error).toBeNull()
      expect(by("fine").observed).toMatchObject({ name: "fine", state: "running", mark: { managed: true, project: PROJECT } })
      expect(by("fine").durationMs).toBeGreaterThanOrEqual(1400) // includes the settle wait

      // The exited session is ours with the same spec: the plan starts it again in place, and the check runs again.
      const again = spec("talker", "echo 'last words'; echo 'really last'; sleep 0.3; exit 3", sock)
      const seen = (yield* (yield* Backends).observe({ sockets: [sock] }, ["tmux"])).flatMap((x) => x.sessions)
      const p2 = plan([valid(again)], seen, planOptions())
      expect(p2.steps.map((s) => [s._tag, "reason" in s ? s.reason : null])).toEqual([["Start", "exited"]])
      const r2 = yield* execute(p2, { parallel: 4, settle: "1500 millis", stopTimeout: 5 })
      expect(r2.results[0]!.error).toMatchObject({ _tag: "SessionStartFailed", exitCode: 3 })
    }).pipe(Effect.provide(BackendsLive)))

  it.live("graceful stop waits for a process that handles SIGINT", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const d = dir()
      const marker = join(d, "marker")
      const cmd = `trap 'sleep 1; echo done > ${marker}; exit 0' INT; touch ${d}/ready; while :; do sleep 0.1; done`
      yield* launchAll([spec("graceful", cmd, sock)])
      yield* waitFor(() => existsSync(join(d, "ready")), "the trap to be installed")
      expect(yield* tmux.stop(yield* observed("graceful", sock), { timeout: 10, leave: "stopped" })).toBe("stopped")
      expect(existsSync(marker)).toBe(true)
      expect(find(yield* sessionsOn(sock), "graceful", sock)).toBeUndefined()
    }).pipe(Effect.provide(TmuxLive)))

  it.live("stop escalates: a process ignoring INT, HUP and TERM is killed at once, the timeout is not waited for (outcome killed, process gone)", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const d = dir()
      yield* launchAll([spec("stubborn", `trap "" INT HUP TERM; touch ${d}/ready; while :; do sleep 1; done`, sock)])
      yield* waitFor(() => existsSync(join(d, "ready")), "the trap to be installed")
      const o = yield* observed("stubborn", sock)
      const pid = o.pid!
      expect(alive(pid)).toBe(true)
      const started = performance.now()
      expect(yield* tmux.stop(o, { timeout: 30, leave: "stopped" })).toBe("killed")
      // It ignores the stop signal (SigIgn in /proc): no grace period of 30 s for what cannot end on it.
      expect(performance.now() - started).toBeLessThan(20_000)
      expect(find(yield* sessionsOn(sock), "stubborn", sock)).toBeUndefined()
      yield* waitFor(() => !alive(pid), "the stubborn process to die")
    }).pipe(Effect.provide(TmuxLive)))

  it.live("force kills at once without waiting for the SIGINT handler (outcome killed)", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const d = dir()
      const marker = join(d, "marker")
      yield* launchAll([spec("forced", `trap 'sleep 1; echo done > ${marker}; exit 0' INT; touch ${d}/r; while :; do sleep 0.1; done`, sock)])
      yield* waitFor(() => existsSync(join(d, "r")), "the trap to be installed")
      const o = yield* observed("forced", sock)
      expect(yield* tmux.stop(o, { force: true, leave: "stopped" })).toBe("killed")
      expect(find(yield* sessionsOn(sock), "forced", sock)).toBeUndefined()
      yield* waitFor(() => !alive(o.pid!), "the forced process to die")
      yield* Effect.sleep("1500 millis") // longer than its trap would take
      expect(existsSync(marker)).toBe(false)
    }).pipe(Effect.provide(TmuxLive)))

  it.live("exact names: with astro-dev running, astro does not exist", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      yield* launchAll([spec("astro-dev", "sleep 300", sock)])
      const astro: ObservedTmux = { ...(yield* observed("astro-dev", sock)), name: "astro" }
      const notFound = { _tag: "SessionNotFound", session: "astro", backend: "tmux" }
      expect(yield* Effect.flip(tmux.stop(astro, { force: true, leave: "stopped" }))).toMatchObject(notFound)
      expect(yield* Effect.flip(tmux.stop(astro, { leave: "stopped" }))).toMatchObject(notFound)
      expect(yield* Effect.flip(tmux.logs(astro, { lines: 10 }))).toMatchObject(notFound)
      expect(yield* Effect.flip(tmux.sendKeys(astro, "echo hi", { enter: true }))).toMatchObject(notFound)
      expect(yield* Effect.flip(tmux.attach(astro))).toMatchObject(notFound)
      expect(yield* Effect.flip(tmux.startInPlace(astro, spec("astro", "sleep 300", sock), { project: PROJECT, stamp: launchOf(spec("astro", "sleep 300", sock)).stamp }))).toMatchObject(notFound)
      expect(yield* Effect.flip(Stream.runCollect(tmux.follow(astro, { lines: 1 })))).toMatchObject(notFound)
      // remove: gone already is success
      yield* tmux.stop(astro, { force: true, leave: "nothing" }).pipe(Effect.catchTag("SessionNotFound", () => Effect.void))
      expect((yield* observed("astro-dev", sock)).state).toBe("running")
      // And launching `astro` next to it is not blocked by the prefix.
      yield* launchAll([spec("astro", "sleep 300", sock)])
      expect((yield* sessionsOn(sock)).map((o) => o.name).sort()).toEqual(["astro", "astro-dev"])
    }).pipe(Effect.provide(TmuxLive)))

  it.live("launch returns per-spec results: an existing session and a duplicate fail alone, the rest of the batch is created", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      tmuxRaw(sock, ["new-session", "-d", "-s", "taken", "sleep 300"])
      const results = yield* tmux.launch([
        spec("first", "sleep 300", sock),
        spec("taken", "sleep 300", sock),
        spec("last", "sleep 300", sock),
        spec("last", "sleep 300", sock)
      ].map(launchOf), { project: PROJECT })
      expect(results.map(Result.isSuccess)).toEqual([true, false, true, false])
      expect(Result.isFailure(results[1]!) && results[1].failure).toMatchObject({ _tag: "SessionStartFailed", session: "taken" })
      expect(Result.isFailure(results[1]!) && results[1].failure.reason).toMatch(/already exists/)
      expect(Result.isFailure(results[3]!) && results[3].failure.reason).toMatch(/listed twice/)
      const all = yield* sessionsOn(sock)
      expect(find(all, "first", sock)?.mark.managed).toBe(true)
      expect(find(all, "last", sock)?.mark.managed).toBe(true)
      expect(find(all, "taken", sock)!.mark).toEqual(NO_MARK) // foreign, and not marked by the refused launch
    }).pipe(Effect.provide(TmuxLive)))

  it.live("a missing working directory is a launch failure (tmux would silently use another one)", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const [r, ok] = yield* tmux.launch([
        spec("nowhere", "sleep 300", sock, { working_dir: join(suite.workDir(), "no-such-dir") }),
        spec("somewhere", "sleep 300", sock, { working_dir: suite.workDir() })
      ].map(launchOf), { project: PROJECT })
      expect(Result.isFailure(r!) && r.failure.reason).toMatch(/working directory does not exist/)
      expect(Result.isSuccess(ok!)).toBe(true)
      const all = yield* sessionsOn(sock)
      expect(find(all, "nowhere", sock)).toBeUndefined()
      expect(find(all, "somewhere", sock)?.state).toBe("running")
    }).pipe(Effect.provide(TmuxLive)))

  it.live("socket discovery: sessions on sockets not asked for are found; stale sockets are skipped", () =>
    Effect.gen(function*() {
      const other = yield* socket
      const stale = yield* socket
      const tmux = yield* Tmux
      tmuxRaw(other, ["new-session", "-d", "-s", "hidden", "sleep 300"])
      tmuxRaw(stale, ["new-session", "-d", "-s", "gone", "sleep 300"])
      tmuxRaw(stale, ["kill-server"])
      const sockDir = join(process.env["TMUX_TMPDIR"]!, `tmux-${process.getuid?.() ?? 0}`)
      writeFileSync(join(sockDir, "not-a-socket"), "")
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(join(sockDir, "not-a-socket"), { force: true })))
      const obs = yield* tmux.observe({ sockets: [] })
      expect(find(obs.sessions, "hidden", other)).toMatchObject({ state: "running", mark: NO_MARK })
      expect(obs.sessions.find((o) => o.name === "gone")).toBeUndefined()
      expect(obs.problems).toEqual([])
      expect(obs.answered).toEqual([{ backend: "tmux" }])
    }).pipe(Effect.provide(TmuxLive)))

  it.live("the default server is observed with socket_name null", () =>
    Effect.gen(function*() {
      const tmux = yield* Tmux
      // Private TMUX_TMPDIR: this "default" server belongs to the suite.
      yield* Effect.acquireRelease(
        Effect.sync(() => execFileSync("tmux", ["new-session", "-d", "-s", "dflt", "sleep 300"])),
        () => Effect.sync(() => execFileSync("tmux", ["kill-server"]))
      )
      const o = find((yield* tmux.observe({ sockets: [] })).sessions, "dflt", null)
      expect(o).toMatchObject({ state: "running", socket_name: null })
      expect(yield* tmux.logs(o!, { lines: 10 })).toBe("")
    }).pipe(Effect.provide(TmuxLive)))

  it.live("stale sockets cost nothing: observe spawns the same processes with 0 and with 30 stale socket files", () => {
    const counting = countingSpawner()
    return Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      yield* launchAll([spec("alive", "sleep 300", sock)])
      counting.reset()
      yield* tmux.observe({ sockets: [sock] })
      const before = counting.calls.map((c) => c.join(" "))
      // socket files nobody listens on: bound, then left (a crashed server leaves them so)
      const sockDir = join(process.env["TMUX_TMPDIR"]!, `tmux-${process.getuid?.() ?? 0}`)
      const stale = Array.from({ length: 30 }, (_, i) => join(sockDir, `kt-stale-${i}`))
      // one process binds them all and exits without closing: the files stay, nobody listens
      execFileSync(process.execPath, ["-e", `
        const net = require("node:net"); const paths = process.argv.slice(1); let n = 0
        for (const p of paths) net.createServer().listen(p, () => { if (++n === paths.length) process.exit(0) })`, ...stale])
      yield* Effect.addFinalizer(() => Effect.sync(() => stale.forEach((path) => rmSync(path, { force: true }))))
      counting.reset()
      const obs = yield* tmux.observe({ sockets: [sock] })
      expect(counting.calls.map((c) => c.join(" "))).toEqual(before)
      expect(find(obs.sessions, "alive", sock)?.state).toBe("running")
      expect(obs.problems).toEqual([])
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(counting.layer))
  })

  it.live("no server anywhere: no tmux process at all, and tmux still counts as there (found on PATH)", () => {
    const counting = countingSpawner()
    return Effect.gen(function*() {
      const obs = yield* (yield* Tmux).observe({ sockets: ["kt-nobody-here"] })
      expect(counting.calls).toEqual([])
      expect(obs).toEqual({ sessions: [], answered: [{ backend: "tmux" }], problems: [] })
      const missing = yield* (yield* Tmux).observe({ sockets: [] }).pipe(Effect.provideService(TmuxBinary, "no-such-tmux-kstlib"))
      expect(missing.problems).toMatchObject([{ scope: { backend: "tmux" }, kind: "missing" }])
    }).pipe(
      // Other test files run tmux servers in the shared socket directory at the same time: this
      // test discovers none of them (the real connect() check still decides about its own socket).
      Effect.provideService(TmuxSocketDirectory, { discover: Effect.succeed([]), listens: (s) => serverListens(socketPath(s)) }),
      Effect.provide(Tmux.layer),
      Effect.provide(counting.layer)
    )
  })

  it.live("observe is ONE tmux call per socket, for 1 and for 50 sessions; launching 49 is ONE invocation", () => {
    const counting = countingSpawner()
    return Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const onSock = () => counting.calls.filter((c) => c.includes(sock))

      yield* launchAll([spec("s0", "sleep 300", sock)])
      counting.reset()
      expect((yield* tmux.observe({ sockets: [sock] })).sessions.filter((o) => o.backend === "tmux" && o.socket_name === sock)).toHaveLength(1)
      expect(onSock()).toHaveLength(1)
      const socketsSeen = counting.calls.length

      const specs = Array.from({ length: 49 }, (_, i) => spec(`s${i + 1}`, "sleep 300", sock))
      counting.reset()
      const results = yield* tmux.launch(specs.map(launchOf), { project: PROJECT })
      expect(failures(results)).toEqual([])
      expect(results).toHaveLength(49)
      expect(counting.calls).toHaveLength(1) // the 49 new-session commands go through its stdin
      expect(counting.calls[0]).toEqual(["tmux", "-L", sock, "start-server", ";", "source-file", "-"])

      counting.reset()
      const all = (yield* tmux.observe({ sockets: [sock] })).sessions.filter((o) => o.backend === "tmux" && o.socket_name === sock)
      expect(all).toHaveLength(50)
      expect(all.every((o) => o.mark.managed && o.mark.project === PROJECT)).toBe(true)
      expect(onSock()).toHaveLength(1)
      expect(counting.calls).toHaveLength(socketsSeen) // 50 sessions cost what 1 did
    }).pipe(Effect.provide(Tmux.layer), Effect.provide(counting.layer))
  })

  it.live("restart: an exited session starts again in place with the new spec and marks; mark:false keeps a foreign one foreign", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const d = dir()
      yield* launchAll([spec("phoenix", "exit 4", sock)])
      yield* Effect.sleep("300 millis")
      const dead = yield* observed("phoenix", sock)
      expect(dead).toMatchObject({ state: "exited", exit_code: 4 })
      const s2 = spec("phoenix", `echo risen > ${d}/out; sleep 300`, sock)
      yield* tmux.startInPlace(dead, s2, { project: PROJECT, stamp: launchOf(s2).stamp })
      yield* waitFor(() => written(join(d, "out")), "the new command to run")
      expect(readFileSync(join(d, "out"), "utf8")).toBe("risen\n")
      const seen = yield* observed("phoenix", sock)
      expect(seen).toMatchObject({ state: "running", exit_code: null, created_at: dead.created_at })
      expect(seen.mark).toMatchObject({ managed: true, project: PROJECT, spec_hash: specHash(s2) })
      expect(seen.mark.applied).toEqual(JSON.parse(JSON.stringify(fingerprint(s2))))

      tmuxRaw(sock, ["new-session", "-d", "-s", "foreign", "sleep 300"])
      const before = yield* observed("foreign", sock)
      yield* tmux.startInPlace(before, spec("foreign", "sleep 301", sock), { project: PROJECT, stamp: null })
      const after = yield* observed("foreign", sock)
      expect(after.state).toBe("running")
      expect(after.pid).not.toBe(before.pid)
      expect(after.mark).toEqual(NO_MARK)
    }).pipe(Effect.provide(TmuxLive)))

  it.live("sendKeys types into the pane (Enter by default; a trailing ';' survives)", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const d = dir()
      yield* launchAll([spec("reader", `read l; echo "got:$l" > ${d}/got; sleep 300`, sock)])
      yield* tmux.sendKeys(yield* observed("reader", sock), "hello world;", { enter: true })
      yield* waitFor(() => written(join(d, "got")), "the line to be read")
      expect(readFileSync(join(d, "got"), "utf8")).toBe("got:hello world;\n")
    }).pipe(Effect.provide(TmuxLive)))

  it.live("follow emits the last lines, then new lines as they appear", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      const cmd = "echo before; sleep 1.5; for i in 1 2 3; do echo line$i; sleep 0.2; done; sleep 300"
      yield* launchAll([spec("chatty", cmd, sock)])
      yield* Effect.sleep("500 millis")
      const lines = yield* tmux.follow(yield* observed("chatty", sock), { lines: 1 }).pipe(
        Stream.take(4),
        Stream.runCollect,
        Effect.timeout("20 seconds")
      )
      expect(lines).toEqual(["before", "line1", "line2", "line3"])
    }).pipe(Effect.provide(TmuxLive)))

  it.live("attach: not a terminal is a clear failure; exec is Unsupported", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      yield* launchAll([spec("tty", "sleep 300", sock)])
      const o = yield* observed("tty", sock)
      expect(yield* Effect.flip(tmux.attach(o))).toMatchObject({ _tag: "SessionAttachFailed", reason: "stdin is not a terminal" })
      expect(yield* Effect.flip(tmux.exec(o, ["ls"], { interactive: false }))).toMatchObject({ _tag: "Unsupported" })
    }).pipe(Effect.provide(TmuxLive)))

  it.live("a missing binary is reported by observe (kind missing), not thrown, and not when the layer is built", () =>
    Effect.gen(function*() {
      const tmux = yield* Tmux // the layer builds fine
      const obs = yield* tmux.observe({ sockets: [] })
      expect(obs.answered).toEqual([])
      expect(obs.sessions).toEqual([])
      expect(obs.problems).toEqual([{ scope: { backend: "tmux" }, kind: "missing", message: expect.stringContaining("no-such-tmux-kstlib") }])
      const [r] = yield* tmux.launch([launchOf(spec("x", "sleep 1", "kstlib-test-nothing"))], { project: PROJECT })
      expect(Result.isFailure(r!) && r.failure._tag).toBe("SessionStartFailed")
    }).pipe(Effect.provide(Layer.mergeAll(TmuxLive, Layer.succeed(TmuxBinary, "no-such-tmux-kstlib")))))
})

describe("tmux hardening (real tmux)", () => {
  it.live("a global @kstlib-managed / @kstlib-project never makes a foreign session ours; observe reports it; plan --prune leaves it alone", () =>
    Effect.gen(function*() {
      const sockG = yield* socket // set -g (session scope, global)
      const sockW = yield* socket // set -gw (window scope, global)
      const tmux = yield* Tmux
      for (const [sock, flag] of [[sockG, "-g"], [sockW, "-gw"]] as const) {
        tmuxRaw(sock, ["new-session", "-d", "-s", "configured", "sleep 300"])
        tmuxRaw(sock, ["new-session", "-d", "-s", "stray", "sleep 300"])
        tmuxRaw(sock, ["set-option", flag, "@kstlib-managed", "1"])
        tmuxRaw(sock, ["set-option", flag, "@kstlib-project", PROJECT])
      }
      const obs = yield* tmux.observe({ sockets: [sockG, sockW] })
      for (const sock of [sockG, sockW]) {
        for (const name of ["configured", "stray"]) {
          const o = find(obs.sessions, name, sock)!
          expect(o.state).toBe("running")
          expect(o.mark).toEqual(NO_MARK)
          expect(isOurs(o, PROJECT)).toBe(false)
        }
        const problem = obs.problems.find((p) => p.scope.backend === "tmux" && p.scope.socket === sock)
        expect(problem?.message).toMatch(/@kstlib-managed.*set globally/)
        expect(problem?.kind).toBe("notice")
      }
      for (const sock of [sockG, sockW]) {
        const p = plan([valid(spec("configured", "sleep 300", sock))], obs.sessions, planOptions({ prune: true, unreadable: unreadableOf(obs) }))
        // Touching = any actionable step targeting it; a conflict is reported only.
        const touched = p.steps.filter((s) => s._tag !== "Conflict" && targetsOf(s).some((t) => t.backend === "tmux" && t.socket_name === sock))
        expect(touched).toEqual([])
        expect(p.steps.filter((s) => s._tag !== "Conflict" && s.session === "stray")).toEqual([])
        expect(p.steps.filter((s) => s.session === "configured").map((s) => [s._tag, "reason" in s ? s.reason : null]))
          .toEqual([["Conflict", "not-managed"]])
        expect(p.orphans).toEqual([])
      }
    }).pipe(Effect.provide(TmuxLive)))

  it.live("a session-scope @kstlib-managed other than kstlib's exact value ('false', '0', 'yes') is not ours", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const tmux = yield* Tmux
      for (const value of ["false", "0", "yes"]) {
        const name = `v-${value}`
        tmuxRaw(sock, ["new-session", "-d", "-s", name, "sleep 300"])
        tmuxRaw(sock, ["set-option", "-t", `=${name}:`, "@kstlib-managed", value])
        tmuxRaw(sock, ["set-option", "-t", `=${name}:`, "@kstlib-project", PROJECT])
      }
      const obs = yield* tmux.observe({ sockets: [sock] })
      expect(obs.problems).toEqual([])
      for (const value of ["false", "0", "yes"]) {
        const o = find(obs.sessions, `v-${value}`, sock)!
        expect(o.mark).toMatchObject({ managed: false, project: PROJECT })
        expect(isOurs(o, PROJECT)).toBe(false)
      }
      const p = plan([valid(spec("v-false", "sleep 300", sock))], obs.sessions, planOptions({ prune: true }))
      expect(p.steps.map((s) => [s._tag, s.session])).toEqual([["Conflict", "v-false"]])
    }).pipe(Effect.provide(TmuxLive)))

  it.live("a hanging tmux (PATH shim that sleeps forever): observe reports a problem within the CallTimeout", () =>
    Effect.gen(function*() {
      const shimDir = dir()
      const shim = join(shimDir, "tmux")
      writeFileSync(shim, "#!/bin/sh\nexec sleep 1000\n")
      chmodSync(shim, 0o755)
      // A socket dir of its own: every socket discovered would be one more hanging call.
      const sockDir = dir()
      const sock = `kstlib-test-${rnd()}`
      const saved = { PATH: process.env["PATH"], TMUX_TMPDIR: process.env["TMUX_TMPDIR"] }
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          process.env["PATH"] = `${shimDir}:${saved.PATH}`
          process.env["TMUX_TMPDIR"] = sockDir
        }),
        () =>
          Effect.sync(() => {
            process.env["PATH"] = saved.PATH
            process.env["TMUX_TMPDIR"] = saved.TMUX_TMPDIR
          })
      )
      // something listens on the socket (else no tmux is asked at all): the hanging tmux is asked there
      const sockFile = join(sockDir, `tmux-${process.getuid?.() ?? 0}`, sock)
      mkdirSync(dirname(sockFile), { recursive: true })
      const listener = net.createServer()
      yield* Effect.acquireRelease(
        Effect.callback<void>((resume) => void listener.listen(sockFile, () => resume(Effect.void))),
        () => Effect.sync(() => listener.close())
      )
      const started = performance.now()
      const obs = yield* Effect.gen(function*() {
        return yield* (yield* Tmux).observe({ sockets: [sock] })
      }).pipe(Effect.provideService(CallTimeout, 1), Effect.timeout("20 seconds"))
      const took = performance.now() - started
      expect(took).toBeLessThan(4000) // 1 s, plus the kill of the hung child
      expect(obs.sessions).toEqual([])
      const p = obs.problems.find((x) => x.scope.backend === "tmux" && x.scope.socket === sock)
      expect(p?.message).toMatch(/did not answer within 1s/)
      expect(unreadableOf(obs)).toContainEqual({ backend: "tmux", socket: sock })
      // Nothing is planned on an unreadable socket.
      const pl = plan([valid(spec("there", "sleep 300", sock))], obs.sessions, planOptions({ unreadable: unreadableOf(obs) }))
      expect(pl.steps.map((s) => s._tag)).toEqual(["Invalid"])
    }).pipe(Effect.provide(TmuxLive)))
})
