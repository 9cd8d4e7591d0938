/**
 * Harness for the end-to-end CLI tests: runs the BUILT binary (`dist/cli/bin.js`, the package's bin, which loads the bundle; build first) as a
 * child process, in a sandbox per test: its own temp dir (cwd, HOME, config file), its own
 * TMUX_TMPDIR (so the "default" tmux server and socket discovery only see the test's servers) and a
 * unique name prefix `kt-<id>-` for every session and container. `cleanup()` kills the sandbox's
 * tmux servers, removes every container and image tag carrying the prefix, and deletes the dir.
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, join } from "node:path"
import { fileURLToPath } from "node:url"
import { stringify } from "yaml"
import type { RuntimeName } from "../../src/model.js"
// Imported for its side effect too: CONTAINERS_CONF / DOCKER_HOST for every child process.
import { availableEngines, TEST_IMAGE } from "../support/engines.js"

export { TEST_IMAGE }

export const BIN = fileURLToPath(new URL("../../dist/cli/bin.js", import.meta.url))

if (!existsSync(BIN) || !existsSync(fileURLToPath(new URL("../../dist/kstlib.cjs", import.meta.url)))) throw new Error(`${BIN} is missing: run \`npm run build\` before the CLI tests`)

export interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const CHILD_TIMEOUT = 90_000

const finish = (what: string, r: ReturnType<typeof spawnSync>): Run => {
  if (r.error !== undefined) throw new Error(`${what}: ${r.error.message}`)
  if (r.status === null) throw new Error(`${what}: killed by ${r.signal}\nstdout: ${String(r.stdout)}\nstderr: ${String(r.stderr)}`)
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) }
}

/** A background `kstlib` run: its output so far, and its end. */
export interface Background {
  readonly pid: number
  readonly output: () => string
  readonly done: Promise<Run>
}

export interface RunOptions {
  /** false: no `--config` appended (the cascade from `cwd` finds the file). */
  readonly config?: boolean
  readonly cwd?: string
  readonly env?: Readonly<Record<string, string | undefined>>
}

export interface SessionEntry {
  readonly [key: string]: unknown
}

export const rnd = () => Math.random().toString(36).slice(2, 8)

const uid = process.getuid?.() ?? 0

/** Every stack-trace line (`    at f (file:1:2)`), to assert that expected errors print none. */
export const stackLines = (text: string) => text.split("\n").filter((l) => /^\s+at\s/u.test(l))

export class Sandbox {
  readonly id = rnd()
  readonly dir: string
  readonly home: string
  readonly tmuxTmp: string
  readonly configPath: string
  readonly env: NodeJS.ProcessEnv
  private readonly imageTags: Array<[RuntimeName, string]> = []

