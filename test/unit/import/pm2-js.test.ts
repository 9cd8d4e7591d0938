/**
 * A pm2 JavaScript ecosystem file runs as code (--allow-js): each attack a hostile file could try
 * while it is evaluated, and that it fails, with nothing done. Real child `node` processes.
 */
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { spawnSync } from "node:child_process"
import { evaluateEcosystem } from "../../../src/import/pm2-js.js"
import { tempDir } from "./helpers.js"

const write = (dir: string, name: string, text: string) => {
  const p = path.join(dir, name)
  fs.writeFileSync(p, text)
  return p
}
const evaluate = (file: string, mode: "module" | "expression" = "module", timeout?: number) =>
  evaluateEcosystem(file, mode, timeout).pipe(Effect.provide(NodeServices.layer))
const reason = (file: string, mode: "module" | "expression" = "module", timeout?: number) =>
  Effect.flip(evaluate(file, mode, timeout)).pipe(Effect.map((e) => e.reason))

const netnsHere = spawnSync("unshare", ["-r", "-n", "true"]).status === 0

describe("pm2 JS ecosystem files, evaluated in a sandbox", () => {
  it.live("the exported object comes back; the file's own output is ignored; its environment holds PATH only", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      write(dir, "package.json", "{}")
      const file = write(dir, "ecosystem.config.js", `
        const path = require("node:path")
        const pkg = require("./package.json")
        console.log("noise"); process.stdout.write("@@kstlib-result@@{\\"apps\\":[]}\\n")
        module.exports = { apps: [{ name: "api", script: path.join("dist", "server.js"), env: { HOME: String(process.env.HOME), KEYS: Object.keys(process.env).join(","), PKG: typeof pkg } }] }
      `)
      const r = yield* evaluate(file)
      expect(r.data).toEqual({ apps: [{ name: "api", script: "dist/server.js", env: { HOME: "undefined", KEYS: "PATH", PKG: "object" } }] })
      expect(r.isolation).toBe(netnsHere ? "network namespace" : "network modules blocked")
    }))

  it.live("ES modules (.mjs, export default) and pm2's .json-as-JavaScript", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      expect((yield* evaluate(write(dir, "eco.config.mjs", "export default { apps: [{ name: 'm', script: 'm.js' }] }"))).data).toEqual({ apps: [{ name: "m", script: "m.js" }] })
      const json = write(dir, "process.json", "{ apps: [{ name: 'h', script: 'h.js', env: { N: 1 + 1 } }] } // computed")
      expect((yield* evaluate(json, "expression")).data).toEqual({ apps: [{ name: "h", script: "h.js", env: { N: 2 } }] })
    }))

  it.live("no network: net, http, dns (require or import) and fetch are not there", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      expect(yield* reason(write(dir, "a.config.js", "require('node:net').connect(80, '1.1.1.1'); module.exports = {}"))).toContain("'node:net' is not available")
      expect(yield* reason(write(dir, "b.config.js", "require('http'); module.exports = {}"))).toContain("'http' is not available")
      expect(yield* reason(write(dir, "c.config.mjs", "await import('node:dns'); export default {}"))).toContain("'node:dns' is not available")
      expect(yield* reason(write(dir, "d.config.js", "module.exports = fetch('http://example.com')"))).toContain("fetch is not defined")
    }))

  it.live("no processes, no writes, no reads outside its directory", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const outside = path.join(tempDir(), "secret.txt")
      fs.writeFileSync(outside, "s3cr3t")
      expect(yield* reason(write(dir, "a.config.js", "require('child_process').execSync('touch /tmp/pwned'); module.exports = {}"))).toContain("not available")
      const target = path.join(dir, "written")
      expect(yield* reason(write(dir, "b.config.js", `require('fs').writeFileSync(${JSON.stringify(target)}, 'x'); module.exports = {}`))).toContain("restricted")
      expect(fs.existsSync(target)).toBe(false)
      const read = yield* reason(write(dir, "c.config.js", `module.exports = { apps: [require('fs').readFileSync(${JSON.stringify(outside)}, 'utf8')] }`))
      expect(read).toContain("restricted")
      expect(read).not.toContain("s3cr3t")
      expect(yield* reason(write(dir, "d.config.js", "new (require('worker_threads').Worker)('1'); module.exports = {}"))).toContain("not available")
    }))

  it.live("a path Node's flag syntax could read as more paths (',' separated lists in older releases, '*' a wildcard) is refused before anything runs", () =>
    Effect.gen(function*() {
      const root = tempDir()
      const dir = path.join(root, "x,")
      fs.mkdirSync(dir)
      // --allow-fs-read=<root>/x,/* lists / where ',' separates; <root>/*/* would match every sibling directory
      expect(yield* reason(write(dir, "a.config.js", "module.exports = { apps: [require('fs').readFileSync('/etc/hostname', 'utf8')] }"))).toContain("holds ',' or '*'")
    }))

  it.live("a file that never finishes is stopped at the timeout", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      expect(yield* reason(write(dir, "loop.config.js", "while (true) {}"), "module", 1)).toBe("evaluating it took more than 1 s (stopped)")
    }))

  it.live("a file that throws: its error's first line, nothing else", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      expect(yield* reason(write(dir, "t.config.js", "throw new Error('bad config\\nsecond line')"))).toBe("evaluating it as JavaScript failed: bad config")
    }))
})
