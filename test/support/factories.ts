/** Plain-data factories for the pure reconciler tests: specs, config entries, observed sessions, plan options. */
import type { ConfigEntry } from "../../src/config/types.js"
import type { ConfigIssue } from "../../src/errors.js"
import type { ConfiguredSpec, ContainerSpec, ObservedSession, RuntimeName, SessionSpec, TmuxSpec } from "../../src/model.js"
import { fingerprint, NO_MARK, specHash } from "../../src/model.js"
import type { PlanOptions } from "../../src/reconcile/plan.js"

export const CONFIG_FILE = "/cfg/kstlib.conf.yml"

export const tmuxSpec = (name: string, over: Partial<Omit<TmuxSpec, "backend" | "name">> = {}): TmuxSpec => ({
  backend: "tmux",
  name,
  command: "node server.js",
  shell: false,
  working_dir: "/srv/app",
  env: {},
  socket_name: null,
  state: "running",
  ...over
})

export const containerSpec = (name: string, over: Partial<Omit<ContainerSpec, "backend" | "name">> = {}): ContainerSpec => ({
  backend: "container",
  name,
  image: "localhost/app:1",
  command: null,
  shell: false,
  working_dir: null,
  env: {},
  volumes: [],
  ports: [],
  log_volume: null,
  runtime: "podman",
  unsafe_mounts: false,
  state: "running",
  ...over
})

export const valid = (spec: ConfiguredSpec, line = 3): ConfigEntry => ({ _tag: "Valid", name: spec.name, spec, source: { file: CONFIG_FILE, line } })

export const issue = (session: string, field: string, reason: string, line = 7): ConfigIssue => ({ file: CONFIG_FILE, line, session, field, reason })

export const rejected = (
  name: string,
  issues: ReadonlyArray<ConfigIssue>,
  backend: "tmux" | "container" | null = null,
  line = 7
): ConfigEntry => ({ _tag: "Rejected", name, backend, issues, source: { file: CONFIG_FILE, line } })

/** The project the pure tests plan for. */
export const PROJECT = "proj"

/** What a backend reports for a session kstlib started from `spec` for `project` (so: ours, with its hash and fingerprint). */
export const owned = (spec: SessionSpec, over: Partial<ObservedCommonFields> = {}, project = PROJECT): ObservedSession => {
  const common = {
    name: spec.name,
    state: "running" as const,
    pid: 4242,
    created_at: "2024-05-01T10:00:00.000Z",
    exit_code: null,
    mark: { managed: true, project, spec_hash: specHash(spec), applied: fingerprint(spec) },
    ...over
  }
  return spec.backend === "tmux"
    ? { ...common, backend: "tmux", socket_name: spec.socket_name, window_count: 1 }
    : { ...common, backend: "container", runtime: spec.runtime, image: spec.image }
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

export const planOptions = (over: Partial<PlanOptions> = {}): PlanOptions => ({
  prune: false,
  only: [],
  project: PROJECT,
  runtimes: ["podman", "docker"],
  tmuxAvailable: true,
  unreadable: [],
  ...over
})
