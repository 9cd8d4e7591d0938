/**
 * Restart policies on REAL tmux, Podman and Docker, through the Backend contract: a process that
 * exits 1 with `on-failure`, `max_restarts: 2` runs exactly 3 times then stays exited (count 2);
 * exit 0 with `on-failure` is not restarted; `always` restarts; a stop through kstlib is never undone.
 * And one readiness attempt (`cmd:`, `log:`) on real sessions.
 */
import { TEST_IMAGE, requireEngines } from "../support/engines.js"
import { NodeServices } from "@effect/platform-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Result } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Backends } from "../../src/backends/registry.js"
import type { ContainerSpec, ObservedSession, ReadySpec, RuntimeName, TmuxSpec } from "../../src/model.js"
import { containerSpec, launchOf, tmuxSpec } from "../../src/testing/specs.js"
import { usePrivateTmux } from "../support/privateTmux.js"

const suite = usePrivateTmux("supervision")
const engines = requireEngines("supervision integration")
const BackendsLive = Backends.layerWith.pipe(Layer.provide(NodeServices.layer))
const RUN = randomBytes(4).toString("hex")
/** This run's own project: its containers' network (`kstlib-<project>`) is this run's, removed after it. */
const PROJECT = `kt-sup-${RUN}`
afterAll(() => {
  for (const rt of engines) spawnSync(rt, ["network", "rm", `kstlib-${PROJECT}`], { stdio: "ignore", timeout: 60_000 })
})
let counter = 0
const uniq = (what: string) => `kstlib-t-${RUN}-${what}-${++counter}`

const launch = (spec: TmuxSpec | ContainerSpec) =>
  Effect.gen(function*() {
    const [r] = yield* (yield* Backends).launch([launchOf(spec)], { project: PROJECT })
    if (r !== undefined && Result.isFailure(r)) return yield* Effect.die(r.failure)
  })

const find = (spec: TmuxSpec | ContainerSpec) =>
  Effect.gen(function*() {
    const obs = yield* (yield* Backends).observe({ sockets: spec.backend === "tmux" ? [spec.socket_name] : [] }, [spec.backend])
    return obs.flatMap((o) => o.sessions).find((o: ObservedSession) =>
      o.name === spec.name && (spec.backend === "tmux" ? o.backend === "tmux" && o.socket_name === spec.socket_name : o.backend === "container" && o.runtime === spec.runtime)
    )
  })

const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((l) => l !== "").length : 0)

/** Polls until `ok` (or gives up after `seconds`), returning the last observation. */
const until = (spec: TmuxSpec | ContainerSpec, ok: (o: ObservedSession | undefined) => boolean, seconds: number) =>
  Effect.gen(function*() {
    let o = yield* find(spec)
    for (let i = 0; i < seconds * 5 && !ok(o); i++) {
      yield* Effect.sleep("200 millis")
      o = yield* find(spec)
    }
    return o
  })

