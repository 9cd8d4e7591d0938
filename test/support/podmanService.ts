/**
 * A real Podman API service for the remote-host tests: `podman system service` on a private unix
 * socket, over a private store (`--root`/`--runroot` in a temporary directory) holding the test
 * image, so that its containers are the "remote host's" and never this machine's podman's.
 * `stop()` removes its containers, stops the service and deletes the directory.
 */
import type { ChildProcess } from "node:child_process"
import { spawn, spawnSync } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { TEST_IMAGE } from "./engines.js"

export interface PodmanService {
  readonly socket: string
  /** `podman --url unix://SOCKET args` (the service's store, as the remote host sees it). */
  readonly podman: (args: ReadonlyArray<string>) => { readonly code: number; readonly stdout: string; readonly stderr: string }
  readonly stop: () => void
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * `user`: the login that reaches the socket over ssh (the ssh tests' user): the socket becomes its
 * own (0600), its directory traversable. A root API socket open to everyone would be root for any
 * local user while the tests run.
 */
export const startPodmanService = async (options: { readonly user?: { readonly uid: number; readonly gid: number } } = {}): Promise<PodmanService> => {
  const dir = mkdtempSync(join(tmpdir(), "kt-podsvc-"))
  const store = ["--root", join(dir, "root"), "--runroot", join(dir, "run")]
  const socket = join(dir, "podman.sock")
  const sync = (args: ReadonlyArray<string>) => {
    const r = spawnSync("podman", [...args], { encoding: "utf8", timeout: 60_000 })
    return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" }
  }
  const image = join(dir, "image.tar")
  for (const args of [["save", "-q", "-o", image, TEST_IMAGE], [...store, "load", "-q", "-i", image]]) {
    const r = sync(args)
    if (r.code !== 0) throw new Error(`podman ${args.join(" ")}: ${r.stderr}`)
  }
  const child: ChildProcess = spawn("podman", [...store, "system", "service", "--time=0", `unix://${socket}`], { stdio: ["ignore", "ignore", "pipe"] })
  let log = ""
  child.stderr?.on("data", (d: Buffer) => (log += d.toString()))
  const podman = (args: ReadonlyArray<string>) => sync(["--url", `unix://${socket}`, ...args])
  for (let i = 0; ; i++) {
    if (existsSync(socket) && podman(["version"]).code === 0) break
    if (child.exitCode !== null || i > 100) throw new Error(`podman system service did not start: ${log}`)
    await sleep(100)
  }
  if (options.user !== undefined) {
    chmodSync(dir, 0o711)
    chownSync(socket, options.user.uid, options.user.gid)
    chmodSync(socket, 0o600)
  }
  const stop = () => {
    sync([...store, "rm", "-a", "-f", "-t", "0"])
    child.kill("SIGTERM")
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch {
      // a layer still mounted: leave the directory rather than fail the test's cleanup
    }
  }
  return { socket, podman, stop }
}
