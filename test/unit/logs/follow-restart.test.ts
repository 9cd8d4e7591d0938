/**
 * `logs -f` on a tmux session with a log file follows the file across a restart (stop, then start:
 * the session is absent for a moment) and ends once the session stays gone. Regression: CI saw the
 * follower end at the restart's gap (its poll found no session), so the new run's lines were lost.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer, Stream } from "effect"
import { afterEach, expect, it } from "vitest"
import type { BackendsService } from "../../../src/backends/registry.js"
import { Backends } from "../../../src/backends/registry.js"
import { SessionNotFound } from "../../../src/errors.js"
import { formatLine } from "../../../src/logs/format.js"
import { followOf } from "../../../src/session/operations.js"
import { owned, tmuxSpec } from "../../../src/testing/specs.js"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

it("follows the file through the restart's gap, then ends when the session stays gone", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kstlib-follow-"))
  dirs.push(dir)
  const file = path.join(dir, "bot.log")
  const write = (text: string) => fs.appendFileSync(file, `${formatLine({ time: new Date(), text })}\n`)
  write("run 1 line")
  const t0 = Date.now()
  // present, absent (the restart's gap, longer than a poll), present again, then gone for good
  const present = () => {
    const ms = Date.now() - t0
    return ms < 400 || (ms >= 1400 && ms < 2600)
  }
  // as the tmux driver's follower: absent at its first poll fails; else it runs until the session goes
  const follow = () =>
    Stream.unwrap(Effect.sync(() =>
      present()
        ? Stream.fromEffectRepeat(Effect.sleep("50 millis")).pipe(Stream.takeWhile(() => present()), Stream.drain)
        : Stream.fail(new SessionNotFound({ session: "bot", backend: "tmux" }))
    ))
  const backends = Layer.succeed(Backends, { follow } as unknown as BackendsService)
  setTimeout(() => write("run 2 line"), 2000)
  const o = owned(tmuxSpec("bot"))
  const lines = await Effect.runPromise(
    Stream.runCollect(followOf({ name: "bot", observed: o, files: [{ label: null, path: file }] }, { lines: 5 })).pipe(
      Effect.timeout("20 seconds"),
      Effect.provide(backends)
    )
  )
  const ended = Date.now() - t0
  expect([...lines]).toEqual(["run 1 line", "run 2 line"])
  // it ended by itself, after the session had been gone a while (not at the gap)
  expect(ended).toBeGreaterThan(2600)
}, 30_000)
