/**
 * Plans as text (symbols, optional colours) or as one JSON document: ALL the wording of steps and
 * reasons lives here; the planner only gives typed reasons. Pure string building.
 */
import { escapeText, formatConfigIssue } from "../errors.js"
import { describePlace, placeOf, placeOfSpec } from "../model.js"
import type { Change, Plan, Step, StepAction } from "./plan.js"
import { actionOf, backendOf, isActionable, specOf, targetsOf } from "./plan.js"
import type { Color, Style } from "../style.js"
import { paint } from "../style.js"


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

/** Why the step exists, in words. */
export const causeOf = (s: Step): string => {
  switch (s._tag) {
    case "Create":
      return "not running"
    case "Start":
      return s.reason === "exited"
        ? `exited${s.target.exit_code === null ? "" : ` with code ${s.target.exit_code}`}`
        : s.reason === "requested"
        ? "restart requested"
        : "stopped"
    case "Replace":
      return s.reason === "spec-changed"
        ? "spec changed"
        : `moves from ${describePlace(placeOf(s.targets[0]!))} to ${describePlace(placeOfSpec(s.spec))}`
    case "Stop":
      return s.reason === "desired-stopped" ? "state: stopped in config" : s.reason === "restart" ? "restart requested" : "requested"
    case "Prune":
      return s.reason === "not-in-config"
        ? `no longer in config (${describePlace(placeOf(s.target))})`
        : s.reason === "down"
        ? `down (${describePlace(placeOf(s.target))})`
        : `stale copy in ${describePlace(placeOf(s.target))}; config places it in ${s.current === null ? "?" : describePlace(s.current)}`
    case "Conflict":
      return s.reason === "other-project"
        ? `owned by project '${s.target.mark.project}' (${describePlace(placeOf(s.target))}); left untouched`
        : `a ${s.target.backend === "tmux" ? "tmux session" : "container"} not created by kstlib holds the name (${
          describePlace(placeOf(s.target))
        }); left untouched`
    case "Invalid":
      switch (s.reason) {
        case "rejected":
          return s.issues.map(formatConfigIssue).join("; ")
        case "tmux-missing":
          return "tmux is not installed"
        case "runtime-missing":
          return s.runtime === null ? "no container runtime found (looked for podman, docker)" : `container runtime '${s.runtime}' not found`
        case "unreadable":
          return `${s.place === null ? "its backend" : describePlace(s.place)} could not be read; nothing is planned there`
      }
  }
}

/** `tmux, socket work` / `container, podman` / `tmux socket default`. */
const where = (s: Step): string => {
  const spec = specOf(s)
  // hosts (ssh branch): `, on edge1` for a session on a host
  const on = (host: string | undefined) => (host === undefined ? "" : `, on ${host}`)
  if (spec !== null) {
    return `${spec.backend === "tmux" ? `tmux${spec.socket_name === null ? "" : `, socket ${spec.socket_name}`}` : `container, ${spec.runtime}`}${on(spec.host)}`
  }
  const t = targetsOf(s)[0]
  if (t === undefined) return `${backendOf(s)}${s._tag === "Invalid" ? on(s.place?.host) : ""}`
  return t.backend === "tmux" ? describePlace(placeOf(t)) : `container, ${t.runtime}${on(t.host)}`
}

/** Names come from config files and foreign tmux sessions: control characters are shown escaped, never sent to the terminal. */
export const stepHeadline = (s: Step): string => `${escapeText(s.session)} (${where(s)}): ${actionOf(s)}, ${escapeText(causeOf(s))}`

export const renderStep = (s: Step, style: Style): string => {
  const action = actionOf(s)
  const head = `${paint(style, colors[action], symbols[action].padStart(3))} ${stepHeadline(s)}`
  const details = s._tag === "Invalid"
    ? s.issues.length > 1 ? s.issues.map((i) => `      ${i.field}: ${i.reason}`) : []
    : s._tag === "Replace"
    ? s.changes.map((c) => `      ${formatChange(c)}`)
    : []
  return [head, ...details].join("\n")
}

export const summaryLine = (p: Plan): string =>
  `Plan: ${p.summary.create} to create, ${p.summary.replace} to replace, ${p.summary.start} to start, ${p.summary.stop} to stop, ${p.summary.prune} to prune.`

export const renderPlan = (p: Plan, style: Style, options: { readonly verbose?: boolean } = {}): string => {
  const lines: Array<string> = []
  if (p.steps.length === 0) lines.push("No changes. Sessions match the configuration.")
  for (const s of p.steps) lines.push(renderStep(s, style))
  if (options.verbose === true) {
    for (const name of p.unchanged) lines.push(`    ${paint(style, "dim", `${escapeText(name)}: no change`)}`)
  }
  if (p.order.waves.length > 1) {
    lines.push(paint(style, "dim", `Order: ${p.order.waves.map((w) => escapeText(w.join(", "))).join(" → ")}`))
  }
  if (p.orphans.length > 0) {
    lines.push(paint(style, "dim", `(${p.orphans.length} session(s) created by kstlib are no longer in config: ${escapeText(p.orphans.join(", "))}; use --prune to remove them)`))
  }
  const blocked = p.summary.conflict + p.summary.invalid
  lines.push("")
  lines.push(summaryLine(p) + (blocked > 0 ? ` ${blocked} blocked (conflict or invalid).` : ""))
  return lines.join("\n")
}

/** One step as JSON: the typed reason code AND its words; specs reduced to their place; env values never included. */
export const stepToJson = (s: Step) => {
  const spec = specOf(s)
  const targets = targetsOf(s)
  return {
    action: actionOf(s),
    session: s.session,
    backend: backendOf(s),
    reason: s.reason,
    cause: causeOf(s),
    changes: s._tag === "Replace" ? s.changes : [],
    ...(spec === null ? {} : {
      place: { ...(spec.backend === "tmux" ? { socket_name: spec.socket_name } : { runtime: spec.runtime }), host: spec.host ?? null }
    }),
    ...(targets.length === 0 ? {} : {
      targets: targets.map((t) => ({
        backend: t.backend,
        state: t.state,
        socket_name: t.backend === "tmux" ? t.socket_name : null,
        runtime: t.backend === "container" ? t.runtime : null,
        host: t.host ?? null,
        owned: t.mark.managed,
        project: t.mark.project
      }))
    }),
    ...(s._tag === "Invalid" && s.issues.length > 0 ? { issues: s.issues } : {})
  }
}

/** The JSON document of a plan. */
export const planToJson = (p: Plan) => ({
  project: p.project,
  changed: p.steps.some(isActionable),
  summary: p.summary,
  steps: p.steps.map(stepToJson),
  orphans: p.orphans,
  unchanged: p.unchanged,
  /** Start order (waves run one after the other; sessions of a wave in parallel); empty without depends_on. */
  waves: p.order.waves,
  ...(Object.keys(p.order.unsatisfied).length === 0 ? {} : { unsatisfied: p.order.unsatisfied })
})
