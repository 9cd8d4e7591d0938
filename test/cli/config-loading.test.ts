/**
 * env_file and `${VAR}` interpolation through the built binary with the real tmux: the values reach
 * the session's environment, and not one of them appears in anything kstlib prints (validate,
 * plan, apply, list, status, their JSON forms, and the error messages).
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import type { PlanJson, Run } from "./harness.js"
import { eventually, Sandbox, stackLines } from "./harness.js"

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => {
  sb.cleanup()
})

// distinct, greppable values: one per source
const FROM_PROCESS = "proc-V4lue-9f1c"
const FROM_DOTENV = "dotenv-V4lue-27ab"
const FROM_ENV_FILE = "envfile-V4lue-c0de"
const FROM_ENV_FILE_2 = "envfile-V4lue-beef"
const IN_REJECTED = "rejected-V4lue-0f0f"
const SECRETS = [FROM_PROCESS, FROM_DOTENV, FROM_ENV_FILE, FROM_ENV_FILE_2, IN_REJECTED]

/** Writes the values it received, then waits. */
const SHOW_SH = "printf '%s|%s|%s\\n' \"$A\" \"$B\" \"$KT_FILE_VALUE\" > out.txt\ntrap 'exit 0' TERM INT\nsleep 300 &\nwait\n"

const noSecret = (label: string, r: Run) => {
  for (const s of SECRETS) {
    expect(r.stdout, `${label} stdout`).not.toContain(s)
    expect(r.stderr, `${label} stderr`).not.toContain(s)
  }
}

describe("env_file and interpolation end to end", () => {
  it("values reach the session; no value in any output; a changed env_file value is drift", async () => {
    const web = sb.name("web")
    const broken = sb.name("broken")
    const blocked = sb.name("blocked")
    sb.env["KT_PROC_SECRET"] = FROM_PROCESS
    sb.file(".env", `KT_DOTENV_SECRET=${FROM_DOTENV}\n`)
    sb.file("app.env", `# app\nexport KT_FILE_VALUE="${FROM_ENV_FILE}"\n`)
    sb.file("evil.env", `OK=1\nLD_AUDIT=${IN_REJECTED}\n`)
    sb.file("show.sh", SHOW_SH)
    sb.writeRaw([
      "ops:",
      "  sessions:",
      `    ${web}:`,
      "      command: sh show.sh",
      "      working_dir: .",
      "      env_file: app.env",
      "      env:",
      "        A: ${KT_PROC_SECRET}",
      "        B: ${KT_DOTENV_SECRET:?set it in .env}",
      `    ${broken}:`,
      "      command: sh show.sh",
      "      env:",
      "        X: ${KT_NOT_SET_ANYWHERE}",
      `    ${blocked}:`,
      "      command: sh show.sh",
      "      env_file: evil.env",
      ""
    ].join("\n"))

    const validate = sb.kstlib(["ops", "validate"])
    noSecret("validate", validate)
    expect(validate.code).toBe(1)
    expect(validate.stderr).toContain(`${sb.configPath}:13: session '${broken}': env.X: variable KT_NOT_SET_ANYWHERE is not set`)
    expect(validate.stderr).toContain(`${sb.configPath}:16: session '${blocked}': env_file: ${join(sb.dir, "evil.env")}:2: Environment variable 'LD_AUDIT' is blocked for security reasons`)
    expect(validate.stdout).toContain(`valid    ${web} (tmux)`)
    noSecret("validate --json", sb.kstlib(["ops", "validate", "--json"]))

    const plan = sb.kstlib(["ops", "plan"])
    noSecret("plan", plan)
    expect(plan.stdout).toContain(web)
    noSecret("plan --json", sb.kstlib(["ops", "plan", "--json"]))

    const apply = sb.kstlib(["ops", "apply"])
    noSecret("apply", apply)
    expect(sb.tmuxHas(web)).toBe(true)
    expect(sb.tmuxHas(broken)).toBe(false)
    expect(sb.tmuxHas(blocked)).toBe(false)
    const out = await eventually(() => {
      try {
        const t = readFileSync(join(sb.dir, "out.txt"), "utf8")
        return t === "" ? undefined : t
      } catch {
        return undefined
      }
    })
    expect(out).toBe(`${FROM_PROCESS}|${FROM_DOTENV}|${FROM_ENV_FILE}\n`)

    for (const args of [["list"], ["list", "--json"], ["status", web], ["status", web, "--json"], ["status"]]) {
      noSecret(args.join(" "), sb.kstlib(["ops", ...args]))
    }

    // a changed value in the env file: drift, named by key only
    writeFileSync(join(sb.dir, "app.env"), `KT_FILE_VALUE=${FROM_ENV_FILE_2}\n`)
    const drift = sb.kstlib(["ops", "plan", "--json"])
    noSecret("plan after change", drift)
    const steps = (JSON.parse(drift.stdout) as PlanJson).steps.filter((s) => s.session === web)
    expect(steps.map((s) => s.action)).toEqual(["replace"])
    expect(JSON.stringify(steps[0]!.changes)).toContain("KT_FILE_VALUE")
    noSecret("plan text after change", sb.kstlib(["ops", "plan"]))
  })

  it("file-level errors: unset variable in ops settings, --config '', no secret, no stack trace", () => {
    sb.env["KT_PROC_SECRET"] = FROM_PROCESS
    sb.writeRaw("ops:\n  default_backend: ${KT_BACKEND_UNSET}\n  tmux_binary: ${KT_PROC_SECRET}x/../tmux\n")
    for (const cmd of [["validate"], ["plan"], ["list"]]) {
      const r = sb.kstlib(["ops", ...cmd])
      noSecret(cmd.join(" "), r)
      // read commands (list) still show what runs, with the config error on stderr
      if (cmd[0] === "list") expect(r.code, r.stderr).toBe(0)
      else expect(r.code, r.stderr).not.toBe(0)
      expect(r.stderr).toContain(`${sb.configPath}:2: ops.default_backend: variable KT_BACKEND_UNSET is not set`)
      expect(stackLines(r.stderr)).toEqual([])
    }
    sb.writeRaw(`ops:\n  tmux_binary: ./\${KT_PROC_SECRET}.sh\n`)
    const bin = sb.kstlib(["ops", "list"])
    noSecret("tmux_binary", bin)
    expect(bin.stderr).toContain(`${sb.configPath}:2: ops.tmux_binary:`)

    const empty = sb.kstlib(["ops", "validate", "--config", ""], { config: false })
    expect(empty.code).not.toBe(0)
    expect(empty.stderr).toContain("--config")
    expect(stackLines(empty.stderr)).toEqual([])
  })
})
