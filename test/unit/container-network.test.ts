import { assert, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Containers } from "../../src/backends/container.js"
import { isProjectNetwork, networkCreateArgs, networkInspectArgs, networkRmArgs, projectNetwork, runArgs } from "../../src/backends/container/argv.js"
import { networksOf, plan } from "../../src/reconcile/plan.js"
import { planToJson } from "../../src/reconcile/render.js"
import { stampOf } from "../../src/spec/fingerprint.js"
import { containerSpec, fingerprint, launchOf, owned, planOptions, TEST_DIGEST, tmuxSpec, valid } from "../../src/testing/specs.js"
import { fakeSpawner } from "../../src/testing/spawner.js"

const OURS = `{"io.kstlib.managed":"true","io.kstlib.project":"proj"}\n`
const NOT_FOUND = { exitCode: 125, stderr: "Error: network kstlib-proj: unable to find network with name or ID kstlib-proj: network not found" }

describe("project network argv", () => {
  it("every container joins kstlib-<project>, reached there by its session name; the fingerprint does not change", () => {
    const s = containerSpec("db")
    const r = runArgs(s, stampOf(s, TEST_DIGEST), "proj", null)
    assert(r.ok)
    const i = r.args.indexOf("--network")
    expect(r.args.slice(i, i + 4)).toEqual(["--network", "kstlib-proj", "--network-alias", "db"])
    // nothing about networks is stamped: sessions created before networks keep their hash
    expect(Object.keys(fingerprint(s)).some((k) => k.includes("network"))).toBe(false)
  })

  it("create, inspect and rm, labelled with the managed mark and the project", () => {
    expect(projectNetwork("proj")).toBe("kstlib-proj")
    expect(networkCreateArgs("proj")).toEqual([
      "network",
      "create",
      "--label",
      "io.kstlib.managed=true",
      "--label",
      "io.kstlib.project=proj",
      "--",
      "kstlib-proj"
    ])
    expect(networkInspectArgs("kstlib-proj")).toEqual(["network", "inspect", "--format", "{{json .Labels}}", "--", "kstlib-proj"])
    expect(networkRmArgs("kstlib-proj")).toEqual(["network", "rm", "--", "kstlib-proj"])
  })

  it("a network is ours only with both exact labels", () => {
    expect(isProjectNetwork(OURS, "proj")).toBe(true)
    expect(isProjectNetwork(`{"io.kstlib.managed":"true","io.kstlib.project":"proj","other":"x"}`, "proj")).toBe(true)
    expect(isProjectNetwork(OURS, "other")).toBe(false)
    expect(isProjectNetwork(`{"io.kstlib.managed":"yes","io.kstlib.project":"proj"}`, "proj")).toBe(false)
    expect(isProjectNetwork(`{"io.kstlib.project":"proj"}`, "proj")).toBe(false)
    expect(isProjectNetwork("{}", "proj")).toBe(false)
    expect(isProjectNetwork("null", "proj")).toBe(false)
    expect(isProjectNetwork("", "proj")).toBe(false)
  })
})

/** The calls other than the image's look, in order: what the launch did to the network, then its run. */
const networkAndRun = (calls: ReadonlyArray<ReadonlyArray<string>>) =>
  calls.map((c) => c.slice(1, 3).join(" ")).filter((c) => c !== "image inspect")

