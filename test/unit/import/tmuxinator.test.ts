import { describe, expect, it } from "vitest"
import { KEEP_SHELL } from "../../../src/import/panes.js"
import { expectValid, fixture, imported, noted, refused, sameDir, session, skipped } from "./helpers.js"

const tmuxinator = (rel: string, options = sameDir()) => imported("tmuxinator", fixture(`tmuxinator/${rel}`), options)
const typed = (line: string) => ({ command: `${line}; ${KEEP_SHELL}`, shell: true })
const PRE = "rbenv shell 2.0.0-p247"

describe("tmuxinator", () => {
  it("sample.yml: root, socket, pre_window and a window's pre before each pane's commands", () => {
    const r = tmuxinator("sample.yml")
    const s = session(r, "sample")
    expect(s).toMatchObject({ backend: "tmux", socket_name: "foo", working_dir: "~/test" })
    const windows = s["windows"] as Array<Record<string, unknown>>
    expect(windows.map((w) => w["name"])).toEqual(["editor", "shell", "guard", "database", "server", "logs", "console", "capistrano", "server-2"])
    const before = `${PRE}; echo "I get run in each pane, before each pane command!"`
    expect(windows[0]).toEqual({
      name: "editor",
      panes: [typed(`${before}; vim`), typed(before), typed(`${before}; top`), typed(`${before}; ssh server; echo "Hello"`)],
      layout: "main-vertical"
    })
    // a list of commands in a window without panes: one pane, in order
    expect(windows[1]).toEqual({ name: "shell", ...typed(`${PRE}; git pull; git merge`) })
    // a window's pre list is one typed line, joined with && as tmuxinator joins it
    expect((windows[2]!["panes"] as Array<unknown>)[0]).toEqual(typed(`${PRE}; echo "I get run in each pane." && echo "Before each pane command!"`))
    expect(windows[7]).toEqual({ name: "capistrano", ...typed(PRE) })
    expect(noted(r)["windows[8].server"]).toContain("server-2")
    const why = skipped(r)
    expect(why["tmux_options"]).toContain("no extra options")
    expect(why["tmux_detached"]).toContain("never attaches")
    expect(why["windows[0].editor.panes[3].pane_with_multiple_commands"]).toContain("title")
    // needs: windows (issue 24.1)
    expectValid(r)
  })

  it("ERB is refused with why: kstlib runs no Ruby", () => {
    expect(refused("tmuxinator", fixture("tmuxinator/template-sample.yml"))).toMatch(/^line 1: ERB \(<%= … %>\) is Ruby that tmuxinator evaluates; kstlib runs no Ruby/u)
  })

  it("a window without a name gets one; hooks and pane titles are reported", () => {
    const r = tmuxinator("nameless_window.yml")
    expect((session(r, "nameless_window")["windows"] as Array<Record<string, unknown>>).map((w) => w["name"])).toEqual(["window-1", "other"])
    const titles = tmuxinator("pane_titles.yml")
    expect(Object.keys(skipped(titles))).toEqual([
      "tmux_options", "enable_pane_titles", "pane_title_position", "pane_title_format",
      "windows[0].editor.panes[0].editor", "windows[0].editor.panes[1].logs"
    ])
    const hooks = imported("tmuxinator", "name: p\non_project_start: ./start.sh\npre: echo once\nwindows:\n  - a: top\n  - b: htop\n")
    expect(skipped(hooks)["on_project_start"]).toContain("a project hook")
    expect(skipped(hooks)["pre"]).toContain("a project hook")
  })

  it("window names that are numbers, booleans or paths become kstlib names", () => {
    const r = tmuxinator("sample_literals_as_window_name.yml")
    expect((session(r, "sample")["windows"] as Array<Record<string, unknown>>).map((w) => w["name"])).toEqual([
      "s-222", "s-222_333", "s-111222333444555666777", "s-222-3", "s-4e5", "s-4E5", "true", "false", "nil", "window-10", "sample"
    ])
  })

  it("deprecated keys: tabs, project_root, cli_args, rbenv; one window of one pane is the session's command", () => {
    const r = tmuxinator("sample.deprecations.yml")
    expect(session(r, "sample")).toEqual({ backend: "tmux", socket_name: "foo", working_dir: "~/test", ...typed(PRE) })
    expect(Object.keys(skipped(r))).toEqual(["pre", "cli_args", "tabs", "windows[0].sample[0]"])
    expectValid(r)
  })

  it("startup_window focuses it; a window's root is below the project's; $ is literal", () => {
    const r = imported("tmuxinator", "name: app\nroot: /srv/$app\nstartup_window: logs\nwindows:\n  - editor: vim\n  - logs:\n      root: log\n      panes: [tail -f a.log, tail -f b.log]\n")
    const s = session(r, "app")
    expect(s["working_dir"]).toBe("/srv/$$app")
    expect(s["windows"]).toEqual([
      { name: "editor", ...typed("vim") },
      { name: "logs", working_dir: "/srv/$$app/log", panes: [typed("tail -f a.log"), typed("tail -f b.log")], focus: true }
    ])
    // needs: windows (issue 24.1)
    expectValid(r)
  })

  it("not a project: refused with why", () => {
    expect(refused("tmuxinator", "name: x\n")).toBe("not a tmuxinator project: no windows: list")
  })
})
