/**
 * `command:` end to end, through the built binary: the commands people write are accepted and run
 * with the SAME argv on tmux, Podman and Docker (no shell anywhere), dangerous ones are refused with
 * a readable reason and never run, and `shell: true` runs shell code on every backend.
 *
 * Every program is a fake: `python`, `node`, `go`... are links to one script that prints its
 * program name and each argument on its own line, then sleeps (a session must stay up). kstlib (so
 * tmux) gets the fakes' directory first in PATH; containers mount it at /k with /k first in PATH.
 * One apply per backend starts the whole table.
 */
import { chmodSync, existsSync, mkdirSync, symlinkSync } from "node:fs"
import { basename, join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RuntimeName } from "../../src/model.js"
import { availableEngines } from "../support/engines.js"
import type { SessionEntry } from "./harness.js"
import { eventually, Sandbox, TEST_IMAGE } from "./harness.js"

/** [command as written, argv the program receives (program first)]. */
const COMMANDS: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
  ["python train.py --eval", ["python", "train.py", "--eval"]],
  ["python -m http.server 8000 --bind 127.0.0.1", ["python", "-m", "http.server", "8000", "--bind", "127.0.0.1"]],
  ["python -c 'import sys; print(sys.argv)'", ["python", "-c", "import sys; print(sys.argv)"]],
  ["python3 -u worker.py --queue=high --concurrency=4", ["python3", "-u", "worker.py", "--queue=high", "--concurrency=4"]],
  ["python manage.py runserver 0.0.0.0:8000", ["python", "manage.py", "runserver", "0.0.0.0:8000"]],
  ["./manage.py migrate --noinput", ["./manage.py", "migrate", "--noinput"]],
  ["uvicorn app.main:app --host 0.0.0.0 --port 8000 --reload", ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--reload"]],
  ["gunicorn -w 4 -b :8000 'app:create_app()'", ["gunicorn", "-w", "4", "-b", ":8000", "app:create_app()"]],
  ["celery -A proj worker -l info -Q 'default,high'", ["celery", "-A", "proj", "worker", "-l", "info", "-Q", "default,high"]],
  ["python -m pytest -k 'not slow and (unit or api)' tests/", ["python", "-m", "pytest", "-k", "not slow and (unit or api)", "tests/"]],
  ["python script.py \"it's\" 'say \"hi\"'", ["python", "script.py", "it's", "say \"hi\""]],
  ["python app.py --name \"Jane Doe\" --tags=a,b,c", ["python", "app.py", "--name", "Jane Doe", "--tags=a,b,c"]],
  ["python app.py --pattern '^[a-z]+$' --sep=';'", ["python", "app.py", "--pattern", "^[a-z]+$", "--sep=;"]],
  ["python app.py \\$HOME a\\ b --empty ''", ["python", "app.py", "$HOME", "a b", "--empty", ""]],
  ["node server.js --port=3000", ["node", "server.js", "--port=3000"]],
  ["node -e 'console.log(1)'", ["node", "-e", "console.log(1)"]],
  ["node --max-old-space-size=4096 dist/index.js", ["node", "--max-old-space-size=4096", "dist/index.js"]],
  ["node -r dotenv/config app.js dotenv_config_path=.env.local", ["node", "-r", "dotenv/config", "app.js", "dotenv_config_path=.env.local"]],
  ["node app.js --json '{\"port\": 3000, \"debug\": true}'", ["node", "app.js", "--json", "{\"port\": 3000, \"debug\": true}"]],
  ["npm run build -- --source-map", ["npm", "run", "build", "--", "--source-map"]],
  ["npm start", ["npm", "start"]],
  ["npm run test -- --grep \"user login\"", ["npm", "run", "test", "--", "--grep", "user login"]],
  ["npx vitest run 'test/**/*.test.ts'", ["npx", "vitest", "run", "test/**/*.test.ts"]],
  ["npx tsc -p tsconfig.json --watch", ["npx", "tsc", "-p", "tsconfig.json", "--watch"]],
  ["pnpm --filter '@app/*' dev", ["pnpm", "--filter", "@app/*", "dev"]],
  ["go run ./cmd/server -addr=:8080", ["go", "run", "./cmd/server", "-addr=:8080"]],
  ["go test ./... -run 'TestFoo|TestBar' -v", ["go", "test", "./...", "-run", "TestFoo|TestBar", "-v"]],
  ["go build -ldflags \"-X main.version=1.2.3\" -o bin/app .", ["go", "build", "-ldflags", "-X main.version=1.2.3", "-o", "bin/app", "."]],
  ["java -jar app.jar --spring.profiles.active=prod", ["java", "-jar", "app.jar", "--spring.profiles.active=prod"]],
  ["java -Xmx2g -Dconfig.file=conf/app.conf -cp 'lib/*' com.example.Main", ["java", "-Xmx2g", "-Dconfig.file=conf/app.conf", "-cp", "lib/*", "com.example.Main"]],
  ["mvn -q spring-boot:run -Dspring-boot.run.arguments=\"--server.port=9000\"", ["mvn", "-q", "spring-boot:run", "-Dspring-boot.run.arguments=--server.port=9000"]],
  ["gradle bootRun --args='--debug'", ["gradle", "bootRun", "--args=--debug"]],
  ["cargo run --release -- --config config.toml", ["cargo", "run", "--release", "--", "--config", "config.toml"]],
  ["ruby -e 'puts ARGV.inspect' a b", ["ruby", "-e", "puts ARGV.inspect", "a", "b"]],
  ["deno run --allow-net=example.com main.ts", ["deno", "run", "--allow-net=example.com", "main.ts"]],
  ["dotnet run --project src/Api -- --urls http://0.0.0.0:5000", ["dotnet", "run", "--project", "src/Api", "--", "--urls", "http://0.0.0.0:5000"]],
  ["grep -E 'a|b' file.txt", ["grep", "-E", "a|b", "file.txt"]],
  ["echo 'a;b' 'c && d' '$(not run)' '`nor this`'", ["echo", "a;b", "c && d", "$(not run)", "`nor this`"]],
  ["find . -name '*.py' -newer setup.cfg", ["find", ".", "-name", "*.py", "-newer", "setup.cfg"]],
  ["rsync -av --exclude='*.tmp' src/ dest/", ["rsync", "-av", "--exclude=*.tmp", "src/", "dest/"]],
  ["curl -sS -H 'Accept: application/json' 'https://example.com/api?a=1&b=2'", ["curl", "-sS", "-H", "Accept: application/json", "https://example.com/api?a=1&b=2"]],
  ["'my tool' --flag '#not-a-comment' {x}", ["my tool", "--flag", "#not-a-comment", "{x}"]],
  // what tmux's own command parser treats specially: a trailing ;, ~, %, #{…}, ${…}
  ["echo ';' 'a;' '~/x' '%if' '#{pane_id}' '${HOME}' é", ["echo", ";", "a;", "~/x", "%if", "#{pane_id}", "${HOME}", "é"]],
  // one word: tmux would hand a lone argument to sh -c; it must be exec'd as is
  ["npm", ["npm"]],
  ["'my tool'", ["my tool"]],
  // wrappers run the program with the rest of the words
  ["env LOG_LEVEL=debug python app.py", ["python", "app.py"]],
  ["timeout 900 python job.py --eval", ["python", "job.py", "--eval"]]
]

