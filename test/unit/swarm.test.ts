/** Swarm argv and parsing, pure; observe over a fake spawner. */
import { Effect } from "effect"
import { assert, describe, expect, it } from "@effect/vitest"
import { Swarm } from "../../src/backends/swarm.js"
import {
  createArgs,
  forceUpdateArgs,
  logsArgs,
  mountOf,
  overlayCreateArgs,
  publishOf,
  rmArgs,
  scaleArgs,
  serviceInspectArgs,
  servicePsArgs,
  shellQuote,
  updateArgs
} from "../../src/backends/swarm/argv.js"
import { parseServiceInspect, parseServiceLs, parseServicePs, toObserved } from "../../src/backends/swarm/parse.js"
import { diffFingerprints, updatableChanges } from "../../src/spec/diff.js"
import { stampOf } from "../../src/spec/fingerprint.js"
import { projectNetwork, swarmNetwork } from "../../src/place.js"
import { networksOf, plan } from "../../src/reconcile/plan.js"
import { containerSpec, fingerprint, launchOf, planOptions, TEST_DIGEST, valid as validEntry } from "../../src/testing/specs.js"
import { fakeSpawner } from "../../src/testing/spawner.js"

/** A listing's items; the test fails when it is not readable whole. */
const items = <A>(r: { readonly ok: true; readonly items: ReadonlyArray<A> } | { readonly ok: false; readonly reason: string }) => {
  assert(r.ok, r.ok ? "" : r.reason)
  return r.items
}

const spec = containerSpec("api", {
  runtime: "swarm",
  command: "server --name 'two words'",
  working_dir: "/srv",
  env: { TOKEN: "s3cr3t", MULTI: "a\nb" },
  volumes: ["/data:/data:ro", "cache:/cache"],
  ports: ["8080:80"],
  replicas: 3
})

describe("swarm argv", () => {
  it("service create: labels, restart condition, replicas, env file, mounts, host-mode publish, argv after the image; no env value", () => {
    const r = createArgs(spec, stampOf(spec, TEST_DIGEST), "proj", "/tmp/x/env")
    expect(r.ok).toBe(true)
    const args = r.ok ? r.args : []
    expect(args.slice(0, 6)).toEqual(["service", "create", "--detach", "--no-resolve-image", "--name", "api"])
    expect(args).toContain("io.kstlib.managed=true")
    expect(args).toContain("io.kstlib.project=proj")
    expect(args).toContain("io.kstlib.session=api")
    expect(args.join(" ")).toMatch(/--label io\.kstlib\.spec=v1:[0-9a-f]{64}/u)
    expect(args.join(" ")).toContain("--restart-condition any --replicas 3 --workdir /srv --env-file /tmp/x/env --env MULTI")
    expect(args).toContain("type=bind,source=/data,target=/data,readonly")
    expect(args).toContain("type=volume,source=cache,target=/cache")
    expect(args).toContain("mode=host,published=8080,target=80,protocol=tcp")
    expect(args.slice(-5)).toEqual(["--", "localhost/app:1", "server", "--name", "two words"])
    expect(args.join(" ")).not.toContain("s3cr3t")
    expect(args.join(" ")).not.toContain("a\nb")
  })

  it("a restart field, when the config has one, maps to --restart-condition", () => {
    const r = createArgs({ ...spec, restart: "on-failure" }, stampOf(spec, TEST_DIGEST), "p", null)
    expect(r.ok && r.args.join(" ")).toContain("--restart-condition on-failure")
  })

  it("stop settings, when set, map to --stop-signal and --stop-grace-period", () => {
    const r = createArgs({ ...spec, stop_signal: "INT", stop_timeout: 4 }, stampOf(spec, TEST_DIGEST), "p", null)
    expect(r.ok && r.args.join(" ")).toContain("--stop-signal SIGINT --stop-grace-period 4s")
    const plain = createArgs(spec, stampOf(spec, TEST_DIGEST), "p", null)
    expect(plain.ok && plain.args.join(" ")).not.toContain("--stop-")
  })

  it("service update: image, args quoted for Docker's splitter, workdir, replicas, labels", () => {
    const r = updateArgs(spec, stampOf(spec, TEST_DIGEST), "proj")
    const args = r.ok ? r.args : []
    expect(args.slice(0, 6)).toEqual(["service", "update", "--detach", "--no-resolve-image", "--image", "localhost/app:1"])
    expect(args[args.indexOf("--args") + 1]).toBe("'server' '--name' 'two words'")
    expect(args.slice(-2)).toEqual(["--", "api"])
    expect(args.join(" ")).not.toContain("s3cr3t")
    expect(shellQuote("it's")).toBe("'it'\\''s'")
    expect(scaleArgs("api", 0)).toEqual(["service", "scale", "--detach", "--", "api=0"])
  })

  it("only image, command, shell, working_dir and replicas are updated in place; env and the rest replace", () => {
    const fp = fingerprint(spec)
    const updatable = (applied: typeof fp | null, desired: typeof fp) => updatableChanges(diffFingerprints(applied, desired))
    expect(updatable(fp, fingerprint({ ...spec, image: "x:2", command: "other", replicas: 1 }))).toBe(true)
    expect(updatable(fp, fingerprint({ ...spec, env: { TOKEN: "new", MULTI: "a\nb" } }))).toBe(false)
    expect(updatable(fp, fingerprint({ ...spec, volumes: [] }))).toBe(false)
    expect(updatable(null, fp)).toBe(false)
  })

  it("`--` ends the options before every service name, id and image (docker 20.10 and 28.2 clients accept it)", () => {
    const h = "--x"
    for (const args of [rmArgs(h), forceUpdateArgs(h), logsArgs(h, 5, true), serviceInspectArgs([h]), servicePsArgs([h], true)]) {
      expect(args.slice(-2), args.join(" ")).toEqual(["--", h])
    }
  })

  it("mounts and ports", () => {
    expect(mountOf("/a,b:/c")).toBe("type=bind,\"source=/a,b\",target=/c")
    expect(publishOf("53/udp")).toBe("mode=host,target=53,protocol=udp")
  })
})

