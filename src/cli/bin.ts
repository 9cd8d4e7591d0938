#!/usr/bin/env node
/**
 * The `kstlib` executable. It runs the CLI from one tree-shaken CommonJS bundle (dist/kstlib.cjs,
 * built by `npm run build`): importing effect's module graph file by file costs ~1 s at every start,
 * the bundle ~0.1 s.
 *
 * The bundle is compiled as a `vm.Script` with a V8 code cache that this file writes after a run
 * (`script.createCachedData()` at exit), so it holds every function that run compiled, not only the
 * top level; a later run of another command adds its own (readCache). Node's own compile cache
 * (`module.enableCompileCache()`) is created right after a module is compiled, before it runs, and
 * V8 compiles the bundle's functions lazily, so with it each start still compiled every function it
 * called (~70 ms of CPU). The cache is code this process runs, so it lives where only its user
 * writes: `$XDG_CACHE_HOME/kstlib/v8` (default `~/.cache/kstlib/v8`, made 0700; never a shared
 * directory such as node's default `$TMPDIR/node-compile-cache`, where another user could plant one),
 * and a file there that is not the user's own or that others may write is not read. Its name holds
 * the bundle's SHA-1 (V8 itself only compares the source's length), the node version and the arch;
 * a checksum of its own: a rejected or damaged cache is rewritten. None with
 * `NODE_DISABLE_COMPILE_CACHE=1` or without a home.
 *
 * `kstlib --version` and `kstlib --help` alone print text captured from the bundle at build time
 * (dist/kstlib-help.js, see rolldown.config.mjs), coloured by the same rule as the CLI's help: such a
 * start loads neither the CLI nor effect.
 */
