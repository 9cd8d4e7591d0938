/** Loading config text and reading the result in tests: one entry by name, asserting it is valid or rejected; its issues as lines. */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach } from "vitest"
import { loadConfig } from "../../src/config/load.js"
import type { ConfigEntry, LoadedConfig } from "../../src/config/types.js"

export const entry = (c: LoadedConfig, name: string): ConfigEntry => {
  const e = c.sessions.find((s) => s.name === name)
  if (e === undefined) throw new Error(`no session ${name}`)
  return e
}

export const valid = (c: LoadedConfig, name: string) => {
  const e = entry(c, name)
  if (e._tag !== "Valid") throw new Error(`${name} rejected: ${JSON.stringify(e.issues)}`)
  return e
}

export const rejected = (c: LoadedConfig, name: string) => {
  const e = entry(c, name)
  if (e._tag !== "Rejected") throw new Error(`${name} unexpectedly valid`)
  return e
}

/** An entry's issues as `LINE: FIELD: REASON` (none for a valid entry). */
export const issueLines = (e: ConfigEntry): ReadonlyArray<string> =>
  e._tag === "Rejected" ? e.issues.map((i) => `${i.line}: ${i.field}: ${i.reason}`) : []

/**
 * A loader of config text written as `kstlib.conf.yml` in a fresh directory (HOME there too),
 * removed after each test. Call it at a test file's top level.
 */
export const configTextLoader = (prefix: string) => {
  const dirs: Array<string> = []
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true })
  })
  return (text: string) => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)))
    dirs.push(root)
    fs.writeFileSync(path.join(root, "kstlib.conf.yml"), text)
    return loadConfig({ cwd: root, env: { HOME: root } })
  }
}
