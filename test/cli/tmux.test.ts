/**
 * The built `kstlib` binary end to end with the real tmux: per-session commands, `-L` sockets,
 * `list --json` with warnings, the apply lock, and the error paths (exit codes, one-line messages,
 * no stack traces, help pages). Each test has its own TMUX_TMPDIR (see harness.ts), so the default
 * tmux server it uses is private. No container is created here (those tests live in containers.test.ts).
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { lockPathFor, readLockHolder } from "../../src/reconcile/lock.js"
import type { PlanJson, StatusJson } from "./harness.js"
import { eventually, Sandbox, stackLines, tmuxEntry } from "./harness.js"

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => {
  sb.cleanup()
})

const statusJson = (name: string, ...extra: Array<string>): StatusJson => {
  const r = sb.kstlib(["ops", "status", name, "--json", ...extra])
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as StatusJson
}

/** The parent of a live process (/proc/PID/stat field 4). */
const parentOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1])

/** Runs until interrupted; on Ctrl-C writes `stopped.txt` (proof of a graceful stop) and exits. */
const SHOW_SH = "echo \"KT_VAR=$KT_VAR\"\ntrap 'echo bye > stopped.txt; exit 0' INT\nwhile true; do sleep 1; done\n"

describe("per-session commands (tmux)", () => {
  it("an ad-hoc session: start -c -w -e, status --json, logs -n, restart, graceful stop", async () => {
    sb.writeConfig({})
    sb.file("show.sh", SHOW_SH)
    const s = sb.name("adhoc")

    const started = sb.kstlib(["ops", "start", s, "-b", "tmux", "-c", "sh show.sh", "-w", sb.dir, "-e", "KT_VAR=hello-env"])
    expect(started.code, started.stdout + started.stderr).toBe(0)
    expect(started.stdout).toContain(`Session '${s}' started (tmux backend, socket default)`)
    expect(sb.tmuxHas(s)).toBe(true)

    const st = statusJson(s)
    expect(Object.keys(st).slice(0, 9)).toEqual([
      "name",
      "state",
      "backend",
      "pid",
      "created_at",
      "window_count",
      "socket_name",
      "image",
      "exit_code"
    ])
    expect(st).toMatchObject({ name: s, state: "running", backend: "tmux", window_count: 1, socket_name: null, image: null, exit_code: null, in_config: false })
    // the command's own pid: the child of the pane's process (kstlib's supervisor), not tmux's or the supervisor's
    expect(readFileSync(`/proc/${st.pid}/cmdline`, "utf8")).toBe("sh\u0000show.sh\u0000")
    expect(parentOf(st.pid!)).toBe(sb.tmuxPids().get(s))
    expect(Number.isNaN(Date.parse(st.created_at ?? ""))).toBe(false)

    const logs = await eventually(() => {
      const l = sb.kstlib(["ops", "logs", s, "-n", "5"])
      return l.code === 0 && l.stdout.includes("KT_VAR=hello-env") ? l : undefined
    }, 25)
    expect(logs, "logs never showed the session's output").toBeDefined()
    const logsJson = sb.kstlib(["ops", "logs", s, "-n", "5", "--json"])
    expect(logsJson.code, logsJson.stderr).toBe(0)
    const doc = JSON.parse(logsJson.stdout) as { name: string; lines: Array<string> }
    expect(doc.name).toBe(s)
    expect(doc.lines.some((l) => l.includes("KT_VAR=hello-env"))).toBe(true)

    const restarted = sb.kstlib(["ops", "restart", s])
    expect(restarted.code, restarted.stdout + restarted.stderr).toBe(0)
    const after = statusJson(s)
    expect(after.state).toBe("running")
    expect(after.pid).not.toBe(st.pid)
    expect(parentOf(after.pid!)).toBe(sb.tmuxPids().get(s))

    const stopped = sb.kstlib(["ops", "stop", s])
    expect(stopped.code, stopped.stdout + stopped.stderr).toBe(0)
    expect(stopped.stdout).toContain(`Session '${s}' stopped.`)
    expect(sb.tmuxHas(s)).toBe(false)
    // Graceful: the process got Ctrl-C and ran its handler before the session went away.
    expect(readFileSync(join(sb.dir, "stopped.txt"), "utf8")).toBe("bye\n")

    const gone = sb.kstlib(["ops", "status", s])
    expect(gone.code).toBe(1)
    expect(gone.stderr).toContain(`session '${s}' not found`)
  })

  it("a config session: defined, started, restarted, stopped; and started on another socket with -L", () => {
    const s = sb.name("cfg")
    const sock = sb.name("sock")
    sb.writeConfig({ [s]: tmuxEntry("sleep 300") })

    expect(statusJson(s)).toMatchObject({ name: s, state: "defined", backend: "tmux", pid: null, created_at: null, window_count: 0, exit_code: null })
    const quiet = sb.kstlib(["ops", "status", s, "-q"])
    expect(quiet.stdout.trim()).toBe(`${s}: defined`)

    expect(sb.kstlib(["ops", "start", s]).code).toBe(0)
    const running = statusJson(s)
    expect(running).toMatchObject({ state: "running", owned: true, in_config: true, in_sync: true })
    // Idempotent, as compose's: starting what runs says so and changes nothing.
    const again = sb.kstlib(["ops", "start", s])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain(`Session '${s}' is already running`)
    expect(statusJson(s).pid).toBe(running.pid)

    expect(sb.kstlib(["ops", "restart", s]).code).toBe(0)
    const restarted = statusJson(s)
    expect(restarted.state).toBe("running")
    expect(restarted.pid).not.toBe(running.pid)

    expect(sb.kstlib(["ops", "stop", s]).code).toBe(0)
    expect(sb.tmuxHas(s)).toBe(false)
    expect(statusJson(s).state).toBe("defined")

    // -L: the same config session on its own tmux server.
    const onSock = sb.kstlib(["ops", "start", s, "-L", sock])
    expect(onSock.code, onSock.stdout + onSock.stderr).toBe(0)
    expect(onSock.stdout).toContain(`socket ${sock}`)
    expect(sb.tmuxHas(s, sock)).toBe(true)
    expect(sb.tmuxHas(s)).toBe(false)
    expect(statusJson(s, "-L", sock)).toMatchObject({ state: "running", socket_name: sock })
    const stopSock = sb.kstlib(["ops", "stop", s, "--socket", sock])
    expect(stopSock.code, stopSock.stderr).toBe(0)
    expect(sb.tmuxHas(s, sock)).toBe(false)
  })

  it("stop of a command that ignores its stop signal says it was killed, and how", () => {
    const s = sb.name("deaf")
    sb.file("deaf.sh", "trap '' INT\nwhile :; do sleep 0.2; done\n")
    sb.writeConfig({ [s]: tmuxEntry(`sh ${sb.dir}/deaf.sh`) })
    expect(sb.kstlib(["ops", "apply"]).code).toBe(0)
    const stopped = sb.kstlib(["ops", "stop", s, "-t", "3"])
    expect(stopped.code, stopped.stderr).toBe(0)
    expect(stopped.stdout.trim()).toBe(`Session '${s}' stopped (killed: it did not end on its stop signal within 3 s).`)
    expect(sb.kstlib(["ops", "apply"]).code).toBe(0)
    const forced = sb.kstlib(["ops", "stop", s, "--force"])
    expect(forced.stdout.trim()).toBe(`Session '${s}' stopped (killed: --force).`)
    expect(sb.tmuxHas(s)).toBe(false)
  })

  it("send-keys types into a session", async () => {
    sb.writeConfig({})
    const s = sb.name("keys")
    expect(sb.kstlib(["ops", "start", s, "-b", "tmux", "-c", "cat"]).code).toBe(0)
    const sent = sb.kstlib(["ops", "send-keys", s, "kt-typed-line"])
    expect(sent.code, sent.stderr).toBe(0)
    // The tty echoes the typed line and `cat` prints it back: two copies.
    const seen = await eventually(() => {
      const pane = sb.tmux(["capture-pane", "-p", "-t", `=${s}:`]).stdout
      return pane.split("\n").filter((l) => l.trim() === "kt-typed-line").length >= 2 ? pane : undefined
    }, 25)
    expect(seen, "the typed line never came back").toBeDefined()
    const refused = sb.kstlib(["ops", "send-keys", s, "echo a; rm -rf /tmp/x"])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain("';' would chain commands in the shell the keys are typed into; send one simple command")
    // exec is for containers: on a running tmux session it says so (not "not running"), exit 2
    const ex = sb.kstlib(["ops", "exec", s, "--", "echo", "x"])
    expect(ex.code).toBe(2)
    expect(ex.stderr).toContain(`exec is not supported for tmux session '${s}': exec runs in container sessions; use send-keys for tmux`)
  })

  it("list --json is JSON on stdout only; a rejected config entry is a warning on stderr", () => {
    const good = sb.name("good")
    const bad = sb.name("bad")
    sb.writeConfig({ [good]: tmuxEntry("sleep 300"), [bad]: tmuxEntry("echo a; rm -rf /") })
    const r = sb.kstlib(["ops", "list", "--json"])
    expect(r.code, r.stderr).toBe(0)
    const rows = JSON.parse(r.stdout) as Array<StatusJson>
    expect(rows.find((x) => x.name === good)).toMatchObject({ state: "defined", backend: "tmux" })
    expect(r.stderr).toMatch(new RegExp(`warning: .*session '${bad}': command: unquoted ';' would chain commands`, "u"))
    expect(r.stdout).not.toContain("warning")

    const text = sb.kstlib(["ops", "list"])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(new RegExp(`^${good}\\s+tmux\\s+defined`, "mu"))
  })
})

