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

export type * from "./backends/backend.js"
export { Backends } from "./backends/registry.js"
export { Tmux, TmuxBinary } from "./backends/tmux.js"
export { SshBinary, SshHosts } from "./backends/ssh.js"
export { Containers } from "./backends/container.js"
export { CallTimeout } from "./proc.js"

export { observe, type Observation, type ObserveOptions } from "./reconcile/observe.js"
export {
  actionOf,
  backendOf,
  type Change,
  dependencyLevels,
  diffFingerprints,
  hasChanges,
  hasDependencies,
  isActionable,
  isBlocked,
  plan,
  type Plan,
  planDown,
  type PlanOptions,
  type PlanSummary,
  resolveSpec,
  type Ordering,
  type Step,
  type StepAction,
  targetsOf
} from "./reconcile/plan.js"
export {
  apply,
  type ApplyOptions,
  type ApplyResult,
  down,
  planDownFromConfig,
  planFromConfig,
  type Planned
} from "./reconcile/reconciler.js"
export { defaultSettle, execute, phasesOf, type ExecuteOptions, type ExecuteReport, type StepResult } from "./reconcile/execute.js"
export { lockPathFor, withApplyLock } from "./reconcile/lock.js"
export { causeOf, formatChange, planToJson, renderPlan, renderStep, summaryLine } from "./reconcile/render.js"
export { paint, type Style, styleFor } from "./style.js"

export { handle, type SessionHandle, SessionManager } from "./session/manager.js"
export * as Sessions from "./session/operations.js"
export type { Selector } from "./session/locate.js"
export { listRows, type SessionStatus } from "./session/status.js"

export { backendsLayer, layerNode, layerNodeWith } from "./layer.js"
