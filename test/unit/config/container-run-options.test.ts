/**
 * The container run options (issue 22): network_mode, user, hostname, init, read_only, pids_limit,
 * cap_add, cap_drop — decoded onto the spec, refused with the field (and file:line) when bad, on the
 * engines' command line only when set, and in the fingerprint only when set.
 */
import { describe, expect, it } from "vitest"
import { runArgs, runOptionArgs } from "../../../src/backends/container/argv.js"
import { decodeSessionEntry, sessionDefaults } from "../../../src/config/decode/index.js"
import type { ContainerSpec } from "../../../src/model.js"
import { stampOf } from "../../../src/spec/fingerprint.js"
import { containerSpec, fingerprint, specHash, TEST_DIGEST } from "../../../src/testing/specs.js"

const decode = (raw: Record<string, unknown>, runtime: "podman" | "swarm" = "podman") =>
  decodeSessionEntry("s", { backend: "container", image: "localhost/app:1", runtime, ...raw }, {
    defaults: sessionDefaults({ default_backend: "tmux", container_runtime: null }),
    baseDir: "/tmp",
    file: "/cfg/kstlib.conf.yml",
    line: 3
  })

const issues = (raw: Record<string, unknown>, runtime: "podman" | "swarm" = "podman") => {
  const e = decode(raw, runtime)
  return e._tag === "Rejected" ? e.issues.map((i) => [i.field, i.file, i.reason]) : []
}

describe("container run options", () => {
  it("decoded onto the spec as given", () => {
    const all = {
      network_mode: "none",
      user: "1000:1000",
      hostname: "db.local",
      init: true,
      read_only: true,
      pids_limit: 100,
      cap_add: ["NET_ADMIN"],
      cap_drop: ["ALL"],
      labels: { team: "shop", "com.example.tier": "db" },
      extra_hosts: ["db.local:10.0.0.5", "v6.local:::1"]
    }
    const e = decode(all)
    expect(e._tag).toBe("Valid")
    expect(e._tag === "Valid" && e.spec).toMatchObject(all)
  })

  it("left out: absent from the spec", () => {
    const e = decode({})
    expect(e._tag === "Valid" && Object.keys(e.spec).filter((k) => ["network_mode", "user", "hostname", "init", "read_only", "pids_limit", "cap_add", "cap_drop"].includes(k))).toEqual([])
  })

  it.each([
    [{ user: "-u0" }, "user"],
    [{ user: "a b" }, "user"],
    [{ hostname: "-bad" }, "hostname"],
    [{ hostname: "a_b" }, "hostname"],
    [{ pids_limit: 0 }, "pids_limit"],
    [{ pids_limit: 1.5 }, "pids_limit"],
    [{ cap_add: ["net admin"] }, "cap_add[0]"],
    [{ cap_drop: ["--privileged"] }, "cap_drop[0]"],
    [{ network_mode: "bridge" }, "network_mode"],
    [{ init: "yes" }, "init"],
    [{ labels: { "io.kstlib.managed": "true" } }, "labels"],
    [{ labels: { "-x": "1" } }, "labels"],
    [{ extra_hosts: ["db.local"] }, "extra_hosts[0]"],
    [{ extra_hosts: ["db.local:999.1.1.1"] }, "extra_hosts[0]"]
  ])("%j is refused at its field with the file", (raw, field) => {
    const found = issues(raw)
    expect(found.length).toBeGreaterThan(0)
    expect(found[0]!.slice(0, 2)).toEqual([field, "/cfg/kstlib.conf.yml"])
  })

  it("ports with network_mode host or none are refused; swarm refuses the run options", () => {
    expect(issues({ network_mode: "host", ports: ["8080:80"] })).toEqual([
      ["ports", "/cfg/kstlib.conf.yml", "ports are not published with network_mode: host (the container already uses this machine's ports)"]
    ])
    expect(issues({ user: "app" }, "swarm").map((i) => i[0])).toEqual(["user"])
  })

  it("on the command line only when set, after the labels and before the image", () => {
    const spec: ContainerSpec = containerSpec("db", {
      user: "app",
      hostname: "db1",
      init: true,
      read_only: true,
      pids_limit: 64,
      cap_add: ["NET_ADMIN"],
      cap_drop: ["ALL", "CHOWN"],
      labels: { z: "1", a: "x=y" },
      extra_hosts: ["db.local:10.0.0.5"]
    })
    expect(runOptionArgs(spec)).toEqual([
      "--user",
      "app",
      "--hostname",
      "db1",
      "--init",
      "--read-only",
      "--pids-limit",
      "64",
      "--cap-add",
      "NET_ADMIN",
      "--cap-drop",
      "ALL",
      "--cap-drop",
      "CHOWN",
      "--label",
      "a=x=y",
      "--label",
      "z=1",
      "--add-host",
      "db.local:10.0.0.5"
    ])
    expect(runOptionArgs(containerSpec("db", { init: false, read_only: false }))).toEqual([])
    const none = runArgs(containerSpec("db", { network_mode: "none" }), stampOf(containerSpec("db"), TEST_DIGEST), "proj", null)
    expect(none.ok && none.args.join(" ")).toContain("--network none")
    expect(none.ok && none.args.join(" ")).not.toContain("--network-alias")
  })

  it("in the fingerprint only when set: the hash of a spec without them is unchanged", () => {
    const plain = containerSpec("db")
    expect(specHash({ ...plain, init: false, read_only: false, cap_add: [], labels: {}, extra_hosts: [] })).toBe(specHash(plain))
    const set = { ...plain, user: "app", network_mode: "host" as const, cap_add: ["NET_ADMIN", "CHOWN"] }
    expect(fingerprint(set)).toMatchObject({ user: "app", network_mode: "host", cap_add: ["CHOWN", "NET_ADMIN"] })
    expect(specHash(set)).not.toBe(specHash(plain))
  })
})
