/**
 * The apply lock through the built CLI: a file-system refusal is one line on stderr (exit 1, no stack
 * trace), and an empty XDG_RUNTIME_DIR never puts the lock in the current directory.
 */
import { existsSync, readdirSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, expect, it } from "vitest"
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
