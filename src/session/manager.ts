/**
 * The per-session facade, the counterpart of the original `SessionManager`: a handle on one named
 * session whose methods are Effects with typed errors.
 */
import { Effect } from "effect"
import { KstlibConfig } from "../config/service.js"
import { closestNames } from "../config/decode/issues.js"
import type { InvalidInput } from "../errors.js"
import { ConfigInvalid, SessionNotInConfig } from "../errors.js"
import type { Selector } from "./locate.js"
import { checkName } from "./locate.js"
import type { StartOverrides } from "./operations.js"
import * as Ops from "./operations.js"

export const handle = (name: string, selector: Selector = {}) => ({
  name,
  /** Starts it (config spec, with these overrides on top). */
  start: (overrides: StartOverrides = {}) =>
    Ops.start(name, {
      ...overrides,
      ...(selector.socket === undefined ? {} : { socket: selector.socket }),
      ...(selector.backend === undefined ? {} : { backend: selector.backend })
    }),
  /** Graceful by default: interrupt, wait up to `timeout` seconds (10), then kill. */
  stop: (options: { readonly graceful?: boolean; readonly timeout?: number } = {}) =>
    Ops.stop(name, selector, { force: options.graceful === false, ...(options.timeout === undefined ? {} : { timeout: options.timeout }) }),
  restart: () => Ops.restart(name, selector),
  status: () => Ops.status(name, selector),
  logs: (options: { readonly lines?: number; readonly colors?: boolean } = {}) => Ops.logs(name, selector, options),
  follow: () => Ops.follow(name, selector),
  exists: () => Ops.exists(name, selector),
  isRunning: () => Ops.isRunning(name, selector),
  attach: () => Ops.attach(name, selector),
  sendKeys: (keys: string, options: { readonly enter?: boolean } = {}) => Ops.sendKeys(name, keys, selector, options),
  exec: (argv: ReadonlyArray<string>) => Ops.exec(name, argv, selector)
})

export type SessionHandle = ReturnType<typeof handle>

export const SessionManager = {
  /** A session defined in config; fails if the name is not there (SessionNotInConfig, with close names) or its entry was rejected. */
  fromConfig: (name: string): Effect.Effect<SessionHandle, SessionNotInConfig | ConfigInvalid | InvalidInput, KstlibConfig> =>
    Effect.gen(function*() {
      yield* checkName(name)
      const config = yield* KstlibConfig
      const entry = config.sessions.find((e) => e.name === name)
      if (entry === undefined) {
        return yield* new SessionNotInConfig({ session: name, suggestions: closestNames(name, config.sessions.map((e) => e.name)), hint: "" })
      }
      if (entry._tag === "Rejected") return yield* new ConfigInvalid({ issues: entry.issues })
      return handle(name)
    }),
  /** Any session by name (config or not), optionally narrowed to a backend / tmux socket. */
  named: handle
}