describe("errors and help", () => {
  it("an unknown session is exit 1 with one line on stderr and no stack trace", () => {
    sb.writeConfig({ [sb.name("x")]: tmuxEntry("sleep 300") })
    for (const cmd of ["status", "stop", "logs", "restart", "attach"]) {
      const r = sb.kstlib(["ops", cmd, sb.name("nope")])
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(1)
      expect(r.stderr.trim().split("\n"), cmd).toHaveLength(1)
      expect(r.stderr).toContain(`session '${sb.name("nope")}' not found`)
      expect(stackLines(r.stderr + r.stdout), cmd).toEqual([])
      expect(r.stdout, cmd).toBe("")
    }
  })

  it("usage errors exit 2: a bad -e, a missing NAME, an invalid name", () => {
    sb.writeConfig({})
    const env = sb.kstlib(["ops", "start", sb.name("e"), "-c", "sleep 300", "-e", "FOO"])
    expect(env.code).toBe(2)
    expect(env.stderr).toContain("Invalid environment variable format")
    expect(stackLines(env.stderr)).toEqual([])
    expect(sb.tmuxHas(sb.name("e"))).toBe(false)

    for (const cmd of ["start", "stop", "status", "logs", "restart", "attach", "send-keys", "exec"]) {
      const r = sb.kstlib(["ops", cmd])
      expect(r.code, `${cmd}: ${r.stdout}${r.stderr}`).toBe(2)
      expect(stackLines(r.stderr + r.stdout), cmd).toEqual([])
    }

    const name = sb.kstlib(["ops", "status", "1-bad-name"])
    expect(name.code).toBe(2)
    expect(name.stderr).toContain("Session name must start with letter")
  })

  it("validate names every rejected session as file:line: session 'x': field: reason, exit 1", () => {
    const [ok, bad1, bad2, bad3] = [sb.name("ok"), sb.name("bad1"), sb.name("bad2"), sb.name("bad3")]
    const lines = [
      "ops:",
      "  sessions:",
      `    ${ok}:`,
      "      backend: tmux",
      "      command: \"sleep 300\"",
      `    ${bad1}:`,
      "      backend: tmux",
      "      command: \"echo a; rm -rf /\"",
      `    ${bad2}:`,
      "      backend: container",
      "      image: \"Not A Valid Image\"",
      `    ${bad3}:`,
      "      backend: tmux",
      "      command: \"sleep 1\"",
      "      env:",
      "        LD_PRELOAD: /tmp/evil.so",
      ""
    ]
    sb.writeRaw(lines.join("\n"))
    const lineOf = (text: string) => lines.findIndex((l) => l.includes(text)) + 1

    const r = sb.kstlib(["ops", "validate"])
    expect(r.code, r.stdout + r.stderr).toBe(1)
    expect(r.stdout).toContain(`valid    ${ok} (tmux)`)
    expect(r.stdout).toContain("1 valid, 3 rejected")
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/gu, "\\$&")
    const issue = (name: string, field: string, line: number, reason: string) =>
      new RegExp(`${esc(sb.configPath)}:${line}: session '${name}': ${esc(field)}: ${reason}`, "u")
    expect(r.stderr).toMatch(issue(bad1, "command", lineOf("echo a;"), esc("unquoted ';' would chain commands, but no shell runs this command; quote it to pass it as an argument, or set shell: true")))
    expect(r.stderr).toMatch(issue(bad2, "image", lineOf("Not A Valid"), "Invalid image name format"))
    expect(r.stderr).toMatch(issue(bad3, "env.LD_PRELOAD", lineOf("LD_PRELOAD"), "Environment variable 'LD_PRELOAD' is blocked"))
    expect(r.stderr).not.toContain(`'${ok}'`)
    expect(stackLines(r.stderr)).toEqual([])

    const json = sb.kstlib(["ops", "validate", "--json"])
    expect(json.code).toBe(1)
    const doc = JSON.parse(json.stdout) as { valid: boolean; sessions: Array<{ name: string; valid: boolean }> }
    expect(doc.valid).toBe(false)
    expect(doc.sessions.map((x) => [x.name, x.valid])).toEqual([[ok, true], [bad1, false], [bad2, false], [bad3, false]])

    // The rejected entries are never run: apply reports them as blocked and creates the valid one.
    const apply = sb.kstlib(["ops", "apply"])
    expect(apply.code).toBe(1)
    expect(apply.stdout).toContain("3 blocked")
    expect(sb.tmuxHas(ok)).toBe(true)
    expect(sb.tmuxHas(bad1)).toBe(false)
    expect(sb.tmuxHas(bad3)).toBe(false)
  })

  it("--help of every ops subcommand exits 0 with an EXAMPLES section", () => {
    sb.writeConfig({})
    const subcommands = ["plan", "apply", "start", "stop", "restart", "attach", "status", "logs", "exec", "send-keys", "list", "validate", "config", "schema"]
    for (const cmd of subcommands) {
      const r = sb.kstlib(["ops", cmd, "--help"], { config: false })
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(0)
      expect(r.stdout, cmd).toMatch(/^EXAMPLES$/mu)
      expect(r.stdout, cmd).toContain(`kstlib ops ${cmd}`)
    }
    const schema = sb.kstlib(["ops", "schema"], { config: false })
    expect(schema.code).toBe(0)
    expect(JSON.parse(schema.stdout)).toHaveProperty("properties")
  })
})

