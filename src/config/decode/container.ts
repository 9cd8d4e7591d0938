/**
 * A container entry (Podman, Docker, swarm), decoded by its schema, into a ConfiguredContainerSpec:
 * host paths of bind mounts resolved and checked, the engine bound to its host's.
 */
import * as path from "node:path"
import type { BuildSpec, ConfiguredContainerSpec } from "../../model.js"
import { MAX_SWARM_NETWORK_NAME, swarmNetwork } from "../../place.js"
import { treeDigest } from "../../system/tree-digest.js"
import { engineSocketsFromEnv, parseContainerMemory, validateHostMount } from "../rules.js"
import type { ContainerSession } from "../schema.js"
import type { EntryContext, FieldPath, Report, Shared } from "./common.js"
import { expandHome, RESTART_TIMINGS } from "./common.js"
import { realPathOf } from "../../system/real-path.js"
import { splitWords } from "../../command.js"
import { parsePortSpec, validateCommand, validateVolume } from "../rules.js"
import { isDeviceNode } from "./paths.js"

export const containerSpecOf = (
  name: string,
  v: typeof ContainerSession.Type,
  shared: Shared,
  ctx: EntryContext,
  report: Report
): ConfiguredContainerSpec => {
  const { hostRuntime, ...common } = shared
  const host = common.host ?? null
  const working_dir = v.working_dir ?? null
  if (working_dir !== null && !working_dir.startsWith("/")) {
    report(["working_dir"], "must be an absolute path (it is the working directory inside the container)")
  }
  const unsafe_mounts = v.unsafe_mounts ?? false
  if (v.restart === "always" && v.max_restarts !== undefined && v.max_restarts !== null) {
    report(["max_restarts"], "a container's restart: always has no limit (the engine's policy); use restart: on-failure with max_restarts")
  }
  for (const key of RESTART_TIMINGS) {
    if (v[key] !== undefined) report([key], `${key} is applied by kstlib's tmux supervisor only; a container is restarted by its engine, with the engine's own backoff`)
  }
  /** Bind-mount host sides are resolved against the defining file's directory; named volumes stay. */
  const resolveVolume = (at: FieldPath, volume: string): string => {
    const colon = volume.indexOf(":")
    const source = volume.slice(0, colon)
    const rest = volume.slice(colon)
    if (source.startsWith("/")) return volume
    const isPath = source === "~" || source.startsWith("~/") || source.startsWith(".") || source.includes("/")
    if (!isPath) return volume
    const expanded = expandHome(ctx, report)(at, source)
    if (expanded === null) return volume
    const resolved = path.resolve(ctx.baseDirOf(at), expanded)
    if (resolved.includes(":")) report(at, `the resolved host path '${resolved}' contains ':'; use an absolute path`)
    return `${resolved}${rest}`
  }
  // The sockets of this machine's engines as the environment names them (the engine clients kstlib
  // runs inherit it), resolved; a host's engine is not this environment's. The ones only an engine
  // can name are refused at launch (backends/container/sockets.ts).
  const sockets = host !== null ? [] : engineSocketsFromEnv(process.env).flatMap((s) => [...new Set([s, realPathOf(s)])])
  /** Host system directories and engine sockets, judged on the real path (a symlink to / is /). */
  const checkMount = (at: FieldPath, volume: string): string => {
    const source = volume.slice(0, volume.indexOf(":"))
    if (!unsafe_mounts && source.startsWith("/")) {
      const normal = path.resolve(source)
      const real = realPathOf(normal)
      const reason = validateHostMount(real, source, { device: isDeviceNode(real), sockets }) ?? validateHostMount(normal, source, { sockets })
      if (reason !== null) report(at, reason)
    }
    return volume
  }
  const mount = (at: FieldPath, volume: string) => checkMount(at, resolveVolume(at, volume))
  // on a host: that host's engine (ops.hosts.<name>.runtime), whatever this machine auto-detects
  const runtime = host !== null ? v.runtime ?? hostRuntime ?? "docker" : v.runtime ?? ctx.containerRuntime
  if (host !== null && hostRuntime !== null && runtime !== hostRuntime) {
    report(
      ["runtime"],
      runtime === "swarm"
        ? "runtime: swarm is not supported on a remote host (point DOCKER_HOST at the swarm instead)"
        : `host '${host}' runs ${hostRuntime} (ops.hosts.${host}.runtime); set it to ${runtime} there, or drop runtime: here`
    )
  }
  const RUN_OPTIONS = ["network_mode", "networks", "privileged", "pull", "user", "hostname", "init", "read_only", "pids_limit", "cap_add", "cap_drop", "labels", "extra_hosts"] as const
  if (runtime === "swarm") {
    for (const key of RUN_OPTIONS) if (v[key] !== undefined) report([key], "not for runtime: swarm yet (a Podman or Docker option); set it on the image or the service by hand")
    if (swarmNetwork(ctx.project).length > MAX_SWARM_NETWORK_NAME) {
      report(["runtime"], `the project's swarm network ${swarmNetwork(ctx.project)} would be longer than the ${MAX_SWARM_NETWORK_NAME} characters swarm takes: shorten ops.project`)
    }
  }
  if (v.network_mode !== undefined && v.ports !== undefined && v.ports !== null && v.ports.length > 0) {
    report(["ports"], `ports are not published with network_mode: ${v.network_mode} (${v.network_mode === "host" ? "the container already uses this machine's ports" : "the container has no network"})`)
  }
  if (v.networks !== undefined && v.network_mode !== undefined) {
    report(["networks"], `a container with network_mode: ${v.network_mode} joins no network`)
  }
  const networks = (v.networks ?? []).flatMap((n, i) => {
    const declared = ctx.networks.get(n)
    if (declared !== undefined) return [declared]
    const known = [...ctx.networks.keys()]
    report(["networks", i], `unknown network '${n}' (${known.length === 0 ? "no ops.networks defined" : `ops.networks has: ${known.join(", ")}`})`)
    return []
  })
  const entrypoint = entrypointOf(v.entrypoint, report)
  const build = v.build === undefined ? null : buildOf(v.build, ctx, report)
  if (v.image === undefined && v.build === undefined) report(["image"], "an image is needed (or build: to build one)")
  if (v.build !== undefined && v.pull !== undefined) report(["pull"], "a built image is never pulled: leave pull out with build:")
  if (runtime === "swarm" && v.build !== undefined) report(["build"], "not for runtime: swarm (a service's image comes from a registry every node reaches)")
  // a built image without `image:` is tagged after the project and the session (image names are lower case)
  const image = v.image ?? `localhost/kstlib-${ctx.project}-${name}:latest`.toLowerCase()
  const tmpfs: Array<string> = []
  const volumes = (v.volumes ?? []).flatMap((vol, i) => {
    if (typeof vol === "string") return [mount(["volumes", i], vol)]
    if (vol.type === "tmpfs") {
      if (vol.source !== undefined) report(["volumes", i, "source"], "a tmpfs mount has no source")
      tmpfs.push(vol.target)
      return []
    }
    if (vol.source === undefined) {
      report(["volumes", i, "source"], vol.type === "bind" ? "a bind mount needs its host path" : "name the volume (anonymous volumes are not kept track of: declare one in ops.volumes)")
      return []
    }
    const short = `${vol.source}:${vol.target}${vol.read_only === true ? ":ro" : ""}`
    const reason = validateVolume(short)
    if (reason !== null) {
      report(["volumes", i], reason)
      return []
    }
    const isPath = vol.source.startsWith("/") || vol.source.startsWith(".") || vol.source.startsWith("~") || vol.source.includes("/")
    if (vol.type === "bind" && !isPath) report(["volumes", i, "source"], `a bind mount's source is a path: write ./${vol.source} for one next to this file`)
    if (vol.type === "volume" && isPath) report(["volumes", i, "source"], "a volume's source is its name, not a path (type: bind mounts a path)")
    return [mount(["volumes", i], short)]
  })
  const declared_volumes = [...new Set(volumes.map((vol) => vol.slice(0, vol.indexOf(":"))).filter((src) => ctx.volumes.has(src)))].sort()
  if (runtime === "swarm") {
    if (v.entrypoint !== undefined) report(["entrypoint"], "not for runtime: swarm yet (a Podman or Docker option)")
    if (tmpfs.length > 0) report(["volumes"], "type: tmpfs is not for runtime: swarm yet (a Podman or Docker option)")
    for (const [i, p] of (v.ports ?? []).entries()) {
      const read = parsePortSpec(String(p))
      if (typeof read !== "string" && (read.ip !== null || read.container[1] > read.container[0] || read.host === null && String(p).includes(":"))) {
        report(["ports", i], "runtime: swarm publishes one port on every address: no IP, no range")
      }
    }
  }
  if (v.privileged === true && !unsafe_mounts) {
    report(["privileged"], "a privileged container has every capability and device of this machine: set unsafe_mounts: true next to it to allow it")
  }
  if (v.restart === "unless-stopped" && v.max_restarts !== undefined && v.max_restarts !== null) {
    report(["max_restarts"], "restart: unless-stopped has no limit (the engine's policy); use restart: on-failure with max_restarts")
  }
  if (v.replicas !== undefined && runtime !== "swarm") report(["replicas"], "only for runtime: swarm (a Podman or Docker session is one container)")
  return {
    backend: "container",
    name,
    image,
    ...(build === null ? {} : { build: build.spec, build_context: build.digest }),
    ...common,
    working_dir,
    volumes,
    ports: (v.ports ?? []).map(String),
    log_volume: v.log_volume === undefined || v.log_volume === null ? null : mount(["log_volume"], v.log_volume),
    runtime,
    unsafe_mounts,
    ...Object.fromEntries(RUN_OPTIONS.flatMap((k) => (v[k] === undefined || k === "networks" ? [] : [[k, v[k]]]))),
    ...(networks.length === 0 ? {} : { networks }),
    ...(entrypoint === null ? {} : { entrypoint }),
    ...(tmpfs.length === 0 ? {} : { tmpfs }),
    ...(declared_volumes.length === 0 ? {} : { declared_volumes }),
    ...(v.replicas === undefined ? {} : { replicas: v.replicas }),
    ...limitsOf(v.memory, v.cpus)
  }
}

