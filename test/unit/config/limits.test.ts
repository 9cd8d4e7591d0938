/**
 * Container limits `memory:` (a byte size, at least 6M) and `cpus:` (a number of CPUs): decoded,
 * refused with file:line, passed as `--memory`/`--cpus` (swarm: `--limit-memory`/`--limit-cpu`),
 * exported as Kubernetes resources.limits, in the fingerprint only when set.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { parseAllDocuments } from "yaml"
import { limitArgs, runArgs } from "../../../src/backends/container/argv.js"
import { createArgs } from "../../../src/backends/swarm/argv.js"
import type { LoadedConfig } from "../../../src/config/types.js"
import { configTextLoader, entry, issueLines } from "../../support/loaded.js"
import { kubernetesManifests } from "../../../src/export/kubernetes.js"
import { stampOf } from "../../../src/spec/fingerprint.js"
import { containerSpec, specHash, TEST_DIGEST, valid } from "../../../src/testing/specs.js"

const loadText = configTextLoader("kstlib-limits-")
const reasons = (c: LoadedConfig, name: string) => issueLines(entry(c, name))

describe("container limits", () => {
  it.effect("memory as a size or bytes, cpus as a number: on the spec", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`ops:
  sessions:
    a:
      backend: container
      image: localhost/app:1
      memory: 512m
      cpus: 1.5
    b:
      backend: container
      image: localhost/app:1
      memory: 10485760
    c:
      backend: container
      image: localhost/app:1
`)
      const [a, b, cc] = ["a", "b", "c"].map((n) => entry(c, n))
      expect(a).toMatchObject({ _tag: "Valid", spec: { memory: 512 * 1024 ** 2, cpus: 1.5 } })
      expect(b).toMatchObject({ _tag: "Valid", spec: { memory: 10_485_760 } })
      expect(b?._tag === "Valid" && "cpus" in b.spec).toBe(false)
      expect(cc?._tag === "Valid" && ("memory" in cc.spec || "cpus" in cc.spec)).toBe(false)
    }))

  it.effect("bad values are refused with their line; the other entries stay valid", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`ops:
  sessions:
    small:
      backend: container
      image: localhost/app:1
      memory: 1m
    word:
      backend: container
      image: localhost/app:1
      memory: lots
    zero:
      backend: container
      image: localhost/app:1
      cpus: 0
    fine:
      backend: container
      image: localhost/app:1
      cpus: 0.333
    text:
      backend: container
      image: localhost/app:1
      cpus: "two"
    ok:
      backend: container
      image: localhost/app:1
      cpus: 2
`)
      expect(reasons(c, "small").join()).toMatch(/^6: memory: .*at least 6M/u)
      expect(reasons(c, "word").join()).toMatch(/^10: memory: /u)
      expect(reasons(c, "zero").join()).toMatch(/^14: cpus: .*more than 0/u)
      expect(reasons(c, "fine").join()).toMatch(/^18: cpus: .*two decimals/u)
      expect(reasons(c, "text").join()).toMatch(/^22: cpus: /u)
      expect(entry(c, "ok")._tag).toBe("Valid")
    }))

  // an attack found in review: a tiny value passed the two-decimals check (1e-12 * 100 rounds to 0
  // within the tolerance) and reached the engine as `--cpus 1e-12`
  it.effect("cpus below 0.01 is refused, however it is written", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`ops:
  sessions:
    tiny:
      backend: container
      image: localhost/app:1
      cpus: 0.000000000001
    sci:
      backend: container
      image: localhost/app:1
      cpus: 1e-300
    least:
      backend: container
      image: localhost/app:1
      cpus: 0.01
`)
      expect(reasons(c, "tiny").join()).toMatch(/^6: cpus: /u)
      expect(reasons(c, "sci").join()).toMatch(/^10: cpus: /u)
      expect(entry(c, "least")._tag).toBe("Valid")
    }))

  it.effect("a tmux session has no such field", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`ops:
  sessions:
    t:
      command: sleep 100
      memory: 512m
`)
      expect(reasons(c, "t").join()).toMatch(/memory/u)
    }))

  it("argv: --memory BYTES and --cpus N, only when set; swarm --limit-memory/--limit-cpu", () => {
    const spec = containerSpec("w", { image: "localhost/app:1", command: null })
    expect(limitArgs(spec)).toEqual([])
    const limited = { ...spec, memory: 64 * 1024 ** 2, cpus: 1.5 }
    expect(limitArgs(limited)).toEqual(["--memory", "67108864", "--cpus", "1.5"])
    const run = runArgs(limited, stampOf(limited, TEST_DIGEST), "p", null)
    expect(run.ok && run.args.join(" ")).toContain("--memory 67108864 --cpus 1.5")
    const swarm = createArgs({ ...limited, runtime: "swarm" }, stampOf(limited, TEST_DIGEST), "p", null)
    expect(swarm.ok && swarm.args.join(" ")).toContain("--limit-memory 67108864 --limit-cpu 1.5")
    const plain = createArgs({ ...spec, runtime: "swarm" }, stampOf(spec, TEST_DIGEST), "p", null)
    expect(plain.ok && plain.args.join(" ")).not.toMatch(/--limit-/u)
  })

  it("fingerprint: when set only (no limit: the hash as before); a changed limit is a change", () => {
    const spec = containerSpec("w")
    expect(specHash({ ...spec })).toBe(specHash(containerSpec("w")))
    expect(specHash({ ...spec, memory: 64 * 1024 ** 2 })).not.toBe(specHash(spec))
    expect(specHash({ ...spec, memory: 64 * 1024 ** 2 })).not.toBe(specHash({ ...spec, memory: 128 * 1024 ** 2 }))
    expect(specHash({ ...spec, cpus: 1 })).not.toBe(specHash({ ...spec, cpus: 2 }))
  })

  it("kubernetes: resources.limits memory (bytes) and cpu", () => {
    const text = kubernetesManifests([valid(containerSpec("web", { memory: 512 * 1024 ** 2, cpus: 1.5 }))], { project: "proj", digest: TEST_DIGEST, includeSecrets: false })
    const docs = parseAllDocuments(text).map((d) => d.toJS() as Record<string, any>)
    const deploy = docs.find((d) => d["kind"] === "Deployment")!
    expect(deploy["spec"]["template"]["spec"]["containers"][0]["resources"]).toEqual({ limits: { memory: "536870912", cpu: "1.5" } })
    const none = kubernetesManifests([valid(containerSpec("web"))], { project: "proj", digest: TEST_DIGEST, includeSecrets: false })
    expect(none).not.toContain("resources:\n        limits")
  })
})
