/** Plans and apply results as text (symbols, optional colours) or as one JSON document. Pure string building. */
import type { Change, Plan, Step, StepAction } from "./plan.js"
import { placeOf } from "./plan.js"
import type { Color, Style } from "../style.js"
import { paint } from "../style.js"

// Moved to src/style.ts (shared with the CLI); re-exported for existing importers.
export { type Color, paint, type Style, styleFor } from "../style.js"

export const symbols: Record<StepAction, string> = {
  create: "+",
  start: ">",
  replace: "-/+",
  stop: "-",
  prune: "-",
  conflict: "!",
  invalid: "!"
}

const colors: Record<StepAction, Color> = {
  create: "green",
  start: "cyan",
  replace: "yellow",
  stop: "red",
  prune: "red",
  conflict: "magenta",
  invalid: "magenta"
}

export const formatChange = (c: Change): string =>
  "change" in c ? `${c.field} (${c.change})` : `${c.field}: ${c.from ?? "(none)"} → ${c.to ?? "(none)"}`

const where = (s: Step): string => {
  if (s.spec !== null) {
    return s.spec.backend === "tmux"
      ? `tmux${s.spec.socket_name === null ? "" : `, socket ${s.spec.socket_name}`}`
      : `container, ${s.spec.runtime ?? "auto"}`
  }
  const t = s.targets[0]
  return t === undefined ? s.backend : t.backend === "tmux" ? placeOf(t) : `container, ${t.runtime}`
}

export const stepHeadline = (s: Step): string => `${s.session} (${where(s)}): ${s.action}, ${s.cause}`

export const renderStep = (s: Step, style: Style): string => {
  const head = `${paint(style, colors[s.action], symbols[s.action].padStart(3))} ${stepHeadline(s)}`
  const details = s.action === "invalid"
    ? s.issues.length > 1 ? s.issues.map((i) => `      ${i.field}: ${i.reason}`) : []
    : s.changes.map((c) => `      ${formatChange(c)}`)
  return [head, ...details].join("\n")
}

export const summaryLine = (p: Plan): string =>
  `Plan: ${p.summary.create} to create, ${p.summary.replace} to replace, ${p.summary.start} to start, ${p.summary.stop} to stop, ${p.summary.prune} to prune.`

export const renderPlan = (p: Plan, style: Style, options: { readonly verbose?: boolean } = {}): string => {
  const lines: Array<string> = []
  if (p.steps.length === 0) lines.push("No changes. Sessions match the configuration.")
  for (const s of p.steps) lines.push(renderStep(s, style))
  if (options.verbose === true) {
    for (const name of p.unchanged) lines.push(`    ${paint(style, "dim", `${name}: no change`)}`)
  }
  if (p.orphans.length > 0) {
    lines.push(paint(style, "dim", `(${p.orphans.length} session(s) created by kstlib are no longer in config: ${p.orphans.join(", ")}; use --prune to remove them)`))
  }
  const blocked = p.summary.conflict + p.summary.invalid
  lines.push("")
  lines.push(summaryLine(p) + (blocked > 0 ? ` ${blocked} blocked (conflict or invalid).` : ""))
  return lines.join("\n")
}

/** The JSON document of a plan. Specs are reduced to what the step needs; env values are never included. */
export const planToJson = (p: Plan) => ({
  changed: p.steps.some((s) => s.action !== "conflict" && s.action !== "invalid"),
  summary: p.summary,
  steps: p.steps.map((s) => ({
    action: s.action,
    session: s.session,
    backend: s.backend,
    cause: s.cause,
    changes: s.changes,
    ...(s.spec === null ? {} : { place: s.spec.backend === "tmux" ? { socket_name: s.spec.socket_name } : { runtime: s.spec.runtime } }),
    ...(s.targets.length === 0 ? {} : {
      targets: s.targets.map((t) => ({ backend: t.backend, state: t.state, socket_name: t.socket_name, runtime: t.runtime, owned: t.owned }))
    }),
    ...(s.issues.length === 0 ? {} : { issues: s.issues })
  })),
  orphans: p.orphans,
  unchanged: p.unchanged
})
