/** Per-session commands: start stop restart attach status logs exec send-keys list. Parse flags, call session/, print. */
import { Console, Effect, Option, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { KstlibConfig } from "../config/service.js"
import { escapeText, ExitWith, InvalidInput } from "../errors.js"
import type { BackendKind } from "../model.js"
import { relevantProblems, unreadableOf } from "../reconcile/observe.js"
import { EnvDigests } from "../spec/digest-key.js"
import { observeFor } from "../session/locate.js"
import * as Ops from "../session/operations.js"
import { listRows, shownSessions, statusOf } from "../session/status.js"
import { withApp } from "./app.js"
import { withDefaultShown } from "./flags.js"
import { parseSince, SINCE_HELP } from "./since.js"
import { paint } from "../style.js"
import { renderList, renderStatus, statusJson, stdoutStyle } from "./output.js"

const name = Argument.String("name").pipe(Argument.withDescription("Session name."))
const backend = Flag.Literals("backend", ["tmux", "container"]).pipe(
  Flag.withAlias("b"),
  Flag.withDescription("Backend type (tmux or container). If not given: the config's, else wherever the session is found."),
  Flag.optional
)
const socket = Flag.String("socket").pipe(
  Flag.withAlias("L"),
  Flag.withDescription("tmux socket name (sessions started with tmux -L <name>); 'default' is the default server."),
  Flag.optional
)
const host = Flag.String("host").pipe(
  Flag.withDescription("Where the session runs: a host of ops.hosts, or 'local' for this machine (when the name is in several places)."),
  Flag.optional
)
const json = Flag.Boolean("json").pipe(Flag.withDescription("Print JSON on stdout."), Flag.withDefault(false))
const quiet = Flag.Boolean("quiet").pipe(Flag.withAlias("q"), Flag.withDescription("Print only a short line."), Flag.withDefault(false))
const timeout = Flag.Int("timeout").pipe(
  Flag.withAlias("t"),
  Flag.withDescription("Seconds a graceful stop waits after the first signal before TERM, then KILL (default: the session's stop_timeout, 10)."),
  Flag.optional
)

/** `--timeout` when given; else each session's own `stop_timeout`. */
const timeoutOf = (t: Option.Option<number>) => (Option.isSome(t) ? { timeout: t.value } : {})

const sel = (b: Option.Option<BackendKind>, s: Option.Option<string>, h: Option.Option<string> = Option.none()) => ({
  backend: Option.getOrUndefined(b),
  socket: Option.getOrUndefined(s),
  host: Option.getOrUndefined(h)
})

const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

/** `-e KEY=VALUE`, split on the first `=`; anything else is a clean usage error. */
export const parseEnv = (items: ReadonlyArray<string>) =>
  Effect.forEach(items, (item) => {
    const i = item.indexOf("=")
    return i <= 0
      ? Effect.fail(new InvalidInput({ field: "--env", reason: `Invalid environment variable format: ${item} (expected KEY=VALUE)` }))
      : Effect.succeed([item.slice(0, i), item.slice(i + 1)] as const)
  }).pipe(Effect.map((pairs) => Object.fromEntries(pairs)))

const nonEmpty = <A>(xs: ReadonlyArray<A>) => (xs.length === 0 ? undefined : xs)

const start = Command.make("start", {
  name,
  backend,
  command: Flag.String("command").pipe(Flag.withAlias("c"), Flag.withDescription("Command to run (overrides config)."), Flag.optional),
  image: Flag.String("image").pipe(Flag.withAlias("i"), Flag.withDescription("Container image (implies --backend container)."), Flag.optional),
  workdir: Flag.String("workdir").pipe(Flag.withAlias("w"), Flag.withDescription("Working directory."), Flag.optional),
  env: Flag.String("env").pipe(Flag.withAlias("e"), Flag.withDescription("KEY=VALUE, repeatable; merged over config env."), Flag.atLeast(0)),
  volume: Flag.String("volume").pipe(Flag.withAlias("v"), Flag.withDescription("HOST:CONTAINER[:ro|rw], repeatable; replaces config volumes."), Flag.atLeast(0)),
  port: Flag.String("port").pipe(Flag.withAlias("p"), Flag.withDescription("[HOST:]CONTAINER[/tcp|udp], repeatable; replaces config ports."), Flag.atLeast(0)),
  socket,
  noDeps: Flag.Boolean("no-deps").pipe(Flag.withDescription("Do not start the sessions it depends on (depends_on) first."), Flag.withDefault(false)),
  quiet,
  json
}, (f) =>
  withApp(Effect.gen(function*() {
    const env = yield* parseEnv(f.env)
    const started = yield* Ops.start(f.name, {
      backend: Option.getOrUndefined(f.backend),
      command: Option.getOrUndefined(f.command),
      image: Option.getOrUndefined(f.image),
      working_dir: Option.getOrUndefined(f.workdir),
      env: f.env.length === 0 ? undefined : env,
      volumes: nonEmpty(f.volume),
      ports: nonEmpty(f.port),
      socket: Option.getOrUndefined(f.socket)
    }, { noDeps: f.noDeps })
    const observed = started.observed
    if (f.json) {
      if (observed === null) return yield* printJson({ name: f.name, state: "running", status: started.status })
      return yield* printJson({ ...statusJson(statusOf(observed, yield* KstlibConfig, yield* EnvDigests)), status: started.status })
    }
    // on a host, say so: the pid below is the host's
    const where = observed === null
      ? ""
      : ` (${observed.backend === "tmux" ? `tmux backend, socket ${observed.socket_name ?? "default"}` : `container backend, ${observed.runtime}`}${
        observed.host === undefined ? "" : `, on ${observed.host}`
      })`
    const pid = observed?.pid === null || observed === null ? "" : `, pid ${observed.pid}`
    const deps = "dependencies" in started ? started.dependencies ?? [] : []
    if (!f.quiet && deps.length > 0) yield* Console.log(`Started first (dependencies): ${deps.join(", ")}.`)
    yield* Console.log(
      f.quiet ? `${f.name}: running` : started.status === "already-running" ? `Session '${f.name}' is already running${where}.` : `Session '${f.name}' started${where}${pid}.`
    )
  }))).pipe(
  Command.withDescription("Start a session: from config by name, with command-line overrides (CLI > config > defaults)."),
  Command.withExamples([
    { command: "kstlib ops start clock", description: "Start a session defined in kstlib.conf.yml" },
    { command: "kstlib ops start dev --backend tmux --command \"python app.py\" -e DEBUG=1", description: "An ad-hoc tmux session" },
    { command: "kstlib ops start prod --image app:latest -p 8080:80 -v ./data:/data", description: "An ad-hoc container" },
    { command: "kstlib ops start orion --socket orion --command \"python bot.py\"", description: "On its own tmux server (-L orion)" }
  ])
)

const stop = Command.make("stop", {
  name,
  backend,
  socket,
  host,
  force: Flag.Boolean("force").pipe(Flag.withAlias("f"), Flag.withDescription("Kill at once instead of interrupting and waiting."), Flag.withDefault(false)),
  timeout,
  quiet
}, (f) =>
  withApp(Effect.gen(function*() {
    const r = yield* Ops.stop(f.name, sel(f.backend, f.socket, f.host), { force: f.force, ...timeoutOf(f.timeout) })
    const words = r.status === "not-running"
      ? "is not running (nothing to stop)"
      : r.status === "already-stopped"
      ? "was not running; cleared"
      : r.status === "killed"
      ? f.force
        ? "stopped (killed: --force)"
        : `stopped (killed: it did not end on its stop signal${Option.match(f.timeout, { onNone: () => "", onSome: (t) => ` within ${t} s` })})`
      : "stopped"
    yield* Console.log(f.quiet ? `${f.name}: stopped` : `Session '${f.name}' ${words}.`)
    const dependents = r.dependents ?? []
    if (!f.quiet && dependents.length > 0) {
      yield* Console.log(`Still running, and depending on it (left alone): ${dependents.join(", ")}.`)
    }
  }), { tolerant: true })).pipe(
  Command.withDescription("Stop a session: its stop_signal (default INT), wait up to --timeout (or its stop_timeout) seconds, then TERM, then KILL. Containers created by kstlib are removed."),
  Command.withExamples([
    { command: "kstlib ops stop clock", description: "Graceful stop, 10 s grace" },
    { command: "kstlib ops stop api -t 30", description: "Give it 30 seconds to shut down" },
    { command: "kstlib ops stop stuck -f", description: "Kill at once" }
  ])
)

const restart = Command.make("restart", { name, backend, socket, host, timeout, quiet }, (f) =>
  withApp(Effect.gen(function*() {
    const r = yield* Ops.restart(f.name, sel(f.backend, f.socket, f.host), timeoutOf(f.timeout))
    const pid = r.observed === null || r.observed.pid === null ? "" : `, pid ${r.observed.pid}`
    yield* Console.log(f.quiet ? `${f.name}: running` : `Session '${f.name}' restarted${pid}.`)
  }))).pipe(
  Command.withDescription("Restart a config session: a running one is stopped gracefully, then started as apply would (an exited one of ours is started again in place)."),
  Command.withExamples([{ command: "kstlib ops restart clock", description: "Stop gracefully, then start with the config's spec" }])
)

const attach = Command.make("attach", { name, backend, socket, host }, (f) =>
  withApp(Ops.attach(f.name, sel(f.backend, f.socket, f.host)), { tolerant: true })).pipe(
  Command.withDescription("Attach your terminal to a session (NAME:WINDOW: that window of a windows: session made current; else its current one, the focused one at first). Detach: tmux Ctrl-b d; containers Ctrl-p Ctrl-q."),
  Command.withExamples([
    { command: "kstlib ops attach clock", description: "Watch the clock; Ctrl-b d to detach" },
    { command: "kstlib ops attach dev:logs", description: "The 'logs' window of the dev session" }
  ])
)

const status = Command.make("status", { name, backend, socket, host, json, quiet }, (f) =>
  withApp(Effect.gen(function*() {
    const s = yield* Ops.status(f.name, sel(f.backend, f.socket, f.host))
    if (f.json) return yield* printJson(statusJson(s))
    yield* Console.log(f.quiet ? `${escapeText(s.name)}: ${s.state}` : renderStatus(stdoutStyle(), s))
  }), { tolerant: true })).pipe(
  Command.withDescription("Show the status of one session (config sessions not running show as 'defined')."),
  Command.withExamples([
    { command: "kstlib ops status clock", description: "Human-readable" },
    { command: "kstlib ops status clock --json | jq -r .state", description: "For scripts" }
  ])
)

/** A stable colour per session name, for `name |` prefixes. */
const PREFIX_COLORS = ["cyan", "green", "yellow", "magenta", "red"] as const
const prefixColor = (name: string) => PREFIX_COLORS[[...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % PREFIX_COLORS.length]!

const logs = Command.make("logs", {
  names: Argument.String("name").pipe(
    Argument.withDescription("Sessions (default: every running session of the config). Several: lines prefixed 'name |'."),
    Argument.variadic()
  ),
  backend,
  socket,
  host,
  lines: Flag.Int("lines").pipe(Flag.withAlias("n"), withDefaultShown("How many lines (per session).", 100)),
  follow: Flag.Boolean("follow").pipe(Flag.withAlias("f"), Flag.withDescription("Then keep printing new output until Ctrl-C."), Flag.withDefault(false)),
  since: Flag.String("since").pipe(
    Flag.withDescription(`Only lines since DURATION|TIMESTAMP: ${SINCE_HELP}. Containers only: tmux keeps no time per line.`),
    Flag.optional
  ),
  timestamps: Flag.Boolean("timestamps").pipe(
    Flag.withDescription("Prefix each line with its time (RFC 3339). Containers: when the engine got it. tmux keeps none: the time kstlib read the line."),
    Flag.withDefault(false)
  ),
  colors: Flag.Boolean("colors").pipe(Flag.withDescription("Keep ANSI colours (tmux)."), Flag.withDefault(false)),
  json
}, (f) =>
  withApp(Effect.gen(function*() {
    if (f.lines < 1 || f.lines > 1_000_000) return yield* new InvalidInput({ field: "--lines", reason: "must be between 1 and 1000000" })
    let since: Date | undefined
    if (Option.isSome(f.since)) {
      const parsed = parseSince(f.since.value)
      if ("error" in parsed) return yield* new InvalidInput({ field: "--since", reason: parsed.error })
      since = parsed.since
    }
    const s = sel(f.backend, f.socket, f.host)
    const config = yield* KstlibConfig
    let names: ReadonlyArray<string> = f.names
    if (names.length === 0) {
      const observation = yield* observeFor(config, s)
      const running = new Set(observation.sessions.filter((o) => o.state === "running").map((o) => o.name))
      names = config.sessions.map((e) => e.name).filter((n) => running.has(n))
      if (names.length === 0) return yield* new InvalidInput({ field: "NAME", reason: "no session of the config is running; name one" })
    }
    const options = { lines: f.lines, colors: f.colors, since, timestamps: f.timestamps }
    // Every name found (and --since checked against its backend) before the first line is printed.
    const targets = yield* Ops.logsTargets(names, s, options)
    const style = stdoutStyle()
    const width = Math.max(...names.map((n) => n.length))
    const prefix = (name: string) =>
      names.length === 1 ? "" : `${paint(style, prefixColor(name), name.padEnd(width))} | `
    const emit = (name: string, line: string) => Console.log(f.json ? JSON.stringify(names.length === 1 ? line : { name, line }) : `${prefix(name)}${line}`)
    if (f.follow) {
      // ONE stream per session: its last N lines, then new ones (no replay), all interleaved as they come.
      if (f.json && names.length === 1) yield* Console.log(JSON.stringify({ name: names[0], lines: [] }))
      return yield* Stream.mergeAll(targets.map((o, i) => Ops.followOf(o, options).pipe(Stream.map((line) => [names[i]!, line] as const))), {
        concurrency: "unbounded"
      }).pipe(Stream.runForEach(([n, line]) => emit(n, line)))
    }
    for (const [i, o] of targets.entries()) {
      const n = names[i]!
      const text = (yield* Ops.logsOf(o, options)).replace(/\n+$/u, "")
      const lines = text === "" ? [] : text.split("\n")
      if (f.json) yield* Console.log(JSON.stringify({ name: n, lines }))
      else if (lines.length === 0) yield* Console.error(`No logs available for session '${n}'.`)
      else yield* Console.log(lines.map((l) => `${prefix(n)}${l}`).join("\n"))
    }
  }), { tolerant: true })).pipe(
  Command.withDescription("Show sessions' recent output (tmux: pane history; containers: stdout and stderr); -f follows."),
  Command.withExamples([
    { command: "kstlib ops logs clock -n 20", description: "Last 20 lines" },
    { command: "kstlib ops logs api -f", description: "The last 100 lines, then follow until Ctrl-C" },
    { command: "kstlib ops logs -f", description: "Every running session of the config, interleaved, prefixed 'name |'" },
    { command: "kstlib ops logs api worker --since 10m --timestamps", description: "The last 10 minutes of two containers, with times" },
    { command: "kstlib ops logs clock --json | jq -r '.lines[-1]'", description: "As JSON" }
  ])
)

const exec = Command.make("exec", {
  name,
  socket,
  host,
  interactive: Flag.Boolean("interactive").pipe(Flag.withAlias("i"), Flag.withDescription("Attach your terminal (-it)."), Flag.withDefault(false)),
  shell: Flag.Boolean("shell").pipe(Flag.withDescription("Run ONE argument of shell code with sh -c (pipes, ;, redirections)."), Flag.withDefault(false)),
  cmd: Argument.String("cmd").pipe(Argument.withDescription("Command and arguments, after --."), Argument.variadic())
}, (f) =>
  withApp(Effect.gen(function*() {
    const r = yield* Ops.exec(f.name, f.cmd, sel(Option.none(), f.socket, f.host), { interactive: f.interactive, shell: f.shell })
    if (!f.interactive) {
      if (r.stdout !== "") yield* Effect.sync(() => process.stdout.write(r.stdout))
      if (r.stderr !== "") yield* Effect.sync(() => process.stderr.write(r.stderr))
    }
    if (r.exitCode !== 0) return yield* new ExitWith({ code: r.exitCode, reason: "" })
  }))).pipe(
  Command.withDescription("Run a command inside a container session, as words (no shell); the exit code is passed through."),
  Command.withExamples([
    { command: "kstlib ops exec api -- ls -la /app", description: "List files in the container" },
    { command: "kstlib ops exec api --shell -- 'ps aux | grep node'", description: "Shell code, explicitly" }
  ])
)

const sendKeys = Command.make("send-keys", {
  name,
  socket,
  host,
  keys: Argument.String("keys").pipe(Argument.withDescription("Text, or a control key (C-c, Enter, Escape, M-x, ...).")),
  noEnter: Flag.Boolean("no-enter").pipe(Flag.withDescription("Do not press Enter after the keys."), Flag.withDefault(false))
}, (f) =>
  withApp(Ops.sendKeys(f.name, f.keys, sel(Option.none(), f.socket, f.host), { enter: !f.noEnter }))).pipe(
  Command.withDescription("Type keys into a tmux session (validated: no shell chaining or redirection)."),
  Command.withExamples([
    { command: "kstlib ops send-keys repl \"print(42)\"", description: "Type a line and press Enter" },
    { command: "kstlib ops send-keys repl C-c --no-enter", description: "Send Ctrl-C" }
  ])
)

const list = Command.make("list", {
  backend,
  json,
  all: Flag.Boolean("all").pipe(Flag.withAlias("a"), Flag.withDescription("Every session on the machine, any project, with a PROJECT column."), Flag.withDefault(false))
}, (f) =>
  withApp(Effect.gen(function*() {
    const config = yield* KstlibConfig
    const b = Option.getOrUndefined(f.backend)
    const observation = yield* observeFor(config, { backend: b })
    for (const w of relevantProblems(observation, config, b !== undefined || f.all)) yield* Console.error(`warning: ${w}`)
    const shown = shownSessions(observation.sessions, config, { backend: b, all: f.all })
    const measured = yield* Ops.usageOf(shown)
    const usage = new Map(shown.map((o, i) => [o, measured[i] ?? null] as const))
    const rows = listRows(observation.sessions, config, { digest: yield* EnvDigests, backend: b, all: f.all, unreadable: unreadableOf(observation), usage })
    if (f.json) return yield* printJson(rows.map(statusJson))
    yield* Console.log(renderList(stdoutStyle(), rows, { withProject: f.all }))
  }), { tolerant: true })).pipe(
  Command.withAlias("ls"),
  Command.withDescription(
    "List this project's sessions and its config entries (not running: 'defined'; rejected: 'invalid'). --all: every session on the machine."
  ),
  Command.withExamples([
    { command: "kstlib ops list", description: "This project" },
    { command: "kstlib ops list --all", description: "Everything, with the project of each" },
    { command: "kstlib ops list -b container --json", description: "Containers only, as JSON (warnings go to stderr)" }
  ])
)

export const sessionCommands = [start, stop, restart, attach, status, logs, exec, sendKeys, list] as const
