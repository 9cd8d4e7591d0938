/**
 * `kstlib ops export --format kubernetes`: the config's container sessions as Kubernetes manifests
 * (one multi-document YAML text). Pure: config entries in, text out; no cluster, no engine.
 *
 * Per container session:
 * - a Deployment (`apps/v1`) named after the session (lower-cased, `_` → `-`: Kubernetes names are
 *   DNS labels), carrying kstlib's labels (managed, project, session) on the Deployment, its
 *   selector and its pod template, and the spec hash / fingerprint as annotations (`v1:<sha256>` is
 *   not a valid label value). `state: stopped` → `replicas: 0`.
 * - the container runs the SAME argv kstlib runs (src/command.ts) as `args`: `docker run IMAGE ARGV`
 *   replaces the image's CMD and keeps its ENTRYPOINT, which is exactly what `args` does (`command`
 *   would replace the ENTRYPOINT). No command: both left to the image.
 * - env as `envFrom: secretRef` of a Secret `<name>-env`. The Secret with the values is printed
 *   ONLY with `includeSecrets`; otherwise a commented-out stub lists the keys (never the values),
 *   so applying the output never creates a Secret with empty values by accident.
 * - ports `[host:]container[/proto]` → `containerPort` (+ `hostPort` when a host port is given,
 *   the equivalent of `-p host:container`); no Service (exposure inside a cluster is a cluster
 *   decision, see README).
 * - volumes: host paths → `hostPath`; named volumes → a `persistentVolumeClaim` (+ a claim
 *   manifest per name, size 1Gi: engine volumes have no size).
 * tmux sessions and rejected entries are skipped with a comment line each.
 */
import { stringify as yamlStringify } from "yaml"
import { commandArgv } from "../command.js"
import type { ConfigEntry } from "../config/types.js"
import { parsePortSpec } from "../config/rules.js"
import type { ConfiguredContainerSpec, Supervision } from "../model.js"
import { describeReady, Marks, restartPolicy } from "../model.js"
import type { EnvDigest } from "../spec/fingerprint.js"
import { specHash } from "../spec/fingerprint.js"
import { createHash } from "node:crypto"

export type ImagePullPolicy = "IfNotPresent" | "Never" | "Always"

export interface KubernetesExportOptions {
  readonly project: string
  /** Print the Secret manifests WITH the values (base64 `data`). Default: a commented stub with keys only. */
  readonly includeSecrets: boolean
  readonly imagePullPolicy?: ImagePullPolicy
  /** Shown in the header comment (config files). */
  readonly sources?: ReadonlyArray<string>
  /** The env digest of the spec hash annotation (this machine's keyed one: `EnvDigests`). */
  readonly digest: EnvDigest
}

type Doc = Record<string, unknown>

/** No anchors/aliases (`&a1`/`*a1`): every manifest reads on its own. */
const stringify = (value: unknown): string => yamlStringify(value, { aliasDuplicateObjects: false, lineWidth: 0 })

/** A DNS-1123 label from a session or volume name: lower case, `_`/`.` → `-`, at most 63 characters. */
export const kubeName = (name: string): string => {
  const base = name.toLowerCase().replace(/[^a-z0-9-]/gu, "-").replace(/^-+|-+$/gu, "")
  const safe = base === "" ? "x" : base
  if (safe.length <= 63 && safe === name) return safe
  // Changed names get a short digest of the original: `Web` and `web`, `a_b` and `a-b` never collide.
  const suffix = createHash("sha256").update(name).digest("hex").slice(0, 6)
  return `${safe.slice(0, 56).replace(/-+$/u, "")}-${suffix}`
}

/** A label value: at most 63 characters of `[A-Za-z0-9_.-]`, alphanumeric at both ends (session and project names already are). */
const labelValue = (v: string): string => {
  const cleaned = v.replace(/[^A-Za-z0-9_.-]/gu, "-").slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/gu, "")
  return cleaned
}

export interface PortMapping {
  readonly containerPort: number
  readonly hostPort: number | null
  readonly protocol: "TCP" | "UDP" | "SCTP"
}

