/** The pane's log writer (pipe-pane's command) run for real, with this machine's awk and with busybox's. */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { pipeCommand } from "../../../src/backends/tmux/log-writer.js"
import { parseLines } from "../../../src/logs/format.js"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "kstlib-logw-"))
  dirs.push(d)
  return d
}

/** The command as tmux runs it (`##` and `%%` are `#` and `%` after its format and strftime expansion), fed `input`, with `awk` from `bin` first on PATH. */
const expanded = (cmd: string) => cmd.replaceAll("##", "#").replaceAll("%%", "%")
const write = (file: string, input: string, opts: { maxSize?: number; keep?: number; bin?: string } = {}) => {
  const cmd = pipeCommand({ path: file, remote: false, maxSize: opts.maxSize ?? 1 << 20, keep: opts.keep ?? 2 }, "proj", "n")
  const r = spawnSync("/bin/sh", ["-c", expanded(cmd)], {
    input,
    env: { ...process.env, PATH: opts.bin === undefined ? process.env["PATH"] : `${opts.bin}:${process.env["PATH"]}` }
  })
  expect(r.stderr.toString()).toBe("")
  expect(r.status).toBe(0)
}

const busybox = (() => {
  for (const p of ["/bin/busybox", "/usr/bin/busybox"]) if (fs.existsSync(p)) return p
  return null
})()
const awks: Array<[string, string | undefined]> = [["the system awk", undefined]]
if (busybox !== null) {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), "kstlib-bbawk-"))
  fs.symlinkSync(busybox, path.join(bin, "awk"))
  awks.push(["busybox awk", bin])
}

describe.each(awks)("log writer (%s)", (_label, bin) => {
  it("stamps each line with the UTC time, strips escapes and carriage returns, creates 0600 in 0700", () => {
    const d = tmp()
    const file = path.join(d, "new", "dir with 'quote' #{x}", "s.log")
    const before = Math.floor(Date.now() / 1000)
    write(file, "plain\r\n\x1b[1;31mred\x1b[0m text\r\n\x1b]0;title\x07after osc\r\nprogress 10%\rprogress 100%\r\n# hash\n", { ...(bin ? { bin } : {}) })
    const after = Math.ceil(Date.now() / 1000)
    const lines = parseLines(fs.readFileSync(file, "utf8"))
    expect(lines.map((l) => l.text)).toEqual(["plain", "red text", "after osc", "progress 100%", "# hash"])
    for (const l of lines) {
      expect(l.time).not.toBeNull()
      const t = l.time!.getTime() / 1000
      expect(t).toBeGreaterThanOrEqual(before)
      expect(t).toBeLessThanOrEqual(after)
    }
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700)
  })

  it("appends to an existing file and rotates at max size, keeping `keep` files", () => {
    const d = tmp()
    const file = path.join(d, "s.log")
    fs.writeFileSync(file, "2026-01-01T00:00:00Z old\n", { mode: 0o600 })
    const input = Array.from({ length: 300 }, (_, i) => `line ${String(i).padStart(4, "0")} ${"x".repeat(40)}`).join("\n") + "\n"
    write(file, input, { maxSize: 4096, keep: 2, ...(bin ? { bin } : {}) })
    const names = fs.readdirSync(d).sort()
    expect(names).toEqual(["s.log", "s.log.1", "s.log.2"])
    for (const n of names) expect(fs.statSync(path.join(d, n)).size).toBeLessThanOrEqual(4096)
    // the newest lines are in s.log, in order, none lost between s.log.2, s.log.1 and s.log
    const all = ["s.log.2", "s.log.1", "s.log"].flatMap((n) => parseLines(fs.readFileSync(path.join(d, n), "utf8")).map((l) => l.text))
    expect(all[all.length - 1]).toBe(`line 0299 ${"x".repeat(40)}`)
    const numbers = all.filter((t) => t.startsWith("line ")).map((t) => Number(t.slice(5, 9)))
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => 300 - numbers.length + i))
  })

  it("keep 0 empties the file instead of keeping copies", () => {
    const d = tmp()
    const file = path.join(d, "s.log")
    write(file, Array.from({ length: 200 }, (_, i) => `l${i} ${"y".repeat(50)}`).join("\n") + "\n", { maxSize: 4096, keep: 0, ...(bin ? { bin } : {}) })
    expect(fs.readdirSync(d)).toEqual(["s.log"])
    expect(fs.statSync(file).size).toBeLessThanOrEqual(4096)
    expect(fs.readFileSync(file, "utf8")).toContain(`l199 ${"y".repeat(50)}`)
  })
})

it("the date conversion matches the system's for times across years", () => {
  const d = tmp()
  const prog = fs.readFileSync(new URL("../../../src/backends/tmux/log-writer.ts", import.meta.url), "utf8")
  expect(prog).toContain("function civil")
  // civil() alone, through awk, against Date for a spread of instants
  const awk = execFileSync("/bin/sh", ["-c", "command -v awk"]).toString().trim()
  const src = expanded(pipeCommand({ path: path.join(d, "x"), remote: false, maxSize: 1 << 20, keep: 1 }, "p", "n"))
  const fn = /function civil[\s\S]*?\n\}/u.exec(src.replaceAll("'\\''", "'"))![0]
  const instants = [0, 951782400, 951868799, 1709164800, 2147483647, 4102444800, 1767225599]
  const out = execFileSync(awk, [`${fn}\n{ print civil($1) }`], { input: instants.join("\n") + "\n" }).toString().trim().split("\n")
  expect(out).toEqual(instants.map((t) => `${new Date(t * 1000).toISOString().slice(0, 19)}Z`))
})
