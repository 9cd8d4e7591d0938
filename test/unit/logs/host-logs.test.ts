/** Reading a tmux session's log files on a host: which files (hostLogFiles), and the fixed script run by a real sh on real files. */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { followLine, followStart, hostFollowArgv, hostLogsArgv, hostPurgeArgv, parseHostLogs, parseHostPurge } from "../../../src/backends/tmux/host-logs.js"
import { hostLogFiles } from "../../../src/logs/target.js"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})

describe("hostLogFiles", () => {
  it("the default place (PROJECT/NAME), a log_file path, one per pane; none here, for containers or with log_file: false", () => {
    expect(hostLogFiles({ name: "api", host: "edge" }, "p")).toEqual([{ label: null, arg: "p/api" }])
    expect(hostLogFiles({ name: "api", host: "edge", log_file: "/var/log/api.log" }, "p")).toEqual([{ label: null, arg: "/var/log/api.log" }])
    expect(hostLogFiles({ name: "api", host: "edge", log_file: false }, "p")).toEqual([])
    expect(hostLogFiles({ name: "api" }, "p")).toEqual([])
    expect(hostLogFiles({ name: "api", host: "edge", backend: "container" }, "p")).toEqual([])
    const windows = [{ name: "w", panes: [{}, {}] }] as never
    expect(hostLogFiles({ name: "dev", host: "edge", windows }, "p").map((f) => [f.label, f.arg])).toEqual([["w.0", "p/dev.w.0"], ["w.1", "p/dev.w.1"]])
  })
})

describe("the host script", () => {
  const run = (home: string, files: ReadonlyArray<{ label: string | null; arg: string }>, lines: number | null) => {
    const [cmd, ...args] = hostLogsArgv(files, lines)
    const r = spawnSync(cmd!, args, { cwd: home, env: { HOME: home, PATH: process.env["PATH"] ?? "/usr/bin:/bin" }, encoding: "utf8" })
    expect(r.status, r.stderr).toBe(0)
    return parseHostLogs(r.stdout, files)
  }

  it("reads rotated copies oldest first, the last N lines of all, a path given or the default place; null when nothing is there", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "kstlib-hostlogs-"))
    dirs.push(home)
    const dir = path.join(home, ".local", "state", "kstlib", "logs", "p")
    fs.mkdirSync(dir, { recursive: true })
    const l = (n: number) => `2026-01-02T03:04:${String(n).padStart(2, "0")}Z line ${n}\n`
    fs.writeFileSync(path.join(dir, "api.log.2"), l(1) + l(2))
    fs.writeFileSync(path.join(dir, "api.log.1"), l(3))
    fs.writeFileSync(path.join(dir, "api.log"), l(4) + l(5))
    const other = path.join(home, "own.log")
    fs.writeFileSync(other, l(9))
    const files = [{ label: "a", arg: "p/api" }, { label: "b", arg: other }, { label: "c", arg: "p/none" }]
    const all = run(home, files, null)!
    expect(all.map((f) => f.map((x) => x.text))).toEqual([["line 1", "line 2", "line 3", "line 4", "line 5"], ["line 9"], []])
    // the last 2 of each generation: the last 2 of the file's whole history are among them
    expect(run(home, files, 2)![0]!.slice(-2).map((x) => x.text)).toEqual(["line 4", "line 5"])
    expect(run(home, [{ label: null, arg: "p/none" }], 10)).toBeNull()
  })

  it("a path or name with shell text in it is only data", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "kstlib-hostlogs-"))
    dirs.push(home)
    // run in `home`: a command that ran would leave `pwned` there
    const marker = path.join(home, "pwned")
    const hostile = `${home}/x$(touch pwned)\`touch pwned\`;'\"|.log`
    fs.writeFileSync(hostile, "2026-01-02T03:04:05Z hi\n")
    expect(run(home, [{ label: null, arg: hostile }], 5)![0]!.map((x) => x.text)).toEqual(["hi"])
    expect(fs.existsSync(marker)).toBe(false)
  })

  it("the purge script removes each file and its rotated copies, prints what it removed, leaves the rest", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "kstlib-hostlogs-"))
    dirs.push(home)
    const dir = path.join(home, ".local", "state", "kstlib", "logs", "p")
    fs.mkdirSync(dir, { recursive: true })
    for (const f of ["api.log", "api.log.1", "api.log.3", "other.log"]) fs.writeFileSync(path.join(dir, f), "x\n")
    const [cmd, ...args] = hostPurgeArgv([{ label: null, arg: "p/api" }, { label: null, arg: "p/gone" }])
    const r = spawnSync(cmd!, args, { cwd: home, env: { HOME: home, PATH: process.env["PATH"] ?? "/usr/bin:/bin" }, encoding: "utf8" })
    expect(r.status, r.stderr).toBe(0)
    expect(parseHostPurge(r.stdout).map((p) => path.basename(p)).sort()).toEqual(["api.log", "api.log.1", "api.log.3"])
    expect(fs.readdirSync(dir)).toEqual(["other.log"])
  })

  it("the follow script tails every file by name (a rotation too), its lines labelled by file; it ends when its stdin does", async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "kstlib-hostlogs-"))
    dirs.push(home)
    const dir = path.join(home, ".local", "state", "kstlib", "logs", "p")
    fs.mkdirSync(dir, { recursive: true })
    const a = path.join(dir, "dev.w.0.log")
    const b = path.join(dir, "dev.w.1.log")
    fs.writeFileSync(a, "2026-01-02T03:04:05Z old a\n")
    fs.writeFileSync(b, "")
    const files = [{ label: "w.0", arg: "p/dev.w.0" }, { label: "w.1", arg: "p/dev.w.1" }]
    const [cmd, ...args] = hostFollowArgv(files)
    const child = spawn(cmd!, args, { cwd: home, env: { HOME: home, PATH: process.env["PATH"] ?? "/usr/bin:/bin" }, stdio: ["pipe", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")))
    const until = async (re: RegExp) => {
      for (let i = 0; i < 100 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 50))
      return re.test(out)
    }
    const ended = new Promise<number | null>((r) => child.on("exit", (code) => r(code)))
    expect(await until(/\u001ep\/dev\.w\.1\t/u)).toBe(true)
    await new Promise((r) => setTimeout(r, 300))
    fs.appendFileSync(a, "2026-01-02T03:04:06Z new a\n")
    expect(await until(/new a/u)).toBe(true)
    fs.appendFileSync(b, "2026-01-02T03:04:07Z new b\n")
    expect(await until(/new b/u)).toBe(true)
    // rotated (the writer's mv), then a line in the new file
    fs.renameSync(a, `${a}.1`)
    fs.writeFileSync(a, "2026-01-02T03:04:08Z after rotation\n")
    expect(await until(/after rotation/u)).toBe(true)
    child.stdin.end()
    expect(await Promise.race([ended, new Promise((r) => setTimeout(() => r("still running"), 5000))])).not.toBe("still running")
    const lines = out.split("\n")
    let state = followStart(files)
    const texts: Array<string> = []
    for (const l of lines) {
      const [next, emitted] = followLine(files)(state, l)
      state = next
      texts.push(...emitted.map((x) => x.text))
    }
    expect(texts).toEqual(["w.0 | new a", "w.1 | new b", "w.0 | after rotation"])
  }, 20_000)
})
