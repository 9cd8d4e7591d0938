/**
 * Regression tests for the faults of the hardening issue, through the built binary: what failed is
 * said (a missing tmux, a failing engine are not "not found"), bad numbers are usage errors, a
 * hanging engine does not hang kstlib, `--log-level debug` shows every command run.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { Sandbox, stackLines, tmuxEntry } from "./harness.js"

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => {
  sb.cleanup()
})

/** A directory of executable shims put first on PATH (for kstlib only: the sandbox's cleanup needs the real engines). */
const shims = (files: Readonly<Record<string, string>>) => {
  const bin = join(sb.dir, "shims")
  mkdirSync(bin, { recursive: true })
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(bin, name), `#!/bin/sh\n${text}\n`)
    chmodSync(join(bin, name), 0o755)
  }
  const saved = sb.env["PATH"]
  sb.env["PATH"] = `${bin}:${process.env["PATH"] ?? "/usr/bin:/bin"}`
  return () => void (sb.env["PATH"] = saved)
}

describe("faults are reported as what they are", () => {
  it("tmux missing: status says unknown, stop and logs say what could not be looked at (not 'not found')", () => {
    const s = sb.name("web")
    sb.writeConfig({ [s]: tmuxEntry("sleep 300") }, { tmux_binary: "/nonexistent/tmux" })
    const status = sb.kstlib(["ops", "status", s, "--json"])
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({ name: s, state: "unknown" })
    for (const cmd of ["stop", "logs", "attach"]) {
      const r = sb.kstlib(["ops", cmd, s])
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(1)
      expect(r.stderr, cmd).toContain("not everything could be looked at: tmux: tmux binary '/nonexistent/tmux' not found")
      expect(stackLines(r.stderr)).toEqual([])
    }
    const list = sb.kstlib(["ops", "list"])
    expect(list.stderr).toContain("warning: tmux: tmux binary '/nonexistent/tmux' not found")
  })

  it("an engine present but failing is reported with its own error, not as 'not found'", () => {
    const restore = shims({ podman: "echo 'Error: cannot connect to the engine: permission denied' >&2; exit 125" })
    sb.writeConfig({ [sb.name("c")]: { backend: "container", runtime: "podman", image: "localhost/x:1" } })
    const plan = sb.kstlib(["ops", "plan"])
    restore()
    expect(plan.stderr).toContain("warning: podman: podman ps -a --format json exited with 125: Error: cannot connect to the engine: permission denied")
    expect(plan.stdout).toContain("podman could not be read; nothing is planned there")
    expect(plan.stdout).not.toContain("not found")
  })

  it("a hanging engine: plan answers within the call timeout, naming the command", () => {
    const restore = shims({ podman: "sleep 600" })
    sb.env["KSTLIB_CALL_TIMEOUT"] = "1"
    sb.writeConfig({ [sb.name("c")]: { backend: "container", runtime: "podman", image: "localhost/x:1" } })
    const started = Date.now()
    const plan = sb.kstlib(["ops", "plan"])
    restore()
    expect(Date.now() - started).toBeLessThan(15_000)
    expect(plan.stderr).toContain("podman ps -a --format did not answer within 1s (killed)")
    expect(stackLines(plan.stderr)).toEqual([])
  })
})

