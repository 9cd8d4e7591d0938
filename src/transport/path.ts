/**
 * Finding runtime binaries on PATH without spawning `which`: an executable-file check in each PATH
 * directory, in order (what execvp does).
 */
import { constants } from "node:fs"
import { access, stat } from "node:fs/promises"
import { delimiter, join } from "node:path"

const isExecutableFile = async (file: string): Promise<boolean> => {
  try {
    await access(file, constants.X_OK)
    return (await stat(file)).isFile()
  } catch {
    return false
  }
}

/** The absolute path of `binary` on `pathEnv` (defaults to the current PATH), or null. */
export const findOnPath = async (binary: string, pathEnv: string | undefined = process.env["PATH"]): Promise<string | null> => {
  for (const dir of (pathEnv ?? "").split(delimiter)) {
    if (dir === "") continue
    const candidate = join(dir, binary)
    if (await isExecutableFile(candidate)) return candidate
  }
  return null
}
