/**
 * `kstlib/testing`: test doubles for programs built on kstlib, so their unit tests run no tmux, no
 * engine and no ssh, and read no real PATH or socket directory.
 *
 * - `memoryLayer`: the `Kstlib` service over in-memory backends (sessions in a Ref, every call
 *   recorded in `MemoryProbe`, misbehaviour on demand: failed launches, crashes, hangs, probes).
 *   Times come from the Clock, so under `it.effect` they are `TestClock` times.
 * - `fakeLayer`: the `Kstlib` service over the real drivers on a fake `ChildProcessSpawner` (argv
 *   recorded, answers scripted): for what a program makes kstlib run.
 * - Spec builders with the field tables' defaults (`tmuxSpec`, `containerSpec`), config entries
 *   (`valid`, `rejected`), a hand-built config (`testConfig`), observed sessions (`owned`, `foreign`).
 *
 *   it.effect("starts web", () =>
 *     Effect.gen(function*() {
 *       const kstlib = yield* Kstlib
 *       const result = yield* kstlib.apply({}, { settle: 0 })
 *       expect(failedSteps(result)).toEqual([])
 *     }).pipe(Effect.provide(memoryLayer({ sessions: [tmuxSpec("web")] }))))
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer } from "effect"
import { HoldsDirectory } from "../reconcile/holds.js"
import { LockDirectory } from "../reconcile/lock.js"
import type { Backends } from "../backends/registry.js"
import type { KstlibConfig } from "../config/service.js"
import { KstlibConfig as ConfigService } from "../config/service.js"
import type { ConfigEntry, LoadedConfig } from "../config/types.js"
import { Kstlib } from "../facade.js"
import { LogDirectory } from "../logs/target.js"
import type { ConfiguredSpec, ObservedSession } from "../model.js"
import { EnvDigests } from "../spec/digest-key.js"
import type { Behavior, MemorySession } from "./memory.js"
import { memoryBackends, MemoryProbe } from "./memory.js"
import type { FakeResult } from "./spawner.js"
import { emptySocketDirectory, fakeSpawner, memoryPath } from "./spawner.js"
import { CONFIG_FILE, PROJECT, TEST_DIGEST, valid } from "./specs.js"

export * from "./memory.js"
export * from "./spawner.js"
export * from "./specs.js"

/**
 * A config as `loadConfig` would return it, built by hand: one file (`CONFIG_FILE`, never read),
 * the project `PROJECT`, tmux as the default backend. `sessions`: specs (each a valid entry) or
 * entries (`valid`, `rejected`).
 */
export const testConfig = (
  sessions: ReadonlyArray<ConfiguredSpec | ConfigEntry> = [],
  over: Partial<LoadedConfig> = {}
): LoadedConfig => ({
  files: [CONFIG_FILE],
  default_backend: "tmux",
  tmux_binary: "tmux",
  container_runtime: null,
  sessions: sessions.map((s) => ("_tag" in s ? s : valid(s))),
  warnings: [],
  project: PROJECT,
  searched: [CONFIG_FILE],
  ...over
})

/** What `memoryLayer` is built from. */
export interface MemoryLayerOptions {
  /** The config's sessions (or pass `config`). */
  readonly sessions?: ReadonlyArray<ConfiguredSpec | ConfigEntry>
  /** A whole config (default: `testConfig(sessions)`). */
  readonly config?: LoadedConfig
  /** How sessions misbehave (by name). */
  readonly behavior?: Behavior
  /** Sessions present before the test. */
  readonly initial?: ReadonlyArray<ObservedSession | MemorySession>
}

/**
 * The `Kstlib` service on in-memory backends, with `Backends`, `KstlibConfig` and `MemoryProbe`
 * (what the backends were asked, what they hold). The env digest is `TEST_DIGEST` (so `owned(spec)`
 * sessions match their spec) and there is no default log directory.
 */
export const memoryLayer = (options: MemoryLayerOptions = {}): Layer.Layer<Kstlib | Backends | KstlibConfig | MemoryProbe> =>
  Layer.effect(Kstlib, Kstlib.make).pipe(
    Layer.provideMerge(memoryBackends(options.behavior, options.initial)),
    Layer.provideMerge(ConfigService.fromLoaded(options.config ?? testConfig(options.sessions))),
    Layer.provideMerge(Layer.mergeAll(Layer.succeed(EnvDigests, TEST_DIGEST), Layer.succeed(LogDirectory, null), Layer.succeed(HoldsDirectory, null), privateLockDirectory))
  )

/** A lock directory of the layer's own (a fresh temp directory, removed with the layer): apply never locks in the user's. */
const privateLockDirectory = Layer.effect(
  LockDirectory,
  Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "kstlib-test-lock-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )
)

/**
 * The `Kstlib` service on the real drivers over a fake spawner: `respond` answers each program run,
 * `calls` records their argv. No socket directory is read, no ssh control directory is created;
 * every program is on a PATH of its own (`path` overrides: `{ podman: null }` is no podman).
 */
export const fakeLayer = (
  config: LoadedConfig,
  respond: (cmd: string, args: ReadonlyArray<string>) => FakeResult,
  options: { readonly path?: Readonly<Record<string, string | null>> } = {}
) => {
  const fake = fakeSpawner(respond, options)
  const services = Kstlib.layer({
    config,
    envDigest: TEST_DIGEST,
    logDirectory: null,
    tmuxSocketDirectory: emptySocketDirectory,
    pathLookup: memoryPath(options.path),
    // ssh's ControlPath on the fake's command lines; never created
    sshControlDirectory: "/nonexistent/kstlib-ssh",
    holdsDirectory: null
  }).pipe(Layer.provideMerge(privateLockDirectory), Layer.provide(fake.layer))
  return { layer: services, calls: fake.calls }
}

export { MemoryProbe }
