/**
 * Issue 22 stacks: `ops.networks` / `ops.volumes` declared and joined by container sessions —
 * decoded onto the spec, refused with file:line when bad, on the engine's command line, and in the
 * fingerprint only when set (a session without them keeps its hash).
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { buildArgs, buildStamp, createsFirst, engineVolume, extraNetworks, pullsFirst, registryOf, runArgs } from "../../../src/backends/container/argv.js"
import { formatChange, formatChange as changeText } from "../../../src/reconcile/render.js"
import { loadConfig } from "../../../src/config/load.js"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { diffFingerprints } from "../../../src/spec/diff.js"
import type { LoadedConfig } from "../../../src/config/types.js"
import type { ContainerSpec } from "../../../src/model.js"
import { stampOf } from "../../../src/spec/fingerprint.js"
import { configTextLoader, issueLines, rejected, valid } from "../../support/loaded.js"
import { containerSpec, fingerprint, owned, planOptions, specHash, TEST_DIGEST, valid as validEntry } from "../../../src/testing/specs.js"
import { networksOf, plan } from "../../../src/reconcile/plan.js"
import { entryOfFingerprint } from "../../../src/spec/thaw.js"
import { frozenContainer } from "../../../src/backends/container/freeze.js"
import { sessionFields } from "../../../src/config/schema.js"

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

describe("compose's common forms", () => {
  const C = `ops:\n  default_backend: container\n  container_runtime: podman\n  sessions:\n`
  it.effect("command and entrypoint as lists (argv, no splitting); env as a KEY=VALUE list with dotted keys; long volumes; unless-stopped", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`${C}    es:
      image: localhost/es:1
      entrypoint: [/bin/tini, --]
      command: [sh, "-x", "a b;c"]
      env: ["discovery.type=single-node", "A=1=2"]
      restart: unless-stopped
      ports: ["127.0.0.1:9200:9200", "9300-9301:9300-9301/udp"]
      volumes:
        - { type: bind, source: ./conf, target: /conf, read_only: true }
        - { type: volume, source: data, target: /data }
        - { type: tmpfs, target: /tmp }
`)
      const s = specOf(c, "es")
      expect(s.entrypoint).toEqual(["/bin/tini", "--"])
      expect(s.env).toEqual({ "discovery.type": "single-node", A: "1=2" })
      expect(s.restart).toBe("unless-stopped")
      expect(s.volumes[0]).toMatch(/^\/.*\/conf:\/conf:ro$/u)
      expect(s.volumes[1]).toBe("data:/data")
      expect(s.tmpfs).toEqual(["/tmp"])
      const built = runArgs(s, stampOf(s, TEST_DIGEST), "p", null)
      assert(built.ok)
      const tail = built.args.slice(built.args.indexOf("localhost/es:1") + 1)
      // the entrypoint's first word replaces the image's, the rest and the command's words follow as given
      expect(built.args).toContain("--entrypoint=/bin/tini")
      expect(tail).toEqual(["--", "sh", "-x", "a b;c"])
      expect(built.args.join(" ")).toContain("--restart unless-stopped")
      expect(built.args.join(" ")).toContain("-p 127.0.0.1:9200:9200 -p 9300-9301:9300-9301/udp")
      expect(built.args.join(" ")).toContain("--tmpfs /tmp")
    }))

  it.effect("refused with the field: a bare KEY in an env list, a key twice, dotted keys and unless-stopped on tmux, privileged without unsafe_mounts, a bind without a path", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`${C}    a: { image: localhost/a:1, env: [KEY] }
    b: { image: localhost/b:1, env: ["K=1", "K=2"] }
    t: { backend: tmux, command: sleep 1, env: { a.b: x }, restart: unless-stopped }
    p: { image: localhost/p:1, privileged: true }
    ok: { image: localhost/p:1, privileged: true, unsafe_mounts: true }
    v: { image: localhost/v:1, volumes: [{ type: bind, source: data, target: /d }, { type: volume, target: /e }] }
    l: { image: localhost/l:1, command: [sh, -c, "echo hi"] }
    s: { image: localhost/s:1, command: [echo, hi], shell: true }
`)
      expect(reasons(c, "a").join("\n")).toContain("write KEY=VALUE")
      expect(reasons(c, "b").join("\n")).toContain("K is set twice")
      expect(reasons(c, "t").join("\n")).toContain("keys with dots are for container sessions only")
      expect(reasons(c, "t").join("\n")).toContain("unless-stopped is a container engine's policy")
      expect(reasons(c, "p").join("\n")).toMatch(/privileged: .*unsafe_mounts: true/u)
      expect(specOf(c, "ok").privileged).toBe(true)
      expect(reasons(c, "v").join("\n")).toMatch(/volumes\[0\]\.source: a bind mount's source is a path[\s\S]*volumes\[1\]\.source: name the volume/u)
      expect(reasons(c, "l")).not.toEqual([])
      expect(reasons(c, "s").join("\n")).toContain("a command written as a list is its argv")
    }))

  it("a command list hashes as the string of the same words; new fields only when set", () => {
    const base = containerSpec("x", { command: "sleep 300" })
    expect(specHash({ ...base, tmpfs: [], privileged: false })).toBe(specHash(base))
    expect(fingerprint({ ...base, entrypoint: ["tini"] })["entrypoint"]).toEqual(["tini"])
    expect(specHash({ ...base, entrypoint: [] })).not.toBe(specHash(base))
  })
})

describe("pull", () => {
  it("missing pulls only what the engine lacks, always always, never never (the run itself never pulls); the registry named", () => {
    const s = (pull?: "missing" | "always" | "never") => containerSpec("x", pull === undefined ? {} : { pull })
    expect([pullsFirst(s(), true), pullsFirst(s(), false), pullsFirst(s("always"), true), pullsFirst(s("never"), false)]).toEqual([false, true, true, false])
    const built = runArgs(s("always"), stampOf(s("always"), TEST_DIGEST), "p", null)
    expect(built.ok && built.args).toContain("--pull=never")
    expect([registryOf("busybox"), registryOf("library/busybox:1"), registryOf("127.0.0.1:5000/a/b:1"), registryOf("ghcr.io/x/y"), registryOf("localhost/app")])
      .toEqual(["docker.io", "docker.io", "127.0.0.1:5000", "ghcr.io", "localhost"])
    // how the image is fetched is never a drift
    expect(specHash(s("always"))).toBe(specHash(s()))
  })

  it.effect("validated: one of missing, always, never, with file:line", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`ops:\n  sessions:\n    a: { backend: container, image: localhost/a:1, pull: sometimes }\n    b: { backend: container, image: localhost/b:1, pull: always }\n`)
      expect(reasons(c, "a").join("\n")).toMatch(/^3: pull: /u)
      expect(specOf(c, "b").pull).toBe("always")
    }))
})

/** A config with files next to it, in a directory of its own (removed after the test). */
const withFiles = (text: string, files: Readonly<Record<string, string>>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "kstlib-build-")))),
    (root) => {
      fs.writeFileSync(path.join(root, "kstlib.conf.yml"), text)
      for (const [rel, body] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true })
        fs.writeFileSync(path.join(root, rel), body)
      }
      return loadConfig({ cwd: root, env: { HOME: root } })
    },
    (root) => Effect.sync(() => fs.rmSync(root, { recursive: true, force: true }))
  )

