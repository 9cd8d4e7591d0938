/**
 * The spec hashes of the previous release, pinned: sessions it created must plan "No changes" after
 * an upgrade, so the fingerprint of every spec below must never change. (A new field enters the
 * fingerprint only when set; these specs set none of this round's fields.)
 */
import { describe, expect, it } from "vitest"
import { specHash, unkeyedDigest } from "../../../src/spec/fingerprint.js"
import { containerSpec, tmuxSpec } from "../../../src/testing/specs.js"

const cases = [
  ["tmux, minimal", tmuxSpec("web")],
  ["tmux, no command, default dir", tmuxSpec("sh", { command: null, working_dir: null })],
  ["tmux, env + socket", tmuxSpec("bot", { env: { TOKEN: "s3cret", LOG_LEVEL: "info" }, socket_name: "orion" })],
  ["tmux, shell", tmuxSpec("report", { command: "echo a | wc -w", shell: true })],
  ["tmux, stopped", tmuxSpec("idle", { state: "stopped" })],
  ["tmux, supervision", tmuxSpec("worker", {
    restart: "on-failure",
    max_restarts: 3,
    ready: { log: "ready", timeout: 30, interval: 2 },
    depends_on: ["db", "cache"]
  })],
  ["tmux, ready defaults", tmuxSpec("api", { restart: "always", ready: { tcp: 8080, timeout: 60, interval: 1 } })],
  ["tmux, on a host", tmuxSpec("collector", { host: "edge1", working_dir: "/opt" })],
  ["container, minimal", containerSpec("db")],
  ["container, every list", containerSpec("api", {
    image: "localhost:5000/api:1.2",
    command: "python -m http.server 80",
    working_dir: "/app",
    env: { DEBUG: "0", SECRET: "x" },
    volumes: ["/srv/data:/data:rw", "cache:/cache"],
    ports: ["8080:80/tcp", "9090"],
    log_volume: "/var/log/api:/logs",
    runtime: "docker"
  })],
  ["container, unsafe + shell", containerSpec("ops", { unsafe_mounts: true, shell: true, command: "ls / | wc -l" })],
  ["container, swarm replicas", containerSpec("svc", { runtime: "swarm", replicas: 3 })],
  ["container, swarm 1 replica", containerSpec("svc1", { runtime: "swarm", replicas: 1 })],
  ["container, supervision", containerSpec("cache", {
    restart: "on-failure",
    max_restarts: 5,
    ready: { cmd: "redis-cli ping", timeout: 60, interval: 1 },
    depends_on: ["db"]
  })],
  ["container, on a host", containerSpec("edge", { host: "edge2", runtime: "podman" })]
] as const

describe("spec hashes of the previous release", () => {
  it("are unchanged", () => {
    expect(Object.fromEntries(cases.map(([label, spec]) => [label, specHash(spec, unkeyedDigest)]))).toMatchInlineSnapshot(`
      {
        "container, every list": "v1:7c2e013af5b494152c6f0444fbb9b090a0941b140d4bb362d85c7a3ab3225171",
        "container, minimal": "v1:f49a6f9e4236bafe3b167b21764265527cda6fc7767aaa8a46e23d88b79ac6f7",
        "container, on a host": "v1:ce7bd29378ded3f574332d27217cc8b3809f9f1badf06b4bbbf060f01f2d779e",
        "container, supervision": "v1:bdaaaedd8dc556b3c1e53dbe563961b726f3d38d9318bbdad7088a2237d338a3",
        "container, swarm 1 replica": "v1:d7a3577dc3ea5b287cf38b9f5e85289706fe5aba98649f89e7046281717090a6",
        "container, swarm replicas": "v1:bb5a781c7d7f1a4bf8cf38748014b239042e5d4724df182b00b9c859ce54e77a",
        "container, unsafe + shell": "v1:3e93f3bd94ad70cb4704a1e4a721498004e1cb82690f0a960579297eda1dd574",
        "tmux, env + socket": "v1:c3d3af14ab81979eb48b69e0192d171e0a317506fda54910b2109e36779df82c",
        "tmux, minimal": "v1:132307c53630224bd0a81abb8ee81798f41d3780e7db9ac4cf1bb52ff37af16d",
        "tmux, no command, default dir": "v1:c37a0cc670423b414dfa9630dc3fca1b57a60148f6b62019a27cae6bd4414129",
        "tmux, on a host": "v1:0acc46a345bcbb8161e78c0d2aa8662f3486b450eb9541b6d3bf4b3e8375ea25",
        "tmux, ready defaults": "v1:24607a884a9091a04b5187f4c8dc897a2ac06297318cb23cdc33f95039271211",
        "tmux, shell": "v1:09efb1ead4a082db03d54cad09c4afa3b267014466e315294aa7cf8e62604138",
        "tmux, stopped": "v1:132307c53630224bd0a81abb8ee81798f41d3780e7db9ac4cf1bb52ff37af16d",
        "tmux, supervision": "v1:aff7e6c64d68683fad6447c8d5c9ce60f4a772421b6ad8864469200832cacf59",
      }
    `)
  })
})
