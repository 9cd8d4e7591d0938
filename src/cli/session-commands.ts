/** Per-session commands: start stop restart attach status logs exec send-keys list. Parse flags, call session/, print. */
import { Console, Effect, Option, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { InvalidInput } from "../errors.js"
import type { BackendKind } from "../model.js"
import { relevantWarnings } from "../reconcile/observe.js"
import { observeFor } from "../session/locate.js"
import * as Ops from "../session/operations.js"
import { listRows, statusOf } from "../session/status.js"
import { KstlibConfig } from "../config/service.js"
import { setExitCode, withApp } from "./app.js"
import { withDefaultShown } from "./flags.js"
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
const json = Flag.Boolean("json").pipe(Flag.withDescription("Print JSON on stdout."), Flag.withDefault(false))
const quiet = Flag.Boolean("quiet").pipe(Flag.withAlias("q"), Flag.withDescription("Print only a short line."), Flag.withDefault(false))
const timeout = Flag.Int("timeout").pipe(
  Flag.withAlias("t"),
  withDefaultShown("Seconds a graceful stop waits before killing.", 10)
)

const sel = (b: Option.Option<BackendKind>, s: Option.Option<string>) => ({
  backend: Option.getOrUndefined(b),
  socket: Option.getOrUndefined(s)
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
  quiet,
  json
}, (f) =>
  withApp(Effect.gen(function*() {
    const env = yield* parseEnv(f.env)
    const observed = yield* Ops.start(f.name, {
      backend: Option.getOrUndefined(f.backend),
      command: Option.getOrUndefined(f.command),
      image: Option.getOrUndefined(f.image),
      working_dir: Option.getOrUndefined(f.workdir),
      env: f.env.length === 0 ? undefined : env,
      volumes: nonEmpty(f.volume),
      ports: nonEmpty(f.port),
      socket: Option.getOrUndefined(f.socket)
    })
    if (f.json) return yield* printJson(statusJson(statusOf(observed, yield* KstlibConfig)))
    const where = observed.backend === "tmux" ? `tmux backend, socket ${observed.socket_name ?? "default"}` : `container backend, ${observed.runtime}`
    yield* Console.log(f.quiet ? `${f.name}: running` : `Session '${f.name}' started (${where})${observed.pid === null ? "" : `, pid ${observed.pid}`}.`)
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
  force: Flag.Boolean("force").pipe(Flag.withAlias("f"), Flag.withDescription("Kill at once instead of interrupting and waiting."), Flag.withDefault(false)),
  timeout,
  quiet
}, (f) =>
  withApp(Effect.gen(function*() {
    yield* Ops.stop(f.name, sel(f.backend, f.socket), { force: f.force, timeout: f.timeout })
    yield* Console.log(f.quiet ? `${f.name}: stopped` : `Session '${f.name}' stopped.`)
  }))).pipe(
  Command.withDescription("Stop a session: interrupt (Ctrl-C / SIGTERM), wait up to --timeout seconds, then kill. Containers created by kstlib are removed."),
  Command.withExamples([
    { command: "kstlib ops stop clock", description: "Graceful stop, 10 s grace" },
    { command: "kstlib ops stop api -t 30", description: "Give it 30 seconds to shut down" },
    { command: "kstlib ops stop stuck -f", description: "Kill at once" }
  ])
)

const restart = Command.make("restart", { name, backend, socket, timeout, quiet }, (f) =>
  withApp(Effect.gen(function*() {
    const o = yield* Ops.restart(f.name, sel(f.backend, f.socket), { timeout: f.timeout })
    yield* Console.log(f.quiet ? `${f.name}: running` : `Session '${f.name}' restarted${o.pid === null ? "" : `, pid ${o.pid}`}.`)
  }))).pipe(
  Command.withDescription("Restart a session (an exited tmux pane is respawned in place)."),
  Command.withExamples([{ command: "kstlib ops restart clock", description: "Stop gracefully, then start with the config's spec" }])
)

const attach = Command.make("attach", { name, backend, socket }, (f) =>
  withApp(Ops.attach(f.name, sel(f.backend, f.socket)))).pipe(
  Command.withDescription("Attach your terminal to a session. Detach: tmux Ctrl-b d; containers Ctrl-p Ctrl-q."),
  Command.withExamples([{ command: "kstlib ops attach clock", description: "Watch the clock; Ctrl-b d to detach" }])
)

const status = Command.make("status", { name, backend, socket, json, quiet }, (f) =>
  withApp(Effect.gen(function*() {
    const s = yield* Ops.status(f.name, sel(f.backend, f.socket))
    if (f.json) return yield* printJson(statusJson(s))
    yield* Console.log(f.quiet ? `${s.name}: ${s.state}` : renderStatus(stdoutStyle(), s))
  }))).pipe(
  Command.withDescription("Show the status of one session (config sessions not running show as 'defined')."),
  Command.withExamples([
    { command: "kstlib ops status clock", description: "Human-readable" },
    { command: "kstlib ops status clock --json | jq -r .state", description: "For scripts" }
  ])
)

const logs = Command.make("logs", {
  name,
  backend,
  socket,
  lines: Flag.Int("lines").pipe(Flag.withAlias("n"), withDefaultShown("How many lines.", 100)),
  follow: Flag.Boolean("follow").pipe(Flag.withAlias("f"), Flag.withDescription("Keep printing new output until Ctrl-C."), Flag.withDefault(false)),
  colors: Flag.Boolean("colors").pipe(Flag.withDescription("Keep ANSI colours (tmux)."), Flag.withDefault(false)),
  json
}, (f) =>
  withApp(Effect.gen(function*() {
    if (f.lines < 1) return yield* new InvalidInput({ field: "--lines", reason: "must be at least 1" })
    const s = sel(f.backend, f.socket)
    const text = (yield* Ops.logs(f.name, s, { lines: f.lines, colors: f.colors })).replace(/\n+$/u, "")
    if (f.json) {
      // One document; with --follow, then one JSON string per new line (NDJSON).
      yield* Console.log(JSON.stringify({ name: f.name, lines: text === "" ? [] : text.split("\n") }))
    } else if (text.trim() !== "") {
      yield* Console.log(text)
    } else if (!f.follow) {
      yield* Console.error(`No logs available for session '${f.name}'.`)
    }
    if (f.follow) yield* Stream.runForEach(Ops.follow(f.name, s), (line) => Console.log(f.json ? JSON.stringify(line) : line))
  }))).pipe(
  Command.withDescription("Show a session's recent output (tmux: pane history; containers: stdout and stderr)."),
  Command.withExamples([
    { command: "kstlib ops logs clock -n 20", description: "Last 20 lines" },
    { command: "kstlib ops logs api -f", description: "Follow until Ctrl-C" },
    { command: "kstlib ops logs clock --json | jq -r '.lines[-1]'", description: "As JSON" }
  ])
)

const exec = Command.make("exec", {
  name,
  socket,
  interactive: Flag.Boolean("interactive").pipe(Flag.withAlias("i"), Flag.withDescription("Attach your terminal (-it)."), Flag.withDefault(false)),
  cmd: Argument.String("cmd").pipe(Argument.withDescription("Command and arguments, after --."), Argument.variadic())
}, (f) =>
  withApp(Effect.gen(function*() {
    const r = yield* Ops.exec(f.name, f.cmd, sel(Option.none(), f.socket), { interactive: f.interactive })
    if (!f.interactive) {
      if (r.stdout !== "") yield* Effect.sync(() => process.stdout.write(r.stdout))
      if (r.stderr !== "") yield* Effect.sync(() => process.stderr.write(r.stderr))
    }
    yield* setExitCode(r.exitCode)
  }))).pipe(
  Command.withDescription("Run a command inside a container session (exit code passed through)."),
  Command.withExamples([{ command: "kstlib ops exec api -- ls -la /app", description: "List files in the container" }])
)

const sendKeys = Command.make("send-keys", {
  name,
  socket,
  keys: Argument.String("keys").pipe(Argument.withDescription("Text, or a control key (C-c, Enter, Escape, M-x, ...).")),
  noEnter: Flag.Boolean("no-enter").pipe(Flag.withDescription("Do not press Enter after the keys."), Flag.withDefault(false))
}, (f) =>
  withApp(Ops.sendKeys(f.name, f.keys, sel(Option.none(), f.socket), { enter: !f.noEnter }))).pipe(
  Command.withDescription("Type keys into a tmux session (validated: no shell chaining or redirection)."),
  Command.withExamples([
    { command: "kstlib ops send-keys repl \"print(42)\"", description: "Type a line and press Enter" },
    { command: "kstlib ops send-keys repl C-c --no-enter", description: "Send Ctrl-C" }
  ])
)

const list = Command.make("list", { backend, json }, (f) =>
  withApp(Effect.gen(function*() {
    const config = yield* KstlibConfig
    const b = Option.getOrUndefined(f.backend)
    const observation = yield* observeFor(config, { backend: b })
    for (const w of relevantWarnings(observation, config, b === "container")) yield* Console.error(`warning: ${w}`)
    const rows = listRows(observation.sessions, config, b)
    if (f.json) return yield* printJson(rows.map(statusJson))
    yield* Console.log(renderList(stdoutStyle(), rows))
  }))).pipe(
  Command.withAlias("ls"),
  Command.withDescription("List every session of every backend and tmux socket, plus config sessions not running ('defined')."),
  Command.withExamples([
    { command: "kstlib ops list", description: "Table" },
    { command: "kstlib ops list -b container --json", description: "Containers only, as JSON (warnings go to stderr)" }
  ])
)

export const sessionCommands = [start, stop, restart, attach, status, logs, exec, sendKeys, list] as const
