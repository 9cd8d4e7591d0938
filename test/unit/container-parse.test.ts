import * as fs from "node:fs"
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { attachArgs, DOCKER_PS_TEMPLATE, execArgs, inspectArgs, logsArgs, psArgs, rmArgs, runArgs, startArgs, stopArgs } from "../../src/backends/container/argv.js"
import { validateImage } from "../../src/config/rules.js"
import { envFileText, envViaClient } from "../../src/backends/container/argv.js"
import {
  engineMessage,
  exitCodeFromStatus,
  mapState,
  parseCreated,
  parseInspect,
  parseLabels,
  parsePs
} from "../../src/backends/container/parse.js"
import { splitWords as shellSplit } from "../../src/command.js"
import { Containers, logsArgv } from "../../src/backends/container.js"
import type { ContainerSpec } from "../../src/model.js"
import { decodeFingerprint, encodeFingerprint, stampOf } from "../../src/spec/fingerprint.js"
import { containerSpec, fingerprint, launchOf, specHash, TEST_DIGEST } from "../../src/testing/specs.js"
import { fakeSpawner } from "../../src/testing/spawner.js"

const spec = (over: Partial<ContainerSpec> = {}): ContainerSpec => ({ ...containerSpec("web"), ...over })

// Real `podman ps -a --format json` output (podman 4.3.1), trimmed to the fields that matter.
const podmanPs = JSON.stringify([
  {
    Names: ["web"],
    State: "running",
    Status: "Up 2 seconds ago",
    ExitCode: 0,
    Pid: 5517,
    Image: "localhost/kstlib-busybox:latest",
    Created: 1795237618,
    CreatedAt: "2 seconds ago",
    Labels: {
      "io.kstlib.managed": "true",
      "io.kstlib.project": "proj",
      "io.kstlib.spec": specHash(spec()),
      "io.kstlib.applied": encodeFingerprint(fingerprint(spec()))
    }
  },
  { Names: ["job"], State: "exited", Status: "Exited (3) 2 seconds ago", ExitCode: 3, Pid: 0, Image: "img", Created: 1795237618, Labels: null },
  { Names: ["fresh"], State: "created", Status: "Created", ExitCode: 0, Pid: 0, Image: "img", Created: 1795237618, Labels: null }
], null, 2)

// Real `docker ps -a --no-trunc --format <psArgs' template>` lines (docker 28.2 and 20.10 clients
// on a 20.10 daemon print the same): the listed fields, and kstlib's labels as a map read one by one
// with `.Label` (absent = "").
const kstlibLabels = (labels: Partial<Record<string, string>>) =>
  JSON.stringify(Object.fromEntries(["io.kstlib.managed", "io.kstlib.project", "io.kstlib.spec", "io.kstlib.applied"].map((k) => [k, labels[k] ?? ""])))
const dockerPs = [
  `{"Names":"fresh","State":"created","Status":"Created","Image":"localhost/kstlib-busybox:latest","CreatedAt":"2026-11-21 05:06:59 +0000 UTC","Labels":${kstlibLabels({})}}`,
  `{"Names":"job","State":"exited","Status":"Exited (3) 1 second ago","Image":"img","CreatedAt":"2026-11-21 05:06:59 +0000 UTC","Labels":${kstlibLabels({})}}`,
  `{"Names":"web,alias","State":"running","Status":"Up 1 second","Image":"localhost/app:1","CreatedAt":"2026-11-21 05:06:58 +0000 UTC","Labels":${
    kstlibLabels({ "io.kstlib.applied": encodeFingerprint(fingerprint(spec())), "io.kstlib.managed": "true", "io.kstlib.project": "proj", "io.kstlib.spec": specHash(spec()) })
  }}`
].join("\n") + "\n"

/** The listing's entries; the test fails when it is not readable whole. */
const ps = (stdout: string, runtime: "podman" | "docker") => {
  const r = parsePs(stdout, runtime)
  assert(r.ok, r.ok ? "" : r.reason)
  return r.items
}

