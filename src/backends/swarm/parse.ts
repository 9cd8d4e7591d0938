/**
 * Pure parsing of what `docker service ls / inspect / ps` print, into ObservedContainer with
 * `runtime: "swarm"`. State of a service: desired 0 tasks = `stopped` (kstlib's stop scales to 0);
 * a task running = `running`; none running while some are wanted = the last task's end (`exited`
 * with its exit code) when `service ps` tells, else `unknown` (starting). Each listing is read
 * whole or not at all (see container/parse.ts).
 */
import { Option, Schema } from "effect"
import type { ObservedContainer, ObservedState } from "../../model.js"
import type { Listing } from "../container/parse.js"
import { markOf, parseCreated, parseLabels, parseListing } from "../container/parse.js"
import { Marks } from "../../model.js"

const Str = Schema.optionalKey(Schema.NullOr(Schema.String))

const LsRow = Schema.Struct({ ID: Schema.String, Name: Schema.String, Replicas: Str, Image: Str, Mode: Str })
const decodeLsRow = Schema.decodeUnknownOption(LsRow)

export interface ServiceRow {
  readonly id: string
  readonly name: string
  readonly running: number | null
  readonly desired: number | null
  readonly image: string | null
}

/** `1/3`, `0/0`, `1/1 (max 1 per node)`. */
export const parseReplicas = (text: string | null | undefined): { readonly running: number | null; readonly desired: number | null } => {
  const m = text === null || text === undefined ? null : /^\s*(\d+)\/(\d+)/u.exec(text)
  return m === null ? { running: null, desired: null } : { running: Number(m[1]), desired: Number(m[2]) }
}

export const parseServiceLs = (stdout: string): Listing<ServiceRow> =>
  parseListing(stdout, (raw) => {
    const d = decodeLsRow(raw)
    if (Option.isNone(d)) return null
    const r = parseReplicas(d.value.Replicas)
    return { id: d.value.ID, name: d.value.Name, ...r, image: stripDigest(d.value.Image ?? null) }
  }, "a service")

/** `img:tag@sha256:…` → `img:tag` (what the config says). */
export const stripDigest = (image: string | null): string | null => {
  if (image === null || image === "") return null
  const at = image.indexOf("@sha256:")
  return at === -1 ? image : image.slice(0, at)
}

const InspectDoc = Schema.Struct({
  ID: Schema.String,
  CreatedAt: Schema.optionalKey(Schema.Unknown),
  Spec: Schema.Struct({
    Name: Schema.String,
    Labels: Schema.optionalKey(Schema.Unknown),
    Mode: Schema.optionalKey(Schema.Struct({ Replicated: Schema.optionalKey(Schema.Struct({ Replicas: Schema.optionalKey(Schema.Number) })) })),
    TaskTemplate: Schema.optionalKey(Schema.Struct({ ContainerSpec: Schema.optionalKey(Schema.Struct({ Image: Str })) }))
  })
})
const decodeInspect = Schema.decodeUnknownOption(InspectDoc)

export interface ServiceDoc {
  readonly id: string
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly created_at: string | null
  /** Replicated mode's wanted tasks; null for a global service. */
  readonly replicas: number | null
  readonly image: string | null
}

export const parseServiceInspect = (stdout: string): Listing<ServiceDoc> =>
  parseListing(stdout, (raw) => {
    const d = decodeInspect(raw)
    if (Option.isNone(d)) return null
    const doc = d.value
    return {
      id: doc.ID,
      name: doc.Spec.Name,
      labels: parseLabels(doc.Spec.Labels ?? {}),
      created_at: parseCreated(doc.CreatedAt),
      replicas: doc.Spec.Mode?.Replicated?.Replicas ?? null,
      image: stripDigest(doc.Spec.TaskTemplate?.ContainerSpec?.Image ?? null)
    }
  }, "a service document")

