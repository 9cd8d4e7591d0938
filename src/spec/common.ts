/** The rows both backends share: the command, its environment, supervision and the machine. */
import type { ConfiguredSpec, ReadySpec } from "../model.js"
import {
  DEFAULT_LOG_KEEP,
  DEFAULT_LOG_MAX_SIZE,
  DEFAULT_MAX_BACKOFF,
  DEFAULT_MIN_UPTIME,
  DEFAULT_READY_INTERVAL,
  DEFAULT_READY_TIMEOUT,
  DEFAULT_RESTART_DELAY,
  DEFAULT_STOP_SIGNAL,
  DEFAULT_STOP_TIMEOUT
} from "../model.js"
import type { EnvDigest } from "./field.js"
import { field } from "./field.js"

const row = field<ConfiguredSpec>()

/** Env values as one digest per key (sorted): the fingerprint and the plan never carry a value. */
export const envDigests = (env: Readonly<Record<string, string>> | null, digest: EnvDigest) =>
  Object.fromEntries(Object.keys(env ?? {}).sort().map((k) => [k, digest.of(k, env![k]!)]))

/** The check, and `timeout`/`interval` only when not at their defaults. */
const readyFingerprint = (r: ReadySpec | null): Readonly<Record<string, string>> | null => {
  if (r === null) return null
  const check = "tcp" in r ? { tcp: String(r.tcp) } : "http" in r ? { http: r.http } : "log" in r ? { log: r.log } : { cmd: r.cmd }
  return {
    ...check,
    ...(r.timeout !== DEFAULT_READY_TIMEOUT ? { timeout: String(r.timeout) } : {}),
    ...(r.interval !== DEFAULT_READY_INTERVAL ? { interval: String(r.interval) } : {})
  }
}

const seconds = (n: number | null) => (n === null ? null : String(n))

export const command = row("command", { default: null, fingerprint: "always", updatable: true })
/** Only when true: adding the field must not change the hash of every existing session. */
export const shell = row("shell", { default: false, fingerprint: "when-set", updatable: true })
export const workingDir = row("working_dir", { default: null, fingerprint: "always", updatable: true })
export const env = row("env", { default: {}, fingerprint: "always", encode: envDigests })
export const state = row("state", { default: "running", fingerprint: "never" })

/** Supervision, each only when not at its default: sessions created before these fields keep their hash. */
export const supervision = [
  row("restart", { default: "no", fingerprint: "when-set", optional: true }),
  row("max_restarts", { default: null, fingerprint: "when-set", encode: (n) => (n === null ? null : String(n)), optional: true }),
  row("restart_delay", { default: DEFAULT_RESTART_DELAY, fingerprint: "when-set", encode: seconds, optional: true }),
  row("max_backoff", { default: DEFAULT_MAX_BACKOFF, fingerprint: "when-set", encode: seconds, optional: true }),
  row("min_uptime", { default: DEFAULT_MIN_UPTIME, fingerprint: "when-set", encode: seconds, optional: true }),
  row("stop_signal", { default: DEFAULT_STOP_SIGNAL, fingerprint: "when-set", optional: true }),
  row("stop_timeout", { default: DEFAULT_STOP_TIMEOUT, fingerprint: "when-set", encode: seconds, optional: true }),
  row("ready", { default: null, fingerprint: "when-set", encode: readyFingerprint, optional: true }),
  row("depends_on", { default: [], fingerprint: "when-set", encode: (d) => [...(d ?? [])].sort(), optional: true })
] as const

/** Enforced by `ops watch`; only when set, so every existing session keeps its hash. */
export const watched = [
  row("cron_restart", { default: null, fingerprint: "when-set", optional: true }),
  row("max_memory", { default: null, fingerprint: "when-set", encode: (n) => (n === null || n === undefined ? null : String(n)), optional: true })
] as const

/** Where the output is also written; only when set, so every existing session keeps its hash. */
export const logged = [
  row("log_file", { default: null, fingerprint: "when-set", optional: true }),
  row("log_max_size", { default: DEFAULT_LOG_MAX_SIZE, fingerprint: "when-set", encode: (n) => (n === null ? null : String(n)), optional: true }),
  row("log_keep", { default: DEFAULT_LOG_KEEP, fingerprint: "when-set", encode: (n) => (n === null ? null : String(n)), optional: true })
] as const

/** Only when remote: every local session keeps its hash; moving between machines is a replace. */
export const host = row("host", { default: null, fingerprint: "when-set", shownDefault: "local", optional: true })
