/**
 * kstlib's tmux supervisor on REAL tmux (3.3a here), a private socket per test, through the
 * Backend contract: restarts that need no tmux command from outside, the configured backoff,
 * min_uptime forgiving, a stop that is never undone, the stop ladder, nothing of a pane left after
 * a stop, and hostile text (quotes, `$(…)`, `#{…}`, `#(…)`) that runs nothing.
 */
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Result } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Backends } from "../../src/backends/registry.js"
import { TmuxBinary } from "../../src/backends/tmux.js"
import type { ObservedTmux, TmuxSpec } from "../../src/model.js"
import { launchOf, PROJECT, tmuxSpec } from "../../src/testing/specs.js"
import { usePrivateTmux } from "../support/privateTmux.js"

const suite = usePrivateTmux("supervisor")
const BackendsLive = Backends.layerWith.pipe(Layer.provide(NodeServices.layer))

const socket = Effect.acquireRelease(
  Effect.sync(() => `kstlib-sup-${randomBytes(4).toString("hex")}`),
  (s) => Effect.sync(() => void spawnSync("tmux", ["-L", s, "kill-server"], { stdio: "ignore" }))
)
const file = (what: string) => join(suite.workDir(), `${what}-${randomBytes(3).toString("hex")}`)
const spec = (name: string, command: string, sock: string, over: Partial<TmuxSpec> = {}) =>
  tmuxSpec(name, { command, shell: true, working_dir: null, socket_name: sock, ...over })

const launch = (s: TmuxSpec) =>
  Effect.gen(function*() {
    const [r] = yield* (yield* Backends).launch([launchOf(s)], { project: PROJECT })
    if (r !== undefined && Result.isFailure(r)) return yield* Effect.die(r.failure)
  })

const find = (s: TmuxSpec) =>
  Effect.gen(function*() {
    const obs = yield* (yield* Backends).observe({ sockets: [s.socket_name] }, ["tmux"])
    return obs.flatMap((o) => o.sessions).find((o): o is ObservedTmux => o.backend === "tmux" && o.name === s.name && o.socket_name === s.socket_name)
  })

const linesOf = (f: string) => (existsSync(f) ? readFileSync(f, "utf8").split("\n").filter((l) => l !== "") : [])

/** Waits (without any tmux call) until `ok`, at most `seconds`. */
const waitFor = (ok: () => boolean, seconds: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < seconds * 10 && !ok(); i++) yield* Effect.sleep("100 millis")
    return ok()
  })

/** The session once the supervisor gave up (its pane dead), or as last seen after `seconds`. */
const untilExited = (s: TmuxSpec, seconds: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < seconds * 5; i++) {
      const x = yield* find(s)
      if (x?.state === "exited") return x
      yield* Effect.sleep("200 millis")
    }
    return yield* find(s)
  })

const alive = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z"
  } catch {
    return false
  }
}

const tmuxOut = (sock: string, ...args: ReadonlyArray<string>) => execFileSync("tmux", ["-L", sock, ...args], { encoding: "utf8" })

