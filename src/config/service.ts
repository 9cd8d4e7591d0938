/** The loaded configuration as a service, so per-session operations and the reconciler share one load. */
import { Context, Layer } from "effect"
import type { ConfigInvalid, ConfigNotFound, ConfigParseError, InvalidInput } from "../errors.js"
import { loadConfig } from "./load.js"
import type { LoadedConfig, LoadOptions } from "./types.js"

export class KstlibConfig extends Context.Service<KstlibConfig, LoadedConfig>()("kstlib/KstlibConfig") {
  /** Loads (cascade, `--config`, or `KSTLIB_CONFIG`) when the layer is built. */
  static readonly layer = (options: LoadOptions = {}): Layer.Layer<KstlibConfig, ConfigNotFound | ConfigParseError | ConfigInvalid | InvalidInput> =>
    Layer.effect(KstlibConfig, loadConfig(options))
  /** An already loaded (or hand-built) configuration. */
  static readonly fromLoaded = (config: LoadedConfig): Layer.Layer<KstlibConfig> => Layer.succeed(KstlibConfig, config)
}
