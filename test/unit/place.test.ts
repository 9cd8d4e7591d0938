/** The place vocabulary: the one "may live there" rule, scopes, drivers, and how places are named. */
import { describe, expect, it } from "vitest"
import type { Scope } from "../../src/place.js"
import { claims, claimsSession, describePlace, describeScope, driverOf, inScope, placeOf, samePlace } from "../../src/place.js"
import { containerSpec, foreign, owned, tmuxSpec } from "../../src/testing/specs.js"

const auto = { ...containerSpec("web"), runtime: null }

describe("claims: the one rule for 'this configured spec may live there'", () => {
  const cases: ReadonlyArray<readonly [string, Parameters<typeof claims>[0], Scope, boolean]> = [
    ["tmux: its backend on its machine", tmuxSpec("a"), { backend: "tmux" }, true],
    ["tmux: its socket", tmuxSpec("a", { socket_name: "s" }), { backend: "tmux", socket: "s" }, true],
    ["tmux: another socket", tmuxSpec("a", { socket_name: "s" }), { backend: "tmux", socket: null }, false],
    ["tmux: the default socket", tmuxSpec("a"), { backend: "tmux", socket: null }, true],
    ["tmux: not a container scope", tmuxSpec("a"), { backend: "container", runtime: "podman" }, false],
    ["tmux: the whole machine", tmuxSpec("a"), {}, true],
    ["tmux on a host: not this machine", tmuxSpec("a", { host: "edge1" }), { backend: "tmux" }, false],
    ["tmux on a host: that host", tmuxSpec("a", { host: "edge1" }), { host: "edge1" }, true],
    ["tmux here: not a host", tmuxSpec("a"), { host: "edge1" }, false],
    ["container: its runtime", containerSpec("w", { runtime: "docker" }), { backend: "container", runtime: "docker" }, true],
    ["container: another runtime", containerSpec("w", { runtime: "docker" }), { backend: "container", runtime: "podman" }, false],
    ["container: any engine (no engine found at all)", containerSpec("w"), { backend: "container" }, true],
    ["auto runtime: any detectable engine", auto, { backend: "container", runtime: "docker" }, true],
    ["auto runtime: never swarm (asked for by name only)", auto, { backend: "container", runtime: "swarm" }, false],
    ["swarm: swarm", containerSpec("w", { runtime: "swarm" }), { backend: "container", runtime: "swarm" }, true]
  ]
  it.each(cases)("%s", (_title, spec, scope, expected) => {
    expect(claims(spec, scope)).toBe(expected)
  })

  it("claimsSession: where the config puts it, by name", () => {
    expect(claimsSession(auto, owned(containerSpec("web", { runtime: "docker" })))).toBe(true)
    expect(claimsSession(auto, owned(containerSpec("other", { runtime: "docker" })))).toBe(false)
    expect(claimsSession(tmuxSpec("web", { socket_name: "s" }), foreign("web", { socket_name: null }))).toBe(false)
  })
})

describe("places and scopes", () => {
  it("placeOf, samePlace, inScope agree on spec and session", () => {
    const spec = tmuxSpec("a", { socket_name: "s", host: "edge1" })
    const p = placeOf(spec)
    expect(p).toEqual({ backend: "tmux", socket: "s", host: "edge1" })
    expect(samePlace(p, placeOf(owned(spec)))).toBe(true)
    expect(samePlace(p, { backend: "tmux", socket: "s" })).toBe(false)
    expect(inScope(p, { host: "edge1" })).toBe(true)
    expect(inScope(p, { backend: "tmux", host: "edge1" })).toBe(true)
    expect(inScope(p, { backend: "tmux", socket: null, host: "edge1" })).toBe(false)
    expect(inScope(p, { backend: "tmux" })).toBe(false)
  })

  it("names: places and scopes as the messages print them", () => {
    expect(describePlace({ backend: "tmux", socket: null })).toBe("tmux socket default")
    expect(describePlace({ backend: "container", runtime: "docker", host: "edge1" })).toBe("docker on edge1")
    expect(describeScope({ backend: "tmux" })).toBe("tmux")
    expect(describeScope({ backend: "tmux", socket: "orion", host: "edge1" })).toBe("tmux socket orion on edge1")
    expect(describeScope({ backend: "container" })).toBe("container")
    expect(describeScope({ backend: "container", runtime: "podman" })).toBe("podman")
    expect(describeScope({ host: "edge1" })).toBe("host edge1")
  })

  it("driverOf: tmux, engine (podman, docker), swarm, from a spec, a session or a place", () => {
    expect(driverOf(tmuxSpec("a"))).toBe("tmux")
    expect(driverOf(containerSpec("a", { runtime: "docker" }))).toBe("engine")
    expect(driverOf(owned(containerSpec("a", { runtime: "podman" })))).toBe("engine")
    expect(driverOf({ backend: "container", runtime: "swarm" })).toBe("swarm")
  })
})