describe("a tmux socket path over the Unix limit (108 bytes with its NUL)", () => {
  it("is said up front with the path and its length (observe: nothing planned there); never 'the session vanished'", () => {
    const s = sb.name("long")
    const o = sb.name("own")
    // $TMUX_TMPDIR/tmux-UID/default: 108 bytes (one too many); socket_name lengthens it further
    const prefix = join(sb.dir, "t")
    const tmp = `${prefix}${"x".repeat(108 - Buffer.byteLength(`${prefix}/tmux-${process.getuid?.() ?? 0}/default`))}`
    mkdirSync(tmp)
    sb.env["TMUX_TMPDIR"] = tmp
    const socket = join(tmp, `tmux-${process.getuid?.() ?? 0}`, "default")
    expect(Buffer.byteLength(socket)).toBe(108)
    sb.writeConfig({ [s]: tmuxEntry("sleep 300"), [o]: tmuxEntry("sleep 300", { socket_name: "own-socket" }) })
    const too = (path: string) => `tmux socket path too long: ${path} is ${Buffer.byteLength(path)} bytes, a Unix socket path has at most 107; shorten TMUX_TMPDIR`
    const apply = sb.kstlib(["ops", "apply"])
    const out = apply.stdout + apply.stderr
    expect(apply.code, out).toBe(1)
    expect(out).toContain(`warning: tmux socket default: ${too(socket)}`)
    expect(out).toContain(`warning: tmux socket own-socket: ${too(join(tmp, `tmux-${process.getuid?.() ?? 0}`, "own-socket"))}`)
    // nothing is planned on either socket (observe could not look there), so nothing "vanishes"
    expect(apply.stdout).toMatch(new RegExp(`! ${o} \\(tmux\\): invalid, tmux socket own-socket could not be read`, "u"))
    expect(out).not.toContain("vanished")
    expect(stackLines(out)).toEqual([])
    // one byte shorter: it works
    sb.env["TMUX_TMPDIR"] = tmp.slice(0, -1)
    mkdirSync(tmp.slice(0, -1))
    sb.writeConfig({ [s]: tmuxEntry("sleep 300") })
    try {
      const ok = sb.kstlib(["ops", "apply"])
      expect(ok.code, ok.stdout + ok.stderr).toBe(0)
    } finally {
      sb.tmux(["kill-server"])
    }
  })
})

describe("bad numbers are usage errors (exit 2, one line, nothing done)", () => {
  it.each([
    [["stop", "x", "--timeout", "-5"], "--timeout: must be between 0 and 3600 seconds"],
    [["restart", "x", "-t", "-1"], "--timeout: must be between 0 and 3600 seconds"],
    [["logs", "x", "-n", "999999999999"], "--lines: must be between 1 and 1000000"],
    [["logs", "x", "-n", "0"], "--lines: must be between 1 and 1000000"],
    [["apply", "--parallel", "0"], "--parallel: must be at least 1"],
    [["apply", "--settle", "-1"], "--settle: must be between 0 and 300 seconds"]
  ])("%j", (args, message) => {
    sb.writeConfig({ x: tmuxEntry("sleep 300") })
    const r = sb.kstlib(["ops", ...args])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr.trim()).toBe(`kstlib: ${message}`)
    expect(sb.tmuxHas("x")).toBe(false)
  })
})

describe("observability", () => {
  it("--log-level debug and KSTLIB_LOG=debug show every command run, with exit code and duration, no env value", () => {
    const s = sb.name("dbg")
    sb.writeConfig({ [s]: { ...tmuxEntry("sleep 300"), env: { KT_SECRET: "s3cr3t-debug-value" } } })
    const flag = sb.kstlib(["ops", "apply", "--log-level", "debug"])
    expect(flag.code, flag.stderr).toBe(0)
    expect(flag.stderr).toMatch(/DEBUG .*exit 0 in \d+ms: tmux list-panes -a -F/u)
    expect(flag.stderr).toMatch(/DEBUG .*exit 0 in \d+ms: tmux start-server ; source-file -/u)
    expect(flag.stdout + flag.stderr).not.toContain("s3cr3t-debug-value")
    sb.env["KSTLIB_LOG"] = "debug"
    const env = sb.kstlib(["ops", "list"])
    expect(env.stderr).toMatch(/DEBUG .*: tmux list-panes -a -F/u)
    delete sb.env["KSTLIB_LOG"]
    expect(sb.kstlib(["ops", "list"]).stderr).not.toContain("DEBUG")
  })
})

describe("a ready.log pattern cannot block kstlib", () => {
  it("^(a+)+$ over lines of a's: apply --wait honours ready.timeout, status answers", () => {
    const s = sb.name("redos")
    // `$$` is a literal `$` (interpolation)
    const flood = `i=0; while [ $$i -lt 300 ]; do echo ${"a".repeat(48)}!; i=$$((i+1)); done; sleep 300`
    sb.writeConfig({ [s]: { ...tmuxEntry(flood), shell: true, ready: { log: "^(a+)+$$", timeout: 3, interval: 1 } } })
    const apply = sb.kstlib(["ops", "apply", "--wait"])
    expect(apply.code, apply.stderr).toBe(1)
    expect(apply.stdout).toContain(`session '${s}' not ready after 3s (log /^(a+)+$/: no line matches /^(a+)+$/)`)
    const status = sb.kstlib(["ops", "status", s, "--json"])
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({ name: s, ready: false })
  })
})
