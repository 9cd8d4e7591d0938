/**
 * The module map of ARCHITECTURE.md, enforced: each folder of src/ imports only what the map says
 * it may. A change that needs another edge changes the map (and ARCHITECTURE.md) on purpose.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, normalize, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const SRC = fileURLToPath(new URL("../../src", import.meta.url))

/** A module's layer: its folder under src/, or its own name for a top-level file. */
const layerOf = (file: string) => {
  const rel = relative(SRC, file)
  return rel.includes("/") ? rel.split("/")[0]! : rel.replace(/\.ts$/u, "")
}

const VOCABULARY = ["model", "place", "command", "errors", "style", "system"]

/** What each layer may import (besides itself). */
const ALLOWED: Readonly<Record<string, ReadonlyArray<string>>> = {
  model: [],
  command: [],
  errors: [],
  style: [],
  system: [],
  place: ["model"],
  proc: ["errors"],
  spec: ["model"],
  // durable logs: the state directory of spec/digest-key.ts
  logs: [...VOCABULARY, "spec"],
  // proc: the `sops --decrypt` of an encrypted include
  config: [...VOCABULARY, "proc"],
  // the pure value rules of config/rules.ts (a host's podman socket path), nothing else of config
  transport: [...VOCABULARY, "proc", "config/rules"],
  // config/rules.ts: the pure value rules (the ready.log pattern engine)
  backends: [...VOCABULARY, "proc", "spec", "logs", "transport", "config/rules"],
  reconcile: [...VOCABULARY, "spec", "logs", "backends", "config"],
  session: [...VOCABULARY, "spec", "logs", "backends", "config", "reconcile"],
  export: [...VOCABULARY, "spec", "config"],
  // `ops import`: other tools' files into a config (checked with config's rules); pm2 JS runs in a child
  import: [...VOCABULARY, "proc", "config"],
  // reconcile: the lock and holds directories the layer may set
  layer: [...VOCABULARY, "proc", "spec", "logs", "backends", "transport", "config", "reconcile"],
  // the Kstlib service: the seam (layer) and everything it puts behind one service
  facade: [...VOCABULARY, "proc", "spec", "logs", "backends", "transport", "config", "reconcile", "session", "layer"],
  // kstlib/testing: test doubles over the same services (in-memory backends, a fake spawner, spec builders)
  testing: [...VOCABULARY, "proc", "spec", "logs", "backends", "transport", "config", "reconcile", "session", "layer", "facade"],
  // `ops watch`: the reconciler in a loop (a fresh config and layer per pass), its event sources, /proc readings
  watch: [...VOCABULARY, "proc", "spec", "logs", "backends", "transport", "config", "reconcile", "session", "layer"]
}

const files = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : []
  })

const importsOf = (file: string): ReadonlyArray<string> =>
  [...readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/gu)].map((m) => normalize(join(dirname(file), m[1]!.replace(/\.js$/u, ".ts"))))

describe("module map", () => {
  it("every import of src/ follows ARCHITECTURE.md's map", () => {
    const wrong: Array<string> = []
    for (const file of files(SRC)) {
      const from = layerOf(file)
      const allowed = ALLOWED[from]
      if (allowed === undefined) continue // cli/ and index.ts compose everything
      for (const target of importsOf(file)) {
        const to = layerOf(target)
        if (to === from) continue
        const path = relative(SRC, target).replace(/\.ts$/u, "")
        if (!allowed.includes(to) && !allowed.includes(path)) wrong.push(`${relative(SRC, file)} → ${relative(SRC, target)}`)
      }
    }
    expect(wrong).toEqual([])
  })

  it("the map covers every folder and top-level module of src/", () => {
    const layers = new Set(files(SRC).map(layerOf))
    const composed = ["cli", "index"]
    expect([...layers].filter((l) => ALLOWED[l] === undefined && !composed.includes(l))).toEqual([])
  })
})
