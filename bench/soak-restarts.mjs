#!/usr/bin/env node
/**
 * Soak of kstlib's tmux supervision (issue 21.1): one session that crashes at once, `restart:
 * always`, `restart_delay: 1`, `max_backoff: 1` (so every backoff is 1 s), started by the real CLI
 * on a private tmux server; nothing talks to that server while it runs. Each run appends its start
 * time (ns) to a file; restart k is in time when its run started within backoff + 1 s of the
 * previous run's start (the crashed run itself lasts a few ms). Target: 100 of 100.
 *
 *   node bench/soak-restarts.mjs            # 100 crashes (about 2 minutes)
 *   CRASHES=20 node bench/soak-restarts.mjs
 *
 * Writes bench/results/soak-restarts.json (every gap) and bench/results/soak-restarts.md.
 * Isolation: its own HOME, XDG dirs and TMUX_TMPDIR in a temp dir, removed with its server after.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const BENCH = dirname(fileURLToPath(import.meta.url))
const REPO = join(BENCH, "..")
const BIN = join(REPO, "dist", "cli", "bin.js")
const CRASHES = Number(process.env.CRASHES ?? 100)
const BACKOFF_S = 1
const BOUND_S = BACKOFF_S + 1

if (!existsSync(BIN)) {
  console.error("bench/soak-restarts: dist/cli/bin.js missing; run npm run build")
  process.exit(1)
}

const dir = mkdtempSync(join(tmpdir(), "kstlib-soak-"))
const env = {
  ...process.env,
  HOME: join(dir, "home"),
  XDG_CONFIG_HOME: join(dir, "home", ".config"),
  XDG_STATE_HOME: join(dir, "home", ".state"),
  XDG_RUNTIME_DIR: join(dir, "run"),
  TMUX_TMPDIR: join(dir, "tmux"),
  NO_COLOR: "1"
}
for (const k of ["TMUX", "TMUX_PANE", "KSTLIB_CONFIG", "NODE_OPTIONS"]) delete env[k]
for (const d of [env.HOME, env.XDG_RUNTIME_DIR, env.TMUX_TMPDIR]) mkdirSync(d, { recursive: true, mode: 0o700 })

const runs = join(dir, "runs")
const config = join(dir, "kstlib.conf.yml")
writeFileSync(config, `ops:
  project: soak
  sessions:
    crasher:
      command: date +%s%N >> ${runs}; exit 3
      shell: true
      socket_name: soak
      restart: always
      restart_delay: ${BACKOFF_S}
      max_backoff: ${BACKOFF_S}
`)

const kstlib = (...args) => spawnSync(process.execPath, [BIN, ...args, "--config", config], { cwd: dir, env, encoding: "utf8", timeout: 60_000 })
const starts = () => (existsSync(runs) ? readFileSync(runs, "utf8").split("\n").filter((l) => /^\d+$/u.test(l)).map((l) => Number(BigInt(l) / 1_000_000n)) : [])

let result
try {
  const applied = kstlib("ops", "apply", "--settle", "0")
  if (applied.status !== 0) throw new Error(`apply failed: ${applied.stdout}${applied.stderr}`)
  // one run, then CRASHES restarts; a stalled restart still ends the soak in bounded time
  const deadline = Date.now() + (CRASHES * (BOUND_S + 0.5) + 30) * 1000
  while (starts().length < CRASHES + 1 && Date.now() < deadline) execFileSync("sleep", ["0.5"])
  const t = starts()
  const gaps = t.slice(1, CRASHES + 1).map((x, i) => (x - t[i]) / 1000)
  const inTime = gaps.filter((g) => g <= BOUND_S).length
  const status = JSON.parse(kstlib("ops", "status", "crasher", "--json").stdout)
  const sorted = [...gaps].sort((a, b) => a - b)
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? null
  result = {
    date: new Date().toISOString(),
    commit: spawnSync("git", ["-C", REPO, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim(),
    tmux: spawnSync("tmux", ["-V"], { encoding: "utf8" }).stdout.trim(),
    crashes: CRASHES,
    backoff_s: BACKOFF_S,
    bound_s: BOUND_S,
    restarted: gaps.length,
    restarted_in_time: inTime,
    target: `${CRASHES} of ${CRASHES} within backoff + 1 s`,
    met: inTime === CRASHES,
    gap_s: { median: q(0.5), p95: q(0.95), max: sorted.at(-1) ?? null },
    status_restarts: status.restarts ?? null,
    gaps_s: gaps
  }
  kstlib("ops", "down")
} finally {
  spawnSync("tmux", ["-L", "soak", "kill-server"], { env, stdio: "ignore" })
  rmSync(dir, { recursive: true, force: true })
}

const out = join(BENCH, "results")
mkdirSync(out, { recursive: true })
writeFileSync(join(out, "soak-restarts.json"), `${JSON.stringify(result, null, 2)}\n`)
const md = `# Soak: tmux restarts (issue 21.1)

${result.date}, commit ${result.commit}, ${result.tmux}. One session crashing at once, \`restart: always\`,
backoff ${result.backoff_s} s (restart_delay = max_backoff); nothing else talks to its tmux server.

| crashes | restarted | within backoff + 1 s | target | met | gap median | p95 | max | status restarts |
|---|---|---|---|---|---|---|---|---|
| ${result.crashes} | ${result.restarted} | ${result.restarted_in_time} | ${result.target} | ${result.met ? "yes" : "NO"} | ${result.gap_s.median?.toFixed(3)} s | ${result.gap_s.p95?.toFixed(3)} s | ${result.gap_s.max?.toFixed(3)} s | ${result.status_restarts} |
`
writeFileSync(join(out, "soak-restarts.md"), md)
process.stdout.write(md)
process.exit(result.met ? 0 : 1)
