/**
 * The pure parts of Podman on remote hosts: which known_hosts lines name a host (plain, wildcard,
 * negated, hashed by OpenSSH's `ssh-keygen -H`), the private known_hosts podman gets, the `--url`,
 * the socket podman reports, and how its failures are read.
 */
import { describe, expect, it } from "vitest"
import { hostFieldMatches, hostKeys, knownHostsName, knownHostsText, mergeHostKeys } from "../../src/transport/known-hosts.js"
import { parseRemoteSocket, podmanRemoteFailure, podmanUrl } from "../../src/transport/podman-remote.js"
import { parseSshEffective } from "../../src/transport/ssh.js"
import type { HostSpec } from "../../src/model.js"

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPV4CtVgZObQJNRCEukBb6adEFkcnUePqexrALHjp3jm"
const OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBRnKOIwCXyJJR3a0hBfNbMBR5V6vXkEbsKyq9Lpt5Bl"
/** Written by OpenSSH 9's `ssh-keygen -H` from `[edge.example.com]:2222 <KEY>`. */
const HASHED = `|1|f6UxDEoCoWautfLq4+HDjY3UTmY=|T5x9LbC+gqVawj1NfuawK6eeqhI= ${KEY}`

const host = (over: Partial<HostSpec> = {}): HostSpec => ({
  name: "edge1",
  user: "deploy",
  hostname: "edge.example.com",
  port: 2222,
  identity_file: null,
  known_hosts: null,
  runtime: "podman",
  podman_socket: null,
  containers: true,
  ...over
})

describe("known_hosts", () => {
  it("names a host as ssh looks it up: bare on port 22 (or none), [host]:port otherwise", () => {
    expect(knownHostsName(host())).toBe("[edge.example.com]:2222")
    expect(knownHostsName(host({ port: 22 }))).toBe("edge.example.com")
    expect(knownHostsName(host({ port: null }))).toBe("edge.example.com")
  })

  it("matches plain, listed, wildcard and case-insensitive patterns; a negation wins", () => {
    expect(hostFieldMatches("edge.example.com", "edge.example.com")).toBe(true)
    expect(hostFieldMatches("other,EDGE.example.com", "edge.example.com")).toBe(true)
    expect(hostFieldMatches("*.example.com", "edge.example.com")).toBe(true)
    expect(hostFieldMatches("edg?.example.com", "edge.example.com")).toBe(true)
    expect(hostFieldMatches("*.example.com,!edge.example.com", "edge.example.com")).toBe(false)
    expect(hostFieldMatches("edge.example.com", "[edge.example.com]:2222")).toBe(false)
    expect(hostFieldMatches("[edge.example.com]:2222", "[edge.example.com]:2222")).toBe(true)
    // regex characters in a pattern are literal
    expect(hostFieldMatches("edge.example.com", "edgeXexampleXcom")).toBe(false)
    expect(hostFieldMatches("(a|b)", "a")).toBe(false)
  })

  it("matches a name hashed by ssh-keygen -H, and only that name", () => {
    const field = HASHED.split(" ")[0]!
    expect(hostFieldMatches(field, "[edge.example.com]:2222")).toBe(true)
    expect(hostFieldMatches(field, "edge.example.com")).toBe(false)
    expect(hostFieldMatches("|1|bad|salt", "edge.example.com")).toBe(false)
  })

  it("matches a hashed name as ssh looks it up: in lower case, whatever the case of the ssh: target", () => {
    // `ssh-keygen -H` of `edge.example.com`; `ssh Edge.Example.COM` accepts it (ssh lowercases the host)
    const field = "|1|3ZEr1/syHRxz7qQYZK93f3cY9iM=|uxjgPsH/DJ/+Uq90Fu0Cx0rirx8="
    expect(hostFieldMatches(field, "edge.example.com")).toBe(true)
    expect(hostFieldMatches(field, "Edge.Example.COM")).toBe(true)
    expect(hostKeys(`${field} ${KEY}`, "EDGE.example.com").keys).toEqual([KEY])
  })

  it("collects the host's keys, its revoked keys, and counts certificate authorities; skips the rest", () => {
    const text = [
      "# comment",
      "",
      `other.example.com ${OTHER}`,
      HASHED,
      `@revoked [edge.example.com]:2222 ${OTHER}`,
      `@cert-authority [*.example.com]:2222 ${OTHER}`,
      "[edge.example.com]:2222 malformed-line",
      `   [edge.example.com]:2222   ${KEY}  a comment`
    ].join("\n")
    const keys = hostKeys(text, "[edge.example.com]:2222")
    expect(keys).toEqual({ keys: [KEY, KEY], revoked: [OTHER], authorities: 1 })
    const merged = mergeHostKeys([keys, hostKeys(`[edge.example.com]:2222 ${OTHER}`, "[edge.example.com]:2222")])
    expect(merged.keys).toEqual([KEY, OTHER])
    expect(knownHostsText("[edge.example.com]:2222", mergeHostKeys([keys]))).toBe(
      `@revoked [edge.example.com]:2222 ${OTHER}\n[edge.example.com]:2222 ${KEY}\n`
    )
    expect(hostKeys(text, "unknown.example.org")).toEqual({ keys: [], revoked: [], authorities: 0 })
  })
})

