/** Which format a file is, from its name, else from its contents (null: say --format). */
import * as path from "node:path"
import * as YAML from "yaml"
import { looksLikeProcfile } from "./procfile.js"
import { type Format, isRecord } from "./report.js"

export interface Detected {
  readonly format: Format
  /** A pm2 ecosystem file in JavaScript: it runs as code (only with --allow-js). */
  readonly js: boolean
}

const byName = (file: string): Format | null => {
  const base = path.basename(file).toLowerCase()
  const dir = path.basename(path.dirname(path.resolve(file))).toLowerCase()
  if (/^(?:docker-|podman-)?compose(?:\.[\w.-]+)?\.ya?ml$/u.test(base) || /\.compose\.ya?ml$/u.test(base)) return "compose"
  if (/^procfile(?:\.[\w.-]+)?$/u.test(base) || base.endsWith(".procfile")) return "procfile"
  if (/^(?:ecosystem|process|pm2)(?:[.-][\w.-]+)?\.(?:json|ya?ml|config\.[cm]?js)$/u.test(base)) return "pm2"
  if (base === ".tmuxinator.yml" || base === ".tmuxinator.yaml" || dir === ".tmuxinator" || dir === "tmuxinator") return "tmuxinator"
  if (/^\.?tmuxp\.(?:ya?ml|json)$/u.test(base) || dir === ".tmuxp" || dir === "tmuxp") return "tmuxp"
  return null
}

const byContents = (file: string, text: string): Format | null => {
  // `name: command` lines are YAML too: a file named like YAML or JSON is read as such
  if (!/\.(?:ya?ml|json)$/iu.test(file) && looksLikeProcfile(text)) return "procfile"
  if (/<%/u.test(text) && /^(?:windows|tabs):/mu.test(text)) return "tmuxinator"
  let doc: unknown
  try {
    doc = YAML.parse(text, { maxAliasCount: 1000, stringKeys: true })
  } catch {
    return null
  }
  if (Array.isArray(doc)) return doc.every((a) => isRecord(a) && "script" in a) && doc.length > 0 ? "pm2" : null
  if (!isRecord(doc)) return null
  if (isRecord(doc["services"])) return "compose"
  if (Array.isArray(doc["apps"])) return "pm2"
  const windows = doc["windows"] ?? doc["tabs"]
  if (!Array.isArray(windows)) return null
  const tmuxpWindow = (w: unknown) => isRecord(w) && ("window_name" in w || "panes" in w || "shell_command_before" in w || "layout" in w)
  if ("session_name" in doc || windows.some(tmuxpWindow)) return "tmuxp"
  return windows.every((w) => isRecord(w) && Object.keys(w).length === 1) ? "tmuxinator" : null
}

export const detectFormat = (file: string, text: string): Detected | null => {
  const js = /\.[cm]?js$/iu.test(file)
  if (js) return { format: "pm2", js: true }
  const format = byName(file) ?? byContents(file, text)
  return format === null ? null : { format, js: false }
}
