/** Crash-loop bookkeeping of ops watch, as data. */
import { describe, expect, it } from "vitest"
import type { Backoffs } from "../../../src/watch/backoff.js"
import { delayFor, launched, MAX_DELAY_MS, MIN_UPTIME_MS, nextWake, relaunch, waiting } from "../../../src/watch/backoff.js"

describe("crash-loop backoff", () => {
  it("delays double from 1 s up to the cap", () => {
    expect([1, 2, 3, 4].map(delayFor)).toEqual([1000, 2000, 4000, 8000])
    expect(delayFor(30)).toBe(MAX_DELAY_MS)
  })

  it("a session never launched by the watcher, or up long enough, is started at once", () => {
    expect(relaunch(new Map(), "web", 0).waitMs).toBeNull()
    const b = launched(new Map(), "web", 0)
    expect(relaunch(b, "web", MIN_UPTIME_MS).waitMs).toBeNull()
  })

  it("ending again within MIN_UPTIME waits, each repeat longer; the wait's end lets one launch through", () => {
    let b: Backoffs = launched(new Map(), "web", 0)
    const first = relaunch(b, "web", 500)
    expect(first.waitMs).toBe(1000)
    b = first.next
    expect(waiting(b, 600)).toEqual(["web"])
    expect(nextWake(b, 600)).toBe(1500)
    // the wait is over: this launch is the retry
    expect(relaunch(b, "web", 1500).waitMs).toBeNull()
    b = launched(b, "web", 1500)
    const second = relaunch(b, "web", 1800)
    expect(second.waitMs).toBe(2000)
    expect(waiting(second.next, 1900)).toEqual(["web"])
    expect(waiting(second.next, 3800)).toEqual([])
  })

  it("a run that stayed up resets the count", () => {
    let b: Backoffs = launched(new Map(), "web", 0)
    b = relaunch(b, "web", 100).next
    b = launched(b, "web", 1100)
    b = launched(b, "web", 1100 + MIN_UPTIME_MS + 5000)
    expect(b.get("web")?.failures).toBe(0)
  })
})
