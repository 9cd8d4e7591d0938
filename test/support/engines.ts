/**
 * Which real container engines the integration tests can use. Importing this module points Podman
 * at the repo's `.ci/containers.conf` and Docker at the daemon `.ci/engines.sh` starts, unless the
 * environment already says otherwise. An engine counts only if `ps` works and the test image exists
 * (run `bash .ci/engines.sh` to get both).
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { expect } from "vitest"
import type { RuntimeName } from "../../src/model.js"
import { recordSkip } from "./skips.js"

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

/** Why an engine cannot be used by the tests, or undefined when it can. */
const engineProblem = (rt: RuntimeName): string | undefined => {
  const ps = spawnSync(rt, ["ps", "-a", "-q"], { stdio: "ignore", timeout: 30_000 })
  if ((ps.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") return `${rt}: not installed`
  if (ps.error !== undefined || ps.status !== 0) return `${rt}: \`${rt} ps\` fails`
  return ok(rt, ["image", "inspect", TEST_IMAGE]) ? undefined : `${rt}: no test image ${TEST_IMAGE}`
}

let cached: Map<RuntimeName, string | undefined> | undefined
const status = () => (cached ??= new Map((["podman", "docker"] as const).map((rt) => [rt, engineProblem(rt)])))

/** Engines that answer `ps` and hold the test image, in auto-detect order. Synchronous: usable in describe.each. */
export const availableEngines = (): Array<RuntimeName> => [...status()].filter(([, problem]) => problem === undefined).map(([rt]) => rt)

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
  if (engines.length === 0 && process.env["CI"] === "true") throw new Error(`${suite}: no usable container engine in CI; ${hint}`)
  const problems = [...status().values()].filter((p) => p !== undefined)
  if (problems.length > 0) {
    // Listed at the end of the run (test/support/skips.ts), whole suite or the missing engine's half.
    const partly = engines.length > 0 ? `ran on ${engines.join(", ")} only; ` : ""
    recordSkip(expect.getState().testPath ?? suite, `${partly}${problems.join("; ")}: ${hint}`)
  }
  return engines
}
