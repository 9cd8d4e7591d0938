import { describe, expect, it } from "vitest"
import {
  DANGEROUS_ENV_KEYS,
  validateArgv,
  validateCommand,
  validateEnv,
  validateImage,
  validatePorts,
  validateSendKeys,
  validateSessionName,
  validateSocketName,
  validateVolumes,
  validateWorkingDir
} from "../../../src/config/rules.js"

const NAME_MSG = "Session name must start with letter and contain only alphanumeric, underscore, or hyphen characters"
const sha = "a".repeat(64)

describe("validateSessionName", () => {
  it.each(["a", "bot", "my-bot", "my_bot", "Bot2", "a".repeat(64)])("accepts %j", (n) => {
    expect(validateSessionName(n)).toBeNull()
  })
  it("empty / too long", () => {
    expect(validateSessionName("")).toBe("Session name cannot be empty")
    expect(validateSessionName("a".repeat(65))).toBe("Session name too long (max 64 chars)")
  })
  it.each(["1bot", "_bot", "-bot", "my bot", "my.bot", "my@bot", "my$bot", "my;bot", "my|bot", "my&bot", "my`bot", "../evil", "é", "mybot\n"])(
    "rejects %j",
    (n) => expect(validateSessionName(n)).toBe(NAME_MSG)
  )
})

describe("validateImage", () => {
  it.each([
    "python", "python:3.10-slim", "registry.io/path/image:tag", "ghcr.io/user/image:tag", "docker.io/library/python",
    `python@sha256:${sha}`, `python:3.10@sha256:${sha}`, "img:TAG", "a__b",
    // fix over the original: registry with a port
    "localhost:5000/img:tag", "localhost:5000/app:1.2", "registry.example.com:443/team/app", "localhost:5000"
  ])("accepts %j", (i) => expect(validateImage(i)).toBeNull())
  it.each(["Python", "ghcr.io/User/x", "my image", "image;rm -rf", "../../etc/passwd", "a-", "img:", "nginx\n", "localhost:/x", "host:99999999/x"])(
    "rejects %j",
    (i) => expect(validateImage(i)).toBe(`Invalid image name format: ${i}`)
  )
  it("empty / too long", () => {
    expect(validateImage("")).toBe("Image name cannot be empty")
    expect(validateImage("a".repeat(257))).toBe("Image name too long (max 256 chars)")
    expect(validateImage("a".repeat(256))).toBeNull()
  })
})

describe("validateVolumes", () => {
  it.each(["./data:/app/data", "/host/path:/container/path", "myvol:/data", "/a:/b:ro", "/a:/b:rw"])("accepts %j", (v) => {
    expect(validateVolumes([v])).toBeNull()
  })
  it.each(["nocontainer", "host:container:invalid", "/a:/b:RO", "/a:/b:z", "/a:/b:Z", "C:\\d:/app", "./d:/a\n", "./d\n:/a"])(
    "rejects format %j",
    (v) => expect(validateVolumes([v])).toBe(`Invalid volume format: ${v}`)
  )
  it.each(["../secret:/app/data", "./data/../../../etc:/app/data", "../../../:/root", "a..b:/x"])("rejects traversal %j", (v) => {
    expect(validateVolumes([v])).toBe(`Path traversal not allowed in volume: ${v}`)
  })
  it("count", () => {
    expect(validateVolumes(Array.from({ length: 20 }, (_, i) => `/a${i}:/b`))).toBeNull()
    expect(validateVolumes(Array.from({ length: 21 }, (_, i) => `/a${i}:/b`))).toBe("Too many volumes (max 20)")
  })
})