  constructor() {
    // Short paths: a tmux socket path must stay under ~107 bytes.
    this.dir = mkdtempSync(join(tmpdir(), "kt-"))
    this.home = join(this.dir, "home")
    this.tmuxTmp = join(this.dir, "tmx")
    mkdirSync(this.home)
    mkdirSync(this.tmuxTmp)
    this.configPath = join(this.dir, "kstlib.conf.yml")
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: this.home, TMUX_TMPDIR: this.tmuxTmp, NO_COLOR: "1" }
    // Nothing from the developer's own setup may leak in.
    for (const k of ["TMUX", "TMUX_PANE", "KSTLIB_CONFIG", "XDG_CONFIG_HOME", "XDG_STATE_HOME"]) delete env[k]
    this.env = env
  }

  /** `kt-<id>-<suffix>`: unique to this test, and what cleanup() looks for. */
  name(suffix: string): string {
    return `kt-${this.id}-${suffix}`
  }

  get prefix(): string {
    return `kt-${this.id}-`
  }

  /** Writes `ops.sessions` (as YAML, one key per line, so validate can name lines). */
  writeConfig(sessions: Readonly<Record<string, SessionEntry>>, extra: Readonly<Record<string, unknown>> = {}): void {
    writeFileSync(this.configPath, stringify({ ops: { ...extra, sessions } }))
  }

  writeRaw(text: string): void {
    writeFileSync(this.configPath, text)
  }

  /** A file in the sandbox dir (scripts the sessions run). */
  file(name: string, text: string): string {
    const p = join(this.dir, name)
    writeFileSync(p, text)
    return p
  }

  /**
   * A directory inside the sandbox (a second project: run with `{ cwd, config: false }`); it shares
   * the sandbox's HOME, TMUX_TMPDIR and name prefix, so cleanup() covers it.
   */
  subdir(name: string): string {
    const p = join(this.dir, name)
    mkdirSync(p, { recursive: true })
    return p
  }

  /**
   * `kstlib <args>` with `--config` appended for ops commands, synchronously. `cwd` (default the
   * sandbox dir) and `env` (added to the sandbox's; `undefined` removes a variable) per call.
   */
  kstlib(args: ReadonlyArray<string>, options: RunOptions = {}): Run {
    const argv = this.argv(args, options)
    return finish(`kstlib ${argv.join(" ")}`, spawnSync(process.execPath, [BIN, ...argv], {
      cwd: options.cwd ?? this.dir,
      env: this.envWith(options.env),
      encoding: "utf8",
      timeout: CHILD_TIMEOUT
    }))
  }

  /** `kstlib <args>` in the background. */
  kstlibBackground(args: ReadonlyArray<string>, options: RunOptions = {}): Background {
    const argv = this.argv(args, options)
    const child = spawn(process.execPath, [BIN, ...argv], { cwd: options.cwd ?? this.dir, env: this.envWith(options.env), stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => void (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => void (stderr += d.toString()))
    const done = new Promise<Run>((resolve, reject) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT)
      child.on("error", reject)
      child.on("close", (code, signal) => {
        clearTimeout(timer)
        if (code === null) reject(new Error(`kstlib ${argv.join(" ")}: killed by ${signal}\n${stdout}\n${stderr}`))
        else resolve({ code, stdout, stderr })
      })
    })
    return { pid: child.pid!, output: () => stdout, done }
  }

  private envWith(extra: RunOptions["env"]): NodeJS.ProcessEnv {
    if (extra === undefined) return this.env
    const env = { ...this.env, ...extra }
    for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k]
    return env
  }

  private argv(args: ReadonlyArray<string>, options: { readonly config?: boolean }): Array<string> {
    // `--config` is a flag of `ops`'s subcommands; it goes before a `--` separator if any.
    if (options.config === false || args[0] !== "ops") return [...args]
    const sep = args.indexOf("--")
    return sep === -1 ? [...args, "--config", this.configPath] : [...args.slice(0, sep), "--config", this.configPath, ...args.slice(sep)]
  }

  /** `tmux <args>` against this sandbox's TMUX_TMPDIR. */
  tmux(args: ReadonlyArray<string>): Run {
    return finish(`tmux ${args.join(" ")}`, spawnSync("tmux", args, { env: this.env, encoding: "utf8", timeout: 30_000 }))
  }

  /** pid of the first pane of each session on a socket (null = the default server): name → pid. */
  tmuxPids(socket: string | null = null): Map<string, number> {
    const r = this.tmux([...(socket === null ? [] : ["-L", socket]), "list-panes", "-a", "-F", "#{session_name} #{pane_pid}"])
    const out = new Map<string, number>()
    if (r.code !== 0) return out
    for (const line of r.stdout.split("\n").filter((l) => l !== "")) {
      const [n, pid] = line.split(" ")
      if (!out.has(n!)) out.set(n!, Number(pid))
    }
    return out
  }

  /** The tmux sockets (servers) that exist under this sandbox's TMUX_TMPDIR. */
  tmuxSockets(): Array<string> {
    const sockDir = join(this.tmuxTmp, `tmux-${uid}`)
    return existsSync(sockDir) ? readdirSync(sockDir).sort() : []
  }

  tmuxHas(name: string, socket: string | null = null): boolean {
    return this.tmux([...(socket === null ? [] : ["-L", socket]), "has-session", "-t", `=${name}`]).code === 0
  }

  /** `<runtime> <args>`. */
  rt(runtime: RuntimeName, args: ReadonlyArray<string>): Run {
    return finish(`${runtime} ${args.join(" ")}`, spawnSync(runtime, args, { env: this.env, encoding: "utf8", timeout: 60_000 }))
  }

  /** Container id, or null when no such container. */
  containerId(runtime: RuntimeName, name: string): string | null {
    const r = this.rt(runtime, ["container", "inspect", "--format", "{{.Id}}", name])
    return r.code === 0 ? r.stdout.trim() : null
  }

  /** `{{.State.Status}}` (running, exited, ...), or null when no such container. */
  containerState(runtime: RuntimeName, name: string): string | null {
    const r = this.rt(runtime, ["container", "inspect", "--format", "{{.State.Status}}", name])
    return r.code === 0 ? r.stdout.trim() : null
  }

  /** This test's containers (by name prefix) on a runtime. */
  containers(runtime: RuntimeName): Array<string> {
    const r = this.rt(runtime, ["ps", "-a", "--format", "{{.Names}}"])
    return r.stdout.split("\n").map((s) => s.trim()).filter((s) => s.startsWith(this.prefix)).sort()
  }

  /** Tags the test image under a second name (removed by cleanup). */
  tagImage(runtime: RuntimeName, suffix: string): string {
    const tag = `localhost/${this.name("img")}:${suffix}`
    const r = this.rt(runtime, ["tag", TEST_IMAGE, tag])
    if (r.code !== 0) throw new Error(`${runtime} tag failed: ${r.stderr}`)
    this.imageTags.push([runtime, tag])
    return tag
  }

  cleanup(): void {
    const sockDir = join(this.tmuxTmp, `tmux-${uid}`)
    if (existsSync(sockDir)) {
      for (const s of readdirSync(sockDir)) this.tmux(["-L", s, "kill-server"])
    }
    for (const runtime of availableEngines()) {
      const mine = this.containers(runtime)
      // the sandbox project's network (its directory's name is the project: unique to this test),
      // also when kstlib already removed its containers (a stop deletes kstlib's own)
      const own = `kstlib-${basename(this.dir).toLowerCase()}`
      if (mine.length === 0) {
        this.rt(runtime, ["network", "rm", own])
        continue
      }
      // the project networks kstlib put them on (kstlib-<project>), removed after them when empty
      const networks = this.rt(runtime, ["container", "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", ...mine])
        .stdout.split(/\s+/u).filter((n) => n.startsWith("kstlib-"))
      this.rt(runtime, ["rm", "-f", ...(runtime === "podman" ? ["-t", "0"] : []), ...mine])
      for (const n of new Set([...networks, own])) this.rt(runtime, ["network", "rm", n])
    }
    for (const [runtime, tag] of this.imageTags) this.rt(runtime, ["rmi", tag])
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Polls `check` until it returns a value (not undefined) or `tries` run out; returns the last value seen. */
export const eventually = async <A>(check: () => A | undefined, tries = 50, everyMs = 200): Promise<A | undefined> => {
  for (let i = 0; i < tries; i++) {
    const v = check()
    if (v !== undefined) return v
    await new Promise((r) => setTimeout(r, everyMs))
  }
  return undefined
}

/** A session spec in config form. */
export const tmuxEntry = (command: string, extra: SessionEntry = {}): SessionEntry => ({ backend: "tmux", command, ...extra })

export const containerEntry = (runtime: RuntimeName, command: string, extra: SessionEntry = {}): SessionEntry => ({
  backend: "container",
  runtime,
  image: TEST_IMAGE,
  command,
  ...extra
})

/**
 * A script that runs until SIGTERM / SIGINT and exits 0 at once (a container's PID 1 ignores signals
 * it has no handler for; this keeps graceful stops quick).
 */
export const LOOP_SH = "trap 'exit 0' TERM INT\necho loop-started\nsleep 300 &\nwait\n"
/** A script that dies right after starting, with output and a known exit code. */
/**
 * Dies at once (well within the 0.5 s settle) with output. The short pause before exiting is for
 * tmux 3.3a, which now and then loses the last output of a process exiting right after printing.
 */
export const FAIL_SH = "echo boom-output\nsleep 0.1\nexit 7\n"

export type PlanJson = {
  readonly changed: boolean
  readonly summary: Record<string, number>
  readonly steps: ReadonlyArray<{
    readonly action: string
    readonly session: string
    readonly backend: string
    readonly cause: string
    readonly changes: ReadonlyArray<{ readonly field: string; readonly from?: string | null; readonly to?: string | null; readonly change?: string }>
  }>
  readonly orphans: ReadonlyArray<string>
  readonly unchanged: ReadonlyArray<string>
}

export type StatusJson = {
  readonly name: string
  readonly state: string
  readonly backend: string
  readonly pid: number | null
  readonly created_at: string | null
  readonly window_count: number
  readonly socket_name: string | null
  readonly image: string | null
  readonly exit_code: number | null
  readonly runtime: string | null
  readonly owned: boolean
  readonly in_sync: boolean | null
  readonly in_config: boolean
  /** Readings of the moment (running sessions): CPU over the last window, resident memory. */
  readonly cpu_percent?: number | null
  readonly memory_bytes?: number | null
}

export const SUMMARY_LINE = /^Plan: \d+ to create, \d+ to replace, \d+ to start, \d+ to stop, \d+ to prune\./mu