/** `8080`, `8080:80`, `53:53/udp` (validated by the config rules before). */
export const parsePort = (port: string): PortMapping | null => {
  const p = parsePortSpec(port)
  // a range has no one containerPort (not mapped; the caller's note says so)
  if (typeof p === "string" || p.container[1] !== p.container[0]) return null
  return { containerPort: p.container[0], hostPort: p.host === null ? null : p.host[0], protocol: p.protocol === "udp" ? "UDP" : p.protocol === "sctp" ? "SCTP" : "TCP" }
}

export type VolumeMapping =
  | { readonly kind: "host"; readonly hostPath: string; readonly mountPath: string; readonly readOnly: boolean }
  | { readonly kind: "named"; readonly claim: string; readonly mountPath: string; readonly readOnly: boolean }

/** `host:container[:ro|:rw]`: an absolute host side is a host path (the loader resolved relative ones); else a named volume. */
export const parseVolume = (volume: string): VolumeMapping | null => {
  const parts = volume.split(":")
  if (parts.length < 2 || parts.length > 3) return null
  const [host, mountPath, mode] = parts as [string, string, string | undefined]
  const readOnly = mode === "ro"
  return host.startsWith("/") ? { kind: "host", hostPath: host, mountPath, readOnly } : { kind: "named", claim: host, mountPath, readOnly }
}

/** A session's `pull` as the pod's `imagePullPolicy` (`--image-pull-policy` wins). */
const PULL_POLICY = { missing: "IfNotPresent", always: "Always", never: "Never" } as const

const comment = (text: string) => text.split("\n").map((l) => (l === "" ? "#" : `# ${l}`)).join("\n")

// Supervision fields (restart / ready)

/** A Deployment's pods always restart (`restartPolicy: Always` is the only value it accepts). */
const restartNote = (spec: Supervision): string | null => {
  const policy = restartPolicy(spec)
  if (policy === "no" || policy === "on-failure") {
    return spec.restart === undefined
      ? null
      : `restart: ${policy} has no Deployment equivalent (a Deployment's pods always restart; use a Job or a bare Pod)`
  }
  return spec.max_restarts === undefined || spec.max_restarts === null ? null : "max_restarts: not mapped (Kubernetes backs off without a limit)"
}

/** `ready:` → a readinessProbe: tcp → tcpSocket, http → httpGet, cmd → exec (as the session runs it); log has no equivalent. */
const readiness = (spec: ConfiguredContainerSpec): { readonly probe: Doc | null; readonly note: string | null } => {
  const r = spec.ready
  if (r === undefined || r === null) return { probe: null, note: null }
  const timing: Doc = { periodSeconds: Math.max(1, Math.round(r.interval)), timeoutSeconds: Math.max(1, Math.round(Math.min(r.timeout, r.interval))) }
  if ("tcp" in r) {
    // The probe runs in the pod: a published host port maps back to its container port.
    const container = spec.ports.map(parsePort).find((p) => p !== null && (p.hostPort === r.tcp || p.containerPort === r.tcp))?.containerPort ?? r.tcp
    return { probe: { tcpSocket: { port: container }, ...timing }, note: null }
  }
  if ("http" in r) {
    const url = new URL(r.http)
    const port = Number(url.port === "" ? (url.protocol === "https:" ? 443 : 80) : url.port)
    const container = spec.ports.map(parsePort).find((p) => p !== null && (p.hostPort === port || p.containerPort === port))?.containerPort ?? port
    return {
      probe: { httpGet: { path: `${url.pathname}${url.search}`, port: container, scheme: url.protocol === "https:" ? "HTTPS" : "HTTP" }, ...timing },
      note: null
    }
  }
  if ("cmd" in r) {
    const argv = commandArgv({ command: r.cmd, shell: spec.shell })
    if (argv.ok && argv.argv !== null) return { probe: { exec: { command: [...argv.argv] } , ...timing }, note: null }
  }
  return { probe: null, note: `ready: ${describeReady(r)} not mapped (Kubernetes probes cannot read a container's logs)` }
}

