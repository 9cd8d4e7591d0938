/**
 * A unit test of a program built on kstlib, with no tmux or engine: kstlib/testing's in-memory
 * backends under @effect/vitest's TestClock. `apply` waits `settle` (500 ms) on the Clock before its
 * post-launch check: fork it and move the TestClock past it (or pass `settle: 0`).
 * Run by test/package/library-examples.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import { Kstlib } from "kstlib"
import { memoryLayer, MemoryProbe, owned, tmuxSpec } from "kstlib/testing"
import { deploy } from "./deploy.ts"
import { followInScope } from "./follow.ts"

const web = tmuxSpec("web", { command: "node server.js", working_dir: "/srv/web" })
const worker = tmuxSpec("worker", { command: "node worker.js", working_dir: "/srv/web" })

describe("deploy (on in-memory backends)", () => {
  it.effect("starts every config session and reports each one", () =>
    Effect.gen(function*() {
      const lines = yield* Ref.make<ReadonlyArray<string>>([])
      const fiber = yield* Effect.forkChild(deploy((line) => Ref.update(lines, (all) => [...all, line])))
      // the post-launch check sleeps on the Clock: move the TestClock past it
      yield* TestClock.adjust("1 second")
      const report = yield* Fiber.join(fiber)
      expect(report.report?.results.map((r) => r.step.session)).toEqual(["web", "worker"])
      expect((yield* Ref.get(lines)).slice(1)).toEqual(["ok     create web", "ok     create worker"])
      const probe = yield* MemoryProbe
      expect((yield* Ref.get(probe.launches)).map((c) => c.names)).toEqual([["web", "worker"]])
    }).pipe(Effect.provide(memoryLayer({ sessions: [web, worker] }))))

  it.effect("fails with StepsFailed naming the session that crashed at once", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(deploy(() => Effect.void, { settle: 0 }))
      expect(error._tag).toBe("StepsFailed")
      expect(error._tag === "StepsFailed" ? error.steps.map((s) => s.session) : []).toEqual(["worker"])
    }).pipe(Effect.provide(memoryLayer({ sessions: [web, worker], behavior: { failLaunch: { worker: "no such command" } } }))))

  it.effect("a handle's follow, in a scope, delivers the session's output", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.scoped(Effect.gen(function*() {
        const fiber = yield* followInScope("web", (line) => Ref.update(seen, (all) => [...all, line]))
        yield* Fiber.join(fiber)
      }))
      expect(yield* Ref.get(seen)).toEqual(["listening on :8080", "GET / 200"])
      expect((yield* (yield* Kstlib).session("web").status()).state).toBe("running")
    }).pipe(Effect.provide(memoryLayer({
      sessions: [web],
      initial: [{ observed: owned(web), output: "listening on :8080\nGET / 200" }]
    }))))
})
