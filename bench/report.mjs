// Turns bench/run's raw samples into bench/results.json (machine) and bench/results.md (human).
// Usage: node report.mjs RAW.jsonl FACTS.json OUT.json OUT.md SECONDS
import { readFileSync, writeFileSync } from "node:fs"

const [rawFile, factsFile, jsonOut, mdOut, seconds] = process.argv.slice(2)
const facts = JSON.parse(readFileSync(factsFile, "utf8"))
const records = readFileSync(rawFile, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l))

const median = (xs) => {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}
const round = (x, d = 1) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d)

const rows = new Map() // "bench/row" -> { bench, row, meta, kstlib: [], baseline: [] }
for (const r of records) {
  const key = `${r.bench}/${r.row}`
  const row = rows.get(key) ?? { bench: r.bench, row: r.row, meta: {}, kstlib: [], baseline: [] }
  if (r.meta !== undefined) Object.assign(row.meta, r.meta)
  else row[r.side].push(r.value)
  rows.set(key, row)
}

const verdict = (target, k, b, ratio) => {
  if (target === null || target === undefined) return { text: "info", pass: null }
  if (k === null || b === null) return { text: "no data", pass: false }
  switch (target.kind) {
    case "overhead_lt": return { text: `overhead < ${target.value} ms`, pass: k - b < target.value }
    case "overhead_le": return { text: `overhead ≤ ${target.value} ms`, pass: k - b <= target.value }
    case "ratio_le": return { text: `≤ ${target.value}×${target.vs === undefined ? "" : ` ${target.vs}`}`, pass: ratio <= target.value }
    case "abs_lt": return { text: `< ${target.value} ${target.unit ?? "MB"}`, pass: k < target.value }
    case "equal_to_baseline": return { text: target.text ?? "same count for 1, 10, 50", pass: k === b }
  }
  return { text: "?", pass: null }
}

const figures = [...rows.values()].map(({ bench, row, meta, kstlib, baseline }) => {
  const k = median(kstlib)
  const b = median(baseline)
  const ratio = k !== null && b !== null && b !== 0 ? k / b : null
  const v = verdict(meta.target, k, b, ratio)
  return {
    bench,
    id: row,
    label: meta.label ?? row,
    headline: meta.headline === true,
    unit: meta.unit ?? "ms",
    kstlib: { what: meta.kstlib ?? null, median: round(k), samples: kstlib },
    baseline: { what: meta.baseline ?? null, median: round(b), samples: baseline },
    overhead: k !== null && b !== null ? round(k - b) : null,
    ratio: round(ratio, 2),
    target: meta.target ?? null,
    target_text: v.text,
    pass: v.pass,
    ...(meta.commands === undefined ? {} : { commands: meta.commands })
  }
})

const result = { machine: facts, duration_s: Number(seconds), figures }
writeFileSync(jsonOut, `${JSON.stringify(result, null, 2)}\n`)

const fmt = (x, unit) => (x === null ? "-" : unit === "processes" ? String(x) : `${x} ${unit}`)
const status = (f) => (f.pass === null ? "info" : f.pass ? "**pass**" : "**MISSED**")
const md = [
  "# kstlib benchmark results",
  "",
  `Run ${facts.date}, ${facts.reps} runs per figure (medians), benchmarks: ${facts.benches.join(", ")}, ${seconds} s in total.`,
  "",
  ...(facts.note ? [facts.note, ""] : []),
  "| figure | kstlib | baseline | overhead | ratio | target | result |",
  "|---|---:|---:|---:|---:|---|---|",
  ...figures.map((f) =>
    `| ${f.headline ? f.label : f.label.replace(/^\s+/, "↳ ")} | ${fmt(f.kstlib.median, f.unit)} | ${fmt(f.baseline.median, f.unit)} | ${
      f.overhead === null ? "-" : f.unit === "processes" ? String(f.overhead) : `${f.overhead} ${f.unit}`
    } | ${f.ratio === null ? "-" : `${f.ratio.toFixed(2)}×`} | ${f.target_text} | ${status(f)} |`
  ),
  "",
  "Ratio = kstlib / baseline. Overhead = kstlib − baseline. Baselines are defined in bench/README.md.",
  ""
]
const withCommands = figures.filter((f) => f.commands !== undefined)
if (withCommands.length > 0) {
  md.push("Processes spawned by kstlib (first run of each size; strace, direct children of kstlib):", "")
  for (const f of withCommands) md.push(`- ${f.id}: ${f.commands.length === 0 ? "(none)" : f.commands.map((c) => `\`${c}\``).join(", ")}`)
  md.push("")
}
const missed = figures.filter((f) => f.pass === false)
md.push(missed.length === 0 ? "All targets met." : `Targets MISSED: ${missed.map((f) => `${f.bench}/${f.id}`).join(", ")}. See bench/README.md for the analysis.`, "")
md.push(
  "Machine:",
  "",
  `- ${facts.nproc} CPUs (${facts.cpu}), ${facts.memory}, ${facts.kernel}`,
  `- node ${facts.node}, ${facts.tmux}, ${facts.podman}, ${facts.docker_client} (daemon ${facts.docker_server})`,
  ...(facts.peers ? [`- peers: ${facts.peers}`] : []),
  ...(facts.sizes ? [`- sizes: ${facts.sizes}`] : []),
  `- kstlib commit ${facts.commit}${facts.branch ? ` (branch ${facts.branch})` : ""}`,
  ""
)
writeFileSync(mdOut, md.join("\n"))
