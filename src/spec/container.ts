/** The container spec's fields (Podman, Docker and swarm), in fingerprint order. */
import type { ConfiguredContainerSpec, ContainerSpec } from "../model.js"
import * as common from "./common.js"
import { defaultsOf, field } from "./field.js"

const row = field<ConfiguredContainerSpec>()

export const containerFields = [
  row("backend", { default: "container", fingerprint: "always" }),
  row("image", { default: "", fingerprint: "always", updatable: true }),
  common.command,
  common.shell,
  common.workingDir,
  common.env,
  row("volumes", { default: [], fingerprint: "always" }),
  row("ports", { default: [], fingerprint: "always" }),
  row("log_volume", { default: null, fingerprint: "always" }),
  row("runtime", { default: "podman", fingerprint: "always" }),
  row("unsafe_mounts", { default: false, fingerprint: "when-set", encode: (v) => (v ? "true" : "false") }),
  // how it runs: each only when set, so every existing session keeps its hash
  row("network_mode", { default: null, fingerprint: "when-set", shownDefault: "project network", optional: true }),
  row("user", { default: null, fingerprint: "when-set", optional: true }),
  row("hostname", { default: null, fingerprint: "when-set", optional: true }),
  row("init", { default: false, fingerprint: "when-set", encode: (v) => (v === true ? "true" : "false"), optional: true }),
  row("read_only", { default: false, fingerprint: "when-set", encode: (v) => (v === true ? "true" : "false"), optional: true }),
  row("pids_limit", { default: null, fingerprint: "when-set", encode: (n) => (n === null || n === undefined ? null : String(n)), optional: true }),
  row("cap_add", { default: [], fingerprint: "when-set", encode: (c) => [...(c ?? [])].sort(), optional: true }),
  row("cap_drop", { default: [], fingerprint: "when-set", encode: (c) => [...(c ?? [])].sort(), optional: true }),
  row("labels", { default: {}, fingerprint: "when-set", optional: true }),
  // built: the settings, and the context's content (a change of it reads `build context changed`)
  row("build", { default: null, fingerprint: "when-set", optional: true }),
  row("build_context", { default: null, fingerprint: "when-set", optional: true }),
  // how the image is fetched, not what runs: never a drift
  row("pull", { default: "missing", fingerprint: "never", optional: true }),
  row("tmpfs", { default: [], fingerprint: "when-set", optional: true }),
  row("privileged", { default: false, fingerprint: "when-set", encode: (v) => (v === true ? "true" : "false"), optional: true }),
  row("entrypoint", { default: null, fingerprint: "when-set", optional: true }),
  // declared networks and volumes: by name (a network's `internal` is the network's, not the container's)
  row("networks", { default: [], fingerprint: "when-set", encode: (n) => (n ?? []).map((x) => x.name).sort(), optional: true }),
  row("declared_volumes", { default: [], fingerprint: "when-set", optional: true }),
  row("extra_hosts", { default: [], fingerprint: "when-set", encode: (h) => [...(h ?? [])].sort(), optional: true }),
  // swarm: tasks of the service; `replicas: 1` and no field hash alike
  row("replicas", { default: 1, fingerprint: "when-set", encode: String, updatable: true, optional: true }),
  // limits: when set only, so sessions without them keep their hash
  row("memory", { default: null, fingerprint: "when-set", encode: (n) => (n === null || n === undefined ? null : String(n)), optional: true }),
  row("cpus", { default: null, fingerprint: "when-set", encode: (n) => (n === null || n === undefined ? null : String(n)), optional: true }),
  ...common.supervision,
  ...common.watched,
  ...common.logged,
  common.host,
  common.state
] as const

/** Every required container field at its default (the base of a spec builder). */
export const containerDefaults = defaultsOf(containerFields) as Omit<ContainerSpec, "backend" | "name">
