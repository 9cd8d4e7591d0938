import { describe, expect, it } from "vitest"
import { logsArgv } from "../../../src/backends/container.js"
import { parseSince } from "../../../src/cli/since.js"

const now = new Date("2024-05-01T12:00:00.000Z")
const at = (text: string) => {
  const r = parseSince(text, now)
  if ("error" in r) throw new Error(r.error)
  return r.since.toISOString()
}

describe("parseSince", () => {
  it.each([
    ["90s", "2024-05-01T11:58:30.000Z"],
    ["10m", "2024-05-01T11:50:00.000Z"],
    ["1h30m", "2024-05-01T10:30:00.000Z"],
    ["1.5h", "2024-05-01T10:30:00.000Z"],
    ["2d", "2024-04-29T12:00:00.000Z"],
    ["250ms", "2024-05-01T11:59:59.750Z"],
    ["0s", "2024-05-01T12:00:00.000Z"],
    ["2024-04-30T10:00:00Z", "2024-04-30T10:00:00.000Z"],
    ["2024-04-30T10:00:00.123456789Z", "2024-04-30T10:00:00.123Z"],
    ["2024-04-30T12:00:00+02:00", "2024-04-30T10:00:00.000Z"],
    ["2024-04-30T08:30-0130", "2024-04-30T10:00:00.000Z"],
    ["1714471200", "2024-04-30T10:00:00.000Z"],
    ["1714471200.5", "2024-04-30T10:00:00.500Z"]
  ])("%s", (text, iso) => expect(at(text)).toBe(iso))

  it("without a zone: local time, as Docker reads it", () => {
    expect(at("2024-04-30T10:00")).toBe(new Date(2024, 3, 30, 10, 0).toISOString())
    expect(at("2024-04-30")).toBe(new Date(2024, 3, 30).toISOString())
  })

  it.each(["", "yesterday", "5x", "-5m", "m", "1h-5m", "2024-13-01", "2024-02-30", "2024-04-30T24:00", "2024-04-30T10:00+25:00", "2024/04/30"])(
    "refuses %j with what it takes",
    (text) => {
      const r = parseSince(text, now)
      expect(r).toHaveProperty("error")
      expect((r as { error: string }).error).toContain("is not a duration back from now")
    }
  )
})

describe("container logs argv", () => {
  it("--since as Unix seconds with milliseconds, --timestamps, then the usual -f --tail", () => {
    expect(logsArgv("web", { lines: 5, since: new Date(1714471200123), timestamps: true }, true)).toEqual([
      "logs", "--since", "1714471200.123", "--timestamps", "-f", "--tail", "5", "--", "web"
    ])
    expect(logsArgv("web", { lines: 5 }, false)).toEqual(["logs", "--tail", "5", "--", "web"])
  })
})
