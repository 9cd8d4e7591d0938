/** The log layer: line format and selection, targets and the container label, append/rotate/read/purge/follow on real files. */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Deferred, Effect, Fiber, Stream } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { appendLog, followLog, purgeLog, readLog } from "../../../src/logs/files.js"
import { parseLine, parseLines, renderLine, selectLines } from "../../../src/logs/format.js"
import { containerLogTarget, fromLogLabel, logLabel, logTargetOf } from "../../../src/logs/target.js"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "kstlib-logs-"))
  dirs.push(d)
  return d
}
const at = (iso: string, text: string) => ({ time: new Date(iso), text })

describe("format", () => {
  it("reads our, Docker's and Podman's stamps; a line without one keeps its text", () => {
    expect(parseLine("2026-01-02T03:04:05Z hello world")).toEqual(at("2026-01-02T03:04:05Z", "hello world"))
    expect(parseLine("2026-01-02T03:04:05.123456789Z x").time?.toISOString()).toBe("2026-01-02T03:04:05.123Z")
    expect(parseLine("2026-01-02T03:04:05.5+00:00 y").text).toBe("y")
    expect(parseLine("no stamp here")).toEqual({ time: null, text: "no stamp here" })
    expect(parseLines("2026-01-02T03:04:05Z a\n2026-01-02T03:04:06Z \n")).toEqual([at("2026-01-02T03:04:05Z", "a"), at("2026-01-02T03:04:06Z", "")])
  })

  it("--since keeps a whole-second line whose second holds the instant, and undated lines follow the line before", () => {
    const lines = [at("2026-01-02T03:04:05Z", "a"), { time: null, text: "cut" }, at("2026-01-02T03:04:06Z", "b"), { time: null, text: "c" }]
    expect(selectLines(lines, { lines: 100, since: new Date("2026-01-02T03:04:05.500Z") }).map((l) => l.text)).toEqual(["a", "cut", "b", "c"])
    expect(selectLines(lines, { lines: 100, since: new Date("2026-01-02T03:04:06Z") }).map((l) => l.text)).toEqual(["b", "c"])
    expect(selectLines(lines, { lines: 2 }).map((l) => l.text)).toEqual(["b", "c"])
    expect(renderLine(lines[0]!, true)).toBe("2026-01-02T03:04:05Z a")
    expect(renderLine(lines[0]!, false)).toBe("a")
  })
})

describe("targets", () => {
  it("log_file, the default place, false, and a host's default (written there)", () => {
    expect(logTargetOf({ name: "api" }, "p", "/s/logs")).toEqual({ path: "/s/logs/p/api.log", remote: false, maxSize: 10 * 1024 * 1024, keep: 3 })
    expect(logTargetOf({ name: "api", log_file: "/x/a.log", log_max_size: 4096, log_keep: 0 }, "p", null)).toEqual({ path: "/x/a.log", remote: false, maxSize: 4096, keep: 0 })
    expect(logTargetOf({ name: "api", log_file: false }, "p", "/s/logs")).toBeNull()
    expect(logTargetOf({ name: "api" }, "p", null)).toBeNull()
    expect(logTargetOf({ name: "api", host: "h" }, "p", "/s/logs")).toMatchObject({ path: null, remote: true })
    // a container's file is on this machine wherever the container runs
    expect(containerLogTarget({ name: "api", host: "h" } as never, "p", "/s/logs")).toMatchObject({ path: "/s/logs/p/api.log", remote: false })
  })

  it("the container label round-trips; absent is the default file; off is none", () => {
    const t = { path: "/var/log/my app/a.log", remote: false, maxSize: 5000, keep: 2 }
    expect(fromLogLabel(logLabel(t), "p", "api", "/s/logs", false)).toEqual(t)
    expect(fromLogLabel(undefined, "p", "api", "/s/logs", false)).toMatchObject({ path: "/s/logs/p/api.log" })
    expect(fromLogLabel(logLabel(null), "p", "api", "/s/logs", false)).toBeNull()
  })

  it("attack: a label of a container on a host never names a file here (only the default place, rotation kept)", () => {
    const label = logLabel({ path: "/root/.bashrc", remote: false, maxSize: 4096, keep: 1 })
    expect(fromLogLabel(label, "p", "api", "/s/logs", true)).toEqual({ path: "/s/logs/p/api.log", remote: false, maxSize: 4096, keep: 1 })
  })

  it("attack: a project or name read from labels cannot leave the log directory", () => {
    for (const [project, name] of [["../../etc", "api"], ["p", "../x"], ["..", "api"], ["p/q", "api"], ["p", ".."]]) {
      expect(fromLogLabel(undefined, project!, name!, "/s/logs", false)).toBeNull()
      expect(fromLogLabel(undefined, project!, name!, "/s/logs", true)).toBeNull()
    }
    // a label path that is not absolute and normalized is not used
    expect(fromLogLabel("1:1:relative/x.log", "p", "api", "/s/logs", false)).toBeNull()
    expect(fromLogLabel("1:1:/a/../etc/x.log", "p", "api", "/s/logs", false)).toBeNull()
  })
})

describe("files", () => {
  it("append rotates past max size keeping `keep` copies; read returns every generation in order; purge removes all", async () => {
    const d = tmp()
    const file = path.join(d, "sub", "a.log")
    const target = { path: file, remote: false, maxSize: 4096, keep: 2 }
    const lines = Array.from({ length: 300 }, (_, i) => at("2026-01-02T03:04:05Z", `n${i} ${"z".repeat(40)}`))
    await Effect.runPromise(appendLog(target, lines))
    expect(fs.readdirSync(path.join(d, "sub")).sort()).toEqual(["a.log", "a.log.1", "a.log.2"])
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    expect(fs.statSync(path.join(d, "sub")).mode & 0o777).toBe(0o700)
    const read = (await Effect.runPromise(readLog(file)))!.map((l) => Number(l.text.split(" ")[0]!.slice(1)))
    expect(read[read.length - 1]).toBe(299)
    expect(read).toEqual(Array.from({ length: read.length }, (_, i) => 300 - read.length + i))
    expect((await Effect.runPromise(purgeLog(file))).length).toBe(3)
    expect(fs.readdirSync(path.join(d, "sub"))).toEqual([])
    expect(await Effect.runPromise(readLog(file))).toBeNull()
  })

  it("follow: only lines written after it began, across a rotation (rename + new file), until `until`", async () => {
    const d = tmp()
    const file = path.join(d, "f.log")
    fs.writeFileSync(file, "2026-01-02T03:04:05Z old\n")
    const lines: Array<string> = []
    await Effect.runPromise(Effect.gen(function*() {
      const stop = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(Stream.runForEach(followLog(file, Deferred.await(stop), 20), (l) => Effect.sync(() => lines.push(l.text))))
      yield* Effect.sleep("100 millis")
      fs.appendFileSync(file, "2026-01-02T03:04:06Z new-1\n2026-01-02T03:04:06Z new-")
      yield* Effect.sleep("100 millis")
      fs.appendFileSync(file, "2\n")
      fs.renameSync(file, `${file}.1`)
      fs.appendFileSync(`${file}.1`, "2026-01-02T03:04:07Z tail-of-old\n")
      fs.writeFileSync(file, "2026-01-02T03:04:08Z after-rotation\n")
      yield* Effect.sleep("150 millis")
      fs.appendFileSync(file, "2026-01-02T03:04:09Z last\n")
      yield* Deferred.succeed(stop, undefined)
      yield* Fiber.join(fiber)
    }))
    expect(lines).toEqual(["new-1", "new-2", "tail-of-old", "after-rotation", "last"])
  })
})
