/**
 * `pull:` against a REAL registry on 127.0.0.1 (Debian's `docker-registry`, started by this file on
 * a port of its own, with its storage in a temporary directory) and real engines: `missing` pulls an
 * image the engine lacks, `never` fails fast without asking a registry, a registry that cannot be
 * reached fails the launch naming the image and the registry. Without the registry binary the
 * registry cases are skipped (and say so); the offline ones still run.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Result } from "effect"
import { spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { afterAll, beforeAll } from "vitest"
import { Containers } from "../../src/backends/container.js"
import type { ContainerSpec, RuntimeName } from "../../src/model.js"
import { requireEngines, TEST_IMAGE } from "../support/engines.js"
import { hasRegistry, type LocalRegistry, startRegistry } from "../support/registry.js"
import { containerSpec, launchOf } from "../../src/testing/specs.js"

const engines = requireEngines("pull integration")
const RUN = randomBytes(4).toString("hex")
const ContainersLive = Containers.layer.pipe(Layer.provide(NodeServices.layer))
const engine = (rt: RuntimeName, args: ReadonlyArray<string>) => spawnSync(rt, args, { encoding: "utf8", timeout: 120_000 })

let registry: LocalRegistry | undefined
let address = ""

beforeAll(async () => {
  if (!hasRegistry) return
  registry = await startRegistry()
  address = registry.address
  process.env["CONTAINERS_REGISTRIES_CONF"] = registry.registriesConf
}, 30_000)

afterAll(() => {
  registry?.stop()
})

const spec = (name: string, rt: RuntimeName, over: Partial<ContainerSpec>) =>
  containerSpec(name, { image: TEST_IMAGE, command: "sleep 300", runtime: rt, network_mode: "none", ...over })

describe.each(engines)("pull on %s", (rt) => {
  const cleanup = (containers: ReadonlyArray<string>, images: ReadonlyArray<string>) =>
    Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const c of containers) engine(rt, rt === "podman" ? ["rm", "-f", "-t", "0", c] : ["rm", "-f", c])
        for (const i of images) engine(rt, ["rmi", "-f", i])
      })
    )

  it.live("never: an image this engine lacks fails at once, naming the image; no registry is asked", () =>
    Effect.gen(function*() {
      const name = `kstlib-t-${RUN}-${rt}-never`
      const image = `127.0.0.1:9/kstlib-t-${RUN}/absent:1`
      yield* cleanup([name], [])
      const [r] = yield* (yield* Containers).launch([launchOf(spec(name, rt, { image, pull: "never" }))], { project: `kp${RUN}` })
      assert(r !== undefined && Result.isFailure(r))
      expect(r.failure.reason).toContain("absent")
      expect(r.failure.reason).not.toContain("pulling image")
      expect(engine(rt, ["container", "inspect", name]).status).not.toBe(0)
    }).pipe(Effect.scoped, Effect.provide(ContainersLive)), 60_000)

  it.live("missing: an image this engine has is not pulled (no registry reachable, still launched)", () =>
    Effect.gen(function*() {
      const name = `kstlib-t-${RUN}-${rt}-have`
      yield* cleanup([name], [])
      const [r] = yield* (yield* Containers).launch([launchOf(spec(name, rt, {}))], { project: `kp${RUN}` })
      assert(r !== undefined)
      expect(Result.isFailure(r) ? r.failure.message : "ok").toBe("ok")
    }).pipe(Effect.scoped, Effect.provide(ContainersLive)), 60_000)

  it.live("a registry that cannot be reached: the launch fails naming the image and the registry; nothing is created", () =>
    Effect.gen(function*() {
      const name = `kstlib-t-${RUN}-${rt}-unreach`
      const image = `127.0.0.1:9/kstlib-t-${RUN}/nowhere:1`
      yield* cleanup([name], [])
      const [r] = yield* (yield* Containers).launch([launchOf(spec(name, rt, { image, pull: "always" }))], { project: `kp${RUN}` })
      assert(r !== undefined && Result.isFailure(r))
      expect(r.failure.reason).toContain(`pulling image ${image} from 127.0.0.1:9 failed: Error`)
      // the engine's own words, once (not podman's retry warnings before it)
      expect(r.failure.reason).toMatch(/connection refused/u)
      expect(r.failure.reason).not.toMatch(/retrying/u)
      expect(engine(rt, ["container", "inspect", name]).status).not.toBe(0)
    }).pipe(Effect.scoped, Effect.provide(ContainersLive)), 120_000)

  it.live.skipIf(!hasRegistry)("missing: pulls from the registry on 127.0.0.1 an image this engine lacks, then runs it", () =>
    Effect.gen(function*() {
      const name = `kstlib-t-${RUN}-${rt}-pulled`
      const image = `${address}/kstlib-t-${RUN}/${rt}:1`
      yield* cleanup([name], [image])
      expect(engine(rt, ["tag", TEST_IMAGE, image]).status).toBe(0)
      const pushed = engine(rt, rt === "podman" ? ["push", "--tls-verify=false", image] : ["push", image])
      expect(pushed.stderr + pushed.stdout).not.toMatch(/error/iu)
      expect(engine(rt, ["rmi", image]).status).toBe(0)
      expect(engine(rt, ["image", "inspect", image]).status).not.toBe(0)
      const [r] = yield* (yield* Containers).launch([launchOf(spec(name, rt, { image }))], { project: `kp${RUN}` })
      assert(r !== undefined)
      expect(Result.isFailure(r) ? r.failure.message : "ok").toBe("ok")
      expect(engine(rt, ["image", "inspect", image]).status).toBe(0)
      // a tag the registry does not have: its own answer, with the image and the registry named
      const missing = `${address}/kstlib-t-${RUN}/${rt}:absent`
      const [m] = yield* (yield* Containers).launch([launchOf(spec(`${name}-m`, rt, { image: missing }))], { project: `kp${RUN}` })
      yield* cleanup([`${name}-m`], [])
      assert(m !== undefined && Result.isFailure(m))
      expect(m.failure.reason).toContain(`pulling image ${missing} from ${address} failed`)
    }).pipe(Effect.scoped, Effect.provide(ContainersLive)), 120_000)
})
