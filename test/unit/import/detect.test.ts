import { describe, expect, it } from "vitest"
import { detectFormat } from "../../../src/import/index.js"
import { fixture } from "./helpers.js"

describe("format detection", () => {
  it("from the file name", () => {
    const by = (file: string) => detectFormat(file, "")?.format ?? null
    expect(by("compose.yaml")).toBe("compose")
    expect(by("docker-compose.yml")).toBe("compose")
    expect(by("docker-compose.prod.yml")).toBe("compose")
    expect(by("stack.compose.yaml")).toBe("compose")
    expect(by("Procfile")).toBe("procfile")
    expect(by("Procfile.dev")).toBe("procfile")
    expect(by("ecosystem.config.json")).toBe("pm2")
    expect(by("process.yml")).toBe("pm2")
    expect(by("/home/u/.tmuxinator/blog.yml")).toBe("tmuxinator")
    expect(by(".tmuxinator.yml")).toBe("tmuxinator")
    expect(by("/home/u/.tmuxp/dev.yaml")).toBe("tmuxp")
    expect(by(".tmuxp.json")).toBe("tmuxp")
    expect(detectFormat("ecosystem.config.js", "")).toEqual({ format: "pm2", js: true })
    expect(detectFormat("whatever.cjs", "")).toEqual({ format: "pm2", js: true })
  })

  it("from the contents when the name says nothing", () => {
    const by = (rel: string) => detectFormat("file.yaml", fixture(rel))?.format ?? null
    expect(by("awesome-compose/wordpress-mysql/compose.yaml")).toBe("compose")
    expect(by("pm2/ecosystem.yml")).toBe("pm2")
    expect(by("tmuxp/examples/3-pane.yaml")).toBe("tmuxp")
    expect(by("tmuxp/examples/minimal.yaml")).toBe("tmuxp")
    expect(by("tmuxinator/sample.yml")).toBe("tmuxinator")
    expect(by("tmuxinator/template-sample.yml")).toBe("tmuxinator")
    expect(detectFormat("Runfile", fixture("procfile/Procfile"))?.format).toBe("procfile")
    expect(detectFormat("x.yaml", "a: [1, 2]\n")).toBeNull()
    expect(detectFormat("x.txt", "hello world\n")).toBeNull()
  })
})