describe("validatePorts", () => {
  it.each(["8080:80", "80", "8080", "8080:80/tcp", "5353:53/udp", "65535:65535/udp", "080:80"])("accepts %j", (p) => {
    expect(validatePorts([p])).toBeNull()
  })
  // compose's forms (issue 22): an address, ranges, sctp
  it.each(["127.0.0.1:5432:5432", "127.0.0.1::5432", "[::1]:80:80", "3000-3005", "9090-9091:8080-8081", "8000-8010:80", "80/sctp", "0.0.0.0:53:53/udp"])("accepts %j", (p) => {
    expect(validatePorts([p])).toBeNull()
  })
  it.each([
    ["300.0.0.1:80:80", "Invalid IP address in port: 300.0.0.1"],
    ["9000-9001:80-82", "Port ranges 9000-9001 and 80-82 differ in length"],
    ["90-80", "Port range 90-80 goes down"],
    ["::80", "Invalid port format: ::80"]
  ])("rejects %j", (p, reason) => expect(validatePorts([p])).toBe(reason))
  it.each(["abc:80", "80:80:80", "127.0.0.1:80", "80/TCP", "123456:80", "80\n"])("rejects format %j", (p) => {
    expect(validatePorts([p])).toBe(`Invalid port format: ${p}`)
  })
  it.each([["0:80", "0"], ["65536:80", "65536"], ["80:70000", "70000"], ["99999:80", "99999"], ["00000:80", "00000"]])(
    "rejects range %j",
    (p, num) => expect(validatePorts([p])).toBe(`Port number out of range (1-65535): ${num}`)
  )
  it("count", () => {
    expect(validatePorts(Array.from({ length: 50 }, (_, i) => String(i + 1)))).toBeNull()
    expect(validatePorts(Array.from({ length: 51 }, (_, i) => String(i + 1)))).toBe("Too many ports (max 50)")
  })
})

describe("validateEnv", () => {
  it("accepts ordinary variables, PATH, lower-case look-alikes of blocked keys, _X", () => {
    expect(validateEnv({ PATH: "/bin", _X: "1", ld_preload: "x", MY_VAR: "a\nb" })).toBeNull()
  })
  it("count", () => {
    const env = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`K${i}`, "v"]))
    expect(validateEnv(env(100))).toBeNull()
    expect(validateEnv(env(101))).toBe("Too many env vars (max 100)")
  })
  it("key and value length", () => {
    expect(validateEnv({ ["K".repeat(128)]: "v" })).toBeNull()
    expect(validateEnv({ ["K".repeat(129)]: "v" })).toBe(`Env key too long (max 128): ${"K".repeat(20)}...`)
    expect(validateEnv({ K: "v".repeat(32768) })).toBeNull()
    expect(validateEnv({ K: "v".repeat(32769) })).toBe("Env value too long (max 32768) for key: K")
  })
  it.each(["1START", "MY-VAR", "MY VAR", "MY.VAR", "A\n"])("rejects key format %j", (k) => {
    expect(validateEnv({ [k]: "v" })).toBe(`Invalid env key format: ${k}`)
  })
  it.each(DANGEROUS_ENV_KEYS.map((k) => [k]))("blocks %s", (k) => {
    expect(validateEnv({ [k]: "x" })).toBe(`Environment variable '${k}' is blocked for security reasons`)
  })
  // issue 28: variables that make git, ssh, lua, R, less, node, python, openssl, sudo load or run code
  it.each([
    "LUA_PATH", "LUA_CPATH", "LUA_PATH_5_4", "LUA_CPATH_5_4", "LUA_INIT", "LUA_INIT_5_4",
    "GIT_SSH_COMMAND", "GIT_SSH", "GIT_PROXY_COMMAND", "GIT_ASKPASS", "GIT_EXEC_PATH", "GIT_TEMPLATE_DIR", "GIT_EXTERNAL_DIFF",
    "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM",
    "SSH_ASKPASS", "SUDO_ASKPASS", "LESSOPEN", "LESSCLOSE", "NODE_REPL_EXTERNAL_MODULE", "PYTHONPYCACHEPREFIX",
    "R_PROFILE", "R_PROFILE_USER", "R_ENVIRON", "R_ENVIRON_USER", "OPENSSL_MODULES"
  ])("blocks %s (loads or runs code)", (k) => {
    expect(validateEnv({ [k]: "x" })).toBe(`Environment variable '${k}' is blocked for security reasons`)
  })
  // chosen, not forgotten: programs the user picks for interactive use, and variables that select files
  it.each(["PAGER", "EDITOR", "VISUAL", "GIT_PAGER", "GIT_EDITOR", "MANPAGER", "BROWSER", "GIT_DIR", "GIT_AUTHOR_NAME", "CURL_HOME", "CLASSPATH", "R_HOME", "LUA", "GITHUB_TOKEN", "SSH_AUTH_SOCK"])(
    "allows %s",
    (k) => expect(validateEnv({ [k]: "x" })).toBeNull()
  )
  it("checks in insertion order; NUL in a value", () => {
    expect(validateEnv({ "BAD-KEY": "x", LD_PRELOAD: "y" })).toBe("Invalid env key format: BAD-KEY")
    expect(validateEnv({ A: "x\u0000y" })).toBe("Null bytes are not allowed in env values (key: A)")
    expect(validateEnv({ PATH: "/usr/bin\nrun-shell x" })).toBe("PATH must not contain a line break")
    expect(validateEnv({ OTHER: "multi\nline" })).toBeNull()
  })
})