const FAKES = [...new Set(COMMANDS.map(([, argv]) => basename(argv[0]!)))]

/** Prints `<<program`, one `[arg]` per argument, `>>`, then stays up. */
const ARGS_SH = "#!/bin/sh\necho \"<<$(basename \"$0\")\"\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\necho '>>'\nexec sleep 600\n"

const expectedLines = (argv: ReadonlyArray<string>) => [`<<${basename(argv[0]!)}`, ...argv.slice(1).map((a) => `[${a}]`), ">>"]

/** The lines between `<<` and `>>` (inclusive) of a session's output, or undefined while incomplete. */
const printed = (output: string): Array<string> | undefined => {
  const lines = output.replace(/\r/gu, "").split("\n")
  const start = lines.findIndex((l) => l.startsWith("<<"))
  const end = lines.indexOf(">>", start)
  return start === -1 || end === -1 ? undefined : lines.slice(start, end + 1)
}

type Kind = "tmux" | RuntimeName
const KINDS: ReadonlyArray<Kind> = ["tmux", ...availableEngines()]

let sb: Sandbox
let bin: string
beforeAll(() => {
  sb = new Sandbox()
  bin = join(sb.dir, "bin")
  mkdirSync(bin)
  sb.file("bin/args.sh", ARGS_SH)
  chmodSync(join(bin, "args.sh"), 0o755)
  // relative links: they resolve inside the containers too
  for (const f of [...FAKES, "manage.py"]) if (!existsSync(join(bin, f))) symlinkSync("args.sh", join(bin, f))
  // tmux takes a new pane's PATH from the client (kstlib), not from `-e PATH=`: the fakes go there.
  sb.env["PATH"] = `${bin}:${process.env["PATH"] ?? "/usr/bin:/bin"}`
})
afterAll(() => sb.cleanup())

