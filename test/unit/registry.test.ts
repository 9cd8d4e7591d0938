/**
 * The driver table: every registry call routed by driverOf to its driver; launches partitioned by
 * driver once, results back in the given order; remove derived from stop (leave nothing; gone is
 * success); capabilities per driver; a spec and session of different drivers is a defect.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Result, Stream } from "effect"
import type { Driver } from "../../src/backends/driver.js"
import { registryOf } from "../../src/backends/registry.js"
import { SessionNotFound } from "../../src/errors.js"
import type { ObservedSession, SessionSpec } from "../../src/model.js"
import type { DriverName } from "../../src/place.js"
import { containerSpec, launchOf, owned, tmuxSpec } from "../../src/testing/specs.js"

/** A driver that records what it was asked: `calls` lines like `engine.stop web nothing`. */
const recording = (name: DriverName, calls: Array<string>, exec: boolean): Driver<SessionSpec, ObservedSession> => ({
  name,
  capabilities: { exec, sendKeys: name === "tmux", updatesInPlace: name === "swarm" },
  // a width per driver and runtime, to see which one the registry asked
  laneWidth: (place) => (place.backend === "container" ? (place.runtime === "docker" ? 8 : place.runtime === "podman" ? 5 : 3) : 2),
  observe: () => Effect.sync(() => (calls.push(`${name}.observe`), { sessions: [], answered: [], problems: [] })),
  batchKey: (spec) => spec.name,
  launch: (items) =>
    Effect.sync(() => {
      calls.push(`${name}.launch ${items.map((i) => i.spec.name).join(",")}`)
      return items.map(() => Result.succeed(undefined))
    }),
  startInPlace: (o) => Effect.sync(() => void calls.push(`${name}.startInPlace ${o.name}`)),
  stop: (o, options) =>
    o.name === "gone"
      ? Effect.fail(new SessionNotFound({ session: o.name, backend: o.backend }))
      : Effect.sync(() => (calls.push(`${name}.stop ${o.name} ${options.leave}`), "stopped" as const)),
  logs: (o) => Effect.succeed(`${name} logs of ${o.name}`),
  follow: () => Stream.empty,
  attach: () => Effect.void,
  exec: () => Effect.succeed({ exitCode: 0, stdout: name, stderr: "" }),
  sendKeys: () => Effect.void,
  probe: () => Effect.succeed({ ready: true, detail: name }),
  // only the engine driver has project networks
  ...(name === "engine"
    ? { releaseNetwork: (place, project) => Effect.sync(() => void calls.push(`${name}.releaseNetwork ${place.backend === "container" ? place.runtime : "tmux"}${place.host === undefined ? "" : `@${place.host}`} ${project}`)) }
    : {}),
  usage: (sessions) =>
    Effect.sync(() => {
      calls.push(`${name}.usage ${sessions.map((o) => o.name).join(",")}`)
      return sessions.map((o) => ({ cpu_percent: o.name.length, memory_bytes: name.length }))
    }),
  freeze: (sessions) =>
    Effect.sync(() => {
      calls.push(`${name}.freeze ${sessions.map((o) => o.name).join(",")}`)
      return sessions.map((o) => ({ entry: { driver: name, name: o.name }, notes: [] }))
    })
})

const setup = () => {
  const calls: Array<string> = []
  const registry = registryOf({
    tmux: recording("tmux", calls, false),
    engine: recording("engine", calls, true),
    swarm: recording("swarm", calls, false)
  })
  return { calls, registry }
}

const t = tmuxSpec("t")
const p = containerSpec("p", { runtime: "podman" })
const s = containerSpec("s", { runtime: "swarm" })

