/** Reading a loaded config in tests: one entry by name, asserting it is valid or rejected. */
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
