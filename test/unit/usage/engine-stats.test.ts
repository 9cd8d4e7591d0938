/**
 * `stats --no-stream --format '{{json .}}'` as each engine prints it (captured from Podman 4.3.1 and
 * Docker 28.2 on this machine; Podman 5's struct form as its source marshals it), and recent CPU%
 * from two readings of Podman's CPU time.
 */
import { describe, expect, it } from "vitest"
import { parseEngineSize, parseGoDuration, parseStats, recentCpu, STATS_ARGS } from "../../../src/backends/container/stats.js"

const PODMAN4 = `[
 {
  "id": "9225b376c588",
  "name": "kst-top-probe1",
  "cpu_time": "2m13.834353249s",
  "cpu_percent": "88.64%",
  "avg_cpu": "88.64%",
  "mem_usage": "561.2kB / 25.28GB",
  "mem_percent": "0.00%",
  "net_io": "866B / 2.662kB",
  "block_io": "0B / 0B",
  "pids": "1"
 }
]
`
const DOCKER = `{"BlockIO":"0B / 0B","CPUPerc":"99.37%","Container":"1a3aa9d961d2","ID":"1a3aa9d961d2","MemPerc":"0.00%","MemUsage":"612KiB / 23.54GiB","Name":"kst-top-probe1","NetIO":"1.04kB / 0B","PIDs":"1"}
{"BlockIO":"0B / 0B","CPUPerc":"0.00%","Container":"b","ID":"b","MemPerc":"0.00%","MemUsage":"1.5MiB / 23.54GiB","Name":"idle","NetIO":"0B / 0B","PIDs":"1"}
`
const PODMAN5 = `{"ContainerID":"abc","Name":"web","CPU":12.5,"CPUNano":2500000000,"CPUSystemNano":1,"MemUsage":10485760,"MemLimit":25280000000,"PIDs":3}`

describe("engine stats", () => {
  it("one call for every running container: no names (one gone in between would fail the whole call)", () => {
    expect(STATS_ARGS).toEqual(["stats", "--no-stream", "--format", "{{json .}}"])
  })

  it("Podman 4: snake_case strings, sizes in powers of 1000, CPU time as a Go duration", () => {
    expect(parseStats(PODMAN4).get("kst-top-probe1")).toEqual({ cpu_percent: 88.64, cpu_nanos: 133_834_353_249, memory_bytes: 561_200 })
  })

  it("Docker: one object per line, CPUPerc and MemUsage in powers of 1024, no CPU time", () => {
    const s = parseStats(DOCKER)
    expect(s.get("kst-top-probe1")).toEqual({ cpu_percent: 99.37, cpu_nanos: null, memory_bytes: 612 * 1024 })
    expect(s.get("idle")).toEqual({ cpu_percent: 0, cpu_nanos: null, memory_bytes: 1.5 * 1024 ** 2 })
  })

  it("Podman 5: numbers (CPU, CPUNano, MemUsage in bytes)", () => {
    expect(parseStats(PODMAN5).get("web")).toEqual({ cpu_percent: 12.5, cpu_nanos: 2_500_000_000, memory_bytes: 10_485_760 })
  })

  it("what cannot be read is left out (unknown), never zero: garbage, `--` values, no name", () => {
    expect(parseStats("not json").size).toBe(0)
    expect(parseStats("").size).toBe(0)
    expect(parseStats(`{"Name":"x","CPUPerc":"--","MemUsage":"-- / --"}`).get("x")).toEqual({ cpu_percent: null, cpu_nanos: null, memory_bytes: null })
    expect(parseStats(`{"CPUPerc":"1%"}`).size).toBe(0)
  })

  it("sizes and durations", () => {
    expect([parseEngineSize("0B"), parseEngineSize("1.5GB"), parseEngineSize("2GiB"), parseEngineSize("12"), parseEngineSize("3 furlongs")])
      .toEqual([0, 1.5e9, 2 * 1024 ** 3, 12, null])
    expect([parseGoDuration("0s"), parseGoDuration("500ms"), parseGoDuration("1h2m3.5s"), parseGoDuration("12µs"), parseGoDuration("x")])
      .toEqual([0, 5e8, 3_723_500_000_000, 12_000, null])
  })

  it("recent CPU%: CPU time used between two readings over the time between them; without both, the engine's own", () => {
    const at = (nanos: number | null, pct: number | null = 5) => ({ cpu_percent: pct, cpu_nanos: nanos, memory_bytes: 1 })
    expect(recentCpu(at(1e9), at(1.45e9), 0.5)).toBe(90)
    expect(recentCpu(undefined, at(1e9, 33), 0.5)).toBe(33)
    expect(recentCpu(at(null), at(null, 7), 0.5)).toBe(7)
  })
})
