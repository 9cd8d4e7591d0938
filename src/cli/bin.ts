#!/usr/bin/env node
/**
 * The `kstlib` executable. It loads the CLI from one tree-shaken bundle (dist/kstlib.mjs, built by
 * `npm run build`): importing effect's module graph file by file costs ~1 s at every start, the
 * bundle ~0.1 s. V8's compile cache (Node ≥ 22.1) trims repeated starts further.
 */
import * as nodeModule from "node:module"

nodeModule.enableCompileCache?.()
await import(new URL("../kstlib.mjs", import.meta.url).href)
