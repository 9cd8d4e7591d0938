/**
 * `stats --no-stream --format '{{json .}}'` of Podman and Docker, pure. ONE call per engine lists
 * every running container (no names: one that ended in between would fail the whole call on both
 * engines). Their forms differ:
 * - Docker: one object per line, strings: `CPUPerc` `"99.37%"` (of one core, over the ~1 s the
 *   client samples), `MemUsage` `"612KiB / 23.54GiB"` (powers of 1024), `Name`.
 * - Podman 4: one array, snake_case strings: `cpu_percent` `"97.54%"`, `cpu_time` `"3.57s"` (a Go
 *   duration), `mem_usage` `"561.2kB / 25.28GB"` (powers of 1000), `name`.
 * - Podman 5: its stats struct, one object per line, numbers: `CPU`, `CPUNano` (ns), `MemUsage`
 *   (bytes), `Name`.
 * Podman's one-shot CPU% is the average since the container started; its CPU time, read twice over
 * the same short window as tmux's /proc scans, gives the recent CPU% that Docker and `top` show.
 */
import { jsonValues } from "./parse.js"

/** The args after the binary. */
export const STATS_ARGS: ReadonlyArray<string> = ["stats", "--no-stream", "--format", "{{json .}}"]

export interface EngineStats {
  /** Percent of one core, as the engine computed it (Podman: since the start). */
  readonly cpu_percent: number | null
  /** CPU time used so far, nanoseconds (Podman only). */
  readonly cpu_nanos: number | null
  readonly memory_bytes: number | null
}

const UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  pb: 1e15,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  pib: 1024 ** 5
}

/** `612KiB`, `561.2kB`, `0B`, `1.5 GB` → bytes; null when not a size. */
export const parseEngineSize = (text: string): number | null => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/u.exec(text)
  if (m === null) return null
  const unit = UNITS[(m[2] === "" ? "b" : m[2]!).toLowerCase()]
  return unit === undefined ? null : Math.round(Number(m[1]) * unit)
}

/** `"97.54%"` or 97.54 → 97.54; `"--"` (not measured) → null. */
const percent = (v: unknown): number | null => {
  if (typeof v === "number") return Number.isFinite(v) ? v : null
  if (typeof v !== "string") return null
  const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/u.exec(v)
  return m === null ? null : Number(m[1])
}

/** `"1m2.5s"`, `"3.57894402s"`, `"500ms"`, `"0s"` (Go's time.Duration) → nanoseconds. */
export const parseGoDuration = (text: string): number | null => {
  const units: Readonly<Record<string, number>> = { h: 3.6e12, m: 6e10, s: 1e9, ms: 1e6, us: 1e3, "µs": 1e3, "μs": 1e3, ns: 1 }
  const s = text.trim()
  if (s === "0") return 0
  let total = 0
  let rest = s
  while (rest !== "") {
    const m = /^(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|μs|ns)/u.exec(rest)
    if (m === null) return null
    total += Number(m[1]) * units[m[2]!]!
    rest = rest.slice(m[0].length)
  }
  return s === "" ? null : Math.round(total)
}

/** `MemUsage`: bytes (Podman 5) or `USED / LIMIT` text. */
const memory = (v: unknown): number | null => {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? v : null
  if (typeof v !== "string") return null
  return parseEngineSize(v.split("/")[0] ?? "")
}

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null)

/** The stats of each running container, by name; what cannot be read is left out (its usage then unknown). */
export const parseStats = (stdout: string): ReadonlyMap<string, EngineStats> => {
  const out = new Map<string, EngineStats>()
  const values = jsonValues(stdout)
  for (const raw of values.ok ? values.items : []) {
    if (raw === null || typeof raw !== "object") continue
    const o = raw as Record<string, unknown>
    const name = str(o["Name"]) ?? str(o["name"])
    if (name === null) continue
    const nanos = typeof o["CPUNano"] === "number" ? o["CPUNano"] : typeof o["cpu_time"] === "string" ? parseGoDuration(o["cpu_time"]) : null
    out.set(name.replace(/^\//u, ""), {
      cpu_percent: percent(o["CPUPerc"] ?? o["cpu_percent"] ?? o["CPU"]),
      cpu_nanos: nanos,
      memory_bytes: memory(o["MemUsage"] ?? o["mem_usage"])
    })
  }
  return out
}

/**
 * Recent CPU% from two readings of a container's CPU time `seconds` apart (Podman); without both,
 * the engine's own figure of the second reading.
 */
export const recentCpu = (before: EngineStats | undefined, after: EngineStats, seconds: number): number | null => {
  if (before?.cpu_nanos == null || after.cpu_nanos === null || seconds <= 0) return after.cpu_percent
  const used = Math.max(0, after.cpu_nanos - before.cpu_nanos)
  return Math.round((used / 1e9 / seconds) * 1000) / 10
}
