/**
 * compose-spec file → container sessions. Each service becomes one session (`backend: container`);
 * top-level `volumes`/`networks` become `ops.volumes`/`ops.networks`. `${VAR}` is kept as written:
 * kstlib interpolates with the same rules at load time. What has no kstlib field is reported.
 */
import * as YAML from "yaml"
import { argvReason, commandSyntaxReason } from "../config/command-rules.js"
import { normalizeProjectName, validateEnvEntry, validateHostMount, validateImage, validateProjectName } from "../config/rules.js"
import { at, failed, type Imported, type ImportOptions, isRecord, kindOf, Report, scalarText, type Session } from "./report.js"
import { byteSize, goDuration, Names, rebase, stopSignal } from "./values.js"
import { commandTextProblem, joinWords, wordsOf } from "./words.js"

/** The order fields are written in (the rest keep the order they were set in). */
const ORDER = [
  "backend", "image", "build", "pull", "entrypoint", "command", "shell", "working_dir", "user", "hostname", "env", "env_file",
  "ports", "volumes", "networks", "network_mode", "extra_hosts", "labels", "init", "read_only", "memory", "cpus", "pids_limit",
  "cap_add", "cap_drop", "restart", "max_restarts", "restart_delay", "min_uptime", "stop_signal", "stop_timeout", "ready",
  "depends_on", "state"
]

const ordered = (s: Session): Session => {
  const out: Session = {}
  for (const k of ORDER) if (k in s) out[k] = s[k]
  for (const [k, v] of Object.entries(s)) if (!(k in out)) out[k] = v
  return out
}

const ENGINE_ONLY = "an engine setting kstlib does not pass (it has memory, cpus and pids_limit)"
const NETWORK_ONLY = "a network setting kstlib does not pass (it has networks, network_mode, hostname and extra_hosts)"
const SECURITY_ONLY = "a security setting kstlib does not pass (it has user, cap_add, cap_drop, read_only)"
const SWARM_ONLY = "a Swarm deployment setting: a kstlib container session is one container on this engine"

/** Service keys kstlib has no field for, and why. */
const NOT_CARRIED: Readonly<Record<string, string>> = {
  annotations: "kstlib sets no OCI annotations (labels: is carried)",
  attach: "kstlib never attaches to a session's output on apply (kstlib ops logs -f does)",
  blkio_config: ENGINE_ONLY,
  cgroup: ENGINE_ONLY,
  cgroup_parent: ENGINE_ONLY,
  configs: "kstlib has no configs objects: mount the file with volumes (read-only)",
  container_name: "kstlib names the container after the session (its labels mark it as the project's)",
  cpu_count: ENGINE_ONLY,
  cpu_percent: ENGINE_ONLY,
  cpu_period: ENGINE_ONLY,
  cpu_quota: ENGINE_ONLY,
  cpu_rt_period: ENGINE_ONLY,
  cpu_rt_runtime: ENGINE_ONLY,
  cpu_shares: ENGINE_ONLY,
  cpuset: ENGINE_ONLY,
  credential_spec: "a Windows container setting",
  develop: "compose watch (develop:) has no kstlib counterpart",
  device_cgroup_rules: ENGINE_ONLY,
  devices: "kstlib passes no host devices to a container",
  dns: NETWORK_ONLY,
  dns_opt: NETWORK_ONLY,
  dns_search: NETWORK_ONLY,
  domainname: NETWORK_ONLY,
  expose: "expose only documents ports: containers on a shared network reach every port anyway",
  extends: "kstlib does not merge services from other files: write the extended keys into this service (docker compose config prints the merged file)",
  external_links: NETWORK_ONLY,
  gpus: "kstlib passes no GPUs to a container",
  group_add: SECURITY_ONLY,
  ipc: ENGINE_ONLY,
  isolation: "a Windows container setting",
  label_file: "labels are carried from labels: only",
  links: "legacy links: services on a shared network reach each other by name",
  logging: "kstlib sets no log driver: it reads logs through the engine (kstlib ops logs)",
  mac_address: NETWORK_ONLY,
  mem_reservation: ENGINE_ONLY,
  mem_swappiness: ENGINE_ONLY,
  memswap_limit: ENGINE_ONLY,
  models: "no kstlib counterpart",
  oom_kill_disable: ENGINE_ONLY,
  oom_score_adj: ENGINE_ONLY,
  pid: ENGINE_ONLY,
  platform: "kstlib pulls and runs images for this machine's platform",
  post_start: "lifecycle hooks have no kstlib counterpart",
  pre_stop: "lifecycle hooks have no kstlib counterpart",
  provider: "no kstlib counterpart",
  runtime: "the OCI runtime (runc, crun…) is not passed (kstlib's runtime: names the engine: podman, docker, swarm)",
  secrets: "kstlib has no secrets objects: mount the file with volumes (read-only) or pass values with env_file",
  security_opt: SECURITY_ONLY,
  shm_size: ENGINE_ONLY,
  stdin_open: "kstlib always runs a container with an open stdin and a TTY (so attach works)",
  storage_opt: ENGINE_ONLY,
  sysctls: ENGINE_ONLY,
  tty: "kstlib always runs a container with an open stdin and a TTY (so attach works)",
  ulimits: ENGINE_ONLY,
  use_api_socket: "it gives the container the engine's API socket (root on the host), which kstlib refuses to mount",
  userns_mode: SECURITY_ONLY,
  uts: ENGINE_ONLY,
  volumes_from: "kstlib does not share another container's volumes: name the volumes in each service"
}

