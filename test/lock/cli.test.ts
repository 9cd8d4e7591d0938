/**
 * The apply lock through the built CLI: a file-system refusal is one line on stderr (exit 1, no stack
 * trace), and an empty XDG_RUNTIME_DIR never puts the lock in the current directory.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { afterEach, expect, it } from "vitest"
import { encodeHolder, lockPathFor, processStartTime } from "../../src/reconcile/lock.js"
import { Sandbox, stackLines, tmuxEntry } from "../cli/harness.js"

let sb: Sandbox
afterEach(() => sb.cleanup())

it("runtime dir unusable: `cannot take the apply lock`, one line, exit 1, nothing started", () => {
  sb = new Sandbox()
  sb.writeConfig({ [sb.name("a")]: tmuxEntry("sleep 300") })
  writeFileSync(join(sb.dir, "afile"), "x")
  sb.env["XDG_RUNTIME_DIR"] = join(sb.dir, "afile") // the lock dir would be under a regular file: ENOTDIR
  const r = sb.kstlib(["ops", "apply"])
  expect(r.code, r.stdout + r.stderr).toBe(1)
  expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^kstlib: cannot take the apply lock .*ENOTDIR/u)])
  expect(stackLines(r.stdout + r.stderr)).toEqual([])
  expect(sb.tmuxHas(sb.name("a"))).toBe(false)
})

it("XDG_RUNTIME_DIR='' : the lock goes to the temp dir, not the current directory", () => {
  sb = new Sandbox()
  sb.writeConfig({ [sb.name("a")]: tmuxEntry("sleep 300") })
  sb.env["XDG_RUNTIME_DIR"] = ""
  const r = sb.kstlib(["ops", "apply"])
  expect(r.code, r.stdout + r.stderr).toBe(0)
  expect(readdirSync(sb.dir).filter((n) => n.startsWith("kstlib-"))).toEqual([]) // cwd = sb.dir
  expect(existsSync(join(tmpdir(), `kstlib-${process.getuid?.() ?? "user"}`))).toBe(true)
})

it("the same config through a symlinked directory is the same lock: the second apply is refused, naming --wait-lock", () => {
  sb = new Sandbox()
  const real = sb.subdir("real")
  symlinkSync(real, join(sb.dir, "via"))
  const name = sb.name("a")
  writeFileSync(join(real, "kstlib.conf.yml"), `ops:\n  project: ${sb.id.toLowerCase()}-p\n  sessions:\n    ${name}: { backend: tmux, command: sleep 300 }\n`)
  // A live apply holds the lock of the file reached through its real path.
  const holder = spawn("sleep", ["60"], { stdio: "ignore" })
  try {
    const lock = lockPathFor({ files: [join(real, "kstlib.conf.yml")], project: `${sb.id.toLowerCase()}-p` }, sb.env)
    mkdirSync(dirname(lock), { recursive: true, mode: 0o700 })
    writeFileSync(lock, encodeHolder({ pid: holder.pid!, start: processStartTime(holder.pid!), boot: null, pidns: null, nonce: `kt-${sb.id}` }))
    for (const args of [["ops", "apply"], ["ops", "down"]]) {
      const r = sb.kstlib([...args, "--config", join(sb.dir, "via", "kstlib.conf.yml")], { config: false })
      expect(r.code, r.stdout + r.stderr).toBe(1)
      expect(r.stderr).toContain(`another kstlib apply (pid ${holder.pid}) is running`)
      expect(r.stderr).toContain("--wait-lock")
    }
    expect(sb.tmuxHas(name)).toBe(false)
    rmSync(lock, { force: true })
  } finally {
    holder.kill("SIGKILL")
  }
})
