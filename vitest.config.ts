import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration suites drive real tmux/podman/docker; each isolates itself, but two cores is the limit here.
    testTimeout: 60_000,
    hookTimeout: 120_000
  }
})
