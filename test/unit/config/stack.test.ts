/**
 * Issue 22 stacks: `ops.networks` / `ops.volumes` declared and joined by container sessions —
 * decoded onto the spec, refused with file:line when bad, on the engine's command line, and in the
 * fingerprint only when set (a session without them keeps its hash).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createsFirst, engineVolume, extraNetworks, runArgs } from "../../../src/backends/container/argv.js"
import type { LoadedConfig } from "../../../src/config/types.js"
import type { ContainerSpec } from "../../../src/model.js"
import { stampOf } from "../../../src/spec/fingerprint.js"
import { configTextLoader, issueLines, rejected, valid } from "../../support/loaded.js"
import { containerSpec, fingerprint, specHash, TEST_DIGEST } from "../../support/factories.js"

const loadText = configTextLoader("kstlib-stack-")
const reasons = (c: LoadedConfig, name: string) => issueLines(rejected(c, name))
const specOf = (c: LoadedConfig, name: string) => valid(c, name).spec as ContainerSpec

const STACK = `ops:
  default_backend: container
  container_runtime: podman
  networks:
    back: { internal: true }
    front:
  volumes:
    db_data:
  sessions:
`

describe("ops.networks and ops.volumes", () => {
  it.effect("a session's networks are the declared ones, with internal; its declared volumes are named", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`${STACK}    db: { image: localhost/db:1, networks: [back], volumes: ["db_data:/var/lib/db", "other:/x"] }
    proxy: { image: localhost/px:1, networks: [front, back] }
`)
      expect(c.networks).toEqual([{ name: "back", internal: true }, { name: "front", internal: false }])
      expect(c.volumes).toEqual(["db_data"])
      expect(specOf(c, "db").networks).toEqual([{ name: "back", internal: true }])
      expect(specOf(c, "db").declared_volumes).toEqual(["db_data"])
      expect(specOf(c, "proxy").networks?.map((n) => n.name)).toEqual(["front", "back"])
    }))

  it.effect("refused with file:line: an undeclared network, one listed twice, networks with network_mode, a bad declared name", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`${STACK}    a: { image: localhost/a:1, networks: [nope] }
    b: { image: localhost/b:1, networks: [back, back] }
    c: { image: localhost/c:1, networks: [back], network_mode: host }
`)
      expect(reasons(c, "a").join("\n")).toMatch(/^10: networks\[0\].*unknown network 'nope' \(ops\.networks has: back, front\)/u)
      expect(reasons(c, "b").join("\n")).toContain("a network is listed twice")
      expect(reasons(c, "c").join("\n")).toContain("a container with network_mode: host joins no network")
      const bad = yield* Effect.flip(loadText(`ops:\n  networks:\n    "-x": {}\n`))
      expect(JSON.stringify(bad)).toContain("ops.networks")
    }))
})

describe("on the engine's command line", () => {
  const spec = containerSpec("db", { networks: [{ name: "back", internal: true }], volumes: ["db_data:/d:ro", "plain:/p"], declared_volumes: ["db_data"] })
  it("created first, then connected to each declared network; declared volumes under their engine name", () => {
    const built = runArgs(spec, stampOf(spec, TEST_DIGEST), "shop", null)
    expect(built.ok && built.args[0]).toBe("create")
    expect(built.ok && built.args.join(" ")).toContain("-v kstlib-shop.db_data:/d:ro -v plain:/p")
    expect(createsFirst(spec)).toBe(true)
    expect(extraNetworks(spec, "shop")).toEqual(["kstlib-shop.back"])
    expect(engineVolume(containerSpec("x"), "shop", "db_data:/d")).toBe("db_data:/d")
    const plain = containerSpec("x")
    const r = runArgs(plain, stampOf(plain, TEST_DIGEST), "shop", null)
    expect(r.ok && r.args.slice(0, 2)).toEqual(["run", "-d"])
  })

  it("in the fingerprint only when set, by name: changing a session's networks is drift", () => {
    const base = containerSpec("db")
    expect(fingerprint(base)).not.toHaveProperty("networks")
    expect(fingerprint(base)).not.toHaveProperty("declared_volumes")
    expect(specHash({ ...base, networks: [] })).toBe(specHash(base))
    expect(fingerprint(spec)["networks"]).toEqual(["back"])
    expect(specHash({ ...spec, networks: [{ name: "front", internal: false }] })).not.toBe(specHash(spec))
  })
})
