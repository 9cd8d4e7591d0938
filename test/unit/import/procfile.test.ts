import { describe, expect, it } from "vitest"
import { expectValid, fixture, imported, noted, refused, sameDir, session, skipped } from "./helpers.js"

describe("Procfile", () => {
  it("one tmux session per line: plain words, or shell: true for shell syntax; PORT as foreman gives it", () => {
    const r = imported("procfile", fixture("procfile/Procfile"))
    expect(r.config.ops.sessions).toEqual({
      web: { backend: "tmux", command: "bundle exec rails server -p $$PORT", shell: true, working_dir: ".", env: { PORT: "5000" } },
      worker: { backend: "tmux", command: "bundle exec sidekiq -c 5", working_dir: ".", env: { PORT: "5100" } },
      release: { backend: "tmux", command: "./bin/migrate && ./bin/seed", shell: true, working_dir: ".", env: { PORT: "5200" } },
      clock: { backend: "tmux", command: "python clock.py --tick 'every 5 minutes'", working_dir: ".", env: { PORT: "5300" } }
    })
    expect(r.notCarried).toEqual([])
    expect(noted(r)[""]).toContain("PORT")
    expectValid(r)
  })

  it("globs, ~ and comments are shell syntax too; the .env next to it is every process's env_file", () => {
    const r = imported("procfile", "a: ls *.log\nb: cat ~/x\nc: run # note\n", sameDir("/p", { dotenv: true }))
    for (const name of ["a", "b", "c"]) expect(session(r, name)).toMatchObject({ shell: true, env_file: ".env" })
    expectValid(r, { files: { ".env": "SECRET=x\n" } })
  })

  it("the Procfile's directory is the working directory, rewritten for the config's", () => {
    const r = imported("procfile", "web: npm start\n", { file: "Procfile", sourceDir: "/srv/app/web", outputDir: "/srv/app" })
    expect(session(r, "web")["working_dir"]).toBe("./web")
  })

  it("lines that are not processes are reported; names become kstlib names", () => {
    const r = imported("procfile", "1web: run\nnot a line\nempty:\n")
    expect(Object.keys(r.config.ops.sessions)).toEqual(["s-1web"])
    expect(skipped(r)).toEqual({ "line 2": "not a process line (name: command)", "line 3.empty": "no command" })
    expect(refused("procfile", "# nothing\n")).toBe("no process line (name: command) in the file")
  })
})