describe("the driver table", () => {
  it.effect("releaseNetworks: each engine place to the engine driver; tmux and swarm places have no project network", () =>
    Effect.gen(function*() {
      const { calls, registry } = setup()
      yield* registry.releaseNetworks([
        { backend: "container", runtime: "podman" },
        { backend: "container", runtime: "docker", host: "edge1" },
        { backend: "container", runtime: "swarm" },
        { backend: "tmux", socket: null }
      ], "proj")
      expect(calls.sort()).toEqual(["engine.releaseNetwork docker@edge1 proj", "engine.releaseNetwork podman proj"])
    }))

  it.effect("launch: one call per driver, results in the order given", () =>
    Effect.gen(function*() {
      const { calls, registry } = setup()
      const items = [launchOf(s), launchOf(t), launchOf(p), launchOf(tmuxSpec("t2"))]
      const results = yield* registry.launch(items, { project: "proj" })
      expect(results.map(Result.isSuccess)).toEqual([true, true, true, true])
      expect(calls.sort()).toEqual(["engine.launch p", "swarm.launch s", "tmux.launch t,t2"])
    }))

  it.effect("every call goes to the session's driver; capabilities are the driver's", () =>
    Effect.gen(function*() {
      const { calls, registry } = setup()
      expect(yield* registry.logs(owned(s), { lines: 1 })).toBe("swarm logs of s")
      expect(yield* registry.logs(owned(p), { lines: 1 })).toBe("engine logs of p")
      yield* registry.startInPlace(owned(t), t, { project: "proj", stamp: null })
      expect(calls).toEqual(["tmux.startInPlace t"])
      // swarm has no exec, unlike the engine driver under the same backend kind
      expect(registry.capabilities(owned(s)).exec).toBe(false)
      expect(registry.capabilities(owned(p)).exec).toBe(true)
      expect(registry.batchKey(t)).not.toBe(registry.batchKey(containerSpec("t", { runtime: "podman" })))
    }))

  it("lane: one per engine and machine (any socket, any session), as wide as its driver says", () => {
    const { registry } = setup()
    const d = containerSpec("d", { runtime: "docker" })
    expect([t, p, d, s].map((x) => registry.lane(x).width)).toEqual([2, 5, 8, 3])
    // a spec and its observed session share the lane; so do two sessions of one engine, or two tmux sockets
    expect(registry.lane(owned(p))).toEqual(registry.lane(p))
    expect(registry.lane(containerSpec("p2", { runtime: "podman" })).key).toBe(registry.lane(p).key)
    expect(registry.lane(tmuxSpec("u", { socket_name: "other" })).key).toBe(registry.lane(t).key)
    const keys = [t, p, d, s, containerSpec("r", { runtime: "podman", host: "edge1" }), tmuxSpec("h", { host: "edge1" })].map((x) => registry.lane(x).key)
    expect(new Set(keys).size).toBe(keys.length)
  })

  it.effect("remove is stop leaving nothing; a session gone already is success", () =>
    Effect.gen(function*() {
      const { calls, registry } = setup()
      yield* registry.remove(owned(p), { timeout: 3 })
      yield* registry.remove(owned(containerSpec("gone", { runtime: "podman" })), {})
      expect(calls).toEqual(["engine.stop p nothing"])
    }))

  it.effect("observe asks the drivers of the kinds asked for", () =>
    Effect.gen(function*() {
      const { calls, registry } = setup()
      yield* registry.observe({ sockets: [] }, ["container"])
      expect(calls.sort()).toEqual(["engine.observe", "swarm.observe"])
    }))

  it("updatesInPlace: only a driver that can, for its own session in the same place", () => {
    const { registry } = setup()
    expect(registry.updatesInPlace(owned(s), s)).toBe(true)
    expect(registry.updatesInPlace(owned(s), { ...s, host: "edge1" })).toBe(false)
    expect(registry.updatesInPlace(owned(p), p)).toBe(false)
  })

  it.effect("a spec and a session of different drivers is a defect, not a silent call", () =>
    Effect.gen(function*() {
      const { registry } = setup()
      const exit = yield* Effect.exit(registry.probe(owned(t), p))
      expect(exit._tag).toBe("Failure")
    }))

  it.effect("usage: one call per driver with its own sessions, over the same window, results in the order given", () =>
    Effect.gen(function*() {
      const { calls, registry } = setup()
      const sessions = [owned(s), owned(t), owned(p), owned(tmuxSpec("t22"))]
      const u = yield* registry.usage(sessions, Duration.millis(10))
      expect(calls.sort()).toEqual(["engine.usage p", "swarm.usage s", "tmux.usage t,t22"])
      // each driver's answer back at its session's place (cpu: the name's length; memory: the driver's)
      expect(u).toEqual([
        { cpu_percent: 1, memory_bytes: 5 },
        { cpu_percent: 1, memory_bytes: 4 },
        { cpu_percent: 1, memory_bytes: 6 },
        { cpu_percent: 3, memory_bytes: 4 }
      ])
      expect(yield* registry.usage([], Duration.millis(10))).toEqual([])
    }))
})
