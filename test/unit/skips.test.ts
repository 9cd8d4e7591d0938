/** The end-of-run list of skipped suites: recorded by test files (workers), printed by the reporter. */
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import SkipReporter, { recordSkip } from "../support/skips.js"

const dir = mkdtempSync(join(tmpdir(), "kt-skips-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("skip reporter", () => {
  it("clears old skips at the start, prints each recorded one (repo-relative, once) at the end", () => {
    const path = join(dir, "work", "skipped.jsonl")
    const out: Array<string> = []
    const reporter = new SkipReporter({ path, write: (t) => void out.push(t) })
    recordSkip("/stale/from-last-run.test.ts", "old", path)
    reporter.onTestRunStart()
    expect(existsSync(path)).toBe(false)

    const file = fileURLToPath(new URL("../integration/container.test.ts", import.meta.url))
    recordSkip(file, "docker: not installed: run bash .ci/engines.sh", path)
    recordSkip(file, "docker: not installed: run bash .ci/engines.sh", path) // a file imported twice records twice
    recordSkip("test/cli/containers.test.ts", "ran on podman only; docker: `docker ps` fails", path)
    reporter.onTestRunEnd()
    expect(out.join("").split("\n")).toEqual([
      "",
      "skipped: test/integration/container.test.ts — docker: not installed: run bash .ci/engines.sh",
      "skipped: test/cli/containers.test.ts — ran on podman only; docker: `docker ps` fails",
      ""
    ])
  })

  it("prints nothing when nothing was skipped", () => {
    const out: Array<string> = []
    const reporter = new SkipReporter({ path: join(dir, "none.jsonl"), write: (t) => void out.push(t) })
    reporter.onTestRunStart()
    reporter.onTestRunEnd()
    expect(out.join("")).toBe("")
  })
})