/** `[IP:][HOST:]CONTAINER[/proto]` with ranges: the port forms kstlib reads. */
const PORT_FORM = /^(?:(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):)?(?:\d{1,5}(?:-\d{1,5})?:)?\d{1,5}(?:-\d{1,5})?(?:\/(?:tcp|udp))?$/u

interface Ctx {
  readonly o: ImportOptions
  readonly r: Report
  readonly names: Names
  readonly project: string
  readonly sessions: Record<string, Session>
  readonly volumes: Set<string>
}

const strings = (u: unknown): ReadonlyArray<string> | null =>
  typeof u === "string" ? [u] : Array.isArray(u) && u.every((x) => typeof x === "string") ? u : null

/** `KEY=VALUE` list or map → map; `KEY` alone / `KEY:` (taken from compose's environment) → `${KEY-}`. */
const envOf = (c: Ctx, raw: unknown, where: string, session: string): Record<string, unknown> | null => {
  const entries: Array<[string, unknown]> = []
  if (Array.isArray(raw)) {
    raw.forEach((item, i) => {
      if (typeof item !== "string") return c.r.skip(at(where, i), `an environment entry must be KEY=VALUE, got ${kindOf(item)}`, session)
      const eq = item.indexOf("=")
      entries.push(eq < 0 ? [item, null] : [item.slice(0, eq), item.slice(eq + 1)])
    })
  } else if (isRecord(raw)) {
    entries.push(...Object.entries(raw))
  } else {
    c.r.skip(where, `expected a mapping or a list of KEY=VALUE, got ${kindOf(raw)}`, session)
    return null
  }
  const env: Record<string, unknown> = {}
  for (const [key, value] of entries) {
    const w = at(where, key)
    if (value === null || value === undefined) {
      env[key] = `\${${key}-}`
      c.r.note(w, `no value: compose passes ${key} from its own environment when set; written \${${key}-} (kstlib reads it at load time, empty when unset)`, session)
      continue
    }
    const text = scalarText(value)
    if (text === null) {
      c.r.skip(w, `an environment value must be a string, number or boolean, got ${kindOf(value)}`, session)
      continue
    }
    // dotted keys are allowed for containers; every other rule applies (the value is never named)
    const reason = validateEnvEntry(key.replace(/\./gu, "_"), text.includes("$") ? "" : text)
    if (reason !== null) c.r.skip(w, reason, session)
    else env[key] = value
  }
  return env
}

/** Whether a volume's source is a host path (a bind mount) rather than a volume name. */
const hostPathOf = (source: string): boolean =>
  source.startsWith("/") || source.startsWith(".") || source.startsWith("~") || source.includes("/")

/** `SOURCE:TARGET` for kstlib (the host side rewritten for the config's directory), or why not. */
const bindOrVolume = (c: Ctx, source: string, target: string, readOnly: boolean, where: string, session: string): string | null => {
  let src = source
  if (hostPathOf(source)) {
    const moved = rebase(source, c.o, true)
    src = moved.path
    if (moved.absolute) c.r.note(where, `host path written as ${src} (kstlib refuses '..' in volumes)`, session)
    if (src.startsWith("/")) {
      const refused = validateHostMount(src.replace(/\/+$/u, "") || "/", source)
      if (refused !== null) {
        c.r.skip(where, `${refused.replace(/; set unsafe_mounts: true to allow it$/u, "")}: kstlib refuses it unless the session sets unsafe_mounts: true, an opt-in an import never makes for you`, session)
        return null
      }
    }
  } else if (!source.includes("$")) {
    c.volumes.add(source)
  }
  return `${src}:${target}${readOnly ? ":ro" : ""}`
}

/** An anonymous volume (a target only): kstlib mounts need a source, so it gets a name of its own. */
const anonymous = (c: Ctx, target: string, where: string, session: string, readOnly = false): string => {
  const base = `${session}-${target.replace(/[^A-Za-z0-9_.-]+/gu, "-").replace(/^-+|-+$/gu, "") || "data"}`
  let name = base
  for (let i = 2; c.volumes.has(name); i++) name = `${base}-${i}`
  c.volumes.add(name)
  c.r.note(where, `an anonymous volume: written as the named volume ${name} (compose keeps an anonymous volume across recreations too; kstlib ops down --volumes removes it)`, session)
  return `${name}:${target}${readOnly ? ":ro" : ""}`
}

