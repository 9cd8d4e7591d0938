/**
 * The container Backend against REAL engines: the same suite for every usable engine (Podman, Docker).
 * Everything created here is named `kstlib-t-<run>-…` (and, when created directly, labelled with the
 * run id) and removed in finalizers; nothing else on the machine is touched.
 */
import { TEST_IMAGE, requireEngines } from "../support/engines.js"
import { NodeServices } from "@effect/platform-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Result, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Containers } from "../../src/backends/container.js"
import { Backends } from "../../src/backends/registry.js"
import type { ContainerSpec, ObservedContainer, ObservedSession, RuntimeName } from "../../src/model.js"
import { isOurs, NO_MARK } from "../../src/model.js"
import { fingerprint, launchOf, specHash } from "../../src/testing/specs.js"
import { unreadableOf } from "../../src/reconcile/observe.js"
import { CallTimeout } from "../../src/proc.js"
import { execute } from "../../src/reconcile/execute.js"
import { plan } from "../../src/reconcile/plan.js"
import { countingSpawner } from "../support/countingSpawner.js"
import { containerSpec, planOptions, PROJECT, valid } from "../../src/testing/specs.js"

const engines = requireEngines("container backend integration")
const RUN = randomBytes(4).toString("hex")
const PREFIX = `kstlib-t-${RUN}`
const RUN_LABEL = `io.kstlib.test-run=${RUN}`
let counter = 0
const uniqueName = (what: string) => `${PREFIX}-${what}-${++counter}`

const ContainersLive = Containers.layer.pipe(Layer.provide(NodeServices.layer))
const BackendsLive = Backends.layerWith.pipe(Layer.provide(NodeServices.layer))

const spec = (name: string, runtime: RuntimeName, over: Partial<ContainerSpec> = {}): ContainerSpec =>
  containerSpec(name, { image: TEST_IMAGE, command: "sleep 300", runtime, ...over })

/** Direct engine calls for setup and checks (not the code under test). */
const engine = (rt: RuntimeName, args: ReadonlyArray<string>) =>
  execFileSync(rt, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

const rmArgs = (rt: RuntimeName) => (rt === "podman" ? ["rm", "-f", "-t", "0"] : ["rm", "-f"])

/** Removes the named containers when the test's scope closes, whatever happened. */
const cleanup = (rt: RuntimeName, ...names: Array<string>) =>
  Effect.addFinalizer(() => Effect.sync(() => void spawnSync(rt, [...rmArgs(rt), ...names], { stdio: "ignore" })))

/** Repeats a check until it holds (a container writes its file or log line asynchronously). */
const eventually = <A, E, R>(read: Effect.Effect<A, E, R>, ok: (a: A) => boolean, tries = 50): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    let last = yield* read
    for (let i = 0; i < tries && !ok(last); i++) {
      yield* Effect.sleep("100 millis")
      last = yield* read
    }
    return last
  })

const failures = <E extends { readonly message: string }>(rs: ReadonlyArray<Result.Result<void, E>>) =>
  rs.flatMap((r) => (Result.isFailure(r) ? [r.failure.message] : []))

const launchAll = (specs: ReadonlyArray<ContainerSpec>) =>
  Effect.gen(function*() {
    const results = yield* (yield* Containers).launch(specs.map(launchOf), { project: PROJECT })
    expect(failures(results)).toEqual([])
  })

const findC = (all: ReadonlyArray<ObservedSession>, name: string, rt: RuntimeName): ObservedContainer | undefined =>
  all.find((o): o is ObservedContainer => o.backend === "container" && o.name === name && o.runtime === rt)

const lookup = (name: string, rt: RuntimeName) =>
  Effect.gen(function*() {
    return findC((yield* (yield* Containers).observe({ sockets: [] })).sessions, name, rt)
  })

const observed = (name: string, rt: RuntimeName) =>
  Effect.gen(function*() {
    const o = yield* lookup(name, rt)
    if (o === undefined) return yield* Effect.die(new Error(`${name} not observed on ${rt}`))
    return o
  })