describe("validateCommand", () => {
  const chain = (op: string) => `unquoted '${op}' would chain commands, but no shell runs this command; quote it to pass it as an argument, or set shell: true`
  const redirectOut = (op: string) =>
    `unquoted '${op}' would redirect output to a file, but no shell runs this command; quote it to pass it as an argument, or set shell: true`
  const redirectIn = (op: string) =>
    `unquoted '${op}' would redirect input from a file, but no shell runs this command; quote it to pass it as an argument, or set shell: true`
  const substitution =
    "'$(…)' would run a command (command substitution), but no shell runs this command; put it in single quotes to pass it as an argument, or set shell: true"
  const backtick =
    "a backtick would run a command (command substitution), but no shell runs this command; put it in single quotes to pass it as an argument, or set shell: true"
  it.each([
    ["a;b", chain(";")],
    ["cd /x && y", chain("&&")],
    ["a || b", chain("||")],
    ["a | b", "unquoted '|' would pipe into another command, but no shell runs this command; quote it to pass it as an argument, or set shell: true"],
    ["python app.py &", "unquoted '&' would run a command in the background, but no shell runs this command; quote it to pass it as an argument, or set shell: true"],
    ["x $(y)", substitution],
    ["x \"$(y)\"", substitution],
    ["x $(y", substitution],
    ["x `y`", backtick],
    ["x \"`y`\"", backtick],
    ["a>b", redirectOut(">")],
    ["python -m app >/dev/null", redirectOut(">")],
    ["echo > é", redirectOut(">")],
    ["echo a > ", redirectOut(">")],
    ["app 2>&1", redirectOut("2>&")],
    ["app &>log", redirectOut("&>")],
    ["x <y", redirectIn("<")],
    ["cat <<EOF", redirectIn("<<")]
  ])("blocks %j with a readable reason", (c, reason) => expect(validateCommand(c)).toBe(reason))
  it.each([
    "python -m source_tool", "executor", "execfile", "python -c 'print(1)'", "python --exec x", "python -m exec", "my-source", "Eval x",
    "echo $HOME", "grep -E 'a|b' f", "echo 'a;b'", "node -e 'console.log(1)'", "python train.py --eval", "echo \\;", "echo 'x $(y)'"
  ])("allows %j", (c) => expect(validateCommand(c)).toBeNull())
  it("length, NUL, newlines (a fix over the original), empty", () => {
    expect(validateCommand("a".repeat(4096))).toBeNull()
    expect(validateCommand("a".repeat(4097))).toBe("Command too long (max 4096 chars)")
    expect(validateCommand("a\u0000b")).toBe("Null bytes are not allowed in commands")
    expect(validateCommand("a\nb")).toBe("Newlines are not allowed in commands")
    expect(validateCommand("a\rb")).toBe("Newlines are not allowed in commands")
    expect(validateCommand("  ")).toBe("the command is empty; leave command out to run the default")
  })
  it("shell: true allows shell syntax, never NUL, newlines or excess length", () => {
    expect(validateCommand("echo a b | wc -w && x; y > /tmp/f", { shell: true })).toBeNull()
    expect(validateCommand("bash -c 'eval x'", { shell: true })).toBeNull()
    expect(validateCommand("a\nb", { shell: true })).toBe("Newlines are not allowed in commands")
    expect(validateCommand("a\u0000b", { shell: true })).toBe("Null bytes are not allowed in commands")
    expect(validateCommand("a".repeat(4097), { shell: true })).toBe("Command too long (max 4096 chars)")
  })
  it("non-strict checks only length and NUL", () => {
    expect(validateCommand("echo a; echo b", { strict: false })).toBeNull()
    expect(validateCommand("cat file | grep pattern", { strict: false })).toBeNull()
    expect(validateCommand("a\u0000", { strict: false })).toBe("Null bytes are not allowed in commands")
  })
})

