/**
 * The private env file of a container launch and the engine clients kstlib starts, on every way out
 * kstlib controls, through the built binary. The engine is a PATH shim `podman` (it answers `ps` and
 * `inspect` with nothing, `network` as Podman does, and records each `run`: its pid and the env file
 * it was given), so a `run` can hang on purpose and no real engine is driven. TMPDIR is the
 * sandbox's own, so the env files found there are this test's.
 */
import { spawnSync } from "node:child_process"
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, beforeEach, expect, it } from "vitest"
import { eventually, Sandbox, stackLines, tmuxEntry } from "./harness.js"

let sb: Sandbox
let tmp: string
beforeEach(() => {
  sb = new Sandbox()
  tmp = sb.subdir("tmp")
  // the lock lives in XDG_RUNTIME_DIR, not in the TMPDIR under test
  sb.env["XDG_RUNTIME_DIR"] = sb.subdir("run")
  sb.env["TMPDIR"] = tmp
})
afterEach(() => {
  for (const pid of shimPids()) for (const p of [pid, ...childrenOf(pid)]) kill(p)
  spawnSync("umount", [tmp], { stdio: "ignore" })
  sb.cleanup()
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const kill = (pid: number) => {
  try {
    process.kill(pid, "SIGKILL")
  } catch {
    // gone
  }
}

/** Running, and not a zombie (this machine's PID 1 does not reap orphans). */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z"
  } catch {
    return false
  }
}
const childrenOf = (pid: number): Array<number> => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/u).filter((x) => x !== "").map(Number)
  } catch {
    return []
  }
}

const log = () => join(sb.dir, "shim.log")
const shimPids = () => (existsSync(log()) ? readFileSync(log(), "utf8").split("\n").flatMap((l) => (l.startsWith("pid ") ? [Number(l.slice(4))] : [])) : [])
const envFilesSeen = () => (existsSync(log()) ? readFileSync(log(), "utf8").split("\n").flatMap((l) => (l.startsWith("env ") ? [l.slice(4)] : [])) : [])
const envDirs = () => readdirSync(tmp).filter((n) => n.startsWith("kstlib-env-"))

/**
 * `podman` first on PATH: `run` logs its pid and env file, then hangs (KT_HANG) or prints an id.
 * `network` answers as Podman 4.3 does: `inspect` of an absent network exits 125 with its wording,
 * `create` records the labels it was given (one `key=value` a line, in the sandbox), which a later
 * `inspect --format '{{json .Labels}}'` prints as JSON; `rm` forgets them.
 */
const shimPodman = () => {
  const bin = sb.subdir("shims")
  const networks = sb.subdir("shim-networks")
  writeFileSync(join(bin, "podman"), String.raw`#!/bin/sh
case "$1" in
  ps|container) echo '[]'; exit 0 ;;
  network)
    for a in "$@"; do name=$a; done
    case "$2" in
      create)
        : > '${networks}'/"$name"
        prev=
        for a in "$@"; do [ "$prev" = --label ] && echo "$a" >> '${networks}'/"$name"; prev=$a; done
        echo "$name"; exit 0 ;;
      inspect)
        if [ -f '${networks}'/"$name" ]; then
          awk 'BEGIN { printf "{" } { i = index($0, "="); printf "%s\"%s\":\"%s\"", (NR > 1 ? "," : ""), substr($0, 1, i - 1), substr($0, i + 1) } END { print "}" }' '${networks}'/"$name"
          exit 0
        fi
        echo "Error: inspecting object: network $name: unable to find network with name or ID $name: network not found" >&2
        exit 125 ;;
      rm) rm -f '${networks}'/"$name"; echo "$name"; exit 0 ;;
    esac
    exit 125 ;;
  run)
    echo "pid $$" >> '${log()}'
    prev=
    for a in "$@"; do [ "$prev" = --env-file ] && echo "env $a" >> '${log()}'; prev=$a; done
    if [ -n "$KT_HANG" ]; then sleep 300 & wait; fi
    echo 0123abcd; exit 0 ;;
esac
exit 0
`)
  chmodSync(join(bin, "podman"), 0o755)
  sb.env["PATH"] = `${bin}:${process.env["PATH"] ?? "/usr/bin:/bin"}`
}

const containerWithSecret = (name: string) => ({
  backend: "container",
  runtime: "podman",
  image: "localhost/kt-shim:1",
  command: "sleep 300",
  env: { KT_TOKEN: "kt-s3cret-value" }
})

