/**
 * `ops freeze` of a container kstlib did not create, pure: its `container inspect` document as a
 * config entry (image, command, directory, env keys, ports, bind mounts, restart policy). What has
 * no kstlib field is named in the notes. Env values are never read into the entry: keys only.
 */
import { Option, Schema } from "effect"
import { quoteWord } from "../../command.js"
import type { RuntimeName } from "../../model.js"
import type { Frozen } from "../driver.js"

const Str = Schema.optionalKey(Schema.NullOr(Schema.String))
const Strs = Schema.optionalKey(Schema.NullOr(Schema.Union([Schema.Array(Schema.String), Schema.String])))
const Doc = Schema.Struct({
  Name: Str,
  Config: Schema.Struct({ Image: Str, Cmd: Strs, Entrypoint: Strs, Env: Strs, WorkingDir: Str }),
  HostConfig: Schema.optionalKey(Schema.Struct({
    PortBindings: Schema.optionalKey(Schema.NullOr(Schema.Record(Schema.String, Schema.NullOr(Schema.Array(Schema.Struct({ HostIp: Str, HostPort: Str })))))),
    RestartPolicy: Schema.optionalKey(Schema.NullOr(Schema.Struct({ Name: Str, MaximumRetryCount: Schema.optionalKey(Schema.NullOr(Schema.Number)) })))
  })),
  Mounts: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.Struct({ Type: Str, Source: Str, Destination: Str, RW: Schema.optionalKey(Schema.Boolean), Name: Str }))))
})
const decodeDoc = Schema.decodeUnknownOption(Doc)

/** Set by the engine or the image in every container, not by whoever ran it. */
const ENGINE_ENV = new Set(["PATH", "TERM", "HOME", "HOSTNAME", "container"])

const words = (v: string | ReadonlyArray<string> | null | undefined): ReadonlyArray<string> =>
  v === null || v === undefined || v === "" ? [] : typeof v === "string" ? [v] : v

/** One inspect document → its entry; null: not a container document. */
export const frozenContainer = (doc: unknown, runtime: RuntimeName): Frozen | null => {
  const d = Option.getOrNull(decodeDoc(doc))
  if (d === null || d.Config.Image === undefined || d.Config.Image === null) return null
  const notes: Array<string> = []
  const cmd = words(d.Config.Cmd)
  if (words(d.Config.Entrypoint).length > 0) notes.push(`entrypoint ${words(d.Config.Entrypoint).join(" ")} (not carried: kstlib runs the image's entrypoint)`)
  const envKeys = words(d.Config.Env).map((e) => e.split("=", 1)[0]!).filter((k) => k !== "" && !ENGINE_ENV.has(k))
  const ports: Array<string> = []
  for (const [spec, binds] of Object.entries(d.HostConfig?.PortBindings ?? {})) {
    const [port, proto] = spec.split("/")
    for (const b of binds ?? []) {
      if (b.HostPort === undefined || b.HostPort === null || b.HostPort === "") continue
      // an address of its own is kept (`127.0.0.1:5432:5432`); every address is the short form
      const ip = b.HostIp === undefined || b.HostIp === null || b.HostIp === "" || b.HostIp === "0.0.0.0" || b.HostIp === "::" ? "" : b.HostIp.includes(":") ? `[${b.HostIp}]:` : `${b.HostIp}:`
      ports.push(`${ip}${b.HostPort}:${port}${proto !== undefined && proto !== "tcp" ? `/${proto}` : ""}`)
    }
  }
  const volumes: Array<string> = []
  for (const m of d.Mounts ?? []) {
    if (m.Type === "bind" && m.Source && m.Destination) volumes.push(`${m.Source}:${m.Destination}${m.RW === false ? ":ro" : ""}`)
    else notes.push(`${m.Type ?? "a"} mount at ${m.Destination ?? "?"} (not carried)`)
  }
  const policy = d.HostConfig?.RestartPolicy?.Name ?? ""
  const restart = policy === "always" || policy === "unless-stopped" ? { restart: policy } : policy === "on-failure" ? {
    restart: "on-failure",
    ...(d.HostConfig?.RestartPolicy?.MaximumRetryCount ? { max_restarts: d.HostConfig.RestartPolicy.MaximumRetryCount } : {})
  } : {}
  return {
    entry: {
      backend: "container",
      runtime,
      image: d.Config.Image,
      ...(cmd.length === 0 ? {} : { command: cmd.map(quoteWord).join(" ") }),
      ...(d.Config.WorkingDir ? { working_dir: d.Config.WorkingDir } : {}),
      ...(envKeys.length === 0 ? {} : { env: Object.fromEntries(envKeys.map((k) => [k, `\${${k}}`])) }),
      ...(ports.length === 0 ? {} : { ports }),
      ...(volumes.length === 0 ? {} : { volumes }),
      ...restart
    },
    notes
  }
}