/**
 * The container run options: `user` (numeric only: Kubernetes has no user names) → `runAsUser`/
 * `runAsGroup`, `read_only` → `readOnlyRootFilesystem`, `cap_add`/`cap_drop` → `capabilities` (without
 * `CAP_`), `hostname` → the pod's `hostname` (its first label), `network_mode: host` → `hostNetwork`.
 * `extra_hosts` → `hostAliases`. `init`, `pids_limit`, `labels` and `network_mode: none` have no pod
 * field: a comment says so.
 */
const runOptionsOf = (spec: ConfiguredContainerSpec) => {
  const security: Doc = {}
  const pod: Doc = {}
  const notes: Array<string> = []
  if (spec.user !== undefined) {
    const m = /^(\d+)(?::(\d+))?$/u.exec(spec.user)
    if (m === null) notes.push(`user ${spec.user}: Kubernetes takes numeric ids only (runAsUser), not mapped`)
    else {
      security["runAsUser"] = Number(m[1])
      if (m[2] !== undefined) security["runAsGroup"] = Number(m[2])
    }
  }
  if (spec.read_only === true) security["readOnlyRootFilesystem"] = true
  const caps = (list: ReadonlyArray<string> | undefined) => (list ?? []).map((c) => c.replace(/^CAP_/u, ""))
  if ((spec.cap_add ?? []).length > 0 || (spec.cap_drop ?? []).length > 0) {
    security["capabilities"] = {
      ...((spec.cap_add ?? []).length > 0 ? { add: caps(spec.cap_add) } : {}),
      ...((spec.cap_drop ?? []).length > 0 ? { drop: caps(spec.cap_drop) } : {})
    }
  }
  if (spec.hostname !== undefined) {
    const label = spec.hostname.split(".")[0]!.toLowerCase()
    pod["hostname"] = label
    if (label !== spec.hostname) notes.push(`hostname ${spec.hostname}: the pod's hostname is its first label, ${label}`)
  }
  if (spec.network_mode === "host") pod["hostNetwork"] = true
  const aliases = new Map<string, Array<string>>()
  for (const entry of spec.extra_hosts ?? []) {
    const colon = entry.indexOf(":")
    const ip = entry.slice(colon + 1)
    aliases.set(ip, [...(aliases.get(ip) ?? []), entry.slice(0, colon)])
  }
  if (aliases.size > 0) pod["hostAliases"] = [...aliases].map(([ip, hostnames]) => ({ ip, hostnames }))
  if (Object.keys(spec.labels ?? {}).length > 0) notes.push(`labels ${Object.keys(spec.labels!).sort().join(", ")}: container labels, not carried onto the pod (Kubernetes labels are for selection)`)
  if (spec.network_mode === "none") notes.push("network_mode: none: a pod always has a network, not mapped")
  if ((spec.networks ?? []).length > 0) {
    notes.push(`networks ${(spec.networks ?? []).map((n) => n.name).join(", ")}: a cluster's pods share one network (a NetworkPolicy restricts it), not mapped`)
  }
  if (spec.init === true) notes.push("init: true: a pod has no init option (use an image with an init, such as tini), not mapped")
  if (spec.pids_limit !== undefined) notes.push(`pids_limit ${spec.pids_limit}: a node setting (podPidsLimit) in Kubernetes, not mapped`)
  return { security: Object.keys(security).length > 0 ? security : null, pod, notes }
}

/** `replicas:` of a container session when the config has it (swarm); else 1. `state: stopped` → 0. */
const replicasOf = (spec: ConfiguredContainerSpec): number => {
  if (spec.state === "stopped") return 0
  const r = (spec as { readonly replicas?: unknown }).replicas
  return typeof r === "number" && Number.isInteger(r) && r >= 0 ? r : 1
}

interface SessionManifests {
  readonly docs: ReadonlyArray<{ readonly comment: string | null; readonly doc: Doc | null }>
  readonly claims: ReadonlyArray<string>
}

