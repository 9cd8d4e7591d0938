/**
 * `runtime: swarm` against a REAL Docker Swarm: a private dockerd started by this file (its own
 * data/exec roots, socket, containerd namespaces; never the shared /tmp/kstlib-dockerd daemon), made
 * a swarm manager, the test image imported offline (a busybox-static rootfs, as .ci/engines.sh
 * does). Through the backend registry (create, observe, update in place, stop = scale 0, remove =
 * service rm) and through the built CLI (`ops apply/plan/stop/down`, `apply --prune`) with DOCKER_HOST
 * pointing at that daemon, the project's services on its overlay network (found by name there,
 * removed with them, a foreign one of that name refused). The daemon is killed and its directories
 * removed in a finalizer.
 */
import { NodeServices } from "@effect/platform-node"
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, copyFileSync, chmodSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Layer, Result } from "effect"
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest"
import { Backends } from "../../src/backends/registry.js"
import type { ObservedContainer } from "../../src/model.js"
import { recordSkip } from "../support/skips.js"
import { containerSpec, fingerprint, launchOf, PROJECT } from "../../src/testing/specs.js"
import { diffFingerprints } from "../../src/spec/diff.js"

const IMAGE = "localhost/kstlib-busybox:latest"
const have = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0
const usable = process.getuid?.() === 0 && have("dockerd") && have("docker") && existsSync("/bin/busybox")
if (!usable) recordSkip("test/integration/swarm.test.ts", "needs root, dockerd, docker and /bin/busybox (bash .ci/engines.sh installs them)")

let dir = ""
let host = ""
let daemon: ReturnType<typeof spawn> | null = null

