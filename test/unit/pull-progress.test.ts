/**
 * `pull:` on a terminal: a launch with a pull reporter (the CLI provides one only when stderr is a
 * terminal and not --json) pulls without `-q` and hands the engine's lines to it; without one the
 * pull stays quiet. A failed pull names the image and the registry with the engine's own error
 * line (not podman's progress and retry warnings). The live line and the line a pull leaves.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Containers } from "../../src/backends/container.js"
import { pullArgs } from "../../src/backends/container/argv.js"
import { pullFailure } from "../../src/backends/container/parse.js"
import { type PullEvent, PullProgress, type PullReporter } from "../../src/backends/container/pull-progress.js"
import { liveLine, pullDoneLine } from "../../src/cli/progress.js"
import { run } from "../../src/proc.js"
import { containerSpec, launchOf, tmuxSpec } from "../../src/testing/specs.js"
import { fakeSpawner } from "../../src/testing/spawner.js"

const IMAGE = "127.0.0.1:5000/shop/api:1"
const PODMAN_PROGRESS = "Trying to pull 127.0.0.1:5000/shop/api:1...\nGetting image source signatures\nCopying blob sha256:3f4c done\r\nWriting manifest to image destination\n"
const PODMAN_REFUSED = [
  `time="2026-12-03T12:40:10Z" level=warning msg="Failed, retrying in 1s ... (1/3). Error: initializing source docker://127.0.0.1:9/x/y:1: pinging container registry 127.0.0.1:9: connect: connection refused"`,
  `Error: initializing source docker://127.0.0.1:9/x/y:1: pinging container registry 127.0.0.1:9: Get "https://127.0.0.1:9/v2/": dial tcp 127.0.0.1:9: connect: connection refused`
].join("\n")

/** A reporter that records what it heard. */
const recorder = () => {
  const heard: Array<string> = []
  const reporter: PullReporter = {
    began: (e) => void heard.push(`began ${e.session} ${e.image} ${e.registry}`),
    line: (_e, text) => void heard.push(`line ${text}`),
    ended: (_e, failure) => void heard.push(`ended ${failure ?? "ok"}`)
  }
  return { heard, reporter }
}

/** The engine lacks the image; its pull answers with `pull`. */
const lacking = (pull: { readonly stdout?: string; readonly stderr?: string; readonly exitCode?: number }) =>
  fakeSpawner((_cmd, args) =>
    args[0] === "image" ? { exitCode: 125, stderr: "Error: no such image" } : args[0] === "pull" ? pull : args[0] === "network" ? { stdout: `{"io.kstlib.managed":"true","io.kstlib.project":"proj"}` } : { stdout: "abc\n" })

describe("pull argv", () => {
  it("quiet (-q) unless its progress is read line by line", () => {
    expect(pullArgs(IMAGE)).toEqual(["pull", "-q", "--", IMAGE])
    expect(pullArgs(IMAGE, false)).toEqual(["pull", "--", IMAGE])
  })

  it("a failure is the engine's error lines, without progress or podman's retry warnings", () => {
    expect(pullFailure(`Trying to pull 127.0.0.1:9/x/y:1...\n${PODMAN_REFUSED}\n`)).toBe(
      `Error: initializing source docker://127.0.0.1:9/x/y:1: pinging container registry 127.0.0.1:9: Get "https://127.0.0.1:9/v2/": dial tcp 127.0.0.1:9: connect: connection refused`
    )
    expect(pullFailure(`Error response from daemon: manifest for 127.0.0.1:5000/a:9 not found: manifest unknown\n`)).toBe(
      "Error response from daemon: manifest for 127.0.0.1:5000/a:9 not found: manifest unknown"
    )
    // no error line: the message whole
    expect(pullFailure("unauthorized: authentication required\n")).toBe("unauthorized: authentication required")
  })
})

