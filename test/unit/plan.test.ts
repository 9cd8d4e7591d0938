/**
 * The pure reconciler: a table of desired × observed cases with the exact step list each must give.
 * No processes: config entries and observed sessions are built from small factories below, and
 * "owned" sessions carry the spec hash / fingerprint that kstlib itself would have stored at start.
 */
import { describe, expect, it } from "vitest"
import type { ConfigEntry } from "../../src/config/types.js"
import type { ConfigIssue } from "../../src/errors.js"
import type { ConfiguredContainerSpec, ContainerSpec, Mark, ObservedSession, SessionSpec, TmuxSpec } from "../../src/model.js"
import type { Change, Plan, Step, StepAction } from "../../src/reconcile/plan.js"
import {
  actionOf,
  backendOf,
  diffFingerprints,
  hasChanges,
  isActionable,
  plan,
  planDown,
  planStop,
  resolveSpec,
  specOf,
  targetsOf
} from "../../src/reconcile/plan.js"
import { causeOf, planToJson, renderPlan } from "../../src/reconcile/render.js"
import { answeredHere, containerSpec, fingerprint, foreign, issue, owned, planOptions, PROJECT, rejected, tmuxSpec, valid } from "../../src/testing/specs.js"

/** A step as the tests read it: its action, backend, words, and what it acts on. */
const view = (s: Step) => ({
  action: actionOf(s),
  session: s.session,
  backend: backendOf(s),
  cause: causeOf(s),
  changes: s._tag === "Replace" ? s.changes : [],
  targets: targetsOf(s),
  spec: specOf(s),
  issues: s._tag === "Invalid" ? s.issues : []
})

/** owned() with other marks. */
const marked = (o: ObservedSession, mark: Partial<Mark>): ObservedSession => ({ ...o, mark: { ...o.mark, ...mark } })

// ---------------------------------------------------------------------------------------------
// factories
// ---------------------------------------------------------------------------------------------

/** Env values that must never leak into a plan's changes, its JSON or its text. */
const SECRET = "s3cr3t-Value-7f1e"
const SECRET2 = "0th3r-s3cr3t-9a2b"

const tmux = (name: string, over: Partial<Omit<TmuxSpec, "backend" | "name">> = {}): TmuxSpec =>
  tmuxSpec(name, { env: { PORT: "8080", API_TOKEN: SECRET }, ...over })

const ctr = (name: string, over: Partial<Omit<ContainerSpec, "backend" | "name">> = {}): ContainerSpec =>
  containerSpec(name, { env: { API_TOKEN: SECRET }, volumes: ["/data:/data"], ports: ["8080:80"], ...over })

/** A container entry left to runtime auto-detection. */
const auto = (name: string): ConfiguredContainerSpec => ({ ...ctr(name), runtime: null })

const opts = planOptions

