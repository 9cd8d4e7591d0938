// Profiles kstlib's cold start: runs `node --cpu-prof dist/cli/bin.js ARGS...` RUNS times and
// summarises the .cpuprofile files, mapped back through dist/kstlib.cjs.map to the bundled modules:
//   - wall time from the first sample to the first child-process spawn (= the first engine call),
//   - self time before that point, by module (effect/*, yaml, kstlib's own dist/*.js) and by function,
//   - where it is spent at module-evaluation time (top-level code of a module) vs in called functions,
//   - by phase: node's bootstrap, bin.js, the code cache's deserialization, the bundle's evaluation, the command.
// Usage (from the repo root, with a config): node bench/profile-cold.mjs [RUNS] -- ops list --json --config FILE
// UNMINIFIED=1 profiles an unminified build of the same bundle (rolldown, in a temp dir) instead: the
// minified bundle has ~400 lines, so V8's per-line ticks cannot tell which module's top-level code ran;
// unminified, each line maps to one original module (timings are a little higher than minified).
// Prints a markdown summary (medians over the runs). Offline; writes only to a temp directory.
import { execFileSync } from "node:child_process"
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { SourceMap } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const sep = process.argv.indexOf("--")
const runs = Number(sep > 2 ? process.argv[2] : 5)
const args = sep === -1 ? ["ops", "list", "--json"] : process.argv.slice(sep + 1)
const node = join(repo, "node_modules/node/bin/node")
const dir = mkdtempSync(join(tmpdir(), "kstlib-prof-"))
const unminified = process.env.UNMINIFIED === "1"
let bin = join(repo, "dist/cli/bin.js")
let bundle = join(repo, "dist/kstlib.cjs")
if (unminified) {
  bundle = join(dir, "kstlib.cjs")
  // The build's own config (its transforms, chunking), unminified, without the help-capture plugin.
  const cfg = join(dir, "rolldown.config.mjs")
  writeFileSync(cfg, `import base from ${JSON.stringify(join(repo, "rolldown.config.mjs"))}
export default { ...base, input: ${JSON.stringify(join(repo, "dist/cli/main.js"))}, output: { ...base.output, file: ${JSON.stringify(bundle)}, minify: false },
  plugins: base.plugins.filter((p) => p.name !== "kstlib-fixed-output") }\n`)
  execFileSync(join(repo, "node_modules/.bin/rolldown"), ["-c", cfg], { cwd: repo, stdio: "ignore" })
  // the real bin beside it (it loads ../kstlib.cjs relative to itself, with its code cache)
  mkdirSync(join(dir, "cli"))
  bin = join(dir, "cli", "bin.js")
  copyFileSync(join(repo, "dist/cli/bin.js"), bin)
}
const map = new SourceMap(JSON.parse(readFileSync(`${bundle}.map`, "utf8")))

