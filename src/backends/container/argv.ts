/**
 * Command lines for Podman and Docker (the args after the binary). Pure, so the exact argv is
 * unit-tested. Only forms both engines (and both Docker client generations, 20.10 and 28.x) accept.
 */
import { createHash } from "node:crypto"
import * as path from "node:path"
import { commandArgv } from "../../command.js"
import { canonicalJson } from "../../spec/field.js"
import type { ContainerSpec, RuntimeName } from "../../model.js"
import { Marks, maxRestarts, restartPolicy } from "../../model.js"
import type { Stamp } from "../../spec/fingerprint.js"
import { encodeFingerprint } from "../../spec/fingerprint.js"
import { declaredNetwork, declaredVolume, projectNetwork } from "../../place.js"

/** The labels kstlib reads its marks from (model.ts Marks). */
const MARK_LABELS = [Marks.labelManaged, Marks.labelProject, Marks.labelSpec, Marks.labelApplied]

/**
 * Docker's `ps` line: the fields kstlib reads, and kstlib's labels as a map, each read by its key
 * from the engine's own map (`.Label "k"`, "" when absent). Not `.Labels`: Docker joins every label
 * into ONE `k=v,k=v` string, which a foreign label's value can forge (`x=a,io.kstlib.managed=true`).
 * Not `{{json .}}` either: it holds `.Size`, which makes the client ask the daemon for the size of
 * every container. Accepted by the Docker 20.10 and 28.x clients alike.
 */
export const DOCKER_PS_TEMPLATE = `{${
  ["Names", "State", "Status", "Image", "CreatedAt"].map((f) => `"${f}":{{json .${f}}}`).join(",")
},"Labels":{${MARK_LABELS.map((l) => `"${l}":{{json (.Label "${l}")}}`).join(",")}}}`

/** Podman: one JSON array with a labels map. Docker: one object per line (DOCKER_PS_TEMPLATE), full ids. */
export const psArgs = (runtime: RuntimeName): ReadonlyArray<string> =>
  runtime === "podman" ? ["ps", "-a", "--format", "json"] : ["ps", "-a", "--no-trunc", "--format", DOCKER_PS_TEMPLATE]

/**
 * `--` ends the options before every positional word (image, container names, the command) on every
 * command below: a word starting with `-` is then never read as an option. Validation already
 * refuses such images and names; names reported by an engine, and a library caller's specs, are not
 * validated. Podman 4.3 and the Docker 20.10 and 28.x clients accept it everywhere it is used here.
 */
const END = "--"

/** `container inspect` never matches an image, volume or network of the same name (plain `inspect` does). */
export const inspectArgs = (name: string): ReadonlyArray<string> => ["container", "inspect", END, name]

/** ONE `container inspect` of several containers (restart counts). */
export const inspectManyArgs = (names: ReadonlyArray<string>): ReadonlyArray<string> => ["container", "inspect", END, ...names]

export type RunArgs =
  | { readonly ok: true; readonly args: ReadonlyArray<string> }
  | { readonly ok: false; readonly reason: string }

/** `image inspect` of one image: exits 0 when this engine has it (Podman and Docker alike). */
export const imageInspectArgs = (image: string): ReadonlyArray<string> => ["image", "inspect", "--format", "{{.Id}}", END, image]

/**
 * `pull IMAGE`: `-q` (no progress in captured output) unless its progress is shown as it comes
 * (`quiet: false`, a terminal: the engine's lines, plain on a pipe, are read line by line).
 */
export const pullArgs = (image: string, quiet = true): ReadonlyArray<string> => ["pull", ...(quiet ? ["-q"] : []), END, image]

/** The registry an image reference names: its first component when that is a host (`.`/`:` or localhost), else Docker Hub. */
export const registryOf = (image: string): string => {
  const slash = image.indexOf("/")
  const first = slash < 0 ? "" : image.slice(0, slash)
  return first !== "" && (first.includes(".") || first.includes(":") || first === "localhost") ? first : "docker.io"
}

/** The label a built image carries: the digest of its context's content and of the build's settings. */
export const BUILD_LABEL = "io.kstlib.build"

/** What a built image must carry to be reused: one digest of the context's content and the build settings. */
export const buildStamp = (spec: ContainerSpec): string =>
  `sha256:${createHash("sha256").update(canonicalJson({ context: spec.build_context ?? null, build: spec.build ?? null })).digest("hex")}`

