/**
 * What using kstlib as a library costs (issue 25.1), on the built package (`npm run build` first):
 * `import "kstlib"` loads few files (no platform barrel, TOML parser loaded on demand), and a bundle
 * of the pure planner alone stays small (`"sideEffects"` lets a bundler drop the rest).
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { rolldown } from "rolldown"
import { afterAll, describe, expect, it } from "vitest"

const ROOT = fileURLToPath(new URL("../..", import.meta.url))
/** Node 22 (the `node` devDependency): `module.registerHooks` sees every file a module graph loads. */
const NODE22 = join(ROOT, "node_modules/.bin/node")

const sandbox = mkdtempSync(join(tmpdir(), "kstlib-import-cost-"))
mkdirSync(join(sandbox, "node_modules"))
// the package as a consumer sees it: resolved by name, through package.json's exports
symlinkSync(ROOT, join(sandbox, "node_modules/kstlib"))
afterAll(() => rmSync(sandbox, { recursive: true, force: true }))

const COUNT_FILES = `
import { registerHooks } from "node:module"
const files = new Set()
registerHooks({ load(url, context, next) { if (url.startsWith("file:")) files.add(url); return next(url, context) } })
await import("kstlib")
process.stdout.write(JSON.stringify([...files]))
`

describe("import cost", () => {
  it("import \"kstlib\" loads fewer than 400 files, none of a Redis client or the TOML parser", () => {
    const script = join(sandbox, "count.mjs")
    writeFileSync(script, COUNT_FILES)
    const r = spawnSync(NODE22, [script], { cwd: sandbox, encoding: "utf8" })
    expect(r.stderr).toBe("")
    const files: ReadonlyArray<string> = JSON.parse(r.stdout)
    // the count includes kstlib's own modules: a barrel import (1,200 files) cannot pass
    expect(files.some((f) => f.includes("/dist/index.js"))).toBe(true)
    expect(files.filter((f) => f.includes("/redis") || f.includes("/smol-toml/"))).toEqual([])
    expect(files.length).toBeLessThan(400)
  })

  it("a bundle of import { plan } from \"kstlib\" is under 100 kB minified", async () => {
    const entry = join(sandbox, "entry.mjs")
    writeFileSync(entry, `import { plan } from "kstlib"\nconsole.log(typeof plan, plan.length)\n`)
    const bundle = await rolldown({ input: entry, platform: "node", logLevel: "silent", cwd: sandbox })
    const { output } = await bundle.generate({ format: "esm", minify: true, codeSplitting: false })
    await bundle.close()
    const code = output[0].code
    // the bundle runs and holds the planner; the tmux driver (its argv) was shaken off
    const bundled = join(sandbox, "bundle.mjs")
    writeFileSync(bundled, code)
    expect(spawnSync(NODE22, [bundled], { encoding: "utf8" }).stdout.trim()).toBe("function 3")
    expect(code).not.toContain("list-panes")
    expect(code.length).toBeLessThan(100_000)
  })
})