describe("validateArgv (exec -- ARGV: words already split, run without a shell)", () => {
  it("word-level checks apply; metacharacters inside a word are plain bytes", () => {
    expect(validateArgv(["echo", "a;b", "x|y", "$(z)"])).toBeNull()
    expect(validateArgv(["sh", "-c", "ls; rm -rf /"])).toBe(
      "'sh -c' is shell code, but no shell runs this command; set shell: true to run shell code"
    )
    expect(validateArgv(["eval", "x"])).toBe("'eval' runs its arguments as shell code, but no shell runs this command; set shell: true to run shell code")
    expect(validateArgv(["env", "A=1", "/bin/bash", "-c", "x"])).toBe(
      "'bash -c' is shell code, but no shell runs this command; set shell: true to run shell code"
    )
    expect(validateArgv(["echo", "a\nb"])).toBe("Newlines are not allowed in commands")
    expect(validateArgv(["echo", "a\u0000"])).toBe("Null bytes are not allowed in commands")
    expect(validateArgv(["x".repeat(4097)])).toBe("Command too long (max 4096 chars)")
  })
})

describe("validateSendKeys", () => {
  it.each(["C-c", "Enter", "M-x", "Escape", "echo hello", "q", "F10", "C-cc", "BSpace"])("accepts %j", (k) => {
    expect(validateSendKeys(k)).toBeNull()
  })
  const typed = (what: string) => `${what} in the shell the keys are typed into; send one simple command`
  it.each([
    ["ls; rm x", typed("';' would chain commands")],
    ["ls && x", typed("'&&' would chain commands")],
    ["ls || x", typed("'||' would chain commands")],
    ["ls | x", typed("'|' would pipe into another command")],
    ["echo $(id)", typed("'$(…)' would run a command (command substitution)")],
    ["echo `id`", typed("backticks would run a command (command substitution)")],
    ["echo 'a;b'", typed("';' would chain commands")], // typed text: quotes protect nothing
    ["ls >/tmp/x", typed("'>' would redirect output to a file")],
    ["cat </etc/passwd", typed("'<' would redirect input from a file")],
    ["Eval x", typed("'eval' would run shell code")],
    ["source x", typed("'source' would run a file as shell code")],
    ["exec x", typed("'exec' would replace the shell")]
  ])("rejects %j readably", (k, reason) => expect(validateSendKeys(k)).toBe(reason))
  it("rejects", () => {
    expect(validateSendKeys("")).toBe("Keys cannot be empty")
    expect(validateSendKeys("k".repeat(4097))).toBe("Keys too long (max 4096 chars)")
    expect(validateSendKeys("a\u0000")).toBe("Null bytes are not allowed in keys")
    expect(validateSendKeys("ls\nrm x")).toBe("Newlines are not allowed in keys")
  })
  // typed into bash, C-o (U+000F) accepts the line: `touch A<C-o>touch B` would run two commands
  it.each(["touch A\u000ftouch B", "x\u001b[A", "a\tb", "a\u0003", "a\u007f", "a\u009bb", "\u001b"])("rejects the control character in %j", (k) => {
    expect(validateSendKeys(k)).toBe(
      "Control characters are not allowed in keys; send a control key by its name (C-c, Escape, Tab, ...) on its own"
    )
  })
})

describe("validateSocketName / validateWorkingDir", () => {
  it("socket names", () => {
    expect(validateSocketName("bots")).toBeNull()
    expect(validateSocketName("kstlib-test_1.x")).toBeNull()
    expect(validateSocketName("")).toBe("Socket name cannot be empty")
    expect(validateSocketName("a/b")).toBe("Invalid socket name: 'a/b'")
    expect(validateSocketName("a\\b")).toBe("Invalid socket name: 'a\\b'")
    expect(validateSocketName("a\u0000b")).toBe("Invalid socket name: 'a\u0000b'")
    expect(validateSocketName("s".repeat(65))).toBe("Socket name too long (max 64 chars)")
  })
  it("working dirs", () => {
    expect(validateWorkingDir("/srv/app")).toBeNull()
    expect(validateWorkingDir("./rel dir")).toBeNull()
    expect(validateWorkingDir("")).toBe("Working directory cannot be empty")
    expect(validateWorkingDir("/a\nb")).toBe("Newlines are not allowed in working directory")
    expect(validateWorkingDir("/a\u0000")).toBe("Null bytes are not allowed in working directory")
    expect(validateWorkingDir("/" + "d".repeat(4096))).toBe("Working directory too long (max 4096 chars)")
  })
})