/** As written in YAML: the config interpolates `$VAR` (compose's rules), so a literal `$` is `$$`. */
const literal = (command: string) => command.replace(/\$/gu, "$$$$")

/** Fields that put a session on `kind`, with the fakes first in PATH, in their directory; the command written literally. */
const on = (kind: Kind, fields: SessionEntry & { readonly command?: string } = {}): SessionEntry => {
  const extra = fields.command === undefined ? fields : { ...fields, command: literal(fields.command) }
  return kind === "tmux"
    ? { backend: "tmux", working_dir: bin, ...extra }
    : {
      backend: "container",
      runtime: kind,
      image: TEST_IMAGE,
      volumes: [`${sb.dir}:/w`, `${bin}:/k:ro`],
      working_dir: "/k",
      env: { PATH: "/k:/bin:/usr/bin:/sbin:/usr/sbin" },
      ...extra
    }
}

/** What a session printed: the tmux pane (history included) or the container's log. */
const output = (kind: Kind, name: string): string =>
  kind === "tmux"
    ? sb.tmux(["capture-pane", "-p", "-J", "-S", "-", "-t", `=${name}:`]).stdout
    : sb.rt(kind, ["logs", name]).stdout

describe.each(KINDS)("command: on %s", (kind) => {
  const prefix = kind === "tmux" ? "t" : kind === "podman" ? "p" : "d"

  it(`${COMMANDS.length} real commands are accepted and run with the same argv, in one apply`, async () => {
    expect(COMMANDS.length).toBeGreaterThanOrEqual(40)
    const names = COMMANDS.map((_, i) => sb.name(`${prefix}${i}`))
    sb.writeConfig(Object.fromEntries(COMMANDS.map(([command], i) => [names[i]!, on(kind, { command })])))

    const v = sb.kstlib(["ops", "validate"])
    expect(v.code, v.stderr).toBe(0)
    expect(v.stdout).toContain(`${COMMANDS.length} valid, 0 rejected`)

    const r = sb.kstlib(["ops", "apply", "--parallel", "8"])
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0)
    for (const [i, [command, argv]] of COMMANDS.entries()) {
      const got = await eventually(() => printed(output(kind, names[i]!)), 50, 100)
      expect(got, `${command} (${names[i]})`).toEqual(expectedLines(argv))
    }
    // Stored fingerprints match: nothing to do on a second look.
    const plan = sb.kstlib(["ops", "plan", "--detailed-exitcode"])
    expect(plan.code, `${plan.stdout}\n${plan.stderr}`).toBe(0)
  })

  it("dangerous commands are rejected with readable reasons and never run; a quoted ';' in one word is just a name", async () => {
    const marker = (tag: string) => (kind === "tmux" ? join(sb.dir, `${prefix}-${tag}`) : `/w/${prefix}-${tag}`)
    const onHost = (tag: string) => join(sb.dir, `${prefix}-${tag}`)
    const cases: ReadonlyArray<readonly [string, string, string]> = [
      ["bg", `sleep 1000 & touch ${marker("bg")}`, "unquoted '&' would run a command in the background"],
      ["redir", `echo x >"${marker("redir")}"`, "unquoted '>' would redirect output to a file"],
      ["eval", `e''val touch ${marker("eval")}`, "'eval' runs its arguments as shell code"],
      ["exec", `ex''ec touch ${marker("exec")}`, "'exec' runs its arguments as shell code"],
      ["ansi", `bash -c $'touch ${marker("ansi")}\\x3b sleep 9'`, "'bash -c' is shell code"],
      ["procsub", `bash -c 'cat <(touch ${marker("procsub")}) & wait'`, "'bash -c' is shell code"],
      ["wrapped", `env A=1 nice sh -c 'touch ${marker("wrapped")}'`, "'sh -c' is shell code"]
    ]
    const names = cases.map(([tag]) => sb.name(`${prefix}x${tag}`))
    // Accepted (the quotes make it ONE word, a program name) but not found: nothing else may run.
    const oneWord = sb.name(`${prefix}xword`)
    sb.writeConfig({
      ...Object.fromEntries(cases.map(([, command], i) => [names[i]!, on(kind, { command })])),
      [oneWord]: on(kind, { command: `'nope;touch ${marker("word")}'` })
    })

    const v = sb.kstlib(["ops", "validate"])
    expect(v.code).toBe(1)
    expect(v.stdout).toContain(`1 valid, ${cases.length} rejected`)
    for (const [i, [, , reason]] of cases.entries()) {
      const line = v.stderr.split("\n").find((l) => l.includes(names[i]!))
      expect(line, v.stderr).toContain(`command: ${reason}`)
      expect(line).toMatch(/but no shell runs this command/u)
    }

    sb.kstlib(["ops", "apply"])
    await new Promise((r) => setTimeout(r, 1500))
    for (const [tag] of [...cases, ["word"] as const]) expect(existsSync(onHost(tag)), tag).toBe(false)
    for (const n of names) {
      expect(kind === "tmux" ? sb.tmuxHas(n) : sb.containerId(kind, n) !== null, n).toBe(false)
    }
  })

  it("shell: true runs a pipeline through sh -c; validate says so", async () => {
    const name = sb.name(`${prefix}sh`)
    sb.writeConfig({ [name]: on(kind, { command: "echo a b | wc -w; echo done-$((1+1)); sleep 600", shell: true }) })
    const v = sb.kstlib(["ops", "validate"])
    expect(v.code, v.stderr).toBe(0)
    expect(v.stdout).toMatch(new RegExp(`valid +${name} \\((tmux|container), shell\\)`, "u"))
    const r = sb.kstlib(["ops", "apply"])
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0)
    const lines = await eventually(() => {
      const out = output(kind, name).replace(/\r/gu, "").split("\n").map((l) => l.trim())
      return out.includes("done-2") ? out : undefined
    }, 50, 100)
    expect(lines).toContain("2")
    // Without shell: true the same command is refused, readably.
    sb.writeConfig({ [name]: on(kind, { command: "echo a b | wc -w" }) })
    const refused = sb.kstlib(["ops", "validate"])
    expect(refused.stderr).toContain(
      "command: unquoted '|' would pipe into another command, but no shell runs this command; quote it to pass it as an argument, or set shell: true"
    )
  })
})
