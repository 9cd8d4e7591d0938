import { afterEach, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { ConfigInvalid, ConfigParseError } from "../../../src/errors.js"
import { parseConfigText } from "../../../src/config/formats.js"
import { loadConfig } from "../../../src/config/load.js"
import { toPlain } from "../../../src/config/tree.js"
import { rejected, valid } from "../../support/loaded.js"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})
/** A temp tree: { "home/kstlib.conf.yml": "..." } → absolute root. */
const tree = (files: Record<string, string>): string => {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "kstlib-config-")))
  dirs.push(root)
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(root, rel)
    fs.mkdirSync(path.dirname(p), { recursive: true })
    fs.writeFileSync(p, text)
  }
  return root
}
/** Loads with a fake HOME and no XDG/KSTLIB_CONFIG from the real environment. */
const load = (root: string, opts: { cwd?: string; path?: string; env?: Record<string, string> } = {}) =>
  loadConfig({ cwd: opts.cwd ?? path.join(root, "work"), path: opts.path, env: { HOME: path.join(root, "home"), ...opts.env } })


describe("discovery and cascade", () => {
  it.effect("no file anywhere: defaults, no sessions, no error", () =>
    Effect.gen(function*() {
      const root = tree({ "work/.keep": "" })
      const c = yield* load(root)
      expect(c).toEqual({
        files: [],
        default_backend: "tmux",
        tmux_binary: "tmux",
        container_runtime: null,
        sessions: [],
        warnings: [],
        project: "work",
        searched: [
          path.join(root, "home/.config/kstlib.conf.yml"),
          path.join(root, "home/.config/kstlib/kstlib.conf.yml"),
          path.join(root, "home/kstlib.conf.yml"),
          path.join(root, "work/kstlib.conf.yml")
        ],
        // with no file, the cascade's paths are what may appear (no .env: it sits next to a config file)
        inputs: [
          path.join(root, "home/.config/kstlib.conf.yml"),
          path.join(root, "home/.config/kstlib/kstlib.conf.yml"),
          path.join(root, "home/kstlib.conf.yml"),
          path.join(root, "work/kstlib.conf.yml")
        ]
      })
    }))

  it.effect("inputs: the cascade, includes, the .env and env_files (what ops watch reloads on)", () =>
    Effect.gen(function*() {
      const root = tree({
        "work/kstlib.conf.yml": "include: [extra.yml]\nops:\n  sessions:\n    web: { command: sleep 1, env_file: [web.env, ~/common.env] }\n",
        "work/extra.yml": "ops: {}\n",
        "work/web.env": "A=1\n",
        "home/common.env": "B=2\n"
      })
      const c = yield* load(root)
      expect(c.inputs).toEqual(expect.arrayContaining([
        path.join(root, "work/kstlib.conf.yml"),
        path.join(root, "work/extra.yml"),
        path.join(root, "work/.env"),
        path.join(root, "work/web.env"),
        path.join(root, "home/common.env"),
        path.join(root, "home/.config/kstlib.conf.yml")
      ]))
    }))

  it.effect("precedence: ~/.config < XDG < ~ < ./ ; maps merge, lists replace", () =>
    Effect.gen(function*() {
      const root = tree({
        "home/.config/kstlib.conf.yml": "ops:\n  tmux_binary: t1\n  sessions:\n    web:\n      command: one\n      env: {A: '1', B: '1'}\n    low: {}\n",
        "xdg/kstlib/kstlib.conf.yml": "ops:\n  tmux_binary: t2\n  sessions:\n    web:\n      env: {B: '2'}\n",
        "home/kstlib.conf.yml": "ops:\n  tmux_binary: t3\n  container_runtime: docker\n",
        "work/kstlib.conf.yml": "other_module: {x: 1}\nops:\n  tmux_binary: t4\n  sessions:\n    api:\n      backend: container\n      image: nginx\n      ports: ['80']\n"
      })
      const c = yield* load(root, { env: { XDG_CONFIG_HOME: path.join(root, "xdg") } })
      expect(c.files).toEqual([
        path.join(root, "home/.config/kstlib.conf.yml"),
        path.join(root, "xdg/kstlib/kstlib.conf.yml"),
        path.join(root, "home/kstlib.conf.yml"),
        path.join(root, "work/kstlib.conf.yml")
      ])
      expect(c.tmux_binary).toBe("t4")
      expect(c.container_runtime).toBe("docker")
      expect(c.sessions.map((s) => s.name)).toEqual(["web", "low", "api"])
      const web = valid(c, "web")
      expect(web.spec).toMatchObject({ command: "one", env: { A: "1", B: "2" } })
      // the session key's location: the highest-priority file defining it
      expect(web.source).toEqual({ file: path.join(root, "xdg/kstlib/kstlib.conf.yml"), line: 4 })
      expect(valid(c, "api").spec).toMatchObject({ backend: "container", runtime: "docker", ports: ["80"] })
    }))

  it.effect("lists are replaced whole by a higher file", () =>
    Effect.gen(function*() {
      const root = tree({
        "home/kstlib.conf.yml": "ops:\n  sessions:\n    api: {backend: container, image: nginx, ports: ['80', '81']}\n",
        "work/kstlib.conf.yml": "ops:\n  sessions:\n    api: {ports: ['90']}\n"
      })
      expect(valid(yield* load(root), "api").spec).toMatchObject({ image: "nginx", ports: ["90"] })
    }))

  it.effect("XDG_CONFIG_HOME defaults to ~/.config", () =>
    Effect.gen(function*() {
      const root = tree({ "home/.config/kstlib/kstlib.conf.yml": "ops:\n  default_backend: container\n" })
      expect((yield* load(root)).default_backend).toBe("container")
    }))

  it.effect("path option and KSTLIB_CONFIG select exactly one file; missing → ConfigNotFound", () =>
    Effect.gen(function*() {
      const root = tree({
        "work/kstlib.conf.yml": "ops:\n  sessions:\n    cwd: {}\n",
        "elsewhere/a.yml": "ops:\n  sessions:\n    a: {}\n",
        "elsewhere/b.yml": "ops:\n  sessions:\n    b: {}\n"
      })
      const byPath = yield* load(root, { path: "../elsewhere/a.yml" })
      expect(byPath.files).toEqual([path.join(root, "elsewhere/a.yml")])
      expect(byPath.sessions.map((s) => s.name)).toEqual(["a"])
      const byEnv = yield* load(root, { env: { KSTLIB_CONFIG: path.join(root, "elsewhere/b.yml") } })
      expect(byEnv.sessions.map((s) => s.name)).toEqual(["b"])
      // the option wins over the variable
      const both = yield* load(root, { path: path.join(root, "elsewhere/a.yml"), env: { KSTLIB_CONFIG: path.join(root, "elsewhere/b.yml") } })
      expect(both.sessions.map((s) => s.name)).toEqual(["a"])
      const missing = yield* Effect.flip(load(root, { path: "nope.yml" }))
      expect(missing._tag).toBe("ConfigNotFound")
      expect(missing._tag === "ConfigNotFound" && missing.path).toBe(path.join(root, "work/nope.yml"))
      const missingEnv = yield* Effect.flip(load(root, { env: { KSTLIB_CONFIG: "/nonexistent/kstlib.yml" } }))
      expect(missingEnv._tag).toBe("ConfigNotFound")
    }))
})

