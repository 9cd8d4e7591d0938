/**
 * Project networks against REAL engines (Podman with netavark, Docker's user-defined bridges): a
 * project's containers share `kstlib-<project>`, each aliased by its session name; another
 * project's are not on it; the network goes with the project's last container; a network of that
 * name that is not the project's is reported and left as it was. Everything is named after this run
 * and removed in finalizers.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Result } from "effect"
import { spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { Containers } from "../../src/backends/container.js"
import type { ContainerSpec, ObservedContainer, RuntimeName } from "../../src/model.js"
import { requireEngines, TEST_IMAGE } from "../support/engines.js"
import { containerSpec, launchOf } from "../../src/testing/specs.js"

const engines = requireEngines("project network integration")
const RUN = randomBytes(4).toString("hex")
const PREFIX = `kstlib-t-${RUN}`

const ContainersLive = Containers.layer.pipe(Layer.provide(NodeServices.layer))

const engine = (rt: RuntimeName, args: ReadonlyArray<string>) => spawnSync(rt, args, { encoding: "utf8", timeout: 60_000 })
/** One at a time: Podman's `rm` of several names removes none when one of them is already gone. */
const rmContainers = (rt: RuntimeName, names: ReadonlyArray<string>) => {
  for (const n of names) engine(rt, rt === "podman" ? ["rm", "-f", "-t", "0", n] : ["rm", "-f", n])
}

/** Containers and networks of this test, removed when its scope closes, whatever happened. */
const cleanup = (rt: RuntimeName, containers: ReadonlyArray<string>, networks: ReadonlyArray<string>) =>
  Effect.addFinalizer(() =>
    Effect.sync(() => {
      rmContainers(rt, containers)
      for (const n of networks) engine(rt, ["network", "rm", n])
    })
  )

const spec = (name: string, rt: RuntimeName, over: Partial<ContainerSpec> = {}) =>
  containerSpec(name, { image: TEST_IMAGE, command: "sleep 300", runtime: rt, ...over })

const networkLabels = (rt: RuntimeName, name: string): Record<string, string> | null => {
  const r = engine(rt, ["network", "inspect", "--format", "{{json .Labels}}", name])
  return r.status === 0 ? JSON.parse(r.stdout) : null
}

/** The networks a container is on, with its aliases and address there. */
const networksOf = (rt: RuntimeName, name: string): Record<string, { Aliases: ReadonlyArray<string> | null; IPAddress: string }> =>
  JSON.parse(engine(rt, ["container", "inspect", "--format", "{{json .NetworkSettings.Networks}}", name]).stdout)

const observed = (name: string, rt: RuntimeName) =>
  Effect.gen(function*() {
    const all = (yield* (yield* Containers).observe({ sockets: [] })).sessions
    const o = all.find((x): x is ObservedContainer => x.backend === "container" && x.name === name && x.runtime === rt)
    assert(o !== undefined, `${name} is observed`)
    return o
  })