/** The label of a built image, read by `image inspect` ("" when absent; the command fails when there is no image). */
export const builtLabelArgs = (image: string): ReadonlyArray<string> => ["image", "inspect", "--format", `{{index .Config.Labels "${BUILD_LABEL}"}}`, END, image]

/** `build` of a session's image with the session's engine: tagged as its image, labelled with the project and the build stamp. */
export const buildArgs = (spec: ContainerSpec, project: string): ReadonlyArray<string> => {
  const b = spec.build!
  return [
    "build",
    "-t",
    spec.image,
    ...(b.dockerfile === undefined ? [] : ["-f", path.join(b.context, b.dockerfile)]),
    ...(b.target === undefined ? [] : ["--target", b.target]),
    ...Object.keys(b.args ?? {}).sort().flatMap((k) => ["--build-arg", `${k}=${b.args![k]!}`]),
    "--label",
    `${Marks.labelProject}=${project}`,
    "--label",
    `${BUILD_LABEL}=${buildStamp(spec)}`,
    END,
    b.context
  ]
}

/** Whether a launch pulls first: `always`, or `missing` (the default) when the engine lacks the image. `never`: the run's own `--pull=never` fails fast. */
export const pullsFirst = (spec: ContainerSpec, present: boolean): boolean => {
  if (spec.build !== undefined) return false
  const policy = spec.pull ?? "missing"
  return policy === "always" || (policy === "missing" && !present)
}

/**
 * `run -d` with kstlib's marks (labels), a TTY (`-t -i`, so `attach` gets a terminal later) and
 * `--pull=never`: the launch pulled before when the session's `pull` says so (container.ts), so the
 * run itself never waits on a registry. The command is
 * the argv of src/command.ts: its words, or `sh -c COMMAND` with `shell: true`. Env values are never
 * on this command line (any local user can read it in /proc): `envFile` holds them (see
 * envFileText), and keys whose value an env file cannot carry (a newline) are passed as `-e KEY`,
 * the value taken from the engine client's own environment.
 */
export const runArgs = (spec: ContainerSpec, stamp: Stamp, project: string, envFile: string | null, logLabel: string | null = null): RunArgs => {
  const command = commandArgv(spec)
  if (!command.ok) return command
  // a container on declared networks too is created, connected to them, then started (createsFirst)
  const args: Array<string> = [
    ...(createsFirst(spec) ? ["create"] : ["run", "-d"]),
    "--pull=never",
    "--name",
    spec.name,
    "--label",
    `${Marks.labelManaged}=${Marks.managedValue.container}`,
    "--label",
    `${Marks.labelProject}=${project}`,
    "--label",
    `${Marks.labelSession}=${spec.name}`,
    "--label",
    `${Marks.labelSpec}=${stamp.hash}`,
    "--label",
    `${Marks.labelApplied}=${encodeFingerprint(stamp.fingerprint)}`,
    ...(logLabel === null ? [] : ["--label", `${Marks.labelLog}=${logLabel}`])
  ]
  args.push(...restartArgs(spec), ...stopSettingArgs(spec), ...limitArgs(spec))
  // the project's network, the session's name its DNS alias there (created first: ensureNetwork)
  if (spec.network_mode === undefined) args.push("--network", projectNetwork(project), "--network-alias", spec.name)
  else args.push("--network", spec.network_mode)
  args.push(...runOptionArgs(spec))
  if (spec.working_dir !== null) args.push("-w", spec.working_dir)
  if (envFile !== null) args.push("--env-file", envFile)
  for (const key of envViaClient(spec.env)) args.push("-e", key)
  for (const v of spec.volumes) args.push("-v", engineVolume(spec, project, v))
  if (spec.log_volume !== null) args.push("-v", spec.log_volume)
  for (const t of spec.tmpfs ?? []) args.push("--tmpfs", t)
  for (const p of spec.ports) args.push("-p", p)
  // the entrypoint's first word replaces the image's; the rest go before the command's words (as compose does)
  const [entry, ...entryArgs] = spec.entrypoint ?? []
  if (spec.entrypoint !== undefined) args.push(`--entrypoint=${entry ?? ""}`)
  args.push("-t", "-i", END, spec.image, ...entryArgs, ...(command.argv ?? []))
  return { ok: true, args }
}

/**
 * The engine's own restart policy (Podman and Docker alike): `on-failure:N` (N: max_restarts,
 * default 5) or `always` (unlimited: the engines have no limit for it, so validation refuses
 * max_restarts with `always` on a container). `on-failure:0` means "unlimited" to Docker, so
 * max_restarts: 0 is no policy at all. A `stop` of such a container keeps it stopped on both engines.
 */