const invalidIssues = (e: unknown) => {
  expect((e as { _tag: string })._tag).toBe("ConfigInvalid")
  return (e as ConfigInvalid).issues
}

describe("include", () => {
  it.effect("included files merge first, in order; the includer wins; paths relative to the includer", () =>
    Effect.gen(function*() {
      const root = tree({
        "cfg/main.yml": "include: [inc/a.yml, inc/b.yml]\nops:\n  sessions:\n    web:\n      command: main\n",
        "cfg/inc/a.yml": "include: deeper/c.yml\nops:\n  tmux_binary: from-a\n  sessions:\n    web: {command: a, env: {X: a}}\n    fromA: {}\n",
        "cfg/inc/deeper/c.yml": "ops:\n  sessions:\n    fromC: {working_dir: data}\n",
        "cfg/inc/b.yml": "ops:\n  tmux_binary: from-b\n  sessions:\n    web: {env: {Y: b}}\n"
      })
      const c = yield* load(root, { path: path.join(root, "cfg/main.yml") })
      expect(c.files).toEqual(["cfg/inc/deeper/c.yml", "cfg/inc/a.yml", "cfg/inc/b.yml", "cfg/main.yml"].map((f) => path.join(root, f)))
      expect(c.tmux_binary).toBe("from-b")
      expect(valid(c, "web").spec).toMatchObject({ command: "main", env: { X: "a", Y: "b" } })
      // relative working_dir resolved against the directory of the file that defined it
      expect(valid(c, "fromC").spec).toMatchObject({ working_dir: path.join(root, "cfg/inc/deeper/data") })
    }))

  it.effect("escape, symlink, missing → ConfigInvalid at the include line", () =>
    Effect.gen(function*() {
      const root = tree({
        "secret.yml": "ops: {}\n",
        "cfg/escape.yml": "ops: {}\ninclude:\n  - ok.yml\n  - ../secret.yml\n",
        "cfg/ok.yml": "ops: {}\n",
        "cfg/abs.yml": "include: /etc/passwd\n",
        "cfg/link.yml": "include: l.yml\n",
        "cfg/missing.yml": "\ninclude: nothere.yml\n"
      })
      fs.symlinkSync(path.join(root, "cfg/ok.yml"), path.join(root, "cfg/l.yml"))
      const esc = invalidIssues(yield* Effect.flip(load(root, { path: path.join(root, "cfg/escape.yml") })))
      expect(esc).toEqual([{
        file: path.join(root, "cfg/escape.yml"),
        line: 4,
        session: null,
        field: "include[1]",
        reason: "Include path escapes config directory (path traversal blocked): ../secret.yml"
      }])
      const abs = invalidIssues(yield* Effect.flip(load(root, { path: path.join(root, "cfg/abs.yml") })))
      expect(abs[0]!.reason).toContain("path traversal blocked")
      const link = invalidIssues(yield* Effect.flip(load(root, { path: path.join(root, "cfg/link.yml") })))
      expect(link[0]).toMatchObject({ line: 1, field: "include", reason: "symlinked includes are not allowed: l.yml" })
      const missing = invalidIssues(yield* Effect.flip(load(root, { path: path.join(root, "cfg/missing.yml") })))
      expect(missing[0]).toMatchObject({ line: 2, reason: `included file not found: ${path.join(root, "cfg/nothere.yml")}` })
    }))

  it.effect("a symlinked directory leading outside is caught too", () =>
    Effect.gen(function*() {
      const root = tree({ "outside/x.yml": "ops: {}\n", "cfg/main.yml": "include: sub/x.yml\n" })
      fs.symlinkSync(path.join(root, "outside"), path.join(root, "cfg/sub"))
      const issues = invalidIssues(yield* Effect.flip(load(root, { path: path.join(root, "cfg/main.yml") })))
      expect(issues[0]!.reason).toContain("path traversal blocked")
    }))

  it.effect("cycles are refused", () =>
    Effect.gen(function*() {
      const root = tree({ "cfg/a.yml": "include: b.yml\n", "cfg/b.yml": "include: a.yml\n", "cfg/self.yml": "include: self.yml\n" })
      const cyc = invalidIssues(yield* Effect.flip(load(root, { path: path.join(root, "cfg/a.yml") })))
      expect(cyc[0]).toMatchObject({ file: path.join(root, "cfg/b.yml"), line: 1, field: "include" })
      expect(cyc[0]!.reason).toMatch(/^circular include: .*a\.yml -> .*b\.yml -> .*a\.yml$/u)
      const self = invalidIssues(yield* Effect.flip(load(root, { path: path.join(root, "cfg/self.yml") })))
      expect(self[0]!.reason).toContain("circular include")
    }))

  it.effect("depth 10 is fine, depth 11 is refused", () =>
    Effect.gen(function*() {
      // f0 includes f1 … includes fN: the deepest include is at depth N
      const chain = (n: number) =>
        Object.fromEntries(Array.from({ length: n + 1 }, (_, i) => [`cfg/f${i}.yml`, i < n ? `include: f${i + 1}.yml\n` : "ops: {tmux_binary: deep}\n"]))
      const ok = tree(chain(10))
      expect((yield* load(ok, { path: path.join(ok, "cfg/f0.yml") })).tmux_binary).toBe("deep")
      const deep = tree(chain(11))
      const issues = invalidIssues(yield* Effect.flip(load(deep, { path: path.join(deep, "cfg/f0.yml") })))
      expect(issues[0]).toMatchObject({ file: path.join(deep, "cfg/f10.yml"), reason: "include depth exceeds the maximum of 10: f11.yml" })
    }))

  it.effect("an include DAG is read once per file (10 files, each including the next six times: 6^9 paths)", () =>
    Effect.gen(function*() {
      const files = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [
        `cfg/f${i}.yml`,
        i < 9
          ? `include: [${Array.from({ length: 6 }, () => `f${i + 1}.yml`).join(", ")}]\nops:\n  sessions:\n    s${i}: {command: run${i}}\n`
          : "ops: {tmux_binary: deepest}\n"
      ]))
      const root = tree(files)
      const c = yield* load(root, { path: path.join(root, "cfg/f0.yml") })
      expect(c.tmux_binary).toBe("deepest")
      expect(c.files).toEqual(Array.from({ length: 10 }, (_, i) => path.join(root, `cfg/f${9 - i}.yml`)))
      expect(c.sessions.map((s) => s.name).sort()).toEqual(Array.from({ length: 9 }, (_, i) => `s${i}`))
    }))

  it.effect("a file read once still counts its own depth where it is included again", () =>
    Effect.gen(function*() {
      // main → a → b … (depth 10 through a) and main → z1 → … → z5 → a: a's chain is then 5 deeper
      const chain = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`cfg/c${i}.yml`, i < 9 ? `include: c${i + 1}.yml\n` : "ops: {}\n"]))
      const zs = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`cfg/z${i}.yml`, `include: ${i < 4 ? `z${i + 1}` : "c0"}.yml\n`]))
      const root = tree({ ...chain, ...zs, "cfg/main.yml": "include: [c0.yml, z0.yml]\n" })
      const issues = invalidIssues(yield* Effect.flip(load(root, { path: path.join(root, "cfg/main.yml") })))
      expect(issues[0]).toMatchObject({ file: path.join(root, "cfg/z4.yml"), line: 1, reason: "include depth exceeds the maximum of 10: c0.yml" })
    }))

  it.effect("the work of one load is bounded: files, bytes, YAML nodes, include references; each refusal located", () =>
    Effect.gen(function*() {
      const many = tree({
        "cfg/main.yml": `include:\n${Array.from({ length: 101 }, (_, i) => `  - f${i}.yml`).join("\n")}\n`,
        ...Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`cfg/f${i}.yml`, "x: 1\n"]))
      })
      const files = invalidIssues(yield* Effect.flip(load(many, { path: path.join(many, "cfg/main.yml") })))
      expect(files).toEqual([{
        file: path.join(many, "cfg/main.yml"),
        line: 101,
        session: null,
        field: "include[99]",
        reason: "too many config files in one load (the limit is 100, includes counted once each)"
      }])
      const refs = tree({ "cfg/main.yml": `include: [${Array.from({ length: 1001 }, () => "a.yml").join(", ")}]\n`, "cfg/a.yml": "x: 1\n" })
      const refIssues = invalidIssues(yield* Effect.flip(load(refs, { path: path.join(refs, "cfg/main.yml") })))
      expect(refIssues[0]).toMatchObject({ line: 1, field: "include[1000]", reason: "too many includes in one load (the limit is 1000)" })
      const bytes = tree({ "cfg/main.yml": "include: [a.yml, b.yml]\n" })
      for (const f of ["a.yml", "b.yml"]) fs.writeFileSync(path.join(bytes, "cfg", f), `# ${"x".repeat(9 * 1024 * 1024)}\n`)
      const byteIssues = invalidIssues(yield* Effect.flip(load(bytes, { path: path.join(bytes, "cfg/main.yml") })))
      expect(byteIssues[0]).toMatchObject({ line: 1, field: "include[1]", reason: expect.stringContaining("config files too large together") })
      const list = `[${Array.from({ length: 110_000 }, () => "1").join(",")}]`
      const nodes = tree({ "cfg/main.yml": "include: [a.yml, b.yml]\n", "cfg/a.yml": `a: ${list}\n`, "cfg/b.yml": `b: ${list}\n` })
      const e = parseError(yield* Effect.flip(load(nodes, { path: path.join(nodes, "cfg/main.yml") })))
      expect([e.file, e.line, e.reason]).toEqual([path.join(nodes, "cfg/b.yml"), 1, "too many nodes (keys, values, list items) in one load (the limit is 200000)"])
    }))
})