const sessionManifests = (spec: ConfiguredContainerSpec, k8s: string, options: KubernetesExportOptions): SessionManifests => {
  const labels = {
    [Marks.labelManaged]: Marks.managedValue.container,
    [Marks.labelProject]: labelValue(options.project),
    [Marks.labelSession]: labelValue(spec.name)
  }
  const selector = { [Marks.labelProject]: labelValue(options.project), [Marks.labelSession]: labelValue(spec.name) }
  // The hash of the config entry (its runtime unbound): which version of the entry this manifest is.
  const annotations = { [Marks.labelSpec]: specHash(spec, options.digest), "io.kstlib.name": spec.name }
  const notes: Array<string> = []

  const argv = commandArgv(spec)
  const container: Doc = { name: k8s, image: spec.image, imagePullPolicy: options.imagePullPolicy ?? PULL_POLICY[spec.pull ?? "missing"] }
  if (argv.ok && argv.argv !== null) container["args"] = [...argv.argv]
  if (!argv.ok) notes.push(`command not exported: ${argv.reason}`)
  if (spec.build !== undefined) notes.push(`build: not exported (a cluster pulls images: push ${spec.image} to a registry its nodes reach)`)
  if (spec.entrypoint !== undefined && spec.entrypoint.length > 0) container["command"] = [...spec.entrypoint]
  if (spec.entrypoint !== undefined && spec.entrypoint.length === 0) notes.push("entrypoint: \"\" (cleared): a pod cannot clear the image's ENTRYPOINT, not mapped")
  if (spec.working_dir !== null) container["workingDir"] = spec.working_dir
  if (spec.memory !== undefined || spec.cpus !== undefined) {
    container["resources"] = {
      limits: { ...(spec.memory === undefined ? {} : { memory: String(spec.memory) }), ...(spec.cpus === undefined ? {} : { cpu: String(spec.cpus) }) }
    }
  }

  const ports = spec.ports.flatMap((p) => {
    const m = parsePort(p)
    if (m === null) {
      notes.push(`port ${p}: not mapped`)
      return []
    }
    return [{ containerPort: m.containerPort, ...(m.hostPort === null ? {} : { hostPort: m.hostPort }), protocol: m.protocol }]
  })
  if (ports.length > 0) container["ports"] = ports

  const secretName = `${k8s}-env`
  const envKeys = Object.keys(spec.env).sort()
  if (envKeys.length > 0) container["envFrom"] = [{ secretRef: { name: secretName } }]

  const volumes: Array<Doc> = []
  const mounts: Array<Doc> = []
  const claims: Array<string> = []
  const allVolumes = [...spec.volumes, ...(spec.log_volume === null ? [] : [spec.log_volume])]
  allVolumes.forEach((v, i) => {
    const m = parseVolume(v)
    if (m === null) {
      notes.push(`volume ${v}: not mapped`)
      return
    }
    const volName = `v${i}`
    if (m.kind === "host") volumes.push({ name: volName, hostPath: { path: m.hostPath } })
    else {
      const claim = kubeName(m.claim)
      claims.push(claim)
      volumes.push({ name: volName, persistentVolumeClaim: { claimName: claim } })
    }
    mounts.push({ name: volName, mountPath: m.mountPath, ...(m.readOnly ? { readOnly: true } : {}) })
  })
  // type: tmpfs → an emptyDir in memory
  for (const [i, t] of (spec.tmpfs ?? []).entries()) {
    volumes.push({ name: `t${i}`, emptyDir: { medium: "Memory" } })
    mounts.push({ name: `t${i}`, mountPath: t })
  }
  if (mounts.length > 0) container["volumeMounts"] = mounts

  const run = runOptionsOf(spec)
  if (run.security !== null) container["securityContext"] = run.security
  if (spec.privileged === true) container["securityContext"] = { ...(run.security ?? {}), privileged: true }
  notes.push(...run.notes)

  const ready = readiness(spec)
  if (ready.probe !== null) container["readinessProbe"] = ready.probe
  if (ready.note !== null) notes.push(ready.note)
  const restart = restartNote(spec)
  if (restart !== null) notes.push(restart)

  const deployment: Doc = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: k8s, labels, annotations },
    spec: {
      replicas: replicasOf(spec),
      selector: { matchLabels: selector },
      template: {
        metadata: { labels, annotations: { "io.kstlib.name": spec.name } },
        spec: {
          restartPolicy: "Always",
          ...run.pod,
          ...(volumes.length > 0 ? { volumes } : {}),
          containers: [container]
        }
      }
    }
  }

  const docs: Array<{ readonly comment: string | null; readonly doc: Doc | null }> = []
  if (envKeys.length > 0) {
    const secretMeta = { name: secretName, labels }
    if (options.includeSecrets) {
      docs.push({
        comment: `Secret of session '${spec.name}': its env values (printed because --include-secrets was given).`,
        doc: {
          apiVersion: "v1",
          kind: "Secret",
          metadata: secretMeta,
          type: "Opaque",
          data: Object.fromEntries(envKeys.map((k) => [k, Buffer.from(spec.env[k]!, "utf8").toString("base64")]))
        }
      })
    } else {
      const stub = stringify({ apiVersion: "v1", kind: "Secret", metadata: secretMeta, type: "Opaque", stringData: Object.fromEntries(envKeys.map((k) => [k, ""])) })
      docs.push({
        comment: [
          `Secret of session '${spec.name}': values withheld (kstlib ops export --include-secrets prints them).`,
          `Create it before the Deployment, e.g.:`,
          `  kubectl create secret generic ${secretName} ${envKeys.map((k) => `--from-literal=${k}=...`).join(" ")}`,
          `Stub (keys only):`,
          stub.trimEnd()
        ].join("\n"),
        doc: null
      })
    }
  }
  docs.push({ comment: notes.length === 0 ? `Session '${spec.name}'.` : [`Session '${spec.name}'.`, ...notes].join("\n"), doc: deployment })
  return { docs, claims }
}

