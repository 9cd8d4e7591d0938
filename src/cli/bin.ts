#!/usr/bin/env node
/**
 * The `kstlib` executable. It loads the CLI from one tree-shaken bundle (dist/kstlib.mjs, built by
 * `npm run build`): importing effect's module graph file by file costs ~1 s at every start, the
 * bundle ~0.1 s. V8's compile cache (Node ≥ 22.1) trims repeated starts further.
 *
 * `kstlib --version` and `kstlib --help` alone print text captured from the bundle at build time
 * (dist/kstlib-help.js, see rolldown.config.mjs), coloured by the same rule as the CLI's help: such a
 * start loads neither the CLI nor effect.
 */
import * as nodeModule from "node:module"

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

if (fixed === null || !(await printFixed(fixed))) {
  nodeModule.enableCompileCache?.()
  await import(new URL("../kstlib.mjs", import.meta.url).href)
}
