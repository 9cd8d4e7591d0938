/**
 * Suites that ran nothing (or less than everything) and why, printed once at the end of `npm test`
 * instead of a notice lost in the middle of the run. Test files run in worker processes: each skip is
 * one JSON line appended to SKIPS_FILE; the reporter (vitest.config.ts) clears it when a run starts and
 * prints it when the run ends. Other reporters (the JSON one .ci/run reads) are untouched.
 */
import { appendFileSync, mkdirSync, readFileSync, rmSync } from "node:fs"
import { dirname, relative } from "node:path"
import { fileURLToPath } from "node:url"
import type { Reporter } from "vitest/node"

const ROOT = fileURLToPath(new URL("../..", import.meta.url))
export const SKIPS_FILE = fileURLToPath(new URL("../../.ci/work/skipped.jsonl", import.meta.url))

export interface Skip {
  readonly file: string
  readonly reason: string
}

/** Records that the test file `file` (absolute or repo-relative) skips something, and why. */
export const recordSkip = (file: string, reason: string, path = SKIPS_FILE): void => {
  mkdirSync(dirname(path), { recursive: true })
  appendFileSync(path, JSON.stringify({ file: relative(ROOT, file) || file, reason }) + "\n")
}

export const readSkips = (path = SKIPS_FILE): Array<Skip> => {
  let text = ""
  try {
    text = readFileSync(path, "utf8")
  } catch {
    return []
  }
  const seen = new Set<string>()
  return text.split("\n").filter((l) => l !== "" && !seen.has(l) && seen.add(l)).map((l) => JSON.parse(l) as Skip)
}

export const formatSkips = (skips: ReadonlyArray<Skip>): string =>
  skips.length === 0 ? "" : ["", ...skips.map((s) => `skipped: ${s.file} — ${s.reason}`)].join("\n") + "\n"

export default class SkipReporter implements Reporter {
  private readonly path: string
  private readonly write: (text: string) => void

  // vitest passes the reporter's options object (empty here); tests pass their own file and sink.
  constructor(options: { readonly path?: string; readonly write?: (text: string) => void } = {}) {
    this.path = options.path ?? SKIPS_FILE
    this.write = options.write ?? ((text) => void process.stdout.write(text))
  }

  onTestRunStart() {
    rmSync(this.path, { force: true })
  }

  onTestRunEnd() {
    this.write(formatSkips(readSkips(this.path)))
  }
}
