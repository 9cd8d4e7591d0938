/**
 * The one seam: every service a kstlib program needs, on any `ChildProcessSpawner` (Node's, a
 * counting one, the fake one of `kstlib/testing`), configured from a loaded config.
 */
import { Effect, Layer } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import { CallTimeout, nodeSpawnerLayer } from "./proc.js"
import { Backends } from "./backends/registry.js"
import type { SocketDirectory } from "./backends/tmux/sockets.js"
import { TmuxSocketDirectory } from "./backends/tmux/sockets.js"
import { SshControlDirectory, SshHosts } from "./transport/ssh.js"
import type { PathLookupService } from "./transport/path.js"
import { PathLookup } from "./transport/path.js"
import { TmuxBinary } from "./backends/tmux.js"
import { KstlibConfig } from "./config/service.js"
import { EnvDigests, layerFromStateDir } from "./spec/digest-key.js"
import type { EnvDigest } from "./spec/field.js"
import { LogDirectory } from "./logs/target.js"
import { HoldsDirectory } from "./reconcile/holds.js"
import { LockDirectory } from "./reconcile/lock.js"
import type { LoadedConfig, LoadOptions } from "./config/types.js"
import type { ConfigInvalid, ConfigNotFound, ConfigParseError, InvalidInput } from "./errors.js"

/** What loading a config can fail with (the error of a layer that loads one). */
export type ConfigLoadError = ConfigNotFound | ConfigParseError | ConfigInvalid | InvalidInput

/** What {@link layer} provides: the backends' registry and the config (and, inside, the settings they read). */
export type KstlibServices = Backends | KstlibConfig

/** How {@link layer} is configured. Every field is optional; the defaults are what the CLI uses. */
export interface LayerOptions {
  /**
   * The config: one already loaded (or built by hand), or how to load it (the cascade, `path`, or
   * `KSTLIB_CONFIG`). Default: load the cascade from the working directory.
   */
  readonly config?: LoadedConfig | LoadOptions | undefined
  /**
   * The keyed env digest the fingerprints use. Default: this machine's key, read (or created) in
   * kstlib's state directory. Give one (`keyedDigest(bytes)`) in tests so no state directory is read.
   */
  readonly envDigest?: EnvDigest | undefined
  /** Where default log files go (`$XDG_STATE_HOME/kstlib/logs`); null: no default log file. */
  readonly logDirectory?: string | null | undefined
  /** How tmux's socket directory is read (default: the real one); a test gives one that reads nothing. */
  readonly tmuxSocketDirectory?: SocketDirectory | undefined
  /** How programs are found on PATH (default: the real PATH). */
  readonly pathLookup?: PathLookupService | undefined
  /**
   * The directory of ssh's control sockets (default: `$XDG_RUNTIME_DIR/kstlib-ssh`, created 0700 on
   * first use). Given, it is used as it is and never created (a test on a fake spawner).
   */
  readonly sshControlDirectory?: string | undefined
  /** Seconds any one external call may take (default: `KSTLIB_CALL_TIMEOUT`, else 60). */
  readonly callTimeout?: number | undefined
  /** Where apply/down take their lock (default: `$XDG_RUNTIME_DIR/kstlib-<uid>`, else the temp dir's). */
  readonly lockDirectory?: string | undefined
  /** Where sessions stopped through kstlib are recorded for `ops watch` (default `<state>/holds`); null: not recorded. */
  readonly holdsDirectory?: string | null | undefined
}

const isLoaded = (c: LoadedConfig | LoadOptions): c is LoadedConfig => "sessions" in c && Array.isArray((c as LoadedConfig).sessions)

/** The config as a layer: loaded when the layer is built, or the one given. */
export const configLayer = (config: LoadedConfig | LoadOptions = {}): Layer.Layer<KstlibConfig, ConfigLoadError> =>
  isLoaded(config) ? KstlibConfig.fromLoaded(config) : KstlibConfig.layer(config)

