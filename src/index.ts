/**
 * kstlib as a library: typed Effect services for tmux and container sessions, the config loader,
 * the reconciler (observe → pure plan → execute) and the per-session facade. Every error is a typed
 * value in `E`.
 *
 *   import { Effect } from "effect"
 *   import { layerNode, planFromConfig, renderPlan } from "kstlib"
 *   const program = planFromConfig().pipe(Effect.map(({ plan }) => renderPlan(plan, { color: false })))
 *   Effect.runPromise(program.pipe(Effect.provide(layerNode())))
 */
export * from "./errors.js"
export * from "./model.js"
export { commandArgv, type CommandArgv, scanCommand, type ScanResult, SHELL, splitWords, type SyntaxHit } from "./command.js"

export * from "./config/index.js"
export { KstlibConfig } from "./config/service.js"

export { Tmux, TmuxBinary } from "./backends/tmux.js"
export { Containers } from "./backends/container.js"

export { observe, type Observation, type ObserveOptions } from "./reconcile/observe.js"
export {
  bindRuntimes,
  type Change,
  diffFingerprints,
  hasChanges,
  isActionable,
  plan,
  type Plan,
  type PlanOptions,
  type PlanSummary,
  type Step,
  type StepAction
} from "./reconcile/plan.js"
export { planFromConfig, type Planned } from "./reconcile/reconciler.js"
export { type ApplyOptions, type ApplyReport, defaultSettle, execute, type StepResult } from "./reconcile/apply.js"
export { lockPathFor, withApplyLock } from "./reconcile/lock.js"
export { formatChange, planToJson, renderPlan, renderStep, type Style, styleFor, summaryLine } from "./reconcile/render.js"

export { handle, type SessionHandle, SessionManager } from "./session/manager.js"
export * as Sessions from "./session/operations.js"
export type { Selector } from "./session/locate.js"
export { listRows, type SessionStatus } from "./session/status.js"

export { backendsLayer, layerNode, layerNodeWith } from "./layer.js"
