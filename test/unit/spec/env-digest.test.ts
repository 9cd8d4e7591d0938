/**
 * Env digests (issue: an unsalted sha256 of KEY\0VALUE cut to 64 bits let anyone who can list
 * containers recover a 6-digit PIN offline in milliseconds). New sessions get keyed `h1:` digests;
 * sessions stamped with the old unkeyed `v1` ones are compared with that recipe, so nothing whose
 * spec did not change is recreated.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { plan } from "../../../src/reconcile/plan.js"
import { readOrCreateKey, stateDir } from "../../../src/spec/digest-key.js"
import { digestFor, keyedDigest, stampOf, unkeyedDigest } from "../../../src/spec/fingerprint.js"
import { containerSpec, owned, planOptions, TEST_DIGEST, tmuxSpec, valid } from "../../../src/testing/specs.js"

const PIN = "123456"
const spec = containerSpec("vault", { env: { PIN } })

/** What an attacker who reads the label can do with an unkeyed digest: try every 6-digit PIN. */
const bruteForce = (digest: string, of: (k: string, v: string) => string) => {
  for (let n = 0; n < 1_000_000; n++) {
    const guess = String(n).padStart(6, "0")
    if (of("PIN", guess) === digest) return guess
  }
  return null
}

describe("env digests", () => {
  it("the unkeyed digest gives a short secret away; the keyed one does not without the key", () => {
    const old = stampOf(spec, unkeyedDigest).fingerprint["env"] as Record<string, string>
    expect(bruteForce(old["PIN"]!, unkeyedDigest.of)).toBe(PIN)
    const fresh = stampOf(spec, TEST_DIGEST).fingerprint["env"] as Record<string, string>
    expect(fresh["PIN"]).toMatch(/^h1:[0-9a-f]{32}$/u)
    // without the key, the right guess does not match under any key the attacker can try
    expect(unkeyedDigest.of("PIN", PIN)).not.toBe(fresh["PIN"])
    expect(keyedDigest(new Uint8Array(32)).of("PIN", PIN)).not.toBe(fresh["PIN"])
    expect(TEST_DIGEST.of("PIN", PIN)).toBe(fresh["PIN"])
  })

  it("a session stamped with v1 digests is compared under v1: same spec, no change; a changed value is drift", () => {
    const v1 = stampOf(spec, unkeyedDigest)
    const old = owned(spec, { mark: { managed: true, project: "proj", spec_hash: v1.hash, applied: v1.fingerprint } })
    expect(digestFor(v1.fingerprint, TEST_DIGEST)).toBe(unkeyedDigest)
    expect(plan([valid(spec)], [old], planOptions()).steps).toEqual([])
    const changed = plan([valid(containerSpec("vault", { env: { PIN: "654321" } }))], [old], planOptions())
    expect(changed.steps).toMatchObject([{ _tag: "Replace", changes: [{ field: "env.PIN", change: "changed" }] }])
    // the replacement is stamped with the keyed digest
    const step = changed.steps[0]!
    expect(step._tag === "Replace" && step.stamp.fingerprint["env"]).toEqual({ PIN: expect.stringMatching(/^h1:/u) })
  })

  it("a session without env hashes alike under both recipes", () => {
    const t = tmuxSpec("plain")
    expect(stampOf(t, unkeyedDigest).hash).toBe(stampOf(t, TEST_DIGEST).hash)
  })
})

describe("the key file", () => {
  const dirs: Array<string> = []
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })

  it("is created once, 32 random bytes, 0600 in a 0700 directory, and read back the same", () => {
    const base = mkdtempSync(join(tmpdir(), "kstlib-key-"))
    dirs.push(base)
    const dir = stateDir({ XDG_STATE_HOME: base })!
    expect(dir).toBe(join(base, "kstlib"))
    const key = readOrCreateKey(dir)!
    expect(key.length).toBe(32)
    expect(statSync(join(dir, "env-digest.key")).mode & 0o777).toBe(0o600)
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    expect(readOrCreateKey(dir)).toEqual(key)
    expect(new Uint8Array(readFileSync(join(dir, "env-digest.key")))).toEqual(key)
  })

  it("HOME's state directory by default; none without HOME", () => {
    expect(stateDir({ HOME: "/home/u" })).toBe("/home/u/.local/state/kstlib")
    expect(stateDir({ HOME: "/home/u", XDG_STATE_HOME: "relative" })).toBe("/home/u/.local/state/kstlib")
    expect(stateDir({})).toBeNull()
  })
})
