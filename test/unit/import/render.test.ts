import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { renderYaml } from "../../../src/import/index.js"
import { fixture, imported } from "./helpers.js"

const meta = { source: "compose.yaml", format: "compose", date: "2025-01-01", output: "kstlib.conf.yml" } as const

describe("the written YAML", () => {
  it("names its source and date, lists what was not carried above each session, and reads back as the config", () => {
    const r = imported("compose", fixture("awesome-compose/nginx-flask-mysql/compose.yaml"))
    const text = renderYaml(r, meta)
    expect(text.split("\n").slice(0, 4)).toEqual([
      "# Imported by kstlib ops import from compose.yaml (compose) on 2025-01-01.",
      "# Check it with: kstlib ops validate --config kstlib.conf.yml",
      "# 5 key(s) not carried (listed where they belong):",
      "# not carried: secrets: kstlib has no secrets objects: mount the file with volumes (read-only) or pass values with env_file"
    ])
    expect(text).toMatch(/# not carried: services\.db\.secrets: .*\n {4}# not carried: services\.db\.expose: .*\n(?: {4}#.*\n)* {4}db:\n/u)
    expect(YAML.parse(text)).toEqual(r.config)
  })

  it("words YAML 1.1 reads as booleans are quoted (restart: \"no\")", () => {
    const r = imported("compose", "services:\n  a: { image: x, restart: \"no\", environment: { A: \"yes\", B: \"off\" } }\n")
    const text = renderYaml(r, meta)
    expect(text).toContain("restart: \"no\"")
    expect(text).toContain("A: \"yes\"")
    expect(YAML.parse(text, { version: "1.1" })).toEqual(r.config)
  })

  it("a source key holding a line break or an escape cannot end a comment and inject YAML", () => {
    const r = imported("compose", `services:\n  a:\n    image: x\n    "x-\\nops:\\n  sessions:\\n    evil: {command: boom}\\n\\u001b[31m": 1\n`)
    const text = renderYaml(r, meta)
    expect(YAML.parse(text)).toEqual({ ops: { sessions: { a: { backend: "container", image: "x" } } } })
    expect(text).not.toContain("\u001b")
    expect(text.split("\n").filter((l) => l.includes("evil")).every((l) => l.trimStart().startsWith("#"))).toBe(true)
  })
})