describe("tmux: the supervisor in the pane restarts the command (no daemon)", () => {
  const socket = Effect.acquireRelease(
    Effect.sync(() => `kstlib-test-${randomBytes(4).toString("hex")}`),
    (s) => Effect.sync(() => void spawnSync("tmux", ["-L", s, "kill-server"], { stdio: "ignore" }))
  )
  const tspec = (name: string, command: string, sock: string, over: Partial<TmuxSpec> = {}) =>
    tmuxSpec(name, { command, shell: true, working_dir: null, socket_name: sock, ...over })

  it.live("on-failure, max_restarts 2, exit 1: runs exactly 3 times, then stays exited with count 2 and its output", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const file = join(suite.workDir(), `runs-${randomBytes(3).toString("hex")}`)
      const spec = tspec("flaky", `echo run >> ${file}; echo out-$(wc -l < ${file}); exit 1`, sock, { restart: "on-failure", max_restarts: 2 })
      yield* launch(spec)
      // backoff 1 s then 2 s: the third run starts about 3 s in
      const o = yield* until(spec, (o) => o?.restarts === 2 && o.state === "exited", 12)
      yield* Effect.sleep("2500 millis") // no fourth run
      expect(lines(file)).toBe(3)
      const after = yield* find(spec)
      expect(after).toMatchObject({ state: "exited", exit_code: 1, restarts: 2, last_exit_code: 1 })
      expect(o?.restarts).toBe(2)
      const output = yield* (yield* Backends).logs(after!, { lines: 50 })
      expect(output).toContain("out-3")
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 30_000)

  it.live("on-failure, exit 0: not restarted", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const file = join(suite.workDir(), `runs-${randomBytes(3).toString("hex")}`)
      const spec = tspec("fine", `echo run >> ${file}; exit 0`, sock, { restart: "on-failure" })
      yield* launch(spec)
      yield* Effect.sleep("2500 millis")
      expect(lines(file)).toBe(1)
      expect(yield* find(spec)).toMatchObject({ state: "exited", exit_code: 0, restarts: 0, last_exit_code: 0 })
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 30_000)

  it.live("always: restarts after exit 0 too, with the backoff", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const file = join(suite.workDir(), `runs-${randomBytes(3).toString("hex")}`)
      const spec = tspec("loop", `echo run >> ${file}; exit 0`, sock, { restart: "always" })
      yield* launch(spec)
      // the count is written just before the next run starts: wait for both
      const o = yield* until(spec, (o) => (o?.restarts ?? 0) >= 2 && lines(file) >= 3, 10)
      expect(o?.restarts).toBeGreaterThanOrEqual(2)
      expect(lines(file)).toBeGreaterThanOrEqual(3)
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 30_000)

  it.live("always: a stop through kstlib is never undone (kept in place or closed)", () =>
    Effect.gen(function*() {
      const sock = yield* socket
      const backends = yield* Backends
      const file = join(suite.workDir(), `runs-${randomBytes(3).toString("hex")}`)
      const spec = tspec("svc", `echo run >> ${file}; exec sleep 300`, sock, { restart: "always" })
      yield* launch(spec)
      const o = yield* until(spec, (o) => o?.state === "running" && lines(file) === 1, 5)
      // kept (in-place restart's first half): the pane stays dead, the supervisor does not restart it
      expect(yield* backends.stop(o!, { timeout: 2, leave: "instance" })).not.toBe("already-stopped")
      yield* Effect.sleep("3 seconds")
      expect(yield* find(spec)).toMatchObject({ state: "exited" })
      expect(lines(file)).toBe(1)
      // a kstlib restart brings the policy back
      yield* backends.startInPlace((yield* find(spec))!, spec, { project: PROJECT, stamp: launchOf(spec).stamp })
      const back = yield* until(spec, (o) => o?.state === "running" && lines(file) === 2, 5)
      expect(back).toMatchObject({ state: "running", restarts: 0 })
      // the supervisor in the pane restarts (no hook); the pid reported is the command's own
      const hooks = execFileSync("tmux", ["-L", sock, "show-options", "-H", "-t", "=svc:", "pane-died"], { encoding: "utf8" })
      expect(hooks).not.toContain("pane-died")
      expect(readFileSync(`/proc/${back!.pid}/cmdline`, "utf8").split("\0")).toEqual(["sleep", "300", ""])
      // a normal stop closes the session; nothing comes back
      yield* backends.stop(back!, { timeout: 2, leave: "stopped", owned: true })
      yield* Effect.sleep("2500 millis")
      expect(yield* find(spec)).toBeUndefined()
      expect(lines(file)).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 30_000)
})

describe.each(engines)("%s: the engine's restart policy", (rt: RuntimeName) => {
  const cleanup = (name: string) =>
    Effect.addFinalizer(() =>
      Effect.sync(() => void spawnSync(rt, rt === "podman" ? ["rm", "-f", "-t", "0", name] : ["rm", "-f", name], { stdio: "ignore" }))
    )
  const cspec = (what: string, command: string, over: Partial<ContainerSpec> = {}) =>
    containerSpec(uniq(what), { image: TEST_IMAGE, command, shell: true, runtime: rt, ...over })

  it.live("on-failure, max_restarts 2, exit 1: runs exactly 3 times, then stays exited with count 2 and its output", () =>
    Effect.gen(function*() {
      const spec = cspec("flaky", "echo run; exit 1", { restart: "on-failure", max_restarts: 2 })
      yield* cleanup(spec.name)
      yield* launch(spec)
      const o = yield* until(spec, (o) => o?.state === "exited" && o.restarts === 2, 30)
      yield* Effect.sleep("2 seconds")
      const after = yield* find(spec)
      expect(after).toMatchObject({ state: "exited", exit_code: 1, restarts: 2, last_exit_code: 1 })
      expect(o?.restarts).toBe(2)
      const output = yield* (yield* Backends).logs(after!, { lines: 50 })
      expect(output.split("\n").filter((l) => l.trim() === "run")).toHaveLength(3)
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 60_000)

  it.live("on-failure, exit 0: not restarted", () =>
    Effect.gen(function*() {
      const spec = cspec("fine", "echo run; exit 0", { restart: "on-failure" })
      yield* cleanup(spec.name)
      yield* launch(spec)
      yield* until(spec, (o) => o?.state === "exited", 10)
      yield* Effect.sleep("2 seconds")
      expect(yield* find(spec)).toMatchObject({ state: "exited", exit_code: 0, restarts: 0 })
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 60_000)

  it.live("always: restarts; a stop through kstlib stays stopped", () =>
    Effect.gen(function*() {
      const spec = cspec("loop", "echo run; sleep 1; exit 0", { restart: "always" })
      yield* cleanup(spec.name)
      yield* launch(spec)
      const o = yield* until(spec, (o) => (o?.restarts ?? 0) >= 1 && o?.state === "running", 30)
      expect(o?.restarts).toBeGreaterThanOrEqual(1)
      // kept (not removed): the engine must not start it again
      yield* (yield* Backends).stop(o!, { timeout: 1, leave: "instance" })
      yield* Effect.sleep("4 seconds")
      const after = yield* find(spec)
      expect(after?.state).not.toBe("running")
      const count = after?.restarts
      yield* Effect.sleep("2 seconds")
      expect((yield* find(spec))?.restarts).toBe(count)
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 60_000)

  it.live("stop_signal and stop_timeout are the container's own: a stop without --timeout sends QUIT and the shell ends on it", () =>
    Effect.gen(function*() {
      // PID 1 ignores TERM unless it traps it: only the configured QUIT ends it gracefully
      const spec = cspec("quits", "trap 'exit 0' QUIT; while :; do sleep 0.2; done", { stop_signal: "QUIT", stop_timeout: 3 })
      yield* cleanup(spec.name)
      yield* launch(spec)
      const o = yield* until(spec, (o) => o?.state === "running", 10)
      expect(yield* (yield* Backends).stop(o!, { leave: "instance" })).toBe("stopped")
      expect(yield* find(spec)).toMatchObject({ state: "exited", exit_code: 0 })
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 60_000)
})

/** One `ready:` attempt through the Backend contract, on real sessions: `cmd:` where the session runs, `log:` on its output. */
describe("readiness probes: cmd and log, one attempt", () => {
  it.live("tmux: cmd runs on this machine in the session's directory with its env; log reads the pane", () =>
    Effect.gen(function*() {
      const sock = `kstlib-test-${randomBytes(4).toString("hex")}`
      yield* Effect.addFinalizer(() => Effect.sync(() => void spawnSync("tmux", ["-L", sock, "kill-server"], { stdio: "ignore" })))
      const dir = suite.workDir()
      const spec = tmuxSpec("probed", { command: "echo kt-probe-up; exec sleep 300", shell: true, working_dir: dir, socket_name: sock, env: { KT_P: "x" } })
      yield* launch(spec)
      const o = (yield* until(spec, (o) => o?.state === "running", 5))!
      const backends = yield* Backends
      const attempt = { timeout: 5, interval: 1 }
      const probe = (ready: ReadySpec, shell = true) => backends.probe(o, { ...spec, shell, ready })
      // the session's directory and env
      expect(yield* probe({ cmd: `test "$KT_P" = x && test "$(pwd)" = ${dir}`, ...attempt })).toEqual({ ready: true, detail: "exit 0" })
      expect(yield* probe({ cmd: "exit 3", ...attempt })).toEqual({ ready: false, detail: "exit 3" })
      // without shell: true the words run as they are (validation refused shell code before); unbalanced quotes never run
      expect(yield* probe({ cmd: `test -d ${dir}`, ...attempt }, false)).toEqual({ ready: true, detail: "exit 0" })
      expect(yield* probe({ cmd: "echo 'unclosed", ...attempt }, false)).toMatchObject({ ready: false, detail: expect.stringContaining("invalid command") })
      expect(yield* probe({ log: "kt-probe-up", ...attempt })).toEqual({ ready: true, detail: "a line matches" })
      expect(yield* probe({ log: "never-printed", ...attempt })).toMatchObject({ ready: false })
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 30_000)

  it.live.each(engines)("%s: cmd runs inside the container; a failing one is not ready with its exit code", (rt) =>
    Effect.gen(function*() {
      const spec = containerSpec(uniq("probed"), { image: TEST_IMAGE, command: "sleep 300", runtime: rt })
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => void spawnSync(rt, rt === "podman" ? ["rm", "-f", "-t", "0", spec.name] : ["rm", "-f", spec.name], { stdio: "ignore" }))
      )
      yield* launch(spec)
      const o = (yield* until(spec, (o) => o?.state === "running", 10))!
      const backends = yield* Backends
      const attempt = { timeout: 5, interval: 1 }
      // inside the container, PID 1 is the session's `sleep` (here it is init)
      expect(yield* backends.probe(o, { ...spec, ready: { cmd: "grep -q sleep /proc/1/cmdline", ...attempt } })).toEqual({ ready: true, detail: "exit 0" })
      expect(yield* backends.probe(o, { ...spec, ready: { cmd: "test -e /kt-nowhere", ...attempt } })).toMatchObject({ ready: false, detail: "exit 1" })
    }).pipe(Effect.scoped, Effect.provide(BackendsLive)), 60_000)
})
