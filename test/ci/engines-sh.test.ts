/**
 * `.ci/engines.sh` with engines the caller already runs: it uses them (no private dockerd) and says
 * so; one given but not answering is an error. Runs only where the script cannot install anything
 * (every package present) and a docker daemon answers; otherwise the skip is listed at the end.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { DOCKERD_SOCKET } from "../support/engines.js"
import { recordSkip } from "../support/skips.js"

const SCRIPT = fileURLToPath(new URL("../../.ci/engines.sh", import.meta.url))
const CONF = fileURLToPath(new URL("../../.ci/containers.conf", import.meta.url))
const installed = (pkg: string) => spawnSync("dpkg-query", ["-W", "-f=${Status}", pkg], { encoding: "utf8" }).stdout.includes("install ok installed")
const answers = (host: string) => spawnSync("docker", ["info"], { env: { ...process.env, DOCKER_HOST: host }, stdio: "ignore", timeout: 30_000 }).status === 0

const problems = [
  ...(process.getuid?.() === 0 ? [] : ["not root"]),
  ...["tmux", "podman", "runc", "docker.io", "busybox-static", "openssh-server", "openssh-client", "docker-registry"].filter((p) => !installed(p)).map((p) => `${p} not installed`),
  ...(answers(`unix://${DOCKERD_SOCKET}`) ? [] : ["no dockerd on " + DOCKERD_SOCKET])
]
if (problems.length > 0) recordSkip(expect.getState().testPath ?? "engines.sh", `${problems.join(", ")}: run bash .ci/engines.sh first`)

const dir = mkdtempSync(join(tmpdir(), "kt-engines-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const run = (env: Record<string, string>) => {
  const base = { ...process.env }
  delete base["DOCKER_HOST"]
  delete base["CONTAINERS_CONF"]
  const r = spawnSync("bash", [SCRIPT], { env: { ...base, ...env }, encoding: "utf8", timeout: 300_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

describe.skipIf(problems.length > 0)(".ci/engines.sh and the caller's engines", () => {
  it("uses a DOCKER_HOST that answers and the given CONTAINERS_CONF; installs and starts nothing", () => {
    // Another path to a running daemon stands for "the caller's own docker".
    const sock = join(dir, "caller.sock")
    symlinkSync(DOCKERD_SOCKET, sock)
    const r = run({ DOCKER_HOST: `unix://${sock}`, CONTAINERS_CONF: CONF })
    expect(r.code, r.err).toBe(0)
    expect(r.out).toContain(`docker: using the caller's daemon (DOCKER_HOST=unix://${sock}); no private dockerd`)
    expect(r.out).toContain(`podman: using the caller's setup (CONTAINERS_CONF=${CONF})`)
    expect(r.out).toContain("packages present: tmux busybox-static openssh-server openssh-client docker-registry\n")
    expect(r.out).not.toMatch(/starting dockerd|installing/u)
    expect(r.out).toContain(`ready: podman (CONTAINERS_CONF=${CONF}), docker (DOCKER_HOST=unix://${sock})`)
  })

  it("a DOCKER_HOST that does not answer is an error naming it, and no private dockerd is started instead", () => {
    const host = `unix://${join(dir, "nobody.sock")}`
    const r = run({ DOCKER_HOST: host })
    expect(r.code).toBe(1)
    expect(r.err).toContain(`error: DOCKER_HOST=${host} does not answer`)
    expect(r.out).not.toMatch(/starting dockerd|ready:/u)
  })

  it("nothing given: the private dockerd and the repo's containers.conf, as before", () => {
    const r = run({})
    expect(r.code, r.err).toBe(0)
    expect(r.out).toContain(`dockerd already answering on ${DOCKERD_SOCKET}`)
    expect(r.out).toContain(`ready: podman (CONTAINERS_CONF=${CONF}), docker (DOCKER_HOST=unix://${DOCKERD_SOCKET})`)
  })
})
