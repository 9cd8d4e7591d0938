import { describe, expect, it } from "vitest"
import { KEEP_SHELL } from "../../../src/import/panes.js"
import { expectValid, fixture, imported, noted, refused, sameDir, session, skipped } from "./helpers.js"

const tmuxp = (rel: string, options = sameDir()) => imported("tmuxp", fixture(`tmuxp/${rel}`), options)
/** A pane's commands as kstlib writes them: one shell line, then the interactive shell it was. */
const typed = (line: string) => ({ command: `${line}; ${KEEP_SHELL}`, shell: true })

describe("tmuxp examples", () => {
  it("3-pane: shell_command_before prepended to every pane, joined with ;, layout kept", () => {
    const r = tmuxp("examples/3-pane.yaml")
    expect(session(r, "s-3-panes")).toEqual({
      backend: "tmux",
      windows: [{
        name: "dev-window",
        panes: [typed("cd ~/; cd /var/log; ls -al | grep \\.log"), typed("cd ~/; echo hello"), typed("cd ~/; echo hello")],
        layout: "main-vertical"
      }]
    })
    expect(r.notCarried).toEqual([])
    // needs: windows (issue 24.1)
    expectValid(r)
  })

  it("the JSON form gives the same session", () => {
    expect(tmuxp("examples/3-pane.json").config).toEqual(tmuxp("examples/3-pane.yaml").config)
  })

  it("minimal: one window of one blank pane is a plain session (today's fields)", () => {
    const r = tmuxp("examples/minimal.yaml")
    expect(r.config.ops.sessions).toEqual({ "My-tmux-session": { backend: "tmux" } })
    expectValid(r)
  })

  it("shorthands and skip-send: one pane's commands run as one line; a command left typed (enter: false) is reported", () => {
    const one = tmuxp("examples/shorthands.yaml")
    expect(session(one, "shorthands")["windows"]).toEqual([{
      name: "long-form",
      panes: [typed("echo 'did you know'; echo 'you can inline'"), typed("echo 'single commands'"), typed("echo 'for panes'")]
    }])
    const skip = tmuxp("examples/skip-send.yaml")
    expect(session(skip, "Skip-command-execution-command-level")).toEqual({ backend: "tmux", ...typed("echo \"___$$((11 + 1))___\"") })
    expect(skipped(skip)["windows[0].panes[0].shell_command[1].enter"]).toContain("typed but not run")
    expectValid(skip)
  })

  it("blank panes stay shells; a pane's start_directory is its working_dir; pane focus is carried", () => {
    const r = tmuxp("examples/blank-panes.yaml")
    const shell = { command: KEEP_SHELL, shell: true }
    expect(session(r, "Blank-pane-test")["windows"]).toEqual([
      { name: "Blank-pane-test", panes: [shell, shell, shell] },
      { name: "More-blank-panes", panes: [shell, shell, shell] },
      { name: "Empty-string-return", panes: [shell, shell, shell] },
      { name: "Blank-with-options", panes: [{ ...shell, focus: true }, { working_dir: "/tmp", ...shell }] }
    ])
    expect(skipped(r)).toEqual({})
    expectValid(r)
  })

  it("session-environment: env at each level; $VAR left for the pane's shell ($$ for kstlib)", () => {
    const r = tmuxp("examples/session-environment.yaml")
    const s = session(r, "Environment-variables-test")
    expect(s["env"]).toEqual({ EDITOR: "/usr/bin/vim", DJANGO_SETTINGS_MODULE: "my_app.settings.local", SERVER_PORT: "8009" })
    expect(s["windows"]).toEqual([
      { name: "Django-project", ...typed("./manage.py runserver 0.0.0.0:$${SERVER_PORT}") },
      {
        name: "Another-Django-project",
        env: { DJANGO_SETTINGS_MODULE: "my_app.settings.local", SERVER_PORT: "8010" },
        panes: [
          typed("./manage.py runserver 0.0.0.0:$${SERVER_PORT}"),
          { env: { DJANGO_SETTINGS_MODULE: "my_app.settings.local-testing", SERVER_PORT: "8011" }, ...typed("./manage.py runserver 0.0.0.0:$${SERVER_PORT}") }
        ]
      }
    ])
    expect(noted(r)[""]).toContain("expanded by the pane's shell")
    // needs: windows (issue 24.1)
    expectValid(r)
  })

  it("start-directory: a window's relative directory is below the session's; ~ and absolute stand alone", () => {
    const r = tmuxp("examples/start-directory.yaml")
    const s = session(r, "start-directory")
    expect(s["working_dir"]).toBe("/var/")
    // `./` below a session directory is that directory (tmuxp's expand(): the parent's start_directory), so nothing to add
    expect((s["windows"] as Array<Record<string, unknown>>).map((w) => w["working_dir"])).toEqual([undefined, "/var/log", "~", "/bin", undefined])
  })

  it("a relative start_directory is relative to the workspace file, rewritten for the config's directory", () => {
    const r = tmuxp(".tmuxp.yaml", { file: ".tmuxp.yaml", sourceDir: "/home/u/src/tmuxp", outputDir: "/home/u/src" })
    const s = session(r, "tmuxp")
    expect(s["working_dir"]).toBe("./tmuxp")
    expect((s["windows"] as Array<Record<string, unknown>>)[1]).toMatchObject({ name: "docs", working_dir: "./tmuxp/docs" })
    expect((s["windows"] as Array<Record<string, unknown>>)[0]).toMatchObject({ focus: true, layout: "main-horizontal" })
    expect(skipped(r)["windows[0].options"]).toContain("tmux options")
  })

  it("pane-shell: a pane's own program is its command; keys typed into it are reported", () => {
    const r = tmuxp("examples/pane-shell.yaml")
    const w = (session(r, "Pane-shell-example")["windows"] as Array<Record<string, unknown>>)[0]!
    expect(w["panes"]).toEqual([{ command: "/usr/bin/python3" }, { command: "/usr/bin/vim -u none" }, { command: "/usr/bin/python2" }, { command: "/usr/bin/top" }])
    expect(skipped(r)["windows[0].panes[0].shell_command"]).toContain("typed into /usr/bin/python3")
    expect(skipped(r)["windows[0].panes[2].shell_command"]).toContain("typed into /usr/bin/python2")
  })

  it("what tmuxp does and kstlib does not is reported, each with why", () => {
    const why = { ...skipped(tmuxp("examples/env-variables.yaml")), ...skipped(tmuxp("examples/sleep.yaml")), ...skipped(tmuxp("examples/window-index.yaml")), ...skipped(tmuxp("examples/plugin-system.yaml")), ...skipped(tmuxp("examples/options.yaml")), ...skipped(tmuxp("examples/2-pane-synchronized.yaml")) }
    expect(why["before_script"]).toContain("runs once before building the session")
    expect(why["windows[0].panes[0].shell_command[1].sleep_before"]).toContain("sleep N")
    expect(why["windows[1].window_index"]).toContain("order they are listed")
    expect(why["plugins"]).toContain("plugins")
    expect(why["global_options"]).toContain("tmux options")
    expect(why["windows[0].options_after"]).toContain("tmux options")
    const history = tmuxp("examples/suppress-history.yaml")
    expect(noted(history)["suppress_history"]).toContain("nothing to carry")
  })

  it("focus-window-and-panes: window focus and pane focus carried", () => {
    const r = tmuxp("examples/focus-window-and-panes.yaml")
    const windows = session(r, "focus")["windows"] as Array<{ focus?: boolean; panes: Array<{ focus?: boolean }> }>
    expect(windows[0]!["focus"]).toBe(true)
    expect(windows[1]!["focus"]).toBeUndefined()
    expect(windows.map((w) => w.panes.findIndex((p) => p.focus === true))).toEqual([0, 1])
    expect(skipped(r)).toEqual({})
    expectValid(r)
  })

  it("not a workspace: refused with why", () => {
    expect(refused("tmuxp", "session_name: x\n")).toBe("not a tmuxp workspace: no windows: list")
    expect(refused("tmuxp", "windows: [")).toMatch(/^not valid YAML or JSON/u)
  })
})
