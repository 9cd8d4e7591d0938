/**
 * The older per-session facade, the counterpart of the original `SessionManager`: a handle on one
 * named session whose methods still need `Backends | KstlibConfig`. The `Kstlib` service
 * (`Kstlib.session(name)`) gives the same handle with nothing left to provide.
 */
import { Effect } from "effect"
import type { Backends } from "../backends/registry.js"
import { KstlibConfig } from "../config/service.js"
import { closestNames } from "../config/decode/issues.js"
import type { InvalidInput } from "../errors.js"
import { ConfigInvalid, SessionNotInConfig } from "../errors.js"
import type { SessionHandle } from "./handle.js"
import { makeHandle, unprovided } from "./handle.js"
import type { Selector } from "./locate.js"
import { checkName } from "./locate.js"

/**
 * The handle of any session by name, its methods needing `Backends | KstlibConfig`.
 * @deprecated Use `Kstlib.session(name)` (nothing to provide), or `makeHandle` for a handle on your own services.
 */
export const handle = (name: string, selector: Selector = {}): SessionHandle<Backends | KstlibConfig> => makeHandle(name, selector, unprovided)

/** Fails unless `name` is a config session whose entry was accepted (SessionNotInConfig with close names, ConfigInvalid). */
export const requireConfigured = (name: string): Effect.Effect<void, SessionNotInConfig | ConfigInvalid | InvalidInput, KstlibConfig> =>
  Effect.gen(function*() {
    yield* checkName(name)
    const config = yield* KstlibConfig
    const entry = config.sessions.find((e) => e.name === name)
    if (entry === undefined) {
      return yield* new SessionNotInConfig({ session: name, suggestions: closestNames(name, config.sessions.map((e) => e.name)), hint: "" })
    }
    if (entry._tag === "Rejected") return yield* new ConfigInvalid({ issues: entry.issues })
  })

/**
 * Handles whose methods need `Backends | KstlibConfig`.
 * @deprecated Use the `Kstlib` service: `Kstlib.session(name)` and `Kstlib.configured(name)`.
 */
export const SessionManager = {
  /** A session defined in config; fails if the name is not there (SessionNotInConfig, with close names) or its entry was rejected. */
  fromConfig: (name: string): Effect.Effect<SessionHandle<Backends | KstlibConfig>, SessionNotInConfig | ConfigInvalid | InvalidInput, KstlibConfig> =>
    Effect.as(requireConfigured(name), handle(name)),
  /** Any session by name (config or not), optionally narrowed to a backend / tmux socket. */
  named: handle
}
