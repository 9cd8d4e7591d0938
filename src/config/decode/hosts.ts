/**
 * `ops.hosts`: the SSH target grammar, and the entries decoded into HostSpecs (files resolved and
 * checked where they are written).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { ConfigInvalid, type ConfigIssue, escapeText } from "../../errors.js"
import type { HostSpec } from "../../model.js"
import type { HostEntry } from "../schema.js"
import { locate, type Loc, type MapNode } from "../tree.js"

/** `[user@]host[:port]`, as `ops.hosts.<name>.ssh` is written. */
const USER = /^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}$/u
const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$/u
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/u

export interface SshTarget {
  readonly user: string | null
  readonly hostname: string
  readonly port: number | null
}

/** `[user@]host[:port]` (IPv6 as `[::1]:22`) → its parts, or why not. Never starts with `-` (no option injection). */
export const parseSshTarget = (text: string): SshTarget | { readonly error: string } => {
  const m = /^(?:([^@]*)@)?(\[[^\]]*\]|[^:@]*)(?::([^:]*))?$/u.exec(text)
  const fail = (why: string) => ({ error: `${why}; expected [user@]host[:port], e.g. deploy@edge1.example.com:2222` })
  if (m === null) return fail("not an SSH target")
  const [, user, rawHost, rawPort] = m
  if (user !== undefined && !USER.test(user)) return fail(`invalid user '${user}'`)
  const bracketed = rawHost!.startsWith("[")
  const hostname = bracketed ? rawHost!.slice(1, -1) : rawHost!
  if (bracketed ? !IPV6.test(hostname) : !HOSTNAME.test(hostname)) return fail(`invalid host '${rawHost}'`)
  let port: number | null = null
  if (rawPort !== undefined) {
    if (!/^[0-9]{1,5}$/u.test(rawPort) || Number(rawPort) < 1 || Number(rawPort) > 65535) return fail(`invalid port '${rawPort}'`)
    port = Number(rawPort)
  }
  return { user: user ?? null, hostname, port }
}

/**
 * `ops.hosts` → HostSpecs: the target split, `identity_file` / `known_hosts` resolved against the
 * file that defines them (`~` expanded) and required to be existing regular files. Any problem
 * rejects the load, located at the field's line (a host is shared by sessions: no partial hosts).
 */
export const decodeHosts = (
  ops: MapNode,
  opsLoc: Loc,
  raw: Readonly<Record<string, typeof HostEntry.Type>> | null,
  home: string | undefined
): ReadonlyArray<HostSpec> => {
  if (raw === null) return []
  const issues: Array<ConfigIssue> = []
  const hosts = Object.entries(raw).map(([name, h]): HostSpec => {
    const file = (field: "identity_file" | "known_hosts"): string | null => {
      const value = h[field]
      if (value === undefined || value === null) return null
      const at = locate(ops, ["hosts", name, field], opsLoc)
      const fail = (reason: string) => {
        issues.push({ file: at.file, line: at.line, session: null, field: `ops.hosts.${name}.${field}`, reason: escapeText(reason) })
        return null
      }
      let expanded = value
      if (value === "~" || value.startsWith("~/")) {
        if (home === undefined) return fail("cannot expand '~': HOME is not set")
        expanded = path.join(home, value.slice(1))
      }
      const resolved = path.resolve(path.dirname(at.file), expanded)
      const st = fs.statSync(resolved, { throwIfNoEntry: false })
      if (st === undefined) return fail(`file not found: ${resolved}`)
      if (!st.isFile()) return fail(`not a regular file: ${resolved}`)
      if (resolved.includes("\"") || /[\u0000-\u001f]/u.test(resolved)) return fail(`unusable path for ssh (quote or control character): ${resolved}`)
      return resolved
    }
    // the schema checked it already
    const target = parseSshTarget(h.ssh)
    const t = "error" in target ? { user: null, hostname: h.ssh, port: null } : target
    return {
      name,
      user: t.user,
      hostname: t.hostname,
      port: t.port,
      identity_file: file("identity_file"),
      known_hosts: file("known_hosts"),
      runtime: h.runtime ?? "docker",
      podman_socket: h.podman_socket ?? null,
      containers: h.runtime !== undefined && h.runtime !== null
    }
  })
  if (issues.length > 0) throw new ConfigInvalid({ issues })
  return hosts
}