export const restartArgs = (spec: ContainerSpec): ReadonlyArray<string> => {
  const policy = restartPolicy(spec)
  const max = maxRestarts(spec)
  if (policy === "no" || max === 0) return []
  if (policy === "unless-stopped") return ["--restart", "unless-stopped"]
  return policy === "on-failure" ? ["--restart", `on-failure:${max ?? 1}`] : ["--restart", "always"]
}

const inFile = (value: string) => !value.includes("\n") && !value.includes("\r")

/** Keys passed as `-e KEY` (value from the client's environment): those an env file cannot hold. */
export const envViaClient = (env: Readonly<Record<string, string>>): ReadonlyArray<string> =>
  Object.keys(env).sort().filter((k) => !inFile(env[k]!))

/** The `--env-file` text: `KEY=VALUE` per line, read literally by both engines (no quotes, no expansion). */
export const envFileText = (env: Readonly<Record<string, string>>): string =>
  Object.keys(env).sort().filter((k) => inFile(env[k]!)).map((k) => `${k}=${env[k]!}\n`).join("")

export const startArgs = (name: string): ReadonlyArray<string> => ["start", END, name]

/** `timeout` absent: the container's own (`--stop-timeout` at creation, else the engine's 10 s). */
export const stopArgs = (name: string, force: boolean, timeout?: number): ReadonlyArray<string> =>
  force ? ["kill", END, name] : ["stop", ...(timeout === undefined ? [] : ["-t", String(Math.max(0, Math.floor(timeout)))]), END, name]

/**
 * The stop settings the engine keeps with the container: `stop_signal` (else the image's
 * STOPSIGNAL, or TERM) and `stop_timeout` (whole seconds, rounded up), used by every stop.
 */
export const stopSettingArgs = (spec: ContainerSpec): ReadonlyArray<string> => [
  ...(spec.stop_signal === undefined ? [] : ["--stop-signal", `SIG${spec.stop_signal}`]),
  ...(spec.stop_timeout === undefined ? [] : ["--stop-timeout", String(Math.ceil(spec.stop_timeout))])
]

/** The container's limits, when set: `--memory BYTES`, `--cpus N` (both engines). */
export const limitArgs = (spec: ContainerSpec): ReadonlyArray<string> => [
  ...(spec.memory === undefined ? [] : ["--memory", String(spec.memory)]),
  ...(spec.cpus === undefined ? [] : ["--cpus", String(spec.cpus)])
]

/** Podman's `rm -f` first waits the stop timeout (10 s) for a running container; Docker kills at once. */
export const rmArgs = (runtime: RuntimeName, name: string): ReadonlyArray<string> =>
  runtime === "podman" ? ["rm", "-f", "-t", "0", END, name] : ["rm", "-f", END, name]

export const logsArgs = (name: string, lines: number, follow: boolean): ReadonlyArray<string> => [
  "logs",
  ...(follow ? ["-f"] : []),
  "--tail",
  String(Math.max(0, Math.floor(lines))),
  END,
  name
]

export const execArgs = (name: string, argv: ReadonlyArray<string>, interactive: boolean): ReadonlyArray<string> => [
  "exec",
  ...(interactive ? ["-i", "-t"] : []),
  END,
  name,
  ...argv
]

export const attachArgs = (name: string): ReadonlyArray<string> => ["attach", END, name]

/**
 * The project's network (place.ts; Podman: netavark with aardvark-dns; Docker: a user-defined
 * bridge). Not in the fingerprint: a container created before networks joins at its next
 * (re)creation, so an upgrade recreates nothing.
 */
export { projectNetwork } from "../../place.js"

/** The labels a project's network carries: kstlib's managed mark and the project, as on its containers. */
export const networkLabels = (project: string): Readonly<Record<string, string>> => ({
  [Marks.labelManaged]: Marks.managedValue.container,
  [Marks.labelProject]: project
})

/** `network inspect` of one network, its labels as JSON (an absent network exits non-zero on both engines). */
export const networkInspectArgs = (name: string): ReadonlyArray<string> => ["network", "inspect", "--format", "{{json .Labels}}", END, name]

/** The project network, or (`name`) a declared one (`internal`: `--internal`), with the project's marks. */
export const networkCreateArgs = (project: string, name = projectNetwork(project), internal = false): ReadonlyArray<string> => [
  "network",
  "create",
  ...(internal ? ["--internal"] : []),
  ...Object.entries(networkLabels(project)).flatMap(([k, v]) => ["--label", `${k}=${v}`]),
  END,
  name
]

