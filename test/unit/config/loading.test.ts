/**
 * env_file, interpolation, project identity, searched paths and the loader's hardening. Every
 * rejection test writes the attack as a user would and checks it is refused, located, and that no
 * secret value reaches a message.
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { splitWords } from "../../../src/command.js"
import { decodeSessionEntry } from "../../../src/config/decode/index.js"
import { loadConfig } from "../../../src/config/load.js"
import { normalizeProjectName, validateEnvEntry } from "../../../src/config/rules.js"
import { decodeUtf8, interpolate, parseDotenv } from "../../../src/config/text.js"
import type { LoadedConfig } from "../../../src/config/types.js"
import { ConfigInvalid, ConfigNotFound, type ConfigParseError, formatConfigIssue, type InvalidInput } from "../../../src/errors.js"
import { fingerprint, specHash } from "../../../src/testing/specs.js"
import { rejected, valid } from "../../support/loaded.js"

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
})
const tree = (files: Record<string, string | Buffer>): string => {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "kstlib-loading-")))
  dirs.push(root)
  fs.mkdirSync(path.join(root, "home"), { recursive: true })
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(root, rel)
    fs.mkdirSync(path.dirname(p), { recursive: true })
    fs.writeFileSync(p, text)
  }
  return root
}
const load = (root: string, file: string | undefined, env: Record<string, string> = {}, extra: { project?: string } = {}) =>
  loadConfig({ cwd: path.join(root, "proj"), path: file === undefined ? undefined : path.join(root, file), env: { HOME: path.join(root, "home"), ...env }, ...extra })

/** Every text a user could see about this load. */
const allText = (c: LoadedConfig) =>
  [...c.sessions.flatMap((s) => (s._tag === "Rejected" ? s.issues.map(formatConfigIssue) : [])), ...c.warnings.map(formatConfigIssue), JSON.stringify(c.sessions.flatMap((s) => (s._tag === "Rejected" ? s.issues : [])))].join("\n")

const SECRET = "s3cr3t-Tr0ub4dor"
const BAD_KEY = "invalid env key (letters, digits and _, not starting with a digit; the line is not shown)"

describe("parseDotenv", () => {
  it("comments, blanks, export, quotes, escapes, inline comments, multi-line", () => {
    const r = parseDotenv([
      "# comment",
      "",
      "A=1",
      "export B = two words ",
      "C='single $x \\n kept'",
      "D=\"line\\nnext\\t\\\"q\\\"\"",
      "E=value # trailing comment",
      "F=a#b",
      "G=",
      "H=\"multi",
      "line\"",
      "I='x' # ok",
      "noequals",
      "J=\"open",
      ""
    ].join("\n"))
    expect(Object.fromEntries(r.entries.map((e) => [e.key, e.value]))).toEqual({
      A: "1",
      B: "two words",
      C: "single $x \\n kept",
      D: "line\nnext\t\"q\"",
      E: "value",
      F: "a#b",
      G: "",
      H: "multi\nline",
      I: "x"
    })
    expect(r.entries.find((e) => e.key === "I")!.line).toBe(12)
    expect(r.problems).toEqual([{ line: 13, reason: "expected KEY=VALUE" }, { line: 14, reason: "unterminated double-quoted value for key J" }])
  })
})

describe("interpolate (compose rules)", () => {
  const vars: Record<string, string> = { A: "a", E: "", N: "n" }
  const run = (s: string) => interpolate(s, (k) => (Object.hasOwn(vars, k) ? vars[k] : undefined))
  const ok = (s: string) => {
    const r = run(s)
    if (r._tag !== "Ok") throw new Error(r.reason)
    return r.value
  }
  it("forms", () => {
    expect(ok("x $A ${A} $$A $$ ${A}b")).toBe("x a a $A $ ab")
    expect(ok("${U:-d} ${E:-d} ${E-d} ${U-d} ${A:-d}")).toBe("d d  d a")
    expect(ok("${A:+alt} ${E:+alt} ${E+alt} ${U+alt}")).toBe("alt  alt ")
    expect(ok("${U:-${A}-${N:-z}}")).toBe("a-n")
    expect(ok("${A:?must} ${E?set}")).toBe("a ")
    expect(ok("no dollar")).toBe("no dollar")
    // the default is not evaluated when the variable is set
    expect(ok("${A:-${UNSET}}")).toBe("a")
  })
  it("errors name the variable, never a value", () => {
    expect(run("$U")).toEqual({ _tag: "Error", reason: "variable U is not set (give a default with ${U:-default})", unset: "U" })
    expect(run("${U}")).toMatchObject({ _tag: "Error", reason: expect.stringContaining("variable U is not set") })
    expect(run("${E:?please set E}")).toEqual({ _tag: "Error", reason: "required variable E is empty: please set E" })
    expect(run("${U?}")).toEqual({ _tag: "Error", reason: "required variable U is not set" })
    // the message is shown as written: expanding it could print another variable
    expect(run("${U:?see ${A}}")).toEqual({ _tag: "Error", reason: "required variable U is not set: see ${A}" })
    expect(run("${U:-${V}}")).toMatchObject({ _tag: "Error", reason: expect.stringContaining("variable V is not set") })
    for (const bad of ["$", "a $1", "${}", "${A", "${A:-x", "${A x}", "${1}"]) expect(run(bad)._tag).toBe("Error")
  })
})

