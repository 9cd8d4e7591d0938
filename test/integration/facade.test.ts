/**
 * The Kstlib service on REAL tmux (Kstlib.layerNode): apply a config, follow a session's output in a
 * Scope, its handle's status and probe, down. Its own `-L` socket in a private TMUX_TMPDIR, the
 * server killed in a finalizer.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Ref, Stream } from "effect"
import { loadConfig } from "../../src/config/load.js"
import { Kstlib } from "../../src/facade.js"
import { failedSteps, requireSuccess } from "../../src/reconcile/reconciler.js"
import { usePrivateTmux } from "../support/privateTmux.js"

const suite = usePrivateTmux("facade")

const socket = () =>
  Effect.acquireRelease(Effect.sync(() => `kf-${Math.random().toString(36).slice(2, 10)}`), (s) =>
    Effect.sync(() => {
      try {
        execFileSync("tmux", ["-L", s, "kill-server"], { stdio: "ignore" })
      } catch { /* gone */ }
    }))

describe("Kstlib.layerNode on real tmux", () => {
  it.live("apply, follow in a scope, status and probe through a handle, down", () =>
    Effect.scoped(Effect.gen(function*() {
      const s = yield* socket()
      const dir = mkdtempSync(join(suite.workDir(), "cfg-"))
      const file = join(dir, "kstlib.conf.yml")
      writeFileSync(
        file,
        `ops:\n  sessions:\n    ticker:\n      command: "i=0; while true; do i=$$((i+1)); echo tick-$$i; sleep 0.2; done"\n      shell: true\n      socket_name: ${s}\n      log_file: false\n      ready:\n        log: "tick-2"\n        timeout: 10\n`
      )
      const config = yield* loadConfig({ path: file, env: { HOME: dir } })
      yield* Effect.gen(function*() {
        const kstlib = yield* Kstlib
        const report = yield* requireSuccess(yield* kstlib.apply())
        expect(failedSteps(report)).toEqual([])
        const ticker = kstlib.session("ticker")
        // follow in this scope: lines arrive while the session runs; the follower ends with the scope
        const seen = yield* Ref.make<ReadonlyArray<string>>([])
        yield* Effect.scoped(Effect.gen(function*() {
          const fiber = yield* ticker.follow({ lines: 5 }).pipe(
            Stream.filter((l) => l.startsWith("tick-")),
            Stream.take(3),
            Stream.runForEach((l) => Ref.update(seen, (all) => [...all, l])),
            Effect.forkScoped
          )
          yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds"))
        }))
        expect((yield* Ref.get(seen)).length).toBe(3)
        const status = yield* ticker.status()
        expect(status).toMatchObject({ name: "ticker", state: "running", socket_name: s, owned: true })
        const ready = yield* ticker.probe()
        expect(ready?.ready).toBe(true)
        const down = yield* kstlib.down()
        expect(down.report?.results.map((r) => [r.step._tag, r.step.session, r.error])).toEqual([["Prune", "ticker", null]])
        expect(yield* ticker.exists()).toBe(false)
      }).pipe(Effect.provide(Kstlib.layerNode({ config })))
    })))
})
