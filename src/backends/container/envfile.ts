/**
 * The private env file of one container create (Podman, Docker, swarm): env values never go on a
 * command line, where any local user could read them.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"

/**
 * A fresh 0700 directory holding the file (0600), removed when `use` ends, even on interrupt.
 * Nothing is created when there is nothing to write.
 */
export const withEnvFile = <A, E, R>(text: string, use: (file: string | null) => Effect.Effect<A, E, R>) =>
  text === ""
    ? use(null)
    : Effect.acquireUseRelease(
      Effect.sync(() => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kstlib-env-"))
        const file = path.join(dir, "env")
        fs.writeFileSync(file, text, { mode: 0o600 })
        return { dir, file }
      }),
      ({ file }) => use(file),
      ({ dir }) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    )
