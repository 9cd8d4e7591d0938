/** Config: `ops.hosts` engines (runtime, podman_socket) and the runtime of container sessions on a host. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { LoadedConfig } from "../../../src/config/types.js"
import { configTextLoader, issueLines, rejected, valid } from "../../support/loaded.js"

const loadText = configTextLoader("kstlib-hosts-")
const reasons = (c: LoadedConfig, name: string) => issueLines(rejected(c, name))

const HOSTS = `ops:
  hosts:
    dk:
      ssh: deploy@dk.example.com
    pm:
      ssh: deploy@pm.example.com:2222
      runtime: podman
      podman_socket: /run/user/1000/podman/podman.sock
`

describe("hosts and their engines", () => {
  it.effect("a host's engine is looked at only when the config runs containers there (valid or not) or names its runtime", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`ops:
  hosts:
    tmux-only: { ssh: a.example.com }
    named: { ssh: b.example.com, runtime: docker }
    broken: { ssh: c.example.com }
    by-default: { ssh: d.example.com }
  sessions:
    t: { host: tmux-only, command: sleep 1 }
    c: { host: broken, backend: container, image: "not an image!" }
`)
      expect(c.hosts?.map((h) => [h.name, h.containers])).toEqual([["tmux-only", false], ["named", true], ["broken", true], ["by-default", false]])
      const d = yield* loadText(`ops:
  default_backend: container
  hosts:
    h: { ssh: a.example.com }
  sessions:
    c: { host: h, image: localhost/app:1 }
`)
      expect(d.hosts?.map((h) => [h.name, h.containers])).toEqual([["h", true]])
    }))

  it.effect("a host's runtime defaults to docker; a session on a host takes its host's engine", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`${HOSTS}  container_runtime: podman
  sessions:
    on-dk:
      backend: container
      host: dk
      image: localhost/app:1
    on-pm:
      backend: container
      host: pm
      image: localhost/app:1
    here:
      backend: container
      image: localhost/app:1
`)
      expect(c.hosts).toEqual([
        expect.objectContaining({ name: "dk", runtime: "docker", podman_socket: null, containers: true }),
        expect.objectContaining({ name: "pm", runtime: "podman", podman_socket: "/run/user/1000/podman/podman.sock", port: 2222, containers: true })
      ])
      expect(valid(c, "on-dk").spec).toMatchObject({ runtime: "docker", host: "dk" })
      expect(valid(c, "on-pm").spec).toMatchObject({ runtime: "podman", host: "pm" })
      // this machine's default does not reach hosts
      expect(valid(c, "here").spec).toMatchObject({ runtime: "podman" })
      expect(valid(c, "here").spec.host).toBeUndefined()
    }))

  it.effect("a session naming another engine than its host's, or swarm, is rejected with the fix", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`${HOSTS}  sessions:
    wrong:
      backend: container
      host: dk
      runtime: podman
      image: localhost/app:1
    same:
      backend: container
      host: pm
      runtime: podman
      image: localhost/app:1
    sw:
      backend: container
      host: dk
      runtime: swarm
      image: localhost/app:1
`)
      expect(reasons(c, "wrong")).toEqual(["13: runtime: host 'dk' runs docker (ops.hosts.dk.runtime); set it to podman there, or drop runtime: here"])
      expect(valid(c, "same").spec).toMatchObject({ runtime: "podman" })
      expect(reasons(c, "sw")[0]).toMatch(/^23: runtime: runtime: swarm is not supported on a remote host/u)
    }))

  it.effect("ready probes that would check this machine are refused on a host; log (and cmd in a container) are kept", () =>
    Effect.gen(function*() {
      const c = yield* loadText(`${HOSTS}  sessions:
    t-tcp:
      host: dk
      command: sleep 100
      ready: { tcp: 8080 }
    t-cmd:
      host: dk
      command: sleep 100
      ready: { cmd: "true" }
    c-http:
      backend: container
      host: dk
      image: localhost/app:1
      ready: { http: "http://127.0.0.1:8080/health" }
    t-log:
      host: dk
      command: sleep 100
      ready: { log: started }
    c-cmd:
      backend: container
      host: pm
      image: localhost/app:1
      ready: { cmd: "true" }
    here-tcp:
      command: sleep 100
      ready: { tcp: 8080 }
`)
      expect(reasons(c, "t-tcp")).toEqual(["13: ready.tcp: ready.tcp would check this machine, not host 'dk'; use ready.log"])
      expect(reasons(c, "t-cmd")).toEqual(["17: ready.cmd: ready.cmd would check this machine, not host 'dk'; use ready.log"])
      expect(reasons(c, "c-http")[0]).toMatch(/^22: ready\.http: .*use ready\.log or ready\.cmd \(run in the container\)$/u)
      expect(valid(c, "t-log").spec.ready).toMatchObject({ log: "started" })
      expect(valid(c, "c-cmd").spec.ready).toMatchObject({ cmd: "true" })
      expect(valid(c, "here-tcp").spec.ready).toMatchObject({ tcp: 8080 })
    }))

  it.effect("a bad host runtime or podman_socket rejects the load, located", () =>
    Effect.gen(function*() {
      for (const [field, value, line] of [
        ["runtime", "swarm", 5],
        ["podman_socket", "run/podman.sock", 5],
        ["podman_socket", "/run/my podman.sock", 5],
        ["podman_socket", "/run/p.sock?x=1", 5]
      ] as const) {
        const err = yield* Effect.flip(loadText(`ops:\n  hosts:\n    h:\n      ssh: h.example.com\n      ${field}: "${value}"\n  sessions: {}\n`))
        expect(err._tag).toBe("ConfigInvalid")
        expect(err.message).toContain(`kstlib.conf.yml:${line}`)
        expect(err.message).toContain(`ops.hosts.h.${field}`)
      }
    }))
})
