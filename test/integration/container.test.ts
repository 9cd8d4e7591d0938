/**
 * The container backend against REAL engines: the same suite for every usable engine (Podman, Docker).
 * Everything created here is named `kstlib-t-<run>-…` (and, when created directly, labelled with the
 * run id) and removed in finalizers; nothing else on the machine is touched.
 */
import { TEST_IMAGE, requireEngines } from "../support/engines.js"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import type { Scope } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Containers } from "../../src/backends/container.js"
import type { ContainerSpec, RuntimeName } from "../../src/model.js"
import { fingerprint, specHash } from "../../src/model.js"
import { countingSpawner } from "../support/countingSpawner.js"
import { containerSpec } from "../support/factories.js"

const engines = requireEngines("container backend integration")
const RUN = randomBytes(4).toString("hex")
const PREFIX = `kstlib-t-${RUN}`
const RUN_LABEL = `io.kstlib.test-run=${RUN}`
let counter = 0
const uniqueName = (what: string) => `${PREFIX}-${what}-${++counter}`

const spec = (name: string, over: Partial<ContainerSpec> = {}): ContainerSpec => ({
  ...containerSpec(name, { image: TEST_IMAGE, command: "sleep 300", runtime: null }),
  ...over
})

/** Direct engine calls for setup and checks (not the code under test). */
const engine = (rt: RuntimeName, args: ReadonlyArray<string>) =>
  execFileSync(rt, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

const rmArgs = (rt: RuntimeName) => (rt === "podman" ? ["rm", "-f", "-t", "0"] : ["rm", "-f"])

/** Removes the named containers when the test's scope closes, whatever happened. */
const cleanup = (rt: RuntimeName, ...names: Array<string>) =>
  Effect.addFinalizer(() => Effect.sync(() => void spawnSync(rt, [...rmArgs(rt), ...names], { stdio: "ignore" })))

const settle = "400 millis"

/** Repeats a check until it holds (a container writes its file or log line asynchronously). */
const eventually = <A>(read: () => A, ok: (a: A) => boolean, tries = 50): Effect.Effect<A> =>
  Effect.gen(function*() {
    let last = read()
    for (let i = 0; i < tries && !ok(last); i++) {
      yield* Effect.sleep("100 millis")
      last = read()
    }
    return last
  })

// No engine on a developer machine: requireEngines printed a notice and describe.each runs nothing.
describe.each(engines)("container backend on %s", (rt) => {
  const provide = <A, E>(eff: Effect.Effect<A, E, Containers | Scope.Scope>) => Effect.provide(eff, Containers.layerNode)

  afterAll(() => {
    // Safety net: anything of this run that a failed test left behind (names and labels are unique to it).
    const byName = spawnSync(rt, ["ps", "-a", "-q", "--filter", `name=${PREFIX}`], { encoding: "utf8" }).stdout ?? ""
    const byLabel = spawnSync(rt, ["ps", "-a", "-q", "--filter", `label=${RUN_LABEL}`], { encoding: "utf8" }).stdout ?? ""
    const ids = [...new Set(`${byName}\n${byLabel}`.split("\n").map((s) => s.trim()).filter((s) => s !== ""))]
    if (ids.length > 0) spawnSync(rt, [...rmArgs(rt), ...ids], { stdio: "ignore" })
  })

  it.live("resolveRuntime finds the engine on PATH", () =>
    provide(Effect.gen(function*() {
      const c = yield* Containers
      expect(yield* c.resolveRuntime(rt)).toBe(rt)
      expect(yield* c.available).toContain(rt)
    })))

  it.live("start with env, volume and working_dir; inspect shows the ownership labels", () =>
    provide(Effect.gen(function*() {
      const c = yield* Containers
      const name = uniqueName("start")
      const dir = mkdtempSync(join(tmpdir(), "kstlib-vol-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      yield* cleanup(rt, name)
      const s = spec(name, {
        command: `sh -c 'echo "$GREETING" > /data/out.txt; pwd >> /data/out.txt; sleep 300'`,
        working_dir: "/tmp",
        env: { GREETING: "hello, world" },
        volumes: [`${dir}:/data`]
      })
      const started = yield* c.start(s, rt, { settle })
      expect(started).toMatchObject({ name, state: "running", runtime: rt, owned: true, image: TEST_IMAGE })
      const file = join(dir, "out.txt")
      const content = yield* eventually(() => {
        try {
          return readFileSync(file, "utf8")
        } catch {
          return ""
        }
      }, (t) => t.split("\n").length >= 3)
      expect(content).toBe("hello, world\n/tmp\n")

      const seen = yield* c.inspect(name, rt)
      expect(seen.state).toBe("running")
      expect(seen.owned).toBe(true)
      expect(seen.spec_hash).toBe(specHash(s))
      expect(seen.applied).toEqual(JSON.parse(JSON.stringify(fingerprint(s))))
      expect(seen.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
      expect(rt === "docker" || (seen.pid !== null && seen.pid > 0)).toBe(true)
      // The engine itself reports the labels kstlib set.
      const labels = JSON.parse(engine(rt, ["container", "inspect", name]))[0].Config.Labels as Record<string, string>
      expect(labels["io.kstlib.managed"]).toBe("true")
      expect(labels["io.kstlib.session"]).toBe(name)

      // observe sees the same thing, labels decoded the same way from the engine's ps form
      const [mine] = (yield* c.observe([rt])).filter((o) => o.name === name)
      expect(mine).toMatchObject({ state: "running", owned: true, spec_hash: specHash(s), image: TEST_IMAGE })
      expect(mine!.applied).toEqual(seen.applied)
    })))

  it.live("observe: one ps call for 1 and for 20 containers; foreign ones included", () => {
    const counting = countingSpawner()
    const layer = Containers.layer.pipe(Layer.provide(counting.layer))
    return Effect.gen(function*() {
      const c = yield* Containers
      const names = Array.from({ length: 20 }, () => uniqueName("obs"))
      yield* cleanup(rt, ...names)
      engine(rt, ["create", "--label", RUN_LABEL, "--name", names[0]!, TEST_IMAGE, "sleep", "300"])
      counting.reset()
      const one = yield* c.observe([rt])
      expect(counting.calls.length).toBe(1)
      expect(counting.calls[0]!.slice(0, 3)).toEqual([rt, "ps", "-a"])
      expect(one.filter((o) => o.name.startsWith(`${PREFIX}-obs-`)).map((o) => o.name)).toEqual([names[0]])

      for (const n of names.slice(1)) engine(rt, ["create", "--label", RUN_LABEL, "--name", n, TEST_IMAGE, "sleep", "300"])
      counting.reset()
      const all = yield* c.observe([rt])
      expect(counting.calls.length).toBe(1)
      const ours = all.filter((o) => names.includes(o.name))
      expect(ours.map((o) => o.name).sort()).toEqual([...names].sort())
      for (const o of ours) expect(o).toMatchObject({ state: "stopped", owned: false, runtime: rt, image: TEST_IMAGE })
    }).pipe(Effect.provide(layer))
  })

  it.live("stop removes an owned container; remove works on any state", () =>
    provide(Effect.gen(function*() {
      const c = yield* Containers
      const a = uniqueName("own")
      const b = uniqueName("own")
      yield* cleanup(rt, a, b)
      yield* c.start(spec(a), rt, { settle })
      yield* c.stop(a, rt, { timeout: 1 })
      expect((yield* Effect.flip(c.inspect(a, rt)))._tag).toBe("SessionNotFound")
      expect((yield* c.observe([rt])).some((o) => o.name === a)).toBe(false)
      expect((yield* Effect.flip(c.stop(a, rt)))._tag).toBe("SessionNotFound")

      yield* c.start(spec(b), rt, { settle })
      yield* c.stop(b, rt, { force: true })
      expect((yield* Effect.flip(c.inspect(b, rt)))._tag).toBe("SessionNotFound")
      expect((yield* Effect.flip(c.remove(b, rt)))._tag).toBe("SessionNotFound")
    })))

  it.live("a foreign container is observed as not owned; stop leaves it in place, stopped", () =>
    provide(Effect.gen(function*() {
      const c = yield* Containers
      const name = uniqueName("foreign")
      yield* cleanup(rt, name)
      engine(rt, ["run", "-d", "--label", RUN_LABEL, "--name", name, TEST_IMAGE, "sleep", "300"])
      const [seen] = (yield* c.observe([rt])).filter((o) => o.name === name)
      expect(seen).toMatchObject({ state: "running", owned: false, spec_hash: null, applied: null })
      yield* c.stop(name, rt, { timeout: 1 })
      const after = yield* c.inspect(name, rt)
      expect(after.owned).toBe(false)
      expect(after.state).not.toBe("running")
      // Stopping again is fine and still leaves it there.
      yield* c.stop(name, rt, { force: true })
      expect((yield* c.inspect(name, rt)).state).not.toBe("running")
    })))

  it.live("a container that exits right after start is SessionStartFailed with its exit code and output", () =>
    provide(Effect.gen(function*() {
      const c = yield* Containers
      const name = uniqueName("exit")
      yield* cleanup(rt, name)
      const e = yield* Effect.flip(c.start(spec(name, { command: `sh -c 'echo dying now; exit 3'` }), rt, { settle: "1 second" }))
      expect(e._tag).toBe("SessionStartFailed")
      if (e._tag !== "SessionStartFailed") return
      expect(e.exitCode).toBe(3)
      expect(e.output).toContain("dying now")
      const seen = yield* c.inspect(name, rt)
      expect([seen.state, seen.exit_code]).toEqual(["exited", 3])
      const [listed] = (yield* c.observe([rt])).filter((o) => o.name === name)
      expect([listed!.state, listed!.exit_code]).toEqual(["exited", 3])
      // restart runs it again: same failure
      const again = yield* Effect.flip(c.restart(name, rt, { settle: "1 second" }))
      expect(again._tag === "SessionStartFailed" && again.exitCode).toBe(3)
      // the name is taken: a second `run` is refused by the engine
      const taken = yield* Effect.flip(c.start(spec(name), rt, { settle }))
      expect(taken._tag === "SessionStartFailed" && taken.reason).toMatch(/already in use/i)
      // stopping an exited owned container is fine and removes it
      yield* c.stop(name, rt, { timeout: 1 })
      expect((yield* Effect.flip(c.inspect(name, rt)))._tag).toBe("SessionNotFound")
    })))

  it.live("restart brings a stopped owned container back", () =>
    provide(Effect.gen(function*() {
      const c = yield* Containers
      const name = uniqueName("restart")
      yield* cleanup(rt, name)
      yield* c.start(spec(name), rt, { settle })
      engine(rt, ["kill", name])
      const down = yield* eventually(() => JSON.parse(engine(rt, ["container", "inspect", name]))[0].State.Status as string, (s) => s !== "running")
      expect(down).toBe("exited")
      const up = yield* c.restart(name, rt, { settle })
      expect(up.state).toBe("running")
      expect((yield* Effect.flip(c.restart(`${PREFIX}-nope`, rt, { settle })))._tag).toBe("SessionNotFound")
    })))

  it.live("logs return stdout and stderr (TTY session and a plain foreign container); follow streams lines", () =>
    provide(Effect.gen(function*() {
      const c = yield* Containers
      const tty = uniqueName("logs")
      const plain = uniqueName("logs-plain")
      yield* cleanup(rt, tty, plain)
      yield* c.start(spec(tty, { command: `sh -c 'echo out-line; echo err-line >&2; sleep 300'` }), rt, { settle })
      engine(rt, ["run", "-d", "--label", RUN_LABEL, "--name", plain, TEST_IMAGE, "sh", "-c", "echo out-line; echo err-line >&2; sleep 300"])
      for (const n of [tty, plain]) {
        let text = ""
        for (let i = 0; i < 50 && !(text.includes("out-line") && text.includes("err-line")); i++) {
          text = yield* c.logs(n, rt)
          if (!text.includes("err-line")) yield* Effect.sleep("100 millis")
        }
        expect(text).toContain("out-line\n")
        expect(text).toContain("err-line\n")
        expect(text).not.toContain("\r")
      }
      expect((yield* c.logs(plain, rt, { lines: 1 })).trim().split("\n")).toHaveLength(1)
      const followed = yield* c.follow(plain, rt).pipe(Stream.take(2), Stream.runCollect, Effect.timeout("20 seconds"))
      expect([...followed].sort()).toEqual(["err-line", "out-line"])
      expect((yield* Effect.flip(c.logs(`${PREFIX}-nope`, rt)))._tag).toBe("SessionNotFound")
      expect((yield* Effect.flip(Stream.runCollect(c.follow(`${PREFIX}-nope`, rt))))._tag).toBe("SessionNotFound")
    })))

  it.live("exec returns exit code, stdout and stderr; attach refuses without a running container or a terminal", () =>
    provide(Effect.gen(function*() {
      const c = yield* Containers
      const name = uniqueName("exec")
      yield* cleanup(rt, name)
      yield* c.start(spec(name, { working_dir: "/tmp" }), rt, { settle })
      const r = yield* c.exec(name, rt, ["sh", "-c", "pwd; echo to-err >&2; exit 4"])
      expect(r).toEqual({ exitCode: 4, stdout: "/tmp\n", stderr: "to-err\n" })
      expect((yield* Effect.flip(c.exec(`${PREFIX}-nope`, rt, ["true"])))._tag).toBe("SessionNotFound")

      if (process.stdin.isTTY !== true) {
        const e = yield* Effect.flip(c.attach(name, rt))
        expect(e._tag === "SessionAttachFailed" && e.reason).toBe("not a terminal")
      }
      engine(rt, ["kill", name])
      yield* eventually(() => spawnSync(rt, ["container", "inspect", name], { encoding: "utf8" }).stdout, (t) => !t.includes(`"Running": true`))
      const e = yield* Effect.flip(c.attach(name, rt))
      expect(e._tag === "SessionAttachFailed" && e.reason).toBe("container is not running")
      expect((yield* Effect.flip(c.attach(`${PREFIX}-nope`, rt)))._tag).toBe("SessionNotFound")
    })))

  it.live("a name held only by an image is not a container", () =>
    provide(Effect.gen(function*() {
      const c = yield* Containers
      const name = uniqueName("img")
      engine(rt, ["tag", TEST_IMAGE, `${name}:latest`])
      yield* Effect.addFinalizer(() => Effect.sync(() => void spawnSync(rt, ["rmi", `${name}:latest`], { stdio: "ignore" })))
      // Plain `inspect` would match the image: the backend must not.
      expect(spawnSync(rt, ["inspect", name], { stdio: "ignore" }).status).toBe(0)
      expect((yield* Effect.flip(c.inspect(name, rt)))._tag).toBe("SessionNotFound")
      expect((yield* Effect.flip(c.stop(name, rt)))._tag).toBe("SessionNotFound")
      expect((yield* c.observe([rt])).some((o) => o.name === name)).toBe(false)
    })))

  it.live("a missing image fails at once with the engine's message", () =>
    provide(Effect.gen(function*() {
      const c = yield* Containers
      const name = uniqueName("noimg")
      yield* cleanup(rt, name)
      const image = `localhost/${PREFIX}-missing:1`
      const e = yield* Effect.flip(c.start(spec(name, { image }), rt, { settle }))
      expect(e._tag).toBe("SessionStartFailed")
      if (e._tag !== "SessionStartFailed") return
      expect(e.reason).toContain(`${PREFIX}-missing`)
      expect(e.reason).toMatch(/image/i)
      expect(e.reason).not.toMatch(/--help/)
      expect(e.exitCode).toBeNull()
    })))
})

describe("container runtime detection", () => {
  it.live("no runtime on PATH: ContainerRuntimeNotFound (fresh layer, so no stale PATH cache)", () =>
    Effect.gen(function*() {
      const empty = mkdtempSync(join(tmpdir(), "kstlib-emptypath-"))
      const saved = process.env["PATH"]
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          process.env["PATH"] = saved
          rmSync(empty, { recursive: true, force: true })
        })
      )
      process.env["PATH"] = empty
      const outcome = yield* Effect.gen(function*() {
        const c = yield* Containers
        return {
          available: yield* c.available,
          auto: yield* Effect.flip(c.resolveRuntime(null)),
          docker: yield* Effect.flip(c.resolveRuntime("docker"))
        }
      }).pipe(Effect.provide(Containers.layerNode))
      expect(outcome.available).toEqual([])
      expect(outcome.auto._tag).toBe("ContainerRuntimeNotFound")
      expect(outcome.auto.tried).toEqual(["podman", "docker"])
      expect(outcome.docker.tried).toEqual(["docker"])
      expect(outcome.auto.message).toContain("no container runtime found in PATH")
    }))
})