describe("apply lock", () => {
  it("a second apply on the same config fails while one runs; with --wait-lock it waits, then has nothing to do", async () => {
    // Ctrl-C takes 6 s to be honoured: the replace below holds the lock at least that long.
    sb.file("slow.sh", "trap 'sleep 6; exit 0' INT\nwhile true; do sleep 1; done\n")
    const s = sb.name("slow")
    sb.writeConfig({ [s]: tmuxEntry("sh slow.sh", { working_dir: sb.dir }) })
    const created = sb.kstlib(["ops", "apply"])
    expect(created.code, created.stdout + created.stderr).toBe(0)

    sb.writeConfig({ [s]: tmuxEntry("sh slow.sh", { working_dir: sb.dir, env: { KT_GEN: "2" } }) })
    const plan = JSON.parse(sb.kstlib(["ops", "plan", "--json"]).stdout) as PlanJson
    expect(plan.steps.map((x) => [x.session, x.action])).toEqual([[s, "replace"]])

    const first = sb.kstlibBackground(["ops", "apply"])
    // The plan is printed once the lock is held, before any step runs.
    const holding = await eventually(() => (first.output().includes("Plan:") ? true : undefined), 100, 100)
    expect(holding, `first apply never printed its plan: ${first.output()}`).toBe(true)

    const second = sb.kstlib(["ops", "apply"])
    expect(second.code, second.stdout + second.stderr).toBe(1)
    expect(second.stderr).toContain("another kstlib apply")
    expect(second.stderr.trim().split("\n")).toHaveLength(1)

    // Still held by the first apply when the waiting one starts.
    const lock = lockPathFor({ files: [sb.configPath], project: (plan as PlanJson & { readonly project: string }).project }, sb.env)
    expect(readLockHolder(lock)?.pid).toBe(first.pid)
    const waiting = sb.kstlibBackground(["ops", "apply", "--wait-lock"])
    const [r1, r3] = await Promise.all([first.done, waiting.done])
    expect(r1.code, r1.stdout + r1.stderr).toBe(0)
    expect(r1.stdout).toContain("1 replaced")
    expect(r3.code, r3.stdout + r3.stderr).toBe(0)
    expect(r3.stdout).toContain("No changes")
    expect(existsSync(lock)).toBe(false)
  }, 90_000)
})

