/**
 * Users of the original write sessions with the other backend's fields left null or empty (a tmux
 * session with `image: null`, `volumes: []`, `log_volume: null`); the original ignores them. A set
 * (non-empty) one stays an error with the hint to switch backends.
 */
import { describe, expect, it } from "vitest"
import { decodeSessionEntry, sessionDefaults } from "../../../src/config/decode/index.js"

const decode = (raw: unknown) =>
  decodeSessionEntry("s", raw, {
    defaults: sessionDefaults({ default_backend: "tmux", container_runtime: null }),
    baseDir: "/tmp",
    file: "/cfg/kstlib.conf.yml",
    line: 3
  })

describe("the other backend's fields, null or empty", () => {
  it("tmux: image null, volumes [], ports [], log_volume null, runtime null, unsafe_mounts false are ignored", () => {
    const e = decode({ command: "sleep 1", image: null, volumes: [], ports: [], log_volume: null, runtime: null, unsafe_mounts: false })
    expect(e._tag).toBe("Valid")
    expect(e._tag === "Valid" && e.spec).toMatchObject({ backend: "tmux", command: "sleep 1" })
  })

  it("container: socket_name null is ignored", () => {
    const e = decode({ backend: "container", image: "nginx", socket_name: null })
    expect(e._tag).toBe("Valid")
  })

  it("a set one is still refused, with the hint", () => {
    const e = decode({ command: "sleep 1", image: "nginx", volumes: ["/a:/b"] })
    expect(e._tag === "Rejected" && e.issues.map((i) => [i.field, i.reason])).toEqual([
      ["image", "unknown field for a tmux session ('image' is a container field: set backend: container)"],
      ["volumes", "unknown field for a tmux session ('volumes' is a container field: set backend: container)"]
    ])
  })

  it("an unknown field stays unknown, null or not", () => {
    const e = decode({ command: "sleep 1", comand: null })
    expect(e._tag === "Rejected" && e.issues.map((i) => i.reason)).toEqual(["unknown field (did you mean 'command'?)"])
  })
})
