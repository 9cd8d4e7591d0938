/**
 * Command lines for Docker Swarm services (the args after `docker`). Pure, so the exact argv is
 * unit-tested. One service per session: kstlib's marks are SERVICE labels (never container labels,
 * so the task containers are not mistaken for kstlib's own Docker containers); env values travel in
 * a private `--env-file` (or, for values an env file cannot hold, in the client's environment as
 * `--env KEY`), never on this command line.
 */
import { commandArgv } from "../../command.js"
import type { ContainerSpec } from "../../model.js"
import { Marks } from "../../model.js"
import { swarmNetwork } from "../../place.js"
import type { Stamp } from "../../spec/fingerprint.js"
import { encodeFingerprint } from "../../spec/fingerprint.js"
import { envViaClient, networkLabels } from "../container/argv.js"

export { envFileText, envViaClient } from "../container/argv.js"

/** Every service, one JSON object per line: ID, Name, Mode, Replicas (`running/desired`), Image. Labels are not in it. */
export const serviceLsArgs: ReadonlyArray<string> = ["service", "ls", "--format", "{{json .}}"]

/** `--` before every positional word (service names, ids, the image): never read as an option (see ../container/argv.ts). */
const END = "--"

/** The full documents (labels, desired replicas, creation time) of the given services, in ONE call. */
export const serviceInspectArgs = (ids: ReadonlyArray<string>): ReadonlyArray<string> => ["service", "inspect", END, ...ids]

/** The tasks (current and history) of the given services, in ONE call. */
export const servicePsArgs = (ids: ReadonlyArray<string>, desiredRunning = false): ReadonlyArray<string> => [
  "service",
  "ps",
  "--no-trunc",
  ...(desiredRunning ? ["--filter", "desired-state=running"] : []),
  "--format",
  "{{json .}}",
  END,
  ...ids
]

export type CreateArgs =
  | { readonly ok: true; readonly args: ReadonlyArray<string> }
  | { readonly ok: false; readonly reason: string }

/**
 * `--restart-condition` from `restart:`; absent, swarm's own default `any` (a service is kept
 * running: that is what a swarm service is for); `no` is `none`.
 */
export const restartCondition = (spec: ContainerSpec): "any" | "on-failure" | "none" =>
  spec.restart === undefined ? "any" : spec.restart === "no" ? "none" : spec.restart === "on-failure" ? "on-failure" : "any"

export const replicasOf = (spec: ContainerSpec): number => spec.replicas ?? 1