/** Every valid container session of `entries`, as one multi-document YAML text. */
export const kubernetesManifests = (entries: ReadonlyArray<ConfigEntry>, options: KubernetesExportOptions): string => {
  const out: Array<string> = [
    comment([
      `Kubernetes manifests generated by \`kstlib ops export --format kubernetes\` for project '${options.project}'.`,
      ...(options.sources === undefined || options.sources.length === 0 ? [] : [`From: ${options.sources.join(", ")}`])
    ].join("\n"))
  ]
  const used = new Map<string, string>()
  const claims = new Set<string>()
  const docs: Array<string> = []
  for (const e of entries) {
    if (e._tag === "Rejected") {
      out.push(comment(`skipped session '${e.name}': invalid in the config (kstlib ops validate)`))
      continue
    }
    if (e.spec.backend === "tmux") {
      out.push(comment(`skipped tmux session '${e.name}': tmux sessions have no Kubernetes equivalent`))
      continue
    }
    let k8s = kubeName(e.spec.name)
    // `a_b` and `a-b` both become `a-b`: the later one gets its digest suffix.
    if (used.has(k8s)) k8s = `${k8s.slice(0, 56)}-${createHash("sha256").update(e.spec.name).digest("hex").slice(0, 6)}`
    used.set(k8s, e.spec.name)
    const m = sessionManifests(e.spec, k8s, options)
    for (const c of m.claims) claims.add(c)
    for (const d of m.docs) {
      docs.push([d.comment === null ? null : comment(d.comment), d.doc === null ? null : stringify(d.doc).trimEnd()].filter((x) => x !== null).join("\n"))
    }
  }
  for (const claim of [...claims].sort()) {
    docs.unshift([
      comment(`Named volume '${claim}' (the size is a placeholder: engine volumes have none).`),
      stringify({
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: claim, labels: { [Marks.labelManaged]: Marks.managedValue.container, [Marks.labelProject]: labelValue(options.project) } },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } }
      }).trimEnd()
    ].join("\n"))
  }
  if (docs.length === 0) out.push(comment("no container sessions to export"))
  return `${[out.join("\n"), ...docs].join("\n---\n")}\n`
}