describe("state mapping (one table for ps and inspect)", () => {
  it.each([
    ["running", "running"],
    ["Running", "running"],
    ["exited", "exited"],
    ["created", "stopped"],
    ["paused", "stopped"],
    ["stopped", "exited"], // Podman's short-lived state between the process ending and cleanup
    ["configured", "stopped"],
    ["restarting", "stopped"],
    ["dead", "stopped"],
    ["", "unknown"],
    ["weird", "unknown"],
    [undefined, "unknown"],
    [42, "unknown"]
  ] as const)("%s -> %s", (input, expected) => {
    expect(mapState(input)).toBe(expected)
  })
})

describe("stop settings", () => {
  it("stop_signal and stop_timeout are the engines' --stop-signal/--stop-timeout, only when set", () => {
    const spec = containerSpec("w", { image: "localhost/app:1", command: null })
    const args = (s: ContainerSpec) => {
      const r = runArgs(s, stampOf(s, TEST_DIGEST), "p", null)
      return r.ok ? r.args : []
    }
    expect(args(spec).join(" ")).not.toMatch(/--stop-/u)
    const set = args({ ...spec, stop_signal: "QUIT", stop_timeout: 2.5 })
    expect(set.slice(set.indexOf("--stop-signal"), set.indexOf("--stop-signal") + 4)).toEqual(["--stop-signal", "SIGQUIT", "--stop-timeout", "3"])
  })
})