describe("tmux supervisor: restarts", () => {
  it.live("a crash loop is restarted after restart_delay, doubling up to max_backoff; marker lines on the pane", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const runs = file("runs")
      // each run records its start (ms) and crashes at once
      const s = spec("loop", `date +%s%3N >> ${runs}; exit 3`, sock, { restart: "always", restart_delay: 0.5, max_backoff: 2 })
      yield* launch(s)
      expect(yield* waitFor(() => linesOf(runs).length >= 5, 15)).toBe(true)
      const t = linesOf(runs).map(Number)
      const gaps = t.slice(1, 5).map((x, i) => (x - t[i]!) / 1000)
      // backoff 0.5, 1, 2, 2 (capped); each within its backoff + 1 s
      ;[0.5, 1, 2, 2].forEach((d, i) => {
        expect(gaps[i]).toBeGreaterThanOrEqual(d - 0.05)
        expect(gaps[i]).toBeLessThan(d + 1)
      })
      const o = yield* find(s)
      expect(o).toMatchObject({ state: "running", last_exit_code: 3 })
      expect(o!.restarts).toBeGreaterThanOrEqual(4)
      const screen = yield* (yield* Backends).logs(o!, { lines: 100 })
      expect(screen).toMatch(/^\[kstlib\] run 1 started at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/mu)
      expect(screen).toMatch(/^\[kstlib\] run 1 exited with code 3$/mu)
      expect(screen).toMatch(/^\[kstlib\] run 4 started at /mu)
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 30_000)

  it.live("a restart happens with NO tmux command from outside the pane, and the pane's process never changes", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      // every tmux client run through kstlib's tmux_binary is logged: who ran it (inside a pane or not) and what
      const log = file("tmux-calls")
      const wrapper = file("tmux-wrapper")
      writeFileSync(wrapper, `#!/bin/sh\nprintf '%s|%s\\n' "\${TMUX_PANE:-outside}" "$1 $2 $3 $4 $5" >> '${log}'\nexec tmux "$@"\n`)
      chmodSync(wrapper, 0o755)
      const runs = file("runs")
      const s = spec("nocall", `echo run >> ${runs}; sleep 1; exit 1`, sock, { restart: "on-failure", max_restarts: 10 })
      yield* launch(s).pipe(Effect.provideService(TmuxBinary, wrapper))
      const panePid = tmuxOut(sock, "display-message", "-p", "-t", "=nocall:", "#{pane_pid}").trim()
      const outsideBefore = linesOf(log).filter((l) => l.startsWith("outside|")).length
      // nothing of the test or kstlib talks to the server now: the supervisor alone restarts
      expect(yield* waitFor(() => linesOf(runs).length >= 3, 10)).toBe(true)
      const calls = linesOf(log)
      expect(calls.filter((l) => l.startsWith("outside|")).length).toBe(outsideBefore)
      // the supervisor's own bookkeeping (pane options), from inside the pane
      expect(calls.some((l) => /^%\d+\|set-option -p -t %\d+ @kstlib-restarts/u.test(l))).toBe(true)
      expect(tmuxOut(sock, "display-message", "-p", "-t", "=nocall:", "#{pane_pid} #{pane_dead}").trim()).toBe(`${panePid} 0`)
      expect(tmuxOut(sock, "show-options", "-H", "-t", "=nocall:", "pane-died")).not.toContain("pane-died")
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 30_000)

  it.live("min_uptime: a run that lasted resets the max_restarts count (crashes in a row, not over the whole life)", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const runs = file("runs")
      // runs 1-3 last 2 s (over min_uptime 1), then quick crashes: max_restarts 1 allows one quick crash in a row
      const s = spec("forgive", `echo r >> ${runs}; [ "$(wc -l < ${runs})" -le 3 ] && sleep 2; exit 1`, sock, {
        restart: "on-failure",
        max_restarts: 1,
        min_uptime: 1,
        restart_delay: 0.2,
        max_backoff: 0.5
      })
      yield* launch(s)
      expect(yield* waitFor(() => linesOf(runs).length >= 5, 20)).toBe(true)
      const o = yield* untilExited(s, 6)
      yield* Effect.sleep("1500 millis") // no sixth run
      expect(linesOf(runs).length).toBe(5)
      expect(o).toMatchObject({ state: "exited", exit_code: 1, restarts: 4, last_exit_code: 1 })
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 40_000)

  it.live("status reports the command's own pid (not the supervisor's), and none while waiting to restart", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const pidFile = file("pid")
      const s = spec("own", `echo $$ > ${pidFile}; exec sleep 300`, sock, { restart: "always" })
      yield* launch(s)
      expect(yield* waitFor(() => linesOf(pidFile).length === 1, 5)).toBe(true)
      let o = yield* find(s)
      for (let i = 0; i < 20 && o?.pid !== Number(linesOf(pidFile)[0]); i++) {
        yield* Effect.sleep("100 millis")
        o = yield* find(s)
      }
      expect(o?.pid).toBe(Number(linesOf(pidFile)[0]))
      expect(readFileSync(`/proc/${o!.pid}/cmdline`, "utf8")).toBe("sleep\u0000300\u0000")
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 30_000)
})

