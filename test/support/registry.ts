/**
 * A REAL registry on 127.0.0.1 for pull tests: Debian's `docker-registry` (bash .ci/engines.sh
 * installs it) on a free port of its own, its storage in a temporary directory, and a
 * registries.conf that lets podman talk plain HTTP to it (Docker already does for 127.0.0.0/8).
 * `stop` ends it and removes the directory.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export const REGISTRY_BIN = "/usr/bin/docker-registry"
export const hasRegistry = fs.existsSync(REGISTRY_BIN)

export interface LocalRegistry {
  /** `127.0.0.1:PORT` */
  readonly address: string
  /** podman's registries.conf for it: CONTAINERS_REGISTRIES_CONF */
  readonly registriesConf: string
  readonly stop: () => void
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = net.connect(port, "127.0.0.1", () => (c.end(), resolve(true)))
    c.on("error", () => resolve(false))
  })

export const startRegistry = async (): Promise<LocalRegistry> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kstlib-registry-"))
  const port = await freePort()
  const address = `127.0.0.1:${port}`
  fs.writeFileSync(path.join(dir, "config.yml"), `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: ${address}\n`)
  const registriesConf = path.join(dir, "registries.conf")
  fs.writeFileSync(registriesConf, `[[registry]]\nlocation = "${address}"\ninsecure = true\n`)
  const child: ChildProcess = spawn(REGISTRY_BIN, ["serve", path.join(dir, "config.yml")], { stdio: "ignore" })
  for (let i = 0; i < 50 && !(await listening(port)); i++) await new Promise((r) => setTimeout(r, 100))
  return {
    address,
    registriesConf,
    stop: () => {
      child.kill("SIGTERM")
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
