/** `kstlib ops export --format kubernetes`, pure: config entries → manifests. */
import type { ContainerSpec } from "../../src/model.js"
import { describe, expect, it } from "vitest"
import { parseAllDocuments } from "yaml"
import { kubeName, kubernetesManifests, parsePort, parseVolume } from "../../src/export/kubernetes.js"
import { containerSpec, issue, rejected, TEST_DIGEST, tmuxSpec, valid } from "../../src/testing/specs.js"

const docsOf = (text: string) =>
  parseAllDocuments(text).map((d) => d.toJS() as Record<string, any> | null).filter((d): d is Record<string, any> => d !== null)

const web = containerSpec("web", {
  command: "server --port 80 'two words'",
  working_dir: "/srv",
  env: { TOKEN: "s3cr3t-value", MULTI: "a\nb" },
  ports: ["8080:80", "53/udp"],
  volumes: ["/data/web:/var/www:ro", "cache:/cache"],
  runtime: "docker"
})

describe("kubernetesManifests", () => {
  it("a Deployment per container session with kstlib's labels, the argv as args, ports, volumes, envFrom", () => {
    const text = kubernetesManifests([valid(web)], { project: "proj", digest: TEST_DIGEST, includeSecrets: false })
    const docs = docsOf(text)
    const dep = docs.find((d) => d["kind"] === "Deployment")!
    expect(dep["metadata"].name).toBe("web")
    expect(dep["metadata"].labels).toEqual({ "io.kstlib.managed": "true", "io.kstlib.project": "proj", "io.kstlib.session": "web" })
    expect(dep["metadata"].annotations["io.kstlib.spec"]).toMatch(/^v1:[0-9a-f]{64}$/u)
    expect(dep["spec"].replicas).toBe(1)
    expect(dep["spec"].selector.matchLabels).toEqual({ "io.kstlib.project": "proj", "io.kstlib.session": "web" })
    expect(dep["spec"].template.metadata.labels).toEqual(dep["metadata"].labels)
    const pod = dep["spec"].template.spec
    expect(pod.restartPolicy).toBe("Always")
    const c = pod.containers[0]
    expect(c.image).toBe("localhost/app:1")
    expect(c.imagePullPolicy).toBe("IfNotPresent")
    expect(c.command).toBeUndefined()
    expect(c.args).toEqual(["server", "--port", "80", "two words"])
    expect(c.workingDir).toBe("/srv")
    expect(c.ports).toEqual([{ containerPort: 80, hostPort: 8080, protocol: "TCP" }, { containerPort: 53, protocol: "UDP" }])
    expect(c.envFrom).toEqual([{ secretRef: { name: "web-env" } }])
    expect(pod.volumes).toEqual([
      { name: "v0", hostPath: { path: "/data/web" } },
      { name: "v1", persistentVolumeClaim: { claimName: "cache" } }
    ])
    expect(c.volumeMounts).toEqual([{ name: "v0", mountPath: "/var/www", readOnly: true }, { name: "v1", mountPath: "/cache" }])
    expect(docs.find((d) => d["kind"] === "PersistentVolumeClaim")?.["metadata"].name).toBe("cache")
  })

  it("the run options: numeric user, read_only and capabilities as the container's securityContext, hostname and host network on the pod; the rest a comment", () => {
    const spec = containerSpec("db", {
      user: "999:998",
      read_only: true,
      cap_add: ["CAP_NET_ADMIN"],
      cap_drop: ["ALL"],
      hostname: "db1.local",
      network_mode: "host",
      init: true,
      pids_limit: 64,
      extra_hosts: ["db.local:10.0.0.5", "db2.local:10.0.0.5", "v6:::1"]
    })
    const text = kubernetesManifests([valid(spec)], { project: "proj", digest: TEST_DIGEST, includeSecrets: false })
    const pod = docsOf(text).find((d) => d["kind"] === "Deployment")!["spec"].template.spec
    expect(pod.containers[0].securityContext).toEqual({
      runAsUser: 999,
      runAsGroup: 998,
      readOnlyRootFilesystem: true,
      capabilities: { add: ["NET_ADMIN"], drop: ["ALL"] }
    })
    expect(pod.hostname).toBe("db1")
    expect(pod.hostNetwork).toBe(true)
    expect(pod.hostAliases).toEqual([{ ip: "10.0.0.5", hostnames: ["db.local", "db2.local"] }, { ip: "::1", hostnames: ["v6"] }])
    expect(text).toContain("init: true: a pod has no init option")
    expect(text).toContain("pids_limit 64: a node setting")
    const named = kubernetesManifests([valid(containerSpec("app", { user: "app" }))], { project: "proj", digest: TEST_DIGEST, includeSecrets: false })
    expect(docsOf(named).find((d) => d["kind"] === "Deployment")!["spec"].template.spec.containers[0].securityContext).toBeUndefined()
    expect(named).toContain("user app: Kubernetes takes numeric ids only")
  })

  it("compose's forms (issue 22): entrypoint as command, pull as imagePullPolicy, tmpfs as a memory emptyDir, privileged; ranges, build and networks a comment", () => {
    const spec = containerSpec("es", {
      command: "serve --port 80",
      entrypoint: ["/bin/tini", "--"],
      pull: "always",
      tmpfs: ["/tmp"],
      privileged: true,
      unsafe_mounts: true,
      ports: ["127.0.0.1:9200:9200", "9300-9301:9300-9301"],
      build: { context: "/src/es" },
      build_context: "sha256:ab",
      networks: [{ name: "back", internal: true }]
    })
    const text = kubernetesManifests([valid(spec)], { project: "proj", digest: TEST_DIGEST, includeSecrets: false })
    const pod = docsOf(text).find((d) => d["kind"] === "Deployment")!["spec"].template.spec
    const c = pod.containers[0]
    expect(c.command).toEqual(["/bin/tini", "--"])
    expect(c.args).toEqual(["serve", "--port", "80"])
    expect(c.imagePullPolicy).toBe("Always")
    expect(c.securityContext).toEqual({ privileged: true })
    expect(c.ports).toEqual([{ containerPort: 9200, hostPort: 9200, protocol: "TCP" }])
    expect(pod.volumes).toContainEqual({ name: "t0", emptyDir: { medium: "Memory" } })
    expect(c.volumeMounts).toContainEqual({ name: "t0", mountPath: "/tmp" })
    expect(text).toContain("port 9300-9301:9300-9301: not mapped")
    expect(text).toContain("build: not exported")
    expect(text).toContain("networks back: a cluster's pods share one network")
  })

  it("without --include-secrets: no Secret document and no value anywhere, a commented stub with the keys", () => {
    const text = kubernetesManifests([valid(web)], { project: "proj", digest: TEST_DIGEST, includeSecrets: false })
    expect(docsOf(text).filter((d) => d["kind"] === "Secret")).toEqual([])
    expect(text).not.toContain("s3cr3t")
    expect(text).not.toContain(Buffer.from("s3cr3t-value").toString("base64"))
    expect(text).toMatch(/^# kind: Secret$/mu)
    expect(text).toMatch(/^#   TOKEN: ""$/mu)
    expect(text).toMatch(/^#   MULTI: ""$/mu)
    expect(text).toContain("--include-secrets")
  })

  it("with --include-secrets: the Secret with base64 data, newlines included", () => {
    const text = kubernetesManifests([valid(web)], { project: "proj", digest: TEST_DIGEST, includeSecrets: true })
    const secret = docsOf(text).find((d) => d["kind"] === "Secret")!
    expect(secret["metadata"].name).toBe("web-env")
    expect(secret["type"]).toBe("Opaque")
    expect(Buffer.from(secret["data"].TOKEN, "base64").toString()).toBe("s3cr3t-value")
    expect(Buffer.from(secret["data"].MULTI, "base64").toString()).toBe("a\nb")
  })

  it("tmux sessions and rejected entries are skipped with a comment each; no anchors in the YAML", () => {
    const text = kubernetesManifests(
      [valid(tmuxSpec("clock")), rejected("bad", [issue("bad", "image", "nope")], "container"), valid(containerSpec("api"))],
      { project: "proj", digest: TEST_DIGEST, includeSecrets: false }
    )
    expect(text).toContain("# skipped tmux session 'clock'")
    expect(text).toContain("# skipped session 'bad'")
    expect(docsOf(text).map((d) => d["metadata"].name)).toEqual(["api"])
    expect(text).not.toMatch(/[&*]a\d/u)
  })

  it("shell: true runs sh -c; no command leaves the image's; stopped is replicas 0; --image-pull-policy", () => {
    const text = kubernetesManifests([
      valid(containerSpec("sh1", { command: "echo $HOME | wc", shell: true })),
      valid(containerSpec("plain", { state: "stopped" }))
    ], { project: "proj", digest: TEST_DIGEST, includeSecrets: false, imagePullPolicy: "Never" })
    const [a, b] = docsOf(text)
    expect(a!["spec"].template.spec.containers[0].args).toEqual(["sh", "-c", "echo $HOME | wc"])
    expect(b!["spec"].template.spec.containers[0].args).toBeUndefined()
    expect(b!["spec"].replicas).toBe(0)
    expect(b!["spec"].template.spec.containers[0].imagePullPolicy).toBe("Never")
  })

  it("supervision: ready tcp/http/cmd become readiness probes (host ports mapped back), log and on-failure are noted", () => {
    const probeOf = (spec: ContainerSpec) => docsOf(kubernetesManifests([valid(spec)], { project: "proj", digest: TEST_DIGEST, includeSecrets: false }))[0]!["spec"].template.spec.containers[0].readinessProbe
    const cmd = containerSpec("sup", { restart: "on-failure", ready: { cmd: "test -f /ready", timeout: 30, interval: 2 } })
    const text = kubernetesManifests([valid(cmd)], { project: "proj", digest: TEST_DIGEST, includeSecrets: false })
    expect(docsOf(text)[0]!["spec"].template.spec.containers[0].readinessProbe).toEqual({ exec: { command: ["test", "-f", "/ready"] }, periodSeconds: 2, timeoutSeconds: 2 })
    expect(text).toContain("restart: on-failure has no Deployment equivalent")
    expect(probeOf(containerSpec("t", { ports: ["8080:80"], ready: { tcp: 8080, timeout: 60, interval: 1 } }))).toEqual({ tcpSocket: { port: 80 }, periodSeconds: 1, timeoutSeconds: 1 })
    expect(probeOf(containerSpec("h", { ports: ["8080:80"], ready: { http: "http://127.0.0.1:8080/health?x=1", timeout: 60, interval: 5 } }))).toEqual({
      httpGet: { path: "/health?x=1", port: 80, scheme: "HTTP" },
      periodSeconds: 5,
      timeoutSeconds: 5
    })
    const log = kubernetesManifests([valid(containerSpec("l", { ready: { log: "ready", timeout: 60, interval: 1 } }))], { project: "proj", digest: TEST_DIGEST, includeSecrets: false })
    expect(log).toContain("ready: log /ready/ not mapped")
    expect(kubernetesManifests([valid(containerSpec("a", { restart: "always" }))], { project: "proj", digest: TEST_DIGEST, includeSecrets: false })).not.toContain("restart:")
  })
})

describe("names and fields", () => {
  it("Kubernetes names are DNS labels; changed names carry a digest so they never collide", () => {
    expect(kubeName("web")).toBe("web")
    expect(kubeName("Web")).toMatch(/^web-[0-9a-f]{6}$/u)
    expect(kubeName("a_b")).toMatch(/^a-b-[0-9a-f]{6}$/u)
    expect(kubeName("a_b")).not.toBe(kubeName("a-b"))
    expect(kubeName("Web")).not.toBe(kubeName("web"))
    expect(kubeName("x".repeat(64)).length).toBeLessThanOrEqual(63)
  })

  it("ports and volumes", () => {
    expect(parsePort("80")).toEqual({ containerPort: 80, hostPort: null, protocol: "TCP" })
    expect(parsePort("1053:53/udp")).toEqual({ containerPort: 53, hostPort: 1053, protocol: "UDP" })
    expect(parseVolume("/h:/c")).toEqual({ kind: "host", hostPath: "/h", mountPath: "/c", readOnly: false })
    expect(parseVolume("vol:/c:ro")).toEqual({ kind: "named", claim: "vol", mountPath: "/c", readOnly: true })
  })
})
