/** A stored fingerprint back into a config entry (`ops freeze`): loading that entry gives the same fingerprint. */
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { loadYamlParser } from "../../../src/config/tree.js"
import * as YAML from "yaml"
import { fingerprint } from "../../../src/spec/fingerprint.js"
import { entryOfFingerprint } from "../../../src/spec/thaw.js"
import { configTextLoader, valid } from "../../support/loaded.js"

const load = configTextLoader("kstlib-thaw-")
// the yaml parser is loaded on the first config load (asynchronously): first, so the loads below run synchronously
beforeAll(() => Effect.runPromise(loadYamlParser))
const digest = { recipe: "h1" as const, of: (k: string) => `d-${k}` }

const roundTrip = (entry: Record<string, unknown>) => {
  const first = valid(Effect.runSync(load(YAML.stringify({ ops: { sessions: { s: entry } } }))), "s").spec
  const fp = fingerprint(first, digest)
  const thawed = entryOfFingerprint(fp)
  expect(thawed).not.toBeNull()
  const again = valid(Effect.runSync(load(YAML.stringify({ ops: { sessions: { s: thawed } } }))), "s").spec
  return { fp, thawed: thawed!, again: fingerprint(again, digest) }
}

describe("entryOfFingerprint", () => {
  it.each([
    ["a plain tmux command", { backend: "tmux", command: "sleep 300" }],
    ["supervision, stop settings, ready, logs", {
      backend: "tmux",
      command: "python3 bot.py --x 1",
      socket_name: "work",
      restart: "on-failure",
      max_restarts: 3,
      restart_delay: 0.5,
      max_backoff: 20,
      min_uptime: 5,
      stop_signal: "TERM",
      stop_timeout: 4,
      ready: { tcp: 8080, timeout: 5 },
      log_max_size: 8192,
      log_keep: 1,
      log_file: "/var/tmp/x.log",
      max_memory: "64M"
    }],
    ["windows and panes", {
      backend: "tmux",
      windows: [
        { name: "ed", layout: "main-vertical", panes: ["vim", { command: "echo a | cat", shell: true, focus: true }, null] },
        { name: "srv", command: "sleep 1", focus: true }
      ]
    }],
    ["a container with limits", { backend: "container", runtime: "podman", image: "localhost/x:1", command: "sleep 9", ports: ["8080:80"], memory: "64m", cpus: 1.5, restart: "always" }]
  ])("%s: the same fingerprint after a round trip", (_label, entry) => {
    const { fp, again } = roundTrip(entry)
    expect(again).toEqual(fp)
  })

  it("env keys come back as ${KEY} placeholders, never a value (the fingerprint holds none)", () => {
    const first = valid(Effect.runSync(load(YAML.stringify({ ops: { sessions: { s: { backend: "tmux", command: "x", env: { TOKEN: "s3cret", B: "2" } } } } }))), "s").spec
    const thawed = entryOfFingerprint(fingerprint(first, digest))!
    expect(thawed["env"]).toEqual({ B: "${B}", TOKEN: "${TOKEN}" })
    expect(JSON.stringify(thawed)).not.toContain("s3cret")
  })

  it("a stored windows value that is not windows (forged, unreadable) is left out, never thrown", () => {
    expect(entryOfFingerprint({ backend: "tmux", windows: ["not json"] })).toEqual({ backend: "tmux" })
    expect(entryOfFingerprint({ backend: "tmux", windows: ["{\"x\":1}"] })).toEqual({ backend: "tmux" })
  })

  it("not a fingerprint of a backend: null", () => {
    expect(entryOfFingerprint({ backend: "nope" })).toBeNull()
    expect(entryOfFingerprint({})).toBeNull()
  })
})