describe("tmux supervisor: stops", () => {
  it.live("a stop during the backoff is never undone: the supervisor reads the mark and ends", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const runs = file("runs")
      const s = spec("pending", `echo r >> ${runs}; exit 1`, sock, { restart: "always", restart_delay: 3 })
      yield* launch(s)
      expect(yield* waitFor(() => linesOf(runs).length === 1, 5)).toBe(true)
      yield* Effect.sleep("300 millis") // the supervisor sleeps its 3 s backoff now
      const o = yield* find(s)
      yield* (yield* Backends).stop(o!, { leave: "instance" })
      yield* Effect.sleep("4 seconds")
      expect(linesOf(runs).length).toBe(1)
      expect(yield* find(s)).toMatchObject({ state: "exited" })
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 30_000)

  it.live("the stop ladder: a shell that ignores INT gets TERM at once, not after stop_timeout", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const pidFile = file("pid")
      // stop_timeout 60: waiting it out would outlast this test
      const s = spec("deaf", `trap '' INT; echo $$ > ${pidFile}; while :; do sleep 1; done`, sock, { stop_timeout: 60 })
      yield* launch(s)
      expect(yield* waitFor(() => linesOf(pidFile).length === 1, 5)).toBe(true)
      yield* Effect.sleep("300 millis")
      const o = yield* find(s)
      expect(yield* (yield* Backends).stop(o!, { leave: "stopped", owned: true })).toBe("killed")
      expect(alive(Number(linesOf(pidFile)[0]))).toBe(false)
      expect(yield* find(s)).toBeUndefined()
      // (the test's own limit, far below stop_timeout: a stop that waited it out fails here)
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 8_000)

  it.live("the stop ladder: stop_signal first (TERM here), and a command that ends on it is stopped gracefully", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const got = file("got")
      const s = spec("polite", `trap 'echo TERM > ${got}; exit 0' TERM; trap '' INT; while :; do sleep 0.2; done`, sock, { stop_signal: "TERM" })
      yield* launch(s)
      yield* Effect.sleep("700 millis")
      const o = yield* find(s)
      expect(yield* (yield* Backends).stop(o!, { leave: "stopped", owned: true })).toBe("stopped")
      expect(linesOf(got)).toEqual(["TERM"])
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 20_000)

  // The supervisor is not signalled by the first step (it waits for the command, then writes the
  // end marker): an untrapped stop_signal (USR1, HUP) once ended it at once, and the ladder then
  // went on to TERM without waiting stop_timeout.
  for (const sig of ["USR1", "HUP"] as const) {
    it.live(`stop_signal ${sig}: a command that takes its time to end on it is waited for, and the run's end marker is written`, () =>
      Effect.gen(function*() {
        const sock = yield* socket
        const got = file("got")
        const s = spec("slowend", `trap 'sleep 1; echo ${sig} > ${got}; exit 0' ${sig}; while :; do sleep 0.2; done`, sock, { stop_signal: sig, stop_timeout: 10 })
        yield* launch(s)
        yield* Effect.sleep("700 millis")
        const o = yield* find(s)
        expect(yield* (yield* Backends).stop(o!, { leave: "instance" })).toBe("stopped")
        expect(linesOf(got)).toEqual([sig])
        expect(tmuxOut(sock, "capture-pane", "-p", "-t", `=${s.name}:`)).toContain("[kstlib] run 1 exited with code 0")
      }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 20_000)
  }

  it.live("tmux kill-server (or a killed pane) hangs the command up: nothing of a supervised session runs on", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const pidFile = file("pid")
      const s = spec("hangup", `echo $$ > ${pidFile}; exec sleep 1000`, sock, { restart: "always" })
      yield* launch(s)
      expect(yield* waitFor(() => linesOf(pidFile).length === 1, 5)).toBe(true)
      const pid = Number(linesOf(pidFile)[0])
      const pane = Number(tmuxOut(sock, "display-message", "-p", "-t", `=${s.name}:`, "#{pane_pid}").trim())
      expect(alive(pid) && alive(pane)).toBe(true)
      tmuxOut(sock, "kill-server")
      expect(yield* waitFor(() => !alive(pid) && !alive(pane), 5)).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 20_000)

  const leftBehind = (leave: "instance" | "stopped" | "nothing") =>
    it.live(`nothing of the pane is left after a stop (leave: ${leave}): a group child that ignores INT and HUP is ended too`, () =>
      Effect.gen(function*() {
        const sock = yield* socket
        const pidFile = file("bg")
        const s = spec("orphan", `nohup sleep 1000 >/dev/null 2>&1 & echo $! > ${pidFile}; exec sleep 300`, sock, { restart: "always" })
        yield* launch(s)
        expect(yield* waitFor(() => linesOf(pidFile).length === 1, 5)).toBe(true)
        const bg = Number(linesOf(pidFile)[0])
        expect(alive(bg)).toBe(true)
        yield* Effect.sleep("300 millis")
        const o = yield* find(s)
        expect(yield* (yield* Backends).stop(o!, { leave, owned: true })).toBe("stopped")
        expect(yield* waitFor(() => !alive(bg), 3)).toBe(true)
        // and it stays stopped
        yield* Effect.sleep("1500 millis")
        const after = yield* find(s)
        if (leave === "instance") expect(after).toMatchObject({ state: "exited" })
        else expect(after).toBeUndefined()
      }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 20_000)
  leftBehind("instance")
  leftBehind("stopped")
  // what `down` does
  leftBehind("nothing")
})

describe("tmux supervisor: config text runs nothing", () => {
  it.live("a hostile socket_name, command words and working_dir (quotes, $(…), #{…}, #(…)) are data, through crashes and restarts", () =>
    Effect.gen(function*() {
      const marks = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync("/tmp/kh-")),
        (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
      )
      // a socket name has no `/`: the file to touch is named by the environment tmux's server inherits
      yield* Effect.acquireRelease(
        Effect.sync(() => void (process.env["KH"] = `${marks}/S`)),
        () => Effect.sync(() => void delete process.env["KH"])
      )
      const sock = yield* Effect.acquireRelease(
        Effect.succeed(`h'$(touch $KH)#{pane_id}"\$(touch $KH)'${randomBytes(2).toString("hex")}`),
        (s) => Effect.sync(() => void spawnSync("tmux", ["-L", s, "kill-server"], { stdio: "ignore" }))
      )
      const w = suite.workDir()
      const dir = join(w, `d#(touch ${w}/DIR)#{pane_id}`)
      mkdirSync(dir, { recursive: true })
      const out = file("out")
      const s = tmuxSpec("hostile", {
        // words, no shell: printf gets each one as it is
        command: `sh -c 'printf "%s\\n" "$@" "$PWD" > ${out}; exit 1' x '$(touch ${w}/CMD)' '#(touch ${w}/FMT)' '#{socket_path}' "it's"`,
        shell: false,
        working_dir: dir,
        socket_name: sock,
        restart: "on-failure",
        max_restarts: 1,
        restart_delay: 0.2
      })
      yield* launch(s)
      const o = yield* untilExited(s, 8)
      expect(o).toMatchObject({ state: "exited", restarts: 1, exit_code: 1 })
      expect(linesOf(out)).toEqual([`$(touch ${w}/CMD)`, `#(touch ${w}/FMT)`, "#{socket_path}", "it's", dir])
      for (const f of ["DIR", "CMD", "FMT"]) expect(existsSync(join(w, f))).toBe(false)
      expect(readdirSync(marks)).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 30_000)
})