/** A `--mount` CSV field, quoted when it holds a comma or a quote (Docker reads the value as CSV). */
const csvField = (field: string) => (/[",]/u.test(field) ? `"${field.replace(/"/gu, "\"\"")}"` : field)

/** `host:container[:ro|:rw]` → `--mount` value: a bind mount for a host path, else a named volume. */
export const mountOf = (volume: string): string | null => {
  const parts = volume.split(":")
  if (parts.length < 2 || parts.length > 3) return null
  const [source, target, mode] = parts as [string, string, string | undefined]
  const type = source.startsWith("/") ? "bind" : "volume"
  return [`type=${type}`, `source=${source}`, `target=${target}`, ...(mode === "ro" ? ["readonly"] : [])].map(csvField).join(",")
}

/** `[host:]container[/proto]` → `--publish` value, host mode (the `-p host:container` of one machine; no routing mesh). */
export const publishOf = (port: string): string | null => {
  const m = /^(?:([0-9]{1,5}):)?([0-9]{1,5})(?:\/(tcp|udp))?$/u.exec(port)
  if (m === null) return null
  return ["mode=host", ...(m[1] === undefined ? [] : [`published=${m[1]}`]), `target=${m[2]}`, `protocol=${m[3] ?? "tcp"}`].join(",")
}

const markLabels = (stamp: Stamp, project: string, name: string) => [
  `${Marks.labelManaged}=${Marks.managedValue.container}`,
  `${Marks.labelProject}=${project}`,
  `${Marks.labelSession}=${name}`,
  `${Marks.labelSpec}=${stamp.hash}`,
  `${Marks.labelApplied}=${encodeFingerprint(stamp.fingerprint)}`
]

/** The project's overlay network (place.ts `swarmNetwork`), labelled with kstlib's managed mark and the project, as the engines' project networks. */
export const overlayCreateArgs = (project: string): ReadonlyArray<string> => [
  "network",
  "create",
  "--driver",
  "overlay",
  ...Object.entries(networkLabels(project)).flatMap(([k, v]) => ["--label", `${k}=${v}`]),
  END,
  swarmNetwork(project)
]

/**
 * `service create --detach`: kstlib's marks as service labels, on the project's overlay network
 * (the others reach it there by its name), `--restart-condition`, `--replicas`,
 * `--no-resolve-image` (no registry is asked for a digest: a local image stays local), env through
 * `envFile`, the command as argv after the image (`sh -c COMMAND` with `shell: true`).
 */
export const createArgs = (spec: ContainerSpec, stamp: Stamp, project: string, envFile: string | null, logLabel: string | null = null): CreateArgs => {
  const command = commandArgv(spec)
  if (!command.ok) return command
  const args: Array<string> = ["service", "create", "--detach", "--no-resolve-image", "--name", spec.name]
  for (const l of markLabels(stamp, project, spec.name)) args.push("--label", l)
  // where its output is kept when kstlib removes it (as a container's io.kstlib.log)
  if (logLabel !== null) args.push("--label", `${Marks.labelLog}=${logLabel}`)
  args.push("--network", swarmNetwork(project))
  args.push("--restart-condition", restartCondition(spec), "--replicas", String(replicasOf(spec)))
  if (spec.max_restarts !== undefined && spec.max_restarts !== null) args.push("--restart-max-attempts", String(spec.max_restarts))
  if (spec.stop_signal !== undefined) args.push("--stop-signal", `SIG${spec.stop_signal}`)
  if (spec.stop_timeout !== undefined) args.push("--stop-grace-period", `${spec.stop_timeout}s`)
  if (spec.memory !== undefined) args.push("--limit-memory", String(spec.memory))
  if (spec.cpus !== undefined) args.push("--limit-cpu", String(spec.cpus))
  if (spec.working_dir !== null) args.push("--workdir", spec.working_dir)
  if (envFile !== null) args.push("--env-file", envFile)
  for (const key of envViaClient(spec.env)) args.push("--env", key)
  for (const v of [...spec.volumes, ...(spec.log_volume === null ? [] : [spec.log_volume])]) {
    const m = mountOf(v)
    if (m === null) return { ok: false, reason: `invalid volume: ${v}` }
    args.push("--mount", m)
  }
  for (const p of spec.ports) {
    const pub = publishOf(p)
    if (pub === null) return { ok: false, reason: `invalid port: ${p}` }
    args.push("--publish", pub)
  }
  args.push(END, spec.image, ...(command.argv ?? []))
  return { ok: true, args }
}

/** One word for Docker's `--args` (a string Docker splits like a shell): single-quoted, `'` as `'\''`. */
export const shellQuote = (word: string): string => `'${word.replace(/'/gu, "'\\''")}'`

/** `service update --detach`: image, args, workdir, replicas and kstlib's labels, all at once (unchanged ones are no-ops). */
export const updateArgs = (spec: ContainerSpec, stamp: Stamp, project: string): CreateArgs => {
  const command = commandArgv(spec)
  if (!command.ok) return command
  const args: Array<string> = ["service", "update", "--detach", "--no-resolve-image", "--image", spec.image]
  // An empty --args restores the image's own command.
  args.push("--args", (command.argv ?? []).map(shellQuote).join(" "))
  args.push("--workdir", spec.working_dir ?? "")
  args.push("--replicas", String(replicasOf(spec)))
  for (const l of markLabels(stamp, project, spec.name)) args.push("--label-add", l)
  args.push(END, spec.name)
  return { ok: true, args }
}

/** Stop = no task left; the service (and its spec) stays, to be scaled up again. */
export const scaleArgs = (name: string, replicas: number): ReadonlyArray<string> => ["service", "scale", "--detach", END, `${name}=${replicas}`]

/** Starts the tasks again with the same spec (a service whose tasks exited). */
export const forceUpdateArgs = (name: string): ReadonlyArray<string> => ["service", "update", "--detach", "--force", END, name]

export const rmArgs = (name: string): ReadonlyArray<string> => ["service", "rm", END, name]

/** `--raw`: the lines as the process wrote them, without the `name.1@node |` prefix; `timestamps`: each after its RFC 3339 time. */
export const logsArgs = (name: string, lines: number, follow: boolean, timestamps = false): ReadonlyArray<string> => [
  "service",
  "logs",
  "--raw",
  ...(follow ? ["--follow"] : []),
  ...(timestamps ? ["--timestamps"] : []),
  "--tail",
  String(Math.max(0, Math.floor(lines))),
  END,
  name
]
