/**
 * The adversarial corpus: every hostile config in ./corpus goes through the BUILT CLI (test/cli/harness.ts
 * sandbox) with `ops validate` (text and --json), `ops plan --detailed-exitcode`, `ops apply`, `ops list`
 * (text and --json). Each file's header says what it attacks and the expected outcome; its `# check:`
 * lines are what this test enforces:
 *   check: reject NAME... | reject *   these sessions are rejected: validate --json says invalid, plan shows
 *                                      them `! ... invalid`, apply never starts them; exit codes 1/1/1.
 *   check: run NAME...                 valid, and running after apply (list --json), exit codes 0 / 2 / 0.
 *   check: refuse NAME REGEX           rejected as above, or valid but apply fails that step with REGEX.
 *   check: file-error REGEX            the whole file is refused: validate/plan/apply exit 1, stderr ~ REGEX.
 *   check: no-line REGEX               no output line matches (forged lines).
 *   check: secret WORD                 WORD appears in no output (besides the S3CRET-<id> values).
 *   transform: utf-16le                the file is written UTF-16LE with a BOM.
 * And for every file, whatever it declares:
 *   - no stack trace (`    at f (file:1:2)`) and no raw ESC (NO_COLOR is set) in any stdout/stderr;
 *   - no env value: every secret is `S3CRET-<id>...`, found in no output and in no argv kstlib passes to
 *     tmux/podman/docker (PATH shims log every argv);
 *   - no marker file: `/tmp/kstlib-adv-<id>-*` (each attack names one), `./f`, `~/.f`.
 * Placeholders: @ID@ (sandbox id), @DIR@ (sandbox dir, = cwd and config dir), @BIG@ (pads to 32 KiB),
 * @MID@ (pads to 8 KiB: 100 such values stay inside the env size a process can receive).
 * Fixtures in @DIR@: x.sh and x-S3CRET-<id>.sh (create a marker), idle.sh, evil.sh (marker, then tmux),
 * afile (a regular file), rootlink -> /.
 *
 * Expectations are the FIXED behaviour; on a branch without the hardening fixes many cases fail, by design.
 */
