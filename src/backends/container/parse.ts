/**
 * Pure parsing of what Podman and Docker print, decoded with Schema: `ps -a` JSON (Podman: one
 * array, labels as a map; Docker: one object per line, labels as a `k=v,k=v` string; either form
 * accepted from either engine), `container inspect` JSON, states, times, exit codes, and kstlib's
 * marks (labels, compared exactly).
 */
import { Option, Schema } from "effect"
import type { Mark, ObservedContainer, ObservedState, RuntimeName } from "../../model.js"
import { Marks } from "../../model.js"
import { decodeFingerprint } from "../../spec/fingerprint.js"

// States that mean "exists, not running, not exited": Podman and Docker vocabularies.
const STOPPED_STATES = new Set(["created", "configured", "initialized", "paused", "stopping", "restarting", "removing", "dead"])

/** The ONE state mapping used for `ps` and `inspect` alike. */
export const mapState = (status: unknown): ObservedState => {
  if (typeof status !== "string") return "unknown"
  const s = status.trim().toLowerCase()
  if (s === "running") return "running"
  // Podman says "stopped" for a moment after the process ends (exit code already set, cleanup
  // pending) before "exited": both mean the process is gone.
  if (s === "exited" || s === "stopped") return "exited"
  return STOPPED_STATES.has(s) ? "stopped" : "unknown"
}

/** Docker's `ps` has no exit code field: it is only in the human Status, `Exited (3) 5 seconds ago`. */
export const exitCodeFromStatus = (status: string | undefined): number | null => {
  const m = status === undefined ? null : /^\s*exited\s*\((-?\d+)\)/i.exec(status)
  return m === null ? null : Number(m[1])
}

/** When a `ps` entry has no State (very old engines), its human Status still tells. */
const stateFromStatus = (status: string | undefined): string | undefined => {
  const s = status?.trim().toLowerCase()
  if (s === undefined) return undefined
  if (s.startsWith("up ")) return s.includes("(paused)") ? "paused" : "running"
  if (s.startsWith("exited")) return "exited"
  if (s.startsWith("created")) return "created"
  return undefined
}

const isoOrNull = (ms: number): string | null => {
  const d = new Date(ms)
  return Number.isNaN(d.getTime()) ? null : d.toISOString()
}

/**
 * Creation time as ISO 8601 from any form the engines print: epoch seconds (Podman `ps` Created),
 * RFC 3339 with nanoseconds (inspect Created), Docker `ps` CreatedAt `2024-01-01 10:00:00 +0000 UTC`.
 * Human forms (Podman `ps` CreatedAt `2 seconds ago`) and zero times give null.
 */
export const parseCreated = (value: unknown): string | null => {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value <= 0) return null
    return isoOrNull(value > 1e12 ? value : value * 1000)
  }
  if (typeof value !== "string") return null
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?(?:\s+[A-Za-z]+)?$/.exec(value.trim())
  if (m === null || m[1]!.startsWith("0001-")) return null
  const frac = (m[3] ?? "").slice(0, 3).padEnd(3, "0")
  const zone = m[4] === undefined || m[4] === "Z" ? "Z" : m[4].length === 5 ? `${m[4].slice(0, 3)}:${m[4].slice(3)}` : m[4]
  return isoOrNull(Date.parse(`${m[1]}T${m[2]}.${frac}${zone}`))
}

/**
 * Labels as a map, from Podman's map or Docker's `k=v,k=v` string. A piece without `=` belongs to the
 * previous value (a comma inside a foreign label's value); kstlib's own values never contain commas.
 */
export const parseLabels = (value: unknown): Readonly<Record<string, string>> => {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === "string")) as Record<string, string>
  }
  if (typeof value !== "string" || value === "") return {}
  const out: Record<string, string> = {}
  let last: string | null = null
  for (const piece of value.split(",")) {
    const eq = piece.indexOf("=")
    if (eq > 0) {
      last = piece.slice(0, eq)
      out[last] = piece.slice(eq + 1)
    } else if (last !== null) {
      out[last] += `,${piece}`
    }
  }
  return out
}

const nonEmpty = (v: string | undefined | null): string | null => (v === undefined || v === null || v === "" ? null : v)

/** kstlib's marks from labels: each compared with the exact value kstlib writes. */
export const markOf = (labels: Readonly<Record<string, string>>): Mark => ({
  managed: labels[Marks.labelManaged] === Marks.managedValue.container,
  project: nonEmpty(labels[Marks.labelProject]),
  spec_hash: nonEmpty(labels[Marks.labelSpec]),
  applied: decodeFingerprint(labels[Marks.labelApplied])
})

const Loose = Schema.optionalKey(Schema.Unknown)
const Str = Schema.optionalKey(Schema.NullOr(Schema.String))
const Int = Schema.optionalKey(Schema.NullOr(Schema.Number))

/** One `ps -a` entry, either engine's shape: only the fields kstlib reads, each optional. */
const PsEntry = Schema.Struct({
  Names: Schema.optionalKey(Schema.Union([Schema.String, Schema.Array(Schema.String)])),
  Name: Str,
  State: Str,
  Status: Str,
  ExitCode: Int,
  Pid: Int,
  Image: Str,
  Created: Loose,
  CreatedAt: Loose,
  Labels: Loose
})
const decodePsEntry = Schema.decodeUnknownOption(PsEntry)