describe("parsing helpers", () => {
  it("docker exit code from Status", () => {
    expect(exitCodeFromStatus("Exited (3) 5 seconds ago")).toBe(3)
    expect(exitCodeFromStatus("Exited (137) About a minute ago")).toBe(137)
    expect(exitCodeFromStatus("Up 2 seconds")).toBeNull()
    expect(exitCodeFromStatus(undefined)).toBeNull()
  })

  it("created times in every engine form", () => {
    expect(parseCreated(1795237618)).toBe("2026-11-21T05:06:58.000Z")
    expect(parseCreated("2026-11-21 05:06:59 +0000 UTC")).toBe("2026-11-21T05:06:59.000Z")
    expect(parseCreated("2024-01-01 12:00:00 +0200 CEST")).toBe("2024-01-01T10:00:00.000Z")
    expect(parseCreated("2026-11-21T05:06:58.474112048Z")).toBe("2026-11-21T05:06:58.474Z")
    expect(parseCreated("2026-11-21T07:06:58.5+02:00")).toBe("2026-11-21T05:06:58.500Z")
    expect(parseCreated("2 seconds ago")).toBeNull()
    expect(parseCreated("0001-01-01T00:00:00Z")).toBeNull()
    expect(parseCreated(-62135596800)).toBeNull()
    expect(parseCreated(null)).toBeNull()
  })

  it("labels from a map only: Docker's `k=v,k=v` string cannot be split safely, so it gives none", () => {
    expect(parseLabels({ a: "1", b: "x,y", n: 3 })).toEqual({ a: "1", b: "x,y" })
    expect(parseLabels("a=1,io.kstlib.managed=true")).toEqual({})
    expect(parseLabels("")).toEqual({})
    expect(parseLabels(null)).toEqual({})
  })

  it("attack: a foreign docker container whose label VALUE holds ',io.kstlib.managed=true,io.kstlib.project=P' is not ours", () => {
    // What `{{json .}}` printed: every label joined in one string, the forged value included.
    const jsonDot = `{"Names":"victim","State":"running","Status":"Up 1 second","Labels":"note=x,io.kstlib.managed=true,io.kstlib.project=proj,io.kstlib.spec=v1:0"}`
    expect(ps(jsonDot, "docker")[0]!.mark).toMatchObject({ managed: false, project: null })
    // What psArgs' template prints for it: kstlib's labels read one by one from the engine's map.
    const template = `{"Names":"victim","State":"running","Status":"Up 1 second","Labels":${kstlibLabels({})}}`
    expect(ps(template, "docker")[0]!.mark).toMatchObject({ managed: false, project: null, spec_hash: null })
  })

  it("the one fingerprint codec round-trips through a comma-free label value", () => {
    const fp = fingerprint(spec({ env: { A: "1", B: "2" }, volumes: ["/a:/b", "/c:/d"] }))
    const label = encodeFingerprint(fp)
    expect(label).not.toMatch(/[,"= ]/)
    expect(decodeFingerprint(label)).toEqual(JSON.parse(JSON.stringify(fp)))
    expect(decodeFingerprint(JSON.stringify(fp))).toBeNull()
    expect(decodeFingerprint("not base64 !")).toBeNull()
    expect(decodeFingerprint(Buffer.from("[1]").toString("base64url"))).toBeNull()
    expect(decodeFingerprint(Buffer.from(`{"a":1}`).toString("base64url"))).toBeNull()
    expect(decodeFingerprint(null)).toBeNull()
  })

  it("marks are compared with kstlib's exact values", () => {
    const labels = (managed: string) => `[{"Names":["w"],"State":"running","Labels":{"io.kstlib.managed":"${managed}","io.kstlib.project":"p"}}]`
    expect(ps(labels("true"), "podman")[0]!.mark).toMatchObject({ managed: true, project: "p" })
    for (const v of ["false", "1", "TRUE", "yes", ""]) expect(ps(labels(v), "podman")[0]!.mark.managed, v).toBe(false)
  })

  it("engine messages lose the --help hints", () => {
    expect(engineMessage("docker: Error response from daemon: No such image: x:1.\nSee 'docker run --help'.\n"))
      .toBe("docker: Error response from daemon: No such image: x:1.")
  })
})

describe("ps parsing", () => {
  it("podman array with label maps", () => {
    const [web, job, fresh] = ps(podmanPs, "podman")
    expect(web).toEqual({
      name: "web",
      backend: "container",
      state: "running",
      pid: 5517,
      created_at: "2026-11-21T05:06:58.000Z",
      image: "localhost/kstlib-busybox:latest",
      runtime: "podman",
      exit_code: null,
      mark: { managed: true, project: "proj", spec_hash: specHash(spec()), applied: JSON.parse(JSON.stringify(fingerprint(spec()))) }
    })
    expect([job!.state, job!.exit_code, job!.pid, job!.mark.managed, job!.mark.applied]).toEqual(["exited", 3, null, false, null])
    expect([fresh!.state, fresh!.exit_code]).toEqual(["stopped", null])
  })

  it("docker NDJSON with kstlib's labels as a map", () => {
    const byName = Object.fromEntries(ps(dockerPs, "docker").map((o) => [o.name, o]))
    expect(Object.keys(byName).sort()).toEqual(["fresh", "job", "web"])
    expect(byName["web"]).toMatchObject({
      state: "running",
      pid: null,
      runtime: "docker",
      mark: { managed: true, project: "proj", spec_hash: specHash(spec()) },
      created_at: "2026-11-21T05:06:58.000Z"
    })
    expect(byName["web"]!.mark.applied).toEqual(JSON.parse(JSON.stringify(fingerprint(spec()))))
    expect([byName["job"]!.state, byName["job"]!.exit_code, byName["job"]!.mark.managed]).toEqual(["exited", 3, false])
    expect(byName["fresh"]!.state).toBe("stopped")
  })

  it("either form from either engine", () => {
    expect(ps(dockerPs, "podman").map((o) => o.name).sort()).toEqual(["fresh", "job", "web"])
    const podmanAsLines = (JSON.parse(podmanPs) as Array<unknown>).map((e) => JSON.stringify(e)).join("\n")
    expect(ps(podmanAsLines, "docker").map((o) => o.name)).toEqual(["web", "job", "fresh"])
    expect(ps("", "podman")).toEqual([])
    expect(ps("[]", "podman")).toEqual([])
    expect(ps("\n\n", "docker")).toEqual([])
  })

  it("a listing that cannot be read whole is a failure naming the line, never fewer containers", () => {
    const garbled = (stdout: string) => {
      const r = parsePs(stdout, "docker")
      assert(!r.ok, "expected the listing to be refused")
      return r.reason
    }
    const lines = dockerPs.trimEnd().split("\n")
    expect(garbled([lines[0], "oops \u001b[2J not json", lines[1]].join("\n"))).toMatch(/^line 2 is not JSON: oops \\u001b\[2J not json$/u)
    // Podman's one array with a warning line in it: no line of it parses on its own
    expect(garbled(`WARNING: something\n${podmanPs}`)).toMatch(/^line 1 is not JSON: WARNING: something$/u)
    expect(garbled(`${podmanPs}\nWARNING: something`)).toMatch(/^not one JSON document: /u)
    expect(garbled(`${lines[0]}\n{"State":"running"}`)).toMatch(/^entry 2 is not a container with a name/u)
    expect(garbled(`${lines[0]}\n42`)).toMatch(/^entry 2 is not a container with a name/u)
    expect(garbled(`{"Names":"a","State":"running"`)).toMatch(/^line 1 is not JSON/u)
  })

  it("old entries without State fall back to Status", () => {
    const [o] = ps(`{"Names":"old","Status":"Exited (2) 1 hour ago"}`, "docker")
    expect([o!.state, o!.exit_code]).toEqual(["exited", 2])
  })
})

describe("inspect parsing", () => {
  it("docker document: leading slash, Config.Image, labels map", () => {
    const doc = [{
      Name: "/job",
      Created: "2026-11-21T05:06:59.071637941Z",
      Image: "sha256:75cd",
      State: { Status: "exited", Running: false, Pid: 0, ExitCode: 3 },
      Config: { Image: "localhost/kstlib-busybox:latest", Labels: { "io.kstlib.managed": "true" } }
    }]
    expect(parseInspect(JSON.stringify(doc, null, 4), "job", "docker")).toMatchObject({ ok: true, container: {
      name: "job",
      state: "exited",
      exit_code: 3,
      pid: null,
      image: "localhost/kstlib-busybox:latest",
      created_at: "2026-11-21T05:06:59.071Z",
      mark: { managed: true, project: null }
    } })
  })

  it("podman document: ImageName, pid while running, null labels", () => {
    const doc = [{
      Name: "web",
      Created: "2026-11-21T05:06:58.474112048Z",
      ImageName: "localhost/kstlib-busybox:latest",
      State: { Status: "running", Running: true, Pid: 77, ExitCode: 0 },
      Config: { Labels: null }
    }]
    expect(parseInspect(JSON.stringify(doc), "web", "podman")).toMatchObject({ ok: true, container: {
      state: "running",
      pid: 77,
      exit_code: null,
      image: "localhost/kstlib-busybox:latest",
      mark: { managed: false }
    } })
  })

  it("an image document or an empty array is not a container; output that is not JSON is unreadable", () => {
    expect(parseInspect(`[{"Id":"sha256:1","RepoTags":["localhost/web:latest"],"Config":{}}]`, "web", "podman")).toEqual({ ok: true, container: null })
    expect(parseInspect("[]", "web", "docker")).toEqual({ ok: true, container: null })
    expect(parseInspect(`[{"Name":"/web",\ngarbage`, "web", "docker")).toMatchObject({ ok: false })
  })
})

describe("shlex splitting", () => {
  it.each([
    ["sleep 100", ["sleep", "100"]],
    ["  sh   -c  'echo a; exit 3' ", ["sh", "-c", "echo a; exit 3"]],
    [`echo "a \\"b\\" \\$c \\\\"`, ["echo", `a "b" \\$c \\`]],
    [`a\\ b c\\'d`, ["a b", "c'd"]],
    [`x'' "" ''`, ["x", "", ""]],
    [`pre"mid"'post'`, ["premidpost"]],
    ["tab\tsep\nline", ["tab", "sep", "line"]],
    ["", []]
  ] as const)("%j", (input, words) => {
    expect(shellSplit(input)).toEqual({ ok: true, words })
  })

  it("unbalanced quotes and a trailing backslash are clean errors", () => {
    expect(shellSplit(`echo 'oops`)).toEqual({ ok: false, reason: "no closing quotation (')" })
    expect(shellSplit(`echo "oops`)).toEqual({ ok: false, reason: `no closing quotation (")` })
    expect(shellSplit(`echo oops\\`).ok).toBe(false)
  })
})

describe("argv", () => {
  it("run: labels (with the project), options in order, TTY, no pull, split command; env values never on it", () => {
    const s = spec({
      command: `sh -c 'echo hi; sleep 9'`,
      working_dir: "/srv",
      env: { B: "2", A: "x=y", MULTI: "line1\nline2" },
      volumes: ["/h:/c", "data:/d:ro"],
      log_volume: "/logs:/var/log/app",
      ports: ["8080:80"]
    })
    const r = runArgs(s, stampOf(s, TEST_DIGEST), "proj", "/tmp/kstlib-env-x/env")
    assert(r.ok)
    expect(r.args).toEqual([
      "run",
      "-d",
      "--pull=never",
      "--name",
      "web",
      "--label",
      "io.kstlib.managed=true",
      "--label",
      "io.kstlib.project=proj",
      "--label",
      "io.kstlib.session=web",
      "--label",
      `io.kstlib.spec=${specHash(s)}`,
      "--label",
      `io.kstlib.applied=${encodeFingerprint(fingerprint(s))}`,
      "--network",
      "kstlib-proj",
      "--network-alias",
      "web",
      "-w",
      "/srv",
      "--env-file",
      "/tmp/kstlib-env-x/env",
      "-e",
      "MULTI",
      "-v",
      "/h:/c",
      "-v",
      "data:/d:ro",
      "-v",
      "/logs:/var/log/app",
      "-p",
      "8080:80",
      "-t",
      "-i",
      "--",
      "localhost/app:1",
      "sh",
      "-c",
      "echo hi; sleep 9"
    ])
    expect(r.args.join(" ")).not.toMatch(/x=y|line1|B=2/)
    // the file holds what a line can; a value with a newline comes from the client's environment
    expect(envFileText(s.env)).toBe("A=x=y\nB=2\n")
    expect(envViaClient(s.env)).toEqual(["MULTI"])
  })

  it("run without a command uses the image's; a bad command is reported", () => {
    const r = runArgs(spec(), stampOf(spec(), TEST_DIGEST), "proj", null)
    assert(r.ok)
    expect(r.args.slice(-4)).toEqual(["-t", "-i", "--", "localhost/app:1"])
    expect(r.args).not.toContain("--env-file")
    expect(runArgs(spec({ command: "sh -c 'x" }), stampOf(spec(), TEST_DIGEST), "proj", null)).toEqual({ ok: false, reason: "invalid command: no closing quotation (')" })
  })

  it("dialects", () => {
    expect(psArgs("podman")).toEqual(["ps", "-a", "--format", "json"])
    expect(psArgs("docker")).toEqual(["ps", "-a", "--no-trunc", "--format", DOCKER_PS_TEMPLATE])
    // kstlib's labels one by one from the engine's map (never the joined `k=v,k=v` string), and no
    // `{{json .}}`, which makes the client ask the daemon for every container's size
    for (const label of ["io.kstlib.managed", "io.kstlib.project", "io.kstlib.spec", "io.kstlib.applied"]) {
      expect(DOCKER_PS_TEMPLATE).toContain(`"${label}":{{json (.Label "${label}")}}`)
    }
    expect(DOCKER_PS_TEMPLATE).not.toMatch(/\.Labels|json \.\}|\.Size/u)
    expect(rmArgs("podman", "w")).toEqual(["rm", "-f", "-t", "0", "--", "w"])
    expect(rmArgs("docker", "w")).toEqual(["rm", "-f", "--", "w"])
    expect(stopArgs("w", false, 10)).toEqual(["stop", "-t", "10", "--", "w"])
    expect(stopArgs("w", true, 10)).toEqual(["kill", "--", "w"])
    // no --timeout: the container's own (its --stop-timeout, else the engine's 10 s)
    expect(stopArgs("w", false)).toEqual(["stop", "--", "w"])
    expect(logsArgs("w", 20, true)).toEqual(["logs", "-f", "--tail", "20", "--", "w"])
    expect(execArgs("w", ["ls", "-l"], true)).toEqual(["exec", "-i", "-t", "--", "w", "ls", "-l"])
  })

  it("`--` ends the options before every positional word (image, container names, the command), on every engine command", () => {
    // Podman 4.3 and the Docker 20.10 and 28.2 clients all accept `--` there (checked by hand on this
    // machine; every CLI container test runs these argvs for real).
    const hostile = "--privileged"
    const cases: ReadonlyArray<ReadonlyArray<string>> = [
      startArgs(hostile),
      stopArgs(hostile, false, 3),
      stopArgs(hostile, true, 3),
      rmArgs("podman", hostile),
      rmArgs("docker", hostile),
      logsArgs(hostile, 5, false),
      logsArgv(hostile, { lines: 5, since: new Date(0), timestamps: true }, true),
      inspectArgs(hostile),
      attachArgs(hostile),
      execArgs(hostile, ["--version"], false)
    ]
    for (const args of cases) {
      const at = args.indexOf(hostile)
      expect(args[at - 1], args.join(" ")).toBe("--")
      expect(args.indexOf("--"), args.join(" ")).toBe(at - 1)
    }
    const run = runArgs(spec({ command: "--version" }), stampOf(spec(), TEST_DIGEST), "proj", null)
    assert(run.ok)
    expect(run.args.slice(run.args.indexOf("--"))).toEqual(["--", "localhost/app:1", "--version"])
  })

  it("an image word that an engine could read as an option never passes validation", () => {
    for (const image of ["--privileged", "-v", "--rm=true", "-", "--", " --x", "-i:latest"]) expect(validateImage(image), image).not.toBeNull()
    expect(validateImage("busybox:--x")).toBeNull() // a tag: the word starts with the name, never read as an option
  })
})

/** `network inspect --format {{json .Labels}}` of project proj's network. */
const OUR_NETWORK = `{"io.kstlib.managed":"true","io.kstlib.project":"proj"}\n`

describe("service over a fake spawner", () => {
  it.live("observe: one ps per runtime on PATH, both dialects merged", () => {
    const fake = fakeSpawner((cmd) => ({ stdout: cmd === "podman" ? podmanPs : dockerPs }))
    return Effect.gen(function*() {
      const c = yield* Containers
      const onPath = yield* c.onPath
      const obs = yield* c.observe({ sockets: [] })
      expect(fake.calls).toEqual(onPath.map((rt) => (rt === "podman" ? ["podman", "ps", "-a", "--format", "json"] : ["docker", "ps", "-a", "--no-trunc", "--format", DOCKER_PS_TEMPLATE])))
      expect(obs.answered).toEqual(onPath.map((runtime) => ({ backend: "container", runtime })))
      expect(obs.sessions.flatMap((o) => (o.name === "web" && o.backend === "container" ? [o.runtime] : []))).toEqual(onPath)
    }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
  })

  it.live("observe of some runtimes (the post-launch check): only their ps runs; none of the others' is answered for", () => {
    const fake = fakeSpawner((cmd) => ({ stdout: cmd === "podman" ? podmanPs : dockerPs }))
    return Effect.gen(function*() {
      const c = yield* Containers
      const onPath = yield* c.onPath
      const obs = yield* c.observe({ sockets: [], runtimes: ["docker"] })
      expect(fake.calls).toEqual(onPath.includes("docker") ? [["docker", "ps", "-a", "--no-trunc", "--format", DOCKER_PS_TEMPLATE]] : [])
      expect(obs.answered).toEqual(onPath.includes("docker") ? [{ backend: "container", runtime: "docker" }] : [])
      expect(obs.problems).toEqual([])
      expect((yield* c.observe({ sockets: [], runtimes: [] })).answered).toEqual([])
    }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
  })

  it.live("observe: a failing ps is reported as a problem and an unreadable place, not thrown", () => {
    const fake = fakeSpawner(() => ({ exitCode: 125, stderr: "Error: cannot connect" }))
    return Effect.gen(function*() {
      const c = yield* Containers
      const onPath = yield* c.onPath
      const obs = yield* c.observe({ sockets: [] })
      expect(obs.sessions).toEqual([])
      expect(obs.answered).toEqual([])
      expect(obs.problems.map((p) => [p.scope, p.kind])).toEqual(onPath.map((runtime) => [{ backend: "container", runtime }, "failed"]))
      for (const p of obs.problems) expect(p.message).toContain("cannot connect")
    }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
  })

  it.live("observe: a listing with a line that is not JSON is that engine's problem (garbled, unreadable), not 'no containers'", () => {
    const fake = fakeSpawner((cmd) => ({ stdout: cmd === "podman" ? `${podmanPs}\nnot json` : dockerPs.replace("\n", "\nnot json\n") }))
    return Effect.gen(function*() {
      const c = yield* Containers
      const onPath = yield* c.onPath
      const obs = yield* c.observe({ sockets: [] })
      expect(obs.sessions).toEqual([])
      expect(obs.answered).toEqual([])
      expect(obs.problems.map((p) => [p.scope.runtime, p.kind, p.garbled])).toEqual(onPath.map((rt) => [rt, "failed", true]))
      for (const p of obs.problems) {
        expect(p.message).toMatch(
          p.scope.runtime === "docker"
            ? /^docker ps -a: the listing could not be read whole \(line 2 is not JSON: not json\); its containers are unknown$/u
            : /^podman ps -a: the listing could not be read whole \(not one JSON document: .*\); its containers are unknown$/u
        )
      }
    }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
  })

  it.live("launch: an unbalanced command fails cleanly without running anything", () => {
    const fake = fakeSpawner(() => ({}))
    return Effect.gen(function*() {
      const [r] = yield* (yield* Containers).launch([launchOf(spec({ command: `echo "x` }))], { project: "proj" })
      assert(r !== undefined && r._tag === "Failure")
      expect(r.failure.reason).toBe(`invalid command: no closing quotation (")`)
      expect(fake.calls).toEqual([])
    }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
  })

  it.live("launch: one run per spec, env through a private file that is gone afterwards, nothing checked after (the executor does)", () => {
    const seen: Array<string> = []
    const fake = fakeSpawner((_cmd, args) => {
      const i = args.indexOf("--env-file")
      if (i >= 0) {
        const file = args[i + 1]!
        seen.push(file, fs.readFileSync(file, "utf8"), (fs.statSync(file).mode & 0o777).toString(8))
      }
      if (args[0] === "network") return { stdout: OUR_NETWORK }
      if (args[0] === "image") return { stdout: "sha256:abc\n" }
      return args[0] === "run" ? { stdout: "abc123\n" } : { exitCode: 99 }
    })
    return Effect.gen(function*() {
      const rs = yield* (yield* Containers).launch([launchOf(spec({ env: { TOKEN: "s3cret" } })), launchOf(spec({ name: "other" }))], { project: "proj" })
      expect(rs.map((r) => r._tag)).toEqual(["Success", "Success"])
      // the project network and the image are looked at once for both launches (the first finds them
      // fit, the second knows it), then one run each
      expect(fake.calls.map((c) => c[1]).sort()).toEqual(["image", "network", "run", "run"])
      expect(fake.calls.flat().join(" ")).not.toContain("s3cret")
      expect(seen.slice(1)).toEqual(["TOKEN=s3cret\n", "600"])
      expect(fs.existsSync(seen[0]!)).toBe(false)
    }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
  })

  describe("launch: a bind mount of the engine's own socket (as the engine names it) is refused before anything runs", () => {
    const asked = (args: ReadonlyArray<string>) => args[0] === "info" || args[0] === "context"
    const engine = (socket: string) => (cmd: string, args: ReadonlyArray<string>) => {
      if (cmd === "podman" && args[0] === "info") return { stdout: `${socket}\n` }
      if (cmd === "docker" && args[0] === "context") return { stdout: `unix://${socket}\n` }
      if (args[0] === "network") return { stdout: OUR_NETWORK }
      return args[0] === "run" ? { stdout: "abc\n" } : {}
    }
    it.live.each(["podman", "docker"] as const)("%s", (rt) => {
      const fake = fakeSpawner(engine(`/srv/kt-${rt}/engine.sock`))
      return Effect.gen(function*() {
        const c = yield* Containers
        const launch = (over: Partial<ContainerSpec>) => c.launch([launchOf(spec({ runtime: rt, env: { TOKEN: "x" }, ...over }))], { project: "proj" })
        const [dir] = yield* launch({ volumes: [`/srv/kt-${rt}:/s`] })
        assert(dir !== undefined && dir._tag === "Failure")
        expect(dir.failure.reason).toBe(
          `refusing to mount host '/srv/kt-${rt}': it holds the socket of a container engine kstlib drives (/srv/kt-${rt}/engine.sock: root on the host); set unsafe_mounts: true to allow it`
        )
        const [sock] = yield* launch({ volumes: ["named:/n"], log_volume: `/srv/kt-${rt}/engine.sock:/var/run/docker.sock` })
        assert(sock !== undefined && sock._tag === "Failure")
        expect(sock.failure.reason).toContain("refusing to mount host")
        expect(fake.calls.filter((a) => a[1] === "run")).toEqual([]) // nothing ran, no env file was written
        // asked once per engine and process; not at all for a launch without bind mounts
        expect(fake.calls.filter((a) => asked(a.slice(1)))).toHaveLength(1)
        const ok = yield* launch({ volumes: ["/srv/elsewhere:/e", "named:/n"] })
        expect(ok.map((r) => r._tag)).toEqual(["Success"])
        const unsafe = yield* launch({ volumes: [`/srv/kt-${rt}:/s`], unsafe_mounts: true })
        expect(unsafe.map((r) => r._tag)).toEqual(["Success"])
        expect(fake.calls.filter((a) => asked(a.slice(1)))).toHaveLength(1)
        expect(fake.calls.filter((a) => a[1] === "run")).toHaveLength(2)
      }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
    })
  })

  it.live("logs: container-only argv; 'no such container' is SessionNotFound", () => {
    const fake = fakeSpawner(() => ({ exitCode: 1, stderr: "Error: no container with name or id \"web\" found" }))
    return Effect.gen(function*() {
      const obs = ps(podmanPs, "podman")[0]!
      const e = yield* Effect.flip((yield* Containers).logs(obs, { lines: 20 }))
      expect(e._tag).toBe("SessionNotFound")
      expect(fake.calls).toEqual([["podman", "logs", "--tail", "20", "--", "web"]])
    }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
  })
})

describe("fingerprint codec: every field kind round-trips", () => {
  it("shell: true (a boolean) and unsafe_mounts survive encode → decode", () => {
    const fp = fingerprint(spec({ shell: true, command: "echo a | wc", unsafe_mounts: true }))
    expect(fp).toMatchObject({ shell: true })
    expect(decodeFingerprint(encodeFingerprint(fp))).toEqual(JSON.parse(JSON.stringify(fp)))
  })
})
