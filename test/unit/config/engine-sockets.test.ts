/**
 * Bind mounts of the socket of the engines kstlib drives, as the environment names them
 * (DOCKER_HOST, CONTAINER_HOST): refused at validation, on real paths, with the directories holding
 * them, unless `unsafe_mounts: true`. (The sockets only the engine itself can name are refused at
 * launch: test/unit/container-parse.test.ts.)
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { decodeSessionEntry } from "../../../src/config/decode/index.js"
import { engineSocketsFromEnv } from "../../../src/config/rules.js"

let root: string
const saved = { DOCKER_HOST: process.env["DOCKER_HOST"], CONTAINER_HOST: process.env["CONTAINER_HOST"] }
beforeEach(() => {
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "kt-socks-")))
  fs.mkdirSync(path.join(root, "eng"))
  fs.writeFileSync(path.join(root, "eng", "docker.sock"), "")
  fs.mkdirSync(path.join(root, "pod"))
  fs.writeFileSync(path.join(root, "pod", "podman.sock"), "")
  fs.mkdirSync(path.join(root, "other"))
  fs.symlinkSync(path.join(root, "eng"), path.join(root, "eng-link"))
})
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
  fs.rmSync(root, { recursive: true, force: true })
})

const ctx = () => ({ defaults: { default_backend: "container" as const, container_runtime: null }, baseDir: root, file: "<test>", line: null })
const reasons = (volumes: ReadonlyArray<string>, extra: Record<string, unknown> = {}) => {
  const e = decodeSessionEntry("x", { image: "nginx", volumes, ...extra }, ctx())
  return e._tag === "Rejected" ? e.issues.map((i) => `${i.field}: ${i.reason}`) : []
}

describe("the engines' sockets from the environment", () => {
  it("DOCKER_HOST and CONTAINER_HOST name unix sockets; other transports name none", () => {
    expect(engineSocketsFromEnv({ DOCKER_HOST: "unix:///a/b/../docker.sock", CONTAINER_HOST: "unix:///run/p.sock" })).toEqual(["/a/docker.sock", "/run/p.sock"])
    expect(engineSocketsFromEnv({ DOCKER_HOST: "tcp://127.0.0.1:2375", CONTAINER_HOST: "ssh://u@h/run/p.sock" })).toEqual([])
    expect(engineSocketsFromEnv({ DOCKER_HOST: "unix://relative.sock", CONTAINER_HOST: "" })).toEqual([])
    expect(engineSocketsFromEnv({})).toEqual([])
  })

  it("the socket, its directory and every directory above it are refused, through symlinks too", () => {
    process.env["DOCKER_HOST"] = `unix://${root}/eng-link/docker.sock` // named through a symlink
    process.env["CONTAINER_HOST"] = `unix://${root}/pod/podman.sock`
    const refused = [`${root}/eng:/s`, `${root}/eng/docker.sock:/var/run/docker.sock`, `${root}/eng-link:/s`, `${root}:/r`, `${root}/pod:/p`, `${root}/pod/podman.sock:/p.sock`]
    const issues = reasons(refused)
    expect(issues).toHaveLength(refused.length)
    expect(issues[0]).toBe(
      `volumes[0]: refusing to mount host '${root}/eng': it holds the socket of a container engine kstlib drives (${root}/eng/docker.sock: root on the host); set unsafe_mounts: true to allow it`
    )
    expect(issues[2]).toContain(`refusing to mount host '${root}/eng-link'`)
    expect(reasons([`${root}/other:/o`, `${root}/eng/sub:/x`])).toEqual([]) // beside or below the socket's directory: fine
    expect(reasons([`${root}/eng:/s`], { log_volume: `${root}/pod:/logs` })).toHaveLength(2)
    expect(reasons([`${root}/eng:/s`], { unsafe_mounts: true })).toEqual([])
  })

  it("nothing is refused for an engine the environment does not point at a unix socket", () => {
    process.env["DOCKER_HOST"] = "tcp://127.0.0.1:2375"
    delete process.env["CONTAINER_HOST"]
    expect(reasons([`${root}/eng:/s`])).toEqual([])
  })
})
