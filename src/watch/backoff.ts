/**
 * Crash-loop bookkeeping of `ops watch`, per session, as pure data: a session the watcher launched
 * that needs launching again before it stayed up MIN_UPTIME is crashing; each such repeat doubles
 * the wait before the next launch (1 s, 2 s, 4 s… at most MAX_DELAY), reported, never spun. A
 * session that stayed up MIN_UPTIME starts over from no failures.
 */

/** Milliseconds a launched session must stay up for its next end not to count as a crash. */
export const MIN_UPTIME_MS = 10_000
/** The longest wait between two launches of a crash-looping session. */
export const MAX_DELAY_MS = 60_000

export interface SessionBackoff {
  /** When the watcher last launched it (epoch ms). */
  readonly launchedAt: number
  /** Crashes in a row (launches again within MIN_UPTIME). */
  readonly failures: number
  /** No launch before this (epoch ms); 0: none pending. */
  readonly until: number
}

export type Backoffs = ReadonlyMap<string, SessionBackoff>

export const delayFor = (failures: number): number => Math.min(MAX_DELAY_MS, 1000 * 2 ** Math.max(0, failures - 1))

/** Sessions that must not be launched at `now`. */
export const waiting = (b: Backoffs, now: number): ReadonlyArray<string> => [...b].filter(([, s]) => s.until > now).map(([n]) => n)

/**
 * The plan wants to launch `name` again at `now` (it is gone or not running): a crash when the
 * watcher launched it less than MIN_UPTIME ago. Returns the new state and, for a crash, how long it waits.
 */
export const relaunch = (b: Backoffs, name: string, now: number): { readonly next: Backoffs; readonly waitMs: number | null } => {
  const s = b.get(name)
  if (s === undefined || now - s.launchedAt >= MIN_UPTIME_MS || s.until > now) return { next: b, waitMs: null }
  if (s.until !== 0) return { next: b, waitMs: null } // its wait is over: this launch is the retry
  const failures = s.failures + 1
  const waitMs = delayFor(failures)
  return { next: new Map(b).set(name, { ...s, failures, until: now + waitMs }), waitMs }
}

/** The watcher launched `name` at `now`: failures kept only when the previous launch did not stay up. */
export const launched = (b: Backoffs, name: string, now: number): Backoffs => {
  const s = b.get(name)
  const failures = s !== undefined && now - s.launchedAt < MIN_UPTIME_MS + delayFor(s.failures) ? s.failures : 0
  return new Map(b).set(name, { launchedAt: now, failures, until: 0 })
}

/** The earliest pending end of a wait (epoch ms), or null. */
export const nextWake = (b: Backoffs, now: number): number | null => {
  const pending = [...b.values()].map((s) => s.until).filter((u) => u > now)
  return pending.length === 0 ? null : Math.min(...pending)
}
