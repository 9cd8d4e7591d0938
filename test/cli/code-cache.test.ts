/**
 * The CLI's V8 code cache (src/cli/bin.ts) is code kstlib runs: it is kept in the user's own cache
 * directory (0700; never a shared one such as node's default $TMPDIR/node-compile-cache), and a file
 * there that another user owns or that others may write is not read (it is replaced).
 */
import { chmodSync, chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { Sandbox } from "./harness.js"

let sb: Sandbox
let cache: string
let tmp: string
beforeEach(() => {
  sb = new Sandbox()
  cache = mkdtempSync(join(tmpdir(), "kstlib-cache-"))
  tmp = mkdtempSync(join(tmpdir(), "kstlib-tmp-"))
  sb.writeConfig({})
})
afterEach(() => {
  sb.cleanup()
  rmSync(cache, { recursive: true, force: true })
  rmSync(tmp, { recursive: true, force: true })
})

const run = () => {
  const r = sb.kstlib(["ops", "list", "--json"], { env: { XDG_CACHE_HOME: cache, TMPDIR: tmp, NODE_COMPILE_CACHE: "" } })
  expect(r.code, r.stderr).toBe(0)
  expect(JSON.parse(r.stdout)).toEqual([])
}
const files = () => readdirSync(join(cache, "kstlib", "v8")).filter((f) => f.endsWith(".v8cache"))

describe("the CLI's code cache", () => {
  it("is written in the user's own 0700 directory, as a 0600 file; nothing in the shared temporary directory", () => {
    run()
    const dir = join(cache, "kstlib", "v8")
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    expect(files()).toHaveLength(1)
    expect(statSync(join(dir, files()[0]!)).mode & 0o777).toBe(0o600)
    expect(readdirSync(tmp)).toEqual([])
  })

  it("a planted file (another user's, or one others may write) is not read: the run works and replaces it", () => {
    run()
    const file = join(cache, "kstlib", "v8", files()[0]!)
    // a well-formed cache that already lists this run: were it read, it would be used and left as it
    // is (no rewrite); refused, the run writes its own over it
    const good = readFileSync(file)
    for (const plant of [(f: string) => chownSync(f, 65534, 65534), (f: string) => chmodSync(f, 0o666)]) {
      writeFileSync(file, good)
      chmodSync(file, 0o600)
      plant(file)
      run()
      const st = statSync(file)
      expect([st.uid, st.mode & 0o777]).toEqual([process.getuid!(), 0o600])
    }
  })

  it("a directory others may write is not used", () => {
    const dir = join(cache, "kstlib", "v8")
    run()
    chmodSync(dir, 0o777)
    const before = files()
    rmSync(join(dir, before[0]!))
    run()
    expect(files()).toEqual([])
  })

  it("other builds' caches are pruned when one is written: the 4 most recently written stay", () => {
    const dir = join(cache, "kstlib", "v8")
    run()
    const mine = files()[0]!
    // six caches of other builds, older than this one, oldest first
    const others = Array.from({ length: 6 }, (_, i) => `kstlib-${String(i).repeat(16)}-1-v0-x64.v8cache`)
    others.forEach((n, i) => {
      writeFileSync(join(dir, n), "x", { mode: 0o600 })
      const t = new Date(Date.now() - (10 - i) * 60_000)
      utimesSync(join(dir, n), t, t)
    })
    // a run that writes (a command the cache has not seen) prunes
    rmSync(join(dir, mine))
    run()
    expect(files().sort()).toEqual([mine, ...others.slice(3)].sort())
  })
})