const deepFreeze = <T>(value: T): T => {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

/** The plan with the specs to run removed: the executor needs `spec.env`, nothing else may carry env values. */
const withoutSpecs = (p: Plan) => ({ ...p, steps: p.steps.map((s) => ({ ...view(s), spec: null })) })

// ---------------------------------------------------------------------------------------------
// the table
// ---------------------------------------------------------------------------------------------

interface ExpectedStep {
  readonly action: StepAction
  readonly session: string
  readonly backend: "tmux" | "container"
  readonly changes?: ReadonlyArray<Change>
  /** Substring of, or pattern for, the cause. */
  readonly cause?: string | RegExp
  readonly targets?: ReadonlyArray<ObservedSession>
  /** The spec the step runs (create/start/replace); checked when given. */
  readonly spec?: SessionSpec | null
  readonly issues?: ReadonlyArray<ConfigIssue>
}

interface Case {
  readonly title: string
  readonly desired: ReadonlyArray<ConfigEntry>
  readonly observed: ReadonlyArray<ObservedSession>
  readonly options?: Parameters<typeof planOptions>[0]
  readonly steps: ReadonlyArray<ExpectedStep>
  readonly unchanged?: ReadonlyArray<string>
  readonly orphans?: ReadonlyArray<string>
}

const checkSteps = (steps: ReadonlyArray<Step>, expected: ReadonlyArray<ExpectedStep>) => {
  const actual = steps.map(view)
  // Exact list: action, session, backend and changes of every step, in order.
  expect(actual.map((s) => ({ action: s.action, session: s.session, backend: s.backend, changes: s.changes }))).toEqual(
    expected.map((e) => ({ action: e.action, session: e.session, backend: e.backend, changes: e.changes ?? [] }))
  )
  expected.forEach((e, i) => {
    const s = actual[i]!
    expect(s.cause.length).toBeGreaterThan(0)
    if (typeof e.cause === "string") expect(s.cause).toContain(e.cause)
    else if (e.cause !== undefined) expect(s.cause).toMatch(e.cause)
    if (e.targets !== undefined) expect(s.targets).toEqual(e.targets)
    if (e.spec !== undefined) expect(s.spec).toEqual(e.spec)
    if (e.issues !== undefined) expect(s.issues).toEqual(e.issues)
  })
}

// Specs reused by several rows (the drifted variants derive from these).
const api = tmux("api")
const web = ctr("web")

const tmuxDrift: ReadonlyArray<readonly [string, TmuxSpec, ReadonlyArray<Change>]> = [
  ["command", tmux("api", { command: "node server.js --prod" }), [{ field: "command", from: "node server.js", to: "node server.js --prod" }]],
  ["command removed", tmux("api", { command: null }), [{ field: "command", from: "node server.js", to: null }]],
  ["working_dir", tmux("api", { working_dir: "/srv/app2" }), [{ field: "working_dir", from: "/srv/app", to: "/srv/app2" }]],
  ["env key added", tmux("api", { env: { ...api.env, DEBUG: "1" } }), [{ field: "env.DEBUG", change: "added" }]],
  ["env key removed", tmux("api", { env: { PORT: "8080" } }), [{ field: "env.API_TOKEN", change: "removed" }]],
  ["env value changed", tmux("api", { env: { PORT: "8080", API_TOKEN: SECRET2 } }), [{ field: "env.API_TOKEN", change: "changed" }]],
  [
    "env: several keys at once, sorted by key",
    tmux("api", { env: { API_TOKEN: SECRET2, ZED: "z" } }),
    [
      { field: "env.API_TOKEN", change: "changed" },
      { field: "env.PORT", change: "removed" },
      { field: "env.ZED", change: "added" }
    ]
  ],
  [
    "command and working_dir together",
    tmux("api", { command: "bash", working_dir: "/tmp" }),
    [
      { field: "command", from: "node server.js", to: "bash" },
      { field: "working_dir", from: "/srv/app", to: "/tmp" }
    ]
  ]
]

const containerDrift: ReadonlyArray<readonly [string, ContainerSpec, ReadonlyArray<Change>]> = [
  ["image", ctr("web", { image: "localhost/app:2" }), [{ field: "image", from: "localhost/app:1", to: "localhost/app:2" }]],
  ["image with a registry port", ctr("web", { image: "localhost:5000/app:1" }), [
    { field: "image", from: "localhost/app:1", to: "localhost:5000/app:1" }
  ]],
  ["command", ctr("web", { command: "nginx -g 'daemon off;'" }), [{ field: "command", from: null, to: "nginx -g 'daemon off;'" }]],
  ["working_dir", ctr("web", { working_dir: "/app" }), [{ field: "working_dir", from: null, to: "/app" }]],
  ["env key added", ctr("web", { env: { API_TOKEN: SECRET, LOG: "debug" } }), [{ field: "env.LOG", change: "added" }]],
  ["env key removed", ctr("web", { env: {} }), [{ field: "env.API_TOKEN", change: "removed" }]],
  ["env value changed", ctr("web", { env: { API_TOKEN: SECRET2 } }), [{ field: "env.API_TOKEN", change: "changed" }]],
  ["volumes", ctr("web", { volumes: ["/data:/data", "/logs:/logs:ro"] }), [
    { field: "volumes", from: "[/data:/data]", to: "[/data:/data, /logs:/logs:ro]" }
  ]],
  ["volumes emptied", ctr("web", { volumes: [] }), [{ field: "volumes", from: "[/data:/data]", to: "[]" }]],
  ["ports", ctr("web", { ports: ["9090:80"] }), [{ field: "ports", from: "[8080:80]", to: "[9090:80]" }]],
  ["log_volume", ctr("web", { log_volume: "web-logs" }), [{ field: "log_volume", from: null, to: "web-logs" }]],
  // fields stored only when not at their default show the default, not "(none)"
  ["shell set", ctr("web", { shell: true }), [{ field: "shell", from: "false", to: "true" }]],
  ["restart set", ctr("web", { restart: "always" }), [{ field: "restart", from: "no", to: "always" }]]
]

const cases: ReadonlyArray<Case> = [
  // --- nothing observed
  {
    title: "nothing observed, desired running tmux → create",
    desired: [valid(api)],
    observed: [],
    steps: [{ action: "create", session: "api", backend: "tmux", cause: "not running", spec: api, targets: [] }],
    unchanged: []
  },
  {
    title: "nothing observed, desired running container → create",
    desired: [valid(web)],
    observed: [],
    steps: [{ action: "create", session: "web", backend: "container", cause: "not running", spec: web, targets: [] }]
  },
  {
    title: "nothing observed, desired stopped → no step, unchanged",
    desired: [valid(tmux("api", { state: "stopped" })), valid(ctr("web", { state: "stopped" }))],
    observed: [],
    steps: [],
    unchanged: ["api", "web"]
  },

  // --- owned, same spec
  {
    title: "owned tmux, same spec, running → no step",
    desired: [valid(api)],
    observed: [owned(api)],
    steps: [],
    unchanged: ["api"]
  },
  {
    title: "owned container, same spec, running → no step",
    desired: [valid(web)],
    observed: [owned(web)],
    steps: [],
    unchanged: ["web"]
  },
  {
    title: "owned container, same spec, exited with code 3 → start, cause names the exit code",
    desired: [valid(web)],
    observed: [owned(web, { state: "exited", exit_code: 3 })],
    steps: [{
      action: "start",
      session: "web",
      backend: "container",
      cause: "exited with code 3",
      spec: web,
      targets: [owned(web, { state: "exited", exit_code: 3 })]
    }]
  },
  {
    title: "owned tmux, same spec, exited (pane kept) with code 3 → start",
    desired: [valid(api)],
    observed: [owned(api, { state: "exited", exit_code: 3 })],
    steps: [{ action: "start", session: "api", backend: "tmux", cause: "exited with code 3", spec: api }]
  },
  {
    title: "owned container, same spec, stopped → start, cause says stopped",
    desired: [valid(web)],
    observed: [owned(web, { state: "stopped" })],
    steps: [{ action: "start", session: "web", backend: "container", cause: "stopped", targets: [owned(web, { state: "stopped" })] }]
  },
  {
    title: "owned, same spec, exited without a known code → start, cause says exited",
    desired: [valid(web)],
    observed: [owned(web, { state: "exited", exit_code: null })],
    steps: [{ action: "start", session: "web", backend: "container", cause: /^exited$/ }]
  },

  // --- owned, drifted (one row per field)
  ...tmuxDrift.map(([field, desired, changes]): Case => ({
    title: `owned tmux drifted (${field}) → replace with exactly that change`,
    desired: [valid(desired)],
    observed: [owned(api)],
    steps: [{ action: "replace", session: "api", backend: "tmux", cause: "spec changed", changes, spec: desired, targets: [owned(api)] }]
  })),
  ...containerDrift.map(([field, desired, changes]): Case => ({
    title: `owned container drifted (${field}) → replace with exactly that change`,
    desired: [valid(desired)],
    observed: [owned(web)],
    steps: [{ action: "replace", session: "web", backend: "container", cause: "spec changed", changes, spec: desired, targets: [owned(web)] }]
  })),
  {
    title: "owned, drifted and exited → replace (not start)",
    desired: [valid(ctr("web", { image: "localhost/app:2" }))],
    observed: [owned(web, { state: "exited", exit_code: 1 })],
    steps: [{ action: "replace", session: "web", backend: "container", changes: [{ field: "image", from: "localhost/app:1", to: "localhost/app:2" }] }]
  },
  {
    title: "owned with applied: null and a different hash → replace with a `spec` change",
    desired: [valid(web)],
    observed: [marked(owned(web), { spec_hash: "v1:0000", applied: null })],
    steps: [{ action: "replace", session: "web", backend: "container", cause: "spec changed", changes: [{ field: "spec", change: "changed" }] }]
  },
  {
    title: "owned with no stored hash at all (older kstlib) → replace with a `spec` change",
    desired: [valid(api)],
    observed: [marked(owned(api), { spec_hash: null, applied: null })],
    steps: [{ action: "replace", session: "api", backend: "tmux", changes: [{ field: "spec", change: "changed" }] }]
  },
  {
    title: "owned with applied: null but the SAME hash → no step (the hash decides drift)",
    desired: [valid(web)],
    observed: [marked(owned(web), { applied: null })],
    steps: [],
    unchanged: ["web"]
  },

  // --- desired stopped
  {
    title: "desired stopped + owned running tmux → stop",
    desired: [valid(tmux("api", { state: "stopped" }))],
    observed: [owned(api)],
    steps: [{ action: "stop", session: "api", backend: "tmux", cause: "state: stopped", spec: null, targets: [owned(api)] }]
  },
  {
    title: "desired stopped + owned running container, even drifted → stop only",
    desired: [valid(ctr("web", { state: "stopped", image: "localhost/app:9" }))],
    observed: [owned(web)],
    steps: [{ action: "stop", session: "web", backend: "container", targets: [owned(web)] }]
  },
  {
    title: "desired stopped + owned exited → nothing",
    desired: [valid(ctr("web", { state: "stopped" }))],
    observed: [owned(web, { state: "exited", exit_code: 0 })],
    steps: [],
    unchanged: ["web"]
  },
  {
    title: "desired stopped + owned stopped → nothing",
    desired: [valid(tmux("api", { state: "stopped" }))],
    observed: [owned(api, { state: "stopped" })],
    steps: [],
    unchanged: ["api"]
  },

  // --- foreign sessions
  {
    title: "foreign tmux session in the same slot (default socket) → conflict targeting it",
    desired: [valid(api)],
    observed: [foreign("api", { socket_name: null })],
    steps: [{ action: "conflict", session: "api", backend: "tmux", cause: "not created by kstlib", spec: null, targets: [foreign("api", { socket_name: null })] }]
  },
  {
    title: "foreign tmux session on the same named socket → conflict",
    desired: [valid(tmux("api", { socket_name: "work" }))],
    observed: [foreign("api", { socket_name: "work" })],
    steps: [{ action: "conflict", session: "api", backend: "tmux", cause: "tmux socket work", targets: [foreign("api", { socket_name: "work" })] }]
  },
  {
    title: "foreign container on the same runtime → conflict targeting it",
    desired: [valid(web)],
    observed: [foreign("web", { runtime: "podman" })],
    steps: [{ action: "conflict", session: "web", backend: "container", cause: /container not created by kstlib.*podman/, targets: [foreign("web", { runtime: "podman" })] }]
  },
  {
    title: "foreign in slot + desired stopped → conflict, never stop",
    desired: [valid(ctr("web", { state: "stopped" }))],
    observed: [foreign("web", { runtime: "podman" })],
    steps: [{ action: "conflict", session: "web", backend: "container", targets: [foreign("web", { runtime: "podman" })] }]
  },
  {
    title: "foreign in slot + an owned copy elsewhere → conflict only (the owned copy is not replaced or pruned)",
    desired: [valid(tmux("api", { socket_name: "b" }))],
    observed: [foreign("api", { socket_name: "b" }), owned(tmux("api", { socket_name: "a" }))],
    steps: [{ action: "conflict", session: "api", backend: "tmux", targets: [foreign("api", { socket_name: "b" })] }]
  },
  {
    title: "foreign with the same name on ANOTHER tmux socket does not block → create",
    desired: [valid(api)],
    observed: [foreign("api", { socket_name: "other" })],
    steps: [{ action: "create", session: "api", backend: "tmux", spec: api, targets: [] }]
  },
  {
    title: "foreign with the same name on ANOTHER runtime does not block → create",
    desired: [valid(web)],
    observed: [foreign("web", { runtime: "docker" })],
    steps: [{ action: "create", session: "web", backend: "container", spec: web }]
  },
  {
    title: "foreign with the same name in the OTHER backend does not block → create",
    desired: [valid(web)],
    observed: [foreign("web", { socket_name: null })],
    steps: [{ action: "create", session: "web", backend: "container", spec: web }]
  },
  {
    title: "foreign sessions not in config → never pruned, not orphans",
    desired: [],
    observed: [foreign("x", { socket_name: null }), foreign("y", { runtime: "docker" })],
    options: { prune: true },
    steps: [],
    orphans: []
  },

  // --- rejected entries
  {
    title: "rejected entry → invalid with its issues",
    desired: [rejected("bad", [issue("bad", "image", "required for a container session")], "container")],
    observed: [],
    steps: [{
      action: "invalid",
      session: "bad",
      backend: "container",
      cause: "/cfg/kstlib.conf.yml:7: session 'bad': image: required for a container session",
      spec: null,
      issues: [issue("bad", "image", "required for a container session")]
    }]
  },
  {
    title: "rejected entry with several issues, backend unknown → invalid (tmux), every issue kept",
    desired: [rejected("bad", [issue("bad", "env.PORT", "must be a string"), issue("bad", "volumes", "must be a list")])],
    observed: [],
    steps: [{
      action: "invalid",
      session: "bad",
      backend: "tmux",
      cause: /env\.PORT: must be a string.*volumes: must be a list/,
      issues: [issue("bad", "env.PORT", "must be a string"), issue("bad", "volumes", "must be a list")]
    }]
  },
  {
    title: "rejected entry + an owned running session of that name → invalid only, the session is left alone",
    desired: [rejected("api", [issue("api", "command", "must be a string")], "tmux")],
    observed: [owned(api)],
    options: { prune: true },
    steps: [{ action: "invalid", session: "api", backend: "tmux", targets: [] }],
    orphans: []
  },

  // --- orphans and prune
  {
    title: "owned session not in config, no --prune → no step, listed in orphans",
    desired: [],
    observed: [owned(tmux("old")), owned(ctr("oldweb"))],
    steps: [],
    orphans: ["old", "oldweb"],
    unchanged: []
  },
  {
    title: "owned sessions not in config, --prune → prune each one, orphans empty",
    desired: [],
    observed: [owned(tmux("old", { socket_name: "s1" })), owned(ctr("oldweb", { runtime: "docker" }))],
    options: { prune: true },
    steps: [
      { action: "prune", session: "old", backend: "tmux", cause: "no longer in config (tmux socket s1)", spec: null, targets: [owned(tmux("old", { socket_name: "s1" }))] },
      { action: "prune", session: "oldweb", backend: "container", cause: "no longer in config (docker)", targets: [owned(ctr("oldweb", { runtime: "docker" }))] }
    ],
    orphans: []
  },
  {
    title: "an orphan owned in two places is listed once",
    desired: [],
    observed: [owned(tmux("old", { socket_name: "a" })), owned(tmux("old", { socket_name: "b" }))],
    steps: [],
    orphans: ["old"]
  },
  {
    title: "--prune with a mix: config steps first, then prunes; foreign untouched",
    desired: [valid(api)],
    observed: [owned(api), owned(ctr("gone")), foreign("stranger", { runtime: "podman" })],
    options: { prune: true },
    steps: [{ action: "prune", session: "gone", backend: "container", targets: [owned(ctr("gone"))] }],
    unchanged: ["api"],
    orphans: []
  },

  // --- moves
  {
    title: "cross-backend move: owned tmux, config now container → one replace targeting the tmux one",
    desired: [valid(ctr("api", { env: api.env, command: "node server.js", working_dir: "/srv/app", volumes: [], ports: [] }))],
    observed: [owned(api)],
    steps: [{
      action: "replace",
      session: "api",
      backend: "container",
      cause: "moves from tmux socket default to podman",
      changes: [
        { field: "backend", from: "tmux", to: "container" },
        { field: "image", from: null, to: "localhost/app:1" },
        { field: "runtime", from: null, to: "podman" }
      ],
      targets: [owned(api)]
    }]
  },
  {
    title: "cross-backend move: owned container, config now tmux → one replace targeting the container",
    desired: [valid(tmux("web", { command: null, working_dir: null, env: web.env, socket_name: "dev" }))],
    observed: [owned(web)],
    steps: [{
      action: "replace",
      session: "web",
      backend: "tmux",
      cause: "moves from podman to tmux socket dev",
      changes: [
        { field: "backend", from: "container", to: "tmux" },
        { field: "socket_name", from: null, to: "dev" },
        { field: "image", from: "localhost/app:1", to: null },
        { field: "volumes", from: "[/data:/data]", to: null },
        { field: "ports", from: "[8080:80]", to: null },
        { field: "runtime", from: "podman", to: null }
      ],
      targets: [owned(web)]
    }]
  },
  {
    title: "tmux socket change: owned on socket a, config socket b → replace (move) targeting a",
    desired: [valid(tmux("api", { socket_name: "b" }))],
    observed: [owned(tmux("api", { socket_name: "a" }))],
    steps: [{
      action: "replace",
      session: "api",
      backend: "tmux",
      cause: "moves from tmux socket a to tmux socket b",
      changes: [{ field: "socket_name", from: "a", to: "b" }],
      spec: tmux("api", { socket_name: "b" }),
      targets: [owned(tmux("api", { socket_name: "a" }))]
    }]
  },
  {
    title: "tmux socket change from the default server → replace (move)",
    desired: [valid(tmux("api", { socket_name: "b" }))],
    observed: [owned(api)],
    steps: [{
      action: "replace",
      session: "api",
      backend: "tmux",
      cause: "moves from tmux socket default to tmux socket b",
      changes: [{ field: "socket_name", from: null, to: "b" }]
    }]
  },
  {
    title: "runtime change: owned on podman, config docker → replace (move)",
    desired: [valid(ctr("web", { runtime: "docker" }))],
    observed: [owned(web)],
    steps: [{
      action: "replace",
      session: "web",
      backend: "container",
      cause: "moves from podman to docker",
      changes: [{ field: "runtime", from: "podman", to: "docker" }],
      targets: [owned(web)]
    }]
  },
  {
    title: "stale owned copy in another slot while the desired slot holds the current one → prune the stale copy",
    desired: [valid(tmux("api", { socket_name: "b" }))],
    observed: [owned(tmux("api", { socket_name: "a" })), owned(tmux("api", { socket_name: "b" }))],
    steps: [{
      action: "prune",
      session: "api",
      backend: "tmux",
      cause: "stale copy in tmux socket a; config places it in tmux socket b",
      targets: [owned(tmux("api", { socket_name: "a" }))]
    }],
    unchanged: []
  },
  {
    title: "stale copy in the other backend + current exited → start and prune",
    desired: [valid(web)],
    observed: [owned(tmux("web")), owned(web, { state: "exited", exit_code: 3 })],
    steps: [
      { action: "start", session: "web", backend: "container", cause: "exited with code 3" },
      { action: "prune", session: "web", backend: "tmux", targets: [owned(tmux("web"))] }
    ]
  },
  {
    title: "desired stopped with owned copies in two slots → stop each running one",
    desired: [valid(tmux("api", { socket_name: "b", state: "stopped" }))],
    observed: [owned(tmux("api", { socket_name: "a" })), owned(tmux("api", { socket_name: "b" })), owned(tmux("api", { socket_name: "c" }), { state: "exited" })],
    steps: [
      { action: "stop", session: "api", backend: "tmux", targets: [owned(tmux("api", { socket_name: "b" }))] },
      { action: "stop", session: "api", backend: "tmux", targets: [owned(tmux("api", { socket_name: "a" }))] }
    ]
  },

  // --- availability
  {
    title: "tmux not available → tmux entries invalid with the cause, containers still planned",
    desired: [valid(api), valid(web)],
    observed: [],
    options: { tmux: false },
    steps: [
      { action: "invalid", session: "api", backend: "tmux", cause: "tmux is not installed", spec: null },
      { action: "create", session: "web", backend: "container" }
    ]
  },
  {
    title: "container runtime not among the usable ones → invalid naming it",
    desired: [valid(ctr("web", { runtime: "docker" }))],
    observed: [],
    options: { engines: ["podman"] },
    steps: [{ action: "invalid", session: "web", backend: "container", cause: "container runtime 'docker' not found" }]
  },
  {
    title: "container runtime auto (null) and no runtime at all → invalid",
    desired: [valid(auto("web"))],
    observed: [],
    options: { engines: [] },
    steps: [{ action: "invalid", session: "web", backend: "container", cause: "no container runtime found" }]
  },

  // --- ordering
  {
    title: "several entries → steps in config order",
    desired: [valid(ctr("c1")), valid(tmux("t1")), valid(tmux("t2", { state: "stopped" })), valid(ctr("c2", { image: "x:2" }))],
    observed: [owned(tmux("t1"), { state: "stopped" }), owned(tmux("t2")), owned(ctr("c2"))],
    steps: [
      { action: "create", session: "c1", backend: "container" },
      { action: "start", session: "t1", backend: "tmux" },
      { action: "stop", session: "t2", backend: "tmux" },
      { action: "replace", session: "c2", backend: "container", changes: [{ field: "image", from: "localhost/app:1", to: "x:2" }] }
    ],
    unchanged: []
  }
]

describe("plan: desired × observed", () => {
  it.each(cases)("$title", (c) => {
    const p = plan(c.desired, c.observed, opts(c.options))
    checkSteps(p.steps, c.steps)
    if (c.unchanged !== undefined) expect(p.unchanged).toEqual(c.unchanged)
    if (c.orphans !== undefined) expect(p.orphans).toEqual(c.orphans)
    // The summary always counts exactly the steps.
    for (const action of ["create", "replace", "start", "stop", "prune", "conflict", "invalid"] as const) {
      expect(p.summary[action], action).toBe(p.steps.filter((s) => actionOf(s) === action).length)
    }
    // Every config entry is either unchanged or has at least one step.
    for (const e of c.desired) {
      expect(p.unchanged.includes(e.name) !== p.steps.some((s) => s.session === e.name), e.name).toBe(true)
    }
  })

  it("never stops, replaces or prunes a foreign session, whatever the inputs", () => {
    const observed = [
      foreign("api", { socket_name: null }),
      foreign("web", { runtime: "podman" }),
      foreign("zombie", { socket_name: null }),
      foreign("api", { socket_name: "b" }, { state: "exited", exit_code: 1 })
    ]
    const desiredSets: ReadonlyArray<ReadonlyArray<ConfigEntry>> = [
      [valid(api), valid(web)],
      [valid(tmux("api", { state: "stopped" })), valid(ctr("web", { state: "stopped" }))],
      [valid(tmux("api", { socket_name: "b" }))],
      [valid(ctr("api")), valid(tmux("web"))],
      []
    ]
    for (const desired of desiredSets) {
      const p = plan(desired, observed, opts({ prune: true }))
      for (const s of p.steps) {
        if (s._tag === "Conflict") continue
        expect(targetsOf(s).every((t) => t.mark.managed && t.mark.project === PROJECT), `${s._tag} ${s.session}`).toBe(true)
      }
    }
  })
})

describe("plan: env values never leak", () => {
  const drifted = tmux("api", { env: { PORT: "8080", API_TOKEN: SECRET2, NEW_KEY: SECRET } })
  const p = plan(
    [valid(drifted), valid(ctr("web", { env: { API_TOKEN: SECRET2 } })), valid(tmux("fresh", { env: { A: SECRET } }))],
    [owned(api), owned(web)],
    opts()
  )

  it("names the keys and how they changed", () => {
    expect(p.steps.map((s) => [actionOf(s), s.session, s._tag === "Replace" ? s.changes : []])).toEqual([
      ["replace", "api", [{ field: "env.API_TOKEN", change: "changed" }, { field: "env.NEW_KEY", change: "added" }]],
      ["replace", "web", [{ field: "env.API_TOKEN", change: "changed" }]],
      ["create", "fresh", []]
    ])
  })

  it("no value appears in the plan outside the specs to run, nor in its JSON or text", () => {
    for (const text of [
      JSON.stringify(withoutSpecs(p)),
      JSON.stringify(planToJson(p)),
      renderPlan(p, { color: false }, { verbose: true })
    ]) {
      expect(text).not.toContain(SECRET)
      expect(text).not.toContain(SECRET2)
    }
    // The values do reach the executor, through the spec it runs, and nowhere else.
    const apiStep = p.steps.find((s) => s.session === "api")
    expect(apiStep === undefined ? null : specOf(apiStep)).toEqual(drifted)
  })

  it("diffFingerprints on env never carries a value", () => {
    const changes = diffFingerprints(fingerprint(api), fingerprint(drifted))
    expect(changes).toEqual([{ field: "env.API_TOKEN", change: "changed" }, { field: "env.NEW_KEY", change: "added" }])
    expect(JSON.stringify(changes)).not.toContain(SECRET)
  })
})

describe("diffFingerprints", () => {
  it("identical fingerprints → no change", () => {
    expect(diffFingerprints(fingerprint(web), fingerprint(ctr("web")))).toEqual([])
  })
  it("null applied → a single `spec` change", () => {
    expect(diffFingerprints(null, fingerprint(web))).toEqual([{ field: "spec", change: "changed" }])
  })
  it("lists backend first", () => {
    const changes = diffFingerprints(fingerprint(ctr("x", { env: {}, volumes: [], ports: [] })), fingerprint(tmux("x", { env: {} })))
    expect(changes[0]).toEqual({ field: "backend", from: "container", to: "tmux" })
  })
})

describe("plan: only filter", () => {
  const desired = [valid(tmux("a")), valid(tmux("b")), valid(ctr("c", { image: "x:2" }))]
  const observed = [owned(ctr("c")), owned(tmux("orph1")), owned(ctr("orph2"))]

  it("restricts steps and orphans to the named sessions", () => {
    const p = plan(desired, observed, opts({ only: ["a", "orph1"] }))
    checkSteps(p.steps, [{ action: "create", session: "a", backend: "tmux" }])
    expect(p.orphans).toEqual(["orph1"])
    expect(p.summary).toEqual({ create: 1, replace: 0, start: 0, stop: 0, prune: 0, conflict: 0, invalid: 0 })
  })

  it("with --prune, prunes only the named orphans", () => {
    const p = plan(desired, observed, opts({ only: ["c", "orph2"], prune: true }))
    checkSteps(p.steps, [
      { action: "replace", session: "c", backend: "container", changes: [{ field: "image", from: "localhost/app:1", to: "x:2" }] },
      { action: "prune", session: "orph2", backend: "container" }
    ])
    expect(p.summary).toEqual({ create: 0, replace: 1, start: 0, stop: 0, prune: 1, conflict: 0, invalid: 0 })
  })

  it("a config session left out by the filter is not an orphan", () => {
    const p = plan(desired, observed, opts({ only: ["a"], prune: true }))
    expect(p.steps.map((s) => s.session)).toEqual(["a"])
    expect(p.orphans).toEqual([])
  })

  it("empty only = everything", () => {
    const p = plan(desired, observed, opts({ only: [] }))
    expect(p.steps.map((s) => `${actionOf(s)} ${s.session}`)).toEqual(["create a", "create b", "replace c"])
    expect(p.orphans).toEqual(["orph1", "orph2"])
  })
})

describe("plan: summary and hasChanges", () => {
  it("summary counts a mixed plan", () => {
    const p = plan(
      [
        valid(tmux("new1")),
        valid(ctr("new2")),
        valid(ctr("drift", { ports: [] })),
        valid(tmux("dead")),
        valid(tmux("halt", { state: "stopped" })),
        valid(tmux("taken")),
        rejected("broken", [issue("broken", "image", "required")], "container")
      ],
      [
        owned(ctr("drift")),
        owned(tmux("dead"), { state: "exited", exit_code: 3 }),
        owned(tmux("halt")),
        foreign("taken", { socket_name: null }),
        owned(tmux("gone"))
      ],
      opts({ prune: true })
    )
    expect(p.summary).toEqual({ create: 2, replace: 1, start: 1, stop: 1, prune: 1, conflict: 1, invalid: 1 })
    expect(p.steps).toHaveLength(8)
    expect(hasChanges(p)).toBe(true)
  })

  it("hasChanges is false for an empty plan and for a plan of only conflicts and invalid entries", () => {
    expect(hasChanges(plan([valid(api)], [owned(api)], opts()))).toBe(false)
    const blocked = plan(
      [valid(api), rejected("bad", [issue("bad", "command", "must be a string")])],
      [foreign("api", { socket_name: null })],
      opts()
    )
    expect(blocked.steps.map(actionOf)).toEqual(["conflict", "invalid"])
    expect(hasChanges(blocked)).toBe(false)
    expect(blocked.steps.some(isActionable)).toBe(false)
  })

  it("orphans alone (no --prune) are not changes", () => {
    const p = plan([], [owned(tmux("gone"))], opts())
    expect(p.steps).toEqual([])
    expect(hasChanges(p)).toBe(false)
  })

  it("each actionable action makes hasChanges true", () => {
    const oneOf: ReadonlyArray<readonly [StepAction, Plan]> = [
      ["create", plan([valid(api)], [], opts())],
      ["start", plan([valid(api)], [owned(api, { state: "stopped" })], opts())],
      ["replace", plan([valid(tmux("api", { command: "x" }))], [owned(api)], opts())],
      ["stop", plan([valid(tmux("api", { state: "stopped" }))], [owned(api)], opts())],
      ["prune", plan([], [owned(api)], opts({ prune: true }))]
    ]
    for (const [action, p] of oneOf) {
      expect(p.steps.map(actionOf)).toEqual([action])
      expect(hasChanges(p), action).toBe(true)
    }
  })
})

describe("resolveSpec: the auto runtime is bound once, before planning", () => {
  it("binds runtime null to the first usable runtime; a pinned one stays", () => {
    expect(resolveSpec(auto("a"), answeredHere(["podman", "docker"]))).toEqual({ _tag: "Runnable", spec: ctr("a") })
    expect(resolveSpec(auto("a"), answeredHere(["docker"]))).toEqual({ _tag: "Runnable", spec: ctr("a", { runtime: "docker" }) })
    expect(resolveSpec(ctr("p", { runtime: "docker" }), answeredHere(["podman", "docker"]))).toMatchObject({ spec: { runtime: "docker" } })
    // swarm is asked for by name, never detected; an engine answering on a host is not this machine's
    expect(resolveSpec(auto("a"), [{ backend: "container", runtime: "swarm" }, { backend: "container", runtime: "docker", host: "edge1" }])).toMatchObject({
      _tag: "Unrunnable",
      step: { reason: "runtime-missing", runtime: null }
    })
  })

  it("no usable runtime → an invalid step naming it (or none for auto)", () => {
    expect(resolveSpec(auto("a"), answeredHere([]))).toMatchObject({ _tag: "Unrunnable", step: { reason: "runtime-missing", runtime: null } })
    expect(resolveSpec(ctr("p", { runtime: "docker" }), answeredHere(["podman"]))).toMatchObject({
      _tag: "Unrunnable",
      step: { reason: "runtime-missing", runtime: "docker" }
    })
    expect(resolveSpec(api, answeredHere([], false))).toMatchObject({ _tag: "Unrunnable", step: { reason: "tmux-missing" } })
  })

  it("an auto-runtime entry plans against the bound runtime (same hash as pinned)", () => {
    const p = plan([valid(auto("web"))], [owned(ctr("web"))], opts())
    expect(p.steps).toEqual([])
    expect(p.unchanged).toEqual(["web"])
  })
})

describe("plan: projects (a session is ours only when managed AND of this project)", () => {
  const other = (o: ObservedSession) => marked(o, { project: "billing" })
  const noProject = (o: ObservedSession) => marked(o, { project: null })

  it("another project's session holding a configured name is a conflict naming the project; never replaced", () => {
    const p = plan([valid(tmux("api", { command: "other" }))], [other(owned(api))], opts())
    checkSteps(p.steps, [{ action: "conflict", session: "api", backend: "tmux", cause: "owned by project 'billing'" }])
    expect(renderPlan(p, { color: false })).toContain("! api (tmux socket default): conflict, owned by project 'billing'")
  })

  it("managed but no project mark (an older kstlib) is foreign: a conflict, never pruned", () => {
    expect(plan([valid(api)], [noProject(owned(api))], opts()).steps.map(view)).toMatchObject([{ action: "conflict", cause: /not created by kstlib/ }])
    expect(plan([], [noProject(owned(api))], opts({ prune: true })).steps).toEqual([])
  })

  it("--prune and orphan hints only ever consider this project", () => {
    const observed = [owned(tmux("mine")), other(owned(tmux("theirs"))), other(owned(ctr("theirs2"))), foreign("stranger", { socket_name: null })]
    const p = plan([], observed, opts({ prune: true }))
    expect(p.steps.map((s) => `${actionOf(s)} ${s.session}`)).toEqual(["prune mine"])
    expect(plan([], observed, opts()).orphans).toEqual(["mine"])
  })

  it("the managed mark needs kstlib's exact value: a mark read as not managed is never ours", () => {
    const p = plan([], [marked(owned(api), { managed: false })], opts({ prune: true }))
    expect(p.steps).toEqual([])
  })

  it("down: every session of this project, configured or not, and nothing else", () => {
    const observed = [owned(api), owned(ctr("gone")), other(owned(web)), foreign("stranger", { runtime: "podman" })]
    const p = planDown(observed, { project: PROJECT, only: [] })
    expect(p.steps.map((s) => `${actionOf(s)} ${s.session}`)).toEqual(["prune api", "prune gone"])
    expect(planDown(observed, { project: PROJECT, only: ["gone"] }).steps.map((s) => s.session)).toEqual(["gone"])
  })

  it("down NAME of a name only another project or a stranger holds: a conflict, never a prune", () => {
    const observed = [owned(api), other(owned(web)), foreign("stranger", { runtime: "podman" })]
    const p = planDown(observed, { project: PROJECT, only: ["web", "stranger", "api"] })
    expect(p.steps.map((s) => `${actionOf(s)} ${s.session}`)).toEqual(["prune api", "conflict web", "conflict stranger"])
    expect(p.steps.filter((s) => s._tag === "Conflict").map((s) => (s as { reason: string }).reason)).toEqual(["other-project", "not-managed"])
    expect(planDown(observed, { project: PROJECT, only: [] }).steps.map((s) => s.session)).toEqual(["api"])
  })

  it("an explicit stop may target any session (the user named it)", () => {
    const p = planStop(foreign("stranger", { socket_name: null }), PROJECT)
    expect(p.steps.map(view)).toMatchObject([{ action: "stop", session: "stranger", cause: "requested" }])
  })

  it("a place that could not be read plans nothing there (its sessions are unknown)", () => {
    const p = plan([valid(api), valid(web)], [], opts({ unreadable: [{ backend: "tmux", socket: null }] }))
    checkSteps(p.steps, [
      { action: "invalid", session: "api", backend: "tmux", cause: "tmux socket default could not be read" },
      { action: "create", session: "web", backend: "container" }
    ])
  })
})

describe("plan: purity", () => {
  const desired: ReadonlyArray<ConfigEntry> = [
    valid(api),
    valid(ctr("web", { image: "localhost/app:2", env: { API_TOKEN: SECRET2 } })),
    valid(tmux("moved", { socket_name: "b" })),
    valid(tmux("halt", { state: "stopped" })),
    valid(tmux("taken")),
    rejected("bad", [issue("bad", "ports", "must be a list")])
  ]
  const observed: ReadonlyArray<ObservedSession> = [
    owned(api, { state: "exited", exit_code: 3 }),
    owned(web),
    owned(tmux("moved", { socket_name: "a" })),
    owned(tmux("halt")),
    foreign("taken", { socket_name: null }),
    owned(ctr("gone")),
    foreign("stranger", { runtime: "docker" })
  ]

  it("same inputs → deep-equal plans", () => {
    for (const prune of [false, true]) {
      const a = plan(desired, observed, opts({ prune }))
      const b = plan(structuredClone(desired), structuredClone(observed), opts({ prune }))
      expect(a).toEqual(b)
      expect(renderPlan(a, { color: false })).toBe(renderPlan(b, { color: false }))
    }
  })

  it("does not mutate its inputs (deep-frozen inputs plan the same)", () => {
    const d = deepFreeze(structuredClone(desired))
    const o = deepFreeze(structuredClone(observed))
    const options = deepFreeze(opts({ prune: true, only: [] }))
    const p = plan(d, o, options)
    expect(p).toEqual(plan(desired, observed, opts({ prune: true })))
    expect(d).toEqual(desired)
    expect(o).toEqual(observed)
    expect(p.steps.map((s) => `${actionOf(s)} ${s.session}`)).toEqual([
      "start api",
      "replace web",
      "replace moved",
      "stop halt",
      "conflict taken",
      "invalid bad",
      "prune gone"
    ])
  })
})
