/**
 * The package installs anywhere: `npm pack` (of the built dist), `npm install -g --prefix <tmp>` of the
 * tarball, then the `kstlib` it puts on PATH is run from another directory through its own
 * `#!/usr/bin/env node` shebang, with the machine's node and with the Node 22 running the tests.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { delimiter, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { BIN } from "./harness.js"

const ROOT = fileURLToPath(new URL("../..", import.meta.url))
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }
const dir = mkdtempSync(join(tmpdir(), "kt-install-"))
const prefix = join(dir, "prefix")
const elsewhere = join(dir, "elsewhere")
let packed: Array<string> = []

const sh = (cmd: string, args: ReadonlyArray<string>, options: { cwd: string; env?: NodeJS.ProcessEnv }) => {
  const r = spawnSync(cmd, args, { ...options, encoding: "utf8", timeout: 180_000 })
  if (r.status === null) throw new Error(`${cmd} ${args.join(" ")}: ${r.error?.message ?? r.signal}`)
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

beforeAll(() => {
  // --ignore-scripts: `prepare` would rebuild; the suite tests the build the other suites test.
  const pack = sh("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: ROOT })
  if (pack.code !== 0) throw new Error(`npm pack failed: ${pack.stderr}`)
  const [info] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>
  packed = info!.files.map((f) => f.path)
  const install = sh("npm", ["install", "-g", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", join(dir, info!.filename)], { cwd: dir })
  if (install.code !== 0) throw new Error(`npm install -g failed: ${install.stderr}`)
  mkdirSync(elsewhere)
  writeFileSync(join(elsewhere, "my.yml"), "ops:\n  sessions:\n    web:\n      backend: tmux\n      command: \"sleep 300\"\n")
}, 240_000)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("npm pack + npm install -g", () => {
  it("the tarball holds the bundle, the bin, types, README and the schema; no sources, tests or maps", () => {
    for (const f of ["package.json", "README.md", "kstlib.schema.json", "dist/cli/bin.js", "dist/kstlib.cjs", "dist/index.js", "dist/index.d.ts"]) {
      expect(packed, f).toContain(f)
    }
    // The installed bin is the one built here (the harness checked the build exists).
    expect(readFileSync(join(prefix, "lib", "node_modules", "kstlib", "dist", "cli", "bin.js"), "utf8")).toBe(readFileSync(BIN, "utf8"))
    expect(packed.filter((f) => /^(src|test|bench|\.ci|examples)\//u.test(f) || f.endsWith(".map"))).toEqual([])
  })

  // The machine's node (the shebang's `env node`) and the Node 22 that runs the tests, when they differ.
  const nodes = [...new Set(["/usr/bin/node", process.execPath].filter((n) => existsSync(n)))]

  it.each(nodes)("kstlib on PATH works from another directory, under %s", (node) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: [join(prefix, "bin"), dirname(node), "/usr/bin", "/bin"].join(delimiter), HOME: elsewhere }
    for (const k of ["KSTLIB_CONFIG", "XDG_CONFIG_HOME", "NO_COLOR", "FORCE_COLOR"]) delete env[k]
    const which = sh("sh", ["-c", "command -v kstlib; node --version"], { cwd: elsewhere, env })
    expect(which.stdout.split("\n")[0]).toBe(join(prefix, "bin", "kstlib"))
    expect(which.stdout.split("\n")[1]).toBe(sh(node, ["--version"], { cwd: elsewhere }).stdout.trim())

    const version = sh("kstlib", ["--version"], { cwd: elsewhere, env })
    expect(version.code, version.stderr).toBe(0)
    expect(version.stdout.trim()).toBe(`kstlib v${pkg.version}`)

    const validate = sh("kstlib", ["ops", "validate", "--config", "my.yml"], { cwd: elsewhere, env })
    expect(validate.code, validate.stderr).toBe(0)
    expect(validate.stdout).toContain(`Config: ${join(elsewhere, "my.yml")}`)
    expect(validate.stdout).toContain("valid    web (tmux)")
    expect(validate.stdout).toContain("1 valid, 0 rejected.")
  })
})
