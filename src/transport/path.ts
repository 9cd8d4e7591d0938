/**
 * Finding runtime binaries on PATH without spawning `which`: an executable-file check in each PATH
 * directory, in order (what execvp does).
 */
import { constants } from "node:fs"
import { access, stat } from "node:fs/promises"
import { delimiter, join } from "node:path"
import { Context, Effect } from "effect"

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

/**
 * Looking programs up on PATH, as a service: the drivers find tmux, podman, docker and ssh through
 * it, so a program on a fake spawner (kstlib/testing) answers from memory and reads no real PATH.
 */
export interface PathLookupService {
  /** The absolute path of `binary` on PATH, or null. */
  readonly find: (binary: string) => Effect.Effect<string | null>
}

export const PathLookup = Context.Reference<PathLookupService>("kstlib/PathLookup", {
  defaultValue: () => ({ find: (binary) => Effect.promise(() => findOnPath(binary)) })
})

/** `binary` on PATH through the PathLookup service, or null. */
export const lookPath = (binary: string): Effect.Effect<string | null> => Effect.flatMap(PathLookup, (p) => p.find(binary))