describe("env_file", () => {
  it.effect("merged under env (env wins), relative to the declaring file, list order, values exact", () =>
    Effect.gen(function*() {
      const root = tree({
        "cfg/kstlib.conf.yml": "include: inc/more.yml\nops:\n  sessions:\n    web:\n      env_file: [a.env, sub/b.env]\n      env: {B: explicit}\n",
        "cfg/a.env": `# base\nA=1\nB=from-a\nTOKEN="${SECRET}\\nline2"\n`,
        "cfg/sub/b.env": "export C='c $NOT_INTERPOLATED'\nA=2\n",
        "cfg/inc/more.yml": "ops:\n  sessions:\n    box: {backend: container, image: nginx, env_file: box.env}\n",
        "cfg/inc/box.env": "X=y\n"
      })
      const c = yield* load(root, "cfg/kstlib.conf.yml")
      expect(valid(c, "web").spec.env).toEqual({ A: "2", B: "explicit", TOKEN: `${SECRET}\nline2`, C: "c $NOT_INTERPOLATED" })
      expect(valid(c, "box").spec.env).toEqual({ X: "y" })
      // a changed value in the file is drift through the env digest; the fingerprint never holds it
      const fp = JSON.stringify(fingerprint(valid(c, "web").spec))
      expect(fp).not.toContain(SECRET)
      fs.writeFileSync(path.join(root, "cfg/a.env"), `A=1\nB=from-a\nTOKEN=other\n`)
      const c2 = yield* load(root, "cfg/kstlib.conf.yml")
      expect(specHash(valid(c2, "web").spec)).not.toBe(specHash(valid(c, "web").spec))
    }))

  it.effect("bad keys, blocked keys, NUL, missing file: located at the reference, the env file line named, no value", () =>
    Effect.gen(function*() {
      const root = tree({
        "cfg/k.yml": [
          "ops:", //                               1
          "  sessions:", //                        2
          "    blocked:", //                       3
          "      env_file: evil.env", //           4
          "    badkey:", //                        5
          "      env_file:", //                    6
          "        - ok.env", //                   7
          "        - badkey.env", //               8
          "    missing:", //                       9
          "      env_file: nothere.env", //        10
          "    nul:", //                           11
          "      env_file: nul.env", //            12
          "    utf:", //                           13
          "      env_file: latin1.env", //         14
          "    many:", //                          15
          "      env_file: many.env", //           16
          "      env: {EXTRA: x}", //              17
          "    syntax:", //                        18
          "      env_file: syntax.env", //         19
          "    dir:", //                           20
          "      env_file: .", //                  21
          ""
        ].join("\n"),
        "cfg/evil.env": `A=${SECRET}\nLD_AUDIT=${SECRET}\nBASH_ENV=${SECRET}\n`,
        "cfg/ok.env": "FINE=1\n",
        "cfg/badkey.env": `\n\nMY-VAR=${SECRET}\n${SECRET} topsecret=1\nexport ${SECRET}.x='a' trailing\n${"K".repeat(120)}${SECRET.replaceAll("-", "_")}=1\n${SECRET}="unterminated\n`,
        "cfg/nul.env": `K="${SECRET}\u0000"\n`,
        "cfg/latin1.env": Buffer.from([0x41, 0x3d, 0x31, 0x0a, 0x42, 0x3d, 0xe9, 0x0a]),
        "cfg/many.env": Array.from({ length: 100 }, (_, i) => `V${i}=${SECRET}`).join("\n"),
        "cfg/syntax.env": `A=1\n${SECRET}\n`
      })
      const file = path.join(root, "cfg/k.yml")
      const env = (n: string) => path.join(root, "cfg", n)
      const c = yield* load(root, "cfg/k.yml")
      expect(rejected(c, "blocked").issues).toEqual([
        { file, line: 4, session: "blocked", field: "env_file", reason: `${env("evil.env")}:2: Environment variable 'LD_AUDIT' is blocked for security reasons` },
        { file, line: 4, session: "blocked", field: "env_file", reason: `${env("evil.env")}:3: Environment variable 'BASH_ENV' is blocked for security reasons` }
      ])
      // the text before `=` may be a secret (a pasted token, `hunter2 topsecret=1`): the rule, never the text
      expect(rejected(c, "badkey").issues).toEqual([
        { file, line: 8, session: "badkey", field: "env_file[1]", reason: `${env("badkey.env")}:3: ${BAD_KEY}` },
        { file, line: 8, session: "badkey", field: "env_file[1]", reason: `${env("badkey.env")}:4: ${BAD_KEY}` },
        { file, line: 8, session: "badkey", field: "env_file[1]", reason: `${env("badkey.env")}:5: ${BAD_KEY}` },
        { file, line: 8, session: "badkey", field: "env_file[1]", reason: `${env("badkey.env")}:6: env key too long (max 128 chars)` },
        { file, line: 8, session: "badkey", field: "env_file[1]", reason: `${env("badkey.env")}:7: ${BAD_KEY}` }
      ])
      expect(rejected(c, "missing").issues).toEqual([
        { file, line: 10, session: "missing", field: "env_file", reason: `env file not found: ${env("nothere.env")}` }
      ])
      expect(rejected(c, "nul").issues[0]!.reason).toBe(`${env("nul.env")}:1: Null bytes are not allowed in env values (key: K)`)
      expect(rejected(c, "utf").issues[0]).toMatchObject({ line: 14, reason: `${env("latin1.env")}:2: invalid UTF-8 (save the file as UTF-8)` })
      expect(rejected(c, "many").issues[0]).toMatchObject({ line: 16, reason: "Too many env vars (max 100) (env and env_file together)" })
      expect(rejected(c, "syntax").issues[0]).toMatchObject({ line: 19, reason: `${env("syntax.env")}:2: expected KEY=VALUE` })
      expect(rejected(c, "dir").issues[0]).toMatchObject({ line: 21, reason: expect.stringContaining("not a regular file") })
      expect(allText(c)).not.toContain(SECRET)
      expect(allText(c)).not.toContain("Tr0ub")
    }))

  it("CLI path (decodeSessionEntry) reads env_file against its base dir", () => {
    const root = tree({ "x/e.env": "A=1\n" })
    const ctx = { defaults: { default_backend: "tmux" as const, container_runtime: null }, baseDir: path.join(root, "x"), file: "<command line>", line: null }
    expect(decodeSessionEntry("w", { env_file: "e.env", env: { B: "2" } }, ctx)).toMatchObject({ _tag: "Valid", spec: { env: { A: "1", B: "2" } } })
  })
})

