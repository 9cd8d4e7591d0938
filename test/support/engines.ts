/**
 * Which real container engines the integration tests can use. Importing this module points Podman
 * at the repo's `.ci/containers.conf` and Docker at the daemon `.ci/engines.sh` starts, unless the
 * environment already says otherwise. An engine counts only if `ps` works and the test image exists
 * (run `bash .ci/engines.sh` to get both).
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { RuntimeName } from "../../src/model.js"

export const TEST_IMAGE = "localhost/kstlib-busybox:latest"
export const DOCKERD_SOCKET = "/tmp/kstlib-dockerd/docker.sock"
export const CONTAINERS_CONF = fileURLToPath(new URL("../../.ci/containers.conf", import.meta.url))

if (process.env["CONTAINERS_CONF"] === undefined) process.env["CONTAINERS_CONF"] = CONTAINERS_CONF
if (process.env["DOCKER_HOST"] === undefined && existsSync(DOCKERD_SOCKET)) {
  process.env["DOCKER_HOST"] = `unix://${DOCKERD_SOCKET}`
}

const ok = (cmd: string, args: ReadonlyArray<string>) => {
  const r = spawnSync(cmd, args, { stdio: "ignore", timeout: 30_000 })
  return r.error === undefined && r.status === 0
}

let cached: Array<RuntimeName> | undefined

/** Engines that answer `ps` and hold the test image, in auto-detect order. Synchronous: usable in describe.each. */
export const availableEngines = (): Array<RuntimeName> => {
  cached ??= (["podman", "docker"] as const).filter((rt) =>
    ok(rt, ["ps", "-a", "-q"]) && ok(rt, ["image", "inspect", TEST_IMAGE])
  )
  return [...cached]
}

/**
 * The engines a container suite runs against. In CI (`CI=true`) finding none is an error (the suite
 * file fails), and so is missing one named in `KSTLIB_REQUIRE_ENGINES` (e.g. `podman,docker`); on a
 * developer machine the suite may be skipped, with a visible notice.
 */
export const requireEngines = (suite: string): Array<RuntimeName> => {
  const engines = availableEngines()
  const required = (process.env["KSTLIB_REQUIRE_ENGINES"] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "")
  const missing = required.filter((r) => !engines.includes(r as RuntimeName))
  const hint = "run `bash .ci/engines.sh` (as root) to set up podman, docker and the test image"
  if (missing.length > 0) throw new Error(`${suite}: required container engine(s) unusable: ${missing.join(", ")}; ${hint}`)
  if (engines.length === 0) {
    if (process.env["CI"] === "true") throw new Error(`${suite}: no usable container engine in CI; ${hint}`)
    console.warn(`\n[kstlib tests] SKIPPING ${suite}: no usable container engine (podman/docker with ${TEST_IMAGE}); ${hint}\n`)
  }
  return engines
}
