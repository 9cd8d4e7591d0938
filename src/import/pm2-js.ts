/**
 * A pm2 ecosystem file in JavaScript is code: kstlib evaluates it only when asked (--allow-js), in a
 * child `node` that can do as little as possible:
 * - Node's permission model: read access to the file's directory only (the file alone when that
 *   directory is / or your home), no writes, no child processes, no workers, no native addons.
 *   Node follows symbolic links even out of the directory: a link in it reaches its target;
 * - no network: a network namespace of its own (`unshare -r -n`: only a loopback that is down) when
 *   the machine allows unprivileged ones, and in any case the network modules (net, http, dns…)
 *   and fetch/WebSocket made unavailable to the file;
 * - an environment of PATH alone (nothing of yours, no secret, reaches the values the file computes), no
 *   stdin, and a timeout.
 * It prints the exported object as JSON after a marker, so what the file itself prints is ignored.
 */
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import { ImportFailed } from "../errors.js"
import { CallTimeout, run } from "../proc.js"

export const JS_TIMEOUT_SECONDS = 10
const MARK = "@@kstlib-result@@"
const ERROR_MARK = "@@kstlib-error@@"
const MAX_RESULT = 10 * 1024 * 1024
const PATH = "/usr/local/bin:/usr/bin:/bin"

/** Runs inside the child (CommonJS, `node -e`): argv[1] is the file, argv[2] `expression` for a .json pm2 evaluates as JS. */
const RUNNER = String.raw`"use strict"
const fs = require("node:fs")
const m = require("node:module")
const out = (s) => fs.writeSync(1, s)
const blocked = new Set(["net", "tls", "http", "https", "http2", "dgram", "dns", "child_process", "cluster", "worker_threads", "inspector", "undici"])
const deny = (id) => {
  const name = String(id).replace(/^node:/, "").split("/")[0]
  if (blocked.has(name)) throw new Error("'" + id + "' is not available to an imported file (no network, no processes)")
}
if (typeof m.registerHooks === "function") m.registerHooks({ resolve(s, c, next) { deny(s); return next(s, c) } })
else { const load = m._load; m._load = function (request) { deny(request); return load.apply(this, arguments) } }
for (const k of ["fetch", "WebSocket", "EventSource", "XMLHttpRequest"]) { try { delete globalThis[k] } catch {} }
for (const k of ["log", "info", "warn", "error", "debug", "trace", "dir", "table"]) console[k] = () => {}
process.stdout.write = () => true
process.stderr.write = () => true
;(async () => {
  const file = process.argv[1]
  let v
  if (process.argv[2] === "expression") {
    v = require("node:vm").runInNewContext("(" + fs.readFileSync(file, "utf8") + "\n)", {}, { timeout: 5000 })
  } else if (file.endsWith(".mjs")) {
    const ns = await import(require("node:url").pathToFileURL(file).href)
    v = "default" in ns ? ns.default : ns
  } else {
    // as pm2 loads it (require); a file that is an ES module comes back as its namespace
    v = require(file)
    if (v && v[Symbol.toStringTag] === "Module") v = "default" in v ? v.default : v
  }
  if (v && typeof v.then === "function") v = await v
  out("\n${MARK}" + JSON.stringify(v === undefined ? null : v) + "\n")
  process.exit(0)
})().catch((e) => { fs.writeSync(2, "${ERROR_MARK}" + String((e && e.message) || e).split("\n")[0] + "\n"); process.exit(3) })
`

const nodeVersion = process.versions.node.split(".").map(Number)
/** `--permission` from Node 22.13 / 23.5; before, `--experimental-permission`. */
const permissionFlag = (nodeVersion[0]! > 23 || (nodeVersion[0] === 23 && nodeVersion[1]! >= 5) || (nodeVersion[0] === 22 && nodeVersion[1]! >= 13))
  ? "--permission"
  : "--experimental-permission"

export type Isolation = "network namespace" | "network modules blocked"

export interface Evaluated {
  readonly data: unknown
  /** How the network was kept away: said in the report. */
  readonly isolation: Isolation
}

/** Whether this machine gives an unprivileged process a network namespace of its own. */
const netnsWorks = run("unshare", ["-r", "-n", "true"], { env: { PATH }, onlyEnv: true }).pipe(
  Effect.map((r) => r.exitCode === 0),
  Effect.catch(() => Effect.succeed(false))
)

export const evaluateEcosystem = (
  file: string,
  mode: "module" | "expression",
  timeoutSeconds = JS_TIMEOUT_SECONDS
): Effect.Effect<Evaluated, ImportFailed, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function*() {
    const abs = path.resolve(file)
    const dir = path.dirname(abs)
    // `*` is a wildcard in --allow-fs-read (and `,` separated paths in older Node releases): `/x,/` must not grant /
    if (/[,*]/u.test(abs)) return yield* new ImportFailed({ file, reason: "its path holds ',' or '*', which Node's permission flags would read as more paths: move it first" })
    const readable = dir === "/" || dir === os.homedir() ? abs : `${dir}/*`
    const node = [process.execPath, permissionFlag, `--allow-fs-read=${readable}`, "-e", RUNNER, abs, mode]
    const netns = yield* netnsWorks
    const [command, ...args] = netns ? ["unshare", "-r", "-n", ...node] : node
    const fail = (reason: string) => new ImportFailed({ file, reason })
    const r = yield* run(command!, args, { cwd: dir, env: { PATH }, onlyEnv: true }).pipe(
      Effect.provideService(CallTimeout, timeoutSeconds),
      Effect.mapError((e) => fail(e._tag === "BackendTimeout" ? `evaluating it took more than ${timeoutSeconds} s (stopped)` : e.message))
    )
    const at = r.stdout.lastIndexOf(`\n${MARK}`)
    if (r.exitCode !== 0 || at < 0) {
      const reason = r.stderr.includes(ERROR_MARK) ? r.stderr.slice(r.stderr.indexOf(ERROR_MARK) + ERROR_MARK.length).split("\n")[0]! : `exit code ${r.exitCode}`
      return yield* fail(`evaluating it as JavaScript failed: ${reason}`)
    }
    const json = r.stdout.slice(at + MARK.length + 1).trim()
    if (json.length > MAX_RESULT) return yield* fail("the evaluated config is larger than 10 MiB")
    const data: unknown = yield* Effect.try({ try: () => JSON.parse(json), catch: () => fail("the evaluated config is not JSON") })
    return { data, isolation: netns ? "network namespace" : "network modules blocked" } satisfies Evaluated
  })
