/**
 * Pure parsing of what Podman and Docker print: `ps -a` JSON (Podman: one array, labels as a map;
 * Docker: one object per line, labels as a `k=v,k=v` string; either form accepted from either
 * engine), `container inspect` JSON, states, times, exit codes, and kstlib's ownership labels.
 */
import type { Fingerprint, ObservedSession, ObservedState, RuntimeName } from "../../model.js"
import { canonicalJson, Marks, parseFingerprint } from "../../model.js"

type Json = Record<string, unknown>

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v)
const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null)
const int = (v: unknown): number | null => (typeof v === "number" && Number.isInteger(v) ? v : null)

// States that mean "exists, not running, not exited": Podman and Docker vocabularies.
const STOPPED_STATES = new Set([
  "created",
  "configured",
  "initialized",
  "paused",
  "stopping",
  "restarting",
  "removing",
  "dead"
])

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
export const exitCodeFromStatus = (status: unknown): number | null => {
  if (typeof status !== "string") return null
  const m = /^\s*exited\s*\((-?\d+)\)/i.exec(status)
  return m === null ? null : Number(m[1])
}

/** When a `ps` entry has no State (very old engines), its human Status still tells. */
const stateFromStatus = (status: unknown): string | null => {
  if (typeof status !== "string") return null
  const s = status.trim().toLowerCase()
  if (s.startsWith("up ")) return s.includes("(paused)") ? "paused" : "running"
  if (s.startsWith("exited")) return "exited"
  if (s.startsWith("created")) return "created"
  return null
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
  const s = value.trim()
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?(?:\s+[A-Za-z]+)?$/.exec(s)
  if (m === null) return null
  if (m[1]!.startsWith("0001-")) return null
  const frac = (m[3] ?? "").slice(0, 3).padEnd(3, "0")
  const zone = m[4] === undefined || m[4] === "Z" ? "Z" : m[4].length === 5 ? `${m[4].slice(0, 3)}:${m[4].slice(3)}` : m[4]
  return isoOrNull(Date.parse(`${m[1]}T${m[2]}.${frac}${zone}`))
}

/**
 * Labels as a map, from Podman's map or Docker's `k=v,k=v` string. A piece without `=` belongs to the
 * previous value (a comma inside a foreign label's value); kstlib's own values never contain commas.
 */
export const parseLabels = (value: unknown): Readonly<Record<string, string>> => {
  if (isObject(value)) {
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

/** The applied fingerprint as a label value: base64url of its canonical JSON (no commas, no quotes). */
export const encodeApplied = (fp: Fingerprint): string => Buffer.from(canonicalJson(fp), "utf8").toString("base64url")

/** Reads the label back; raw JSON is accepted too. Anything unreadable is null. */
export const decodeApplied = (text: string | null | undefined): Fingerprint | null => {
  if (text === null || text === undefined || text === "") return null
  if (text.trimStart().startsWith("{")) return parseFingerprint(text)
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(text)) return null
  return parseFingerprint(Buffer.from(text, "base64url").toString("utf8"))
}

const ownership = (labels: Readonly<Record<string, string>>) => ({
  owned: labels[Marks.labelManaged] === "true",
  spec_hash: str(labels[Marks.labelSpec]),
  applied: decodeApplied(labels[Marks.labelApplied])
})

const firstName = (v: unknown): string | null => {
  const raw = Array.isArray(v) ? v[0] : v
  if (typeof raw !== "string" || raw === "") return null
  const first = raw.split(",")[0]!.trim()
  return first.startsWith("/") ? first.slice(1) : first
}

const positivePid = (v: unknown): number | null => {
  const n = int(v)
  return n !== null && n > 0 ? n : null
}

/** One `ps -a` entry (either engine's shape); null when it has no usable name. */
export const psEntryToObserved = (entry: Json, runtime: RuntimeName): ObservedSession | null => {
  const name = firstName(entry["Names"] ?? entry["Name"])
  if (name === null) return null
  const state = mapState(entry["State"] ?? stateFromStatus(entry["Status"]))
  const labels = parseLabels(entry["Labels"])
  const exitCode = state === "exited" ? (int(entry["ExitCode"]) ?? exitCodeFromStatus(entry["Status"])) : null
  const created = typeof entry["Created"] === "number"
    ? parseCreated(entry["Created"])
    : (parseCreated(entry["CreatedAt"]) ?? parseCreated(entry["Created"]))
  return {
    name,
    backend: "container",
    state,
    pid: state === "running" ? positivePid(entry["Pid"]) : null,
    created_at: created,
    image: str(entry["Image"]),
    socket_name: null,
    runtime,
    exit_code: exitCode,
    window_count: 0,
    ...ownership(labels)
  }
}

/** The JSON objects in a command's output: one array (Podman) or one object per line (Docker). */
export const jsonObjects = (stdout: string): ReadonlyArray<Json> => {
  const text = stdout.trim()
  if (text === "") return []
  try {
    const whole: unknown = JSON.parse(text)
    if (Array.isArray(whole)) return whole.filter(isObject)
    if (isObject(whole)) return [whole]
  } catch {
    // not one document: NDJSON
  }
  const out: Array<Json> = []
  for (const line of text.split("\n")) {
    const l = line.trim()
    if (l === "") continue
    try {
      const v: unknown = JSON.parse(l)
      if (isObject(v)) out.push(v)
      else if (Array.isArray(v)) out.push(...v.filter(isObject))
    } catch {
      // a garbage line (a warning on stdout) is skipped, not fatal
    }
  }
  return out
}

export const parsePs = (stdout: string, runtime: RuntimeName): ReadonlyArray<ObservedSession> =>
  jsonObjects(stdout).flatMap((e) => {
    const o = psEntryToObserved(e, runtime)
    return o === null ? [] : [o]
  })

/** `container inspect NAME` output; null when it holds no container document. `name` is reported as asked. */
export const parseInspect = (stdout: string, name: string, runtime: RuntimeName): ObservedSession | null => {
  const doc = jsonObjects(stdout)[0]
  if (doc === undefined) return null
  const st = isObject(doc["State"]) ? doc["State"] : null
  if (st === null) return null // an image or volume document, never a container
  const config = isObject(doc["Config"]) ? doc["Config"] : {}
  const rawStatus = st["Status"] ?? (st["Running"] === true ? "running" : undefined)
  const state = mapState(rawStatus)
  return {
    name,
    backend: "container",
    state,
    pid: state === "running" ? positivePid(st["Pid"]) : null,
    created_at: parseCreated(doc["Created"]),
    image: str(doc["ImageName"]) ?? str(config["Image"]) ?? str(doc["Image"]),
    socket_name: null,
    runtime,
    exit_code: state === "exited" ? int(st["ExitCode"]) : null,
    window_count: 0,
    ...ownership(parseLabels(config["Labels"]))
  }
}

/** The engines' way of saying a container does not exist (inspect, logs, stop, rm...). */
export const isNoSuchContainer = (text: string): boolean =>
  /no such container|no container with name or id/i.test(text)

/** Engine error text without the `Run 'docker run --help'` hints. */
export const engineMessage = (stderr: string): string =>
  stderr
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l !== "" && !/^(Run|See) '.*--help'/.test(l) && !/level=warning msg="The input device is not a TTY/.test(l))
    .join("\n")
    .trim()

/** The last `n` non-empty lines, CRLF (TTY containers) normalized. */
export const lastLines = (text: string, n: number): string =>
  text.replace(/\r\n/g, "\n").split("\n").filter((l) => l.trim() !== "").slice(-n).join("\n")