it("second Ctrl-C during a hung `podman run`: exit 130, the env file is removed and the client's process group ended", async () => {
  shimPodman()
  const c = sb.name("c")
  sb.writeConfig({ [c]: containerWithSecret(c) })
  const bg = sb.kstlibBackground(["ops", "apply"], { env: { KT_HANG: "1" } })
  const run = await eventually(() => (shimPids().length > 0 && envFilesSeen().length > 0 ? shimPids()[0] : undefined), 100, 100)
  expect(run, `podman run never started: ${bg.output()}`).toBeDefined()
  await eventually(() => (childrenOf(run!).length > 0 ? true : undefined), 50, 100)
  const hung = [run!, ...childrenOf(run!)]
  const file = envFilesSeen()[0]!
  expect(readFileSync(file, "utf8")).toContain("KT_TOKEN=")
  process.kill(bg.pid, "SIGINT")
  await sleep(500)
  expect(alive(bg.pid)).toBe(true) // the first Ctrl-C waits for the running launch
  process.kill(bg.pid, "SIGINT")
  const r = await bg.done
  expect(r.code, r.stderr).toBe(130)
  expect(r.stderr).toContain(`Quit: left in an unknown state: ${c}.`)
  expect(stackLines(r.stdout + r.stderr)).toEqual([])
  expect(existsSync(file)).toBe(false)
  expect(envDirs()).toEqual([])
  expect(await eventually(() => (hung.every((p) => !alive(p)) ? true : undefined), 20, 100), `still running: ${hung.filter(alive).join(" ")}`).toBe(true)
})

it("after a SIGKILL the env file stays, and the next run removes it (never another live kstlib's)", async () => {
  shimPodman()
  const c = sb.name("c")
  sb.writeConfig({ [c]: containerWithSecret(c) })
  const bg = sb.kstlibBackground(["ops", "apply"], { env: { KT_HANG: "1" } })
  expect(await eventually(() => (envFilesSeen().length > 0 ? true : undefined), 100, 100), bg.output()).toBe(true)
  const file = envFilesSeen()[0]!
  // A second kstlib, alive, with its own file in the same TMPDIR.
  const other = sb.kstlibBackground(["ops", "apply", "--config", sb.file("other.yml", "ops:\n  sessions:\n    " + `${sb.name("o")}: { backend: container, runtime: podman, image: localhost/kt-shim:1, env: { KT_TOKEN: x } }\n`)], { env: { KT_HANG: "1" }, config: false })
  expect(await eventually(() => (envFilesSeen().length > 1 ? true : undefined), 100, 100), other.output()).toBe(true)
  const others = envFilesSeen()[1]!
  process.kill(bg.pid, "SIGKILL")
  await bg.done.catch(() => undefined)
  for (const pid of shimPids().slice(0, 1)) for (const p of [pid, ...childrenOf(pid)]) kill(p)
  expect(existsSync(file)).toBe(true) // nothing can run on SIGKILL

  // Any later kstlib command sweeps the files of dead kstlib processes.
  const list = sb.kstlib(["ops", "list"])
  expect(list.code, list.stderr).toBe(0)
  expect(existsSync(file)).toBe(false)
  expect(existsSync(others)).toBe(true) // its owner still runs
  process.kill(other.pid, "SIGINT")
  await sleep(500) // two signals at once would be one
  process.kill(other.pid, "SIGINT")
  expect((await other.done).code).toBe(130)
  expect(existsSync(others)).toBe(false)
})

// A full TMPDIR needs a tmpfs: only where this process may mount (root here and in CI).
const canMount = (() => {
  if (process.getuid?.() !== 0) return false
  const probe = new Sandbox()
  const ok = spawnSync("mount", ["-t", "tmpfs", "-o", "size=4k", "tmpfs", probe.dir], { stdio: "ignore" }).status === 0
  if (ok) spawnSync("umount", [probe.dir], { stdio: "ignore" })
  probe.cleanup()
  return ok
})()

it.skipIf(!canMount)("a full TMPDIR: the container's step fails with ENOSPC, the other steps run, the summary is printed, no partial file", () => {
  shimPodman()
  const c = sb.name("c")
  const t = sb.name("t")
  sb.writeConfig({ [c]: containerWithSecret(c), [t]: tmuxEntry("sleep 300") })
  expect(spawnSync("mount", ["-t", "tmpfs", "-o", "size=4k", "tmpfs", tmp]).status).toBe(0)
  spawnSync("sh", ["-c", `cat /dev/zero > '${tmp}/fill'`]) // fills the 4 KiB
  mkdirSync(join(tmp, "probe")) // a directory still fits (no data page): only the write fails
  const r = sb.kstlib(["ops", "apply"])
  expect(r.code, r.stdout + r.stderr).toBe(1)
  expect(stackLines(r.stdout + r.stderr)).toEqual([])
  expect(r.stdout).toMatch(new RegExp(`^FAILED \\+ ${c} .*\\n\\s+failed to start container session '${c}': cannot write the private env file in ${tmp}: ENOSPC`, "mu"))
  expect(r.stdout).toMatch(/Apply complete: 1 created, .* 1 failed/u)
  expect(sb.tmuxHas(t)).toBe(true)
  expect(shimPids()).toEqual([]) // podman run never ran
  expect(envDirs()).toEqual([])
})
