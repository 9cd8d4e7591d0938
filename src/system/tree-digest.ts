/**
 * The content digest of a build context: every file's path, mode and bytes (a symlink: its target
 * text, never followed), in path order, as one sha256. What `build:` compares to rebuild when the
 * context changed. Bounded: a context of more files or bytes than the limits is refused (the
 * reason says which), so a `context: /` cannot make a config load read the whole disk. `.git` and
 * the paths `.dockerignore` names by a plain prefix (no patterns) are left out, as the engine does.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"

export const MAX_CONTEXT_FILES = 20_000
export const MAX_CONTEXT_BYTES = 512 * 1024 * 1024

export type TreeDigest = { readonly ok: true; readonly digest: string } | { readonly ok: false; readonly reason: string }

/** Prefixes of `.dockerignore` lines without patterns (`node_modules`, `dist/`), relative to the context. */
const ignoredOf = (dir: string): ReadonlyArray<string> => {
  let text = ""
  try {
    text = fs.readFileSync(path.join(dir, ".dockerignore"), "utf8")
  } catch {
    return []
  }
  return text.split("\n").map((l) => l.trim().replace(/^\.\//u, "").replace(/\/+$/u, "")).filter((l) => l !== "" && !l.startsWith("#") && !/[*?[!]/u.test(l))
}

export const treeDigest = (dir: string): TreeDigest => {
  let stat: fs.Stats
  try {
    stat = fs.statSync(dir)
  } catch {
    return { ok: false, reason: `no directory ${dir}` }
  }
  if (!stat.isDirectory()) return { ok: false, reason: `${dir} is not a directory` }
  const ignored = ignoredOf(dir)
  const skip = (rel: string) => rel === ".git" || ignored.some((p) => rel === p || rel.startsWith(`${p}/`))
  const hash = createHash("sha256")
  let files = 0
  let bytes = 0
  const walk = (rel: string): string | null => {
    const abs = rel === "" ? dir : path.join(dir, rel)
    const entries = fs.readdirSync(abs, { withFileTypes: true }).map((e) => e.name).sort()
    for (const name of entries) {
      const child = rel === "" ? name : `${rel}/${name}`
      if (skip(child)) continue
      const full = path.join(dir, child)
      const st = fs.lstatSync(full)
      if (++files > MAX_CONTEXT_FILES) return `the build context ${dir} holds more than ${MAX_CONTEXT_FILES} files`
      if (st.isSymbolicLink()) hash.update(`L\0${child}\0${fs.readlinkSync(full)}\0`)
      else if (st.isDirectory()) {
        hash.update(`D\0${child}\0`)
        const problem = walk(child)
        if (problem !== null) return problem
      } else if (st.isFile()) {
        bytes += st.size
        if (bytes > MAX_CONTEXT_BYTES) return `the build context ${dir} holds more than ${MAX_CONTEXT_BYTES / 1024 / 1024} MiB`
        hash.update(`F\0${child}\0${(st.mode & 0o111) === 0 ? "" : "x"}\0${st.size}\0`)
        hash.update(fs.readFileSync(full))
      }
    }
    return null
  }
  try {
    const problem = walk("")
    return problem === null ? { ok: true, digest: `sha256:${hash.digest("hex")}` } : { ok: false, reason: problem }
  } catch (e) {
    return { ok: false, reason: `reading the build context ${dir}: ${(e as Error).message}` }
  }
}