describe("swarm parse", () => {
  const ls = [
    `{"ID":"aaa","Image":"img:1@sha256:abc","Mode":"replicated","Name":"web","Ports":"","Replicas":"2/2"}`,
    `{"ID":"bbb","Image":"img:1","Mode":"replicated","Name":"job","Ports":"","Replicas":"0/1"}`,
    `{"ID":"ccc","Image":"img:1","Mode":"replicated","Name":"off","Ports":"","Replicas":"0/0"}`
  ].join("\n")
  const doc = (id: string, name: string, replicas: number, labels: Record<string, string>) => ({
    ID: `${id}full`,
    CreatedAt: "2024-01-02T03:04:05.123456789Z",
    Spec: { Name: name, Labels: labels, Mode: { Replicated: { Replicas: replicas } }, TaskTemplate: { ContainerSpec: { Image: "img:1@sha256:abc" } } }
  })
  const inspect = JSON.stringify([
    doc("aaa", "web", 2, { "io.kstlib.managed": "true", "io.kstlib.project": "p" }),
    doc("bbb", "job", 1, {}),
    doc("ccc", "off", 0, { "io.kstlib.managed": "true", "io.kstlib.project": "p" })
  ])
  const ps = [
    `{"CurrentState":"Ready 1 second ago","DesiredState":"Ready","Error":"","ID":"t1","Name":"job.1"}`,
    `{"CurrentState":"Failed 3 seconds ago","DesiredState":"Shutdown","Error":"\\"task: non-zero exit (7)\\"","ID":"t2","Name":" \\\\_ job.1"}`
  ].join("\n")

  it("ls + inspect + ps → observed sessions: running, exited with its code, stopped (scaled to 0); marks from service labels", () => {
    const rows = items(parseServiceLs(ls))
    expect(rows.map((r) => [r.name, r.running, r.desired, r.image])).toEqual([["web", 2, 2, "img:1"], ["job", 0, 1, "img:1"], ["off", 0, 0, "img:1"]])
    const tasks = items(parseServicePs(ps))
    expect(tasks.map((t) => [t.service, t.state])).toEqual([["job", "ready"], ["job", "failed"]])
    const seen = toObserved(rows, items(parseServiceInspect(inspect)), tasks)
    expect(seen.map((o) => [o.name, o.runtime, o.state, o.exit_code, o.mark.managed, o.image])).toEqual([
      ["web", "swarm", "running", null, true, "img:1"],
      ["job", "swarm", "exited", 7, false, "img:1"],
      ["off", "swarm", "stopped", null, true, "img:1"]
    ])
    expect(seen[0]!.created_at).toBe("2024-01-02T03:04:05.123Z")
  })

  it("a line that is not JSON makes the listing unreadable (never fewer services)", () => {
    for (const r of [parseServiceLs(`${ls}\ngarbage`), parseServicePs(`garbage\n${ps}`), parseServiceInspect(`${inspect}\ngarbage`)]) {
      expect(r.ok).toBe(false)
    }
    expect(parseServiceLs(`{"Name":"nameless-id"}`)).toMatchObject({ ok: false, reason: expect.stringMatching(/^entry 1 is not a service/u) })
  })

  it.live("observe of local runtimes without swarm (a podman or docker launch's check): no service ls at all", () => {
    const fake = fakeSpawner(() => ({ stdout: ls }))
    return Effect.gen(function*() {
      const obs = yield* (yield* Swarm).observe({ sockets: [], runtimes: ["docker"] })
      expect(fake.calls).toEqual([])
      expect(obs).toEqual({ sessions: [], answered: [], problems: [] })
    }).pipe(Effect.provide(Swarm.layer), Effect.provide(fake.layer))
  })

  it.live("observe: a garbled `service ls` is swarm's problem (garbled, unreadable), not 'no services'", () => {
    const fake = fakeSpawner((_cmd, args) => ({ stdout: args[1] === "ls" ? `${ls}\nnot json` : args[1] === "inspect" ? inspect : ps }))
    return Effect.gen(function*() {
      const obs = yield* (yield* Swarm).observe({ sockets: [] })
      expect(obs.sessions).toEqual([])
      expect(obs.problems).toEqual([expect.objectContaining({
        scope: { backend: "container", runtime: "swarm" },
        kind: "failed",
        garbled: true,
        message: expect.stringContaining("docker service ls: the listing could not be read whole (line 4 is not JSON: not json); its services are unknown")
      })])
    }).pipe(Effect.provide(Swarm.layer), Effect.provide(fake.layer))
  })
})

