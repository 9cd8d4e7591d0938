/**
 * Plans as text (symbols, optional colours) or as one JSON document: ALL the wording of steps and
 * reasons lives here; the planner only gives typed reasons. Pure string building.
 */
import { escapeText, formatConfigIssue } from "../errors.js"
import { describePlace, describeScope, placeOf } from "../place.js"
import type { ExecuteReport, StepResult } from "./execute.js"
import type { Change, Plan, Step, StepAction } from "./plan.js"
import { actionOf, backendOf, isActionable, networksOf, specOf, targetsOf } from "./plan.js"
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
  "change" in c ? (c.field === "build context" ? "build context changed" : `${c.field} (${c.change})`) : `${c.field}: ${c.from ?? "(none)"} → ${c.to ?? "(none)"}`

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
        : `moves from ${describePlace(placeOf(s.targets[0]!))} to ${describePlace(placeOf(s.spec))}`
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
          return `${s.scope === null ? "its backend" : describeScope(s.scope)} could not be read; nothing is planned there`
      }
  }
}

/** `tmux, socket work` / `container, podman` / `tmux socket default`. */
const where = (s: Step): string => {
  const spec = specOf(s)
  // `, on edge1` for a session on a host
  const on = (host: string | undefined) => (host === undefined ? "" : `, on ${host}`)
  if (spec !== null) {
    return `${spec.backend === "tmux" ? `tmux${spec.socket_name === null ? "" : `, socket ${spec.socket_name}`}` : `container, ${spec.runtime}`}${on(spec.host)}`
  }
  const t = targetsOf(s)[0]
  if (t === undefined) return `${backendOf(s)}${s._tag === "Invalid" ? on(s.scope?.host) : ""}`
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
    ? s.changes.map((c) => `      ${escapeText(formatChange(c))}`)
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
  ...(Object.keys(p.order.unsatisfied).length === 0 ? {} : { unsatisfied: p.order.unsatisfied }),
  /** The project networks the container launches join (created by the launch when absent); left out when none. */
  ...(networksOf(p).length === 0 ? {} : { networks: networksOf(p) })
})

const past: Record<string, string> = { create: "created", replace: "replaced", start: "started", stop: "stopped", prune: "pruned" }

/** One finished step: `done  + web (tmux): create, not running (0.6s)`, or FAILED with the error and the last output lines. */
export const resultLine = (style: Style, r: StepResult): string => {
  if (r.error?._tag === "DependencyFailed") {
    return `${paint(style, "yellow", "NOT RUN")} ${symbols[actionOf(r.step)]} ${stepHeadline(r.step)}\n         ${r.error.message}`
  }
  const killed = r.outcome === "killed" ? ", killed after the grace period" : ""
  const unverified = r.unverified ? ", not checked (interrupted)" : ""
  const head = `${paint(style, r.error === null ? "green" : "red", r.error === null ? "done  " : "FAILED")} ${symbols[actionOf(r.step)]} ${
    stepHeadline(r.step)
  } (${(r.durationMs / 1000).toFixed(1)}s${killed}${unverified})`
  if (r.error === null) return head
  const output = (r.error._tag === "SessionStartFailed" || r.error._tag === "SessionNotReady") && r.error.output.trim() !== ""
    ? r.error.output.trimEnd().split("\n").slice(-10).map((l) => `         | ${escapeText(l)}`)
    : []
  return [head, `         ${r.error.message}`, ...output].join("\n")
}

/** `Apply complete: 2 created, … 0 failed.` (or interrupted), with what was not run and not ready. */
export const reportSummary = (verb: string, report: ExecuteReport): string => {
  const ok = report.results.filter((r) => r.error === null)
  const parts = Object.entries(past).map(([action, word]) => `${ok.filter((r) => actionOf(r.step) === action).length} ${word}`)
  const blocked = report.results.filter((r) => r.error?._tag === "DependencyFailed").length
  const failed = report.results.length - ok.length - blocked
  const notRun = report.notRun.length + blocked
  const notReady = report.results.filter((r) => r.error?._tag === "SessionNotReady").map((r) => r.step.session)
  return `${verb} ${report.interrupted ? "interrupted" : "complete"}: ${parts.join(", ")}, ${failed} failed${
    notRun > 0 ? `, ${notRun} not run` : ""
  }.${notReady.length > 0 ? ` Not ready in time: ${notReady.join(", ")}.` : ""}`
}

/** One finished step as JSON. */
export const resultToJson = (r: StepResult) => ({
  action: actionOf(r.step),
  session: r.step.session,
  backend: backendOf(r.step),
  ok: r.error === null,
  error: r.error === null
    ? null
    : { _tag: r.error._tag, message: r.error.message, ...(r.error._tag === "SessionStartFailed" ? { exitCode: r.error.exitCode } : {}) },
  ...(r.outcome === null ? {} : { outcome: r.outcome }),
  duration_ms: r.durationMs
})

/** The JSON document of an apply or down: the plan, then one result per step, what did not run, whether it was interrupted. */
export const reportJson = (p: Plan, report: ExecuteReport | null) => ({
  ...planToJson(p),
  results: (report?.results ?? []).map(resultToJson),
  not_run: (report?.notRun ?? []).map((s) => ({ action: actionOf(s), session: s.session })),
  interrupted: report?.interrupted ?? false
})

/**
 * A finished apply or down as text: each step's result line, then the summary (`Apply complete: …`);
 * a plan with nothing to do is the plan itself ("No changes…"). What the CLI prints, in one string.
 */
export const renderReport = (
  result: { readonly planned: { readonly plan: Plan }; readonly report: ExecuteReport | null },
  style: Style,
  options: { readonly verb?: string } = {}
): string =>
  result.report === null
    ? renderPlan(result.planned.plan, style)
    : [...result.report.results.map((r) => resultLine(style, r)), "", reportSummary(options.verb ?? "Apply", result.report)].join("\n")
