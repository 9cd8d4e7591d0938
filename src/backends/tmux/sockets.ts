/** Where tmux keeps its sockets, and which exist. */
import { readdirSync } from "node:fs"
import * as net from "node:net"
import { join } from "node:path"
import { Context, Effect } from "effect"
import { DEFAULT_SOCKET } from "./argv.js"

/** `$TMUX_TMPDIR/tmux-UID` (TMUX_TMPDIR defaults to /tmp), as tmux computes it; read on each call. */
export const socketDir = (env: NodeJS.ProcessEnv = process.env): string =>
  join(env["TMUX_TMPDIR"] !== undefined && env["TMUX_TMPDIR"] !== "" ? env["TMUX_TMPDIR"] : "/tmp", `tmux-${process.getuid?.() ?? 0}`)

/** Path of a `-L` socket (`null` = default server). */
export const socketPath = (socket: string | null, env: NodeJS.ProcessEnv = process.env): string =>
  join(socketDir(env), socket ?? DEFAULT_SOCKET)

/** Bytes of a Unix socket path: `sun_path` holds 108 with the terminating NUL (Linux). */
export const MAX_SOCKET_PATH_BYTES = 107

/** The socket's path when it is longer than a Unix socket address can hold; null when it fits. */
export const socketPathTooLong = (socket: string | null, env: NodeJS.ProcessEnv = process.env): { readonly path: string; readonly bytes: number } | null => {
  const p = socketPath(socket, env)
  const bytes = Buffer.byteLength(p)
  return bytes > MAX_SOCKET_PATH_BYTES ? { path: p, bytes } : null
}

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

/**
 * A host's socket directory listed by its shell (one name per line, `default` left out): only names
 * `tmux -L` can take (a hostile host's control characters or paths never reach an argv).
 */
export const REMOTE_SOCKETS_SCRIPT =
  `d="\${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)"; [ -d "$d" ] || exit 0; for s in "$d"/*; do [ -S "$s" ] && printf '%s\\n' "\${s##*/}"; done; exit 0`

export const parseRemoteSockets = (stdout: string): ReadonlyArray<string> =>
  [...new Set(stdout.split("\n").filter((n) => /^[^\s/\\\u0000-\u001f\u007f]{1,100}$/u.test(n) && n !== "." && n !== ".." && n !== DEFAULT_SOCKET))].sort()

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

/**
 * Whether a tmux server listens on this socket file: one connect(), no process. A socket file with
 * no server behind it (left by a crash or a killed test: common) refuses the connection; asking tmux
 * would cost a process per stale file.
 */
export const serverListens = (path: string): Effect.Effect<boolean> =>
  Effect.callback<boolean>((resume) => {
    const socket = net.connect({ path })
    const done = (live: boolean) => {
      socket.destroy()
      resume(Effect.succeed(live))
    }
    socket.once("connect", () => done(true))
    // ENOENT (no file), ECONNREFUSED (stale): no server; EACCES and the rest: let tmux say what it is
    socket.once("error", (e: NodeJS.ErrnoException) => done(e.code !== "ENOENT" && e.code !== "ECONNREFUSED"))
    socket.setTimeout(1000, () => done(true))
    return Effect.sync(() => socket.destroy())
  })

/**
 * This machine's tmux socket directory as the tmux driver sees it: which socket files exist, and
 * whether a server listens on one. A service, so a test on a fake spawner touches no real directory.
 */
export interface SocketDirectory {
  /** Socket files in the directory (not `default`), sorted. */
  readonly discover: Effect.Effect<ReadonlyArray<string>>
  /** Whether a server listens on this socket (null: the default server). */
  readonly listens: (socket: string | null) => Effect.Effect<boolean>
}

export const TmuxSocketDirectory = Context.Reference<SocketDirectory>("kstlib/TmuxSocketDirectory", {
  defaultValue: () => ({ discover: discoverSockets, listens: (socket) => serverListens(socketPath(socket)) })
})