describe("podman's remote transport", () => {
  it("builds the --url from where OpenSSH connects: user, host, port, socket", () => {
    expect(podmanUrl({ user: "deploy", hostname: "edge.example.com", port: 2222 }, "/run/user/1000/podman/podman.sock"))
      .toBe("ssh://deploy@edge.example.com:2222/run/user/1000/podman/podman.sock")
    expect(podmanUrl({ user: "me", hostname: "::1", port: 22 }, "/s.sock")).toBe("ssh://me@[::1]:22/s.sock")
  })

  it("reads OpenSSH's resolved settings (ssh -G): target, HostKeyAlias, known_hosts and key files, proxies", () => {
    const dump = [
      "user deploy",
      "hostname 10.0.0.5",
      "port 2222",
      "hashknownhosts yes",
      "identityfile ~/.ssh/id_rsa",
      "identityfile ~/.ssh/id_ed25519",
      "globalknownhostsfile /etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2",
      "userknownhostsfile ~/.ssh/known_hosts %d/.ssh/known_hosts2",
      "hostkeyalias edge1",
      "proxycommand none"
    ].join("\n")
    expect(parseSshEffective(dump, "/home/u")).toEqual({
      user: "deploy",
      hostname: "10.0.0.5",
      port: 2222,
      hostKeyAlias: "edge1",
      knownHostsFiles: ["/home/u/.ssh/known_hosts", "/home/u/.ssh/known_hosts2", "/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"],
      identityFiles: ["/home/u/.ssh/id_rsa", "/home/u/.ssh/id_ed25519"],
      proxy: null
    })
    expect(parseSshEffective("user a\nhostname h\nport 22\nproxyjump bastion", "/h")?.proxy).toBe("bastion")
    expect(parseSshEffective("user a\nhostname h\nport 22\nuserknownhostsfile /k/kh", "/h")).toMatchObject({ hostKeyAlias: null, knownHostsFiles: ["/k/kh"] })
    expect(parseSshEffective("Bad configuration option", "/h")).toBeNull()
  })

  it("reads the socket `podman info` reports, with or without unix://, and whether it exists", () => {
    expect(parseRemoteSocket(`{"path":"/run/podman/podman.sock","exists":false}\n`)).toEqual({ path: "/run/podman/podman.sock", exists: false })
    expect(parseRemoteSocket(`motd line\n{"path":"unix:///tmp/x/podman.sock","exists":true}`)).toEqual({ path: "/tmp/x/podman.sock", exists: true })
    expect(parseRemoteSocket(`{"path":"unix:/run/user/1000/podman/podman.sock","exists":true}`)).toEqual({ path: "/run/user/1000/podman/podman.sock", exists: true })
    expect(parseRemoteSocket("Error: something")).toBeNull()
    expect(parseRemoteSocket(`{"path":"tcp://1.2.3.4:8080","exists":true}`)).toBeNull()
  })

  it("refuses a socket path podman's --url would not carry as it is (a hostile host's answer): as ops.hosts.*.podman_socket would be", () => {
    for (const bad of ["/run/p.sock\\u001b]2;PWNED\\u0007", "/run/p.sock?secure=false", "/run/p.sock#x", "/run/my podman.sock", "/run/p%2Fq.sock", "/run/p\\nq"]) {
      expect(parseRemoteSocket(`{"path":"unix://${bad}","exists":true}`), bad).toBeNull()
    }
  })

  it("tells an SSH failure (host unreachable) from a missing service, and leaves the engine's own errors alone", () => {
    expect(podmanRemoteFailure("Error: failed to connect: dial tcp 127.0.0.1:1: connect: connection refused\n", "/s")).toEqual({
      unreachable: "dial tcp 127.0.0.1:1: connect: connection refused"
    })
    expect(podmanRemoteFailure("Error: failed to connect: ssh: handshake failed: knownhosts: key mismatch", "/s")).toEqual({
      unreachable: "ssh: handshake failed: knownhosts: key mismatch"
    })
    const service = podmanRemoteFailure(
      `Cannot connect to Podman. Please verify…\nError: unable to connect to Podman socket: Get "http://d/v4.3.1/libpod/_ping": ssh: rejected: connect failed (open failed)`,
      "/run/podman/podman.sock"
    )
    expect(service).not.toBeNull()
    expect(service !== null && "service" in service ? service.service : "").toMatch(/no Podman API service answers at \/run\/podman\/podman\.sock.*systemctl --user enable --now podman\.socket/u)
    expect(podmanRemoteFailure("Error: no container with name or ID \"x\" found: no such container", "/s")).toBeNull()
    // podman 4.3 cannot parse an IPv6 host: its own error, not a missing service
    expect(podmanRemoteFailure(`Error: unable to connect to Podman socket: parse "::1": missing protocol scheme`, "/s")).toBeNull()
  })
})
