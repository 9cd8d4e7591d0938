/**
 * A spec field as a table row: its default, how it enters the stored fingerprint, and whether an
 * engine can change it in place. The fingerprint, a plan's drift diff, the defaults of a spec and
 * swarm's updatable fields are all read off the tables (tmux.ts, container.ts), so a new field is
 * one row, not a hunt.
 */
import type { Fingerprint, FingerprintValue } from "../model.js"

/** How env values enter a fingerprint: a digest per key, never the value. */
export interface EnvDigest {
  /** `v1`: sha256(KEY\0VALUE) cut to 64 bits (the first releases); `h1`: HMAC-SHA256 with this machine's key. */
  readonly recipe: "v1" | "h1"
  readonly of: (key: string, value: string) => string
}

/**
 * `always`: part of every v1 fingerprint (the fields of the first release). `when-set`: only when
 * not at its default, so adding the field left every existing session's hash as it was (compose's
 * `omitempty`). `never`: not what runs (`state`, `name`).
 */
export type InFingerprint = "always" | "when-set" | "never"

export interface Field<S> {
  readonly name: string
  /** Its value when the config leaves it out (a spec may omit optional fields: they mean this). */
  readonly default: unknown
  readonly fingerprint: InFingerprint
  /** The value of the spec, the default when absent. */
  readonly get: (spec: S) => unknown
  /** As stored in the fingerprint. */
  readonly encode: (value: unknown, digest: EnvDigest) => FingerprintValue
  /** What a plan shows for a fingerprint that left the field out (else the encoded default). */
  readonly shownDefault?: string
  /** `docker service update` can change it without recreating the service (swarm). */
  readonly updatable: boolean
  /** The spec may leave it out (absent means the default): not part of `defaultsOf`. */
  readonly optional: boolean
}

export interface FieldOptions<V> {
  /** null: absent means nothing (a host of null is this machine). */
  readonly default: V | null
  readonly fingerprint: InFingerprint
  readonly encode?: (value: V | null, digest: EnvDigest) => FingerprintValue
  readonly shownDefault?: string
  readonly updatable?: boolean
  readonly optional?: boolean
}

/** JSON with sorted object keys: the same value always serializes to the same text. */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v)

/** The row builder of a spec type `S`: `field<TmuxSpec>()("socket_name", { default: null, fingerprint: "always" })`. */
export const field = <S>() =>
<K extends keyof S & string>(name: K, options: FieldOptions<Exclude<S[K], undefined>>): Field<S> => ({
  name,
  default: options.default,
  fingerprint: options.fingerprint,
  get: (spec) => spec[name] ?? options.default,
  // the value's type is the row's: `get` gives it, the table keeps the pair together
  encode: (value, digest) =>
    options.encode === undefined ? (value as FingerprintValue) : options.encode(value as Exclude<S[K], undefined> | null, digest),
  ...(options.shownDefault === undefined ? {} : { shownDefault: options.shownDefault }),
  updatable: options.updatable ?? false,
  optional: options.optional ?? false
})

const atDefault = <S>(f: Field<S>, value: unknown) => canonicalJson(value) === canonicalJson(f.default)

/** A spec's fingerprint under a table: every `always` field, each `when-set` one only when not at its default. */
export const fingerprintWith = <S>(table: ReadonlyArray<Field<S>>, spec: S, digest: EnvDigest): Fingerprint => {
  const out: Record<string, FingerprintValue> = {}
  for (const f of table) {
    if (f.fingerprint === "never") continue
    const value = f.get(spec)
    if (f.fingerprint === "when-set" && atDefault(f, value)) continue
    out[f.name] = f.encode(value, digest)
  }
  return out
}

/** Every required field at its default: the base a spec builder (tests, `restart` of a foreign session) starts from. */
export const defaultsOf = <S>(table: ReadonlyArray<Field<S>>): Record<string, unknown> =>
  Object.fromEntries(table.filter((f) => f.name !== "backend" && !f.optional).map((f) => [f.name, f.default]))

/** A fingerprint value in words (lists in brackets, maps as JSON); null: nothing. */
export const showValue = (v: unknown): string | null =>
  v === null || v === undefined ? null : typeof v === "string" ? v : Array.isArray(v) ? `[${v.join(", ")}]` : typeof v === "boolean" ? String(v) : canonicalJson(v)

const isEmpty = (v: unknown) => v === null || (Array.isArray(v) && v.length === 0) || (typeof v === "object" && v !== null && Object.keys(v).length === 0)

/** What a left-out `when-set` field means, in words (`shell` → `false`, `host` → `local`); null: nothing. */
export const shownWhenLeftOut = <S>(f: Field<S>, digest: EnvDigest): string | null =>
  f.shownDefault ?? (isEmpty(f.default) ? null : showValue(f.encode(f.default, digest)))
