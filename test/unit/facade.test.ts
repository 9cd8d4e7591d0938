/**
 * The `Kstlib` service (issue 25): its methods on in-memory backends (kstlib/testing's
 * `memoryLayer`), under the TestClock; and the seam (`Kstlib.layer`) on a fake spawner, which must
 * carry every config setting to the drivers (ops.tmux_binary, ops.hosts) and touch nothing real.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Ref, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Kstlib } from "../../src/facade.js"
import type { HostSpec } from "../../src/model.js"
import { LockDirectory, lockPathIn, withApplyLock } from "../../src/reconcile/lock.js"
import { failedSteps, requireSuccess } from "../../src/reconcile/reconciler.js"
import { renderReport } from "../../src/reconcile/render.js"
import { SessionManager } from "../../src/session/manager.js"
import { containerSpec, fakeLayer, issue, MemoryProbe, memoryLayer, owned, rejected, testConfig, tmuxSpec } from "../../src/testing/index.js"

const web = tmuxSpec("web", { working_dir: "/" })
const api = tmuxSpec("api", { working_dir: "/" })
const plain = { color: false } as const

describe("Kstlib on in-memory backends", () => {
  it.effect("apply creates each config session; the report renders, and requireSuccess passes it on", () =>
    Effect.gen(function*() {
      const kstlib = yield* Kstlib
      const result = yield* kstlib.apply({}, { settle: 0 })
      expect(result.report?.results.map((r) => [r.step._tag, r.step.session, r.error])).toEqual([["Create", "web", null], ["Create", "api", null]])
      expect(failedSteps(result)).toEqual([])
      expect(yield* requireSuccess(result)).toBe(result)
      const text = renderReport(result, plain)
      expect(text).toContain("done   + web (tmux")
      expect(text).toContain("Apply complete: 2 created, 0 replaced, 0 started, 0 stopped, 0 pruned, 0 failed.")
      // converged: the next apply has nothing to do, and its report is the plan
      const again = yield* kstlib.apply({}, { settle: 0 })
      expect(again.report).toBeNull()
      expect(renderReport(again, plain)).toContain("No changes.")
    }).pipe(Effect.provide(memoryLayer({ sessions: [web, api] }))))

  it.effect("apply's post-launch check runs on the Clock: forked, it finishes once the TestClock passes the settle", () =>
    Effect.gen(function*() {
      const kstlib = yield* Kstlib
      const fiber = yield* Effect.forkChild(kstlib.apply())
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      expect(failedSteps(result)).toEqual([
        { session: "web", action: "create", reason: "failed to start tmux session 'web': process exited with code 3 right after starting" }
      ])
      const error = yield* Effect.flip(requireSuccess(result))
      expect(error._tag).toBe("StepsFailed")
      expect(error.message).toBe("1 step(s) did not succeed; web (create): failed to start tmux session 'web': process exited with code 3 right after starting")
    }).pipe(Effect.provide(memoryLayer({ sessions: [web], behavior: { dieAfterLaunch: { web: { exitCode: 3, output: "boom" } } } }))))

  it.effect("applyEvents streams the plan, each step's start and result, then Done with the report", () =>
    Effect.gen(function*() {
      const kstlib = yield* Kstlib
      const events = yield* Stream.runCollect(kstlib.applyEvents({}, { settle: 0 }))
      const tags = events.map((e) => e._tag)
      expect(tags[0]).toBe("Planned")
      expect(tags.at(-1)).toBe("Done")
      expect(events.flatMap((e) => (e._tag === "StepFinished" ? [e.result.step.session] : [])).sort()).toEqual(["api", "web"])
      expect(tags.filter((t) => t === "StepsStarted").length).toBeGreaterThan(0)
      const done = events.at(-1)
      expect(done?._tag === "Done" ? failedSteps(done.result) : null).toEqual([])
    }).pipe(Effect.provide(memoryLayer({ sessions: [web, api] }))))

  it.effect("applyWith hands each event to a handler with its own error; that error ends the run and is the result's", () =>
    Effect.gen(function*() {
      const kstlib = yield* Kstlib
      const seen: Array<string> = []
      const r = yield* kstlib.applyWith((e) => Effect.sync(() => void seen.push(e._tag)), {}, { settle: 0 })
      expect(seen[0]).toBe("Planned")
      expect(seen.at(-1)).toBe("Done")
      expect(failedSteps(r)).toEqual([])
      const error = yield* Effect.flip(kstlib.downWith((e) => (e._tag === "Planned" ? Effect.fail("no thanks" as const) : Effect.void), [], { settle: 0 }))
      expect(error).toBe("no thanks")
    }).pipe(Effect.provide(memoryLayer({ sessions: [web] }))))

  it.effect("applyEvents fails with the run's error: ApplyLocked while another apply holds the lock", () =>
    Effect.gen(function*() {
      const kstlib = yield* Kstlib
      // the layer's own lock directory (a memory layer never locks in the user's)
      const lock = withApplyLock(lockPathIn({ files: kstlib.config.files, project: kstlib.config.project }, yield* LockDirectory), { wait: false })
      const error = yield* Effect.scoped(lock.pipe(Effect.andThen(Effect.flip(Stream.runCollect(kstlib.applyEvents({}, { settle: 0 }))))))
      expect(error._tag).toBe("ApplyLocked")
      const probe = yield* MemoryProbe
      expect(yield* Ref.get(probe.launches)).toEqual([])
    }).pipe(Effect.provide(memoryLayer({ sessions: [web] }))))

  it.effect("a blocked step (rejected entry) and a failed launch are both in failedSteps; down removes only what is ours", () =>
    Effect.gen(function*() {
      const kstlib = yield* Kstlib
      const result = yield* kstlib.apply({}, { settle: 0 })
      expect(failedSteps(result).map((s) => `${s.session} ${s.action}`)).toEqual(["bad invalid", "api create"])
      const down = yield* kstlib.down([], { settle: 0 })
      expect(down.report?.results.map((r) => `${r.step._tag} ${r.step.session}`)).toEqual(["Prune web"])
      const probe = yield* MemoryProbe
      expect((yield* Ref.get(probe.sessions)).map((s) => s.observed.name)).toEqual([])
    }).pipe(Effect.provide(memoryLayer({
      sessions: [web, api, rejected("bad", [issue("bad", "command", "required")])],
      behavior: { failLaunch: { api: "no tmux server" } }
    }))))

  it.effect("validate reports valid and rejected entries with their issues", () =>
    Effect.gen(function*() {
      const report = yield* (yield* Kstlib).validate()
      expect(report.valid).toEqual(["web"])
      expect(report.rejected).toEqual([{ session: "bad", issues: [issue("bad", "command", "required")] }])
    }).pipe(Effect.provide(memoryLayer({ sessions: [web, rejected("bad", [issue("bad", "command", "required")])] }))))

  it.effect("a session handle: start, status, sendKeys, logs, probe, stop; nothing left to provide", () =>
    Effect.gen(function*() {
      const kstlib = yield* Kstlib
      const h = kstlib.session("web")
      expect((yield* h.start({}, { settle: 0 })).status).toBe("started")
      expect((yield* h.start({}, { settle: 0 })).status).toBe("already-running")
      expect((yield* h.status()).state).toBe("running")
      yield* h.sendKeys("ls")
      const probe = yield* MemoryProbe
      expect(yield* Ref.get(probe.events)).toContain("send-keys web ls")
      expect(yield* h.probe()).toBeNull() // no ready: in its config
      expect(yield* h.isRunning()).toBe(true)
      expect((yield* h.stop()).status).toBe("stopped")
      expect((yield* h.stop()).status).toBe("not-running")
      // a container session's exec
      const db = kstlib.session("db")
      yield* db.start({}, { settle: 0 })
      expect(yield* db.exec(["true"])).toEqual({ exitCode: 0, stdout: "", stderr: "" })
      expect((yield* Effect.flip(kstlib.session("web").exec(["true"])))._tag).toBe("SessionNotRunning")
    }).pipe(Effect.provide(memoryLayer({ sessions: [web, containerSpec("db", { runtime: "podman" })] }))))

  it.effect("probe runs the config's ready: once", () =>
    Effect.gen(function*() {
      const r = yield* (yield* Kstlib).session("web").probe()
      expect(r).toEqual({ ready: false, detail: "connection refused" })
    }).pipe(Effect.provide(memoryLayer({
      sessions: [tmuxSpec("web", { working_dir: "/", ready: { tcp: 8080, timeout: 5, interval: 1 } })],
      initial: [owned(tmuxSpec("web", { working_dir: "/", ready: { tcp: 8080, timeout: 5, interval: 1 } }))],
      behavior: { neverReady: { web: true } }
    }))))

  it.effect("follow streams the session's output", () =>
    Effect.gen(function*() {
      const lines = yield* Stream.runCollect((yield* Kstlib).session("web").follow({ lines: 5 }))
      expect(lines).toEqual(["one", "two"])
    }).pipe(Effect.provide(memoryLayer({ sessions: [web], initial: [{ observed: owned(web), output: "one\ntwo" }] }))))

  it.effect("configured and SessionManager.fromConfig of a name not in the config fail with SessionNotInConfig", () =>
    Effect.gen(function*() {
      const kstlib = yield* Kstlib
      const e1 = yield* Effect.flip(kstlib.configured("webb"))
      expect(e1._tag).toBe("SessionNotInConfig")
      expect(e1._tag === "SessionNotInConfig" ? e1.suggestions : []).toEqual(["web"])
      expect((yield* Effect.flip(SessionManager.fromConfig("webb")))._tag).toBe("SessionNotInConfig")
      expect((yield* kstlib.configured("web")).name).toBe("web")
    }).pipe(Effect.provide(memoryLayer({ sessions: [web] }))))
})

describe("Kstlib.layer on a fake spawner", () => {
  const edge: HostSpec = {
    name: "edge1",
    user: "deploy",
    hostname: "edge1.example.com",
    port: 2222,
    identity_file: null,
    known_hosts: null,
    runtime: "docker",
    podman_socket: null,
    containers: false
  }

  it.effect("ops.tmux_binary and ops.hosts reach the drivers; no real tmux, engine or ssh runs", () => {
    const config = testConfig([tmuxSpec("web", { working_dir: "/" }), tmuxSpec("far", { working_dir: "/srv", host: "edge1" })], {
      tmux_binary: "/opt/tmux/bin/tmux",
      hosts: [edge]
    })
    const fake = fakeLayer(config, () => ({ stdout: "", exitCode: 0 }))
    return Effect.gen(function*() {
      const planned = yield* (yield* Kstlib).plan()
      expect(planned.plan.steps.map((s) => `${s._tag} ${s.session}`)).toEqual(["Create web", "Create far"])
      const programs = fake.calls.map((argv) => argv[0])
      // the configured tmux binary, never a bare `tmux`
      expect(programs).toContain("/opt/tmux/bin/tmux")
      expect(programs).not.toContain("tmux")
      // the host is reached over ssh, with its user, name and port
      const ssh = fake.calls.filter((argv) => argv[0] === "/usr/bin/ssh" || argv[0] === "ssh")
      expect(ssh.length).toBeGreaterThan(0)
      expect(ssh.some((argv) => argv.join(" ").includes("edge1.example.com"))).toBe(true)
      // the control sockets are where the layer said (a directory never created), not in $XDG_RUNTIME_DIR
      expect(ssh.every((argv) => argv.some((a) => a.startsWith("ControlPath=") && a.includes("/nonexistent/kstlib-ssh")))).toBe(true)
    }).pipe(Effect.provide(fake.layer))
  })
})