const volumeOf = (c: Ctx, raw: unknown, where: string, session: string): unknown => {
  if (typeof raw === "string") {
    const parts = raw.split(":")
    if (parts.length === 1) return anonymous(c, raw, where, session)
    if (parts.length > 3) {
      c.r.skip(where, "expected SOURCE:TARGET[:MODE]", session)
      return null
    }
    const modes = (parts[2] ?? "").split(",").filter((m) => m !== "")
    const other = modes.filter((m) => m !== "ro" && m !== "rw")
    if (other.length > 0) c.r.skip(at(where, "mode"), `${other.join(",")}: kstlib's volumes take :ro or :rw only (SELinux relabelling and consistency flags are not passed)`, session)
    return bindOrVolume(c, parts[0]!, parts[1]!, modes.includes("ro"), where, session)
  }
  if (!isRecord(raw)) {
    c.r.skip(where, `expected a string or a mapping, got ${kindOf(raw)}`, session)
    return null
  }
  const type = raw["type"] ?? "volume"
  for (const key of Object.keys(raw)) {
    if (!["type", "source", "target", "read_only", "tmpfs"].includes(key)) {
      c.r.skip(at(where, key), key === "bind" || key === "volume" ? `${key} options (propagation, SELinux, nocopy, subpath…) are not passed` : "not a volume key kstlib reads", session)
    }
  }
  const target = raw["target"]
  if (typeof target !== "string") {
    c.r.skip(where, "a volume needs a target", session)
    return null
  }
  if (type === "tmpfs") {
    if (raw["tmpfs"] !== undefined) c.r.skip(at(where, "tmpfs"), "tmpfs size and mode are not passed", session)
    return { type: "tmpfs", target }
  }
  if (type !== "bind" && type !== "volume") {
    c.r.skip(where, `type ${String(type)}: kstlib mounts bind, volume and tmpfs only`, session)
    return null
  }
  const source = raw["source"]
  if (typeof source !== "string" || source === "") return anonymous(c, target, where, session, raw["read_only"] === true)
  const path = type === "bind" && !hostPathOf(source) ? `./${source}` : source
  return bindOrVolume(c, path, target, raw["read_only"] === true, where, session)
}

const portOf = (c: Ctx, raw: unknown, where: string, session: string): unknown => {
  if (typeof raw === "number") return raw
  if (typeof raw === "string") {
    if (raw.includes("$") || PORT_FORM.test(raw)) return raw
    c.r.skip(where, "not a port form kstlib reads ([IP:][HOST:]CONTAINER[/tcp|udp], ranges allowed)", session)
    return null
  }
  if (!isRecord(raw)) {
    c.r.skip(where, `expected a string, a number or a mapping, got ${kindOf(raw)}`, session)
    return null
  }
  for (const key of Object.keys(raw)) {
    if (key === "mode") c.r.skip(at(where, key), "a Swarm routing setting: kstlib publishes on this host", session)
    else if (!["target", "published", "host_ip", "protocol"].includes(key)) c.r.skip(at(where, key), "not a port key kstlib reads", session)
  }
  const text = `${raw["host_ip"] === undefined ? "" : `${String(raw["host_ip"])}:`}${raw["published"] === undefined ? "" : `${String(raw["published"])}:`}${String(raw["target"])}${
    raw["protocol"] === undefined ? "" : `/${String(raw["protocol"])}`
  }`
  return portOf(c, text, where, session)
}

const isShellC = (words: ReadonlyArray<string>): boolean => words.length === 3 && (words[0] === "sh" || words[0] === "/bin/sh") && words[1] === "-c"

