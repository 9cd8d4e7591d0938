/**
 * Reading OpenSSH known_hosts files (pure, unit-tested): the keys a file gives one host. Podman's
 * SSH client is Go's, not OpenSSH: it reads `$HOME/.ssh/known_hosts` only and ADDS the key of a
 * host it does not know, without asking. kstlib therefore hands it a private file holding exactly
 * the keys OpenSSH would accept for the host (podman-remote.ts), and refuses when there are none.
 */
import { createHmac } from "node:crypto"
import type { HostSpec } from "../model.js"

/** The name known_hosts files give a host: `host` on port 22, else `[host]:port` (what ssh and Go's knownhosts look up). */
export const knownHostsName = (host: Pick<HostSpec, "hostname" | "port">): string =>
  host.port === null || host.port === 22 ? host.hostname : `[${host.hostname}]:${host.port}`

/** OpenSSH's `match_pattern`: `*` any run, `?` one character, case-insensitive. */
const globMatches = (pattern: string, name: string): boolean => {
  const re = pattern.replace(/[.+^${}()|[\]\\]/gu, "\\$&").replaceAll("*", ".*").replaceAll("?", ".")
  return new RegExp(`^${re}$`, "iu").test(name)
}

/**
 * `|1|salt|hash`: HMAC-SHA1 of the name keyed by the salt (`HashKnownHosts yes`). ssh lowercases the
 * host before it looks it up (and before `ssh-keygen -H` hashes a name it learnt), so the name is
 * hashed in lower case too.
 */
const hashedMatches = (field: string, name: string): boolean => {
  const [, kind, salt, hash] = field.split("|")
  if (kind !== "1" || salt === undefined || hash === undefined) return false
  return createHmac("sha1", Buffer.from(salt, "base64")).update(name.toLowerCase()).digest("base64") === hash
}

/** Whether a known_hosts host field (comma-separated patterns, `!negated`, or one hashed name) names `name`. */
export const hostFieldMatches = (field: string, name: string): boolean => {
  if (field.startsWith("|")) return hashedMatches(field, name)
  let matched = false
  for (const pattern of field.split(",")) {
    if (pattern.startsWith("!")) {
      if (globMatches(pattern.slice(1), name)) return false
    } else if (globMatches(pattern, name)) matched = true
  }
  return matched
}

export interface HostKeys {
  /** `keytype base64` of each plain line naming the host. */
  readonly keys: ReadonlyArray<string>
  /** `keytype base64` of each `@revoked` line naming it. */
  readonly revoked: ReadonlyArray<string>
  /** `@cert-authority` lines naming it (Go's client cannot use them). */
  readonly authorities: number
}

/** The keys a known_hosts text gives `name` (comments, blank and malformed lines skipped). */
export const hostKeys = (text: string, name: string): HostKeys => {
  const keys: Array<string> = []
  const revoked: Array<string> = []
  let authorities = 0
  for (const raw of text.split(/\r?\n/u)) {
    const line = raw.trim()
    if (line === "" || line.startsWith("#")) continue
    const words = line.split(/\s+/u)
    const marker = words[0]!.startsWith("@") ? words.shift()! : null
    const [field, type, key] = words
    if (field === undefined || type === undefined || key === undefined || !hostFieldMatches(field, name)) continue
    if (marker === "@revoked") revoked.push(`${type} ${key}`)
    else if (marker === "@cert-authority") authorities++
    else if (marker === null) keys.push(`${type} ${key}`)
  }
  return { keys, revoked, authorities }
}

/** Several files' keys together, in order, without repeats. */
export const mergeHostKeys = (all: ReadonlyArray<HostKeys>): HostKeys => ({
  keys: [...new Set(all.flatMap((k) => k.keys))],
  revoked: [...new Set(all.flatMap((k) => k.revoked))],
  authorities: all.reduce((n, k) => n + k.authorities, 0)
})

/** A known_hosts text naming `name` with exactly these keys (revoked ones marked so). */
export const knownHostsText = (name: string, keys: HostKeys): string =>
  [...keys.revoked.map((k) => `@revoked ${name} ${k}`), ...keys.keys.map((k) => `${name} ${k}`)].map((l) => `${l}\n`).join("")