describe("build", () => {
  it.effect("the context resolved next to the file, its content digested; the image tagged after project and session; a change of content is `build context changed`", () =>
    Effect.gen(function*() {
      const text = `ops:\n  project: Shop\n  default_backend: container\n  sessions:\n    api: { build: { context: ./app, dockerfile: Dockerfile.dev, target: run, args: { V: 1 } } }\n    bad: { build: { context: ./nowhere } }\n    out: { build: { context: ./app, dockerfile: ../Dockerfile } }\n    none: { command: sleep 1 }\n`
      const first = yield* withFiles(text, { "app/Dockerfile.dev": "FROM scratch\n", "app/x.txt": "1" })
      const api = specOf(first, "api")
      expect(api.image).toBe("localhost/kstlib-shop-api:latest")
      expect(api.build).toMatchObject({ dockerfile: "Dockerfile.dev", target: "run", args: { V: "1" } })
      expect(api.build?.context).toMatch(/\/app$/u)
      expect(api.build_context).toMatch(/^sha256:[0-9a-f]{64}$/u)
      expect(reasons(first, "bad").join("\n")).toMatch(/build\.context: no directory/u)
      expect(reasons(first, "out").join("\n")).toContain("build.dockerfile: relative to the context, inside it")
      expect(reasons(first, "none").join("\n")).toContain("an image is needed (or build: to build one)")
      const second = yield* withFiles(text, { "app/Dockerfile.dev": "FROM scratch\n", "app/x.txt": "2" })
      const changed = specOf(second, "api")
      expect(changed.build_context).not.toBe(api.build_context)
      // (its own directory, so only the content is compared here)
      expect(diffFingerprints(fingerprint(api), fingerprint({ ...api, build_context: changed.build_context! })).map(changeText)).toEqual(["build context changed"])
      // a session without build keeps its hash
      expect(fingerprint(containerSpec("x"))).not.toHaveProperty("build")
    }))

  it("built with the engine, tagged as its image, labelled with the stamp; never pulled", () => {
    const s = containerSpec("api", { image: "localhost/kstlib-p-api:latest", build: { context: "/src/app", dockerfile: "Dockerfile.dev", args: { V: "1" } }, build_context: "sha256:ab" })
    expect(buildArgs(s, "p")).toEqual([
      "build", "-t", "localhost/kstlib-p-api:latest", "-f", "/src/app/Dockerfile.dev", "--build-arg", "V=1",
      "--label", "io.kstlib.project=p", "--label", `io.kstlib.build=${buildStamp(s)}`, "--", "/src/app"
    ])
    expect(buildStamp({ ...s, build_context: "sha256:cd" })).not.toBe(buildStamp(s))
    expect(pullsFirst(s, false)).toBe(false)
  })
})

