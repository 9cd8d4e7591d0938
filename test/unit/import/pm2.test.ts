import { describe, expect, it } from "vitest"
import { splitArgs } from "../../../src/import/pm2.js"
import { expectValid, fixture, imported, noted, refused, sameDir, session, skipped } from "./helpers.js"

describe("pm2 ecosystem (JSON, YAML)", () => {
  it("apps: interpreter + script + args as words, cwd, env, supervision, one log file", () => {
    const r = imported("pm2", fixture("pm2/ecosystem.config.json"))
    expect(session(r, "api")).toEqual({
      backend: "tmux",
      command: "node --max-old-space-size=512 server.js --port 3000 --label 'blue green'",
      working_dir: "api",
      env: { NODE_ENV: "development", LOG_LEVEL: "debug" },
      restart: "always",
      max_restarts: 10,
      min_uptime: 5,
      // a fixed delay: kstlib doubles up to max_backoff, so both are the same
      restart_delay: 3,
      max_backoff: 3,
      stop_timeout: 1.6,
      log_file: "api/logs/api.log",
      max_memory: "260m"
    })
    expect(session(r, "worker")).toEqual({ backend: "tmux", command: "python3 worker.py", working_dir: ".", restart: "no", cron_restart: "0 3 * * *" })
    // stop_exit_codes [0] is what on-failure means; exp_backoff doubles up to pm2's 15 s
    expect(session(r, "cleanup")).toEqual({
      backend: "tmux", command: "bash ./cleanup.sh", working_dir: ".", restart: "on-failure", restart_delay: 0.1, max_backoff: 15, log_file: "logs/cleanup.log"
    })
    // interpreter none: the script is the program; no name: pm2's (the script's base name)
    expect(session(r, "npm")["command"]).toBe("npm run start:prod")
    const why = skipped(r)
    expect(Object.keys(why)).toEqual(["deploy", "apps[0].env_production", "apps[0].error_file", "apps[0].instances", "apps[0].exec_mode", "apps[0].watch"])
    expect(why["apps[0].instances"]).toContain("one process per session")
    expect(why["apps[0].exec_mode"]).toContain("cluster mode")
    expect(why["apps[0].error_file"]).toContain("one log_file (out_file is used)")
    expect(why["apps[0].env_production"]).toContain("--env production")
    expectValid(r)
  })

  it("--env NAME merges env_NAME over env and reports the others", () => {
    const r = imported("pm2", fixture("pm2/ecosystem.config.json"), sameDir("/work/project", { pm2Env: "production" }))
    expect(session(r, "api")["env"]).toEqual({ NODE_ENV: "production", LOG_LEVEL: "debug" })
    expect(skipped(r)["apps[0].env_production"]).toBeUndefined()
  })

  it("YAML; a script with spaces is a command line (pm2 runs it with bash -c); today's fields validate whole", () => {
    const r = imported("pm2", fixture("pm2/ecosystem.yml"))
    expect(r.config.ops.sessions).toEqual({
      web: { backend: "tmux", command: "node app.js", working_dir: ".", env: { PORT: "8080" }, restart: "always" },
      static: { backend: "tmux", command: "npx serve -s build -l 5000", working_dir: ".", restart: "always" }
    })
    expect(noted(r)["apps[0].autorestart"]).toContain("restarts an app by default")
    expectValid(r)
  })

  it("a .json pm2 would evaluate as JavaScript (unquoted keys, single quotes, // comments) is read", () => {
    expect(session(imported("pm2", fixture("pm2/process.json")), "http")).toMatchObject({ command: "node http.js", env: { PORT: "8002" } })
  })

  it("args are split as pm2 splits them; $ is literal (pm2 interpolates nothing)", () => {
    expect(splitArgs(`--a "b c" --d='e f' g=h 'i j'`)).toEqual(["--a", "b c", "--d='e f'", "g=h", "i j"])
    const r = imported("pm2", JSON.stringify({ apps: [{ name: "x", script: "x.sh", args: ["$HOME", "a b"], env: { P: "$1" } }] }))
    expect(session(r, "x")).toMatchObject({ command: "bash x.sh '$$HOME' 'a b'", env: { P: "$$1" } })
    expectValid(r)
  })

  it("words kstlib runs only through a shell keep their argv under sh -c", () => {
    const r = imported("pm2", JSON.stringify({ apps: [{ name: "x", script: "bash", interpreter: "none", args: ["-c", "echo a && echo b"] }] }))
    expect(session(r, "x")).toMatchObject({ command: "bash -c 'echo a && echo b'", shell: true })
    expectValid(r)
  })

  it("blocked env keys are reported without their value; not an ecosystem: refused", () => {
    const r = imported("pm2", JSON.stringify({ apps: [{ name: "x", script: "x.js", env: { LD_PRELOAD: "s3cr3t-value", OK: 1 } }] }))
    expect(skipped(r)["apps[0].env.LD_PRELOAD"]).toContain("blocked")
    expect(JSON.stringify(r.notCarried)).not.toContain("s3cr3t-value")
    expect(refused("pm2", "{\"name\": 1}")).toBe("not a pm2 ecosystem file: no apps: list")
    expect(refused("pm2", "module.exports = { apps: [] }")).toContain("--allow-js")
  })
})
