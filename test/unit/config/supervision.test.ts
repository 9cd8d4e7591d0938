/** Config: restart, max_restarts, ready, depends_on — validated with file:line, fingerprinted only when set. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { configJsonSchema } from "../../../src/config/schema.js"
import type { LoadedConfig } from "../../../src/config/types.js"
import { configTextLoader, entry, issueLines } from "../../support/loaded.js"
import { fingerprint, specHash } from "../../../src/testing/specs.js"
import { containerSpec, tmuxSpec } from "../../../src/testing/specs.js"

const loadText = configTextLoader("kstlib-sup-")
const reasons = (c: LoadedConfig, name: string) => issueLines(entry(c, name))

describe("supervision fields", () => {
  it.effect("valid fields decode with their defaults", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`ops:
  sessions:
    db:
      backend: container
      image: localhost/db:1
      restart: always
      ready:
        log: "ready to accept"
    worker:
      command: sleep 100
      restart: on-failure
      max_restarts: 2
      depends_on: [db]
      ready:
        tcp: 8080
        timeout: 5
        interval: 0.5
    plain:
      command: sleep 1
`)
      const db = entry(c, "db")
      const worker = entry(c, "worker")
      const plain = entry(c, "plain")
      expect(db._tag).toBe("Valid")
      expect(worker._tag).toBe("Valid")
      if (db._tag !== "Valid" || worker._tag !== "Valid" || plain._tag !== "Valid") return
      expect(db.spec).toMatchObject({ restart: "always", ready: { log: "ready to accept", timeout: 60, interval: 1 } })
      expect(db.spec.depends_on).toBeUndefined()
      expect(worker.spec).toMatchObject({ restart: "on-failure", max_restarts: 2, ready: { tcp: 8080, timeout: 5, interval: 0.5 }, depends_on: ["db"] })
      // defaults are left out: a spec without them means the defaults
      expect(Object.keys(plain.spec)).not.toContain("restart")
      expect(Object.keys(plain.spec)).not.toContain("ready")
    }))

  it.effect("bad values are rejected with file:line", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`ops:
  sessions:
    a:
      restart: sometimes
    b:
      max_restarts: 3
    c:
      restart: on-failure
      max_restarts: -1
    d:
      ready:
        tcp: 80
        http: http://localhost/
    e:
      ready: {}
    f:
      ready:
        log: "(unclosed"
    g:
      ready:
        http: ftp://x/
    h:
      ready:
        cmd: "pg_isready; rm -rf /"
    i:
      ready:
        tcp: 70000
    j:
      depends_on: [j]
    k:
      depends_on: [a, a]
    l:
      ready:
        tcp: 1
        timeout: 0
`)
      expect(reasons(c, "a").join()).toMatch(/^4: restart: /)
      expect(reasons(c, "b")).toEqual(["6: max_restarts: max_restarts needs restart: on-failure or always"])
      expect(reasons(c, "c").join()).toMatch(/^9: max_restarts: /)
      expect(reasons(c, "d").join()).toMatch(/give only one check, not tcp and http/)
      expect(reasons(c, "e").join()).toMatch(/give one check: tcp, http, log or cmd/)
      expect(reasons(c, "f").join()).toMatch(/^18: ready.log: not a valid RE2 regular expression/)
      expect(reasons(c, "g").join()).toMatch(/only http:\/\/ and https:\/\//)
      expect(reasons(c, "h").join()).toMatch(/^24: ready.cmd: /)
      expect(reasons(c, "i").join()).toMatch(/^27: ready.tcp: /)
      expect(reasons(c, "j").join()).toMatch(/^29: depends_on: a session cannot depend on itself/)
      expect(reasons(c, "k").join()).toMatch(/depends_on: a session is listed twice/)
      expect(reasons(c, "l").join()).toMatch(/ready.timeout: timeout must be/)
    }))

  it.effect("unknown dependencies and cycles make invalid entries, located at depends_on", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`ops:
  sessions:
    a:
      depends_on: [b]
    b:
      command: sleep 1
      depends_on: [a]
    c:
      depends_on: [a]
    d:
      depends_on: [wokrer]
    worker:
      command: sleep 1
`)
      expect(reasons(c, "a")).toEqual(["4: depends_on: dependency cycle a → b → a"])
      expect(reasons(c, "b")).toEqual(["7: depends_on: dependency cycle b → a → b"])
      // c only depends on the cycle: valid (at apply it is not run, its dependency being invalid)
      expect(entry(c, "c")._tag).toBe("Valid")
      expect(reasons(c, "d")).toEqual(["11: depends_on: unknown session 'wokrer' (did you mean 'worker'?)"])
    }))

  it("fingerprint: defaults leave the hash as it was; each set field is drift", () => {
    const t = tmuxSpec("w")
    const base = specHash(t)
    const withDefaults = { ...t, restart: "no" as const, max_restarts: null, ready: null, depends_on: [] }
    expect(specHash(withDefaults)).toBe(base)
    expect(fingerprint(withDefaults)).toEqual(fingerprint(t))
    expect(specHash({ ...t, restart: "on-failure" })).not.toBe(base)
    expect(specHash({ ...t, restart: "on-failure", max_restarts: 2 })).not.toBe(specHash({ ...t, restart: "on-failure" }))
    expect(specHash({ ...t, ready: { tcp: 1, timeout: 60, interval: 1 } })).not.toBe(base)
    expect(specHash({ ...t, depends_on: ["db"] })).not.toBe(base)
    const ctr = containerSpec("db")
    expect(specHash({ ...ctr, restart: "no", ready: null, depends_on: [] })).toBe(specHash(ctr))
    expect(fingerprint({ ...ctr, restart: "always", ready: { log: "x", timeout: 5, interval: 1 } })).toMatchObject({
      restart: "always",
      ready: { log: "x", timeout: "5" }
    })
  })

  it("the JSON Schema describes the fields", () => {
    const text = JSON.stringify(configJsonSchema())
    for (const field of ["restart", "max_restarts", "ready", "depends_on", "on-failure", "restart_delay", "max_backoff", "min_uptime", "stop_signal", "stop_timeout"]) {
      expect(text).toContain(`"${field}"`)
    }
  })
})

describe("restart timings and stop settings", () => {
  it.effect("decode as written (seconds, fractions allowed); bad values and misplaced fields are rejected with file:line", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`ops:
  sessions:
    bot:
      command: python3 bot.py
      restart: always
      restart_delay: 0.5
      max_backoff: 60
      min_uptime: 30
      stop_signal: TERM
      stop_timeout: 3
    plain:
      command: sleep 1
      stop_timeout: 20
    bad:
      command: sleep 1
      restart: on-failure
      restart_delay: -1
      max_backoff: 0
      stop_signal: STOP
      stop_timeout: 99999
    nopolicy:
      command: sleep 1
      min_uptime: 5
    ctr:
      backend: container
      image: localhost/app:1
      restart: always
      restart_delay: 2
      stop_signal: QUIT
      stop_timeout: 4
`)
      const bot = entry(c, "bot")
      expect(bot._tag === "Valid" && bot.spec).toMatchObject({ restart_delay: 0.5, max_backoff: 60, min_uptime: 30, stop_signal: "TERM", stop_timeout: 3 })
      const plain = entry(c, "plain")
      expect(plain._tag === "Valid" && plain.spec).toMatchObject({ stop_timeout: 20 })
      expect(plain._tag === "Valid" && "stop_signal" in plain.spec).toBe(false)
      const bad = reasons(c, "bad")
      expect(bad).toEqual([
        expect.stringMatching(/^17: restart_delay: .*between 0 and 3600/u),
        expect.stringMatching(/^18: max_backoff: .*between 0.1 and 3600/u),
        expect.stringMatching(/^19: stop_signal: Expected "INT" \| "TERM"/u),
        expect.stringMatching(/^20: stop_timeout: .*between 0 and 3600/u)
      ])
      expect(reasons(c, "nopolicy")).toEqual(["23: min_uptime: min_uptime needs restart: on-failure or always"])
      // a container's engine restarts it with its own backoff; its stop settings are the engine's flags
      expect(reasons(c, "ctr")).toEqual([expect.stringMatching(/^28: restart_delay: .*tmux supervisor only/u)])
    }))

  it("fingerprint: each only when set (existing sessions keep their hash); a set one is drift", () => {
    const t = tmuxSpec("w", { command: "sleep 1" })
    const base = specHash(t)
    expect(specHash({ ...t, restart_delay: 1, max_backoff: 30, min_uptime: 10, stop_signal: "INT", stop_timeout: 10 })).toBe(base)
    for (const over of [{ restart_delay: 2 }, { max_backoff: 5 }, { min_uptime: 1 }, { stop_signal: "TERM" as const }, { stop_timeout: 3 }]) {
      expect(specHash({ ...t, ...over })).not.toBe(base)
    }
    expect(fingerprint({ ...t, stop_signal: "TERM", stop_timeout: 2.5 })).toMatchObject({ stop_signal: "TERM", stop_timeout: "2.5" })
  })
})
