/**
 * Suite-level tmux isolation: a private TMUX_TMPDIR (so socket discovery and the "default" server
 * see only what the suite creates), `TMUX` unset (behave as outside tmux even inside a tmux pane),
 * and a work dir. Every server left in the private dir is killed afterwards, and the env restored.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll } from "@effect/vitest"

export const usePrivateTmux = (label: string) => {
  const dirs = { tmux: "", work: "" }
  const saved = { TMUX_TMPDIR: process.env["TMUX_TMPDIR"], TMUX: process.env["TMUX"] }
  beforeAll(() => {
    dirs.tmux = mkdtempSync(join(tmpdir(), `kstlib-${label}-sock-`))
    dirs.work = mkdtempSync(join(tmpdir(), `kstlib-${label}-work-`))
    process.env["TMUX_TMPDIR"] = dirs.tmux
    delete process.env["TMUX"]
  })
  afterAll(() => {
    // Safety net for a test that failed before its own finalizer.
    const sockets = join(dirs.tmux, `tmux-${process.getuid?.() ?? 0}`)
    if (existsSync(sockets)) {
      for (const s of readdirSync(sockets)) {
        try {
          execFileSync("tmux", ["-L", s, "kill-server"], { stdio: "ignore" })
        } catch { /* stale socket */ }
      }
    }
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
    rmSync(dirs.tmux, { recursive: true, force: true })
    rmSync(dirs.work, { recursive: true, force: true })
  })
  /** The suite's scratch directory (valid inside tests). */
  return { workDir: () => dirs.work }
}