// Builtins through process.getBuiltinModule, not ESM imports: an ESM import builds the module's whole
// namespace, reading every lazy export (node:crypto's webcrypto, node:util's diff and colours: time,
// and node's NO_COLOR-and-FORCE_COLOR warning, which the CLI itself does not print). node:crypto and
// node:vm only when the CLI runs: loading them costs `--version` ~5 ms.
const { isAscii } = process.getBuiltinModule("node:buffer")
const { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = process.getBuiltinModule("node:fs")
const nodeModule = process.getBuiltinModule("node:module")
const { dirname, isAbsolute, join } = process.getBuiltinModule("node:path")
const { fileURLToPath } = process.getBuiltinModule("node:url")
const sha1 = (data: Buffer) => process.getBuiltinModule("node:crypto").hash("sha1", data, "buffer")

const args = process.argv.slice(2)
const fixed = args.length !== 1 ? null : args[0] === "--version" ? "version" : args[0] === "--help" || args[0] === "-h" ? "help" : null

const printFixed = async (which: "version" | "help"): Promise<boolean> => {
  // A build without the captured texts (an interrupted `npm run build`) falls back to the CLI.
  const captured: { readonly texts: Readonly<Record<"version" | "help" | "helpColor", string>> } | null =
    await import(new URL("../kstlib-help.js", import.meta.url).href).catch(() => null)
  if (captured === null) return false
  const { styleFor } = await import("../style.js")
  const color = which === "help" && styleFor(process.stdout.isTTY === true, process.env).color
  process.stdout.write(captured.texts[color ? "helpColor" : which])
  return true
}

/**
 * The cache file: a header (magic, payload length, payload SHA-1, the list of runs that wrote it) and
 * V8's cached data. A run whose command is not on the list rewrites it at exit: V8's data then holds
 * what the cache held plus what this run compiled, so a first `ops --help` or a failed run does not
 * leave every later `ops list` compiling the rest again. At most MAX_RUNS rewrites (~25 ms each).
 */
const MAGIC = "kstlib-v8-cache-2\n"
const HEADER = MAGIC.length + 4 + 20 + 4
const MAX_RUNS = 32

interface Cache {
  readonly payload: Buffer
  readonly runs: ReadonlyArray<string>
}

/** This user's, and no one else may write it: the only cache (file or directory) that is used. */
const ownPrivate = (st: { readonly uid: number; readonly mode: number }) => st.uid === process.getuid?.() && (st.mode & 0o022) === 0

const readCache = (file: string): Cache | undefined => {
  let data: Buffer
  try {
    const fd = openSync(file, "r")
    try {
      // only a file of this user's that no one else may write (the directory is checked when made)
      const st = fstatSync(fd)
      if (!ownPrivate(st)) return undefined
      data = readFileSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    return undefined
  }
  if (data.length < HEADER || data.toString("latin1", 0, MAGIC.length) !== MAGIC) return undefined
  const runsEnd = HEADER + data.readUInt32LE(MAGIC.length + 24)
  const payload = data.subarray(runsEnd)
  if (runsEnd > data.length || data.readUInt32LE(MAGIC.length) !== payload.length) return undefined
  if (!data.subarray(MAGIC.length + 4, MAGIC.length + 24).equals(sha1(payload))) return undefined
  let runs: unknown
  try {
    runs = JSON.parse(data.toString("utf8", HEADER, runsEnd))
  } catch {
    runs = []
  }
  return { payload, runs: Array.isArray(runs) ? runs.filter((r): r is string => typeof r === "string") : [] }
}

const writeCache = (file: string, payload: Buffer, runs: ReadonlyArray<string>) => {
  const list = Buffer.from(JSON.stringify(runs), "utf8")
  const header = Buffer.alloc(HEADER)
  header.write(MAGIC, 0, "latin1")
  header.writeUInt32LE(payload.length, MAGIC.length)
  sha1(payload).copy(header, MAGIC.length + 4)
  header.writeUInt32LE(list.length, MAGIC.length + 24)
  // A private temporary name, then one rename: a concurrent start reads the old file or the new one.
  const tmp = `${file}.${process.pid}.tmp`
  try {
    writeFileSync(tmp, Buffer.concat([header, list, payload]), { mode: 0o600 })
    renameSync(tmp, file)
    pruneCaches(dirname(file))
  } catch {
    // the cache is an optimisation: a read-only or full directory only costs the next start its compile
    rmSync(tmp, { force: true })
  }
}

/** Other builds' caches (upgrades, other installs): the KEPT_CACHES most recently written stay. */
const KEPT_CACHES = 4
const pruneCaches = (dir: string) => {
  const caches = readdirSync(dir)
    .filter((n) => n.startsWith("kstlib-") && n.endsWith(".v8cache"))
    .map((n) => ({ path: join(dir, n), at: statSync(join(dir, n)).mtimeMs }))
    .sort((a, b) => b.at - a.at)
  for (const old of caches.slice(KEPT_CACHES)) rmSync(old.path, { force: true })
}

/**
 * The user's own cache directory (made 0700), or none: disabled, no home, or a directory that is
 * not the user's own or that others may write.
 */
const cacheDir = (): string | undefined => {
  if (process.env["NODE_DISABLE_COMPILE_CACHE"] === "1") return undefined
  const xdg = process.env["XDG_CACHE_HOME"]
  const home = process.env["HOME"]
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : home !== undefined && isAbsolute(home) ? join(home, ".cache") : undefined
  if (base === undefined) return undefined
  const dir = join(base, "kstlib", "v8")
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const fd = openSync(dir, "r")
    try {
      const st = fstatSync(fd)
      return ownPrivate(st) ? dir : undefined
    } finally {
      closeSync(fd)
    }
  } catch {
    return undefined
  }
}

/** What a run is for the cache: its first two words (`ops list`), and whether it failed. */
const runOf = (exitCode: number): string =>
  args.filter((a) => !a.startsWith("-")).slice(0, 2).join(" ") + (exitCode === 0 ? "" : " (failed)")

const runCli = () => {
  const vm = process.getBuiltinModule("node:vm")
  const file = fileURLToPath(new URL("../kstlib.cjs", import.meta.url))
  const bytes = readFileSync(file)
  const dir = cacheDir()
  const cacheFile = dir === undefined
    ? undefined
    : join(dir, `kstlib-${sha1(bytes).toString("hex", 0, 8)}-${bytes.length}-${process.version}-${process.arch}.v8cache`)
  const cache = cacheFile === undefined ? undefined : readCache(cacheFile)
  // The build writes ASCII only (rolldown's charset: "ascii"): decoded as latin1, the same text is a
  // one-byte string made in one copy (UTF-8 decoding of the ~1 MB bundle costs a few ms more).
  const source = bytes.toString(isAscii(bytes) ? "latin1" : "utf8")
  // The CommonJS wrapper on the first line, so the bundle's own lines keep their numbers.
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname) {${source.startsWith("#!") ? "//" + source.slice(2) : source}\n})`,
    {
      filename: file,
      ...(cache !== undefined ? { cachedData: cache.payload } : {}),
      // an import() of a file outside the bundle (none today: rolldown inlines kstlib's lazy imports)
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER
    }
  )
  if (cacheFile !== undefined) {
    const runs = cache === undefined || script.cachedDataRejected === true ? [] : cache.runs
    process.once("exit", (code) => {
      const run = runOf(code)
      if (runs.length === 0 || (!runs.includes(run) && runs.length < MAX_RUNS)) writeCache(cacheFile, script.createCachedData(), [...runs, run])
    })
  }
  const main = script.runInThisContext() as (...a: ReadonlyArray<unknown>) => void
  const mod = { exports: {} }
  main(mod.exports, nodeModule.createRequire(file), mod, file, dirname(file))
}

if (fixed === null || !(await printFixed(fixed))) runCli()