const PsRow = Schema.Struct({ ID: Schema.String, Name: Schema.String, CurrentState: Str, DesiredState: Str, Error: Str })
const decodePsRow = Schema.decodeUnknownOption(PsRow)

export interface TaskRow {
  readonly id: string
  /** `web.1` (the service name is everything before the last dot). */
  readonly name: string
  readonly service: string
  /** `running`, `failed`, `complete`, `ready`, `starting`, `shutdown`… (lower case, without the age). */
  readonly state: string
  readonly desired: string
  readonly error: string
}

/** `docker service ps` rows, in its order (per slot: the current task first, then its history). */
export const parseServicePs = (stdout: string): Listing<TaskRow> =>
  parseListing(stdout, (raw) => {
    const d = decodePsRow(raw)
    if (Option.isNone(d)) return null
    const name = d.value.Name.replace(/^[\s\\_]+/u, "")
    const dot = name.lastIndexOf(".")
    return {
      id: d.value.ID,
      name,
      service: dot > 0 ? name.slice(0, dot) : name,
      state: (d.value.CurrentState ?? "").trim().split(/\s+/u)[0]!.toLowerCase(),
      desired: (d.value.DesiredState ?? "").toLowerCase(),
      error: (d.value.Error ?? "").replace(/^"|"$/gu, "")
    }
  }, "a task")

/** `task: non-zero exit (7)` → 7; a task that completed → 0. */
export const exitCodeOfTask = (t: TaskRow): number | null => {
  const m = /non-zero exit \((-?\d+)\)/u.exec(t.error)
  if (m !== null) return Number(m[1])
  return t.state === "complete" ? 0 : null
}

const ENDED = new Set(["failed", "complete", "rejected", "shutdown", "orphaned"])

/** A service's state from its row (running/desired) and, when none runs, its tasks. */
export const serviceState = (
  row: ServiceRow | undefined,
  doc: ServiceDoc,
  tasks: ReadonlyArray<TaskRow>
): { readonly state: ObservedState; readonly exit_code: number | null } => {
  const desired = doc.replicas ?? row?.desired ?? null
  if (desired === 0) return { state: "stopped", exit_code: null }
  if (row?.running !== null && row?.running !== undefined && row.running > 0) return { state: "running", exit_code: null }
  if (tasks.some((t) => t.state === "running")) return { state: "running", exit_code: null }
  // The most recent task that ended (listed first in its slot) tells how the process went.
  const ended = tasks.find((t) => ENDED.has(t.state) && exitCodeOfTask(t) !== null)
  if (ended !== undefined) return { state: "exited", exit_code: exitCodeOfTask(ended) }
  return { state: "unknown", exit_code: null }
}

/** The services as observed sessions (every service: ours, another project's, foreign). */
export const toObserved = (
  rows: ReadonlyArray<ServiceRow>,
  docs: ReadonlyArray<ServiceDoc>,
  tasks: ReadonlyArray<TaskRow>
): ReadonlyArray<ObservedContainer> =>
  docs.map((doc) => {
    const row = rows.find((r) => r.id === doc.id || doc.id.startsWith(r.id))
    const s = serviceState(row, doc, tasks.filter((t) => t.service === doc.name))
    return {
      backend: "container",
      runtime: "swarm",
      name: doc.name,
      state: s.state,
      pid: null,
      created_at: doc.created_at,
      image: doc.image ?? row?.image ?? null,
      exit_code: s.exit_code,
      mark: markOf(doc.labels),
      ...(doc.labels[Marks.labelLog] === undefined ? {} : { log_label: doc.labels[Marks.labelLog] })
    }
  })

/** The daemon is not a swarm manager (swarm mode off): swarm is simply not available. */
export const isNotSwarmManager = (text: string): boolean => /not a swarm manager|swarm mode|This node is not part of a swarm/iu.test(text)

export const isNoSuchService = (text: string): boolean => /no such service|service .* not found/iu.test(text)