describe("interpolation in the config", () => {
  const CONF = [
    "ops:", //                                                   1
    "  tmux_binary: ${TMUX_BIN:-tmux}", //                       2
    "  sessions:", //                                            3
    "    web:", //                                               4
    "      command: python ${APP:-app.py} --port $PORT", //      5
    "      env:", //                                             6
    "        TOKEN: ${TOKEN}", //                                7
    "        LITERAL: a$$b", //                                  8
    "        NUM: 1.50", //                                      9
    "    unset:", //                                             10
    "      command: run", //                                     11
    "      env:", //                                             12
    "        KEY: ${NOT_SET_ANYWHERE}", //                       13
    "    required:", //                                          14
    "      working_dir: ${WD:?set WD to the bot directory}", //  15
    "    img:", //                                               16
    "      backend: container", //                               17
    "      image: ${IMAGE}", //                                  18
    "    ctr-unset:", //                                         19
    "      backend: container", //                               20
    "      image: ${NOT_SET_ANYWHERE}", //                       21
    ""
  ].join("\n")

  it.effect("process env, then .env next to the top config file; env wins; lines kept; values never in issues", () =>
    Effect.gen(function*() {
      const root = tree({ "cfg/kstlib.conf.yml": CONF, "cfg/.env": `PORT=8000\nTOKEN=from-dotenv\nIMAGE=Bad Image ${SECRET}\n` })
      const file = path.join(root, "cfg/kstlib.conf.yml")
      const c = yield* load(root, "cfg/kstlib.conf.yml", { TOKEN: SECRET })
      expect(valid(c, "web").spec).toMatchObject({ command: "python app.py --port 8000", env: { TOKEN: SECRET, LITERAL: "a$b", NUM: "1.50" } })
      expect(c.tmux_binary).toBe("tmux")
      expect(rejected(c, "unset").issues).toEqual([
        { file, line: 13, session: "unset", field: "env.KEY", reason: "variable NOT_SET_ANYWHERE is not set (give a default with ${NOT_SET_ANYWHERE:-default})" }
      ])
      // rejected before decoding, it still shows as the container it says it is (list, status)
      expect(rejected(c, "ctr-unset").backend).toBe("container")
      expect(rejected(c, "unset").backend).toBeNull()
      expect(rejected(c, "required").issues).toEqual([
        { file, line: 15, session: "required", field: "working_dir", reason: "required variable WD is not set: set WD to the bot directory" }
      ])
      // validation runs on the interpolated value, and its message does not echo it
      const img = rejected(c, "img").issues
      expect(img).toEqual([{ file, line: 18, session: "img", field: "image", reason: "Invalid image name format: <$IMAGE>" }])
      expect(allText(c)).not.toContain(SECRET)
    }))

  it.effect("$VAR set only in the session's own env: the message says where interpolation reads from, and the $$VAR + shell: true form", () =>
    Effect.gen(function*() {
      const root = tree({ "c.yml": "ops:\n  sessions:\n    bot:\n      command: python $BOT_DIR/bot.py\n      env:\n        BOT_DIR: /srv/bot\n" })
      const c = yield* load(root, "c.yml")
      expect(rejected(c, "bot").issues).toEqual([{
        file: path.join(root, "c.yml"),
        line: 4,
        session: "bot",
        field: "command",
        reason:
          "variable BOT_DIR is not set: ${VAR} is read from kstlib's environment and .env when the config is loaded, not from the session's env: (where BOT_DIR is set); to let the session's shell expand it, write $$BOT_DIR and set shell: true"
      }])
      const fixed = tree({ "c.yml": "ops:\n  sessions:\n    bot:\n      command: python $$BOT_DIR/bot.py\n      shell: true\n      env:\n        BOT_DIR: /srv/bot\n" })
      expect(valid(yield* load(fixed, "c.yml"), "bot").spec).toMatchObject({ command: "python $BOT_DIR/bot.py", shell: true })
    }))

  it.effect("an unset variable in ops settings rejects the load, naming it and its line", () =>
    Effect.gen(function*() {
      const root = tree({ "c.yml": "ops:\n  default_backend: ${BACKEND}\n" })
      const e = yield* Effect.flip(load(root, "c.yml"))
      expect(e).toBeInstanceOf(ConfigInvalid)
      expect((e as ConfigInvalid).issues).toEqual([
        { file: path.join(root, "c.yml"), line: 2, session: null, field: "ops.default_backend", reason: "variable BACKEND is not set (give a default with ${BACKEND:-default})" }
      ])
      const bad = yield* Effect.flip(load(root, "c.yml", { BACKEND: `lxc-${SECRET}` }))
      expect((bad as ConfigInvalid).issues[0]).toMatchObject({ line: 2, field: "ops.default_backend" })
    }))

  it.effect("other top-level keys (other kstlib modules) are not interpolated", () =>
    Effect.gen(function*() {
      const root = tree({ "c.yml": "other: {x: $UNSET}\nops:\n  sessions:\n    a: {command: run}\n" })
      expect(valid(yield* load(root, "c.yml"), "a").spec.command).toBe("run")
    }))

  it.effect("`${__proto__}` finds nothing", () =>
    Effect.gen(function*() {
      const root = tree({ "c.yml": "ops:\n  sessions:\n    a: {command: 'x ${__proto__}'}\n" })
      const e = yield* load(root, "c.yml")
      expect(rejected(e, "a").issues[0]!.reason).toContain("variable __proto__ is not set")
    }))
})

