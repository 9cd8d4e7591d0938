/**
 * The fingerprint of a spec (the normalized fields that change what runs, env values as digests),
 * its hash (`v1:<sha256>`), the one codec that stores it on a session, and the env digests.
 *
 * Env digests. Sessions carry their fingerprint where anyone who can list containers or read tmux
 * options sees it, so an env value's digest must not let a short secret be guessed offline: new
 * sessions get `h1:` digests, HMAC-SHA256 keyed with a secret of this machine and user
 * (`digestKey`, kept in kstlib's state directory). Sessions stamped by an earlier release carry
 * unkeyed `v1` digests; they are compared with the recipe they were stamped with (`digestFor`),
 * so an upgrade recreates nothing whose spec did not change.
 */
import { createHash, createHmac } from "node:crypto"
import { Schema } from "effect"
import type { ConfiguredSpec, Fingerprint } from "../model.js"
import { containerFields } from "./container.js"
import type { EnvDigest, Field } from "./field.js"
import { canonicalJson, fingerprintWith } from "./field.js"
import { tmuxFields } from "./tmux.js"

export type { EnvDigest } from "./field.js"
export { canonicalJson } from "./field.js"

export const FINGERPRINT_VERSION = "v1"

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex")

/** The first releases' digest: sha256(KEY\0VALUE) cut to 64 bits, unkeyed. */
export const unkeyedDigest: EnvDigest = { recipe: "v1", of: (key, value) => sha256(`${key}\u0000${value}`).slice(0, 16) }

/** HMAC-SHA256 of KEY\0VALUE under `secret`, 128 bits, written `h1:<hex>`. */
export const keyedDigest = (secret: Uint8Array): EnvDigest => ({
  recipe: "h1",
  of: (key, value) => `h1:${createHmac("sha256", secret).update(`${key}\u0000${value}`).digest("hex").slice(0, 32)}`
})

/**
 * The digest a stored fingerprint was made with: `h1` digests say so, bare hex is `v1`; a
 * fingerprint with no env (or none stored) takes `current` (no env, no digest: the same hash).
 */
export const digestFor = (applied: Fingerprint | null, current: EnvDigest): EnvDigest => {
  const env = applied?.["env"]
  if (env === null || env === undefined || typeof env !== "object" || Array.isArray(env)) return current
  const values = Object.values(env as Readonly<Record<string, string>>)
  if (values.length === 0) return current
  return values.every((v) => v.startsWith("h1:")) ? current : unkeyedDigest
}

/** A spec's fingerprint (a config entry's too: an auto-detected runtime is then stored as null). */
export const fingerprint = (spec: ConfiguredSpec, digest: EnvDigest): Fingerprint =>
  spec.backend === "tmux" ? fingerprintWith(tmuxFields, spec, digest) : fingerprintWith(containerFields, spec, digest)

/** Every field of either table by name: what a fingerprint's key means (a moved session's diff mixes both). */
export const FIELDS: ReadonlyMap<string, Field<never>> = new Map(
  [...tmuxFields, ...containerFields].map((f): [string, Field<never>] => [f.name, f])
)

export const hashFingerprint = (fp: Fingerprint): string => `${FINGERPRINT_VERSION}:${sha256(canonicalJson(fp))}`

export const specHash = (spec: ConfiguredSpec, digest: EnvDigest): string => hashFingerprint(fingerprint(spec, digest))

/** What is written on a session when kstlib launches it: the hash and the fingerprint it was computed from. */
export interface Stamp {
  readonly hash: string
  readonly fingerprint: Fingerprint
}

export const stampOf = (spec: ConfiguredSpec, digest: EnvDigest): Stamp => {
  const fp = fingerprint(spec, digest)
  return { hash: hashFingerprint(fp), fingerprint: fp }
}

const FingerprintSchema = Schema.Record(
  Schema.String,
  Schema.Union([Schema.String, Schema.Boolean, Schema.Null, Schema.Array(Schema.String), Schema.Record(Schema.String, Schema.String)])
)
const decodeFingerprintJson = Schema.decodeUnknownOption(Schema.fromJsonString(FingerprintSchema))

/**
 * The one codec for a stored fingerprint (tmux option and container label alike): base64url of its
 * canonical JSON — no comma (Docker's label list), no separator or newline (tmux formats).
 */
export const encodeFingerprint = (fp: Fingerprint): string => Buffer.from(canonicalJson(fp), "utf8").toString("base64url")

/** Anything unreadable is null (the plan then reports the whole spec as changed). */
export const decodeFingerprint = (text: string | null | undefined): Fingerprint | null => {
  if (text === null || text === undefined || !/^[A-Za-z0-9_-]+={0,2}$/.test(text)) return null
  const decoded = decodeFingerprintJson(Buffer.from(text, "base64url").toString("utf8"))
  return decoded._tag === "Some" ? decoded.value : null
}

/** The dependencies recorded in a stored fingerprint (to order the removal of sessions no longer in the config). */
export const appliedDependencies = (fp: Fingerprint | null): ReadonlyArray<string> => {
  const d = fp?.["depends_on"]
  return Array.isArray(d) ? d : []
}
