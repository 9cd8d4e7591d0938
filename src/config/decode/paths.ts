/** File-system facts validation needs: "exists but is not a directory", device nodes, home directories (real paths: src/real-path.ts). */
import * as fs from "node:fs"
import * as path from "node:path"

/** True when `p`, or the deepest part of it that exists, is not a directory (`file.txt/sub` too). */
export const existsButNotDirectory = (p: string): boolean => {
  for (let cur = p; ;) {
    let st: fs.Stats | undefined
    try {
      st = fs.statSync(cur, { throwIfNoEntry: false })
    } catch {
      return false
    }
    if (st !== undefined) return !st.isDirectory()
    const parent = path.dirname(cur)
    if (parent === cur) return false
    cur = parent
  }
}

/** `~user`'s home directory, from /etc/passwd (Node has no getpwnam). */
export const userHome = (user: string): string | undefined => {
  try {
    const line = fs.readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith(`${user}:`))
    const home = line?.split(":")[5]
    return home === undefined || home === "" ? undefined : home
  } catch {
    return undefined
  }
}

/** A block or character device (a real path: symlinks resolved). */
export const isDeviceNode = (p: string): boolean => {
  try {
    const st = fs.statSync(p, { throwIfNoEntry: false })
    return st !== undefined && (st.isBlockDevice() || st.isCharacterDevice())
  } catch {
    // unreadable (EACCES): not something this check can see; the path rules still apply
    return false
  }
}