describe("include formats: TOML, JSON, INI (as the original loads them), SOPS", () => {
  it.effect("a TOML include: tables, dotted keys, inline tables; values as written; issues at the TOML line", () =>
    Effect.gen(function*() {
      const root = tree({
        "cfg/main.yml": "include: [s.toml]\nops:\n  sessions:\n    web: {working_dir: /srv}\n",
        "cfg/s.toml": [
          "# sessions from TOML", //                             1
          "[ops.sessions.web]", //                                2
          "command = \"python app.py\"", //                       3
          "env = { LEVEL = 1.50, DEBUG = true, NAME = 'x' }", //  4
          "", //                                                  5
          "[ops.sessions.bad]", //                                6
          "comand = \"x\"", //                                    7
          "[ops.sessions.multi]", //                              8
          "command = '''sleep", //                                9
          "comand = 1'''", //                                     10
          "", //                                                  11
          ""
        ].join("\n")
      })
      const c = yield* load(root, { path: path.join(root, "cfg/main.yml") })
      expect(valid(c, "web").spec).toMatchObject({ command: "python app.py", working_dir: "/srv", env: { LEVEL: "1.50", DEBUG: "true", NAME: "x" } })
      expect(rejected(c, "bad").issues).toEqual([
        { file: path.join(root, "cfg/s.toml"), line: 7, session: "bad", field: "comand", reason: "unknown field (did you mean 'command'?)" }
      ])
      // a line inside a multi-line string is not a key
      expect(rejected(c, "multi").issues).toEqual([
        { file: path.join(root, "cfg/s.toml"), line: 9, session: "multi", field: "command", reason: "Newlines are not allowed in commands" }
      ])
      expect(c.files).toEqual([path.join(root, "cfg/s.toml"), path.join(root, "cfg/main.yml")])
      const bad = tree({ "c.yml": "include: x.toml\n", "x.toml": "a = 1\nb = hunter2-secret\n" })
      const e = parseError(yield* Effect.flip(load(bad, { path: path.join(bad, "c.yml") })))
      expect([e.file, e.line, e.reason]).toEqual([path.join(bad, "x.toml"), 2, "invalid TOML: invalid value"])
      expect(e.message).not.toContain("hunter2")
    }))

  it.effect("a JSON include keeps its lines; invalid JSON is located and never quoted", () =>
    Effect.gen(function*() {
      const root = tree({
        "cfg/main.yml": "include: s.json\n",
        "cfg/s.json": "{\n\t\"ops\": {\n\t\t\"sessions\": {\n\t\t\t\"api\": {\"backend\": \"container\", \"image\": \"nginx\", \"env\": {\"N\": 1.50}},\n\t\t\t\"bad\": {\"backend\": \"container\", \"image\": \"Bad Image\"}\n\t\t}\n\t}\n}\n",
        "cfg/broken.json": "{\n  \"ops\": {\"x\": hunter2}\n}\n",
        "cfg/trailing.json": "{\"a\": 1,}\n",
        "cfg/b.yml": "include: broken.json\n",
        "cfg/t.yml": "include: trailing.json\n"
      })
      const c = yield* load(root, { path: path.join(root, "cfg/main.yml") })
      expect(valid(c, "api").spec).toMatchObject({ image: "nginx", env: { N: "1.50" } })
      expect(rejected(c, "bad").issues[0]).toMatchObject({ file: path.join(root, "cfg/s.json"), line: 5, field: "image" })
      const e = parseError(yield* Effect.flip(load(root, { path: path.join(root, "cfg/b.yml") })))
      expect([e.file, e.line, e.column, e.reason]).toEqual([path.join(root, "cfg/broken.json"), 2, 16, "invalid JSON: unexpected character"])
      expect(e.message).not.toContain("hunter2")
      expect(parseError(yield* Effect.flip(load(root, { path: path.join(root, "cfg/t.yml") }))).reason).toBe("invalid JSON: expected a property name in double quotes")
    }))

  it.effect("an INI include: sections, case-folded keys, DEFAULT, %(name)s; errors at the INI line", () =>
    Effect.gen(function*() {
      const root = tree({
        "cfg/main.yml": "include: s.ini\n",
        "cfg/s.ini": "; settings\n[ops]\nTMUX_BINARY = /usr/bin/%(name)s\nname = tmux\n",
        "cfg/d.yml": "include: d.ini\n",
        "cfg/d.ini": "[DEFAULT]\nbin = /usr/bin\n[ops]\ndefault_backend: container\n",
        "cfg/e.yml": "include: e.ini\n",
        "cfg/e.ini": "\nkey = before any section\n"
      })
      // DEFAULT options are in every section, as ConfigParser's items() gives them: here unknown ops fields
      const s = invalidIssues(yield* Effect.flip(load(root, { path: path.join(root, "cfg/main.yml") })))
      expect(s).toEqual([{ file: path.join(root, "cfg/s.ini"), line: 4, session: null, field: "ops.name", reason: expect.stringContaining("unknown field") }])
      const d = invalidIssues(yield* Effect.flip(load(root, { path: path.join(root, "cfg/d.yml") })))
      expect(d).toEqual([{ file: path.join(root, "cfg/d.ini"), line: 2, session: null, field: "ops.bin", reason: expect.stringContaining("unknown field") }])
      const e = parseError(yield* Effect.flip(load(root, { path: path.join(root, "cfg/e.yml") })))
      expect([e.file, e.line, e.reason]).toEqual([path.join(root, "cfg/e.ini"), 2, "invalid INI: an option before the first [section] header"])
      const tree2 = parseConfigText("x.ini", "[DEFAULT]\nroot = /srv\n[app]\nDir = %(root)s/app\npct = 50%%\nlong = a\n  b\n", "ini", { left: 100, limit: 100 })
      expect(toPlain(tree2)).toEqual({ app: { root: "/srv", dir: "/srv/app", pct: "50%", long: "a\nb" } })
      expect(() => parseConfigText("x.ini", "[a]\nx = 5%\n", "ini", { left: 100, limit: 100 })).toThrow("'%' must be followed by '%' or '(name)s'")
    }))

  it.effect("*.sops.yml: decrypted with `sops --decrypt` when sops is installed; otherwise ENC[…] values are refused, naming the key, never the value", () =>
    Effect.gen(function*() {
      const enc = "ENC[AES256_GCM,data:c2VjcmV0LWNpcGhlcg==,iv:aXY=,tag:dGFn,type:str]"
      const secretsYml = `ops:\n  sessions:\n    web:\n      command: run\n      env:\n        TOKEN: ${enc}\nsops:\n  version: 3.9.0\n`
      const root = tree({
        "cfg/main.yml": "include: secrets.sops.yml\n",
        "cfg/secrets.sops.yml": secretsYml,
        "cfg/plain.yml": "include: leaked.yml\n",
        "cfg/leaked.yml": secretsYml,
        "nosops/.keep": "",
        "fakesops/sops": "#!/bin/sh\n[ \"$1\" = --decrypt ] || exit 2\nprintf 'ops:\\n  sessions:\\n    web:\\n      command: run\\n      env:\\n        TOKEN: from-sops\\n'\n",
        "badsops/sops": "#!/bin/sh\necho 'Failed to get the data key required to decrypt the SOPS file.' >&2\nexit 128\n"
      })
      fs.chmodSync(path.join(root, "fakesops/sops"), 0o755)
      fs.chmodSync(path.join(root, "badsops/sops"), 0o755)
      const main = path.join(root, "cfg/main.yml")
      const missing = invalidIssues(yield* Effect.flip(load(root, { path: main, env: { PATH: path.join(root, "nosops") } })))
      expect(missing).toEqual([{
        file: path.join(root, "cfg/secrets.sops.yml"),
        line: 6,
        session: null,
        field: "ops.sessions.web.env.TOKEN",
        reason: "SOPS ciphertext (ENC[…]) and sops is not installed: install sops so that kstlib decrypts this file (sops -d)"
      }])
      const decrypted = yield* load(root, { path: main, env: { PATH: path.join(root, "fakesops") } })
      expect(valid(decrypted, "web").spec.env).toEqual({ TOKEN: "from-sops" })
      const failed = parseError(yield* Effect.flip(load(root, { path: main, env: { PATH: path.join(root, "badsops") } })))
      expect([failed.file, failed.reason]).toEqual([
        path.join(root, "cfg/secrets.sops.yml"),
        "sops could not decrypt the file (exit 128): Failed to get the data key required to decrypt the SOPS file."
      ])
      const plain = invalidIssues(yield* Effect.flip(load(root, { path: path.join(root, "cfg/plain.yml") })))
      expect(plain[0]).toMatchObject({ file: path.join(root, "cfg/leaked.yml"), line: 6, reason: expect.stringContaining("name it like secrets.sops.yml") })
      expect(JSON.stringify([missing, plain])).not.toContain("c2VjcmV0")
    }))
})

