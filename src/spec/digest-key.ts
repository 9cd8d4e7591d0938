/**
 * The env digest of this machine and user, as a service: `h1` (keyed) digests with a secret kept in
 * kstlib's state directory (`$XDG_STATE_HOME/kstlib/env-digest.key`, 32 random bytes, mode 0600 in
 * a 0700 directory, created on first use). Without the layer, the unkeyed `v1` digest of the first
 * releases (a program or test that provides nothing keeps working).
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Context, Effect, Layer } from "effect"
import type { EnvDigest } from "./fingerprint.js"
import { keyedDigest, unkeyedDigest } from "./fingerprint.js"

export const EnvDigests = Context.Reference<EnvDigest>("kstlib/EnvDigests", { defaultValue: () => unkeyedDigest })

/** kstlib's state directory: `$XDG_STATE_HOME/kstlib`, XDG_STATE_HOME defaulting to `~/.local/state` (null: no HOME). */
export const stateDir = (env: Readonly<Record<string, string | undefined>> = process.env): string | null => {
  const xdg = env["XDG_STATE_HOME"]
  if (xdg !== undefined && path.isAbsolute(xdg)) return path.join(xdg, "kstlib")
  const home = env["HOME"]
  return home === undefined || home === "" ? null : path.join(home, ".local", "state", "kstlib")
}

const KEY_BYTES = 32

/**
 * The key file's secret, created when absent (exclusively: two first runs agree on one key). Null
 * when it can be neither read nor written (a read-only HOME): the unkeyed digest is used then.
 */
export const readOrCreateKey = (dir: string): Uint8Array | null => {
  const file = path.join(dir, "env-digest.key")
  const read = () => {
    const bytes = fs.readFileSync(file)
    return bytes.length === KEY_BYTES ? new Uint8Array(bytes) : null
  }
  try {
    return read()
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") return null
  }
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    fs.writeFileSync(file, randomBytes(KEY_BYTES), { mode: 0o600, flag: "wx" })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") return null
  }
  try {
    return read()
  } catch {
    return null
  }
}

/** The keyed digest with this machine's key (read, or created, once per process). */
export const layerFromStateDir = Layer.effect(
  EnvDigests,
  Effect.sync(() => {
    const dir = stateDir()
    const key = dir === null ? null : readOrCreateKey(dir)
    return key === null ? unkeyedDigest : keyedDigest(key)
  })
)