/** One `container inspect` document; an image or volume document has no `State` object. */
const InspectDoc = Schema.Struct({
  State: Schema.Struct({ Status: Str, Running: Schema.optionalKey(Schema.Boolean), Pid: Int, ExitCode: Int }),
  Created: Loose,
  ImageName: Str,
  Image: Str,
  Config: Schema.optionalKey(Schema.Struct({ Image: Str, Labels: Loose }))
})
const decodeInspectDoc = Schema.decodeUnknownOption(InspectDoc)

const firstName = (v: string | ReadonlyArray<string> | null | undefined): string | null => {
  const raw = typeof v === "string" ? v : v?.[0]
  if (raw === undefined || raw === "") return null
  const first = raw.split(",")[0]!.trim()
  return nonEmpty(first.startsWith("/") ? first.slice(1) : first)
}

const positive = (n: number | null | undefined): number | null => (typeof n === "number" && Number.isInteger(n) && n > 0 ? n : null)
const integer = (n: number | null | undefined): number | null => (typeof n === "number" && Number.isInteger(n) ? n : null)

/** One `ps -a` entry; null when it is not an object with a usable name. */
export const psEntryToObserved = (raw: unknown, runtime: RuntimeName): ObservedContainer | null => {
  const decoded = decodePsEntry(raw)
  if (Option.isNone(decoded)) return null
  const e = decoded.value
  const name = firstName(e.Names ?? e.Name)
  if (name === null) return null
  const state = mapState(e.State ?? stateFromStatus(e.Status ?? undefined))
  const created = typeof e.Created === "number" ? parseCreated(e.Created) : (parseCreated(e.CreatedAt) ?? parseCreated(e.Created))
  return {
    backend: "container",
    name,
    runtime,
    state,
    pid: state === "running" ? positive(e.Pid) : null,
    created_at: created,
    image: nonEmpty(e.Image),
    exit_code: state === "exited" ? (integer(e.ExitCode) ?? exitCodeFromStatus(e.Status ?? undefined)) : null,
    mark: markOf(parseLabels(e.Labels))
  }
}

/** The JSON values in a command's output: one array (Podman) or one value per line (Docker). */
export const jsonValues = (stdout: string): ReadonlyArray<unknown> => {
  const text = stdout.trim()
  if (text === "") return []
  try {
    const whole: unknown = JSON.parse(text)
    return Array.isArray(whole) ? whole : [whole]
  } catch {
    // not one document: NDJSON
  }
  return text.split("\n").flatMap((line) => {
    try {
      const v: unknown = JSON.parse(line)
      return Array.isArray(v) ? v : [v]
    } catch {
      return [] // a garbage line (a warning on stdout) is skipped, not fatal
    }
  })
}

export const parsePs = (stdout: string, runtime: RuntimeName): ReadonlyArray<ObservedContainer> =>
  jsonValues(stdout).flatMap((e) => {
    const o = psEntryToObserved(e, runtime)
    return o === null ? [] : [o]
  })

/** `container inspect NAME` output; null when it holds no container document. `name` is reported as asked. */
export const parseInspect = (stdout: string, name: string, runtime: RuntimeName): ObservedContainer | null => {
  const first = jsonValues(stdout)[0]
  const decoded = first === undefined ? Option.none() : decodeInspectDoc(first)
  if (Option.isNone(decoded)) return null
  const doc = decoded.value
  const state = mapState(doc.State.Status ?? (doc.State.Running === true ? "running" : undefined))
  return {
    backend: "container",
    name,
    runtime,
    state,
    pid: state === "running" ? positive(doc.State.Pid) : null,
    created_at: parseCreated(doc.Created),
    image: nonEmpty(doc.ImageName) ?? nonEmpty(doc.Config?.Image) ?? nonEmpty(doc.Image),
    exit_code: state === "exited" ? integer(doc.State.ExitCode) : null,
    mark: markOf(parseLabels(doc.Config?.Labels))
  }
}

/** The engines' way of saying a container does not exist (inspect, logs, stop, rm...). */
export const isNoSuchContainer = (text: string): boolean => /no such container|no container with name or id/i.test(text)

/** Engine error text without the `Run 'docker run --help'` hints. */
export const engineMessage = (stderr: string): string =>
  stderr
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l !== "" && !/^(Run|See) '.*--help'/.test(l) && !/level=warning msg="The input device is not a TTY/.test(l))
    .join("\n")
    .trim()

/** One `container inspect` document's restart bookkeeping. */
const RestartDoc = Schema.Struct({
  Name: Str,
  RestartCount: Int,
  State: Schema.optionalKey(Schema.Struct({ ExitCode: Int, Status: Str }))
})
const decodeRestartDoc = Schema.decodeUnknownOption(RestartDoc)

export interface RestartInfo {
  readonly restarts: number
  /** The last exit code the engine recorded (kept while a restarted process runs); null before any exit. */
  readonly last_exit_code: number | null
}

/**
 * `container inspect A B …` (ONE call for every container with a restart policy: `ps` has no
 * restart count on either engine) → restart count and last exit code by name.
 */
export const parseRestartInfo = (stdout: string): ReadonlyMap<string, RestartInfo> => {
  const out = new Map<string, RestartInfo>()
  for (const raw of jsonValues(stdout)) {
    const decoded = decodeRestartDoc(raw)
    if (Option.isNone(decoded)) continue
    const d = decoded.value
    const name = firstName(d.Name)
    if (name === null) continue
    const restarts = integer(d.RestartCount) ?? 0
    const code = integer(d.State?.ExitCode)
    const running = mapState(d.State?.Status) === "running"
    // A running container that never ended reports 0: no exit known yet.
    out.set(name, { restarts, last_exit_code: running && restarts === 0 ? null : code })
  }
  return out
}