/** `build:` with its context resolved against the file that wrote it, and the digest of its content (a problem is reported there). */
const buildOf = (b: NonNullable<typeof ContainerSession.Type["build"]>, ctx: EntryContext, report: Report): { readonly spec: BuildSpec; readonly digest: string } | null => {
  const context = path.resolve(ctx.baseDirOf(["build", "context"]), b.context)
  if (b.dockerfile !== undefined && (path.isAbsolute(b.dockerfile) || b.dockerfile.split(/[\\/]/u).includes(".."))) {
    report(["build", "dockerfile"], "relative to the context, inside it")
    return null
  }
  const tree = treeDigest(context)
  if (!tree.ok) {
    report(["build", "context"], tree.reason)
    return null
  }
  const args = Object.fromEntries(Object.entries(b.args ?? {}).map(([k, v]) => [k, String(v)]))
  return {
    spec: {
      context,
      ...(b.dockerfile === undefined ? {} : { dockerfile: b.dockerfile }),
      ...(b.target === undefined ? {} : { target: b.target }),
      ...(Object.keys(args).length === 0 ? {} : { args })
    },
    digest: tree.digest
  }
}

/** `entrypoint` as words: a string split (no shell syntax: it never runs through one), a list as written, "" cleared; null: not set. */
const entrypointOf = (raw: string | ReadonlyArray<string> | undefined, report: Report): ReadonlyArray<string> | null => {
  if (raw === undefined) return null
  if (typeof raw !== "string") return raw
  if (raw === "") return []
  const reason = validateCommand(raw)
  if (reason !== null) {
    report(["entrypoint"], reason)
    return null
  }
  const words = splitWords(raw)
  return words.ok ? words.words : null
}

/** `memory` (in bytes) and `cpus`, only when set (the schema checked both). */
const limitsOf = (memory: string | number | null | undefined, cpus: number | null | undefined) => {
  const bytes = memory === undefined || memory === null ? null : parseContainerMemory(memory)
  return {
    ...(typeof bytes === "number" ? { memory: bytes } : {}),
    ...(cpus === undefined || cpus === null ? {} : { cpus })
  }
}
