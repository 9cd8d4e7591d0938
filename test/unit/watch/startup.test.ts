/** The systemd unit of `ops startup`, as data. */
import { describe, expect, it } from "vitest"
import { renderUnit, systemdWord, unitPath } from "../../../src/watch/startup.js"

const input = {
  scope: "user" as const,
  config: { files: ["/srv/my app/kstlib.conf.yml"], project: "shop" },
  configFile: "/srv/my app/kstlib.conf.yml",
  node: "/usr/bin/node",
  script: "/opt/kstlib/bin.js",
  cwd: "/srv/my app",
  env: { PATH: "/usr/bin:/bin", DOCKER_HOST: "unix:///run/d.sock", API_TOKEN: "s3cret" },
  variables: ["API_TOKEN"],
  user: "ada"
}

describe("ops startup's unit", () => {
  it("quotes words systemd would split or expand", () => {
    expect(systemdWord("/usr/bin/node")).toBe("/usr/bin/node")
    expect(systemdWord("/srv/my app")).toBe('"/srv/my app"')
    expect(systemdWord("50%$x")).toBe('"50%%$$x"')
  })
  it("absolute paths, the environment's locations, the interpolated variables named but never their values", () => {
    const u = renderUnit(input)
    expect(u).toContain('ExecStart=/usr/bin/node /opt/kstlib/bin.js ops watch --config "/srv/my app/kstlib.conf.yml" --project shop')
    expect(u).toContain('WorkingDirectory="/srv/my app"')
    expect(u).toContain("Environment=DOCKER_HOST=unix:///run/d.sock")
    expect(u).toContain("# Environment=API_TOKEN=\n")
    expect(u).not.toContain("s3cret")
    expect(u).toContain("WantedBy=default.target")
    expect(u).not.toContain("User=")
  })
  it("a system unit runs as the user, after the network, installed for multi-user", () => {
    const u = renderUnit({ ...input, scope: "system" })
    expect(u).toContain("User=ada")
    expect(u).toContain("After=network-online.target")
    expect(u).toContain("WantedBy=multi-user.target")
    expect(unitPath("system", "shop", {})).toBe("/etc/systemd/system/kstlib-watch-shop.service")
    expect(unitPath("user", "shop", { HOME: "/home/ada" })).toBe("/home/ada/.config/systemd/user/kstlib-watch-shop.service")
  })
})
