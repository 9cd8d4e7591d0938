/** Real paths of host paths that may not exist yet. */
import * as fs from "node:fs"
import * as path from "node:path"

/** The real path of `p`; for a path that does not exist (yet), its deepest existing ancestor's, plus the rest. */
export const realPathOf = (p: string): string => {
  try {
    return fs.realpathSync(p)
  } catch {
    const parent = path.dirname(p)
    return parent === p ? p : path.join(realPathOf(parent), path.basename(p))
  }
}