describe("the plan names the networks its launches join", () => {
  it("the project network and each declared one, with the sessions launched onto it", () => {
    const db = containerSpec("db", { networks: [{ name: "back", internal: true }] })
    const api = containerSpec("api")
    const p = plan([validEntry(db), validEntry(api)], [], planOptions({ project: "shop" }))
    expect(networksOf(p).map((n) => [n.name, n.sessions])).toEqual([["kstlib-shop", ["db", "api"]], ["kstlib-shop.back", ["db"]]])
  })
})

describe("ops freeze of such a session", () => {
  it("its stored fingerprint comes back as config fields only: tmpfs as the long volume form, no digests", () => {
    const s = containerSpec("db", {
      volumes: ["db_data:/data"],
      declared_volumes: ["db_data"],
      tmpfs: ["/tmp"],
      networks: [{ name: "back", internal: true }],
      entrypoint: ["/bin/tini", "--"],
      build: { context: "/src/db" },
      build_context: "sha256:ab",
      privileged: true,
      unsafe_mounts: true
    })
    expect(entryOfFingerprint(fingerprint(s))).toMatchObject({
      volumes: ["db_data:/data", { type: "tmpfs", target: "/tmp" }],
      networks: ["back"],
      entrypoint: ["/bin/tini", "--"],
      build: { context: "/src/db" },
      privileged: true
    })
    const entry = entryOfFingerprint(fingerprint(s))!
    expect(Object.keys(entry).filter((k) => !(sessionFields.container as ReadonlyArray<string>).includes(k))).toEqual([])
  })
})

describe("tmux sessions take the list forms too", () => {
  it.effect("a command list is its argv, env a KEY=VALUE list", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`ops:\n  sessions:\n    t: { command: [echo, "a b", "x;y"], env: ["A=1"] }\n`)
      const s = valid(c, "t").spec
      expect(s.command).toBe("echo 'a b' 'x;y'")
      expect(s.env).toEqual({ A: "1" })
    }))
})

describe("drift", () => {
  it("a session's networks changed: a replace naming networks; the same networks: no change", () => {
    const before = containerSpec("db", { networks: [{ name: "back", internal: true }] })
    const after = containerSpec("db", { networks: [{ name: "back", internal: true }, { name: "front", internal: false }] })
    const p = plan([validEntry(after)], [owned(before)], planOptions())
    const step = p.steps.find((s) => s.session === "db")
    assert(step !== undefined && step._tag === "Replace")
    expect(step.changes.map(formatChange)).toEqual(["networks: [back] → [back, front]"])
    expect(plan([validEntry(before)], [owned(before)], planOptions()).steps.filter((s) => s.session === "db")).toEqual([])
  })
})

describe("ops freeze of a container kstlib did not create", () => {
  it("an address of its own and unless-stopped are carried as they are", () => {
    const frozen = frozenContainer({
      Name: "/pg",
      Config: { Image: "postgres:16", Cmd: null, Env: [] },
      HostConfig: { RestartPolicy: { Name: "unless-stopped" }, PortBindings: { "5432/tcp": [{ HostIp: "127.0.0.1", HostPort: "5432" }], "53/udp": [{ HostIp: "", HostPort: "5353" }] } },
      Mounts: []
    }, "docker")
    expect(frozen?.entry).toMatchObject({ restart: "unless-stopped", ports: ["127.0.0.1:5432:5432", "5353:53/udp"] })
    expect(frozen?.notes).toEqual([])
  })
})

describe("a swarm session's project", () => {
  it.effect("too long for the swarm network's name (63 characters, a DNS name component): refused with file:line", () =>
    Effect.gen(function*() {
      const long = "p".repeat(50)
      const c = yield* loadText(`ops:\n  project: ${long}\n  sessions:\n    a: { backend: container, runtime: swarm, image: localhost/a:1 }\n`)
      expect(reasons(c, "a").join("\n")).toMatch(/^4: runtime: the project's swarm network kstlib-p+--swarm would be longer than the 63 characters swarm takes/u)
      const ok = yield* loadText(`ops:\n  project: ${"p".repeat(49)}\n  sessions:\n    a: { backend: container, runtime: swarm, image: localhost/a:1 }\n`)
      expect(specOf(ok, "a").runtime).toBe("swarm")
    }))
})
