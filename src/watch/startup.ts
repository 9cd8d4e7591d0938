/**
 * `kstlib ops startup`: a systemd unit that runs `kstlib ops watch` for this config at boot (or
 * login), as `pm2 startup` does, written from data (pure) and installed through `systemctl`.
 *
 * The unit pins what the watch needs to find the same config and the same sessions: the same Node
 * (process.execPath) and kstlib script by absolute path, the config file and project by flag, the
 * working directory, and the environment kstlib's engines and tmux read now (PATH, DOCKER_HOST,
 * CONTAINERS_CONF, TMUX_TMPDIR: locations, never secrets). The variables the config interpolates
 * (`${VAR}`) are listed, commented, for the user to fill (their values are never written), with an
 * optional EnvironmentFile next to the unit. `KillMode=process`: stopping the unit ends the watcher
 * only; tmux servers and containers it started keep running (they live in the unit's cgroup).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { interpolate } from "../config/text.js"
import type { LoadedConfig } from "../config/types.js"

export type UnitScope = "user" | "system"

/** Variables kstlib itself, its engines and tmux read: where things are, never secrets. */
const CARRIED = ["PATH", "DOCKER_HOST", "CONTAINERS_CONF", "TMUX_TMPDIR", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "KSTLIB_CALL_TIMEOUT"] as const

export const unitName = (project: string) => `kstlib-watch-${project}.service`

/** Where the unit file goes: the user's systemd directory, or /etc/systemd/system. */
export const unitPath = (scope: UnitScope, project: string, env: Readonly<Record<string, string | undefined>>): string | null => {
  if (scope === "system") return path.join("/etc/systemd/system", unitName(project))
  const xdg = env["XDG_CONFIG_HOME"]
  const base = xdg !== undefined && path.isAbsolute(xdg) ? xdg : env["HOME"] !== undefined && env["HOME"] !== "" ? path.join(env["HOME"], ".config") : null
  return base === null ? null : path.join(base, "systemd", "user", unitName(project))
}

/** The variables `${VAR}` the config files interpolate (read line by line; a line that does not parse is skipped: the loader reports it). */
export const interpolatedVariables = (files: ReadonlyArray<string>): ReadonlyArray<string> => {
  const names = new Set<string>()
  for (const f of files) {
    let text: string
    try {
      text = fs.readFileSync(f, "utf8")
    } catch {
      continue
    }
    for (const line of text.split("\n")) {
      if (!line.includes("$") || line.trimStart().startsWith("#")) continue
      const r = interpolate(line, () => "x")
      if (r._tag === "Ok") for (const n of r.used) names.add(n)
    }
  }
  return [...names].sort()
}

/** A word for systemd's command line: quoted when it holds a space, quote, backslash or `%`/`$` (systemd expands those). */
export const systemdWord = (w: string): string =>
  /^[A-Za-z0-9_@%+=:,./-]+$/u.test(w) && !w.includes("%") ? w : `"${w.replace(/\\/gu, "\\\\").replace(/"/gu, '\\"').replace(/%/gu, "%%").replace(/\$/gu, "$$$$")}"`

export interface UnitInput {
  readonly scope: UnitScope
  readonly config: Pick<LoadedConfig, "files" | "project">
  /** The config file given with --config (null: the cascade, found again from WorkingDirectory and HOME). */
  readonly configFile: string | null
  readonly node: string
  readonly script: string
  readonly cwd: string
  readonly env: Readonly<Record<string, string | undefined>>
  /** The variables the config interpolates. */
  readonly variables: ReadonlyArray<string>
  /** `--system`: the account the watcher runs as (its tmux servers are this user's). */
  readonly user: string | null
}

/** The argv of the watch the unit runs. */
export const watchArgv = (u: Pick<UnitInput, "node" | "script" | "configFile" | "config">): ReadonlyArray<string> => [
  u.node,
  u.script,
  "ops",
  "watch",
  ...(u.configFile === null ? [] : ["--config", u.configFile]),
  "--project",
  u.config.project
]

export const renderUnit = (u: UnitInput): string => {
  const envFile = `${unitName(u.config.project).replace(/\.service$/u, "")}.env`
  const carried = CARRIED.flatMap((k) => {
    const v = u.env[k]
    return v === undefined || v === "" || /[\n"\\]/u.test(v) ? [] : [`Environment=${systemdWord(`${k}=${v}`)}`]
  })
  const variables = u.variables.filter((v) => !(CARRIED as ReadonlyArray<string>).includes(v))
  return [
    "# Written by `kstlib ops startup`; remove with `kstlib ops unstartup`.",
    `# Runs \`kstlib ops watch\` for project ${u.config.project} (${u.config.files.join(", ") || "no config file"}).`,
    "[Unit]",
    `Description=kstlib ops watch (project ${u.config.project})`,
    ...(u.scope === "system" ? ["Wants=network-online.target", "After=network-online.target"] : []),
    "",
    "[Service]",
    "Type=simple",
    ...(u.scope === "system" && u.user !== null ? [`User=${u.user}`] : []),
    `WorkingDirectory=${systemdWord(u.cwd)}`,
    `ExecStart=${watchArgv(u).map(systemdWord).join(" ")}`,
    ...carried,
    ...(variables.length === 0 ? [] : [
      "# The config interpolates these variables: set them here (Environment=NAME=value) or in the file below.",
      ...variables.map((v) => `# Environment=${v}=`)
    ]),
    // optional (`-`): the place for values the config interpolates (%h: the user's home)
    `EnvironmentFile=-${u.scope === "user" ? "%h/.config/kstlib" : "/etc/kstlib"}/${envFile}`,
    "Restart=on-failure",
    "RestartSec=2",
    // SIGTERM/SIGINT end the watch with 143/130: a stop, not a failure
    "SuccessExitStatus=130 143",
    // only the watcher is stopped: the tmux servers and containers it started keep running
    "KillMode=process",
    "TimeoutStopSec=10",
    "",
    "[Install]",
    `WantedBy=${u.scope === "user" ? "default.target" : "multi-user.target"}`,
    ""
  ].join("\n")
}

/** The crontab line that does the same where there is no systemd. */
export const cronLine = (u: Pick<UnitInput, "node" | "script" | "configFile" | "config" | "cwd">, log: string): string => {
  const q = (s: string) => `'${s.replace(/'/gu, `'\\''`)}'`
  return `@reboot cd ${q(u.cwd)} && ${watchArgv(u).map(q).join(" ")} >> ${q(log)} 2>&1`
}
