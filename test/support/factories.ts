/** Plain-data factories for the pure reconciler tests: specs, config entries, observed sessions, plan options. */
import type { ConfigEntry } from "../../src/config/types.js"
import type { ConfigIssue } from "../../src/errors.js"
import type { ContainerSpec, ObservedSession, RuntimeName, SessionSpec, TmuxSpec } from "../../src/model.js"
import { fingerprint, specHash } from "../../src/model.js"
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
  state: "running",
  ...over
})

export const valid = (spec: SessionSpec, line = 3): ConfigEntry => ({ _tag: "Valid", name: spec.name, spec, source: { file: CONFIG_FILE, line } })

export const issue = (session: string, field: string, reason: string, line = 7): ConfigIssue => ({ file: CONFIG_FILE, line, session, field, reason })

export const rejected = (
  name: string,
  issues: ReadonlyArray<ConfigIssue>,
  backend: "tmux" | "container" | null = null,
  line = 7
): ConfigEntry => ({ _tag: "Rejected", name, backend, issues, source: { file: CONFIG_FILE, line } })

/** What a backend reports for a session kstlib started from `spec` (so: owned, with its hash and fingerprint). */
export const owned = (spec: SessionSpec, over: Partial<ObservedSession> = {}): ObservedSession => ({
  name: spec.name,
  backend: spec.backend,
  state: "running",
  pid: 4242,
  created_at: "2024-05-01T10:00:00.000Z",
  image: spec.backend === "container" ? spec.image : null,
  socket_name: spec.backend === "tmux" ? spec.socket_name : null,
  runtime: spec.backend === "container" ? spec.runtime : null,
  exit_code: null,
  window_count: spec.backend === "tmux" ? 1 : 0,
  owned: true,
  spec_hash: specHash(spec),
  applied: fingerprint(spec),
  ...over
})

/** A session/container kstlib did not create (no marks). */
export const foreign = (
  name: string,
  where: { readonly socket_name: string | null } | { readonly runtime: RuntimeName },
  over: Partial<ObservedSession> = {}
): ObservedSession => ({
  name,
  backend: "runtime" in where ? "container" : "tmux",
  state: "running",
  pid: 99,
  created_at: null,
  image: "runtime" in where ? "docker.io/library/nginx:1" : null,
  socket_name: "socket_name" in where ? where.socket_name : null,
  runtime: "runtime" in where ? where.runtime : null,
  exit_code: null,
  window_count: "runtime" in where ? 0 : 1,
  owned: false,
  spec_hash: null,
  applied: null,
  ...over
})

export const planOptions = (over: Partial<PlanOptions> = {}): PlanOptions => ({
  prune: false,
  only: [],
  runtimes: ["podman", "docker"],
  tmuxAvailable: true,
  ...over
})
