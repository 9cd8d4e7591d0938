/** The tmux spec's fields, in fingerprint order. */
import type { FingerprintValue, TmuxSpec, WindowSpec } from "../model.js"
import * as common from "./common.js"
import { canonicalJson, defaultsOf, field } from "./field.js"

const row = field<TmuxSpec>()

export const tmuxFields = [
  row("backend", { default: "tmux", fingerprint: "always" }),
  common.command,
  common.shell,
  common.workingDir,
  common.env,
  row("socket_name", { default: null, fingerprint: "always" }),
  // each window as one canonical JSON text, env values as digests; only when set: a `command:` session keeps its hash
  row("windows", {
    default: null,
    fingerprint: "when-set",
    encode: (ws, digest) =>
      ws === null ? null : ws.map((w) => canonicalJson({ ...w, panes: w.panes.map((p) => ({ ...p, env: common.envDigests(p.env, digest) })) })),
    optional: true
  }),
  ...common.supervision,
  ...common.watched,
  ...common.logged,
  common.host,
  common.state
] as const

/** Every required tmux field at its default (the base of a spec builder). */
export const tmuxDefaults = defaultsOf(tmuxFields) as Omit<TmuxSpec, "backend" | "name">

/**
 * A stored `windows` value read back: each window as the row above wrote it (a pane's env as
 * digests), for the drift diff and `ops freeze`. null: not a list of windows (absent, or unreadable).
 */
export const storedWindows = (v: FingerprintValue | undefined): ReadonlyArray<WindowSpec> | null => {
  if (!Array.isArray(v)) return null
  try {
    const ws = v.map((t) => JSON.parse(t) as WindowSpec)
    return ws.every((w) => typeof w === "object" && w !== null && typeof w.name === "string" && Array.isArray(w.panes)) ? ws : null
  } catch {
    return null
  }
}
