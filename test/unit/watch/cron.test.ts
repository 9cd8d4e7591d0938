/** cron_restart expressions and max_memory sizes (config/cron.ts). */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadConfig } from "../../../src/config/load.js"
import type { Cron } from "../../../src/config/rules.js"
import { nextCron, parseByteSize, parseCron, validateCron } from "../../../src/config/rules.js"

const cron = (e: string): Cron => {
  const c = parseCron(e)
  if (typeof c === "string") throw new Error(c)
  return c
}
/** Local time, as cron's. */
const at = (y: number, mo: number, d: number, h = 0, mi = 0) => new Date(y, mo - 1, d, h, mi)
const next = (e: string, from: Date) => nextCron(cron(e), from)

describe("parseCron", () => {
  it.each([
    ["61 * * * *", "minute '61' is outside 0-59"],
    ["* * * *", "a cron expression has 5 fields (minute hour day-of-month month day-of-week), got 4"],
    ["* 5-2 * * *", "hour '5-2': the range goes backwards"],
    ["*/0 * * * *", "minute step must be at least 1"],
    ["* * * foo *", "month 'foo' is not a number or a name"],
    ["* * 0 * *", "day of month '0' is outside 1-31"],
    ["@often", "unknown shorthand '@often' (known: @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually)"]
  ])("%s: %s", (e, reason) => expect(validateCron(e)).toBe(reason))

  it("values, ranges, steps, lists and names", () => {
    const c = cron("*/15 9-17/4 1,15 jan-mar mon-fri")
    expect([...c.minutes]).toEqual([0, 15, 30, 45])
    expect([...c.hours]).toEqual([9, 13, 17])
    expect([...c.days]).toEqual([1, 15])
    expect([...c.months]).toEqual([1, 2, 3])
    expect([...c.weekdays]).toEqual([1, 2, 3, 4, 5])
    expect([...cron("0 0 * * 7").weekdays]).toEqual([0])
  })
})

describe("nextCron", () => {
  it("the next matching minute, strictly after", () => {
    expect(next("* * * * *", at(2026, 12, 2, 7, 30))).toEqual(at(2026, 12, 2, 7, 31))
    expect(next("0 * * * *", at(2026, 12, 2, 7, 30))).toEqual(at(2026, 12, 2, 8, 0))
    expect(next("@daily", at(2026, 12, 31, 23, 59))).toEqual(at(2027, 1, 1, 0, 0))
    expect(next("30 4 * * mon", at(2026, 12, 2))).toEqual(at(2026, 12, 7, 4, 30)) // 2026-12-02 is a Wednesday
  })
  it("both day fields restricted: either matches (Vixie cron)", () => {
    // the 10th, or any Friday: Friday 2026-12-04 comes first
    expect(next("0 12 10 * fri", at(2026, 12, 2))).toEqual(at(2026, 12, 4, 12, 0))
  })
  it("an impossible date never comes", () => {
    expect(next("0 0 31 2 *", at(2026, 1, 1))).toBeNull()
  })
})

describe("parseByteSize", () => {
  it.each([
    ["512M", 512 * 1024 ** 2],
    ["1.5G", 1.5 * 1024 ** 3],
    ["300MiB", 300 * 1024 ** 2],
    [2097152, 2097152]
  ] as const)("%s", (v, bytes) => expect(parseByteSize(v)).toBe(bytes))
  it.each([
    ["12X", "unknown unit 'X' (use K, M or G)"],
    ["lots", "a size such as 512M, 1.5G or a number of bytes"],
    ["10K", "must be at least 1M"]
  ])("%s is refused", (v, reason) => expect(parseByteSize(v)).toBe(reason))
})

describe("in a config file", () => {
  it.effect("decoded onto the spec (bytes), a bad value rejected with file:line", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kstlib-cron-"))
      const file = path.join(dir, "kstlib.conf.yml")
      fs.writeFileSync(file, [
        "ops:",
        "  sessions:",
        "    good:",
        "      command: sleep 1",
        "      cron_restart: '@hourly'",
        "      max_memory: 512M",
        "    bad:",
        "      command: sleep 1",
        "      cron_restart: '* * * * * *'",
        ""
      ].join("\n"))
      const c = yield* loadConfig({ path: file, env: { HOME: dir } })
      fs.rmSync(dir, { recursive: true })
      const good = c.sessions.find((e) => e.name === "good")
      expect(good?._tag === "Valid" && good.spec).toMatchObject({ cron_restart: "@hourly", max_memory: 512 * 1024 ** 2 })
      const bad = c.sessions.find((e) => e.name === "bad")
      expect(bad?._tag === "Rejected" && bad.issues.map((i) => `${path.basename(i.file)}:${i.line} ${i.field}: ${i.reason}`)).toEqual([
        "kstlib.conf.yml:9 cron_restart: a cron expression has 5 fields (minute hour day-of-month month day-of-week), got 6"
      ])
    }))
})