/**
 * Every backend (tmux, Podman/Docker, swarm) on the spawner given, with the config's settings:
 * `ops.tmux_binary`, `ops.hosts` (each host's ssh target and container runtime). The defaults of
 * container runtimes (`ops.container_runtime`, a host's `runtime:`) are already in the loaded specs.
 */
export const backendsFromConfig = Backends.layerWith.pipe(
  Layer.provideMerge(Layer.effect(TmuxBinary, KstlibConfig.useSync((c) => c.tmux_binary))),
  Layer.provideMerge(Layer.effect(SshHosts, KstlibConfig.useSync((c) => c.hosts ?? [])))
)

/** The settings a caller gave, as layers of their references (the ones not given keep their defaults). */
const settingsLayer = (options: LayerOptions) =>
  Layer.mergeAll(
    options.envDigest === undefined ? layerFromStateDir : Layer.succeed(EnvDigests, options.envDigest),
    options.logDirectory === undefined ? Layer.empty : Layer.succeed(LogDirectory, options.logDirectory),
    options.tmuxSocketDirectory === undefined ? Layer.empty : Layer.succeed(TmuxSocketDirectory, options.tmuxSocketDirectory),
    options.pathLookup === undefined ? Layer.empty : Layer.succeed(PathLookup, options.pathLookup),
    options.callTimeout === undefined ? Layer.empty : Layer.succeed(CallTimeout, options.callTimeout),
    options.lockDirectory === undefined ? Layer.empty : Layer.succeed(LockDirectory, options.lockDirectory),
    options.holdsDirectory === undefined ? Layer.empty : Layer.succeed(HoldsDirectory, options.holdsDirectory),
    options.sshControlDirectory === undefined
      ? Layer.empty
      : Layer.succeed(SshControlDirectory, { ensure: Effect.succeed(options.sshControlDirectory) })
  )

/**
 * THE seam: the config (loaded or given), every backend on any `ChildProcessSpawner`, and every
 * config setting they read (`ops.tmux_binary`, `ops.hosts`, the runtimes), plus the settings of
 * `options`. A program on a fake spawner with `tmuxSocketDirectory` and `pathLookup` given touches
 * nothing real (`kstlib/testing`'s `fakeLayer` does that).
 */
export function layer(options: LayerOptions & { readonly config: LoadedConfig }): Layer.Layer<KstlibServices, never, ChildProcessSpawner.ChildProcessSpawner>
export function layer(options?: LayerOptions): Layer.Layer<KstlibServices, ConfigLoadError, ChildProcessSpawner.ChildProcessSpawner>
export function layer(options: LayerOptions = {}): Layer.Layer<KstlibServices, ConfigLoadError, ChildProcessSpawner.ChildProcessSpawner> {
  return backendsFromConfig.pipe(
    Layer.provideMerge(settingsLayer(options)),
    Layer.provideMerge(configLayer(options.config ?? {}))
  )
}

/**
 * Every backend on Node's process spawner, with `ops.tmux_binary` and `ops.hosts` taken from the
 * config, and this machine's keyed env digest.
 * @deprecated Use {@link layer} (any spawner) or `layerNode`; this one needs `KstlibConfig` provided.
 */
export const backendsLayer = backendsFromConfig.pipe(Layer.provideMerge(layerFromStateDir), Layer.provide(nodeSpawnerLayer))

/** Loads the config (cascade, `path`, or KSTLIB_CONFIG) and provides it with the backends, on Node's spawner. */
export const layerNode = (options: LoadOptions = {}): Layer.Layer<KstlibServices, ConfigLoadError> =>
  layer({ config: options }).pipe(Layer.provide(nodeSpawnerLayer))

/** The same with a config already loaded or built by hand. */
export const layerNodeWith = (config: LoadedConfig): Layer.Layer<KstlibServices> => layer({ config }).pipe(Layer.provide(nodeSpawnerLayer))
