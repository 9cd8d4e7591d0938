import { tmpdir } from "node:os"
import { join } from "node:path"
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration suites drive real tmux/podman/docker; each isolates itself, but two cores is the limit here.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // kstlib's state (default log files, the digest key) of in-process tests: never the developer's own;
    // the CLI's code cache shared by every sandbox (each has its own HOME), so each does not compile anew
    env: { XDG_STATE_HOME: join(tmpdir(), "kstlib-test-state"), XDG_CACHE_HOME: join(tmpdir(), "kstlib-test-cache") },
    // The JSON report lets .ci/run print a plain "N passed, N failed" closing line.
    // skips.ts lists the suites that skipped (no container engine) after the summary.
    reporters: ["default", "./test/support/skips.ts", ["json", { outputFile: ".ci/work/vitest.json" }]]
  }
})