describe("project", () => {
  it("normalised like docker compose", () => {
    expect(normalizeProjectName("My Bots.v2")).toBe("mybotsv2")
    expect(normalizeProjectName("_-x")).toBe("x")
    expect(normalizeProjectName("日本")).toBe("default")
    expect(normalizeProjectName("")).toBe("default")
  })

  it.effect("option > KSTLIB_PROJECT > ops.project > directory of the top config file", () =>
    Effect.gen(function*() {
      const root = tree({ "Web App/kstlib.conf.yml": "ops: {}\n", "named/kstlib.conf.yml": "ops:\n  project: fromconf\n" })
      expect((yield* load(root, "Web App/kstlib.conf.yml")).project).toBe("webapp")
      expect((yield* load(root, "named/kstlib.conf.yml")).project).toBe("fromconf")
      expect((yield* load(root, "named/kstlib.conf.yml", { KSTLIB_PROJECT: "fromenv" })).project).toBe("fromenv")
      expect((yield* load(root, "named/kstlib.conf.yml", { KSTLIB_PROJECT: "fromenv" }, { project: "opt" })).project).toBe("opt")
    }))

  it.effect("bad names: InvalidInput for overrides, ConfigInvalid at the line for ops.project", () =>
    Effect.gen(function*() {
      const root = tree({ "c.yml": "ops:\n  project: 'bad name!'\n", "ok.yml": "ops: {}\n" })
      const conf = (yield* Effect.flip(load(root, "c.yml"))) as ConfigInvalid
      expect(conf.issues).toEqual([{ file: path.join(root, "c.yml"), line: 2, session: null, field: "ops.project", reason: expect.stringContaining("Project name must start") }])
      const opt = (yield* Effect.flip(load(root, "ok.yml", {}, { project: "../x" }))) as InvalidInput
      expect([opt._tag, opt.field]).toEqual(["InvalidInput", "--project"])
      const env = (yield* Effect.flip(load(root, "ok.yml", { KSTLIB_PROJECT: "a b" }))) as InvalidInput
      expect([env._tag, env.field]).toEqual(["InvalidInput", "KSTLIB_PROJECT"])
    }))
})

