#!/usr/bin/env node
// `kstlib ops watch` targets (issue 23), measured on a private tmux server (and podman when it answers):
//   1. config saved → its steps started: the file written, until the watcher prints its plan (it
//      prints the plan right before executing it), p95 < 1 s;
//   2. a session of ours killed by hand → started again: from the end of `tmux kill-session` (or
//      `podman rm -f`: the session is gone then) until the session exists again, p95 < 2 s; the
//      time including the kill command is reported too;
//   3. idle CPU of the watcher over a minute (its whole process tree: node, tmux control clients,
//      engine event streams), < 1 %.
// Usage: node bench/watch.mjs [--reps N] [--idle SECONDS] [--out bench/results/watch.json]
// Writes the JSON file (every sample) and a .md next to it.
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..")
const BIN = join(REPO, "dist/cli/bin.js")
const arg = (name, def) => {
  const i = process.argv.indexOf(name)
  return i === -1 ? def : process.argv[i + 1]
}
const REPS = Number(arg("--reps", "10"))
const IDLE_S = Number(arg("--idle", "60"))
const OUT = arg("--out", join(REPO, "bench/results/watch.json"))
const IMAGE = "localhost/kstlib-busybox:latest"

const dir = mkdtempSync(join(tmpdir(), "kw-"))
const id = `kw${process.pid}`
const sock = `${id}-s`
const env = { ...process.env, HOME: join(dir, "home"), XDG_STATE_HOME: join(dir, "state"), TMUX_TMPDIR: join(dir, "tmx"), NO_COLOR: "1" }
delete env.TMUX
mkdirSync(env.HOME)
mkdirSync(env.TMUX_TMPDIR)
const config = join(dir, "kstlib.conf.yml")
const podman = spawnSync("podman", ["image", "inspect", IMAGE], { env, stdio: "ignore" }).status === 0

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const now = () => performance.now()
const sh = (cmd, args) => spawnSync(cmd, args, { env, encoding: "utf8", timeout: 30_000 })
const tmuxHas = (name) => sh("tmux", ["-L", sock, "has-session", "-t", `=${name}`]).status === 0
const podmanRunning = (name) => sh("podman", ["container", "inspect", "--format", "{{.State.Status}}", name]).stdout.trim() === "running"

const writeConfig = (command) => {
  const sessions = [`    ${id}-web:\n      command: ${command}\n      socket_name: ${sock}`, `    ${id}-api:\n      command: sleep 900\n      socket_name: ${sock}`]
  if (podman) sessions.push(`    ${id}-box:\n      backend: container\n      runtime: podman\n      image: ${IMAGE}\n      command: sleep 900`)
  writeFileSync(config, `ops:\n  project: ${id}\n  sessions:\n${sessions.join("\n")}\n`)
}

writeConfig("sleep 900")
const watcher = spawn(process.execPath, [BIN, "ops", "watch", "--json", "--config", config], { env, stdio: ["ignore", "pipe", "pipe"] })
let out = ""
watcher.stdout.on("data", (d) => void (out += d.toString()))
const events = () => out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
const until = async (check, ms = 30_000, every = 10) => {
  const t0 = now()
  while (now() - t0 < ms) {
    if (check()) return now()
    await sleep(every)
  }
  throw new Error("timed out")
}
const plans = () => events().filter((e) => e.event === "plan").length
const quiet = async () => {
  // wait until the watcher has finished acting (no new event for 1.5 s)
  let n = -1
  while (n !== out.length) {
    n = out.length
    await sleep(1500)
  }
}

const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)]
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** CPU ticks (user + system) of a process tree: each live process's own, from /proc. */
const treeTicks = (root) => {
  const parent = new Map()
  const ticks = new Map()
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue
    try {
      const s = readFileSync(`/proc/${e}/stat`, "utf8")
      const f = s.slice(s.lastIndexOf(")") + 2).split(" ")
      parent.set(Number(e), Number(f[1]))
      ticks.set(Number(e), Number(f[11]) + Number(f[12]))
    } catch {}
  }
  const tree = new Set([root])
  let grew = true
  while (grew) {
    grew = false
    for (const [p, pp] of parent) if (!tree.has(p) && tree.has(pp)) tree.add(p), (grew = true)
  }
  return { ticks: [...tree].reduce((a, p) => a + (ticks.get(p) ?? 0), 0), processes: tree.size }
}