/** A container that is not there (or only an image of that name), as a caller might still hold it. */
const ghost = (name: string, rt: RuntimeName): ObservedContainer => ({
  backend: "container",
  name,
  runtime: rt,
  image: TEST_IMAGE,
  state: "running",
  pid: null,
  created_at: null,
  exit_code: null,
  mark: NO_MARK
})

const engineState = (rt: RuntimeName, name: string) =>
  Effect.sync(() => {
    const r = spawnSync(rt, ["container", "inspect", name], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })
    return r.status === 0 ? (JSON.parse(r.stdout)[0].State.Status as string) : "absent"
  })

// No engine on a developer machine: requireEngines printed a notice and describe.each runs nothing.
describe.each(engines)("container backend on %s", (rt) => {
  afterAll(() => {
    // Safety net: anything of this run that a failed test left behind (names and labels are unique to it).
    const byName = spawnSync(rt, ["ps", "-a", "-q", "--filter", `name=${PREFIX}`], { encoding: "utf8" }).stdout ?? ""
    const byLabel = spawnSync(rt, ["ps", "-a", "-q", "--filter", `label=${RUN_LABEL}`], { encoding: "utf8" }).stdout ?? ""
    const ids = [...new Set(`${byName}\n${byLabel}`.split("\n").map((s) => s.trim()).filter((s) => s !== ""))]
    if (ids.length > 0) spawnSync(rt, [...rmArgs(rt), ...ids], { stdio: "ignore" })
    // the project network these launches created; the engine refuses while another run's containers are on it
    spawnSync(rt, ["network", "rm", `kstlib-${PROJECT}`], { stdio: "ignore" })
  })

  it.live("the engine is on PATH and answers observe", () =>
    Effect.gen(function*() {
      const c = yield* Containers
      expect(yield* c.onPath).toContain(rt)
      const obs = yield* c.observe({ sockets: [] })
      expect(obs.answered).toContainEqual({ backend: "container", runtime: rt })
      expect(obs.problems.filter((p) => p.scope.runtime === rt)).toEqual([])
    }).pipe(Effect.provide(ContainersLive)))

  it.live("launch with env, volume and working_dir; observe shows both marks, the spec hash and fingerprint; the engine shows the labels", () =>
    Effect.gen(function*() {
      const name = uniqueName("start")
      const dir = mkdtempSync(join(tmpdir(), "kstlib-vol-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      yield* cleanup(rt, name)
      const s = spec(name, rt, {
        command: `sh -c 'echo "$GREETING" > /data/out.txt; pwd >> /data/out.txt; sleep 300'`,
        working_dir: "/tmp",
        env: { GREETING: "hello, world" },
        volumes: [`${dir}:/data`]
      })
      yield* launchAll([s])
      const file = join(dir, "out.txt")
      const content = yield* eventually(Effect.sync(() => (existsSync(file) ? readFileSync(file, "utf8") : "")), (t) => t.split("\n").length >= 3)
      expect(content).toBe("hello, world\n/tmp\n")

      const seen = yield* observed(name, rt)
      expect(seen).toMatchObject({ name, state: "running", runtime: rt, image: TEST_IMAGE, exit_code: null })
      expect(seen.mark).toMatchObject({ managed: true, project: PROJECT, spec_hash: specHash(s) })
      expect(seen.mark.applied).toEqual(JSON.parse(JSON.stringify(fingerprint(s))))
      expect(isOurs(seen, PROJECT)).toBe(true)
      expect(seen.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
      // The engine itself reports the labels kstlib set.
      const labels = JSON.parse(engine(rt, ["container", "inspect", name]))[0].Config.Labels as Record<string, string>
      expect(labels["io.kstlib.managed"]).toBe("true")
      expect(labels["io.kstlib.project"]).toBe(PROJECT)
      expect(labels["io.kstlib.session"]).toBe(name)
      expect(labels["io.kstlib.spec"]).toBe(specHash(s))
    }).pipe(Effect.provide(ContainersLive)))

  it.live("usage: a constant number of stats calls for 1 and for 4 running containers; a busy one well above idle CPU, an idle one near 0", () => {
    const counting = countingSpawner()
    return Effect.gen(function*() {
      const c = yield* Containers
      const busy = uniqueName("busy")
      const idle = Array.from({ length: 3 }, () => uniqueName("idle"))
      yield* cleanup(rt, busy, ...idle)
      engine(rt, ["run", "-d", "--label", RUN_LABEL, "--name", busy, TEST_IMAGE, "sh", "-c", "while :; do :; done"])
      yield* c.onPath
      const observed = () => c.observe({ sockets: [] }).pipe(Effect.map((o) => o.sessions as ReadonlyArray<ObservedContainer>))
      const stats = () => counting.calls.filter((call) => call[0] === rt && call[1] === "stats")
      const perCall = rt === "podman" ? 2 : 1
      counting.reset()
      const one = (yield* observed()).filter((o) => o.name === busy)
      const u1 = yield* c.usage(one, Duration.millis(400))
      expect(stats()).toHaveLength(perCall)
      // a whole core on an idle machine; shared on a loaded 2-core runner
      expect(u1[0]!.cpu_percent!).toBeGreaterThan(25)
      expect(u1[0]!.memory_bytes!).toBeGreaterThan(0)
      for (const n of idle) engine(rt, ["run", "-d", "--label", RUN_LABEL, "--name", n, TEST_IMAGE, "sleep", "300"])
      const all = (yield* observed()).filter((o) => o.name === busy || idle.includes(o.name))
      counting.reset()
      const u4 = yield* c.usage(all, Duration.millis(400))
      expect(stats()).toHaveLength(perCall)
      expect(counting.calls).toHaveLength(perCall)
      all.forEach((o, i) => {
        if (o.name === busy) expect(u4[i]!.cpu_percent!).toBeGreaterThan(25)
        else expect(u4[i]!.cpu_percent!).toBeLessThan(20)
        expect(u4[i]!.memory_bytes!).toBeGreaterThan(0)
      })
      // not running: not measured, and no call when nothing runs
      counting.reset()
      expect(yield* c.usage([{ ...all[0]!, state: "exited" }], Duration.millis(10))).toEqual([null])
      expect(counting.calls).toHaveLength(0)
    }).pipe(Effect.provide(Containers.layer), Effect.provide(counting.layer))
  })

  it.live("observe: one ps call per engine for 1 and for 20 containers; foreign ones included, not ours", () => {
    const counting = countingSpawner()
    return Effect.gen(function*() {
      const c = yield* Containers
      const names = Array.from({ length: 20 }, () => uniqueName("obs"))
      yield* cleanup(rt, ...names)
      engine(rt, ["create", "--label", RUN_LABEL, "--name", names[0]!, TEST_IMAGE, "sleep", "300"])
      yield* c.onPath // the PATH lookup spawns nothing, but is cached before counting anyway
      counting.reset()
      const one = yield* c.observe({ sockets: [] })
      const mine = () => counting.calls.filter((call) => call[0] === rt)
      expect(mine()).toHaveLength(1)
      expect(mine()[0]!.slice(0, 3)).toEqual([rt, "ps", "-a"])
      const perEngine = counting.calls.length
      expect(one.sessions.filter((o) => o.name.startsWith(`${PREFIX}-obs-`)).map((o) => o.name)).toEqual([names[0]])

      for (const n of names.slice(1)) engine(rt, ["create", "--label", RUN_LABEL, "--name", n, TEST_IMAGE, "sleep", "300"])
      counting.reset()
      const all = yield* c.observe({ sockets: [] })
      expect(mine()).toHaveLength(1)
      expect(counting.calls).toHaveLength(perEngine)
      const ours = all.sessions.filter((o) => names.includes(o.name))
      expect(ours.map((o) => o.name).sort()).toEqual([...names].sort())
      for (const o of ours) expect(o).toMatchObject({ state: "stopped", runtime: rt, image: TEST_IMAGE, mark: NO_MARK })
    }).pipe(Effect.provide(Containers.layer), Effect.provide(counting.layer))
  })

  it.live("stop removes an owned container when told (removeOwned); force is 'killed'; remove of a gone one succeeds", () =>
    Effect.gen(function*() {
      const c = yield* Containers
      const a = uniqueName("own")
      const b = uniqueName("own")
      yield* cleanup(rt, a, b)
      yield* launchAll([spec(a, rt), spec(b, rt)])
      const oa = yield* observed(a, rt)
      // busybox `sleep` as PID 1 ignores SIGTERM: the engine kills it after the timeout.
      expect(yield* c.stop(oa, { timeout: 1, leave: "stopped", owned: true })).toMatch(/^(stopped|killed)$/)
      expect(yield* lookup(a, rt)).toBeUndefined()
      expect(yield* engineState(rt, a)).toBe("absent")
      expect((yield* Effect.flip(c.stop(oa, { timeout: 1, leave: "stopped" })))._tag).toBe("SessionNotFound")
      expect((yield* Effect.flip(c.stop(oa, { timeout: 1, leave: "nothing" })))._tag).toBe("SessionNotFound") // gone already (the registry's remove takes it as success)

      const ob = yield* observed(b, rt)
      expect(yield* c.stop(ob, { force: true, leave: "stopped", owned: false })).toBe("killed")
      const after = yield* observed(b, rt) // kept: not asked to remove
      expect(after.state).not.toBe("running")
      expect(yield* c.stop(after, { timeout: 1, leave: "stopped" })).toBe("already-stopped")
      yield* c.stop(after, { timeout: 1, leave: "nothing" })
      expect(yield* engineState(rt, b)).toBe("absent")
    }).pipe(Effect.provide(ContainersLive)))

  it.live("a foreign container is observed as not ours; stop leaves it in place, stopped", () =>
    Effect.gen(function*() {
      const c = yield* Containers
      const name = uniqueName("foreign")
      yield* cleanup(rt, name)
      engine(rt, ["run", "-d", "--label", RUN_LABEL, "--name", name, TEST_IMAGE, "sleep", "300"])
      const seen = yield* observed(name, rt)
      expect(seen).toMatchObject({ state: "running", mark: NO_MARK })
      // What the executor passes for a Stop of a session that is not ours.
      yield* c.stop(seen, { timeout: 1, leave: "stopped", owned: isOurs(seen, PROJECT) })
      const after = yield* observed(name, rt)
      expect(after.mark).toEqual(NO_MARK)
      expect(after.state).not.toBe("running")
      // Stopping again is fine and still leaves it there.
      expect(yield* c.stop(after, { force: true, leave: "stopped" })).toBe("already-stopped")
      expect((yield* observed(name, rt)).state).not.toBe("running")
    }).pipe(Effect.provide(ContainersLive)))

  it.live("the post-launch check (executor): a container that exits right away is a failed step with exit code and output; Start checks again", () =>
    Effect.gen(function*() {
      const name = uniqueName("exit")
      const fine = uniqueName("fine")
      yield* cleanup(rt, name, fine)
      const dying = spec(name, rt, { command: `sh -c 'echo dying now; exit 3'` })
      const p = plan([valid(dying), valid(spec(fine, rt))], [], planOptions({ engines: [rt] }))
      const report = yield* execute(p, { parallel: 4, settle: "1500 millis", stopTimeout: 1 })
      const by = (n: string) => report.results.find((r) => r.step.session === n)!
      expect(by(name).error).toMatchObject({ _tag: "SessionStartFailed", session: name, backend: "container", exitCode: 3 })
      expect(by(name).error?._tag === "SessionStartFailed" && by(name).error).toMatchObject({ output: expect.stringContaining("dying now") })
      expect(by(fine).error).toBeNull()
      expect(by(fine).observed).toMatchObject({ name: fine, state: "running", runtime: rt })

      const backends = yield* Backends
      const seen = (yield* backends.observe({ sockets: [] }, ["container"])).flatMap((x) => x.sessions)
      const dead = findC(seen, name, rt)!
      expect([dead.state, dead.exit_code]).toEqual(["exited", 3])
      // Ours, same spec, exited: started again in place (engine `start`), and checked again.
      const p2 = plan([valid(dying)], seen, planOptions({ engines: [rt] }))
      expect(p2.steps.map((s) => s._tag)).toEqual(["Start"])
      const r2 = yield* execute(p2, { parallel: 4, settle: "1500 millis", stopTimeout: 1 })
      expect(r2.results[0]!.error).toMatchObject({ _tag: "SessionStartFailed", exitCode: 3 })
      // The name is taken: a second `run` is refused by the engine, for this spec alone.
      const [taken] = yield* backends.launch([launchOf(dying)], { project: PROJECT })
      expect(Result.isFailure(taken!) && taken.failure.reason).toMatch(/already in use/i)
    }).pipe(Effect.provide(BackendsLive)))

  it.live("restart brings a stopped owned container back; restart of a missing one is SessionNotFound", () =>
    Effect.gen(function*() {
      const c = yield* Containers
      const name = uniqueName("restart")
      yield* cleanup(rt, name)
      const s = spec(name, rt)
      yield* launchAll([s])
      engine(rt, ["kill", name])
      // podman passes through "stopped" (killed, before its cleanup) on the way to "exited"
      expect(yield* eventually(engineState(rt, name), (st) => st === "exited")).toBe("exited")
      // ps can lag inspect by a moment (podman: "stopping" while cleanup runs): wait for it too.
      const down = yield* eventually(observed(name, rt), (o) => o.state === "exited")
      expect(down.state).toBe("exited")
      yield* c.startInPlace(down, s, { project: PROJECT, stamp: launchOf(s).stamp })
      expect((yield* eventually(observed(name, rt), (o) => o.state === "running")).state).toBe("running")
      expect((yield* Effect.flip(c.startInPlace(ghost(`${PREFIX}-nope`, rt), s, { project: PROJECT, stamp: launchOf(s).stamp })))._tag).toBe("SessionNotFound")
    }).pipe(Effect.provide(ContainersLive)))

  it.live("logs return stdout and stderr (TTY session and a plain foreign container); follow streams lines", () =>
    Effect.gen(function*() {
      const c = yield* Containers
      const tty = uniqueName("logs")
      const plain = uniqueName("logs-plain")
      yield* cleanup(rt, tty, plain)
      yield* launchAll([spec(tty, rt, { command: `sh -c 'echo out-line; echo err-line >&2; sleep 300'` })])
      engine(rt, ["run", "-d", "--label", RUN_LABEL, "--name", plain, TEST_IMAGE, "sh", "-c", "echo out-line; echo err-line >&2; sleep 300"])
      for (const n of [tty, plain]) {
        const o = yield* observed(n, rt)
        const text = yield* eventually(c.logs(o, { lines: 100 }), (t) => t.includes("out-line") && t.includes("err-line"))
        expect(text).toContain("out-line")
        expect(text).toContain("err-line")
        expect(text).not.toContain("\r")
      }
      const op = yield* observed(plain, rt)
      expect((yield* c.logs(op, { lines: 1 })).trim().split("\n")).toHaveLength(1)
      const followed = yield* c.follow(op, { lines: 2 }).pipe(Stream.take(2), Stream.runCollect, Effect.timeout("20 seconds"))
      expect([...followed].sort()).toEqual(["err-line", "out-line"])
      expect((yield* Effect.flip(c.logs(ghost(`${PREFIX}-nope`, rt), { lines: 10 })))._tag).toBe("SessionNotFound")
      expect((yield* Effect.flip(Stream.runCollect(c.follow(ghost(`${PREFIX}-nope`, rt), { lines: 1 }))))._tag).toBe("SessionNotFound")
    }).pipe(Effect.provide(ContainersLive)))

  it.live("exec returns exit code, stdout and stderr; attach refuses without a running container or a terminal; send-keys is Unsupported", () =>
    Effect.gen(function*() {
      const c = yield* Containers
      const name = uniqueName("exec")
      yield* cleanup(rt, name)
      yield* launchAll([spec(name, rt, { working_dir: "/tmp" })])
      const o = yield* observed(name, rt)
      const r = yield* c.exec(o, ["sh", "-c", "pwd; echo to-err >&2; exit 4"], { interactive: false })
      expect(r).toEqual({ exitCode: 4, stdout: "/tmp\n", stderr: "to-err\n" })
      expect((yield* Effect.flip(c.exec(ghost(`${PREFIX}-nope`, rt), ["true"], { interactive: false })))._tag).toBe("SessionNotFound")
      expect((yield* Effect.flip(c.sendKeys(o, "ls", { enter: true })))._tag).toBe("Unsupported")

      if (process.stdin.isTTY !== true) {
        const e = yield* Effect.flip(c.attach(o))
        expect(e._tag === "SessionAttachFailed" && e.reason).toBe("not a terminal")
      }
      engine(rt, ["kill", name])
      yield* eventually(engineState(rt, name), (st) => st !== "running")
      const e = yield* Effect.flip(c.attach(o))
      expect(e._tag === "SessionAttachFailed" && e.reason).toBe("container is not running")
      expect((yield* Effect.flip(c.attach(ghost(`${PREFIX}-nope`, rt))))._tag).toBe("SessionNotFound")
    }).pipe(Effect.provide(ContainersLive)))

  it.live("a name held only by an image is not a container", () =>
    Effect.gen(function*() {
      const c = yield* Containers
      const name = uniqueName("img")
      engine(rt, ["tag", TEST_IMAGE, `${name}:latest`])
      yield* Effect.addFinalizer(() => Effect.sync(() => void spawnSync(rt, ["rmi", `${name}:latest`], { stdio: "ignore" })))
      // Plain `inspect` would match the image: the backend must not.
      expect(spawnSync(rt, ["inspect", name], { stdio: "ignore" }).status).toBe(0)
      expect((yield* Effect.flip(c.stop(ghost(name, rt), { timeout: 1, leave: "stopped" })))._tag).toBe("SessionNotFound")
      expect((yield* Effect.flip(c.exec(ghost(name, rt), ["true"], { interactive: false })))._tag).toBe("SessionNotFound")
      expect(yield* lookup(name, rt)).toBeUndefined()
      yield* c.stop(ghost(name, rt), { timeout: 1, leave: "nothing" }).pipe(Effect.catchTag("SessionNotFound", () => Effect.void)) // nothing to remove: success, and the image stays
      expect(spawnSync(rt, ["image", "inspect", `${name}:latest`], { stdio: "ignore" }).status).toBe(0)
    }).pipe(Effect.provide(ContainersLive)))

  it.live("a missing image fails at once with the engine's message; a duplicate name in one batch fails alone", () =>
    Effect.gen(function*() {
      const c = yield* Containers
      const name = uniqueName("noimg")
      const ok = uniqueName("ok")
      yield* cleanup(rt, name, ok)
      const image = `localhost/${PREFIX}-missing:1`
      const [missing, fine] = yield* c.launch([launchOf(spec(name, rt, { image })), launchOf(spec(ok, rt))], { project: PROJECT })
      expect(Result.isFailure(missing!)).toBe(true)
      if (!Result.isFailure(missing!)) return
      expect(missing.failure._tag).toBe("SessionStartFailed")
      expect(missing.failure.reason).toContain(`${PREFIX}-missing`)
      expect(missing.failure.reason).toMatch(/image/i)
      expect(missing.failure.reason).not.toMatch(/--help/)
      expect(missing.failure.exitCode).toBeNull()
      expect(Result.isSuccess(fine!)).toBe(true)
    }).pipe(Effect.provide(ContainersLive)))

  it.live("100 env values x 32 KiB: launched without E2BIG, never on any command line, env file gone; values readable inside (within the kernel's limit)", () => {
    // Every argv the backends start, and every /proc/*/cmdline while the launch runs.
    const argvs: Array<ReadonlyArray<string>> = []
    const spying = Layer.effect(
      ChildProcessSpawner.ChildProcessSpawner,
      Effect.gen(function*() {
        const real = yield* ChildProcessSpawner.ChildProcessSpawner
        return ChildProcessSpawner.make((command) => {
          if (ChildProcess.isStandardCommand(command)) argvs.push([command.command, ...command.args.map(String)])
          return real.spawn(command)
        })
      })
    ).pipe(Layer.provide(NodeServices.layer))
    return Effect.gen(function*() {
      const backends = yield* Backends
      const big = uniqueName("bigenv")
      const fits = uniqueName("fitenv")
      yield* cleanup(rt, big, fits)
      const marker = `KSTLIBSECRET${randomBytes(6).toString("hex")}`
      const values = (size: number) => {
        const env: Record<string, string> = {}
        for (let i = 0; i < 100; i++) {
          const head = `${marker}-${i}-`
          env[`BIG_${i}`] = head + "x".repeat(size - head.length)
        }
        return env
      }
      // 3.2 MiB: more than any process may exec with (ARG_MAX: a quarter of the 8 MiB stack), kstlib's included.
      const bigEnv = values(32 * 1024)
      // 1.2 MiB, and a value an env file cannot carry (a newline: it goes through the client's environment).
      const fitEnv: Record<string, string> = { ...values(12 * 1024), MULTI: `${marker}-line1\n${marker}-line2` }

      const seenOnCmdline: Array<string> = []
      const scanProc = Effect.sync(() => {
        for (const pid of readdirSync("/proc")) {
          if (!/^\d+$/.test(pid)) continue
          try {
            const cmd = readFileSync(`/proc/${pid}/cmdline`, "latin1")
            if (cmd.includes(marker)) seenOnCmdline.push(`${pid}: ${cmd.slice(0, 200)}`)
          } catch { /* gone */ }
        }
      })
      // Positive control: the sampler does see a marker on a command line.
      const control = spawn("sh", ["-c", "sleep 5", `${marker}-control`], { stdio: "ignore" })
      yield* Effect.addFinalizer(() => Effect.sync(() => void control.kill()))
      yield* eventually(scanProc.pipe(Effect.as(seenOnCmdline.length)), (n) => n > 0)
      expect(seenOnCmdline.some((l) => l.startsWith(`${control.pid}:`))).toBe(true)
      control.kill()
      yield* Effect.sleep("100 millis")
      seenOnCmdline.splice(0)
      const sampler = yield* Effect.forkChild(Effect.forever(scanProc.pipe(Effect.andThen(Effect.sleep("10 millis")))))
      const p = plan([valid(spec(big, rt, { env: bigEnv })), valid(spec(fits, rt, { env: fitEnv }))], [], planOptions({ engines: [rt] }))
      const report = yield* execute(p, { parallel: 4, settle: "1 second", stopTimeout: 1 })
      yield* scanProc
      yield* Fiber.interrupt(sampler)
      expect(seenOnCmdline).toEqual([])
      expect(argvs.map((a) => a.join(" ")).join("\n")).not.toContain(marker)
      // The private env files were used, and are gone (directory included).
      const envFiles = argvs.filter((a) => a[0] === rt && a[1] === "run").map((a) => a[a.indexOf("--env-file") + 1]!)
      expect(envFiles).toHaveLength(2)
      for (const f of envFiles) {
        expect(f).toMatch(/kstlib-env-/)
        expect(existsSync(f)).toBe(false)
        expect(existsSync(join(f, ".."))).toBe(false)
      }

      const by = (n: string) => report.results.find((r) => r.step.session === n)!
      // kstlib's own launch did not hit E2BIG (the engine created the container); the container's
      // process could not exec with that much environment, and the post-launch check says so.
      expect(by(big).error).toMatchObject({ _tag: "SessionStartFailed", output: expect.stringMatching(/argument list too long/) })
      expect(yield* engineState(rt, big)).toBe("exited")
      expect(by(fits).error).toBeNull()

      const o = by(fits).observed!
      const printed = yield* backends.exec(o, ["env"], { interactive: false })
      expect(printed.exitCode).toBe(0)
      for (let i = 0; i < 100; i++) expect(printed.stdout).toContain(`BIG_${i}=${fitEnv[`BIG_${i}`]}\n`)
      const multi = yield* backends.exec(o, ["sh", "-c", `printf '%s|' "$MULTI"`], { interactive: false })
      expect(multi).toMatchObject({ exitCode: 0, stdout: `${fitEnv["MULTI"]}|` })
      expect(argvs.map((a) => a.join(" ")).join("\n")).not.toContain(marker)
    }).pipe(Effect.provide(Backends.layerWith), Effect.provide(spying))
  }, 60_000)
})

describe("container engines: missing and hanging", () => {
  const withPath = (path: string) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const saved = process.env["PATH"]
        process.env["PATH"] = path
        return saved
      }),
      (saved) => Effect.sync(() => void (process.env["PATH"] = saved))
    )

  it.live("no runtime on PATH: observe reports it (missing), nothing available (fresh layer, so no stale PATH cache)", () =>
    Effect.gen(function*() {
      const empty = mkdtempSync(join(tmpdir(), "kstlib-emptypath-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(empty, { recursive: true, force: true })))
      yield* withPath(empty)
      const obs = yield* Effect.gen(function*() {
        const c = yield* Containers
        expect(yield* c.onPath).toEqual([])
        return yield* c.observe({ sockets: [] })
      }).pipe(Effect.provide(ContainersLive))
      expect(obs.answered).toEqual([])
      expect(obs.sessions).toEqual([])
      expect(obs.problems).toEqual([{ scope: { backend: "container" }, kind: "missing", message: expect.stringContaining("no container runtime found in PATH") }])
    }))

  it.live("a hanging engine (PATH shim `podman` that sleeps forever): observe reports a problem within the CallTimeout, the other engine still counts", () =>
    Effect.gen(function*() {
      const shimDir = mkdtempSync(join(tmpdir(), "kstlib-shim-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(shimDir, { recursive: true, force: true })))
      writeFileSync(join(shimDir, "podman"), "#!/bin/sh\nexec sleep 1000\n")
      chmodSync(join(shimDir, "podman"), 0o755)
      yield* withPath(`${shimDir}:${process.env["PATH"]}`)
      const started = performance.now()
      const obs = yield* Effect.gen(function*() {
        return yield* (yield* Containers).observe({ sockets: [] })
      }).pipe(Effect.provide(ContainersLive), Effect.provideService(CallTimeout, 1), Effect.timeout("20 seconds"))
      const took = performance.now() - started
      expect(took).toBeLessThan(4000)
      const problem = obs.problems.find((p) => p.scope.runtime === "podman")
      expect(problem?.message).toMatch(/did not answer within 1s/)
      expect(unreadableOf(obs)).toContainEqual({ backend: "container", runtime: "podman" })
      expect(obs.answered).not.toContainEqual({ backend: "container", runtime: "podman" })
      expect(obs.sessions.some((o) => o.backend === "container" && o.runtime === "podman")).toBe(false)
      if (engines.includes("docker")) expect(obs.answered).toContainEqual({ backend: "container", runtime: "docker" })
      // Nothing is planned on the unreadable engine.
      const p = plan([valid(spec(`${PREFIX}-hung`, "podman"))], obs.sessions, planOptions({ available: obs.answered, unreadable: unreadableOf(obs) }))
      expect(p.steps.map((s) => s._tag)).toEqual(["Invalid"])
    }))
})