const parseError = (e: unknown) => {
  expect((e as { _tag: string })._tag).toBe("ConfigParseError")
  return e as ConfigParseError
}

describe("file-level errors", () => {
  it.effect("YAML syntax error: file, line, column", () =>
    Effect.gen(function*() {
      const root = tree({ "c.yml": "ops:\n  sessions:\n    web:\n      command: [unclosed\n" })
      const e = parseError(yield* Effect.flip(load(root, { path: path.join(root, "c.yml") })))
      expect(e.file).toBe(path.join(root, "c.yml"))
      expect(e.line).toBe(5)
      expect(e.column).toBe(1)
      expect(e.reason).toMatch(/^invalid YAML: /u)
    }))

  it.effect("duplicate keys are a parse error at the duplicate", () =>
    Effect.gen(function*() {
      const root = tree({ "c.yml": "ops:\n  sessions:\n    web: {}\n    web: {}\n" })
      const e = parseError(yield* Effect.flip(load(root, { path: path.join(root, "c.yml") })))
      expect([e.line, e.column]).toEqual([4, 5])
    }))

  it.effect("keys are the text written: YAML's null/boolean/number spellings stay names; duplicates after that are refused", () =>
    Effect.gen(function*() {
      const root = tree({
        "names.yml": [
          "ops:",
          "  sessions:",
          "    NULL: {command: a}",
          "    Null: {command: b}",
          "    True: {command: c}",
          "    \"true\": {command: d}",
          "    Yes: {command: e}",
          "    x1:",
          "      env: {TRUE: '1', FALSE: '0', 0x1F: a, .inf: b, 1.50: c}",
          "    ~: {}",
          ""
        ].join("\n"),
        "dup.yml": "ops:\n  sessions:\n    true: {command: a}\n    \"true\": {command: b}\n",
        "dupnull.yml": "x:\n  null: 1\n  'null': 2\n"
      })
      const c = yield* load(root, { path: path.join(root, "names.yml") })
      expect(c.sessions.map((s) => s.name)).toEqual(["NULL", "Null", "True", "true", "Yes", "x1", "~"])
      expect(valid(c, "NULL").spec.command).toBe("a")
      expect(valid(c, "true").spec.command).toBe("d")
      // env keys as written: TRUE stays TRUE; 0x1F, .inf and 1.50 are refused under their own names
      expect(rejected(c, "x1").issues.map((i) => i.reason)).toEqual(["Invalid env key format: 0x1F", "Invalid env key format: .inf", "Invalid env key format: 1.50"])
      expect(rejected(c, "~").issues[0]).toMatchObject({ line: 10, session: "~" })
      const dup = parseError(yield* Effect.flip(load(root, { path: path.join(root, "dup.yml") })))
      expect([dup.file, dup.line, dup.column, dup.reason]).toEqual([path.join(root, "dup.yml"), 4, 5, "invalid YAML: duplicate key 'true' (first at line 3)"])
      expect(parseError(yield* Effect.flip(load(root, { path: path.join(root, "dupnull.yml") }))).line).toBe(3)
    }))

  it.effect("NaN / Infinity refused with their location", () =>
    Effect.gen(function*() {
      const root = tree({ "c.yml": "ops:\n  sessions:\n    web:\n      env: {A: .nan}\n", "d.yml": "x: -.inf\n" })
      const e = parseError(yield* Effect.flip(load(root, { path: path.join(root, "c.yml") })))
      expect([e.line, e.column]).toEqual([4, 16])
      expect(e.reason).toContain("NaN and Infinity")
      expect(parseError(yield* Effect.flip(load(root, { path: path.join(root, "d.yml") }))).line).toBe(1)
    }))

  it.effect("files over 10 MiB are refused; exactly 10 MiB is read", () =>
    Effect.gen(function*() {
      const root = tree({})
      const big = path.join(root, "big.yml")
      fs.writeFileSync(big, `# ${"x".repeat(10 * 1024 * 1024 - 3)}\n`)
      expect(fs.statSync(big).size).toBe(10 * 1024 * 1024)
      expect((yield* load(root, { path: big })).sessions).toEqual([])
      fs.appendFileSync(big, "\n")
      const e = parseError(yield* Effect.flip(load(root, { path: big })))
      expect(e.reason).toContain("file too large")
    }))

  it.effect("alias bombs are refused", () =>
    Effect.gen(function*() {
      const levels = ["a: &a [x,x,x,x,x,x,x,x,x,x]"]
      for (const [prev, cur] of [["a", "b"], ["b", "c"], ["c", "d"], ["d", "e"], ["e", "f"], ["f", "g"]]) {
        levels.push(`${cur}: &${cur} [${Array.from({ length: 10 }, () => `*${prev}`).join(",")}]`)
      }
      const root = tree({ "c.yml": `${levels.join("\n")}\n` })
      const e = parseError(yield* Effect.flip(load(root, { path: path.join(root, "c.yml") })))
      expect(e.reason).toContain("too many alias expansions")
      // located like every other error: at the alias whose expansion crossed the limit (e: [*d, …])
      expect([e.file, e.line]).toEqual([path.join(root, "c.yml"), 5])
      expect(e.message).toMatch(/c\.yml:5:\d+: too many alias expansions/u)
    }))

  it.effect("empty and comment-only files are {}", () =>
    Effect.gen(function*() {
      const root = tree({ "e.yml": "", "c.yml": "# nothing\n" })
      expect((yield* load(root, { path: path.join(root, "e.yml") })).sessions).toEqual([])
      expect((yield* load(root, { path: path.join(root, "c.yml") })).files).toEqual([path.join(root, "c.yml")])
    }))

  it.effect("top level / ops / sessions of the wrong shape → ConfigInvalid with the line", () =>
    Effect.gen(function*() {
      const root = tree({ "list.yml": "- a\n- b\n", "ops.yml": "x: 1\nops: [1, 2]\n", "s.yml": "ops:\n  sessions: nope\n" })
      expect(invalidIssues(yield* Effect.flip(load(root, { path: path.join(root, "list.yml") })))[0]).toMatchObject({ line: 1, field: "" })
      expect(invalidIssues(yield* Effect.flip(load(root, { path: path.join(root, "ops.yml") })))[0]).toMatchObject({
        line: 2,
        field: "ops",
        reason: "must be a mapping (key: value), got a list"
      })
      expect(invalidIssues(yield* Effect.flip(load(root, { path: path.join(root, "s.yml") })))[0]).toMatchObject({ line: 2, field: "ops.sessions" })
    }))

  it.effect("bad ops settings and unknown ops keys are reported with their lines", () =>
    Effect.gen(function*() {
      const root = tree({ "c.yml": "ops:\n  default_backend: lxc\n  sesions: {}\n  container_runtime: nerdctl\n" })
      const issues = invalidIssues(yield* Effect.flip(load(root, { path: path.join(root, "c.yml") })))
      expect(issues.map((i) => [i.line, i.field])).toEqual([[3, "ops.sesions"], [2, "ops.default_backend"], [4, "ops.container_runtime"]])
      expect(issues[0]!.reason).toBe("unknown field (did you mean 'sessions'?)")
    }))
})