describe.each(engines)("project network on %s", (rt) => {
  it.live("a project's sessions share its network by name; another project's are not on it; down of the last one removes it", () =>
    Effect.gen(function*() {
      const project = `kt${RUN}${rt[0]}a`
      const other = `kt${RUN}${rt[0]}b`
      const [db, api, stranger] = [`${PREFIX}-${rt}-db`, `${PREFIX}-${rt}-api`, `${PREFIX}-${rt}-x`]
      const net = `kstlib-${project}`
      yield* cleanup(rt, [db, api, stranger], [net, `kstlib-${other}`])
      const c = yield* Containers
      const launched = yield* c.launch([launchOf(spec(db, rt, { command: "nc -ll -p 5432 -e echo hi" })), launchOf(spec(api, rt))], { project })
      expect(launched.map((r) => (Result.isFailure(r) ? r.failure.message : "ok"))).toEqual(["ok", "ok"])
      expect(yield* c.launch([launchOf(spec(stranger, rt))], { project: other }).pipe(Effect.map((rs) => rs.map((r) => r._tag)))).toEqual(["Success"])

      expect(networkLabels(rt, net)).toMatchObject({ "io.kstlib.managed": "true", "io.kstlib.project": project })
      const dbNets = networksOf(rt, db)
      expect(Object.keys(dbNets)).toEqual([net])
      expect(dbNets[net]!.Aliases).toContain(db)
      expect(Object.keys(networksOf(rt, api))).toEqual([net])
      expect(Object.keys(networksOf(rt, stranger))).toEqual([`kstlib-${other}`])

      // api reaches db on the project network (its address there)
      const ip = dbNets[net]!.IPAddress
      expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/u)
      let reply = ""
      for (let i = 0; i < 30 && !reply.includes("hi"); i++) {
        reply = engine(rt, ["exec", api, "sh", "-c", `nc ${ip} 5432 </dev/null`]).stdout
        if (!reply.includes("hi")) yield* Effect.sleep("200 millis")
      }
      expect(reply).toContain("hi")

      // the network stays while a container of the project is on it, and goes with the last one
      yield* c.stop(yield* observed(api, rt), { leave: "nothing", owned: true, force: true, releaseNetwork: true })
      expect(networkLabels(rt, net)).not.toBeNull()
      yield* c.stop(yield* observed(db, rt), { leave: "nothing", owned: true, force: true, releaseNetwork: true })
      expect(networkLabels(rt, net)).toBeNull()
      // another project's network is not touched by it
      expect(networkLabels(rt, `kstlib-${other}`)).toMatchObject({ "io.kstlib.project": other })
    }).pipe(Effect.scoped, Effect.provide(ContainersLive)), 120_000)

  it.live("one look at the project network per run of the driver; removed by someone else meanwhile, the next launch makes it again", () =>
    Effect.gen(function*() {
      const project = `kt${RUN}${rt[0]}g`
      const [a, b] = [`${PREFIX}-${rt}-ga`, `${PREFIX}-${rt}-gb`]
      const net = `kstlib-${project}`
      yield* cleanup(rt, [a, b], [net])
      const c = yield* Containers
      expect((yield* c.launch([launchOf(spec(a, rt))], { project })).map((r) => r._tag)).toEqual(["Success"])
      // gone behind kstlib's back (with the container on it), while the driver still knows it was there
      rmContainers(rt, [a])
      expect(engine(rt, ["network", "rm", net]).status).toBe(0)
      const again = yield* c.launch([launchOf(spec(b, rt))], { project })
      expect(again.map((r) => (Result.isFailure(r) ? r.failure.message : "ok"))).toEqual(["ok"])
      expect(networkLabels(rt, net)).toMatchObject({ "io.kstlib.project": project })
      expect(Object.keys(networksOf(rt, b))).toEqual([net])
    }).pipe(Effect.scoped, Effect.provide(ContainersLive)), 120_000)

  it.live("a network of the project's name that is not the project's: the launch fails saying so, the network is left as it was", () =>
    Effect.gen(function*() {
      const project = `kt${RUN}${rt[0]}f`
      const net = `kstlib-${project}`
      const name = `${PREFIX}-${rt}-f`
      yield* cleanup(rt, [name], [net])
      const made = engine(rt, ["network", "create", "--label", `io.kstlib.test-run=${RUN}`, net])
      expect(made.status).toBe(0)
      const [r] = yield* (yield* Containers).launch([launchOf(spec(name, rt))], { project })
      assert(r !== undefined && Result.isFailure(r))
      expect(r.failure.reason).toContain(`network ${net} exists and is not this project's`)
      expect(engine(rt, ["container", "inspect", name]).status).not.toBe(0) // nothing was created
      expect(networkLabels(rt, net)).toEqual({ "io.kstlib.test-run": RUN })
    }).pipe(Effect.scoped, Effect.provide(ContainersLive)), 60_000)

  it.live("the run options reach the container: user, hostname, init, read-only root, pids limit, capabilities, labels, extra hosts; network_mode: none has no project network", () =>
    Effect.gen(function*() {
      const project = `kt${RUN}${rt[0]}o`
      const name = `${PREFIX}-${rt}-opts`
      yield* cleanup(rt, [name], [`kstlib-${project}`])
      const [r] = yield* (yield* Containers).launch([launchOf(spec(name, rt, {
        user: "1234:1234",
        hostname: "opts-host",
        init: true,
        read_only: true,
        pids_limit: 50,
        cap_drop: ["ALL"],
        cap_add: ["CHOWN"],
        labels: { "com.example.tier": "test" },
        extra_hosts: ["db.example:10.9.8.7"],
        network_mode: "none"
      }))], { project })
      assert(r !== undefined)
      expect(Result.isFailure(r) ? r.failure.message : "ok").toBe("ok")
      const inside = (cmd: string) => engine(rt, ["exec", name, "sh", "-c", cmd])
      expect(inside("id -u; id -g").stdout.split("\n").slice(0, 2)).toEqual(["1234", "1234"])
      expect(inside("hostname").stdout.trim()).toBe("opts-host")
      expect(inside("grep db.example /etc/hosts").stdout).toMatch(/^10\.9\.8\.7\s+db\.example/mu)
      expect(inside("touch /x").status).not.toBe(0) // read-only root
      expect(engine(rt, ["container", "inspect", "--format", "{{index .Config.Labels \"com.example.tier\"}}", name]).stdout.trim()).toBe("test")
      const pids = engine(rt, ["container", "inspect", "--format", "{{.HostConfig.PidsLimit}}", name]).stdout.trim()
      expect(pids).toBe("50")
      // out of the project network: none was created for it
      expect(networkLabels(rt, `kstlib-${project}`)).toBeNull()
    }).pipe(Effect.scoped, Effect.provide(ContainersLive)), 60_000)

  // Name lookup is the engine's DNS (aardvark-dns, Docker's embedded server), asked with busybox's
  // own resolver (nslookup): the static busybox's nc cannot use DNS without the libc's NSS modules.
  it.live("api resolves db by its session name; another project's container cannot", () =>
    Effect.gen(function*() {
      const project = `kt${RUN}${rt[0]}d`
      const other = `kt${RUN}${rt[0]}e`
      const [db, api, stranger] = [`${PREFIX}-${rt}-ddb`, `${PREFIX}-${rt}-dapi`, `${PREFIX}-${rt}-dx`]
      yield* cleanup(rt, [db, api, stranger], [`kstlib-${project}`, `kstlib-${other}`])
      const c = yield* Containers
      yield* c.launch([launchOf(spec(db, rt, { command: "nc -ll -p 5432 -e echo hi" })), launchOf(spec(api, rt))], { project })
      yield* c.launch([launchOf(spec(stranger, rt))], { project: other })
      let found = ""
      for (let i = 0; i < 30 && !found.includes("Address"); i++) {
        found = engine(rt, ["exec", api, "nslookup", db]).stdout.split("\n").slice(2).join("\n")
        if (!found.includes("Address")) yield* Effect.sleep("200 millis")
      }
      expect(found).toContain("Address")
      expect(engine(rt, ["exec", stranger, "nslookup", db]).status).not.toBe(0)
    }).pipe(Effect.scoped, Effect.provide(ContainersLive)), 60_000)

  it.live("declared networks and volumes: created with the project's marks, joined by name with the alias; released empty; a foreign one refuses the launch", () =>
    Effect.gen(function*() {
      const project = `kt${RUN}${rt[0]}n`
      const [db, api, lone] = [`${PREFIX}-${rt}-ndb`, `${PREFIX}-${rt}-napi`, `${PREFIX}-${rt}-nlone`]
      const back = `kstlib-${project}.back`
      const taken = `kstlib-${project}.taken`
      const data = `kstlib-${project}.data`
      yield* cleanup(rt, [db, api, lone], [back, taken, `kstlib-${project}`])
      yield* Effect.addFinalizer(() => Effect.sync(() => void engine(rt, ["volume", "rm", "-f", data])))
      const c = yield* Containers
      const onBack = { networks: [{ name: "back", internal: true }] }
      const launched = yield* c.launch([
        launchOf(spec(db, rt, { command: "nc -ll -p 5432 -e echo hi", ...onBack, volumes: ["data:/data"], declared_volumes: ["data"] })),
        launchOf(spec(api, rt, onBack))
      ], { project })
      expect(launched.map((r) => (Result.isFailure(r) ? r.failure.message : "ok"))).toEqual(["ok", "ok"])
      expect(networkLabels(rt, back)).toMatchObject({ "io.kstlib.managed": "true", "io.kstlib.project": project })
      expect(engine(rt, ["network", "inspect", "--format", "{{.Internal}}", back]).stdout.trim()).toBe("true")
      const nets = networksOf(rt, db)
      expect(Object.keys(nets).sort()).toEqual([`kstlib-${project}`, back].sort())
      expect(nets[back]!.Aliases).toContain(db)
      expect(JSON.parse(engine(rt, ["volume", "inspect", "--format", "{{json .Labels}}", data]).stdout)).toMatchObject({ "io.kstlib.project": project })
      let found = ""
      for (let i = 0; i < 30 && !found.includes("Address"); i++) {
        found = engine(rt, ["exec", api, "nslookup", db]).stdout.split("\n").slice(2).join("\n")
        if (!found.includes("Address")) yield* Effect.sleep("200 millis")
      }
      expect(found).toContain("Address")

      // a network of a declared name that is not the project's: refused, nothing created, left as it was
      expect(engine(rt, ["network", "create", "--label", `io.kstlib.test-run=${RUN}`, taken]).status).toBe(0)
      const [refused] = yield* c.launch([launchOf(spec(lone, rt, { networks: [{ name: "taken", internal: false }] }))], { project })
      assert(refused !== undefined && Result.isFailure(refused))
      expect(refused.failure.reason).toContain(`network ${taken} exists and is not this project's`)
      expect(engine(rt, ["container", "inspect", lone]).status).not.toBe(0)
      expect(networkLabels(rt, taken)).toEqual({ "io.kstlib.test-run": RUN })

      // removed with the last container; the foreign one stays; the volume stays until released
      yield* c.stop(yield* observed(api, rt), { leave: "nothing", owned: true, force: true, releaseNetwork: true })
      expect(networkLabels(rt, back)).not.toBeNull()
      yield* c.stop(yield* observed(db, rt), { leave: "nothing", owned: true, force: true, releaseNetwork: true })
      expect(networkLabels(rt, back)).toBeNull()
      expect(networkLabels(rt, taken)).toEqual({ "io.kstlib.test-run": RUN })
      expect(engine(rt, ["volume", "inspect", data]).status).toBe(0)
      expect(yield* c.releaseVolumes!({ backend: "container", runtime: rt }, project)).toEqual([data])
      expect(engine(rt, ["volume", "inspect", data]).status).not.toBe(0)
    }).pipe(Effect.scoped, Effect.provide(ContainersLive)), 120_000)

  it.live("compose's forms reach the container: entrypoint and command as words, a dotted env key, tmpfs, unless-stopped, a port on 127.0.0.1", () =>
    Effect.gen(function*() {
      const project = `kt${RUN}${rt[0]}c`
      const name = `${PREFIX}-${rt}-forms`
      yield* cleanup(rt, [name], [`kstlib-${project}`])
      const port = 20000 + Math.floor(Math.random() * 20000)
      const [r] = yield* (yield* Containers).launch([launchOf(spec(name, rt, {
        entrypoint: ["/bin/sh", "-c"],
        command: "'echo \"$0\" > /tmp/out; exec sleep 300' 'a b'",
        env: { "discovery.type": "single-node" },
        tmpfs: ["/tmp"],
        restart: "unless-stopped",
        ports: [`127.0.0.1:${port}:80`]
      }))], { project })
      assert(r !== undefined)
      expect(Result.isFailure(r) ? r.failure.message : "ok").toBe("ok")
      let out = ""
      for (let i = 0; i < 30 && out === ""; i++) {
        out = engine(rt, ["exec", name, "cat", "/tmp/out"]).stdout.trim()
        if (out === "") yield* Effect.sleep("200 millis")
      }
      expect(out).toBe("a b") // one word, as given; the dotted key is no shell variable
      // busybox's sh drops names that are not identifiers from what it passes on: the engine's own record
      expect(engine(rt, ["container", "inspect", "--format", "{{json .Config.Env}}", name]).stdout).toContain("discovery.type=single-node")
      expect(engine(rt, ["exec", name, "sh", "-c", "grep ' /tmp ' /proc/mounts"]).stdout).toContain("tmpfs")
      expect(engine(rt, ["container", "inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", name]).stdout.trim()).toBe("unless-stopped")
      expect(engine(rt, ["port", name]).stdout).toContain(`127.0.0.1:${port}`)
    }).pipe(Effect.scoped, Effect.provide(ContainersLive)), 60_000)

  it.live("a port already published by another project's container: the launch fails with the engine's message, leaves no container, the other runs on", () =>
    Effect.gen(function*() {
      const [holder, late] = [`${PREFIX}-${rt}-hold`, `${PREFIX}-${rt}-late`]
      const [p1, p2] = [`kt${RUN}${rt[0]}h`, `kt${RUN}${rt[0]}l`]
      yield* cleanup(rt, [holder, late], [`kstlib-${p1}`, `kstlib-${p2}`])
      const port = 20000 + Math.floor(Math.random() * 20000)
      const c = yield* Containers
      const [first] = yield* c.launch([launchOf(spec(holder, rt, { ports: [`127.0.0.1:${port}:80`] }))], { project: p1 })
      expect(first !== undefined && Result.isSuccess(first)).toBe(true)
      const [second] = yield* c.launch([launchOf(spec(late, rt, { ports: [`127.0.0.1:${port}:80`] }))], { project: p2 })
      assert(second !== undefined && Result.isFailure(second))
      expect(second.failure.reason).toMatch(/address already in use|port is already allocated|bind/iu)
      expect(engine(rt, ["container", "inspect", late]).status).not.toBe(0)
      expect(engine(rt, ["container", "inspect", "--format", "{{.State.Running}}", holder]).stdout.trim()).toBe("true")
    }).pipe(Effect.scoped, Effect.provide(ContainersLive)), 60_000)

  it.live("a volume of a declared name that another project owns: the launch is refused, nothing is created, the volume is left as it was", () =>
    Effect.gen(function*() {
      const project = `kt${RUN}${rt[0]}v`
      const name = `${PREFIX}-${rt}-vol`
      const volume = `kstlib-${project}.data`
      yield* cleanup(rt, [name], [`kstlib-${project}`])
      yield* Effect.addFinalizer(() => Effect.sync(() => void engine(rt, ["volume", "rm", "-f", volume])))
      expect(engine(rt, ["volume", "create", "--label", "io.kstlib.managed=true", "--label", "io.kstlib.project=someone-else", volume]).status).toBe(0)
      const [r] = yield* (yield* Containers).launch([launchOf(spec(name, rt, { volumes: ["data:/data"], declared_volumes: ["data"] }))], { project })
      assert(r !== undefined && Result.isFailure(r))
      expect(r.failure.reason).toContain(`volume ${volume} exists and is not this project's`)
      expect(engine(rt, ["container", "inspect", name]).status).not.toBe(0)
      expect(JSON.parse(engine(rt, ["volume", "inspect", "--format", "{{json .Labels}}", volume]).stdout)).toEqual({ "io.kstlib.managed": "true", "io.kstlib.project": "someone-else" })
    }).pipe(Effect.scoped, Effect.provide(ContainersLive)), 60_000)
})
