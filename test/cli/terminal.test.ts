/**
 * What depends on a terminal, through the built binary on a real pseudo-terminal (util-linux
 * `script`) and on plain pipes: the live progress line of apply, Ctrl-C during a long step (once:
 * wait; twice: exit 130), image pulls from a real registry on 127.0.0.1 (progress and a line per
 * image on a terminal, quiet `pull -q` on pipes), and colours of `ops list` / `ops plan` (--color,
 * FORCE_COLOR, NO_COLOR).
 */
import { spawn, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, afterEach, beforeEach, describe, expect, it } from "vitest"
import type { RuntimeName } from "../../src/model.js"
import { availableEngines } from "../support/engines.js"
import { hasRegistry, type LocalRegistry, startRegistry } from "../support/registry.js"
import { recordSkip } from "../support/skips.js"
import { BIN, containerEntry, eventually, Sandbox, stackLines, TEST_IMAGE, tmuxEntry } from "./harness.js"

const ANSI = /\u001b\[[0-9;]*m/u
/** Any carriage return or escape: what a pipe must never get from the progress line. */
const CONTROL = /[\r\u001b]/u
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const q = (s: string) => `'${s.replace(/'/gu, `'\\''`)}'`

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => {
  sb.cleanup()
})

/** The sandbox's env with these changes (`undefined` removes a variable). */
const envWith = (changes: Record<string, string | undefined>) => {
  const env: NodeJS.ProcessEnv = { ...sb.env, TERM: "xterm-256color" }
  for (const k of ["NO_COLOR", "FORCE_COLOR", "CI"]) delete env[k]
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  return env
}

/** `kstlib <args> --config …` on pipes. */
const onPipes = (args: ReadonlyArray<string>, env: Record<string, string | undefined> = {}) => {
  const r = spawnSync(process.execPath, [BIN, ...args, "--config", sb.configPath], { cwd: sb.dir, env: envWith(env), encoding: "utf8", timeout: 60_000 })
  if (r.status === null) throw new Error(`kstlib ${args.join(" ")}: ${r.error?.message ?? r.signal}`)
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

let ptyRuns = 0
/**
 * `kstlib <args> --config …` on a pseudo-terminal (stdout and stderr both, or stderr to a file):
 * what the terminal showed (\r kept), stderr when apart, the exit code.
 */
const onPty = (args: ReadonlyArray<string>, env: Record<string, string | undefined> = {}, options: { readonly stderrApart?: boolean } = {}) => {
  const n = ++ptyRuns
  const errFile = join(sb.dir, `err-${n}`)
  const codeFile = join(sb.dir, `code-${n}`)
  const argv = [process.execPath, BIN, ...args, "--config", sb.configPath].map(q).join(" ")
  const cmd = `${argv}${options.stderrApart === true ? ` 2>${q(errFile)}` : ""}; echo $? >${q(codeFile)}`
  const r = spawnSync("script", ["-qfec", cmd, "/dev/null"], { cwd: sb.dir, env: envWith(env), encoding: "utf8", timeout: 90_000, stdio: ["ignore", "pipe", "pipe"] })
  if (r.status === null) throw new Error(`script: ${r.error?.message ?? r.signal}`)
  return {
    tty: r.stdout,
    stderr: options.stderrApart === true ? readFileSync(errFile, "utf8") : "",
    code: Number(readFileSync(codeFile, "utf8").trim())
  }
}

/**
 * A tmux session slow to stop: its Ctrl-C handler takes 20 s, so a graceful stop lasts the whole
 * --timeout (a command that IGNORES the stop signal is not waited for: it cannot end on it).
 */
const stubborn = () => {
  const script = sb.file("stubborn.sh", "trap 'sleep 20; exit 0' INT\necho up\nwhile :; do sleep 1; done\n")
  const name = sb.name("slow")
  const running = { [name]: tmuxEntry(`sh ${script}`) }
  sb.writeConfig(running)
  const r = sb.kstlib(["ops", "apply"])
  expect(r.code, r.stdout + r.stderr).toBe(0)
  // Next apply: stop it (a step of ~--timeout seconds).
  sb.writeConfig({ [name]: tmuxEntry(`sh ${script}`, { state: "stopped" }) })
  return name
}

describe("apply's progress", () => {
  it("on a terminal: the live line '… NAME stop Ns' while a step runs over a second", () => {
    const name = stubborn()
    const r = onPty(["ops", "apply", "-t", "3"])
    expect(r.code, r.tty).toBe(0)
    expect(r.tty).toMatch(new RegExp(`… ${name} stop [1-9]s\\r\\u001b\\[2K`, "u"))
    expect(r.tty).toContain("Apply complete")
  })

  it("without a terminal: no live line, no carriage return or escape on either stream", () => {
    const name = stubborn()
    const r = onPipes(["ops", "apply", "-t", "3"])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`${name}`)
    expect(r.stdout).toContain("Apply complete")
    expect(r.stdout).not.toMatch(CONTROL)
    expect(r.stderr).not.toMatch(CONTROL)
    expect(r.stderr).not.toContain("…")
  })

  it("Ctrl-C once: waits for the running step; twice: exit 130, naming what is left unknown", async () => {
    const name = stubborn()
    const bg = sb.kstlibBackground(["ops", "apply", "-t", "30"])
    // The plan is printed when the steps start.
    expect(await eventually(() => (bg.output().includes("Plan:") ? true : undefined), 100, 100)).toBe(true)
    await sleep(500)
    process.kill(bg.pid, "SIGINT")
    await sleep(1000)
    // Still running: it waits.
    expect(existsSync(`/proc/${bg.pid}`)).toBe(true)
    process.kill(bg.pid, "SIGINT")
    const r = await bg.done
    expect(r.code, r.stderr).toBe(130)
    expect(r.stderr).toContain(`Interrupted: waiting for 1 running step(s) to finish: ${name}. Press Ctrl-C again to quit now.`)
    expect(r.stderr).toContain(`Quit: left in an unknown state: ${name}.`)
    expect(stackLines(r.stderr)).toEqual([])
  })
})

/** The engines to pull with: only where a registry can be started. */
const pullEngines: Array<RuntimeName> = hasRegistry ? availableEngines() : []
if (!hasRegistry) recordSkip("test/cli/terminal.test.ts", "pull progress needs /usr/bin/docker-registry (bash .ci/engines.sh installs it)")

describe.skipIf(pullEngines.length === 0)("pulls' progress", () => {
  let registry: LocalRegistry | undefined
  beforeAll(async () => {
    registry = await startRegistry()
  }, 30_000)
  afterAll(() => registry?.stop())

  /**
   * The test image pushed to the registry as `tag` and removed from the engine: the next apply pulls
   * it. `fresh`: with a layer of its own on top (built offline), so the pull downloads a layer the
   * engine lacks, not only the manifest.
   */
  const pushed = (rt: RuntimeName, tag: string, fresh = false) => {
    const image = `${registry!.address}/${sb.name(rt)}:${tag}`
    if (fresh) {
      const context = sb.subdir(`layer-${rt}`)
      writeFileSync(join(context, "Dockerfile"), `FROM ${TEST_IMAGE}\nCOPY r /r\n`)
      writeFileSync(join(context, "r"), randomBytes(256 * 1024))
      const built = sb.rt(rt, ["build", "-t", image, context])
      expect(built.code, built.stderr).toBe(0)
    } else expect(sb.rt(rt, ["tag", TEST_IMAGE, image]).code).toBe(0)
    const push = sb.rt(rt, rt === "podman" ? ["push", "--tls-verify=false", image] : ["push", image])
    expect(push.code, push.stderr).toBe(0)
    expect(sb.rt(rt, ["rmi", image]).code).toBe(0)
    return image
  }

  const rmForce = (rt: RuntimeName, name: string) => sb.rt(rt, ["rm", "-f", ...(rt === "podman" ? ["-t", "0"] : []), name])

  it.each(pullEngines)("%s: on a terminal the pull shows the engine's progress and leaves a line per image; on pipes it is quiet; a failure names image and registry", (rt) => {
    const env = { CONTAINERS_REGISTRIES_CONF: registry!.registriesConf }
    const name = sb.name("pulled")
    const image = pushed(rt, "1")
    try {
      sb.writeConfig({ [name]: containerEntry(rt, "sleep 300", { image, network_mode: "none" }) })
      const tty = onPty(["--log-level", "debug", "ops", "apply"], env)
      expect(tty.code, tty.tty).toBe(0)
      expect(tty.tty).toContain(`pulled ${image} from ${registry!.address} (`)
      // the engine's own progress was asked for (no -q): its lines feed the live line
      expect(tty.tty).toMatch(new RegExp(`${rt} pull -- ${image.replace(/[.]/gu, "\\.")}`, "u"))
      expect(sb.containerState(rt, name)).toBe("running")

      // on pipes: quiet, no line of its own
      expect(rmForce(rt, name).code).toBe(0)
      expect(sb.rt(rt, ["rmi", image]).code).toBe(0)
      const piped = onPipes(["--log-level", "debug", "ops", "apply"], env)
      expect(piped.code, piped.stderr).toBe(0)
      expect(piped.stderr).toContain(`${rt} pull -q -- ${image}`)
      expect(piped.stdout + piped.stderr).not.toContain(`pulled ${image}`)
      expect(piped.stdout).not.toMatch(CONTROL)

      // a tag the registry lacks: the step fails with the engine's words, image and registry named
      const absent = `${registry!.address}/${sb.name(rt)}:absent`
      const other = sb.name("absent")
      sb.writeConfig({ [name]: containerEntry(rt, "sleep 300", { image, network_mode: "none" }), [other]: containerEntry(rt, "sleep 300", { image: absent, network_mode: "none" }) })
      const failed = onPty(["ops", "apply"], env)
      expect(failed.code, failed.tty).toBe(1)
      expect(failed.tty).toContain(`pull of ${absent} from ${registry!.address} failed (`)
      expect(failed.tty).toMatch(new RegExp(`pulling image ${absent.replace(/[.]/gu, "\\.")} from ${registry!.address.replace(/[.]/gu, "\\.")} failed: .*(manifest unknown|not found)`, "u"))
      expect(sb.containerId(rt, other)).toBeNull()
    } finally {
      rmForce(rt, name)
      sb.rt(rt, ["rmi", image])
    }
  }, 180_000)

  /**
   * A registry that answers slowly: a TCP proxy (its own process: the test's event loop is blocked
   * while the CLI runs) passing the registry's replies on 1.2 s late, so a pull takes seconds.
   */
  const SLOW_PROXY = `const net = require("node:net")
const [target, delay] = process.argv.slice(2).map(Number)
const server = net.createServer((c) => {
  const u = net.connect(target, "127.0.0.1")
  const end = () => { c.destroy(); u.destroy() }
  c.on("data", (d) => u.write(d))
  u.on("data", (d) => setTimeout(() => c.write(d), delay))
  u.on("end", () => setTimeout(() => c.end(), delay))
  c.on("error", end); u.on("error", end); c.on("close", () => u.destroy())
})
server.listen(0, "127.0.0.1", () => console.log(server.address().port))
`

  it.each(pullEngines)("%s: a slow pull is on the live line with the engine's last line while it runs", async (rt) => {
    const proxy = spawn(process.execPath, [sb.file("slow-proxy.cjs", SLOW_PROXY), registry!.address.split(":")[1]!, "1200"], { stdio: ["ignore", "pipe", "ignore"] })
    const name = sb.name("slow")
    let image = ""
    try {
      const port = await new Promise<string>((resolve) => proxy.stdout.once("data", (d: Buffer) => resolve(d.toString().trim())))
      const via = `127.0.0.1:${port}`
      image = pushed(rt, "slow", true).replace(registry!.address, via)
      const conf = sb.file("registries.conf", `[[registry]]\nlocation = "${via}"\ninsecure = true\n`)
      sb.writeConfig({ [name]: containerEntry(rt, "sleep 300", { image, network_mode: "none" }) })
      const tty = onPty(["ops", "apply"], { CONTAINERS_REGISTRIES_CONF: conf })
      expect(tty.code, tty.tty).toBe(0)
      expect(tty.tty).toMatch(new RegExp(`… .*pull ${image.replace(/[.]/gu, "\\.")} [1-9][0-9]*s: \\S`, "u"))
      expect(tty.tty).toContain(`pulled ${image} from ${via} (`)
    } finally {
      proxy.kill()
      rmForce(rt, name)
      if (image !== "") sb.rt(rt, ["rmi", image])
    }
  }, 180_000)
})

describe("colours of ops list and ops plan", () => {
  const config = () => sb.writeConfig({ [sb.name("alpha")]: tmuxEntry("sleep 300") })

  describe.each([["list"], ["plan"]])("ops %s", (command) => {
    it("on pipes: none by default or with NO_COLOR; on with --color always or FORCE_COLOR=1", () => {
      config()
      const expectations: ReadonlyArray<readonly [ReadonlyArray<string>, Record<string, string>, boolean]> = [
        [[], {}, false],
        [[], { NO_COLOR: "1" }, false],
        [[], { FORCE_COLOR: "1" }, true],
        [[], { FORCE_COLOR: "1", NO_COLOR: "1" }, false],
        [["--color", "always"], {}, true],
        [["--color", "always"], { NO_COLOR: "1" }, true],
        [["--color", "never"], { FORCE_COLOR: "1" }, false]
      ]
      for (const [flags, env, colour] of expectations) {
        const r = onPipes(["ops", command, ...flags], env)
        expect(r.code, r.stderr).toBe(0)
        expect(r.stdout).toContain(sb.name("alpha"))
        if (colour) expect(r.stdout, JSON.stringify([flags, env])).toMatch(ANSI)
        else expect(r.stdout, JSON.stringify([flags, env])).not.toMatch(ANSI)
      }
    })

    it("on a terminal: on by default; off with NO_COLOR or --color never; --color always wins over NO_COLOR", () => {
      config()
      const expectations: ReadonlyArray<readonly [ReadonlyArray<string>, Record<string, string>, boolean]> = [
        [[], {}, true],
        [[], { NO_COLOR: "1" }, false],
        [["--color", "never"], {}, false],
        [["--color", "always"], { NO_COLOR: "1" }, true]
      ]
      for (const [flags, env, colour] of expectations) {
        const r = onPty(["ops", command, ...flags], env, { stderrApart: true })
        expect(r.code, r.stderr).toBe(0)
        expect(r.tty).toContain(sb.name("alpha"))
        if (colour) expect(r.tty, JSON.stringify([flags, env])).toMatch(ANSI)
        else expect(r.tty, JSON.stringify([flags, env])).not.toMatch(ANSI)
      }
    })
  })
})