import { spawnSync } from "node:child_process"
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { basename, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import type { Run, StatusJson } from "../cli/harness.js"
import { Sandbox, stackLines } from "../cli/harness.js"

const CORPUS = fileURLToPath(new URL("./corpus/", import.meta.url))
const files = readdirSync(CORPUS).filter((f) => f.endsWith(".yml")).sort()

interface Checks {
  reject: Array<string>
  rejectAll: boolean
  run: Array<string>
  refuse: Array<{ readonly session: string; readonly reason: RegExp }>
  fileError: RegExp | null
  noLine: Array<RegExp>
  secrets: Array<string>
  utf16: boolean
}

const parseChecks = (header: string, id: string): Checks => {
  const c: Checks = { reject: [], rejectAll: false, run: [], refuse: [], fileError: null, noLine: [], secrets: [], utf16: false }
  for (const line of header.split("\n")) {
    const m = /^# (check|transform): (\S+)\s*(.*)$/u.exec(line.replaceAll("@ID@", id))
    if (m === null) continue
    const [, kind, verb, rest] = m as unknown as [string, string, string, string]
    if (kind === "transform") c.utf16 = verb === "utf-16le"
    else if (verb === "reject" && rest === "*") c.rejectAll = true
    else if (verb === "reject") c.reject.push(...rest.split(/\s+/u))
    else if (verb === "run") c.run.push(...rest.split(/\s+/u))
    else if (verb === "refuse") {
      const [session, ...re] = rest.split(" ")
      c.refuse.push({ session: session!, reason: new RegExp(re.join(" "), "iu") })
    } else if (verb === "file-error") c.fileError = new RegExp(rest, "iu")
    else if (verb === "no-line") c.noLine.push(new RegExp(rest, "mu"))
    else if (verb === "secret") c.secrets.push(rest)
    else throw new Error(`unknown check '${verb}' in ${line}`)
  }
  return c
}

/** The real binary behind a shim (found before PATH is changed). */
const which = (bin: string) => {
  const r = spawnSync("sh", ["-c", `command -v ${bin}`], { encoding: "utf8" })
  return r.status === 0 ? r.stdout.trim() : null
}
const REAL = Object.fromEntries(["tmux", "podman", "docker"].map((b) => [b, which(b)]))

/** Fixture files the configs refer to, and PATH shims that log every argv kstlib passes to tmux/podman/docker. */
const fixtures = (sb: Sandbox) => {
  const marker = (what: string) => `/tmp/kstlib-adv-${sb.id}-pwned-${what}`
  const script = (name: string, text: string) => chmodSync(sb.file(name, `#!/bin/sh\n${text}`), 0o755)
  script("x.sh", `touch ${marker("x")}\nsleep 300\n`)
  script(`x-S3CRET-${sb.id}.sh`, `touch ${marker("rcfile")}\n`)
  script("idle.sh", "sleep 300\n")
  script("evil.sh", `touch ${marker("tmuxbin")}\nexec tmux "$@"\n`)
  sb.file("afile", "a regular file\n")
  symlinkSync("/", join(sb.dir, "rootlink"))
  const shims = join(sb.dir, "shims")
  mkdirSync(shims)
  const log = join(sb.dir, "argv.log")
  for (const [bin, real] of Object.entries(REAL)) {
    if (real === null) continue
    writeFileSync(join(shims, bin), `#!/bin/sh\nprintf '%s ' "${bin}" "$@" >> '${log}'\necho >> '${log}'\nexec '${real}' "$@"\n`, { mode: 0o755 })
  }
  sb.env["PATH"] = `${shims}:${sb.env["PATH"] ?? ""}`
  return log
}

/** Every file an attack could have created: /tmp markers of this sandbox, ./f and ~/.f. */
const markers = (sb: Sandbox): Array<string> => [
  ...readdirSync("/tmp").filter((n) => n.startsWith(`kstlib-adv-${sb.id}-`)).map((n) => `/tmp/${n}`),
  ...[join(sb.dir, "f"), join(sb.home, ".f"), join(sb.home, "f")].filter((p) => existsSync(p))
]

/** Per-file extras: setup before the runs, flags for apply, checks after. */
interface Hook {
  readonly setup?: (sb: Sandbox) => void
  readonly applyArgs?: ReadonlyArray<string>
  readonly after?: (sb: Sandbox, runs: Record<string, Run>) => void
}

const hooks: Record<string, Hook> = {
  "prune-foreign.yml": {
    setup: (sb) => {
      // A session made by hand on the default server, and ownership marks set server-wide (global).
      expect(sb.tmux(["new-session", "-d", "-s", sb.name("foreign"), "sleep 300"]).code).toBe(0)
      expect(sb.tmux(["set-option", "-g", "@kstlib-managed", "1"]).code).toBe(0)
      expect(sb.tmux(["set-option", "-g", "@kstlib-project", basename(sb.dir)]).code).toBe(0)
    },
    applyArgs: ["--prune"],
    after: (sb) => expect.soft(sb.tmuxHas(sb.name("foreign")), "the foreign session was pruned").toBe(true)
  },
  "big-env.yml": {
    after: (sb) => {
      const name = sb.name("bigenv")
      expect.soft(sb.containerId("podman", name), "a container was created").toBeNull()
    }
  },
  "many-env-values.yml": {
    after: (sb) => {
      const name = sb.name("manyenv")
      // podman records the create command line: the values must not be on it.
      const created = sb.rt("podman", ["container", "inspect", "--format", "{{json .Config.CreateCommand}}", name])
      expect.soft(created.code, created.stderr).toBe(0)
      expect.soft(created.stdout.includes(`S3CRET-${sb.id}`), "env values on podman's create command line").toBe(false)
      // All 100 values reached the process, whole.
      const inside = sb.rt("podman", ["exec", name, "sh", "-c", "env | grep -c '^BIG_'; echo ${#BIG_00} ${#BIG_99}"])
      expect.soft(inside.stdout.trim().split("\n"), inside.stderr).toEqual(["100", "8192 8192"])
    }
  }
}

const sandboxes: Array<Sandbox> = []
afterEach(() => {
  for (const sb of sandboxes.splice(0)) {
    sb.cleanup()
    for (const m of readdirSync("/tmp").filter((n) => n.startsWith(`kstlib-adv-${sb.id}-`))) rmSync(`/tmp/${m}`, { force: true })
  }
})

describe("adversarial corpus", () => {
  it("has the cases of the hardening issue", () => {
    expect(files.length).toBeGreaterThanOrEqual(17)
  })

  it.each(files)("%s", (file) => {
    const sb = new Sandbox()
    sandboxes.push(sb)
    const raw = readFileSync(join(CORPUS, file), "latin1") // byte-preserving: invalid-utf8.yml must stay invalid
    const checks = parseChecks(raw, sb.id)
    const secret = `S3CRET-${sb.id}`
    const argvLog = fixtures(sb)
    let text = raw.replaceAll("@ID@", sb.id).replaceAll("@DIR@", sb.dir)
    text = text.replaceAll(/S3CRET-(\w+)-(\d+)-@(BIG|MID)@/gu, (_m, sid: string, n: string, size: string) => {
      const head = `S3CRET-${sid}-${n}-`
      return head + "x".repeat((size === "BIG" ? 32768 : 8192) - head.length)
    })
    writeFileSync(
      sb.configPath,
      checks.utf16 ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(Buffer.from(text, "latin1").toString("utf8"), "utf16le")]) : Buffer.from(text, "latin1")
    )
    hooks[file]?.setup?.(sb)

    const runs: Record<string, Run> = {
      validate: sb.kstlib(["ops", "validate"]),
      validateJson: sb.kstlib(["ops", "validate", "--json"]),
      plan: sb.kstlib(["ops", "plan", "--detailed-exitcode"]),
      apply: sb.kstlib(["ops", "apply", ...(hooks[file]?.applyArgs ?? [])]),
      list: sb.kstlib(["ops", "list"]),
      listJson: sb.kstlib(["ops", "list", "--json"])
    }
    const show = (k: string) => `ops ${k} exited ${runs[k]!.code}\n--- stdout\n${runs[k]!.stdout}\n--- stderr\n${runs[k]!.stderr}`

    // For every file: no stack trace, no raw ESC, no secret, no marker, no secret on an argv.
    for (const [k, r] of Object.entries(runs)) {
      const out = r.stdout + r.stderr
      expect.soft(stackLines(out), `stack trace in ${show(k)}`).toEqual([])
      expect.soft(out.includes("\u001b"), `raw ESC in ${show(k)}`).toBe(false)
      expect.soft(out.includes(secret), `env value printed by ${show(k)}`).toBe(false)
      for (const s of checks.secrets) expect.soft(out.includes(s), `'${s}' printed by ${show(k)}`).toBe(false)
      for (const re of checks.noLine) expect.soft(re.test(out), `forged line ${re} in ${show(k)}`).toBe(false)
    }
    expect.soft(markers(sb), "files the attack created").toEqual([])
    const argv = existsSync(argvLog) ? readFileSync(argvLog, "utf8") : ""
    expect.soft(argv.includes(secret), "an env value on a tmux/podman/docker command line").toBe(false)

    if (checks.fileError !== null) {
      for (const k of ["validate", "plan", "apply"]) {
        expect.soft(runs[k]!.code, show(k)).toBe(1)
        expect.soft(runs[k]!.stderr, show(k)).toMatch(checks.fileError)
      }
      expect.soft(runs["validate"]!.stderr.trim().split("\n").length, `a short message: ${show("validate")}`).toBeLessThanOrEqual(3)
      expect.soft(readdirSync(join(sb.tmuxTmp)).flatMap((d) => readdirSync(join(sb.tmuxTmp, d))), "a tmux server was started").toEqual([])
      return
    }

    // Session-level expectations, from validate --json (the structured view) and list --json (what runs).
    let declared: Array<{ name: string; valid: boolean }> = []
    try {
      declared = (JSON.parse(runs["validateJson"]!.stdout) as { sessions: Array<{ name: string; valid: boolean }> }).sessions
    } catch {
      expect.fail(`validate --json is not JSON: ${show("validateJson")}`)
    }
    let listed: Array<StatusJson> = []
    try {
      listed = JSON.parse(runs["listJson"]!.stdout) as Array<StatusJson>
    } catch {
      expect.fail(`list --json is not JSON: ${show("listJson")}`)
    }
    const stateOf = (n: string) => listed.find((s) => s.name === n)?.state ?? "absent"
    const validOf = (n: string) => declared.find((s) => s.name === n)?.valid

    const rejected = checks.rejectAll ? declared.map((d) => d.name).filter((n) => !checks.run.includes(n)) : checks.reject
    if (checks.rejectAll) expect.soft(rejected.length, `no hostile entry survived loading: ${show("validateJson")}`).toBeGreaterThan(0)
    for (const n of rejected) {
      expect.soft(validOf(n), `${JSON.stringify(n)} should be rejected: ${show("validateJson")}`).toBe(false)
      if (/^[\w-]+$/u.test(n)) {
        expect.soft(runs["validate"]!.stderr, `${n}: ${show("validate")}`).toMatch(new RegExp(`rejected .*session '${n}'`, "u"))
        expect.soft(runs["plan"]!.stdout, `${n}: ${show("plan")}`).toMatch(new RegExp(`! ${n} \\(\\w+\\): invalid`, "u"))
      }
      expect.soft(["defined", "invalid", "absent"], `${JSON.stringify(n)} was started: ${show("listJson")}`).toContain(stateOf(n))
    }
    for (const { reason, session } of checks.refuse) {
      if (validOf(session) === false) {
        expect.soft(runs["plan"]!.stdout, show("plan")).toMatch(new RegExp(`! ${session} \\(\\w+\\): invalid`, "u"))
      } else {
        expect.soft(runs["apply"]!.stdout, `${session} was not refused: ${show("apply")}`).toMatch(new RegExp(`FAILED [^\\n]*${session}[^\\n]*\\n[^\\n]*(${reason.source})`, "iu"))
      }
      expect.soft(stateOf(session), `${session} runs: ${show("listJson")}`).not.toBe("running")
    }
    for (const n of checks.run) {
      expect.soft(validOf(n), `${n} should be valid: ${show("validateJson")}`).toBe(true)
      expect.soft(stateOf(n), `${n} should run: ${show("apply")}\n${show("listJson")}`).toBe("running")
    }
    const anyRefused = rejected.length + checks.refuse.length > 0
    if (anyRefused) {
      // Documented exit codes: validate 1 (a rejected entry), plan --detailed-exitcode 1 (blocked), apply 1.
      if (rejected.length > 0) expect.soft(runs["validate"]!.code, show("validate")).toBe(1)
      if (rejected.length > 0) expect.soft(runs["plan"]!.code, show("plan")).toBe(1)
      expect.soft(runs["apply"]!.code, show("apply")).toBe(1)
    } else {
      expect.soft(runs["validate"]!.code, show("validate")).toBe(0)
      expect.soft(runs["plan"]!.code, show("plan")).toBe(2) // changes pending
      expect.soft(runs["apply"]!.code, show("apply")).toBe(0)
    }
    expect.soft(runs["list"]!.code, show("list")).toBe(0)
    expect.soft(argv, "the shims saw no tmux/podman call: the argv check would be vacuous").not.toBe("")
    hooks[file]?.after?.(sb, runs)
  }, 90_000)
})
