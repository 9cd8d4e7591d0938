/**
 * Plain-data builders with defaults: specs (the field tables' defaults, a command and a working
 * directory for tmux, an image for containers; `over` sets any field), config entries (valid, or
 * rejected with located issues), observed sessions (`owned`: as kstlib launched it for `PROJECT`,
 * stamped under `TEST_DIGEST`; `foreign`: unmarked), and the planner's options.
 */
import type { ConfigEntry } from "../config/types.js"
import type { ConfigIssue } from "../errors.js"
import type { ConfiguredSpec, ContainerSpec, ObservedSession, RuntimeName, SessionSpec, TmuxSpec } from "../model.js"
import { NO_MARK } from "../model.js"
import type { Scope } from "../place.js"
import type { PlanOptions } from "../reconcile/plan.js"
import { containerDefaults } from "../spec/container.js"
import { fingerprint as fingerprintWithDigest, keyedDigest, specHash as specHashWithDigest, stampOf } from "../spec/fingerprint.js"
import { tmuxDefaults } from "../spec/tmux.js"

export const CONFIG_FILE = "/cfg/kstlib.conf.yml"

/** The env digest the pure tests stamp sessions and plan with (a fixed key). */
export const TEST_DIGEST = keyedDigest(new Uint8Array(32).fill(7))

/** A tmux session spec: the tmux table's defaults, `node server.js` in `/srv/app`, then `over`. */
export const tmuxSpec = (name: string, over: Partial<Omit<TmuxSpec, "backend" | "name">> = {}): TmuxSpec => ({
  ...tmuxDefaults,
  backend: "tmux",
  name,
  command: "node server.js",
  working_dir: "/srv/app",
  ...over
})

/** A container session spec: the container table's defaults, image `localhost/app:1`, then `over`. */
export const containerSpec = (name: string, over: Partial<Omit<ContainerSpec, "backend" | "name">> = {}): ContainerSpec => ({
  ...containerDefaults,
  backend: "container",
  name,
  image: "localhost/app:1",
  ...over
})

/** A valid config entry of `spec`, at `CONFIG_FILE:line`. */
export const valid = (spec: ConfiguredSpec, line = 3): ConfigEntry => ({ _tag: "Valid", name: spec.name, spec, source: { file: CONFIG_FILE, line } })

/** One located config issue. */
export const issue = (session: string, field: string, reason: string, line = 7): ConfigIssue => ({ file: CONFIG_FILE, line, session, field, reason })

/** A rejected config entry (never runs: its plan step is Invalid), with its issues. */
export const rejected = (
  name: string,
  issues: ReadonlyArray<ConfigIssue>,
  backend: "tmux" | "container" | null = null,
  line = 7
): ConfigEntry => ({ _tag: "Rejected", name, backend, issues, source: { file: CONFIG_FILE, line } })

/** The project the pure tests plan for. */
export const PROJECT = "proj"

/** What a backend reports for a session kstlib started from `spec` for `project` (so: ours, with its stamp). */
export const owned = (spec: SessionSpec, over: Partial<ObservedCommonFields> = {}, project = PROJECT): ObservedSession => {
  const stamp = stampOf(spec, TEST_DIGEST)
  const common = {
    name: spec.name,
    state: "running" as const,
    pid: 4242,
    created_at: "2024-05-01T10:00:00.000Z",
    exit_code: null,
    mark: { managed: true, project, spec_hash: stamp.hash, applied: stamp.fingerprint },
    ...over
  }
  return spec.backend === "tmux"
    ? { ...common, backend: "tmux", socket_name: spec.socket_name, window_count: 1, ...(spec.host === undefined ? {} : { host: spec.host }) }
    : { ...common, backend: "container", runtime: spec.runtime, image: spec.image, ...(spec.host === undefined ? {} : { host: spec.host }) }
}

type ObservedCommonFields = Pick<ObservedSession, "name" | "state" | "pid" | "created_at" | "exit_code" | "mark">

/** A session/container kstlib did not create (no marks). */
export const foreign = (
  name: string,
  where: { readonly socket_name: string | null } | { readonly runtime: RuntimeName },
  over: Partial<ObservedCommonFields> = {}
): ObservedSession => {
  const common = { name, state: "running" as const, pid: 99, created_at: null, exit_code: null, mark: NO_MARK, ...over }
  return "runtime" in where
    ? { ...common, backend: "container", runtime: where.runtime, image: "docker.io/library/nginx:1" }
    : { ...common, backend: "tmux", socket_name: where.socket_name, window_count: 1 }
}

/** What answered an observation of this machine: its tmux (unless `tmux: false`) and these engines, in auto-detect order. */
export const answeredHere = (engines: ReadonlyArray<RuntimeName>, tmux = true): ReadonlyArray<Scope> => [
  ...(tmux ? [{ backend: "tmux" as const }] : []),
  ...engines.map((runtime) => ({ backend: "container" as const, runtime }))
]

/** Plan options for this machine with tmux, podman and docker answering; `engines`/`tmux` say otherwise. */
export const planOptions = (
  over: Partial<PlanOptions> & { readonly engines?: ReadonlyArray<RuntimeName>; readonly tmux?: boolean } = {}
): PlanOptions => {
  const { engines, tmux, ...rest } = over
  return {
    prune: false,
    only: [],
    project: PROJECT,
    available: answeredHere(engines ?? ["podman", "docker"], tmux ?? true),
    unreadable: [],
    digest: TEST_DIGEST,
    ...rest
  }
}

/** The fingerprint and hash the tests compare, under TEST_DIGEST. */
export const fingerprint = (spec: ConfiguredSpec) => fingerprintWithDigest(spec, TEST_DIGEST)
export const specHash = (spec: ConfiguredSpec) => specHashWithDigest(spec, TEST_DIGEST)
export { hashFingerprint } from "../spec/fingerprint.js"

/** A create of `spec`, as the planner hands it to a driver. */
export const launchOf = <S extends SessionSpec>(spec: S): { readonly spec: S; readonly stamp: ReturnType<typeof stampOf>; readonly changes: null } => ({
  spec,
  stamp: stampOf(spec, TEST_DIGEST),
  changes: null
})
