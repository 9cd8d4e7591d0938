/**
 * The API socket of the engine a container is created by, and the bind mounts that would hand it
 * to the container (root on the host). Validation refuses the sockets the environment names
 * (DOCKER_HOST, CONTAINER_HOST, config/rules.ts); only the engine knows the others (a docker
 * context's endpoint, the socket Podman serves), so the container backend asks it, once per engine
 * and process, before a launch that has bind mounts, and refuses the launch (a failed step) when a
 * mount is, or holds, one of them.
 */
import * as path from "node:path"
import { engineSocketsFromEnv, validateHostMount } from "../../config/rules.js"
import type { ContainerSpec, RuntimeName } from "../../model.js"
import { realPathOf } from "../../system/real-path.js"

/** What asks the engine for its socket: the socket path, or `unix://` URL, on stdout. */
export const socketQueryArgs = (runtime: RuntimeName): ReadonlyArray<string> =>
  runtime === "podman"
    ? ["info", "--format", "{{.Host.RemoteSocket.Path}}"]
    // the current context's endpoint: DOCKER_HOST, else DOCKER_CONTEXT, else the context in use
    : ["context", "inspect", "--format", "{{.Endpoints.docker.Host}}"]

/** The socket path in the engine's answer (`/run/podman/podman.sock`, `unix:///var/run/docker.sock`); none for tcp/ssh. */
export const parseSocketAnswer = (stdout: string): ReadonlyArray<string> => {
  const line = stdout.trim().split("\n")[0]?.trim() ?? ""
  const p = line.startsWith("unix://") ? line.slice("unix://".length) : line
  return p.startsWith("/") ? [path.posix.normalize(p)] : []
}

/** The engine's own sockets plus the environment's, each as given and resolved. */
export const socketsToRefuse = (fromEngine: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>>): ReadonlyArray<string> =>
  [...new Set([...fromEngine, ...engineSocketsFromEnv(env)].flatMap((s) => [s, realPathOf(s)]))]

/** The host side of a bind mount (`/src:/dst[:mode]`); null for a named volume. */
const bindSource = (volume: string): string | null => {
  const source = volume.slice(0, volume.indexOf(":"))
  return source.startsWith("/") ? source : null
}

/** The bind mounts this launch would make on this machine (none with `unsafe_mounts`, or on a host). */
export const bindSources = (spec: ContainerSpec): ReadonlyArray<string> =>
  spec.unsafe_mounts || spec.host !== undefined
    ? []
    : [...spec.volumes, ...(spec.log_volume === null ? [] : [spec.log_volume])].flatMap((v) => {
      const s = bindSource(v)
      return s === null ? [] : [s]
    })

/** Why this launch is refused (a mount that is, or holds, one of `sockets`), or null. Judged on real paths. */
export const socketMountRefusal = (spec: ContainerSpec, sockets: ReadonlyArray<string>): string | null => {
  for (const source of bindSources(spec)) {
    const normal = path.resolve(source)
    const reason = validateHostMount(normal, source, { sockets }) ?? validateHostMount(realPathOf(normal), source, { sockets })
    if (reason !== null) return reason
  }
  return null
}