describe("a launch's pull over a fake spawner", () => {
  const project = { project: "proj" }

  it.live("with a reporter: no -q, the engine's lines reported as they come, then the end", () => {
    const fake = lacking({ stderr: PODMAN_PROGRESS, stdout: "sha256:ab\n" })
    const { heard, reporter } = recorder()
    return Effect.gen(function*() {
      const rs = yield* (yield* Containers).launch([launchOf(containerSpec("api", { image: IMAGE }))], project).pipe(Effect.provideService(PullProgress, reporter))
      expect(rs.map((r) => r._tag)).toEqual(["Success"])
      expect(fake.calls.find((c) => c[1] === "pull")).toEqual(["podman", "pull", "--", IMAGE])
      expect(heard[0]).toBe(`began api ${IMAGE} 127.0.0.1:5000`)
      expect(heard.filter((h) => h.startsWith("line ")).sort()).toEqual([
        "line Copying blob sha256:3f4c done",
        "line Getting image source signatures",
        "line Trying to pull 127.0.0.1:5000/shop/api:1...",
        "line Writing manifest to image destination",
        "line sha256:ab"
      ])
      expect(heard.at(-1)).toBe("ended ok")
    }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
  })

  it.live("without one (a pipe, --json, the library): -q, nothing reported", () => {
    const fake = lacking({ stdout: "sha256:ab\n" })
    return Effect.gen(function*() {
      const rs = yield* (yield* Containers).launch([launchOf(containerSpec("api", { image: IMAGE }))], project)
      expect(rs.map((r) => r._tag)).toEqual(["Success"])
      expect(fake.calls.find((c) => c[1] === "pull")).toEqual(["podman", "pull", "-q", "--", IMAGE])
    }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
  })

  it.live("a failed pull: the launch fails naming image and registry with the engine's error; the reporter hears the end; nothing runs", () => {
    const fake = lacking({ exitCode: 125, stderr: `Trying to pull ${IMAGE}...\n${PODMAN_REFUSED}\n` })
    const { heard, reporter } = recorder()
    return Effect.gen(function*() {
      const [r] = yield* (yield* Containers).launch([launchOf(containerSpec("api", { image: IMAGE }))], project).pipe(Effect.provideService(PullProgress, reporter))
      assert(r !== undefined && r._tag === "Failure")
      expect(r.failure.reason).toMatch(new RegExp(`^pulling image ${IMAGE.replace(/[.]/gu, "\\.")} from 127\\.0\\.0\\.1:5000 failed: Error: initializing source .*connection refused$`, "u"))
      expect(r.failure.reason).not.toContain("retrying")
      expect(heard.at(-1)).toMatch(/^ended Error: initializing source/u)
      expect(fake.calls.some((c) => c[1] === "run")).toBe(false)
    }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
  })
})

describe("a pull ended by the launch's refusal", () => {
  it.live("a network that is not this project's ends the pull begun beside its look: the reporter hears that end, nothing runs", () => {
    const fake = fakeSpawner((_cmd, args) =>
      args[0] === "image"
        ? { exitCode: 125, stderr: "Error: no such image" }
        : args[0] === "pull"
        ? { runsFor: "20 seconds", stdout: "sha256:ab\n" }
        : args[0] === "network"
        ? { runsFor: "300 millis", stdout: `{"io.kstlib.managed":"true","io.kstlib.project":"other"}` }
        : { stdout: "abc\n" })
    const { heard, reporter } = recorder()
    return Effect.gen(function*() {
      const [r] = yield* (yield* Containers).launch([launchOf(containerSpec("api", { image: IMAGE }))], { project: "proj" }).pipe(
        Effect.provideService(PullProgress, reporter)
      )
      assert(r !== undefined && r._tag === "Failure")
      expect(r.failure.reason).toMatch(/^network kstlib-proj exists and is not this project's/u)
      // the pull began while the network was looked at, and its end was heard (else the live line keeps it for the rest of the apply)
      expect(heard.filter((h) => !h.startsWith("line "))).toEqual([`began api ${IMAGE} 127.0.0.1:5000`, "ended interrupted"])
      expect(fake.calls.some((c) => c[1] === "run")).toBe(false)
    }).pipe(Effect.provide(Containers.layer), Effect.provide(fake.layer))
  })
})

describe("run's onLine", () => {
  it("every line of both streams as it comes (\\n, \\r\\n and \\r end one; a last partial line too), the output still captured whole", async () => {
    const lines: Array<string> = []
    const r = await Effect.runPromise(
      run("sh", ["-c", "printf 'a\\nb\\r\\nc\\rd'; printf 'e\\n\\nf' >&2"], { onLine: (l) => lines.push(l) }).pipe(Effect.provide(NodeServices.layer))
    )
    expect(r).toEqual({ stdout: "a\nb\r\nc\rd", stderr: "e\n\nf", exitCode: 0 })
    expect(lines.sort()).toEqual(["a", "b", "c", "d", "e", "f"])
  })
})

describe("the live line", () => {
  const step = { _tag: "Create", session: "api", spec: tmuxSpec("api") } as never
  const e: PullEvent = { session: "api", image: IMAGE, registry: "127.0.0.1:5000" }

  it("steps and pulls running over a second, a pull with the engine's last line (escaped), cut to the width", () => {
    expect(liveLine([[step, 0]], [[e, { started: 500, last: "" }]], 900, 100)).toBeNull()
    expect(liveLine([[step, 0]], [[e, { started: 500, last: "Copying blob sha256:3f4c\u001b[2K done " }]], 3600, 200)).toBe(
      `  … api create 4s, pull ${IMAGE} 3s: Copying blob sha256:3f4c\\u001b[2K done`
    )
    expect(liveLine([], [[e, { started: 0, last: "x".repeat(300) }]], 2000, 80)!.length).toBe(79)
  })

  it("a finished pull leaves one line: pulled, or failed (the reason is in the step's result)", () => {
    expect(pullDoneLine(e, 2.34, false)).toBe(`  pulled ${IMAGE} from 127.0.0.1:5000 (2.3s)`)
    expect(pullDoneLine(e, 0.5, true)).toBe(`  pull of ${IMAGE} from 127.0.0.1:5000 failed (0.5s)`)
  })
})
