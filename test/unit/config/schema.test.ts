import { describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { decodeSessionEntry } from "../../../src/config/decode/index.js"
import { configJsonSchema } from "../../../src/config/schema.js"

const SCHEMA_FILE = path.resolve(import.meta.dirname, "../../../kstlib.schema.json")

describe("JSON Schema", () => {
  it("the committed kstlib.schema.json is up to date (regenerate: KSTLIB_UPDATE_SCHEMA=1 npx vitest run test/unit/config/schema.test.ts)", () => {
    const generated = `${JSON.stringify(configJsonSchema(), null, 2)}\n`
    if (process.env["KSTLIB_UPDATE_SCHEMA"] === "1") fs.writeFileSync(SCHEMA_FILE, generated)
    expect(fs.readFileSync(SCHEMA_FILE, "utf8")).toBe(generated)
  })

  it("carries the rules editors can check: patterns, limits, enums, no unknown session fields", () => {
    const s = configJsonSchema() as Record<string, any>
    expect(s["$schema"]).toBe("https://json-schema.org/draft/2020-12/schema")
    const defs = s["$defs"]
    expect(defs.TmuxSession.additionalProperties).toBe(false)
    // image or build: checked by the decoder (an image is required unless build: names one)
    expect(defs.ContainerSession.required ?? []).toEqual([])
    expect(defs.Build.required).toEqual(["context"])
    expect(defs.Ops.additionalProperties).toBe(false)
    // other top-level keys are allowed (the file is shared with other kstlib modules)
    expect(s["additionalProperties"]).not.toBe(false)
    const names = defs.Ops.properties.sessions.anyOf[0].propertyNames
    expect(new RegExp(names.pattern, "u").test("my-bot")).toBe(true)
    expect(new RegExp(names.pattern, "u").test("1bot")).toBe(false)
    const image = new RegExp(defs.ContainerSession.properties.image.pattern, "u")
    expect(image.test("localhost:5000/app:1.2")).toBe(true)
    expect(image.test("Python")).toBe(false)
    expect(defs.ContainerSession.properties.volumes.anyOf[0].maxItems).toBe(20)
    expect(defs.ContainerSession.properties.ports.anyOf[0].maxItems).toBe(50)
    expect(defs.TmuxSession.properties.state.default).toBe("running")
    const blocked = defs.TmuxSession.properties.env.anyOf[0].anyOf[0].propertyNames.not.anyOf
    expect(blocked[0].enum).toContain("LD_PRELOAD")
    expect(blocked[0].enum).toContain("BASH_ENV")
    expect(new RegExp(blocked[1].pattern, "u").test("LD_AUDIT")).toBe(true)
    expect(new RegExp(blocked[1].pattern, "u").test("BASH_FUNC_ls")).toBe(true)
    expect(new RegExp(blocked[1].pattern, "u").test("OLD_PATH")).toBe(false)
    expect(defs.ContainerSession.properties.unsafe_mounts.type).toBe("boolean")
    expect(defs.TmuxSession.properties.env_file).toBeDefined()
    expect(defs.Ops.properties.project.pattern).toBeDefined()
  })
})

describe("decodeSessionEntry (config + CLI overrides go through the same rules)", () => {
  const ctx = { defaults: { default_backend: "tmux" as const, container_runtime: null }, baseDir: "/base", file: "<command line>", line: null }

  it("valid tmux spec with defaults and a relative working_dir resolved against baseDir", () => {
    expect(decodeSessionEntry("web", { command: "npm start", working_dir: "app", env: { PORT: 3000 } }, ctx)).toEqual({
      _tag: "Valid",
      name: "web",
      source: { file: "<command line>", line: null },
      spec: { backend: "tmux", name: "web", command: "npm start", shell: false, working_dir: "/base/app", env: { PORT: "3000" }, socket_name: null, state: "running" }
    })
  })

  it("container spec: runtime falls back to the default; registry with port accepted", () => {
    const e = decodeSessionEntry("api", { backend: "container", image: "localhost:5000/app:1.2", ports: [8080, "9090:90/udp"], volumes: null }, {
      ...ctx,
      defaults: { default_backend: "tmux", container_runtime: "podman" }
    })
    expect(e).toMatchObject({ _tag: "Valid", spec: { runtime: "podman", ports: ["8080", "9090:90/udp"], volumes: [], log_volume: null } })
  })

  it("every broken rule is reported, each with its field", () => {
    const e = decodeSessionEntry("1bad", { backend: "container", image: "Nginx", command: "a\nb", env: { "MY-VAR": "x" }, volumes: ["../x:/y"], log_volume: "a..b:/c" }, ctx)
    expect(e._tag).toBe("Rejected")
    if (e._tag !== "Rejected") return
    expect(e.issues.map((i) => [i.field, i.reason])).toEqual([
      ["", "Session name must start with letter and contain only alphanumeric, underscore, or hyphen characters"],
      ["image", "Invalid image name format: Nginx"],
      ["command", "Newlines are not allowed in commands"],
      ["env.MY-VAR", "Invalid env key format: MY-VAR"],
      ["volumes[0]", "Path traversal not allowed in volume: ../x:/y"],
      ["log_volume", "Path traversal not allowed in volume: a..b:/c"]
    ])
    expect(e.issues.every((i) => i.session === "1bad" && i.file === "<command line>")).toBe(true)
  })

  it("`~` needs a home; a non-mapping entry is rejected cleanly", () => {
    expect(decodeSessionEntry("h", { working_dir: "~/x" }, { ...ctx, home: "/home/u" })).toMatchObject({ spec: { working_dir: "/home/u/x" } })
    expect(decodeSessionEntry("h", { working_dir: "~/x" }, ctx)).toMatchObject({ _tag: "Rejected", issues: [{ field: "working_dir" }] })
    expect(decodeSessionEntry("l", ["a"], ctx)).toMatchObject({ _tag: "Rejected", backend: null, issues: [{ reason: "a session must be a mapping of fields, got a list" }] })
  })
})