const docker = (args: ReadonlyArray<string>) => {
  const r = spawnSync("docker", args, { env: { ...process.env, DOCKER_HOST: host }, encoding: "utf8", timeout: 120_000 })
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * The daemon's own bridge. NOT `--bridge=none`: a dockerd started with it deletes the host's
 * `docker0` interface, which breaks every other daemon (the shared test dockerd) using it.
 */
const bridge = `ksw${Math.random().toString(36).slice(2, 9)}`
const ip = (args: ReadonlyArray<string>) => spawnSync("ip", args, { encoding: "utf8" })
const hadGwBridge = ip(["link", "show", "docker_gwbridge"]).status === 0

beforeAll(async () => {
  if (!usable) return
  dir = mkdtempSync("/tmp/ksw-")
  expect(ip(["link", "add", "name", bridge, "type", "bridge"]).status).toBe(0)
  ip(["addr", "add", `10.213.${Math.floor(Math.random() * 250) + 1}.1/24`, "dev", bridge])
  ip(["link", "set", bridge, "up"])
  for (const d of ["data", "exec"]) mkdirSync(join(dir, d))
  host = `unix://${dir}/docker.sock`
  const log = join(dir, "dockerd.log")
  writeFileSync(log, "")
  daemon = spawn("dockerd", [
    "--storage-driver=vfs", "--iptables=false", `--bridge=${bridge}`,
    `--data-root=${dir}/data`, `--exec-root=${dir}/exec`, `--pidfile=${dir}/dockerd.pid`,
    `--containerd-namespace=ksw-${dir.slice(-6)}`, `--containerd-plugins-namespace=ksw-${dir.slice(-6)}-p`,
    "-H", host
  ], { stdio: ["ignore", "ignore", "ignore"], detached: true })
  for (let i = 0; i < 120 && docker(["info"]).code !== 0; i++) await sleep(500)
  expect(docker(["info"]).code, readFileSync(log, "utf8")).toBe(0)
  // Own ports: another swarm on this machine (a developer's) may hold the defaults 2377 / 4789.
  const port = 20000 + Math.floor(Math.random() * 20000)
  const init = docker(["swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", `127.0.0.1:${port}`, "--data-path-port", String(port + 1)])
  expect(init.code, init.stderr).toBe(0)
  // The test image, offline: a busybox-static rootfs.
  const root = join(dir, "rootfs")
  for (const d of ["bin", "etc", "tmp", "root", "proc", "sys", "dev"]) mkdirSync(join(root, d), { recursive: true })
  copyFileSync("/bin/busybox", join(root, "bin/busybox"))
  chmodSync(join(root, "bin/busybox"), 0o755)
  for (const applet of spawnSync("/bin/busybox", ["--list"], { encoding: "utf8" }).stdout.split("\n").filter((a) => a !== "" && a !== "busybox")) {
    symlinkSync("busybox", join(root, "bin", applet))
  }
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")
  expect(spawnSync("tar", ["-C", root, "-cf", join(dir, "rootfs.tar"), "."]).status).toBe(0)
  const imp = docker(["import", "--change", "CMD [\"sh\"]", "--change", "ENV PATH=/bin", join(dir, "rootfs.tar"), IMAGE])
  expect(imp.code, imp.stderr).toBe(0)
  process.env["DOCKER_HOST"] = host
}, 180_000)

afterAll(async () => {
  if (daemon === null) return
  const ids = docker(["service", "ls", "-q"]).stdout.split("\n").filter((s) => s !== "")
  if (ids.length > 0) docker(["service", "rm", ...ids])
  for (let i = 0; i < 60 && docker(["ps", "-q"]).stdout.trim() !== ""; i++) await sleep(500)
  docker(["swarm", "leave", "--force"])
  const pid = daemon.pid!
  try {
    process.kill(pid, "SIGTERM")
  } catch {
    // already gone
  }
  for (let i = 0; i < 60; i++) {
    try {
      process.kill(pid, 0)
      await sleep(500)
    } catch {
      break
    }
  }
  try {
    process.kill(pid, "SIGKILL")
  } catch {
    // gone
  }
  spawnSync("umount", ["-R", join(dir, "exec")], { stdio: "ignore" })
  rmSync(dir, { recursive: true, force: true })
  ip(["link", "delete", bridge])
  // swarm's host bridge, when this test made it
  if (!hadGwBridge) ip(["link", "delete", "docker_gwbridge"])
}, 120_000)

const services = () =>
  docker(["service", "ls", "--format", "{{.Name}} {{.Replicas}} {{.ID}}"]).stdout.split("\n").filter((l) => l !== "").map((l) => {
    const [name, replicas, id] = l.split(" ")
    return { name: name!, replicas: replicas!, id: id! }
  })

const BackendsLive = Backends.layerWith.pipe(Layer.provide(NodeServices.layer))
const withBackends = <A, E>(f: (b: Backends["Service"]) => Effect.Effect<A, E>) =>
  Effect.runPromise(Effect.gen(function*() {
    return yield* f(yield* Backends)
  }).pipe(Effect.provide(BackendsLive)))

describe.runIf(usable)("swarm backend (own dockerd in swarm mode)", () => {
  it("create, observe, update in place, stop (scale 0), start, remove", async () => {
    const spec = containerSpec("ksw-api", { runtime: "swarm", image: IMAGE, command: "sleep 300", env: { TOKEN: "t0ken" }, replicas: 2 })
    const launched = await withBackends((b) => b.launch([launchOf(spec)], { project: PROJECT }))
    expect(launched.map((r) => (Result.isFailure(r) ? r.failure.message : "ok"))).toEqual(["ok"])
    expect(services().find((s) => s.name === "ksw-api")?.replicas).toBe("2/2")
    // env values never on the service's command line: only in its env
    expect(docker(["service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Env}}", "ksw-api"]).stdout).toContain("TOKEN=t0ken")

    const seen = async () => {
      const obs = await withBackends((b) => b.observe({ sockets: [] }, ["container"]))
      expect(obs.flatMap((x) => x.answered)).toContainEqual({ backend: "container", runtime: "swarm" })
      return obs.flatMap((x) => x.sessions).find((o): o is ObservedContainer => o.backend === "container" && o.runtime === "swarm" && o.name === "ksw-api")
    }
    const o = await seen()
    expect(o).toMatchObject({ state: "running", image: IMAGE, mark: { managed: true, project: PROJECT } })

    const id = services().find((s) => s.name === "ksw-api")!.id
    const changed = { ...spec, command: "sleep 301", replicas: 1 }
    expect(await withBackends((b) => Effect.succeed(b.updatesInPlace(o!, changed)))).toBe(true)
    // a replace of the same place: the planner's changes say the update can be made in place
    const changes = diffFingerprints(o!.mark.applied, fingerprint(changed))
    const updated = await withBackends((b) => b.launch([{ ...launchOf(changed), changes }], { project: PROJECT }))
    expect(updated.every(Result.isSuccess)).toBe(true)
    const after = services().find((s) => s.name === "ksw-api")!
    expect(after.id).toBe(id)
    expect(docker(["service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Args}}", "ksw-api"]).stdout.trim()).toBe("[\"sleep\",\"301\"]")

    expect(await withBackends((b) => b.stop((o)!, { timeout: 1, leave: "stopped", owned: true }))).toBe("stopped")
    expect(services().find((s) => s.name === "ksw-api")?.replicas).toBe("0/0")
    expect((await seen())?.state).toBe("stopped")

    await withBackends((b) => b.startInPlace({ ...o!, state: "stopped" }, changed, { project: PROJECT, stamp: launchOf(changed).stamp }))
    expect((await seen())?.state).toBe("running")

    await withBackends((b) => b.remove(o!, {}))
    expect(services().find((s) => s.name === "ksw-api")).toBeUndefined()
  })
})

describe.runIf(usable)("kstlib ops with runtime: swarm (built CLI)", () => {
  const BIN = new URL("../../dist/cli/bin.js", import.meta.url).pathname
  const kstlib = (cwd: string, args: ReadonlyArray<string>) => {
    const r = spawnSync(process.execPath, [BIN, ...args, "--config", join(cwd, "kstlib.conf.yml")], {
      cwd,
      env: { ...process.env, DOCKER_HOST: host, NO_COLOR: "1", HOME: cwd },
      encoding: "utf8",
      timeout: 120_000
    })
    return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" }
  }
  const config = (cwd: string, sessions: Record<string, unknown>) =>
    writeFileSync(join(cwd, "kstlib.conf.yml"), JSON.stringify({ ops: { project: "kswcli", sessions } }))

  it("a service's output outlives it: down writes it to its log file first, and logs reads it there", async () => {
    const cwd = mkdtempSync(join(dir, "logs-"))
    // a project of its own: its overlay network's removal is not the next test's
    writeFileSync(join(cwd, "kstlib.conf.yml"), JSON.stringify({
      ops: { project: "kswlog", sessions: { "ksw-talk": { backend: "container", runtime: "swarm", image: IMAGE, command: "echo said-before-down; exec sleep 300", shell: true } } }
    }))
    const a = kstlib(cwd, ["ops", "apply"])
    expect(a.code, a.stdout + a.stderr).toBe(0)
    for (let i = 0; i < 40 && !kstlib(cwd, ["ops", "logs", "ksw-talk"]).stdout.includes("said-before-down"); i++) await sleep(250)
    const d = kstlib(cwd, ["ops", "down"])
    expect(d.code, d.stdout + d.stderr).toBe(0)
    expect(services().find((x) => x.name === "ksw-talk")).toBeUndefined()
    // the default place: under XDG_STATE_HOME (the suite's), else HOME (cwd here)
    const file = join(process.env["XDG_STATE_HOME"] ?? join(cwd, ".local", "state"), "kstlib", "logs", "kswlog", "ksw-talk.log")
    onTestFinished(() => rmSync(file, { force: true }))
    expect(existsSync(file)).toBe(true)
    const text = readFileSync(file, "utf8")
    expect(text).toMatch(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z \[kstlib\] container ksw-talk started at /mu)
    expect(text).toMatch(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z said-before-down$/mu)
    expect(text).toMatch(/\[kstlib\] container ksw-talk (removed|exited with code \d+); output kept at removal$/mu)
    const l = kstlib(cwd, ["ops", "logs", "ksw-talk"])
    expect(l.code, l.stderr).toBe(0)
    expect(l.stdout).toContain("said-before-down")
    // at once up again: the overlay network the down removed is still being deleted by swarm (a
    // create on it failed with 'network … not found'): made again once it is gone
    const again = kstlib(cwd, ["ops", "apply"])
    expect(again.code, again.stdout + again.stderr).toBe(0)
    expect(kstlib(cwd, ["ops", "down"]).code).toBe(0)
  }, 120_000)

  it("apply creates, plan is clean, drift updates or replaces, stop scales to 0, prune removes", async () => {
    const cwd = mkdtempSync(join(dir, "cli-"))
    const web = { backend: "container", runtime: "swarm", image: IMAGE, command: "sleep 300", env: { GREETING: "one" }, replicas: 2 }
    config(cwd, { "ksw-web": web })
    const a = kstlib(cwd, ["ops", "apply"])
    expect(a.code, a.stdout + a.stderr).toBe(0)
    expect(a.stdout).toContain("1 created")
    expect(services().find((s) => s.name === "ksw-web")?.replicas).toBe("2/2")
    expect(kstlib(cwd, ["ops", "plan", "--detailed-exitcode"]).code).toBe(0)

    // command + replicas: one service update, same service
    const id = services().find((s) => s.name === "ksw-web")!.id
    config(cwd, { "ksw-web": { ...web, command: "sleep 301", replicas: 1 } })
    expect(kstlib(cwd, ["ops", "plan", "--detailed-exitcode"]).code).toBe(2)
    const u = kstlib(cwd, ["ops", "apply"])
    expect(u.code, u.stdout + u.stderr).toBe(0)
    expect(u.stdout).toContain("1 replaced")
    expect(services().find((s) => s.name === "ksw-web")).toMatchObject({ id, replicas: "1/1" })

    // env: a new service (update cannot take env without putting values on its command line)
    config(cwd, { "ksw-web": { ...web, command: "sleep 301", replicas: 1, env: { GREETING: "two" } } })
    const e = kstlib(cwd, ["ops", "apply"])
    expect(e.code, e.stdout + e.stderr).toBe(0)
    const replaced = services().find((s) => s.name === "ksw-web")!
    expect(replaced.id).not.toBe(id)
    expect(kstlib(cwd, ["ops", "plan", "--detailed-exitcode"]).code).toBe(0)

    const s = kstlib(cwd, ["ops", "stop", "ksw-web"])
    expect(s.code, s.stdout + s.stderr).toBe(0)
    expect(services().find((x) => x.name === "ksw-web")?.replicas).toBe("0/0")
    const started = kstlib(cwd, ["ops", "apply"])
    expect(started.stdout).toContain("1 started")
    expect(services().find((x) => x.name === "ksw-web")?.replicas).toBe("1/1")

    config(cwd, {})
    const p = kstlib(cwd, ["ops", "apply", "--prune", "ksw-web"])
    expect(p.code, p.stdout + p.stderr).toBe(0)
    expect(p.stdout).toContain("1 pruned")
    expect(services().find((x) => x.name === "ksw-web")).toBeUndefined()
    // the project's overlay network went with its last service
    expect(await gone("kstlib-kswcli--swarm")).toBe(true)
  }, 120_000)

  /**
   * Whether the network is gone within 30 s: swarm accepts its removal at once and deletes it when
   * the removed services' tasks have stopped (`sleep` as PID 1 ignores TERM: the 10 s grace period).
   */
  const gone = async (network: string) => {
    for (let i = 0; i < 120; i++) {
      if (docker(["network", "inspect", network]).code !== 0) return true
      await sleep(250)
    }
    return false
  }

  /** The one task container of a service on this (single-node) swarm. */
  const taskOf = (service: string) => docker(["ps", "-q", "--filter", `label=com.docker.swarm.service.name=${service}`]).stdout.trim().split("\n")[0] ?? ""

  it("a project's services share its overlay network (labelled), find each other by name there; down removes it; a foreign one of that name is refused, untouched", async () => {
    const cwd = mkdtempSync(join(dir, "net-"))
    const net = "kstlib-kswnet--swarm"
    writeFileSync(join(cwd, "kstlib.conf.yml"), JSON.stringify({
      ops: {
        project: "kswnet",
        sessions: {
          "ksw-db": { backend: "container", runtime: "swarm", image: IMAGE, command: "while true; do echo pong-from-db | nc -l -p 5432; done", shell: true },
          "ksw-app": { backend: "container", runtime: "swarm", image: IMAGE, command: "sleep 300" }
        }
      }
    }))
    const a = kstlib(cwd, ["ops", "apply"])
    expect(a.code, a.stdout + a.stderr).toBe(0)
    const seen = docker(["network", "inspect", "--format", "{{.Driver}} {{.Scope}} {{json .Labels}}", net])
    expect(seen.code, seen.stderr).toBe(0)
    expect(seen.stdout.trim()).toBe(`overlay swarm {"io.kstlib.managed":"true","io.kstlib.project":"kswnet"}`)
    for (const s of ["ksw-db", "ksw-app"]) {
      expect(docker(["service", "inspect", "--format", "{{range .Spec.TaskTemplate.Networks}}{{.Target}} {{end}}", s]).stdout.trim()).toBe(
        docker(["network", "inspect", "--format", "{{.Id}}", net]).stdout.trim()
      )
    }
    const app = taskOf("ksw-app")
    expect(app).not.toBe("")
    // the service's name resolves on the network (the engine's DNS); its task answers there
    const lookup = docker(["exec", app, "nslookup", "ksw-db"])
    expect(lookup.code, lookup.stdout + lookup.stderr).toBe(0)
    expect(lookup.stdout).toMatch(/Name:\s+ksw-db\s+Address:\s+\d+\.\d+\.\d+\.\d+/u)
    let answer = ""
    for (let i = 0; i < 40 && !answer.includes("pong-from-db"); i++) {
      answer = docker(["exec", app, "sh", "-c", "nc -w 2 tasks.ksw-db 5432 </dev/null"]).stdout
      if (!answer.includes("pong-from-db")) await sleep(250)
    }
    expect(answer).toContain("pong-from-db")

    const d = kstlib(cwd, ["ops", "down"])
    expect(d.code, d.stdout + d.stderr).toBe(0)
    expect(services().filter((x) => x.name === "ksw-db" || x.name === "ksw-app")).toEqual([])
    expect(await gone(net)).toBe(true)

    // a network of that name kstlib did not make: the launch is refused, the network left as it was
    const foreign = docker(["network", "create", "--driver", "overlay", "--label", "owner=someone", net])
    expect(foreign.code, foreign.stderr).toBe(0)
    try {
      const r = kstlib(cwd, ["ops", "apply"])
      expect(r.code).toBe(1)
      expect(r.stdout + r.stderr).toContain(`network ${net} exists and is not this project's`)
      expect(services().filter((x) => x.name === "ksw-db" || x.name === "ksw-app")).toEqual([])
      expect(docker(["network", "inspect", "--format", "{{json .Labels}}", net]).stdout.trim()).toBe(`{"owner":"someone"}`)
      expect(kstlib(cwd, ["ops", "down"]).code).toBe(0)
      expect(docker(["network", "inspect", net]).code).toBe(0)
    } finally {
      docker(["network", "rm", net])
    }
  }, 180_000)
})
