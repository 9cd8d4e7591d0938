/** Where tmux keeps its sockets, and which exist. */
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { DEFAULT_SOCKET } from "./argv.js"

/** `$TMUX_TMPDIR/tmux-UID` (TMUX_TMPDIR defaults to /tmp), as tmux computes it; read on each call. */
export const socketDir = (env: NodeJS.ProcessEnv = process.env): string =>
  join(env["TMUX_TMPDIR"] !== undefined && env["TMUX_TMPDIR"] !== "" ? env["TMUX_TMPDIR"] : "/tmp", `tmux-${process.getuid?.() ?? 0}`)

/** Path of a `-L` socket (`null` = default server). */
export const socketPath = (socket: string | null, env: NodeJS.ProcessEnv = process.env): string =>
  join(socketDir(env), socket ?? DEFAULT_SOCKET)

/** `default` is the default server: report it as `null` everywhere. */
export const normalizeSocket = (socket: string | null): string | null => (socket === DEFAULT_SOCKET ? null : socket)

/** Socket files in the socket directory (not `default`), sorted; none when the directory is missing. */
export const discoverSockets: Effect.Effect<ReadonlyArray<string>> = Effect.sync(() => {
  try {
    return readdirSync(socketDir(), { withFileTypes: true })
      .filter((e) => e.isSocket() && e.name !== DEFAULT_SOCKET)
      .map((e) => e.name)
      .sort()
  } catch {
    return []
  }
})

/** The default server, the sockets asked for, then the discovered ones; each once. */
export const mergeSockets = (
  asked: ReadonlyArray<string | null>,
  discovered: ReadonlyArray<string>
): ReadonlyArray<string | null> => {
  const seen = new Set<string | null>()
  const out: Array<string | null> = []
  for (const s of [null, ...asked, ...discovered].map(normalizeSocket)) {
    if (!seen.has(s)) {
      seen.add(s)
      out.push(s)
    }
  }
  return out
}
