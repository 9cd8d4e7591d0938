/** Ready-made layers: everything a kstlib program needs on Node, configured from a loaded config. */
import { Layer } from "effect"
import { nodeSpawnerLayer } from "./proc.js"
import { Backends } from "./backends/registry.js"
import { SshHosts } from "./transport/ssh.js"
import { TmuxBinary } from "./backends/tmux.js"
import { KstlibConfig } from "./config/service.js"
import { layerFromStateDir } from "./spec/digest-key.js"
import type { LoadedConfig, LoadOptions } from "./config/types.js"

/**
 * Every backend (tmux, Podman/Docker, swarm) on Node's process spawner, with `ops.tmux_binary` and
 * `ops.hosts` taken from the config, and this machine's keyed env digest.
 */
export const backendsLayer = Backends.layerWith.pipe(
  Layer.provideMerge(layerFromStateDir),
  Layer.provideMerge(Layer.effect(TmuxBinary, KstlibConfig.useSync((c) => c.tmux_binary))),
  Layer.provideMerge(Layer.effect(SshHosts, KstlibConfig.useSync((c) => c.hosts ?? []))),
  Layer.provide(nodeSpawnerLayer)
)

/** Loads the config (cascade, `path`, or KSTLIB_CONFIG) and provides it with the backends. */
export const layerNode = (options: LoadOptions = {}) => backendsLayer.pipe(Layer.provideMerge(KstlibConfig.layer(options)))

/** The same with a config already loaded or built by hand. */
export const layerNodeWith = (config: LoadedConfig) => backendsLayer.pipe(Layer.provideMerge(KstlibConfig.fromLoaded(config)))
