/**
 * A stored fingerprint (what kstlib stamped on a session of its own) back into a config entry, for
 * `ops freeze`. Pure. The fingerprint holds every field that shapes what runs; env values are only
 * digests, so each env key comes back as a `${KEY}` placeholder for the user to fill.
 */
import type { Fingerprint, FingerprintValue, Mark, PaneSpec } from "../model.js"
import { containerFields } from "./container.js"
import type { Field } from "./field.js"
import { storedWindows, tmuxFields } from "./tmux.js"

/** Fields stored as the decimal text of a number. */
const NUMERIC = new Set(["max_restarts", "restart_delay", "max_backoff", "min_uptime", "stop_timeout", "max_memory", "log_max_size", "log_keep", "replicas", "memory", "cpus"])

const placeholders = (keys: ReadonlyArray<string>) => Object.fromEntries(keys.map((k) => [k, `\${${k}}`]))

const readyOf = (v: FingerprintValue): Record<string, unknown> | null => {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return null
  const r = v as Readonly<Record<string, string>>
  return Object.fromEntries(Object.entries(r).map(([k, x]) => [k, k === "tcp" || k === "timeout" || k === "interval" ? Number(x) : x]))
}

/** A pane as a config pane: only what is not a default. */
const paneEntry = (p: PaneSpec, focus: boolean): Record<string, unknown> => ({
  ...(p.command === null ? {} : { command: p.command }),
  ...(p.shell ? { shell: true } : {}),
  ...(p.working_dir === null ? {} : { working_dir: p.working_dir }),
  ...(Object.keys(p.env).length === 0 ? {} : { env: placeholders(Object.keys(p.env)) }),
  ...(focus ? { focus: true } : {})
})

const windowsOf = (v: FingerprintValue): Array<Record<string, unknown>> | null =>
  storedWindows(v)?.map((w) => ({
    name: w.name,
    // pane 0 has focus by default
    panes: w.panes.map((p, i) => paneEntry(p, w.focus_pane !== 0 && i === w.focus_pane)),
    ...(w.layout === null ? {} : { layout: w.layout }),
    ...(w.focus ? { focus: true } : {})
  })) ?? null

const isEmpty = (v: unknown) => v === null || v === undefined || (Array.isArray(v) && v.length === 0) || (typeof v === "object" && v !== null && Object.keys(v).length === 0)

/** What `freeze` makes of a session of ours: the entry its stamp describes; null: not ours, or no stamp. */
export const stampedEntry = (mark: Mark): Record<string, unknown> | null =>
  mark.managed && mark.applied !== null ? entryOfFingerprint(mark.applied) : null

/** The config entry a stored fingerprint describes (fields at their default left out); null: not a fingerprint of this backend. */
export const entryOfFingerprint = (fp: Fingerprint): Record<string, unknown> | null => {
  const backend = fp["backend"]
  const table: ReadonlyArray<Field<never>> | null = backend === "tmux" ? (tmuxFields as ReadonlyArray<Field<never>>) : backend === "container" ? (containerFields as ReadonlyArray<Field<never>>) : null
  if (table === null) return null
  const out: Record<string, unknown> = {}
  for (const f of table) {
    const v = fp[f.name]
    if (v === undefined || isEmpty(v)) continue
    if (f.name === "env") out["env"] = placeholders(Object.keys(v as Record<string, string>))
    else if (f.name === "ready") out["ready"] = readyOf(v)
    else if (f.name === "windows") {
      const windows = windowsOf(v)
      if (windows !== null) out["windows"] = windows
    }
    else if (NUMERIC.has(f.name) && typeof v === "string") out[f.name] = Number(v)
    else if (v === "true" || v === "false") out[f.name] = v === "true"
    else out[f.name] = v
  }
  if (out["shell"] === false) delete out["shell"]
  // rows that are no config field: the context's digest (the config's build: makes it again),
  // declared volumes (named in `volumes`, declared under ops.volumes), tmpfs (the long volume form)
  delete out["build_context"]
  delete out["declared_volumes"]
  if (Array.isArray(out["tmpfs"])) {
    out["volumes"] = [...((out["volumes"] as Array<unknown> | undefined) ?? []), ...(out["tmpfs"] as Array<string>).map((target) => ({ type: "tmpfs", target }))]
    delete out["tmpfs"]
  }
  return out
}
