import { describe, expect, it } from "vitest"
import {
  DANGEROUS_ENV_KEYS,
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
  it.each(["abc:80", "80:80:80", "127.0.0.1:80:80", "8000-8010:80", "80/sctp", "80/TCP", "123456:80", "80\n"])("rejects format %j", (p) => {
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
  it("checks in insertion order; NUL in a value", () => {
    expect(validateEnv({ "BAD-KEY": "x", LD_PRELOAD: "y" })).toBe("Invalid env key format: BAD-KEY")
    expect(validateEnv({ A: "x\u0000y" })).toBe("Null bytes are not allowed in env values (key: A)")
  })
})

describe("validateCommand", () => {
  const danger = (p: string) => `Potentially dangerous command pattern detected: ${p}`
  it.each([
    ["a;b", ";"], ["cd /x && y", "&&"], ["a || b", "\\|\\|"], ["a | b", "\\|"], ["x $(y)", "\\$\\(.*\\)"], ["x `y`", "`.*`"],
    ["a>b", ">\\s*[/\\w]"], ["python -m app >/dev/null", ">\\s*[/\\w]"], ["echo > é", ">\\s*[/\\w]"], ["x <y", "<\\s*[/\\w]"],
    ["Eval x", "\\beval\\b"], ["my-source", "\\bsource\\b"], ["python --exec x", "\\bexec\\b"], ["python -m exec", "\\bexec\\b"]
  ])("blocks %j reporting %s", (c, p) => expect(validateCommand(c)).toBe(danger(p)))
  it.each(["python app.py &", "2>&1", "echo a > ", "x $(y", "x `y", "echo $HOME", "python -m source_tool", "executor", "execfile", "python -c 'print(1)'"])(
    "allows %j",
    (c) => expect(validateCommand(c)).toBeNull()
  )
  it("length, NUL, newlines (a fix over the original)", () => {
    expect(validateCommand("a".repeat(4096))).toBeNull()
    expect(validateCommand("a".repeat(4097))).toBe("Command too long (max 4096 chars)")
    expect(validateCommand("a\u0000b")).toBe("Null bytes are not allowed in commands")
    expect(validateCommand("a\nb")).toBe("Newlines are not allowed in commands")
    expect(validateCommand("a\rb")).toBe("Newlines are not allowed in commands")
  })
  it("non-strict checks only length and NUL", () => {
    expect(validateCommand("echo a; echo b", { strict: false })).toBeNull()
    expect(validateCommand("cat file | grep pattern", { strict: false })).toBeNull()
    expect(validateCommand("a\u0000", { strict: false })).toBe("Null bytes are not allowed in commands")
  })
})

describe("validateSendKeys", () => {
  it.each(["C-c", "Enter", "M-x", "Escape", "echo hello", "q", "F10", "C-cc", "BSpace"])("accepts %j", (k) => {
    expect(validateSendKeys(k)).toBeNull()
  })
  it("rejects", () => {
    expect(validateSendKeys("")).toBe("Keys cannot be empty")
    expect(validateSendKeys("k".repeat(4097))).toBe("Keys too long (max 4096 chars)")
    expect(validateSendKeys("a\u0000")).toBe("Null bytes are not allowed in keys")
    expect(validateSendKeys("ls | x")).toBe("Potentially dangerous pattern in keys: \\|")
    expect(validateSendKeys("ls\nrm x")).toBe("Newlines are not allowed in keys")
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
