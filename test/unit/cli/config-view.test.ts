/**
 * `ops config` masking: env values are shown as `***` where they are values; elsewhere only a value
 * that looks like a secret (long, or short but random-looking) is masked. A short common value
 * (`LOG_PREFIX: kstlib`, `MODE: test`) must not turn the project, paths or an image into `***`.
 */
import { describe, expect, it } from "vitest"
import type { LoadedConfig } from "../../../src/config/types.js"
import { configView } from "../../../src/cli/config-view.js"
import { containerSpec, rejected, tmuxSpec, valid } from "../../../src/testing/specs.js"

const TOKEN = "Zk81xQ2aB9cD7eFq"
const PIN = "Ab3$xY9q"

const config = (): LoadedConfig => ({
  files: ["/srv/kstlib/base.yml", "/srv/kstlib/kstlib.conf.yml"],
  searched: ["/srv/kstlib/kstlib.conf.yml"],
  project: "kstlib",
  default_backend: "tmux",
  tmux_binary: "tmux",
  container_runtime: null,
  warnings: [],
  sessions: [
    valid(tmuxSpec("web", {
      command: `serve --prefix kstlib --mode test --token ${TOKEN}`,
      working_dir: "/srv/kstlib/app",
      env: { LOG_PREFIX: "kstlib", MODE: "test", TOKEN, PIN }
    })),
    valid(containerSpec("api", { image: "app:latest", command: `run --pin ${PIN}`, env: { MODE: "test" }, volumes: ["/srv/kstlib/data:/data"] })),
    rejected("bad", [{ file: "/srv/kstlib/kstlib.conf.yml", line: 9, session: "bad", field: "command", reason: `x ${TOKEN} kstlib test` }])
  ]
})

describe("configView masking", () => {
  it("env values are *** as values; elsewhere only secret-looking values are masked; structure never", () => {
    const view = configView(config())
    expect(view["project"]).toBe("kstlib")
    expect(view["files"]).toEqual(["/srv/kstlib/base.yml", "/srv/kstlib/kstlib.conf.yml"])
    const sessions = (view["ops"] as { sessions: Map<string, Record<string, unknown>> }).sessions
    expect(sessions.get("web")).toMatchObject({
      command: "serve --prefix kstlib --mode test --token ***",
      working_dir: "/srv/kstlib/app",
      env: { LOG_PREFIX: "***", MODE: "***", TOKEN: "***", PIN: "***" }
    })
    expect(sessions.get("api")).toMatchObject({ image: "app:latest", command: "run --pin ***", volumes: ["/srv/kstlib/data:/data"], env: { MODE: "***" } })
    expect(JSON.stringify(sessions.get("bad"))).toContain("x *** kstlib test")
    expect(JSON.stringify(view)).not.toContain(TOKEN)
    expect(JSON.stringify(view)).not.toContain(PIN)
  })
})
