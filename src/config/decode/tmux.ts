/** A tmux entry, decoded by its schema, into a TmuxSpec: its start directory and socket. */
import * as path from "node:path"
import type { TmuxSpec } from "../../model.js"
import type { TmuxSession } from "../schema.js"
import type { EntryContext, Report, Shared } from "./common.js"
import { expandHome } from "./common.js"
import { existsButNotDirectory } from "./paths.js"

export const tmuxSpecOf = (
  name: string,
  v: typeof TmuxSession.Type,
  shared: Shared,
  ctx: EntryContext,
  report: Report
): TmuxSpec => {
  const { hostRuntime: _, ...common } = shared
  let working_dir: string | null = null
  if (common.host !== undefined && v.working_dir !== undefined && v.working_dir !== null) {
    // a directory on the host: taken as written, never resolved or checked on this machine
    if (!v.working_dir.startsWith("/")) report(["working_dir"], "must be an absolute path on a remote host")
    working_dir = v.working_dir
  } else if (v.working_dir !== undefined && v.working_dir !== null) {
    const expanded = expandHome(ctx, report)(["working_dir"], v.working_dir)
    working_dir = expanded === null ? null : path.resolve(ctx.baseDirOf(["working_dir"]), expanded)
    // tmux silently starts in another directory when -c names a file
    if (working_dir !== null && existsButNotDirectory(working_dir)) report(["working_dir"], `not a directory: ${working_dir}`)
  }
  return { backend: "tmux", name, ...common, working_dir, socket_name: v.socket_name ?? null }
}