describe("the project's overlay network", () => {
  const OURS = `{"io.kstlib.managed":"true","io.kstlib.project":"proj"}\n`
  const NO_NETWORK = { exitCode: 1, stderr: "Error: No such network: kstlib-proj--swarm" }
  const svc = containerSpec("api", { runtime: "swarm", command: "sleep 300" })
  /** The fake's answers: no service yet, `network` as given, every other call fine. */
  const engine = (network: (args: ReadonlyArray<string>) => { stdout?: string; stderr?: string; exitCode?: number }) =>
    fakeSpawner((_cmd, args) => (args[0] === "network" ? network(args) : args[1] === "ps" ? { stdout: `{"CurrentState":"Running 1 second ago","DesiredState":"Running","Error":"","ID":"t1","Name":"api.1"}` } : { stdout: "" }))
  const verbs = (calls: ReadonlyArray<ReadonlyArray<string>>) => calls.map((c) => c.slice(1, 3).join(" ")).filter((v) => v !== "service ls" && v !== "service ps")

  it("kstlib-<project>--swarm: never a project network nor a declared one; created as an overlay with the project's marks; every service joins it", () => {
    expect(swarmNetwork("proj")).toBe("kstlib-proj--swarm")
    expect(swarmNetwork("proj")).not.toBe(projectNetwork("proj"))
    expect(overlayCreateArgs("proj")).toEqual([
      "network", "create", "--driver", "overlay", "--label", "io.kstlib.managed=true", "--label", "io.kstlib.project=proj", "--", "kstlib-proj--swarm"
    ])
    const r = createArgs(svc, stampOf(svc, TEST_DIGEST), "proj", null)
    assert(r.ok)
    expect(r.args.join(" ")).toContain("--network kstlib-proj--swarm --restart-condition")
    // nothing about the network is stamped: services created before it keep their hash
    expect(Object.keys(fingerprint(svc)).some((k) => k.includes("network"))).toBe(false)
  })

  it("the plan names it, with the services launched onto it", () => {
    const p = plan([validEntry(svc), validEntry(containerSpec("db", { runtime: "docker" }))], [], planOptions({ project: "proj", engines: ["docker", "swarm"] }))
    expect(networksOf(p).map((n) => [n.name, n.runtime, n.sessions])).toEqual([["kstlib-proj--swarm", "swarm", ["api"]], ["kstlib-proj", "docker", ["db"]]])
  })

  it.live("absent: created before the service, then the service on it", () => {
    const fake = engine((args) => (args[1] === "inspect" ? NO_NETWORK : {}))
    return Effect.gen(function*() {
      const rs = yield* (yield* Swarm).launch([launchOf(svc)], { project: "proj" })
      expect(rs.map((r) => r._tag)).toEqual(["Success"])
      expect(verbs(fake.calls)).toEqual(["network inspect", "network create", "service create"])
      expect(fake.calls.find((c) => c[2] === "create" && c[1] === "network")).toEqual(["docker", ...overlayCreateArgs("proj")])
    }).pipe(Effect.provide(Swarm.layer), Effect.provide(fake.layer))
  })

  it.live("ours already: used as it is", () => {
    const fake = engine(() => ({ stdout: OURS }))
    return Effect.gen(function*() {
      const rs = yield* (yield* Swarm).launch([launchOf(svc)], { project: "proj" })
      expect(rs.map((r) => r._tag)).toEqual(["Success"])
      expect(verbs(fake.calls)).toEqual(["network inspect", "service create"])
    }).pipe(Effect.provide(Swarm.layer), Effect.provide(fake.layer))
  })

  it.live("a network of that name that is not this project's: refused, untouched, no service created", () => {
    const fake = engine(() => ({ stdout: `{"io.kstlib.managed":"true","io.kstlib.project":"other"}` }))
    return Effect.gen(function*() {
      const [r] = yield* (yield* Swarm).launch([launchOf(svc)], { project: "proj" })
      assert(r !== undefined && r._tag === "Failure")
      expect(r.failure.reason).toBe(
        "network kstlib-proj--swarm exists and is not this project's (it lacks the labels io.kstlib.managed=true and io.kstlib.project=proj): it was left untouched and no service was created on it"
      )
      expect(verbs(fake.calls)).toEqual(["network inspect"])
    }).pipe(Effect.provide(Swarm.layer), Effect.provide(fake.layer))
  })

  it.live("released: removed when ours; a foreign one is not touched; one still in use is left as the engine refuses", () => {
    const ours = engine((args) => (args[1] === "rm" ? {} : { stdout: OURS }))
    const foreign = engine(() => ({ stdout: `{"io.kstlib.project":"proj"}` }))
    const inUse = engine((args) => (args[1] === "rm" ? { exitCode: 1, stderr: "Error response from daemon: rpc error: code = FailedPrecondition desc = network abc is in use by service def" } : { stdout: OURS }))
    const place = { backend: "container", runtime: "swarm" } as const
    const release = (fake: ReturnType<typeof engine>) =>
      Effect.gen(function*() {
        yield* (yield* Swarm).releaseNetwork!(place, "proj")
        return verbs(fake.calls)
      }).pipe(Effect.provide(Swarm.layer), Effect.provide(fake.layer))
    return Effect.gen(function*() {
      expect(yield* release(ours)).toEqual(["network inspect", "network rm"])
      expect(ours.calls.find((c) => c[2] === "rm")).toEqual(["docker", "network", "rm", "--", "kstlib-proj--swarm"])
      expect(yield* release(foreign)).toEqual(["network inspect"])
      // never fails: the network stays, the down goes on
      expect(yield* release(inUse)).toEqual(["network inspect", "network rm"])
    })
  })
})