/** A container on declared networks is created first (`create`), connected to each, then started: Docker's API 1.41 takes one network at creation. */
export const createsFirst = (spec: ContainerSpec): boolean => (spec.networks ?? []).length > 0

/** The declared networks a container joins after its creation, engine names. */
export const extraNetworks = (spec: ContainerSpec, project: string): ReadonlyArray<string> =>
  (spec.networks ?? []).map((n) => declaredNetwork(project, n.name))

/** `network connect` with the session's name as its DNS alias there. */
export const networkConnectArgs = (network: string, container: string): ReadonlyArray<string> => [
  "network",
  "connect",
  "--alias",
  container,
  END,
  network,
  container
]

/** The names of a project's networks or volumes (by its label; each is then checked by its exact marks). */
export const listByProjectArgs = (kind: "network" | "volume", project: string): ReadonlyArray<string> => [
  kind,
  "ls",
  "--filter",
  `label=${Marks.labelProject}=${project}`,
  "--format",
  "{{.Name}}"
]

/** A volume mount with a declared volume's source as its engine name (`kstlib-<project>.<name>`). */
export const engineVolume = (spec: ContainerSpec, project: string, volume: string): string => {
  const colon = volume.indexOf(":")
  const source = volume.slice(0, colon)
  return (spec.declared_volumes ?? []).includes(source) ? `${declaredVolume(project, source)}${volume.slice(colon)}` : volume
}

export const volumeInspectArgs = (name: string): ReadonlyArray<string> => ["volume", "inspect", "--format", "{{json .Labels}}", END, name]
export const volumeCreateArgs = (project: string, name: string): ReadonlyArray<string> => [
  "volume",
  "create",
  ...Object.entries(networkLabels(project)).flatMap(([k, v]) => ["--label", `${k}=${v}`]),
  END,
  name
]
export const volumeRmArgs = (name: string): ReadonlyArray<string> => ["volume", "rm", END, name]
/** Engine wording of "no such volume". */
export const isNoSuchVolume = (stderr: string): boolean => /no such volume|not found/iu.test(stderr)

/** Without `-f`: both engines refuse to remove a network that containers are still on. */
export const networkRmArgs = (name: string): ReadonlyArray<string> => ["network", "rm", END, name]

/** Whether `network inspect`'s labels (`{{json .Labels}}`) are exactly the project's marks: only then is the network ours. */
export const isProjectNetwork = (labelsJson: string, project: string): boolean => {
  let labels: unknown
  try {
    labels = JSON.parse(labelsJson.trim().split("\n")[0] ?? "")
  } catch {
    return false
  }
  if (labels === null || typeof labels !== "object" || Array.isArray(labels)) return false
  const own = labels as Record<string, unknown>
  return Object.entries(networkLabels(project)).every(([k, v]) => own[k] === v)
}

/** Engine wording of "no such network" (Podman 4.3, Docker 20.10 and 28.x). */
export const isNoSuchNetwork = (stderr: string): boolean => /network not found|not found|no such network/iu.test(stderr)

/** `user`, `hostname`, `init`, `read_only`, `pids_limit`, `cap_add`, `cap_drop`, `labels`, `extra_hosts`: the engines' own options, only when set. */
export const runOptionArgs = (spec: ContainerSpec): ReadonlyArray<string> => [
  ...(spec.user === undefined ? [] : ["--user", spec.user]),
  ...(spec.hostname === undefined ? [] : ["--hostname", spec.hostname]),
  ...(spec.init === true ? ["--init"] : []),
  ...(spec.privileged === true ? ["--privileged"] : []),
  ...(spec.read_only === true ? ["--read-only"] : []),
  ...(spec.pids_limit === undefined ? [] : ["--pids-limit", String(spec.pids_limit)]),
  ...(spec.cap_add ?? []).flatMap((c) => ["--cap-add", c]),
  ...(spec.cap_drop ?? []).flatMap((c) => ["--cap-drop", c]),
  ...Object.keys(spec.labels ?? {}).sort().flatMap((k) => ["--label", `${k}=${spec.labels![k]!}`]),
  ...(spec.extra_hosts ?? []).flatMap((h) => ["--add-host", h])
]

/** Whether a launch needs the project network (a session with `network_mode` leaves it). */
export const joinsProjectNetwork = (spec: ContainerSpec): boolean => spec.network_mode === undefined
