/**
 * kstlib as a library: the `Kstlib` service (plan, apply, down, validate, a handle per session;
 * nothing left in `R`), on any `ChildProcessSpawner`; below it the typed services for tmux and
 * container sessions, the config loader and the reconciler (observe → pure plan → execute). Every
 * error is a typed value in `E`. What is exported here is the public surface; the rest is internal.
 * Test doubles (in-memory backends, a fake spawner, spec builders): `kstlib/testing`.
 *
 *   import { Effect } from "effect"
 *   import { Kstlib, renderReport } from "kstlib"
 *   const program = Effect.gen(function*() {
 *     const report = yield* (yield* Kstlib).apply()
 *     return renderReport(report, { color: false })
 *   })
 *   Effect.runPromise(program.pipe(Effect.provide(Kstlib.layerNode())))
 */

// errors
export {
  ApplyLocked,
  BackendTimeout,
  CommandFailed,
  ConfigInvalid,
  ConfigIssue,
  ConfigNotFound,
  ConfigParseError,
  ContainerRuntimeNotFound,
  DependencyFailed,
  EngineUnavailable,
  escapeText,
  ExitWith,
  type FailedStep,
  formatConfigIssue,
  HostUnreachable,
  InvalidInput,
  type KstlibError,
  LockFailed,
  SessionAmbiguous,
  SessionAttachFailed,
  SessionConflict,
  SessionElsewhere,
  SessionExists,
  SessionNotFound,
  SessionNotInConfig,
  SessionNotReady,
  SessionNotRunning,
  SessionStartFailed,
  SessionStopFailed,
  StepsFailed,
  TmuxNotFound,
  Unsupported
} from "./errors.js"

// vocabulary: specs, observed sessions, places
export {
  type BackendKind,
  type ConfiguredContainerSpec,
  type ConfiguredSpec,
  type ContainerSpec,
  describeReady,
  type DesiredState,
  type Fingerprint,
  type FingerprintValue,
  type HostRuntime,
  type HostSpec,
  isOurs,
  type Mark,
  Marks,
  maxRestarts,
  type ObservedContainer,
  type ObservedSession,
  type ObservedState,
  type ObservedTmux,
  type ReadyCheck,
  type ReadySpec,
  type RestartPolicy,
  restartPolicy,
  type RuntimeName,
  type SessionSpec,
  type SessionState,
  type Supervision,
  type TmuxSpec
} from "./model.js"
export { claims, claimsSession, describePlace, describeScope, driverOf, type DriverName, type Place, placeOf, samePlace, type Scope } from "./place.js"
export { commandArgv, type CommandArgv, scanCommand, type ScanResult, SHELL, splitWords, type SyntaxHit } from "./command.js"

// the spec field tables, fingerprints and env digests
export { containerFields } from "./spec/container.js"
export { type Change, diffFingerprints } from "./spec/diff.js"
export { EnvDigests, layerFromStateDir as envDigestsLayer } from "./spec/digest-key.js"
export { type EnvDigest, type Field, type InFingerprint } from "./spec/field.js"
export {
  decodeFingerprint,
  digestFor,
  encodeFingerprint,
  fingerprint,
  hashFingerprint,
  keyedDigest,
  specHash,
  type Stamp,
  stampOf,
  unkeyedDigest
} from "./spec/fingerprint.js"
export { tmuxFields } from "./spec/tmux.js"

// config
export { configJsonSchema, ConfigFile, ContainerSession, Ops, Session, TmuxSession } from "./config/schema.js"
export { type DecodeContext, decodeSessionEntry, type SessionDefaults } from "./config/decode/index.js"
export { cascadePaths, CONFIG_FILENAME, loadConfig, MAX_CONFIG_FILE_SIZE, MAX_INCLUDE_DEPTH } from "./config/load.js"
export {
  validateCommand,
  validateEnv,
  validateImage,
  validatePort,
  validateSendKeys,
  validateSessionName,
  validateSocketName,
  validateVolume
} from "./config/rules.js"
export type { ConfigEntry, LoadedConfig, LoadOptions, SourceLocation } from "./config/types.js"
export { KstlibConfig } from "./config/service.js"

