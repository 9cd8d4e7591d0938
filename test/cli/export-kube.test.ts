/**
 * `kstlib ops export --format kubernetes` end to end: the built binary's manifests (with
 * --include-secrets) run under Podman's Kubernetes runner (`podman kube play`), the pods run, the env
 * reaches the process through the Secret, the hostPath volume is mounted. Torn down with
 * `podman kube down` (and the secrets removed) in a finalizer.
 */
import { spawnSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, beforeEach, expect, it } from "vitest"
import { parseAllDocuments } from "yaml"
import { requireEngines } from "../support/engines.js"
import { eventually, Sandbox, TEST_IMAGE } from "./harness.js"

const engines = requireEngines("test/cli/export-kube.test.ts")
const hasPodman = engines.includes("podman")

let sb: Sandbox
const finalizers: Array<() => void> = []
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => {
  for (const f of finalizers.splice(0).reverse()) {
    try {
      f()
    } catch {
      // keep tearing down
    }
  }
  sb.cleanup()
})

const podman = (args: ReadonlyArray<string>) => {
  const r = spawnSync("podman", args, { env: sb.env, encoding: "utf8", timeout: 120_000 })
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" }
}

/** Podman before 4.4 stores a played Secret as YAML but reads secrets as a JSON map of base64 values (fixed in 4.4). */
const podmanPlaysSecrets = () => {
  const v = /(\d+)\.(\d+)/u.exec(podman(["version", "--format", "{{.Client.Version}}"]).stdout)
  return v !== null && (Number(v[1]) > 4 || (Number(v[1]) === 4 && Number(v[2]) >= 4))
}

const myPods = (): Array<{ name: string; status: string }> => {
  const r = podman(["pod", "ps", "--format", "{{.Name}} {{.Status}}"])
  return r.stdout.split("\n").filter((l) => l.startsWith(sb.prefix)).map((l) => {
    const [name, status] = l.split(" ")
    return { name: name!, status: status! }
  })
}

if (!hasPodman) it.todo("needs podman with the test image: run `bash .ci/engines.sh`")

it.runIf(hasPodman)("exported manifests run under podman kube play: pods running, env from the Secret, hostPath mounted", async () => {
  sb.file("hello.txt", "from-the-host\n")
  const web = sb.name("web")
  const worker = sb.name("worker")
  const clock = sb.name("clock")
  sb.writeConfig({
    [clock]: { backend: "tmux", command: "sleep 300" },
    [web]: {
      backend: "container",
      image: TEST_IMAGE,
      command: "echo \"greeting=$$GREETING\"; cat /host/hello.txt; pwd; exec sleep 300",
      shell: true,
      working_dir: "/tmp",
      env: { GREETING: "hello kube", SECOND: "two words" },
      volumes: [`${sb.dir}:/host:ro`],
      ports: ["8080"]
    },
    [worker]: { backend: "container", image: TEST_IMAGE, command: "sleep 301" }
  })

  const plain = sb.kstlib(["ops", "export", "--format", "kubernetes"])
  expect(plain.code, plain.stderr).toBe(0)
  expect(plain.stdout).not.toContain("hello kube")
  expect(plain.stdout).toContain(`# skipped tmux session '${clock}'`)

  const r = sb.kstlib(["ops", "export", "--format", "kubernetes", "--include-secrets", "--image-pull-policy", "Never"])
  expect(r.code, r.stderr).toBe(0)
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Record<string, any> | null).filter((d) => d !== null)
  expect(docs.map((d) => `${d!["kind"]}/${d!["metadata"].name}`)).toEqual([`Secret/${web}-env`, `Deployment/${web}`, `Deployment/${worker}`])

  const file = join(sb.dir, "k8s.yml")
  writeFileSync(file, r.stdout)
  const secrets = docs.filter((d) => d!["kind"] === "Secret").map((d) => d!)
  finalizers.push(() => {
    podman(["kube", "down", file])
    for (const s of secrets) podman(["secret", "rm", s["metadata"].name])
    const left = myPods().map((p) => p.name)
    if (left.length > 0) podman(["pod", "rm", "-f", ...left])
  })

  let playFile = file
  if (!podmanPlaysSecrets()) {
    // Podman < 4.4: create the Secret the way it reads them, and play the rest unchanged.
    for (const s of secrets) {
      const data = join(sb.dir, `${s["metadata"].name}.json`)
      writeFileSync(data, JSON.stringify(s["data"]), { mode: 0o600 })
      const c = podman(["secret", "create", s["metadata"].name, data])
      expect(c.code, c.stderr).toBe(0)
    }
    playFile = join(sb.dir, "k8s-no-secrets.yml")
    writeFileSync(playFile, r.stdout.split(/^---$/mu).filter((part) => !/^kind: Secret$/mu.test(part)).join("---"))
  }
  const play = podman(["kube", "play", playFile])
  expect(play.code, play.stdout + play.stderr).toBe(0)

  const running = await eventually(() => {
    const pods = myPods()
    return pods.length === 2 && pods.every((p) => p.status === "Running") ? pods : undefined
  })
  expect(running, JSON.stringify(myPods())).toBeDefined()
  expect(running!.map((p) => p.name).sort().map((n) => n.replace(/-pod(-0)?$/u, ""))).toEqual([web, worker].sort())

  const webPod = running!.find((p) => p.name.startsWith(`${web}-pod`))!.name
  const logs = await eventually(() => {
    const l = podman(["logs", `${webPod}-${web}`])
    return l.stdout.includes("greeting=") ? l.stdout : undefined
  })
  expect(logs).toContain("greeting=hello kube")
  expect(logs).toContain("from-the-host")
  expect(logs).toContain("/tmp")

  const down = podman(["kube", "down", file])
  expect(down.code, down.stderr).toBe(0)
  expect(myPods()).toEqual([])
})
