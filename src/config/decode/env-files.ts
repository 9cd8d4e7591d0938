/** `env_file:` — dotenv files read and each variable checked with the `env` rules, problems located by file and line. */
import * as fs from "node:fs"
import { validateEnvEntry } from "../rules.js"
import { decodeUtf8, parseDotenv } from "../text.js"

export const MAX_ENV_FILE_SIZE = 1024 * 1024

/**
 * A dotenv file → variables, or the problems found, each naming the file and line (and the key,
 * never the value). Each variable passes the same rules as `env`.
 */
export const readEnvFile = (file: string): { readonly env: Record<string, string>; readonly problems: ReadonlyArray<string> } => {
  const fail = (reason: string) => ({ env: {}, problems: [reason] })
  let bytes: Buffer
  try {
    const st = fs.statSync(file)
    if (!st.isFile()) return fail(`env file is not a regular file: ${file}`)
    if (st.size > MAX_ENV_FILE_SIZE) return fail(`env file too large (max ${MAX_ENV_FILE_SIZE} bytes): ${file}`)
    bytes = fs.readFileSync(file)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    return fail(code === "ENOENT" ? `env file not found: ${file}` : `cannot read env file ${file}: ${code ?? "error"}`)
  }
  const decoded = decodeUtf8(bytes)
  if (!("text" in decoded)) return fail(`${file}${decoded.line === null ? "" : `:${decoded.line}`}: ${decoded.reason}`)
  const parsed = parseDotenv(decoded.text)
  const problems = parsed.problems.map((p) => `${file}:${p.line}: ${p.reason}`)
  const env: Record<string, string> = {}
  for (const e of parsed.entries) {
    const reason = validateEnvEntry(e.key, e.value)
    if (reason !== null) problems.push(`${file}:${e.line}: ${reason}`)
    else env[e.key] = e.value
  }
  return { env, problems }
}
