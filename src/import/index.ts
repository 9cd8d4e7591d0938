/** `kstlib ops import`'s pure part: file text in, a kstlib config and its report out (see report.ts). */
import { importCompose } from "./compose.js"
import { importPm2 } from "./pm2.js"
import { importProcfile } from "./procfile.js"
import type { Format, Imported, ImportOptions } from "./report.js"
import { importTmuxinator } from "./tmuxinator.js"
import { importTmuxp } from "./tmuxp.js"

export { detectFormat, type Detected } from "./detect.js"
export { importPm2Data } from "./pm2.js"
export { renderConfigYaml, renderYaml } from "./render.js"
export * from "./report.js"

const importers: Readonly<Record<Format, (text: string, o: ImportOptions) => Imported>> = {
  compose: importCompose,
  pm2: importPm2,
  tmuxp: importTmuxp,
  tmuxinator: importTmuxinator,
  procfile: importProcfile
}

export const importText = (format: Format, text: string, o: ImportOptions): Imported => importers[format](text, o)
