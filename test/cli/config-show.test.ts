/**
 * `kstlib ops config` through the built binary: the merged, interpolated configuration, each session
 * valid or rejected, and NO environment value in the output, whether it comes from `env`, an
 * `env_file`, or `${VAR}` (from the environment or the `.env` file).
 */
import { spawnSync } from "node:child_process"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { parse } from "yaml"
import { BIN, Sandbox, stackLines } from "./harness.js"

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => {
  sb.cleanup()
})

const SECRETS = {
  literal: "s3cr3t-literal-7Hq2",
  envFile: "s3cr3t-envfile-Zk81",
  fromEnv: "s3cr3t-interp-env-P4w9",
  fromDotenv: "s3cr3t-interp-dotenv-M2c6"
}

const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const r = spawnSync(process.execPath, [BIN, ...args, "--config", sb.configPath], {
    cwd: sb.dir,
    env: { ...sb.env, ...env },
    encoding: "utf8",
    timeout: 60_000
  })
  if (r.status === null) throw new Error(`kstlib ${args.join(" ")}: ${r.error?.message ?? r.signal}`)
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

type View = {
  project: string
  files: Array<string>
  ops: { default_backend: string; sessions: Record<string, Record<string, unknown>> }
}

describe("ops config", () => {
  const setup = () => {
    const [web, box, bad] = [sb.name("web"), sb.name("box"), sb.name("bad")]
    sb.file("app.env", `FROM_FILE=${SECRETS.envFile}\n# a comment\nSHORT=1\n`)
    sb.file(".env", `DOTENV_SECRET=${SECRETS.fromDotenv}\n`)
    sb.file("base.yml", `ops:\n  default_backend: tmux\n  sessions:\n    ${box}:\n      backend: container\n      image: localhost/app:1\n      env:\n        DB_PASSWORD: "\${ENV_SECRET}"\n`)
    sb.writeRaw([
      "include: base.yml",
      "ops:",
      "  project: demo-proj",
      "  sessions:",
      `    ${web}:`,
      "      backend: tmux",
      // the same token on the command line: masked there too
      `      command: "serve --token ${SECRETS.literal}"`,
      "      env_file: app.env",
      "      env:",
      `        API_TOKEN: "${SECRETS.literal}"`,
      "        FROM_DOTENV: \"${DOTENV_SECRET}\"",
      `    ${bad}:`,
      "      backend: container",
      "      image: \"Not An Image!\"",
      "      env:",
      `        HIDDEN: "${SECRETS.literal}"`,
      ""
    ].join("\n"))
    return { web, box, bad }
  }

  it("YAML: merged files, project, sessions valid or rejected, env keys kept and values masked", () => {
    const { web, box, bad } = setup()
    const r = run(["ops", "config"], { ENV_SECRET: SECRETS.fromEnv })
    expect(r.code, r.stderr).toBe(0)
    for (const secret of Object.values(SECRETS)) {
      expect(r.stdout).not.toContain(secret)
      expect(r.stderr).not.toContain(secret)
    }
    const view = parse(r.stdout) as View
    expect(view.project).toBe("demo-proj")
    expect(view.files).toEqual([`${sb.dir}/base.yml`, sb.configPath])
    expect(view.ops.default_backend).toBe("tmux")
    expect(Object.keys(view.ops.sessions)).toEqual([box, web, bad])
    expect(view.ops.sessions[web]).toMatchObject({
      status: "valid",
      backend: "tmux",
      command: "serve --token ***",
      env: { API_TOKEN: "***", FROM_DOTENV: "***", FROM_FILE: "***", SHORT: "***" }
    })
    expect(view.ops.sessions[box]).toMatchObject({ status: "valid", backend: "container", image: "localhost/app:1", env: { DB_PASSWORD: "***" } })
    expect(view.ops.sessions[bad]).toMatchObject({ status: "rejected", backend: "container" })
    expect(JSON.stringify(view.ops.sessions[bad]!["issues"])).toContain("Invalid image name format")
    expect(view.ops.sessions[bad]).not.toHaveProperty("env")
  })

  it("JSON: the same view, and still no secret", () => {
    const { web } = setup()
    const r = run(["ops", "config", "--json"], { ENV_SECRET: SECRETS.fromEnv })
    expect(r.code, r.stderr).toBe(0)
    for (const secret of Object.values(SECRETS)) expect(r.stdout).not.toContain(secret)
    const view = JSON.parse(r.stdout) as View
    expect(view.project).toBe("demo-proj")
    expect(view.ops.sessions[web]).toMatchObject({ status: "valid", env: { API_TOKEN: "***", FROM_FILE: "***" } })
  })

  it("hosts as resolved: target split, key files absolute, engine and what is looked at", () => {
    const s = sb.name("s")
    sb.file("edge1_id", "not a real key\n")
    sb.writeRaw([
      "ops:",
      "  hosts:",
      "    edge1:",
      "      ssh: deploy@edge1.example.com:2222",
      "      identity_file: edge1_id",
      "      runtime: podman",
      "  sessions:",
      `    ${s}: { host: edge1, command: sleep 1 }`,
      ""
    ].join("\n"))
    const r = run(["ops", "config", "--json"])
    expect(r.code, r.stderr).toBe(0)
    const view = JSON.parse(r.stdout) as View & { ops: { hosts: Record<string, unknown> } }
    expect(view.ops.hosts).toEqual({
      edge1: {
        user: "deploy", hostname: "edge1.example.com", port: 2222, identity_file: `${sb.dir}/edge1_id`, known_hosts: null,
        runtime: "podman", podman_socket: null, containers: true
      }
    })
  })

  it("an unreadable config: exit 1, one line, no trace", () => {
    sb.writeRaw("ops: [unclosed\n")
    const r = run(["ops", "config"])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe("")
    expect(stackLines(r.stderr)).toEqual([])
  })
})