// drivers and the registry
export type {
  BackendError,
  BackendObservation,
  Capabilities,
  Driver,
  ExecResult,
  Launch,
  LaunchContext,
  LogOptions,
  ObserveProblem,
  ObserveScope,
  ProbeResult,
  StopOptions,
  StopOutcome
} from "./backends/driver.js"
export { Backends, type BackendsService, DRIVERS_OF, registryOf } from "./backends/registry.js"
export { Tmux, TmuxBinary } from "./backends/tmux.js"
export { Containers } from "./backends/container.js"
export { Swarm } from "./backends/swarm.js"
export { SshBinary, SshControlDirectory, SshHosts } from "./transport/ssh.js"
export { CallTimeout } from "./proc.js"

// the reconciler
export { observe, type Observation, type ObserveOptions, planInputs, problemText, unreadableOf } from "./reconcile/observe.js"
export {
  actionOf,
  backendOf,
  boundTo,
  type Conflict,
  type Create,
  dependencyLevels,
  hasChanges,
  hasDependencies,
  type Invalid,
  isActionable,
  isBlocked,
  makePlan,
  type Ordering,
  phasesOf,
  phaseSteps,
  plan,
  type Plan,
  planDown,
  type PlanOptions,
  planStart,
  type PlanSummary,
  type Prune,
  type Replace,
  resolveSpec,
  specOf,
  type Start,
  type StartPlan,
  type Step,
  type StepAction,
  type Stop,
  targetsOf
} from "./reconcile/plan.js"
export {
  apply,
  type ApplyOptions,
  type ApplyReport,
  type ApplyResult,
  type ConvergeError,
  down,
  failedSteps,
  planDownFromConfig,
  planFromConfig,
  type Planned,
  type PlanRequest,
  requireSuccess
} from "./reconcile/reconciler.js"
export { defaultSettle, execute, type ExecuteOptions, type ExecuteReport, type StepError, type StepResult } from "./reconcile/execute.js"
export { lockPathFor, withApplyLock } from "./reconcile/lock.js"
export {
  causeOf,
  formatChange,
  planToJson,
  renderPlan,
  renderReport,
  renderStep,
  reportJson,
  reportSummary,
  resultLine,
  stepToJson,
  summaryLine
} from "./reconcile/render.js"
export { paint, type Style, styleFor } from "./style.js"

// per-session operations
export { handle, SessionManager } from "./session/manager.js"
export {
  type AttachError,
  type ExecError,
  type LocateError,
  type LogsError,
  makeHandle,
  type ProbeError,
  type Provider,
  type RestartError,
  type SendKeysError,
  type SessionHandle,
  type StartError,
  type StartOptions,
  type StatusError,
  type StopError,
  type StopOptions as SessionStopOptions
} from "./session/handle.js"
export type { LogsOptions, StartOverrides, StartResult, StopResult } from "./session/operations.js"
export * as Sessions from "./session/operations.js"
export type { Selector } from "./session/locate.js"
export { listRows, type SessionStatus, statusOf } from "./session/status.js"

// the seam and the facade
export {
  backendsFromConfig,
  backendsLayer,
  type ConfigLoadError,
  configLayer,
  type KstlibServices,
  layer,
  type LayerOptions,
  layerNode,
  layerNodeWith
} from "./layer.js"
export { type ApplyEvent, Kstlib, type KstlibService, type PlanError, type RunOptions, type ValidationReport } from "./facade.js"
export { PathLookup, type PathLookupService } from "./transport/path.js"
export { type SocketDirectory, TmuxSocketDirectory } from "./backends/tmux/sockets.js"
export { LogDirectory } from "./logs/target.js"