/** Shell syntax a compose string holds for the shell (`$$` is a `$` compose leaves for run time). */
const composeNeedsShell = (code: string): boolean => commandSyntaxReason(code) !== null || /[*?[~#]/u.test(code) || code.includes("$$")

/** command / entrypoint: a string stays a string unless it needs a shell; a list stays a list; `sh -c CODE` becomes CODE with shell: true. */
const commandOf = (c: Ctx, key: "command" | "entrypoint", raw: unknown, s: Session, hasEntrypoint: boolean, where: string, session: string) => {
  const list = Array.isArray(raw) ? strings(raw) : null
  if (typeof raw !== "string" && list === null) return c.r.skip(where, `expected a string or a list of strings, got ${kindOf(raw)}`, session)
  if (list !== null && list.length === 0) return c.r.skip(where, `an empty ${key} (reset the image's) is not expressed by kstlib: leave it out to keep the image's`, session)
  const text = typeof raw === "string" ? raw : joinWords(list!)
  const problem = commandTextProblem(text)
  if (problem !== null) return c.r.skip(where, problem, session)
  if (key === "entrypoint") return void (s["entrypoint"] = raw)
  const words = list ?? wordsOf(text)
  if (words === null) return c.r.skip(where, "unbalanced quotes: the command cannot be split into words", session)
  if (!hasEntrypoint && isShellC(words)) {
    s["command"] = words[2]
    s["shell"] = true
    return c.r.note(where, "sh -c CODE: written as command: CODE with shell: true (the same sh -c)", session)
  }
  if (typeof raw === "string" && !composeNeedsShell(raw) && argvReason(words) === null) return void (s["command"] = raw)
  if (list !== null && argvReason(list) === null) return void (s["command"] = list)
  if (hasEntrypoint) {
    s["command"] = [...words]
    return c.r.note(where, "written as its list of words (arguments to the entrypoint): kstlib runs shell syntax only with shell: true", session)
  }
  s["command"] = text
  s["shell"] = true
  c.r.note(where, typeof raw === "string"
    ? "it holds shell syntax, which compose gives to no shell: written with shell: true (sh -c) as it was surely meant; quote the operator and drop shell: true if it is an argument"
    : "kstlib runs these words only through a shell (a shell given code, eval…): written as one line with shell: true, the same argv under sh -c", session)
}

/** healthcheck → ready: the test as ready.cmd; compose's wait until "unhealthy" as ready.timeout. */
const readyOf = (c: Ctx, raw: unknown, s: Session, where: string, session: string) => {
  if (!isRecord(raw)) return c.r.skip(where, `expected a mapping, got ${kindOf(raw)}`, session)
  const test = raw["test"]
  if (raw["disable"] === true || (Array.isArray(test) && test[0] === "NONE")) {
    return c.r.note(where, "disabled: kstlib never runs an image's own HEALTHCHECK, so there is nothing to turn off", session)
  }
  for (const key of Object.keys(raw)) {
    if (key === "start_interval") c.r.skip(at(where, key), "kstlib probes at one interval", session)
    else if (!["test", "interval", "timeout", "retries", "start_period", "disable"].includes(key)) c.r.skip(at(where, key), "not a healthcheck key", session)
  }
  let code: string | null = null
  let words: ReadonlyArray<string> | null = null
  if (typeof test === "string") code = test
  else if (Array.isArray(test) && test[0] === "CMD-SHELL" && strings(test.slice(1)) !== null) code = test.slice(1).join(" ")
  else if (Array.isArray(test) && test[0] === "CMD" && test.length > 1 && strings(test.slice(1)) !== null) words = test.slice(1) as Array<string>
  else return c.r.skip(at(where, "test"), "expected a string, [CMD, …], [CMD-SHELL, …] or [NONE]", session)
  if (words !== null && isShellC(words)) code = words[2]!
  let cmd: string
  if (code === null) {
    if (argvReason(words!) === null) cmd = joinWords(words!)
    else code = joinWords(words!)
  }
  if (code !== null) {
    // `|| exit 1` only maps any failure to 1: for kstlib any non-zero exit is "not ready"
    const bare = code.replace(/\s*\|\|\s*exit\s+1\s*$/u, "")
    if (!composeNeedsShell(bare) && wordsOf(bare) !== null && argvReason(wordsOf(bare)!) === null) {
      cmd = bare
      if (bare !== code) c.r.note(at(where, "test"), "'|| exit 1' dropped: for kstlib every non-zero exit means not ready", session)
    } else if (s["shell"] === true || (s["command"] === undefined && s["entrypoint"] === undefined)) {
      cmd = code
      if (s["shell"] !== true) c.r.note(at(where, "test"), "it needs a shell: the session gets shell: true, which ready.cmd follows (the session has no command of its own, so nothing else changes)", session)
      s["shell"] = true
    } else {
      return c.r.skip(at(where, "test"), "it needs a shell, and ready.cmd runs through one only with the session's shell: true, which would change how its command runs; write the test without shell syntax", session)
    }
  }
  const problem = commandTextProblem(cmd!)
  if (problem !== null) return c.r.skip(at(where, "test"), problem, session)
  const seconds = (key: string, fallback: number): number | null => {
    if (raw[key] === undefined) return fallback
    const d = goDuration(raw[key])
    if (d === null) c.r.skip(at(where, key), "not a duration kstlib can read (like 30s, 1m30s)", session)
    return d ?? fallback
  }
  const interval = seconds("interval", 30)!
  const timeout = seconds("timeout", 30)!
  const startPeriod = seconds("start_period", 0)!
  const retries = typeof raw["retries"] === "number" && Number.isInteger(raw["retries"]) ? raw["retries"] : 3
  if (raw["retries"] !== undefined && retries !== raw["retries"]) c.r.skip(at(where, "retries"), "not a whole number", session)
  const ready: Record<string, unknown> = { cmd: cmd! }
  const probeEvery = Math.min(Math.max(interval, 0.1), 300)
  if (raw["interval"] !== undefined) ready["interval"] = probeEvery
  const total = Math.min(3600, Math.max(probeEvery, Math.ceil(startPeriod + retries * (interval + timeout))))
  ready["timeout"] = total
  c.r.note(where, `ready.timeout ${total} s = start_period + retries × (interval + timeout), when compose would call it unhealthy (kstlib's timeout is the whole wait; compose's is one probe's)`, session)
  s["ready"] = ready
}

const restartOf = (c: Ctx, raw: unknown, s: Session, where: string, session: string) => {
  const m = typeof raw === "string" ? /^(no|always|unless-stopped|on-failure)(?::(\d+))?$/u.exec(raw) : null
  if (m === null || (m[2] !== undefined && m[1] !== "on-failure")) return c.r.skip(where, "expected no, always, unless-stopped or on-failure[:N]", session)
  s["restart"] = m[1]
  if (m[2] !== undefined) s["max_restarts"] = Number(m[2])
}

const deployOf = (c: Ctx, raw: unknown, s: Session, body: Record<string, unknown>, where: string, session: string) => {
  if (!isRecord(raw)) return c.r.skip(where, `expected a mapping, got ${kindOf(raw)}`, session)
  for (const [key, value] of Object.entries(raw)) {
    const w = at(where, key)
    if (key === "replicas") {
      if (value === 1) continue
      if (value === 0) {
        s["state"] = "stopped"
        c.r.note(w, "0 replicas: written as state: stopped", session)
      } else c.r.skip(w, "a kstlib container session is one container (replicas is a runtime: swarm setting)", session)
    } else if (key === "mode") {
      if (value !== "replicated") c.r.skip(w, SWARM_ONLY, session)
    } else if (key === "resources" && isRecord(value)) {
      for (const [part, limits] of Object.entries(value)) {
        const pw = at(w, part)
        if (part !== "limits" || !isRecord(limits)) {
          c.r.skip(pw, part === "reservations" ? "kstlib sets limits, not reservations" : "not a resources key", session)
          continue
        }
        for (const [lk, lv] of Object.entries(limits)) {
          const lw = at(pw, lk)
          if (lk === "memory") {
            if (body["mem_limit"] !== undefined) c.r.skip(lw, "mem_limit is used (compose refuses the two when they differ)", session)
            else memoryOf(c, lv, s, lw, session)
          } else if (lk === "cpus") {
            if (body["cpus"] !== undefined) c.r.skip(lw, "the service's cpus is used", session)
            else cpusOf(c, lv, s, lw, session)
          } else if (lk === "pids") {
            if (body["pids_limit"] !== undefined) c.r.skip(lw, "the service's pids_limit is used", session)
            else intOf(c, lv, s, "pids_limit", lw, session)
          } else c.r.skip(lw, "kstlib limits memory, cpus and pids only", session)
        }
      }
    } else if (key === "restart_policy" && isRecord(value)) {
      if (body["restart"] !== undefined) {
        c.r.skip(w, "the service's restart: is used", session)
        continue
      }
      restartPolicyOf(c, value, s, w, session)
    } else c.r.skip(w, SWARM_ONLY, session)
  }
}

/** deploy.restart_policy → restart, max_restarts, restart_delay, min_uptime. */
const restartPolicyOf = (c: Ctx, p: Record<string, unknown>, s: Session, where: string, session: string) => {
  const condition = p["condition"] ?? "any"
  const restart = condition === "any" ? "always" : condition === "on-failure" ? "on-failure" : condition === "none" ? "no" : null
  if (restart === null) return c.r.skip(at(where, "condition"), "expected none, on-failure or any", session)
  s["restart"] = restart
  for (const [key, value] of Object.entries(p)) {
    const w = at(where, key)
    if (key === "condition") continue
    if (key === "max_attempts") {
      if (restart === "always") c.r.skip(w, "a container's restart: always has no limit in the engine (use condition: on-failure)", session)
      else intOf(c, value, s, "max_restarts", w, session)
    } else if (key === "delay" || key === "window") {
      const d = goDuration(value)
      if (d === null) c.r.skip(w, "not a duration kstlib can read (like 5s)", session)
      else s[key === "delay" ? "restart_delay" : "min_uptime"] = d
    } else c.r.skip(w, "not a restart_policy key", session)
  }
}

const memoryOf = (c: Ctx, raw: unknown, s: Session, where: string, session: string) => {
  const size = byteSize(raw)
  if (size === null) c.r.skip(where, "not a size kstlib can read (like 512m, 1g)", session)
  else s["memory"] = size
}

const cpusOf = (c: Ctx, raw: unknown, s: Session, where: string, session: string) => {
  const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\d+(?:\.\d+)?$/u.test(raw) ? Number(raw) : null
  if (n === null || n <= 0) c.r.skip(where, "not a number of CPUs", session)
  else s["cpus"] = n
}

const intOf = (c: Ctx, raw: unknown, s: Session, field: string, where: string, session: string) => {
  if (typeof raw === "number" && Number.isInteger(raw) && raw >= 0) s[field] = raw
  else c.r.skip(where, "not a whole number", session)
}

const boolOf = (c: Ctx, raw: unknown, s: Session, field: string, where: string, session: string) => {
  if (typeof raw === "boolean") s[field] = raw
  else c.r.skip(where, `expected true or false, got ${kindOf(raw)}`, session)
}

const stringList = (c: Ctx, raw: unknown, s: Session, field: string, where: string, session: string) => {
  const list = strings(raw)
  if (list === null || typeof raw === "string") c.r.skip(where, "expected a list of strings", session)
  else s[field] = list
}

const labelsOf = (c: Ctx, raw: unknown, s: Session, where: string, session: string) => {
  const entries: Array<[string, unknown]> = Array.isArray(raw)
    ? raw.map((x): [string, unknown] => {
      const t = String(x)
      const eq = t.indexOf("=")
      return eq < 0 ? [t, ""] : [t.slice(0, eq), t.slice(eq + 1)]
    })
    : isRecord(raw)
    ? Object.entries(raw)
    : []
  if (!Array.isArray(raw) && !isRecord(raw)) return c.r.skip(where, `expected a mapping or a list, got ${kindOf(raw)}`, session)
  const labels: Record<string, string> = {}
  for (const [k, v] of entries) {
    if (k.startsWith("io.kstlib.")) c.r.skip(at(where, k), "io.kstlib.* labels are kstlib's own ownership marks", session)
    else labels[k] = scalarText(v) ?? ""
  }
  if (Object.keys(labels).length > 0) s["labels"] = labels
}

const extraHostsOf = (c: Ctx, raw: unknown, s: Session, where: string, session: string) => {
  const pairs: Array<[string, string]> = Array.isArray(raw)
    ? raw.flatMap((x): Array<[string, string]> => {
      const m = typeof x === "string" ? /^([^:=\s]+)[:=](.+)$/u.exec(x) : null
      return m === null ? [] : [[m[1]!, m[2]!]]
    })
    : isRecord(raw)
    ? Object.entries(raw).map(([h, ip]): [string, string] => [h, String(ip)])
    : []
  if ((Array.isArray(raw) && pairs.length !== raw.length) || (!Array.isArray(raw) && !isRecord(raw))) {
    c.r.skip(where, "expected a list of host:ip (or a mapping host: ip)", session)
  }
  if (pairs.length > 0) s["extra_hosts"] = pairs.map(([h, ip]) => `${h}:${ip}`)
}

const networksOf = (c: Ctx, raw: unknown, s: Session, where: string, session: string) => {
  if (Array.isArray(raw)) {
    const names = strings(raw)
    if (names === null) return c.r.skip(where, "expected a list of network names", session)
    s["networks"] = names
    return
  }
  if (!isRecord(raw)) return c.r.skip(where, `expected a list or a mapping, got ${kindOf(raw)}`, session)
  s["networks"] = Object.keys(raw)
  for (const [net, opts] of Object.entries(raw)) {
    if (isRecord(opts)) for (const key of Object.keys(opts)) c.r.skip(at(at(where, net), key), NETWORK_ONLY, session)
  }
}

const buildOf = (c: Ctx, raw: unknown, s: Session, where: string, session: string) => {
  const b = typeof raw === "string" ? { context: raw } : raw
  if (!isRecord(b)) return c.r.skip(where, `expected a path or a mapping, got ${kindOf(raw)}`, session)
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(b)) {
    const w = at(where, key)
    if (key === "context" && typeof value === "string") out["context"] = rebase(value, c.o).path
    else if ((key === "dockerfile" || key === "target") && typeof value === "string") out[key] = value
    else if (key === "args") {
      const args = envOf(c, value, w, session)
      if (args !== null) out["args"] = args
    } else c.r.skip(w, "kstlib builds with context, dockerfile, target and args only", session)
  }
  out["context"] ??= "."
  s["build"] = out
}

const pullOf = (c: Ctx, raw: unknown, s: Session, where: string, session: string) => {
  const pull = raw === "always" || raw === "never" || raw === "missing" ? raw : raw === "if_not_present" ? "missing" : null
  if (pull !== null) s["pull"] = pull
  else c.r.skip(where, "kstlib pulls missing, always or never (no schedule, and build: decides building)", session)
}

const service = (c: Ctx, source: string, body: Record<string, unknown>) => {
  const session = c.names.of(source)!
  const w = at("services", source)
  const skip = (key: string, why: string) => c.r.skip(at(w, key), why, session)
  const s: Session = { backend: "container" }
  const hasEntrypoint = body["entrypoint"] !== undefined && body["entrypoint"] !== null
  for (const [key, value] of Object.entries(body)) {
    const kw = at(w, key)
    switch (key) {
      case "image":
        if (typeof value !== "string") skip(key, `expected a string, got ${kindOf(value)}`)
        else if (!value.includes("$") && validateImage(value) !== null) skip(key, validateImage(value)!)
        else s["image"] = value
        break
      case "build":
        buildOf(c, value, s, kw, session)
        break
      case "command":
      case "entrypoint":
        if (value !== null) commandOf(c, key, value, s, hasEntrypoint, kw, session)
        break
      case "environment": {
        const env = envOf(c, value, kw, session)
        if (env !== null && Object.keys(env).length > 0) s["env"] = env
        break
      }
      case "env_file": {
        const items = Array.isArray(value) ? value : [value]
        const files: Array<string> = []
        items.forEach((item, i) => {
          const iw = Array.isArray(value) ? at(kw, i) : kw
          const file = typeof item === "string" ? item : isRecord(item) && typeof item["path"] === "string" ? item["path"] : null
          if (file === null) return c.r.skip(iw, "expected a path", session)
          if (isRecord(item) && item["required"] === false) c.r.skip(at(iw, "required"), "kstlib needs every env_file to exist", session)
          if (isRecord(item) && item["format"] !== undefined) c.r.skip(at(iw, "format"), "kstlib reads KEY=VALUE files only", session)
          files.push(rebase(file, c.o).path)
        })
        if (files.length > 0) s["env_file"] = files.length === 1 ? files[0] : files
        break
      }
      case "ports":
      case "volumes": {
        if (!Array.isArray(value)) {
          skip(key, `expected a list, got ${kindOf(value)}`)
          break
        }
        const list = value.map((item, i) => (key === "ports" ? portOf : volumeOf)(c, item, at(kw, i), session)).filter((x) => x !== null)
        if (list.length > 0) s[key] = [...((s[key] as Array<unknown> | undefined) ?? []), ...list]
        break
      }
      case "tmpfs": {
        const targets = strings(value)
        if (targets === null) {
          skip(key, "expected a path or a list of paths")
          break
        }
        const mounts = targets.map((t, i) => {
          const [target, opts] = t.split(/:(.*)/su) as [string, string | undefined]
          if (opts !== undefined) c.r.skip(at(kw, i), "tmpfs options (size, mode) are not passed", session)
          return { type: "tmpfs", target }
        })
        s["volumes"] = [...((s["volumes"] as Array<unknown> | undefined) ?? []), ...mounts]
        break
      }
      case "working_dir":
        if (typeof value !== "string") skip(key, `expected a path, got ${kindOf(value)}`)
        else if (!value.startsWith("/") && !value.includes("$")) skip(key, "must be an absolute path inside the container")
        else s["working_dir"] = value
        break
      case "user":
      case "hostname":
        if (scalarText(value) === null) skip(key, `expected a string, got ${kindOf(value)}`)
        else s[key] = scalarText(value)
        break
      case "labels":
        labelsOf(c, value, s, kw, session)
        break
      case "extra_hosts":
        extraHostsOf(c, value, s, kw, session)
        break
      case "init":
      case "read_only":
        boolOf(c, value, s, key, kw, session)
        break
      case "privileged":
        if (value === true) skip(key, "kstlib runs a privileged container only with unsafe_mounts: true next to it, an opt-in an import never makes for you: add both if you trust this image")
        else if (value !== false) skip(key, `expected true or false, got ${kindOf(value)}`)
        break
      case "mem_limit":
        memoryOf(c, value, s, kw, session)
        break
      case "cpus":
        cpusOf(c, value, s, kw, session)
        break
      case "pids_limit":
        intOf(c, value, s, "pids_limit", kw, session)
        break
      case "cap_add":
      case "cap_drop":
        stringList(c, value, s, key, kw, session)
        break
      case "restart":
        restartOf(c, value, s, kw, session)
        break
      case "healthcheck":
      case "depends_on":
        break // after the command (healthcheck) and after every service is named (depends_on)
      case "networks":
        networksOf(c, value, s, kw, session)
        break
      case "network_mode":
        if (value === "host" || value === "none") s["network_mode"] = value
        else if (value === "bridge") c.r.note(kw, "left out: every kstlib container session is on its project's network, where the others reach it by name", session)
        else skip(key, "kstlib's network_mode is host or none, or left out for the project's network (sharing another container's network is not carried)")
        break
      case "pull_policy":
        pullOf(c, value, s, kw, session)
        break
      case "stop_signal": {
        const signal = stopSignal(value)
        if (signal === null) skip(key, "kstlib stops with INT, TERM, HUP, QUIT, USR1, USR2 or KILL")
        else s["stop_signal"] = signal
        break
      }
      case "stop_grace_period": {
        const d = goDuration(value)
        if (d === null) skip(key, "not a duration kstlib can read (like 10s, 1m30s)")
        else s["stop_timeout"] = d
        break
      }
      case "deploy":
        deployOf(c, value, s, body, kw, session)
        break
      case "scale":
        if (value === 0) {
          s["state"] = "stopped"
          c.r.note(kw, "scale 0: written as state: stopped", session)
        } else if (value !== 1) skip(key, "a kstlib container session is one container")
        break
      case "profiles":
        s["state"] = "stopped"
        skip(key, "kstlib has no profiles: the session is written with state: stopped, as compose leaves it without --profile (set state: running to start it)")
        break
      default:
        skip(key, key.startsWith("x-") ? "an extension field: compose ignores it, and so does kstlib" : NOT_CARRIED[key] ?? "not a compose service key kstlib knows")
    }
  }
  if (s["image"] === undefined && s["build"] !== undefined) {
    const image = `${c.project}-${source}`.toLowerCase().replace(/[^a-z0-9._-]+/gu, "-")
    s["image"] = image
    c.r.note(at(w, "build"), `no image: named ${image}, as compose names the image it builds`, session)
  }
  if (s["image"] === undefined) {
    c.r.skip(w, "a service needs image: or build:, so no session is written for it", session)
    return
  }
  if (body["healthcheck"] !== undefined) readyOf(c, body["healthcheck"], s, at(w, "healthcheck"), session)
  c.sessions[session] = s
}

/** depends_on, once every service has its session name and its ready check. */
const dependsOn = (c: Ctx, source: string, raw: unknown) => {
  const session = c.names.of(source)!
  const s = c.sessions[session]
  if (s === undefined) return
  const w = at(at("services", source), "depends_on")
  const entries: Array<[string, unknown]> = Array.isArray(raw) ? raw.map((d): [string, unknown] => [String(d), null]) : isRecord(raw) ? Object.entries(raw) : []
  if (!Array.isArray(raw) && !isRecord(raw)) return c.r.skip(w, `expected a list or a mapping, got ${kindOf(raw)}`, session)
  const deps: Array<string> = []
  for (const [dep, opts] of entries) {
    const dw = at(w, dep)
    const target = c.names.of(dep)
    if (target === undefined || c.sessions[target] === undefined) {
      c.r.skip(dw, "not a service written to this config", session)
      continue
    }
    const o = isRecord(opts) ? opts : {}
    for (const key of Object.keys(o)) {
      if (key === "restart" && o[key] === true) c.r.skip(at(dw, key), "kstlib does not restart dependents when a dependency restarts", session)
      else if (key === "required" && o[key] === false) c.r.skip(at(dw, key), "kstlib needs every dependency to be in the config (it is here)", session)
      else if (!["condition", "restart", "required"].includes(key)) c.r.skip(at(dw, key), "not a depends_on key", session)
    }
    const condition = o["condition"] ?? "service_started"
    if (condition === "service_completed_successfully") {
      c.r.skip(at(dw, "condition"), "kstlib starts a session once its dependencies run (and are ready); it has no 'ran to completion' condition, so the order is not kept", session)
      continue
    }
    if (condition === "service_healthy") {
      c.r.note(at(dw, "condition"), c.sessions[target]!["ready"] !== undefined
        ? `service_healthy: ${session} starts once ${target} runs and its ready check (its healthcheck) passes`
        : `service_healthy: ${target} has no ready check here, so ${session} starts once ${target} runs`, session)
    } else if (condition !== "service_started") {
      c.r.skip(at(dw, "condition"), "expected service_started, service_healthy or service_completed_successfully", session)
    }
    deps.push(target)
  }
  if (deps.length > 0) c.sessions[session] = { ...s, depends_on: deps }
}

const topLevel = (c: Ctx, key: "volumes" | "networks", raw: unknown): Record<string, Record<string, unknown>> => {
  const out: Record<string, Record<string, unknown>> = {}
  if (!isRecord(raw)) {
    c.r.skip(key, `expected a mapping, got ${kindOf(raw)}`)
    return out
  }
  for (const [name, opts] of Object.entries(raw)) {
    const entry: Record<string, unknown> = {}
    if (isRecord(opts)) {
      for (const [k, v] of Object.entries(opts)) {
        if (key === "networks" && k === "internal" && typeof v === "boolean") entry["internal"] = v
        else {
          c.r.skip(at(at(key, name), k), k === "external"
            ? `kstlib creates and owns the ${key} it declares (named for the project); an existing one is not used`
            : k === "name"
            ? `kstlib names its ${key} for the project`
            : `kstlib creates ${key} with the engine's defaults${key === "networks" ? " (internal: is carried)" : ""}`)
        }
      }
    }
    out[name] = entry
  }
  return out
}

/** `$VAR` / `${VAR}` somewhere (`$$` is a literal `$`, not a variable). */
const usesVariables = (text: string): boolean => /(?<!\$)(?:\$\$)*\$(?:\{|[A-Za-z_])/u.test(text)

export const importCompose = (text: string, o: ImportOptions): Imported => {
  let doc: unknown
  try {
    doc = YAML.parse(text, { merge: true, maxAliasCount: 1000, stringKeys: true })
  } catch (e) {
    return failed(o, `not valid YAML: ${String((e as Error).message).split("\n")[0]}`)
  }
  if (!isRecord(doc) || !isRecord(doc["services"])) return failed(o, "not a compose file: no services: mapping")
  const r = new Report()
  const named = typeof doc["name"] === "string" && !doc["name"].includes("$") && validateProjectName(doc["name"]) === null ? doc["name"] : null
  const project = named ?? normalizeProjectName(o.sourceDir.split("/").pop() ?? "")
  const c: Ctx = { o, r, names: new Names(Object.keys(doc["services"])), project, sessions: {}, volumes: new Set() }
  const ops: { project?: string; networks?: Record<string, Record<string, unknown>>; volumes?: Record<string, Record<string, unknown>>; sessions: Record<string, Session> } = {
    sessions: c.sessions
  }
  if (named !== null) ops.project = named
  for (const [key, value] of Object.entries(doc)) {
    if (key === "services") continue
    if (key === "name") {
      if (named === null) r.skip(key, "not a project name kstlib accepts (letters, digits, _ and -, starting with a letter or digit; no variables)")
    } else if (key === "version") r.skip(key, "obsolete in the compose spec: compose ignores it too")
    else if (key === "volumes" || key === "networks") ops[key] = topLevel(c, key, value)
    else if (key === "configs" || key === "secrets") r.skip(key, NOT_CARRIED[key]!)
    else if (key === "include") r.skip(key, "kstlib does not read other compose files: import each one, or the merged file (docker compose config)")
    else r.skip(at("", key), key.startsWith("x-") ? "an extension field: compose ignores it, and so does kstlib" : "not a compose top-level key kstlib knows")
  }
  const services = doc["services"]
  for (const source of Object.keys(services)) {
    const { name, renamed } = c.names.take(source)
    if (renamed) r.note(at("services", source), `session named ${name} (kstlib's names: a letter, then letters, digits, _ or -)`, name)
  }
  for (const [source, body] of Object.entries(services)) {
    if (isRecord(body)) service(c, source, body)
    else r.skip(at("services", source), `a service must be a mapping, got ${kindOf(body)}`)
  }
  for (const [source, body] of Object.entries(services)) {
    if (isRecord(body) && body["depends_on"] !== undefined) dependsOn(c, source, body["depends_on"])
  }
  for (const [name, s] of Object.entries(c.sessions)) c.sessions[name] = ordered(s)
  // named volumes must be declared for kstlib too (compose refuses undeclared ones; kstlib keeps them on down)
  const declared = ops.volumes ?? {}
  for (const v of c.volumes) if (!(v in declared)) r.note("volumes", `${v} is used but not declared: declared in ops.volumes`)
  for (const v of c.volumes) declared[v] ??= {}
  if (Object.keys(declared).length > 0) ops.volumes = declared
  if (usesVariables(text)) {
    r.note("", o.sourceDir === o.outputDir
      ? "${VAR} kept as written: kstlib interpolates it the same way at load time (the environment, then a .env file next to the config)"
      : "${VAR} kept as written: kstlib interpolates it at load time from the environment, then from a .env file next to the kstlib config (compose reads the one next to the compose file)")
  }
  const { sessions, ...settings } = ops
  return r.done({ ops: { ...(settings.project === undefined ? {} : { project: settings.project }), ...(settings.networks === undefined ? {} : { networks: settings.networks }), ...(settings.volumes === undefined ? {} : { volumes: settings.volumes }), sessions } })
}