const results = { date: new Date().toISOString(), reps: REPS, podman, rows: [] }
try {
  await until(() => tmuxHas(`${id}-web`) && tmuxHas(`${id}-api`) && (!podman || podmanRunning(`${id}-box`)), 120_000)
  await quiet()

  // 1. config saved → steps started (the plan is printed as the steps start)
  const save = []
  for (let i = 0; i < REPS; i++) {
    const before = plans()
    const t0 = now()
    writeConfig(`sleep ${1000 + i}`)
    save.push((await until(() => plans() > before)) - t0)
    await quiet()
  }
  results.rows.push({ id: "config-saved", label: "config saved → steps started (ms)", samples: save, median: median(save), p95: p95(save), target: "p95 < 1000", met: p95(save) < 1000 })

  // 2. killed by hand → started again
  // Timed from the moment the session is gone (the kill command returned: `podman rm -f` itself
  // takes 0.3-1 s here, which is the engine's time, not the watcher's); the total with the kill is
  // kept alongside.
  const kills = async (label, kill, back, rowId) => {
    const xs = []
    const totals = []
    for (let i = 0; i < REPS; i++) {
      const t0 = now()
      kill()
      const gone = now()
      const t1 = await until(() => back(), 30_000, 20)
      xs.push(t1 - gone)
      totals.push(t1 - t0)
      await quiet()
    }
    results.rows.push({ id: rowId, label, samples: xs, median: median(xs), p95: p95(xs), target: "p95 < 2000", met: p95(xs) < 2000 })
    results.rows.push({ id: `${rowId}-with-kill`, label: `↳ same, timed from the start of the kill command (info)`, samples: totals, median: median(totals), p95: p95(totals), target: "info", met: true })
  }
  await kills("tmux session killed (kill-session returned) → started again (ms)", () => sh("tmux", ["-L", sock, "kill-session", "-t", `=${id}-api`]), () => tmuxHas(`${id}-api`), "tmux-killed")
  if (podman) {
    await kills("podman container removed (rm -f returned) → running again (ms)", () => sh("podman", ["rm", "-f", "-t", "0", `${id}-box`]), () => podmanRunning(`${id}-box`), "podman-removed")
  }

  // 3. idle CPU over IDLE_S seconds
  await quiet()
  const hz = Number(sh("getconf", ["CLK_TCK"]).stdout.trim()) || 100
  const a = treeTicks(watcher.pid)
  const t0 = now()
  await sleep(IDLE_S * 1000)
  const b = treeTicks(watcher.pid)
  const cpu = ((b.ticks - a.ticks) / hz) / ((now() - t0) / 1000) * 100
  results.rows.push({ id: "idle-cpu", label: `idle CPU of the watcher's process tree over ${IDLE_S} s (%)`, samples: [cpu], median: cpu, p95: cpu, target: "< 1", met: cpu < 1, processes: b.processes })
} finally {
  watcher.kill("SIGTERM")
  await new Promise((r) => watcher.on("close", r))
  sh("tmux", ["-L", sock, "kill-server"])
  if (podman) sh("podman", ["rm", "-f", "-t", "0", `${id}-box`])
  rmSync(dir, { recursive: true, force: true })
}

mkdirSync(dirname(OUT), { recursive: true })
writeFileSync(OUT, `${JSON.stringify(results, null, 2)}\n`)
const md = [
  `# ops watch (${results.date}, ${REPS} runs${podman ? "" : ", podman not available"})`,
  "",
  "| measure | median | p95 | target | met |",
  "|---|---|---|---|---|",
  ...results.rows.map((r) => `| ${r.label} | ${r.median.toFixed(r.id === "idle-cpu" ? 2 : 0)} | ${r.p95.toFixed(r.id === "idle-cpu" ? 2 : 0)} | ${r.target} | ${r.target === "info" ? "-" : r.met ? "yes" : "NO"} |`),
  ""
].join("\n")
writeFileSync(OUT.replace(/\.json$/u, ".md"), md)
process.stdout.write(md)
