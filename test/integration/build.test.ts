/**
 * `build:` against REAL engines, offline (`FROM localhost/kstlib-busybox:latest`): the image is
 * built with the session's engine and tagged as its image, reused while the context's content and
 * the settings are the same, rebuilt when they change; a failing build fails that launch with the
 * engine's last lines and creates nothing. Images and containers are named after this run and
 * removed in finalizers.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Result } from "effect"
import { spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Containers } from "../../src/backends/container.js"
import type { ContainerSpec, RuntimeName } from "../../src/model.js"
import { treeDigest } from "../../src/system/tree-digest.js"
import { requireEngines, TEST_IMAGE } from "../support/engines.js"
import { containerSpec, launchOf } from "../../src/testing/specs.js"

const engines = requireEngines("build integration")
const RUN = randomBytes(4).toString("hex")
const ContainersLive = Containers.layer.pipe(Layer.provide(NodeServices.layer))
const engine = (rt: RuntimeName, args: ReadonlyArray<string>) => spawnSync(rt, args, { encoding: "utf8", timeout: 120_000 })

describe.each(engines)("build on %s", (rt) => {
  it.live("built, reused while the context is the same, rebuilt when it changes; a failing build fails the launch and creates nothing", () =>
    Effect.gen(function*() {
      const name = `kstlib-t-${RUN}-${rt}-built`
      const image = `localhost/kstlib-t-${RUN}-${rt}:latest`
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kstlib-build-"))
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          for (const c of [name, `${name}-2`, `${name}-bad`]) engine(rt, rt === "podman" ? ["rm", "-f", "-t", "0", c] : ["rm", "-f", c])
          engine(rt, ["rmi", "-f", image])
          engine(rt, ["rmi", "-f", `${image}-bad`])
          fs.rmSync(dir, { recursive: true, force: true })
        })
      )
      fs.writeFileSync(path.join(dir, "Dockerfile"), `FROM ${TEST_IMAGE}\nARG GREETING=hi\nCOPY msg /msg\nRUN echo "$GREETING" > /greeting\n`)
      fs.writeFileSync(path.join(dir, "msg"), "one\n")
      const specFor = (n: string, over: Partial<ContainerSpec> = {}) => {
        const digest = treeDigest(dir)
        assert(digest.ok)
        return containerSpec(n, { image, command: "sleep 300", runtime: rt, network_mode: "none", build: { context: dir, args: { GREETING: "hello" } }, build_context: digest.digest, ...over })
      }
      const c = yield* Containers
      const idOf = () => engine(rt, ["image", "inspect", "--format", "{{.Id}}", image]).stdout.trim()
      const [r] = yield* c.launch([launchOf(specFor(name))], { project: `kb${RUN}` })
      assert(r !== undefined)
      expect(Result.isFailure(r) ? r.failure.message : "ok").toBe("ok")
      expect(engine(rt, ["exec", name, "cat", "/msg", "/greeting"]).stdout).toBe("one\nhello\n")
      const first = idOf()
      // the same context: reused as it is
      const [again] = yield* c.launch([launchOf(specFor(`${name}-2`))], { project: `kb${RUN}` })
      expect(again !== undefined && Result.isSuccess(again)).toBe(true)
      expect(idOf()).toBe(first)
      // its content changed: rebuilt
      fs.writeFileSync(path.join(dir, "msg"), "two\n")
      engine(rt, rt === "podman" ? ["rm", "-f", "-t", "0", name] : ["rm", "-f", name])
      const [changed] = yield* c.launch([launchOf(specFor(name))], { project: `kb${RUN}` })
      expect(changed !== undefined && Result.isSuccess(changed)).toBe(true)
      expect(idOf()).not.toBe(first)
      expect(engine(rt, ["exec", name, "cat", "/msg"]).stdout).toBe("two\n")

      // a failing step: the launch fails with the engine's output, nothing is created
      fs.writeFileSync(path.join(dir, "Dockerfile.bad"), `FROM ${TEST_IMAGE}\nRUN echo kstlib-build-broke && exit 3\n`)
      const [bad] = yield* c.launch([launchOf(specFor(`${name}-bad`, { image: `${image}-bad`, build: { context: dir, dockerfile: "Dockerfile.bad" } }))], { project: `kb${RUN}` })
      assert(bad !== undefined && Result.isFailure(bad))
      expect(bad.failure.reason).toContain(`building image ${image}-bad from ${dir} failed`)
      expect(engine(rt, ["container", "inspect", `${name}-bad`]).status).not.toBe(0)
    }).pipe(Effect.scoped, Effect.provide(ContainersLive)), 240_000)
})
