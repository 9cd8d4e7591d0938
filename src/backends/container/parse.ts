/**
 * Pure parsing of what Podman and Docker print, decoded with Schema: `ps -a` JSON (Podman: one
 * array, labels as a map; Docker: one object per line from psArgs' template, kstlib's labels as a
 * map; either form accepted from either engine), `container inspect` JSON, states, times, exit
 * codes, and kstlib's marks (labels, compared exactly). A listing is read whole or not at all: one
 * line that is not JSON makes it unreadable, never a shorter list (fewer containers would read as
 * "not there": `down` would say "no changes", `apply` would create a second copy).
 */
import { Option, Schema } from "effect"
import { escapeText } from "../../errors.js"
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
 * Labels from a map (Podman's `ps` and every `inspect`; Docker's `ps` through psArgs' template).
 * Docker's own `ps` form, one `k=v,k=v` string, gives none: it cannot be split safely, since a
 * foreign label's VALUE may hold `,io.kstlib.managed=true,io.kstlib.project=P`.
 */
export const parseLabels = (value: unknown): Readonly<Record<string, string>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === "string")) as Record<string, string>
    : {}

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
  RestartCount: Int,
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

/** What a listing holds, or why it cannot be read (then nothing of it is used). */
export type Listing<A> =
  | { readonly ok: true; readonly items: ReadonlyArray<A> }
  | { readonly ok: false; readonly reason: string }

const preview = (line: string) => escapeText(line.length > 80 ? `${line.slice(0, 77)}...` : line)

/**
 * The JSON values in a command's output: one document (Podman's array, `inspect`) or one value per
 * line (Docker's `--format` lines). A line that is not JSON makes the whole output unreadable.
 */
export const jsonValues = (stdout: string): Listing<unknown> => {
  const text = stdout.trim()
  if (text === "") return { ok: true, items: [] }
  let notOne = ""
  try {
    const whole: unknown = JSON.parse(text)
    return { ok: true, items: Array.isArray(whole) ? whole : [whole] }
  } catch (e) {
    notOne = (e as Error).message // not one document: NDJSON?
  }
  const items: Array<unknown> = []
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === "") continue
    try {
      const v: unknown = JSON.parse(line)
      if (Array.isArray(v)) items.push(...(v as Array<unknown>))
      else items.push(v)
    } catch {
      // a document spread over lines (Podman's array) with something else in it: say what broke it
      if (items.length === 0 && (line === "[" || line === "{")) return { ok: false, reason: `not one JSON document: ${preview(notOne)}` }
      return { ok: false, reason: `line ${i + 1} is not JSON: ${preview(line)}` }
    }
  }
  return { ok: true, items }
}

/** Each JSON value of a listing as one item, or the listing unreadable naming the first that is not one. */
export const parseListing = <A>(stdout: string, item: (raw: unknown) => A | null, what: string): Listing<A> => {
  const values = jsonValues(stdout)
  if (!values.ok) return values
  const items: Array<A> = []
  for (let i = 0; i < values.items.length; i++) {
    const a = item(values.items[i])
    if (a === null) return { ok: false, reason: `entry ${i + 1} is not ${what}: ${preview(JSON.stringify(values.items[i]) ?? "")}` }
    items.push(a)
  }
  return { ok: true, items }
}

export const parsePs = (stdout: string, runtime: RuntimeName): Listing<ObservedContainer> =>
  parseListing(stdout, (e) => psEntryToObserved(e, runtime), "a container with a name")

/**
 * `container inspect NAME` output: the container, or null when it holds no container document (an
 * image's, an empty array). `name` is reported as asked.
 */
export const parseInspect = (
  stdout: string,
  name: string,
  runtime: RuntimeName
): { readonly ok: true; readonly container: ObservedContainer | null } | { readonly ok: false; readonly reason: string } => {
  const values = jsonValues(stdout)
  if (!values.ok) return values
  const first = values.items[0]
  const decoded = first === undefined ? Option.none() : decodeInspectDoc(first)
  if (Option.isNone(decoded)) return { ok: true, container: null }
  const doc = decoded.value
  const state = mapState(doc.State.Status ?? (doc.State.Running === true ? "running" : undefined))
  const labels = parseLabels(doc.Config?.Labels)
  return {
    ok: true,
    container: {
      backend: "container",
      name,
      runtime,
      state,
      pid: state === "running" ? positive(doc.State.Pid) : null,
      created_at: parseCreated(doc.Created),
      image: nonEmpty(doc.ImageName) ?? nonEmpty(doc.Config?.Image) ?? nonEmpty(doc.Image),
      exit_code: state === "exited" ? integer(doc.State.ExitCode) : null,
      mark: markOf(labels),
      ...(labels[Marks.labelLog] === undefined ? {} : { log_label: labels[Marks.labelLog] }),
      ...(integer(doc.RestartCount) === null ? {} : { restarts: integer(doc.RestartCount) })
    }
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

/**
 * Why a pull failed, from its stderr: the engine's final error lines (podman `Error: …`, docker
 * `Error response from daemon: …`), without the progress (`Trying to pull …`) and podman's retry
 * warnings that repeat it; the whole message when there is no such line.
 */
export const pullFailure = (stderr: string): string => {
  const all = engineMessage(stderr)
  const errors = all.split("\n").filter((l) => /^Error\b/u.test(l))
  return errors.length > 0 ? errors.join("\n") : all
}

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
  const values = jsonValues(stdout)
  // unreadable: every count unknown (never wrong ones)
  for (const raw of values.ok ? values.items : []) {
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
