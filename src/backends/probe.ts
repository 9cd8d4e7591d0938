/**
 * Readiness probes that run on the host, the same for every backend: a TCP connect and an HTTP GET.
 * Each probe is ONE attempt with its own short timeout; the executor repeats it every `interval`.
 * `log:` and `cmd:` need the session (its output, exec), so each backend implements those.
 */
import { parsePortSpec } from "../config/rules.js"
import * as net from "node:net"
import { Effect } from "effect"
import { commandArgv } from "../command.js"
import { compileReadyPattern } from "../config/rules.js"
import type { ReadyCheck, SessionSpec } from "../model.js"

export interface ProbeResult {
  readonly ready: boolean
  /** What the probe saw: `connected`, `connection refused`, `HTTP 503`, `no line matches`, `exit 1`... */
  readonly detail: string
}

export const ready = (detail: string): ProbeResult => ({ ready: true, detail })
export const notReady = (detail: string): ProbeResult => ({ ready: false, detail })

/** A `cmd:` probe's outcome: exit 0 is ready; else the exit code and the last line it printed on stderr. */
const exitResult = (exitCode: number, stderr: string): ProbeResult => {
  const last = stderr.trim().split("\n").at(-1) ?? ""
  return exitCode === 0 ? ready("exit 0") : notReady(`exit ${exitCode}${last === "" ? "" : `: ${last}`}`)
}

/** One attempt lasts at most this long (the interval between attempts may be longer). */
const attemptMs = (spec: SessionSpec) => Math.max(200, Math.min(5000, (spec.ready?.interval ?? 1) * 1000))

/** One TCP connect to 127.0.0.1:port. */
export const tcpProbe = (port: number, timeoutMs: number): Effect.Effect<ProbeResult> =>
  Effect.callback<ProbeResult>((resume) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    const done = (r: ProbeResult) => {
      socket.destroy()
      resume(Effect.succeed(r))
    }
    socket.setTimeout(timeoutMs, () => done(notReady("connection timed out")))
    socket.once("connect", () => done(ready(`127.0.0.1:${port} accepts connections`)))
    socket.once("error", (e: NodeJS.ErrnoException) => done(notReady(e.code === "ECONNREFUSED" ? `127.0.0.1:${port}: connection refused` : e.message)))
    return Effect.sync(() => socket.destroy())
  })

/** One GET; any 2xx is ready. */
export const httpProbe = (url: string, timeoutMs: number): Effect.Effect<ProbeResult> =>
  Effect.promise(async () => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" })
      await res.body?.cancel().catch(() => undefined)
      return res.status >= 200 && res.status < 300 ? ready(`HTTP ${res.status}`) : notReady(`HTTP ${res.status}`)
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code
      return notReady(cause ?? (e instanceof Error ? e.message : String(e)))
    }
  })

/**
 * The host port a `tcp:` check connects to: for a container whose `ports` publish that container
 * port (`8080:80` and `tcp: 80`), the published host port; otherwise the number as written.
 */
export const hostPort = (spec: SessionSpec, port: number): number => {
  if (spec.backend !== "container") return port
  for (const text of spec.ports) {
    const p = parsePortSpec(text)
    if (typeof p === "string" || p.host === null || p.protocol !== "tcp") continue
    // a range maps port by port (`8000-8001:9000-9001` and tcp: 9001 → 8001)
    if (port >= p.container[0] && port <= p.container[1]) return p.host[0] + (p.host[1] > p.host[0] ? port - p.container[0] : 0)
  }
  return port
}

/**
 * A line of `output` matches the `log:` pattern. RE2 (linear time in the text): the match runs in
 * kstlib's own thread over up to LOG_PROBE_LINES lines, where a backtracking engine could block
 * the process for ever (`^(a+)+$`), timeouts and Ctrl-C included. Validation compiled it already.
 */
export const logMatches = (output: string, pattern: string): ProbeResult => {
  const re = compileReadyPattern(pattern)
  if (typeof re === "string") return notReady(re)
  return output.split("\n").some((l) => re.test(l)) ? ready("a line matches") : notReady(`no line matches /${pattern}/`)
}

/** How many lines of output a `log:` probe reads. */
export const LOG_PROBE_LINES = 10_000

/** A `log:` probe over a backend's `logs` (every backend words it the same way; a logs failure is "not ready"). */
const logProbe = <E extends { readonly message: string }>(
  readLogs: (options: { readonly lines: number }) => Effect.Effect<string, E>
) =>
(pattern: string): Effect.Effect<ProbeResult> =>
  readLogs({ lines: LOG_PROBE_LINES }).pipe(
    Effect.map((text) => logMatches(text, pattern)),
    Effect.catch((e) => Effect.succeed(notReady(e.message)))
  )

/**
 * ONE attempt of the spec's `ready:` probe: tcp/http from here, `log:` on the backend's logs, `cmd:`
 * as words (or `sh -c` with shell: true) run by the backend where the session is, exit 0 ready.
 * `run` is the reason instead when the backend cannot run one. Failures are "not ready", never
 * errors. No `ready:` at all: ready (running is all that is asked).
 */
export const probeWith = <E1 extends { readonly message: string }, E2 extends { readonly message: string }>(
  spec: SessionSpec,
  fns: {
    readonly logs: (options: { readonly lines: number }) => Effect.Effect<string, E1>
    readonly run: ((argv: ReadonlyArray<string>) => Effect.Effect<{ readonly exitCode: number; readonly stderr: string }, E2>) | string
  }
): Effect.Effect<ProbeResult> => {
  const r: ReadyCheck | null | undefined = spec.ready
  if (r === undefined || r === null) return Effect.succeed(ready("no probe"))
  if ("tcp" in r) return tcpProbe(hostPort(spec, r.tcp), attemptMs(spec))
  if ("http" in r) return httpProbe(r.http, attemptMs(spec))
  if ("log" in r) return logProbe(fns.logs)(r.log)
  const run = fns.run
  if (typeof run === "string") return Effect.succeed(notReady(run))
  const argv = commandArgv({ command: r.cmd, shell: spec.shell })
  if (!argv.ok || argv.argv === null) return Effect.succeed(notReady(argv.ok ? "no command" : argv.reason))
  return run(argv.argv).pipe(
    Effect.map((x) => exitResult(x.exitCode, x.stderr)),
    Effect.catch((e) => Effect.succeed(notReady(e.message)))
  )
}