describe("no config: what was searched", () => {
  it.effect("searched lists the cascade; ConfigNotFound names it; --config '' is refused", () =>
    Effect.gen(function*() {
      const root = tree({ "proj/.keep": "" })
      const c = yield* load(root, undefined)
      expect(c.files).toEqual([])
      expect(c.searched).toContain(path.join(root, "proj/kstlib.conf.yml"))
      expect(new ConfigNotFound({ path: null, searched: c.searched }).message).toBe(`no kstlib.conf.yml found; looked in: ${c.searched.join(", ")}`)
      const missing = (yield* Effect.flip(load(root, "nope.yml"))) as ConfigNotFound
      expect(missing.message).toBe(`config file not found: ${path.join(root, "nope.yml")}`)
      expect(missing.searched).toEqual([path.join(root, "nope.yml")])
      // an empty --config (e.g. an unset shell variable) must not fall back to ./kstlib.conf.yml
      fs.writeFileSync(path.join(root, "proj/kstlib.conf.yml"), "ops:\n  sessions:\n    a: {}\n")
      const empty = yield* Effect.flip(loadConfig({ cwd: path.join(root, "proj"), path: "", env: { HOME: path.join(root, "home") } }))
      expect(empty._tag).toBe("InvalidInput")
    }))
})

describe("hardening", () => {
  it("env keys that load code are blocked (original message format)", () => {
    for (const k of ["LD_AUDIT", "LD_DEBUG_OUTPUT", "LD_TRACE_LOADED_OBJECTS", "DYLD_FRAMEWORK_PATH", "BASH_ENV", "ENV", "PROMPT_COMMAND", "SHELLOPTS", "BASHOPTS", "PS4", "BASH_FUNC_ls", "ZDOTDIR", "PYTHONHOME", "PYTHONWARNINGS", "PERL5LIB", "RUBYLIB", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "GCONV_PATH", "GLIBC_TUNABLES", "NODE_PATH"]) {
      expect(validateEnvEntry(k, "x")).toBe(`Environment variable '${k}' is blocked for security reasons`)
    }
    for (const k of ["OLD_LD_PATH", "LANG", "PATH", "HOME", "ENVIRONMENT", "PYTHONUNBUFFERED"]) expect(validateEnvEntry(k, "x")).toBeNull()
  })

  it.effect("tmux_binary: a path into the repository is refused; a bare name or a system path is fine", () =>
    Effect.gen(function*() {
      const root = tree({
        "repo/rel.yml": "ops:\n  tmux_binary: ./evil.sh\n",
        "repo/abs.yml": "",
        "repo/evil.sh": "#!/bin/sh\ntouch /tmp/pwned\n",
        "repo/link.yml": "",
        "repo/bare.yml": "ops: {tmux_binary: tmux}\n",
        "repo/sys.yml": "ops: {tmux_binary: /usr/bin/tmux}\n"
      })
      fs.writeFileSync(path.join(root, "repo/abs.yml"), `ops:\n  sessions: {}\n  tmux_binary: ${path.join(root, "repo/evil.sh")}\n`)
      // a symlink outside the repository, pointing into it
      fs.symlinkSync(path.join(root, "repo/evil.sh"), path.join(root, "outside-link"))
      fs.writeFileSync(path.join(root, "repo/link.yml"), `ops:\n  tmux_binary: ${path.join(root, "outside-link")}\n`)
      const rel = (yield* Effect.flip(load(root, "repo/rel.yml"))) as ConfigInvalid
      expect(rel.issues).toEqual([{ file: path.join(root, "repo/rel.yml"), line: 2, session: null, field: "ops.tmux_binary", reason: expect.stringContaining("relative path is refused") }])
      const abs = (yield* Effect.flip(load(root, "repo/abs.yml"))) as ConfigInvalid
      expect(abs.issues[0]).toMatchObject({ line: 3, reason: expect.stringContaining("must not be inside a config file's directory") })
      expect(((yield* Effect.flip(load(root, "repo/link.yml"))) as ConfigInvalid).issues[0]!.field).toBe("ops.tmux_binary")
      expect((yield* load(root, "repo/bare.yml")).tmux_binary).toBe("tmux")
      expect((yield* load(root, "repo/sys.yml")).tmux_binary).toBe("/usr/bin/tmux")
    }))

  it.effect("host root, system directories and engine sockets are refused as mounts (after symlinks) unless unsafe_mounts", () =>
    Effect.gen(function*() {
      const vols = [
        "/:/host", "/proc:/p", "/proc/1/root:/r", "/sys/kernel:/k", "/dev:/d", "/boot:/b", "/etc:/e", "/etc/:/e2",
        "/var/run/docker.sock:/s", "/run/docker.sock:/s", "/run/podman/podman.sock:/s", "/run/user/1000/podman/podman.sock:/s",
        "/run/user/1000/podman:/s", "/run/containerd/containerd.sock:/s", "/run:/r", "/var/run:/r", "./rootlink:/x", "./rootlink/etc:/x"
      ]
      const root = tree({
        "cfg/c.yml": [
          "ops:",
          "  sessions:",
          "    bad:",
          "      backend: container",
          "      image: nginx",
          "      volumes:",
          ...vols.map((v) => `        - '${v}'`),
          "      log_volume: /sys:/logs",
          "    fine:",
          "      backend: container",
          "      image: nginx",
          "      volumes: ['/etc/localtime:/etc/localtime:ro', './data:/data', 'named:/n']",
          "    unsafe:",
          "      backend: container",
          "      image: nginx",
          "      unsafe_mounts: true",
          "      volumes: ['/var/run/docker.sock:/var/run/docker.sock']",
          ""
        ].join("\n")
      })
      fs.symlinkSync("/", path.join(root, "cfg/rootlink"))
      const c = yield* load(root, "cfg/c.yml")
      const issues = rejected(c, "bad").issues
      // MAX_VOLUMES is 20: all of these are checked individually
      expect(issues.map((i) => i.field)).toEqual([...vols.map((_, i) => `volumes[${i}]`), "log_volume"])
      expect(issues.map((i) => i.line)).toEqual([...vols.map((_, i) => 7 + i), 7 + vols.length])
      expect(issues[0]!.reason).toBe("refusing to mount host '/': host system directory; set unsafe_mounts: true to allow it")
      expect(issues[16]!.reason).toBe(`refusing to mount host '${path.join(root, "cfg/rootlink")}' (resolves to '/'): host system directory; set unsafe_mounts: true to allow it`)
      expect(issues[8]!.reason).toContain("container engine socket")
      const fine = valid(c, "fine").spec
      expect(fine).toMatchObject({ unsafe_mounts: false })
      expect(fingerprint(fine)).not.toHaveProperty("unsafe_mounts")
      const unsafe = valid(c, "unsafe").spec
      expect(unsafe).toMatchObject({ unsafe_mounts: true })
      expect(fingerprint(unsafe)).toMatchObject({ unsafe_mounts: "true" })
      // `start -v` goes through the same decoding
      const ctx = { defaults: { default_backend: "container" as const, container_runtime: null }, baseDir: root, file: "<command line>", line: null }
      expect(decodeSessionEntry("x", { image: "nginx", volumes: ["/:/host"] }, ctx)).toMatchObject({ _tag: "Rejected", issues: [{ field: "volumes[0]" }] })
      expect(decodeSessionEntry("x", { image: "nginx", volumes: ["/:/host"], unsafe_mounts: true }, ctx)._tag).toBe("Valid")
    }))

  it.effect("device nodes (after symlinks) and anything under /dev are refused as mounts unless unsafe_mounts", () =>
    Effect.gen(function*() {
      const vols = ["/dev/null:/n", "/dev/sda:/disk", "/dev/shm:/s", "/dev/dri:/d", "./nulllink:/n2", "./mydev:/n3"]
      const root = tree({
        "cfg/c.yml": [
          "ops:",
          "  sessions:",
          "    bad:",
          "      backend: container",
          "      image: nginx",
          "      volumes:",
          ...vols.map((v) => `        - '${v}'`),
          "    fine:",
          "      backend: container",
          "      image: nginx",
          "      volumes: ['./data:/data', '/var/lib/app:/app', '/devices:/x']",
          "    unsafe:",
          "      backend: container",
          "      image: nginx",
          "      unsafe_mounts: true",
          "      volumes: ['/dev/null:/n', './mydev:/m']",
          ""
        ].join("\n")
      })
      fs.symlinkSync("/dev/null", path.join(root, "cfg/nulllink"))
      // a device node outside /dev (mknod: root, as on this project's machines)
      expect(spawnSync("mknod", [path.join(root, "cfg/mydev"), "c", "1", "3"]).status).toBe(0)
      const c = yield* load(root, "cfg/c.yml")
      const reasons = rejected(c, "bad").issues.map((i) => `${i.line} ${i.field}: ${i.reason}`)
      const refused = (what: string) => `${what}; set unsafe_mounts: true to allow it`
      expect(reasons).toEqual([
        `7 volumes[0]: ${refused("refusing to mount host '/dev/null': device node")}`,
        `8 volumes[1]: ${refused("refusing to mount host '/dev/sda': under /dev (devices)")}`,
        `9 volumes[2]: ${refused("refusing to mount host '/dev/shm': under /dev (devices)")}`,
        `10 volumes[3]: ${refused("refusing to mount host '/dev/dri': under /dev (devices)")}`,
        `11 volumes[4]: ${refused(`refusing to mount host '${path.join(root, "cfg/nulllink")}' (resolves to '/dev/null'): device node`)}`,
        `12 volumes[5]: ${refused(`refusing to mount host '${path.join(root, "cfg/mydev")}': device node`)}`
      ])
      expect(valid(c, "fine").spec).toMatchObject({ volumes: [expect.stringContaining("/data:/data"), "/var/lib/app:/app", "/devices:/x"] })
      expect(valid(c, "unsafe").spec).toMatchObject({ unsafe_mounts: true })
    }))

  it.effect("a leading ~ of a command word: expanded with kstlib's HOME where the words run here, refused with the fix where HOME is unknown", () =>
    Effect.gen(function*() {
      const root = tree({
        "c.yml": [
          "ops:", //                                                                          1
          "  hosts:", //                                                                      2
          "    edge1: {ssh: deploy@edge1.example.com}", //                                    3
          "  sessions:", //                                                                   4
          "    bot:", //                                                                      5
          "      command: python3 ~/bot.py --log ~/logs '~/literal' \"~/dq\" a~/b ~ ~root/x", //  6
          "      ready: {cmd: test -f ~/ready}", //                                           7
          "    nouser:", //                                                                   8
          "      command: ls ~nosuchuser-kstlib/x", //                                        9
          "    box:", //                                                                      10
          "      backend: container", //                                                    11
          "      image: nginx", //                                                            12
          "      command: python3 ~/bot.py", //                                               13
          "      ready: {cmd: test -f ~/ready}", //                                           14
          "    remote:", //                                                                   15
          "      host: edge1", //                                                             16
          "      command: ~/run.sh", //                                                       17
          "    shelled:", //                                                                  18
          "      command: python3 ~/bot.py", //                                               19
          "      shell: true", //                                                             20
          ""
        ].join("\n")
      })
      const home = path.join(root, "home")
      const c = yield* load(root, "c.yml")
      const bot = valid(c, "bot").spec
      expect(splitWords(bot.command!)).toEqual({
        ok: true,
        words: ["python3", `${home}/bot.py`, "--log", `${home}/logs`, "~/literal", "~/dq", "a~/b", home, "/root/x"]
      })
      expect(bot.ready).toMatchObject({ cmd: `test -f ${home}/ready` })
      expect(rejected(c, "nouser").issues).toEqual([
        { file: path.join(root, "c.yml"), line: 9, session: "nouser", field: "command", reason: "cannot expand '~nosuchuser-kstlib': no such user on this machine" }
      ])
      const unknown = (where: string) =>
        `'~' is not expanded here: no shell runs this command, and the home directory ${where} is not known to kstlib; write the absolute path, or set shell: true so that the shell there expands it`
      expect(rejected(c, "box").issues.map((i) => [i.line, i.field, i.reason])).toEqual([
        [13, "command", unknown("in the container")],
        [14, "ready.cmd", unknown("in the container")]
      ])
      expect(rejected(c, "remote").issues.map((i) => [i.line, i.field, i.reason])).toEqual([[17, "command", unknown("on host 'edge1'")]])
      expect(valid(c, "shelled").spec.command).toBe("python3 ~/bot.py")
      // no HOME at all: said so
      const noHome = yield* loadConfig({ cwd: root, path: path.join(root, "c.yml"), env: {} })
      expect(rejected(noHome, "bot").issues[0]).toMatchObject({ line: 6, field: "command", reason: "cannot expand '~': HOME is not set" })
    }))

  it.effect("socket_name . and .. are refused; a working_dir that is a file is refused", () =>
    Effect.gen(function*() {
      const root = tree({
        "c.yml": "ops:\n  sessions:\n    dot: {socket_name: '.'}\n    dotdot: {socket_name: '..'}\n    file:\n      working_dir: c.yml\n    under: {working_dir: c.yml/sub}\n    later: {working_dir: not-yet}\n"
      })
      const c = yield* load(root, "c.yml")
      expect(rejected(c, "dot").issues[0]).toMatchObject({ line: 3, field: "socket_name" })
      expect(rejected(c, "dotdot").issues[0]).toMatchObject({ line: 4, field: "socket_name" })
      expect(rejected(c, "file").issues).toEqual([
        { file: path.join(root, "c.yml"), line: 6, session: "file", field: "working_dir", reason: `not a directory: ${path.join(root, "c.yml")}` }
      ])
      expect(rejected(c, "under").issues[0]!.field).toBe("working_dir")
      expect(valid(c, "later").spec.working_dir).toBe(path.join(root, "not-yet"))
    }))

  it.effect("escape sequences and newlines in keys never reach the terminal raw", () =>
    Effect.gen(function*() {
      const root = tree({ "c.yml": "ops:\n  sessions:\n    web:\n      env:\n        \"A\\e[2J\\nB\": x\n    \"x\\e]0;pwn\\u0007\": {}\n" })
      const c = yield* load(root, "c.yml")
      const text = c.sessions.flatMap((s) => (s._tag === "Rejected" ? s.issues.map(formatConfigIssue) : [])).join("\n")
      expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/u)
      expect(text.split("\n")).toHaveLength(2)
      expect(text).toContain("env.A\\u001b[2J\\u000aB")
      expect(text).toContain("session 'x\\u001b]0;pwn\\u0007'")
      const e = yield* Effect.flip(load(root, "c.yml", { X: "1" }).pipe(Effect.flatMap(() => Effect.fail(new ConfigInvalid({ issues: [{ file: "f\u001b", line: 1, session: null, field: "", reason: "r\u009b" }] })))))
      expect(e.message).toBe("f\\u001b:1: r\\u009b")
    }))

  it.effect("invalid UTF-8 is an error at its line; UTF-16 is named", () =>
    Effect.gen(function*() {
      const root = tree({
        "latin1.yml": Buffer.concat([Buffer.from("ops:\n  sessions:\n    a: {command: caf"), Buffer.from([0xe9]), Buffer.from("}\n")]),
        "bom16.yml": Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("ops: {}\n", "utf16le")]),
        "nobom16.yml": Buffer.from("ops: {}\n", "utf16le"),
        "bom8.yml": Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("ops: {tmux_binary: t8}\n")])
      })
      const e = (yield* Effect.flip(load(root, "latin1.yml"))) as ConfigParseError
      expect([e._tag, e.line, e.reason]).toEqual(["ConfigParseError", 3, "invalid UTF-8 (save the file as UTF-8)"])
      for (const f of ["bom16.yml", "nobom16.yml"]) {
        expect(((yield* Effect.flip(load(root, f))) as ConfigParseError).reason).toBe("the file is UTF-16: save the file as UTF-8")
      }
      expect((yield* load(root, "bom8.yml")).tmux_binary).toBe("t8")
      expect(decodeUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toMatchObject({ line: 1 })
    }))

  it.effect("an unquoted value starting with '*' is an unresolved alias whose text is not echoed", () =>
    Effect.gen(function*() {
      const root = tree({ "c.yml": "ops:\n  sessions:\n    a:\n      env:\n        PASSWORD: *Tr0ub4dor&3\n" })
      const e = (yield* Effect.flip(load(root, "c.yml"))) as ConfigParseError
      expect(e.reason).toBe("unresolved YAML alias (a value starting with '*' must be quoted)")
      expect(e.line).toBe(5)
      expect(e.message).not.toContain("Tr0ub")
    }))
})