describe("project network over a fake spawner", () => {
  it.live("absent: created with the project's labels before the run", () => {
    const fake = fakeSpawner((_cmd, args) => (args[0] === "network" && args[1] === "inspect" ? NOT_FOUND : args[0] === "run" ? { stdout: "abc\n" } : {}))
    return Effect.gen(function*() {
      const rs = yield* (yield* Containers).launch([launchOf(containerSpec("db"))], { project: "proj" })
      expect(rs.map((r) => r._tag)).toEqual(["Success"])
      // the image is looked at beside the network (any order), the run comes after both
      expect(networkAndRun(fake.calls)).toEqual(["network inspect", "network create", "run -d"])
      expect(fake.calls.map((c) => c.slice(1, 3).join(" ")).slice(0, 3).sort()).toEqual(["image inspect", "network create", "network inspect"])
      expect(fake.calls.find((c) => c[1] === "network" && c[2] === "create")).toEqual(["podman", ...networkCreateArgs("proj")])
    }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
  })

  it.live("ours already: used as it is", () => {
    const fake = fakeSpawner((_cmd, args) => (args[0] === "network" ? { stdout: OURS } : { stdout: "abc\n" }))
    return Effect.gen(function*() {
      const rs = yield* (yield* Containers).launch([launchOf(containerSpec("db", { runtime: "docker" }))], { project: "proj" })
      expect(rs.map((r) => r._tag)).toEqual(["Success"])
      expect(fake.calls.map((c) => c.slice(0, 3).join(" ")).slice(0, 2).sort()).toEqual(["docker image inspect", "docker network inspect"])
      expect(fake.calls.map((c) => c.slice(0, 3).join(" ")).slice(2)).toEqual(["docker run -d"])
    }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
  })

  it.live("a network of that name that is not this project's: the launch fails saying so, nothing created, nothing run", () => {
    const fake = fakeSpawner((_cmd, args) => (args[0] === "network" ? { stdout: `{"io.kstlib.managed":"true","io.kstlib.project":"other"}` } : { stdout: "abc\n" }))
    return Effect.gen(function*() {
      const [r] = yield* (yield* Containers).launch([launchOf(containerSpec("db"))], { project: "proj" })
      assert(r !== undefined && r._tag === "Failure")
      expect(r.failure.reason).toBe(
        "network kstlib-proj exists and is not this project's (it lacks the labels io.kstlib.managed=true and io.kstlib.project=proj): it was left untouched and no container was created on it"
      )
      // (the image may have been looked at beside the network: a look, not a change)
      expect(networkAndRun(fake.calls)).toEqual(["network inspect"])
    }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
  })

  it.live("two launches racing: the create that lost looks again and finds ours", () => {
    let inspected = 0
    const fake = fakeSpawner((_cmd, args) => {
      if (args[0] === "network" && args[1] === "inspect") return inspected++ === 0 ? NOT_FOUND : { stdout: OURS }
      if (args[0] === "network" && args[1] === "create") return { exitCode: 125, stderr: "Error: network name kstlib-proj already used: network already exists" }
      return { stdout: "abc\n" }
    })
    return Effect.gen(function*() {
      const rs = yield* (yield* Containers).launch([launchOf(containerSpec("db"))], { project: "proj" })
      expect(rs.map((r) => r._tag)).toEqual(["Success"])
      expect(networkAndRun(fake.calls)).toEqual(["network inspect", "network create", "network inspect", "run -d"])
      expect(fake.calls.filter((c) => c[1] === "image" && c[2] === "inspect")).toHaveLength(1)
    }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
  })

  it.live("several launches of one project: one look-or-create at a time, so the network is created once (Docker would make two of one name)", () => {
    let exists = false
    const fake = fakeSpawner((_cmd, args) => {
      if (args[0] === "network" && args[1] === "inspect") return exists ? { stdout: OURS } : NOT_FOUND
      if (args[0] === "network" && args[1] === "create") {
        exists = true
        return {}
      }
      return { stdout: "abc\n" }
    })
    return Effect.gen(function*() {
      const specs = ["a", "b", "c", "d"].map((n) => launchOf(containerSpec(n, { runtime: "docker" })))
      const rs = yield* (yield* Containers).launch(specs, { project: "proj" })
      expect(rs.map((r) => r._tag)).toEqual(["Success", "Success", "Success", "Success"])
      expect(fake.calls.filter((c) => c[1] === "network" && c[2] === "create")).toHaveLength(1)
    }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
  })

  it.live("a create that fails for another reason fails the launch with the engine's words", () => {
    const fake = fakeSpawner((_cmd, args) =>
      args[0] === "network" && args[1] === "inspect" ? NOT_FOUND : args[1] === "create" ? { exitCode: 125, stderr: "Error: no subnet left" } : { stdout: "abc\n" }
    )
    return Effect.gen(function*() {
      const [r] = yield* (yield* Containers).launch([launchOf(containerSpec("db"))], { project: "proj" })
      assert(r !== undefined && r._tag === "Failure")
      expect(r.failure.reason).toContain("creating network kstlib-proj: ")
      expect(r.failure.reason).toContain("no subnet left")
      expect(fake.calls.some((c) => c[1] === "run")).toBe(false)
    }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
  })
})

describe("the plan names the project networks its launches join", () => {
  it("one per engine and machine, for Podman/Docker launches without network_mode; plan --json shows them", () => {
    const entries = [
      valid(containerSpec("db")),
      valid(containerSpec("api")),
      valid(containerSpec("web", { runtime: "docker" })),
      valid(containerSpec("tool", { network_mode: "host" })),
      valid(tmuxSpec("shell"))
    ]
    const p = plan(entries, [], planOptions())
    expect(networksOf(p)).toEqual([
      { name: "kstlib-proj", runtime: "podman", host: null, sessions: ["db", "api"] },
      { name: "kstlib-proj", runtime: "docker", host: null, sessions: ["web"] }
    ])
    expect(planToJson(p).networks).toEqual(networksOf(p))
  })

  it("nothing launched: no networks key (a plan without container launches reads as before)", () => {
    const db = containerSpec("db")
    const p = plan([valid(db)], [owned(db)], planOptions())
    expect(p.steps).toEqual([])
    expect("networks" in planToJson(p)).toBe(false)
  })
})