const moduleOf = (src) => {
  if (src === undefined) return "(bundle, unmapped)"
  const m = /node_modules\/(@[^/]+\/[^/]+|[^/]+)\/(?:dist\/)?(?:esm\/)?(.*)$/.exec(src)
  if (m !== null) return `${m[1]}/${m[2]}`
  return src.replace(/^(\.\.\/)+/, "").replace(/^wt-[^/]+\//, "")
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const perRun = []
try {
  execFileSync(node, [bin, ...args], { stdio: "ignore" }) // warm-up: compile cache, page cache
  for (let r = 0; r < runs; r++) {
    const out = join(dir, `p${r}`)
    execFileSync(node, ["--cpu-prof", "--cpu-prof-interval", "200", "--cpu-prof-dir", out, bin, ...args], { stdio: "ignore" })
    const file = readdirSync(out).find((f) => f.endsWith(".cpuprofile"))
    perRun.push(analyse(JSON.parse(readFileSync(join(out, file), "utf8"))))
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

function analyse(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const stackHas = (id, pred) => {
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) if (pred(nodes.get(cur).callFrame)) return true
    return false
  }
  const isSpawn = (cf) => cf.functionName === "spawn" && /child_process/.test(cf.url)
  const bundleUrl = (cf) => cf.url !== undefined && cf.url.endsWith("kstlib.cjs")
  // per node: [{line (0-based), share}] from V8's line ticks, for code in the bundle
  const lineShares = new Map()
  for (const n of profile.nodes) {
    if (!bundleUrl(n.callFrame) || !n.positionTicks) continue
    const sum = n.positionTicks.reduce((a, p) => a + p.ticks, 0)
    lineShares.set(n.id, n.positionTicks.map((p) => ({ line: p.line - 1, share: p.ticks / sum })))
  }
  const label = (cf, line) => {
    if (cf.url === "" || cf.url === undefined) return { mod: `(${cf.functionName || "native"})`, fn: cf.functionName || "(native)" }
    if (!cf.url.endsWith("kstlib.cjs")) return { mod: cf.url.replace(/^node:/, "node:").replace(/^file:\/\/.*\/dist\//, "dist/"), fn: cf.functionName || "(anonymous)" }
    const e = line === undefined ? map.findEntry(cf.lineNumber, cf.columnNumber) : map.findEntry(line, 0)
    const mod = moduleOf(e?.originalSource)
    const top = cf.functionName === "" && cf.lineNumber === 0 && cf.columnNumber === 0
    const name = top ? "(module top level)" : cf.functionName || "(anonymous)"
    return { mod, fn: `${name} (${mod}${top ? "" : `:${(e?.originalLine ?? -1) + 1}`})` }
  }
  // walk the samples in time order until the first one inside child_process.spawn
  let t = 0
  let firstSpawn = null
  const byMod = new Map()
  const byFn = new Map()
  const byPhase = new Map()
  let total = 0
  let inBin = false
  const isBin = (cf) => /\/cli\/bin\.js$/.test(cf.url)
  // The startup phases, from the sample's stack: what a change to bin.js or the bundle moves.
  const phaseOf = (id, cf) => {
    if (cf.functionName === "(garbage collector)") return "garbage collection"
    if (!inBin && stackHas(id, isBin)) inBin = true
    if (!inBin) return "node bootstrap, ESM loader (before bin.js runs)"
    if (stackHas(id, (f) => f.functionName === "Script" && f.url === "node:vm")) return "new vm.Script: the bundle's V8 code cache deserialized (compiled, without one)"
    const wrapper = stackHas(id, (f) => bundleUrl(f) && f.lineNumber === 0)
    if (wrapper && stackHas(id, (f) => f.functionName === "compileForInternalLoader")) return "bundle evaluation: node builtins it requires"
    if (wrapper) return "bundle evaluation: module top levels (effect, yaml, kstlib)"
    if (stackHas(id, bundleUrl)) return "the command: CLI parsing, config load (YAML, decode), layers, up to the spawn"
    if (stackHas(id, isBin)) return "bin.js: read and hash the bundle, read the cache"
    return "other (node internals, idle)"
  }
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000
    t += dt
    const id = profile.samples[i]
    if (firstSpawn === null && stackHas(id, isSpawn)) firstSpawn = t
    if (firstSpawn !== null) continue
    const cf = nodes.get(id).callFrame
    total += dt
    const phase = phaseOf(id, cf)
    byPhase.set(phase, (byPhase.get(phase) ?? 0) + dt)
    const parts = unminified && lineShares.has(id) ? lineShares.get(id) : [{ line: undefined, share: 1 }]
    for (const { line, share } of parts) {
      const { mod, fn } = label(cf, line)
      byMod.set(mod, (byMod.get(mod) ?? 0) + dt * share)
      byFn.set(fn, (byFn.get(fn) ?? 0) + dt * share)
    }
  }
  const wall = (profile.endTime - profile.startTime) / 1000
  return { firstSpawn: firstSpawn ?? wall, wall, total, byMod, byFn, byPhase }
}

const agg = (key) => {
  const names = new Set(perRun.flatMap((r) => [...r[key].keys()]))
  return [...names].map((n) => ({ n, ms: median(perRun.map((r) => r[key].get(n) ?? 0)) })).sort((a, b) => b.ms - a.ms)
}
const fmt = (x) => x.toFixed(1)
const lines = []
lines.push(`Profile of \`kstlib ${args.join(" ")}\`${unminified ? " (unminified build of the bundle)" : ""}, ${runs} runs (medians; sampling every 0.2 ms; after one warm-up run).`, "")
lines.push(`- profiled wall time (profile start to exit): ${fmt(median(perRun.map((r) => r.wall)))} ms`)
lines.push(`- profile start to first child-process spawn (the first engine call): ${fmt(median(perRun.map((r) => r.firstSpawn)))} ms`)
lines.push(`- of which sampled on the main thread before it: ${fmt(median(perRun.map((r) => r.total)))} ms`, "")
lines.push("Before the first engine call, by phase (from each sample's stack):", "", "| phase | ms |", "|---|---:|")
for (const { n, ms } of agg("byPhase")) lines.push(`| ${n} | ${fmt(ms)} |`)
lines.push("", "Before the first engine call, self time by module (top 25):", "", "| module | ms |", "|---|---:|")
for (const { n, ms } of agg("byMod").slice(0, 25)) lines.push(`| ${n} | ${fmt(ms)} |`)
lines.push("", "Before the first engine call, self time by function (top 30):", "", "| function (original module:line) | ms |", "|---|---:|")
for (const { n, ms } of agg("byFn").slice(0, 30)) lines.push(`| ${n.replace(/\|/g, "\\|")} | ${fmt(ms)} |`)
console.log(lines.join("\n"))