describe("Ctrl-C during apply", () => {
  it("stops launching steps, lets the running one finish, reports what ran and what did not, exit 130", async () => {
    // Four sessions on four sockets (four separate tasks), each taking 2 s to stop on Ctrl-C.
    sb.file("slow.sh", "trap 'sleep 2; exit 0' INT\nwhile true; do sleep 0.2; done\n")
    const names = ["a", "b", "c", "d"].map((x) => sb.name(x))
    const sessions = (command: string) =>
      Object.fromEntries(names.map((n, i) => [n, tmuxEntry(command, { working_dir: sb.dir, socket_name: `${sb.id}-${i}` })]))
    sb.writeConfig(sessions("sh slow.sh"))
    expect(sb.kstlib(["ops", "apply"]).code).toBe(0)
    const before = names.map((n, i) => sb.tmuxPids(`${sb.id}-${i}`).get(n))
    sb.writeConfig(sessions("sh  slow.sh")) // every session drifts: four replaces
    const bg = sb.kstlibBackground(["ops", "apply", "--parallel", "1"])
    await eventually(() => (bg.output().includes("Plan: 0 to create, 4 to replace") ? true : undefined), 50, 100)
    await new Promise((r) => setTimeout(r, 700)) // the first replace is stopping its old process
    process.kill(bg.pid, "SIGINT")
    const run = await bg.done
    expect(run.code).toBe(130)
    expect(run.stdout).toMatch(/Apply interrupted: 0 created, 1 replaced, .*, 3 not run\./u)
    expect(stackLines(run.stdout + run.stderr)).toEqual([])
    // The first finished its replace (new process); the other three were never touched.
    const after = names.map((n, i) => sb.tmuxPids(`${sb.id}-${i}`).get(n))
    expect(after[0]).toBeDefined()
    expect(after[0]).not.toBe(before[0])
    expect(after.slice(1)).toEqual(before.slice(1))
  })
})