describe("sessions", () => {
  const CONF = [
    "ops:", //                                   1
    "  default_backend: tmux", //                2
    "  sessions:", //                            3
    "    good:", //                              4
    "      command: python bot.py", //           5
    "      env:", //                             6
    "        DEBUG: 0", //                       7
    "        VERBOSE: true", //                  8
    "        RATIO: 1.50", //                    9
    "        HEX: 0x1F", //                      10
    "    bad:", //                               11
    "      comand: x", //                        12
    "      env:", //                             13
    "        LD_PRELOAD: /evil.so", //           14
    "    box:", //                               15
    "      backend: container", //               16
    "      image: nginx", //                     17
    "      ports:", //                           18
    "        - '8080:80'", //                    19
    "        - '99999:1'", //                    20
    "      volumes:", //                         21
    "        - ./data:/app", //                  22
    "    cmd:", //                               23
    "      command: echo a; rm -rf /", //        24
    "    Bad.Name: {}", //                       25
    "    nulls:", //                             26
    "      backend: container", //               27
    "      image: localhost:5000/app:1.2", //    28
    "      env:", //                             29
    "      volumes:", //                         30
    "      ports: null", //                      31
    "    empty:", //                             32
    "    tmuximage:", //                         33
    "      image: nginx", //                     34
    "    noimage: {backend: container}", //      35
    ""
  ].join("\n")

  it.effect("each entry decoded on its own; issues located at the offending field", () =>
    Effect.gen(function*() {
      const root = tree({ "cfg/kstlib.conf.yml": CONF })
      const file = path.join(root, "cfg/kstlib.conf.yml")
      const c = yield* load(root, { path: file })
      expect(c.sessions.map((s) => `${s.name}:${s._tag}`)).toEqual([
        "good:Valid", "bad:Rejected", "box:Rejected", "cmd:Rejected", "Bad.Name:Rejected", "nulls:Valid", "empty:Valid",
        "tmuximage:Rejected", "noimage:Rejected"
      ])
      expect(valid(c, "good")).toEqual({
        _tag: "Valid",
        name: "good",
        source: { file, line: 4 },
        spec: {
          backend: "tmux",
          name: "good",
          command: "python bot.py",
          shell: false,
          working_dir: null,
          env: { DEBUG: "0", VERBOSE: "true", RATIO: "1.50", HEX: "0x1F" },
          socket_name: null,
          state: "running"
        }
      })
      expect(rejected(c, "bad")).toEqual({
        _tag: "Rejected",
        name: "bad",
        backend: "tmux",
        source: { file, line: 11 },
        issues: [
          { file, line: 12, session: "bad", field: "comand", reason: "unknown field (did you mean 'command'?)" },
          { file, line: 14, session: "bad", field: "env.LD_PRELOAD", reason: "Environment variable 'LD_PRELOAD' is blocked for security reasons" }
        ]
      })
      expect(rejected(c, "box").issues).toEqual([
        { file, line: 20, session: "box", field: "ports[1]", reason: "Port number out of range (1-65535): 99999" }
      ])
      expect(rejected(c, "cmd").issues).toEqual([
        { file, line: 24, session: "cmd", field: "command", reason: "unquoted ';' would chain commands, but no shell runs this command; quote it to pass it as an argument, or set shell: true" }
      ])
      expect(rejected(c, "Bad.Name").issues).toMatchObject([{ line: 25, field: "", reason: expect.stringContaining("Session name must start") }])
      expect(valid(c, "nulls").spec).toMatchObject({ image: "localhost:5000/app:1.2", env: {}, volumes: [], ports: [] })
      expect(valid(c, "empty").spec).toMatchObject({ backend: "tmux", command: null, env: {} })
      expect(rejected(c, "tmuximage").issues[0]).toMatchObject({
        line: 34,
        field: "image",
        reason: "unknown field for a tmux session ('image' is a container field: set backend: container)"
      })
      expect(rejected(c, "noimage")).toMatchObject({ backend: "container", issues: [{ line: 35, field: "image", reason: "an image is needed (or build: to build one)" }] })
    }))

  it.effect("default_backend applies to entries without backend; an invalid backend is rejected", () =>
    Effect.gen(function*() {
      const root = tree({
        "c.yml": "ops:\n  default_backend: container\n  container_runtime: podman\n  sessions:\n    a: {image: nginx}\n    b: {image: nginx, runtime: docker}\n    c: {backend: lxc}\n"
      })
      const c = yield* load(root, { path: path.join(root, "c.yml") })
      expect(valid(c, "a").spec).toMatchObject({ backend: "container", runtime: "podman" })
      expect(valid(c, "b").spec).toMatchObject({ runtime: "docker" })
      expect(rejected(c, "c")).toMatchObject({
        backend: null,
        issues: [{ line: 7, field: "backend", reason: "Invalid backend 'lxc'. Must be 'tmux' or 'container'." }]
      })
    }))

  it.effect("relative paths resolve against the defining file; named volumes and absolute paths stay", () =>
    Effect.gen(function*() {
      const root = tree({
        "proj/kstlib.conf.yml": [
          "include: sub/more.yml",
          "ops:",
          "  sessions:",
          "    t: {working_dir: ., command: run}",
          "    h: {working_dir: ~/bots}",
          "    c:",
          "      backend: container",
          "      image: app",
          "      working_dir: /srv",
          "      volumes: ['./data:/app/data:ro', 'myvol:/data', '/abs:/x', 'rel/dir:/y']",
          "      log_volume: ./logs:/var/log/app",
          "    crel: {backend: container, image: app, working_dir: srv}",
          ""
        ].join("\n"),
        "proj/sub/more.yml": "ops:\n  sessions:\n    s: {working_dir: ../x}\n    v: {backend: container, image: app, volumes: ['./d:/d']}\n"
      })
      const cwd = path.join(root, "somewhere/else")
      fs.mkdirSync(cwd, { recursive: true })
      const c = yield* load(root, { cwd, path: path.join(root, "proj/kstlib.conf.yml") })
      const proj = path.join(root, "proj")
      expect(valid(c, "t").spec.working_dir).toBe(proj)
      expect(valid(c, "h").spec.working_dir).toBe(path.join(root, "home/bots"))
      expect(valid(c, "c").spec).toMatchObject({
        working_dir: "/srv",
        volumes: [`${proj}/data:/app/data:ro`, "myvol:/data", "/abs:/x", `${proj}/rel/dir:/y`],
        log_volume: `${proj}/logs:/var/log/app`
      })
      expect(rejected(c, "crel").issues[0]).toMatchObject({ field: "working_dir", reason: expect.stringContaining("absolute path") })
      expect(valid(c, "s").spec.working_dir).toBe(path.join(proj, "x"))
      expect(valid(c, "v").spec).toMatchObject({ volumes: [`${proj}/sub/d:/d`] })
    }))

  it.effect("more than 50 sessions: the first 50 are decoded, the 51st and later are rejected entries", () =>
    Effect.gen(function*() {
      const names = Array.from({ length: 53 }, (_, i) => `s${i}`)
      const root = tree({ "c.yml": `ops:\n  sessions:\n${names.map((n) => `    ${n}: {}\n`).join("")}` })
      const c = yield* load(root, { path: path.join(root, "c.yml") })
      expect(c.sessions.map((s) => `${s.name}:${s._tag}`)).toEqual(names.map((n, i) => `${n}:${i < 50 ? "Valid" : "Rejected"}`))
      expect(rejected(c, "s50")).toEqual({
        _tag: "Rejected",
        name: "s50",
        backend: null,
        source: { file: path.join(root, "c.yml"), line: 53 },
        issues: [{ file: path.join(root, "c.yml"), line: 53, session: "s50", field: "", reason: "too many sessions: at most 50 per config" }]
      })
      expect(c.warnings).toEqual([])
    }))

  it.effect("ops.max_sessions raises the cap: 120 entries with max_sessions 100 decode the first 100, reject the rest naming the setting", () =>
    Effect.gen(function*() {
      const names = Array.from({ length: 120 }, (_, i) => `s${i}`)
      const root = tree({ "c.yml": `ops:\n  max_sessions: 100\n  sessions:\n${names.map((n) => `    ${n}: {}\n`).join("")}` })
      const c = yield* load(root, { path: path.join(root, "c.yml") })
      expect(c.sessions.map((s) => `${s.name}:${s._tag}`)).toEqual(names.map((n, i) => `${n}:${i < 100 ? "Valid" : "Rejected"}`))
      expect(rejected(c, "s100").issues).toEqual([
        { file: path.join(root, "c.yml"), line: 104, session: "s100", field: "", reason: "too many sessions: at most 100 per config (ops.max_sessions)" }
      ])
    }))

  it.effect("ops.max_sessions can also lower the cap (the default's wording is kept only for the default)", () =>
    Effect.gen(function*() {
      const root = tree({ "c.yml": "ops:\n  max_sessions: 2\n  sessions:\n    a: {}\n    b: {}\n    c: {}\n" })
      const c = yield* load(root, { path: path.join(root, "c.yml") })
      expect(c.sessions.map((s) => `${s.name}:${s._tag}`)).toEqual(["a:Valid", "b:Valid", "c:Rejected"])
      expect(rejected(c, "c").issues[0]!.reason).toBe("too many sessions: at most 2 per config (ops.max_sessions)")
    }))

  it.effect("ops.max_sessions out of range or not an integer: the load is refused at its file:line", () =>
    Effect.gen(function*() {
      for (const [value, reason] of [
        ["0", "greater than or equal to 1"],
        ["1001", "less than or equal to 1000"],
        ["2.5", "an integer"],
        ["lots", "number"]
      ] as const) {
        const root = tree({ "c.yml": `ops:\n  project: p\n  max_sessions: ${value}\n  sessions:\n    a: {}\n` })
        const issues = invalidIssues(yield* Effect.flip(load(root, { path: path.join(root, "c.yml") })))
        expect(issues.map((i) => [i.file, i.line, i.field]), value).toEqual([[path.join(root, "c.yml"), 3, "ops.max_sessions"]])
        expect(issues[0]!.reason, value).toContain(reason)
      }
    }))

  it.effect("scalar types: wrong types are issues, not crashes; state defaults to running", () =>
    Effect.gen(function*() {
      const root = tree({
        "c.yml": "ops:\n  sessions:\n    a:\n      command: 42\n      env: {A: null, B: [1]}\n      state: paused\n    b: {state: stopped, socket_name: bots}\n    c: {backend: container, image: x, ports: [8080, 0], volumes: notalist}\n"
      })
      const c = yield* load(root, { path: path.join(root, "c.yml") })
      expect(rejected(c, "a").issues.map((i) => [i.line, i.field])).toEqual([[4, "command"], [5, "env.A"], [5, "env.B"], [6, "state"]])
      expect(valid(c, "b").spec).toMatchObject({ state: "stopped", socket_name: "bots" })
      expect(rejected(c, "c").issues.map((i) => i.field)).toEqual(["volumes", "ports[1]"])
    }))

  it.effect("YAML anchors and merge keys work", () =>
    Effect.gen(function*() {
      const root = tree({
        "c.yml": "x-env: &env {A: '1', B: '2'}\nops:\n  sessions:\n    a: {env: *env}\n    b:\n      env:\n        <<: *env\n        B: override\n"
      })
      const c = yield* load(root, { path: path.join(root, "c.yml") })
      expect(valid(c, "a").spec.env).toEqual({ A: "1", B: "2" })
      expect(valid(c, "b").spec.env).toEqual({ A: "1", B: "override" })
    }))
})
