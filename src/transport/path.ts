/**
 * Finding runtime binaries on PATH without spawning `which`: an executable-file check in each PATH
 * directory, in order (what execvp does). Synchronous on purpose: a few stat calls take microseconds,
 * where one asynchronous round trip per PATH directory made each engine's first call wait several
 * event-loop turns (observe launched tmux, podman and docker ~10-20 ms apart instead of together).
 */
import { accessSync, constants, statSync } from "node:fs"
import { delimiter, join } from "node:path"
import { Context, Effect } from "effect"

const isExecutableFile = (file: string): boolean => {
  try {
    accessSync(file, constants.X_OK)
    return statSync(file).isFile()
  } catch {
    return false
  }
}

/** The absolute path of `binary` on `pathEnv` (defaults to the current PATH), or null. */
export const findOnPath = (binary: string, pathEnv: string | undefined = process.env["PATH"]): string | null => {
  for (const dir of (pathEnv ?? "").split(delimiter)) {
    if (dir === "") continue
    const candidate = join(dir, binary)
    if (isExecutableFile(candidate)) return candidate
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
  defaultValue: () => ({ find: (binary) => Effect.sync(() => findOnPath(binary)) })
})

/** `binary` on PATH through the PathLookup service, or null. */
export const lookPath = (binary: string): Effect.Effect<string | null> => Effect.flatMap(PathLookup, (p) => p.find(binary))
