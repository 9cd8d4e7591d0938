/** The pure SSH parts: target parsing, the remote shell quoting (checked against a real sh), the ssh argv. */
import { spawnSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import { dockerHostUrl, dockerSshFailure, remoteCommand, shellQuote, sshArgs } from "../../src/transport/ssh.js"
import { parseSshTarget } from "../../src/config/decode/hosts.js"
import type { HostSpec } from "../../src/model.js"
import { describePlace, samePlace } from "../../src/place.js"
import { fingerprint, specHash } from "../../src/testing/specs.js"
import type { TmuxSpec } from "../../src/model.js"

const HOSTILE = [
  "",
  " ",
  "plain",
  "two words",
  "'",
  "''",
  "it's",
  "\"double\"",
  "$HOME",
  "${HOME}",
  "$(touch /tmp/kt-pwned-quote)",
  "`touch /tmp/kt-pwned-quote`",
  "a;b",
  "a && b || c",
  "a|b",
  "> /tmp/kt-pwned-quote",
  "*",
  "?",
  "[a]",
  "~",
  "~root",
  "-n",
  "--",
  "\\",
  "\\'",
  "line1\nline2",
  "tab\there",
  "\r",
  "#comment",
  "!bang",
  "{a,b}",
  "=",
  "%C",
  "ünïcödé ✓",
  "\x1f\x7f\x01"
]

describe("shellQuote", () => {
  it.each(HOSTILE.map((a) => [JSON.stringify(a), a]))("%s reaches a POSIX shell as exactly itself", (_label, arg) => {
    const r = spawnSync("sh", ["-c", `printf '%s' ${shellQuote(arg)}`], { encoding: "utf8" })
    expect(r.status).toBe(0)
    expect(r.stdout).toBe(arg)
  })

  it("a whole command line keeps every word apart (as ssh hands it to the remote shell)", () => {
    const argv = ["sh", "-c", "for a; do printf '<%s>' \"$a\"; done", "x", ...HOSTILE]
    const r = spawnSync("sh", ["-c", remoteCommand(argv)], { encoding: "utf8" })
    expect(r.stdout).toBe(HOSTILE.map((a) => `<${a}>`).join(""))
  })

  it("safe words stay bare, the rest single-quoted", () => {
    expect(shellQuote("tmux")).toBe("tmux")
    expect(shellQuote("-L")).toBe("-L")
    expect(shellQuote(";")).toBe("';'")
    expect(shellQuote("it's")).toBe("'it'\\''s'")
  })
})

describe("parseSshTarget", () => {
  it("user, host, port", () => {
    expect(parseSshTarget("deploy@edge1.example.com:2222")).toEqual({ user: "deploy", hostname: "edge1.example.com", port: 2222 })
    expect(parseSshTarget("edge1")).toEqual({ user: null, hostname: "edge1", port: null })
    expect(parseSshTarget("root@127.0.0.1")).toEqual({ user: "root", hostname: "127.0.0.1", port: null })
    expect(parseSshTarget("[::1]:22")).toEqual({ user: null, hostname: "::1", port: 22 })
  })
  it.each(["", "-oProxyCommand=x", "u@-host", "-u@host", "host:0", "host:65536", "host:x", "a b", "u@h@h", "host;id", "ho$t"])("refuses %j", (t) => {
    expect("error" in parseSshTarget(t)).toBe(true)
  })
})

const host: HostSpec = { name: "edge1", user: "deploy", hostname: "edge1.example.com", port: 2222, identity_file: "/k/id key", known_hosts: "/k/known%hosts", runtime: "docker", podman_socket: null, containers: false }

describe("sshArgs", () => {
  it("verifies host keys, never prompts, multiplexes, and quotes the remote command", () => {
    const args = sshArgs(host, "/run/ctl", ["tmux", "-L", "a b", "list-panes", ";"])
    expect(args).toEqual([
      "-o", "ControlMaster=auto",
      "-o", "ControlPath=\"/run/ctl/%C\"",
      "-o", "ControlPersist=60",
      "-o", "BatchMode=yes",
      "-o", "StrictHostKeyChecking=yes",
      "-o", "ConnectTimeout=10",
      "-o", "LogLevel=ERROR",
      "-o", "UserKnownHostsFile=\"/k/known%%hosts\"",
      "-o", "IdentityFile=\"/k/id key\"",
      "-o", "IdentitiesOnly=yes",
      "-p", "2222",
      "-l", "deploy",
      "-T",
      "--",
      "edge1.example.com",
      "tmux -L 'a b' list-panes ';'"
    ])
    expect(args.join(" ")).not.toMatch(/StrictHostKeyChecking=no/u)
  })
  it("docker's URL and its ssh failures", () => {
    expect(dockerHostUrl(host)).toBe("ssh://deploy@edge1.example.com:2222")
    expect(dockerSshFailure("error during connect: command [ssh -p 1 ...] has exited with exit status 255, please make sure ... stderr=ssh: connect to host 127.0.0.1 port 1: Connection refused\n"))
      .toBe("ssh: connect to host 127.0.0.1 port 1: Connection refused")
    expect(dockerSshFailure("Error response from daemon: No such container: x")).toBeNull()
  })
})

describe("the host in the place and the fingerprint", () => {
  const spec: TmuxSpec = { backend: "tmux", name: "a", command: "sleep 1", shell: false, working_dir: null, env: {}, socket_name: null, state: "running" }
  it("absent: the hash of every local session is unchanged; set: a different hash", () => {
    expect(fingerprint(spec)).not.toHaveProperty("host")
    expect(specHash({ ...spec, host: "edge1" })).not.toBe(specHash(spec))
    expect(fingerprint({ ...spec, host: "edge1" })).toMatchObject({ host: "edge1" })
  })
  it("places differ by host", () => {
    expect(samePlace({ backend: "tmux", socket: null }, { backend: "tmux", socket: null, host: "edge1" })).toBe(false)
    expect(samePlace({ backend: "tmux", socket: null, host: "edge1" }, { backend: "tmux", socket: null, host: "edge1" })).toBe(true)
    expect(describePlace({ backend: "container", runtime: "docker", host: "edge1" })).toBe("docker on edge1")
  })
})
