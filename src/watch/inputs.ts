/**
 * Changes of the config's input files (LoadedConfig.inputs), seen through the kernel (inotify via
 * fs.watch), never polled. Each file's DIRECTORY is watched: editors save by writing a new file and
 * renaming it over the old one, which a watch on the file itself would lose, and a file absent now
 * (a cascade level, a `.env`) may appear. A directory that does not exist is not watched (the
 * watcher's periodic pass reloads the config anyway).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"

export interface InputWatch {
  /** Watch exactly these files from now on (the config's inputs change with its includes). */
  readonly update: (files: ReadonlyArray<string>) => Effect.Effect<void>
}

/**
 * `onChange(file)` is called (from Node's event loop) for each event on a watched file. The watches
 * are closed with the scope.
 */
export const watchInputs = (onChange: (file: string) => void) =>
  Effect.gen(function*() {
    const watchers = new Map<string, { readonly watcher: fs.FSWatcher; names: Set<string> }>()
    const closeAll = () => {
      for (const w of watchers.values()) w.watcher.close()
      watchers.clear()
    }
    yield* Effect.addFinalizer(() => Effect.sync(closeAll))
    const update = (files: ReadonlyArray<string>) =>
      Effect.sync(() => {
        const byDir = new Map<string, Set<string>>()
        for (const f of files) {
          const dir = path.dirname(f)
          byDir.set(dir, (byDir.get(dir) ?? new Set()).add(path.basename(f)))
        }
        for (const [dir, w] of watchers) {
          if (!byDir.has(dir)) {
            w.watcher.close()
            watchers.delete(dir)
          }
        }
        for (const [dir, names] of byDir) {
          const known = watchers.get(dir)
          if (known !== undefined) {
            known.names = names
            continue
          }
          try {
            const entry = { watcher: null as unknown as fs.FSWatcher, names }
            entry.watcher = fs.watch(dir, { persistent: false }, (_event, name) => {
              // no name (some platforms): the change may be any of them
              const hit = name === null ? [...entry.names][0] : entry.names.has(String(name)) ? String(name) : undefined
              if (hit !== undefined) onChange(path.join(dir, hit))
            })
            entry.watcher.on("error", () => {
              entry.watcher.close()
              watchers.delete(dir)
            })
            watchers.set(dir, entry)
          } catch {
            // absent or unreadable directory: nothing to watch there
          }
        }
      })
    return { update } satisfies InputWatch
  })
