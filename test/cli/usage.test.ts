/**
 * The built binary's usage errors and colours, through pipes and through a real pseudo-terminal
 * (util-linux `script`), since both depend on whether stdout is a TTY.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { BIN, stackLines } from "./harness.js"

const dir = mkdtempSync(join(tmpdir(), "kt-usage-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const config = join(dir, "kstlib.conf.yml")
writeFileSync(config, "ops:\n  sessions:\n    alpha:\n      backend: tmux\n      command: \"sleep 300\"\n")

const ANSI = /\u001b\[[0-9;]*m/u

/** The test's own colour settings must not leak into the child: each case sets what it needs. */
const baseEnv = (() => {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir, TERM: "xterm-256color" }
  for (const k of ["NO_COLOR", "FORCE_COLOR", "KSTLIB_CONFIG", "XDG_CONFIG_HOME", "CI"]) delete env[k]
  return env
})()

const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env: { ...baseEnv, ...env }, encoding: "utf8", timeout: 60_000 })
  if (r.status === null) throw new Error(`kstlib ${args.join(" ")}: ${r.error?.message ?? r.signal}`)
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const q = (s: string) => `'${s.replace(/'/gu, `'\\''`)}'`
let ptyRuns = 0

/**
 * `kstlib <args>` with stdout on a pseudo-terminal (`script`) and stderr in a file, so the two stay
 * apart. `bothOnPty` puts stderr on the terminal too. Returns what the terminal showed, stderr, exit code.
 */
const runOnPty = (args: ReadonlyArray<string>, env: Record<string, string> = {}, bothOnPty = false) => {
  const n = ++ptyRuns
  const errFile = join(dir, `err-${n}`)
  const codeFile = join(dir, `code-${n}`)
  const cmd = `${[process.execPath, BIN, ...args].map(q).join(" ")}${bothOnPty ? "" : ` 2>${q(errFile)}`}; echo $? >${q(codeFile)}`
  const r = spawnSync("script", ["-qc", cmd, "/dev/null"], { cwd: dir, env: { ...baseEnv, ...env }, encoding: "utf8", timeout: 60_000 })
  if (r.status !== 0) throw new Error(`script failed: ${r.error?.message ?? r.stderr}`)
  return {
    tty: r.stdout.replace(/\r/gu, ""),
    stderr: bothOnPty ? "" : readFileSync(errFile, "utf8"),
    code: Number(readFileSync(codeFile, "utf8").trim())
  }
}

const usageCases: ReadonlyArray<readonly [string, ReadonlyArray<string>, RegExp, string]> = [
  ["an unknown flag", ["ops", "plan", "--jsn"], /Unrecognized flag: --jsn.*did you mean --json/u, "kstlib ops plan"],
  ["an unknown subcommand", ["ops", "bogus"], /Unknown subcommand "bogus"/u, "kstlib ops"],
  ["a missing argument", ["ops", "stop"], /Missing required argument: name/u, "kstlib ops stop"],
  ["a bad choice", ["ops", "list", "-b", "lxc"], /Invalid value for flag --backend: "lxc"/u, "kstlib ops list"],
  ["a bad --color", ["--color", "sometimes", "ops", "validate"], /Invalid value for flag --color/u, "kstlib ops validate"]
]

describe("usage errors fit a pipe", () => {
  it.each(usageCases)("%s: nothing on stdout, the error and the help hint on stderr, exit 2", (_what, args, error, path) => {
    const r = run(args)
    expect(r.code, r.stderr).toBe(2)
    expect(r.stdout).toBe("")
    const lines = r.stderr.trimEnd().split("\n")
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(error)
    expect(lines[1]).toBe(`see '${path} --help'`)
    expect(stackLines(r.stderr)).toEqual([])
  })

  it.each(usageCases)("%s on a terminal: nothing on stdout either", (_what, args, error) => {
    const r = runOnPty(args)
    expect(r.code, r.stderr).toBe(2)
    expect(r.tty).toBe("")
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(2)
    expect(r.stderr).toMatch(error)
  })

  it("on a terminal, stdout and stderr together are the two lines", () => {
    const r = runOnPty(["ops", "plan", "--jsn"], {}, true)
    expect(r.code).toBe(2)
    expect(r.tty.trimEnd().split("\n")).toEqual([
      "kstlib: Unrecognized flag: --jsn in command kstlib ops plan (did you mean --json?)",
      "see 'kstlib ops plan --help'"
    ])
  })

  it("--help stays on stdout, exit 0, and shows flag defaults", () => {
    const r = run(["ops", "stop", "--help"])
    expect(r.code).toBe(0)
    expect(r.stderr).toBe("")
    expect(r.stdout).toMatch(/^ {2}--timeout, -t integer +Seconds a graceful stop waits after the first signal before TERM, then KILL \(default: the session's stop_timeout, 10\)\.$/mu)
    expect(r.stdout).toMatch(/--color choice .*\(default: auto\)/u)
    const apply = run(["ops", "apply", "--help"])
    // No fixed default: each engine's own width, named in the help.
    expect(apply.stdout).toMatch(/--parallel integer +Steps run at once, all engines together\. Default: each engine at its own pace \(podman \d+, docker \d+, tmux \d+ at once\)/u)
    expect(apply.stdout).toMatch(/--settle .*\(default: 0\.5\)/u)
    expect(run(["ops", "logs", "--help"]).stdout).toContain("How many lines (per session). (default: 100)")
  })

  it("a command left out shows that level's help on stdout, exit 0", () => {
    const r = run(["ops"])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^SUBCOMMANDS$/mu)
    expect(r.stderr).toBe("")
  })
})

describe("one meaning per short flag", () => {
  it("-p is start's --port and nothing else: the project flag is --project only, in every --help", () => {
    const commands = ["plan", "apply", "down", "start", "stop", "restart", "attach", "status", "logs", "exec", "send-keys", "list", "validate", "config", "schema", "export"]
    for (const cmd of [[], ...commands.map((c) => [c])]) {
      const r = run(["ops", ...cmd, "--help"])
      expect(r.code, `${cmd.join(" ")}: ${r.stderr}`).toBe(0)
      const short = r.stdout.split("\n").filter((l) => /(^|[\s,])-p\b/u.test(l) && !/^\s+kstlib /u.test(l))
      expect(short, `ops ${cmd.join(" ")} --help`).toEqual(cmd[0] === "start" ? [expect.stringMatching(/^\s+--port, -p string /u)] : [])
      if (r.stdout.includes("--project")) expect(r.stdout).toMatch(/^\s+--project string /mu)
    }
    // the global flag is not reachable as -p anywhere
    const p = run(["ops", "plan", "-p", "other"])
    expect(p.code).toBe(2)
    expect(p.stderr).toContain("Unrecognized flag: -p")
  })
})

describe("colour", () => {
  const validate = ["ops", "validate", "--config", config]

  it("without a terminal: off by default, on with FORCE_COLOR=1 or --color always", () => {
    const plain = run(validate)
    expect(plain.code, plain.stderr).toBe(0)
    expect(plain.stdout).toContain("valid    alpha (tmux)")
    expect(plain.stdout).not.toMatch(ANSI)
    expect(run(validate, { FORCE_COLOR: "1" }).stdout).toContain("\u001b[32mvalid   \u001b[39m alpha")
    expect(run(validate, { FORCE_COLOR: "0" }).stdout).not.toMatch(ANSI)
    expect(run(["--color", "always", ...validate]).stdout).toContain("\u001b[32mvalid   \u001b[39m alpha")
    // The flag wins over NO_COLOR, and may come after the subcommand.
    expect(run([...validate, "--color=always"], { NO_COLOR: "1" }).stdout).toMatch(ANSI)
  })

  it("on a terminal: on by default, off with NO_COLOR, --color never or TERM=dumb", () => {
    const tty = runOnPty(validate)
    expect(tty.code, tty.stderr).toBe(0)
    expect(tty.tty).toContain("\u001b[32mvalid   \u001b[39m alpha")
    for (const [args, env] of [[validate, { NO_COLOR: "1" }], [["--color", "never", ...validate], {}], [validate, { TERM: "dumb" }]] as const) {
      const r = runOnPty(args, env)
      expect(r.code, r.stderr).toBe(0)
      expect(r.tty).toContain("valid    alpha (tmux)")
      expect(r.tty, JSON.stringify([args, env])).not.toMatch(ANSI)
    }
  })

  it("--version and --help alone (printed without loading the CLI) are exactly the CLI's own output", () => {
    const bundle = join(BIN, "../../kstlib.cjs")
    const viaBundle = (args: ReadonlyArray<string>, env: Record<string, string>) =>
      spawnSync(process.execPath, [bundle, ...args], { cwd: dir, env: { ...baseEnv, ...env }, encoding: "utf8", timeout: 60_000 })
    for (const [args, env] of [[["--version"], {}], [["--help"], {}], [["-h"], {}], [["--help"], { FORCE_COLOR: "1" }], [["--help"], { NO_COLOR: "1", FORCE_COLOR: "1" }]] as const) {
      const fast = run(args, env)
      const full = viaBundle(args, env)
      expect(fast.code, JSON.stringify([args, env])).toBe(0)
      expect(full.status).toBe(0)
      expect(fast.stdout, JSON.stringify([args, env])).toBe(full.stdout)
      // stderr: the same on both sides (node's own warning when NO_COLOR and FORCE_COLOR are both set, if that node prints it); nothing else
      const pidless = (t: string) => t.replace(/\(node:\d+\)/gu, "(node)")
      expect(pidless(fast.stderr)).toBe(pidless(full.stderr))
      expect(fast.stderr.replace(/^.*NO_COLOR.*\n.*trace-warnings.*\n/u, "")).toBe("")
    }
    expect(run(["--help"], { FORCE_COLOR: "1" }).stdout).toMatch(ANSI)
    expect(run(["--version"]).stdout).toMatch(/^kstlib v\d+\.\d+\.\d+\n$/u)
    // on a terminal: coloured, like the CLI's help; NO_COLOR turns it off
    expect(runOnPty(["--help"]).tty).toMatch(ANSI)
    expect(runOnPty(["--help"], { NO_COLOR: "1" }).tty).not.toMatch(ANSI)
  })

  it("help follows --color too", () => {
    expect(runOnPty(["ops", "--help"]).tty).toMatch(ANSI)
    expect(runOnPty(["ops", "--help", "--color", "never"]).tty).not.toMatch(ANSI)
    expect(run(["ops", "--help", "--color", "always"]).stdout).toMatch(ANSI)
  })
})
