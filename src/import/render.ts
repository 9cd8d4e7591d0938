/**
 * The imported config as YAML: a header naming the source and the date, and above each session the
 * keys that were not carried (`# not carried: …`), so the file explains itself. Comment text is
 * escaped (a key holding a line break cannot end the comment and inject YAML).
 */
import * as YAML from "yaml"
import { escapeText } from "../errors.js"
import type { Format, ImportResult } from "./report.js"

export interface RenderMeta {
  /** The source file as the user named it. */
  readonly source: string
  readonly format: Format
  /** `YYYY-MM-DD`. */
  readonly date: string
  /** Where the YAML goes (for the validate hint), null: stdout. */
  readonly output: string | null
}

/** Strings a YAML 1.1 reader (and many a human) takes for booleans: always quoted. */
const BOOLISH = /^(?:y|n|yes|no|on|off|true|false)$/iu

const comment = (lines: ReadonlyArray<string>) => lines.map((l) => ` ${escapeText(l)}`).join("\n")

export const renderYaml = (result: ImportResult, meta: RenderMeta): string =>
  renderConfigYaml(result, [
    `Imported by kstlib ops import from ${meta.source} (${meta.format}) on ${meta.date}.`,
    `Check it with: kstlib ops validate${meta.output === null ? "" : ` --config ${meta.output}`}`
  ])

/** A config as YAML: `header` lines, then the count of what was not carried and where (import, freeze). */
export const renderConfigYaml = (result: ImportResult, header: ReadonlyArray<string>): string => {
  const doc = new YAML.Document(result.config)
  YAML.visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === "string" && BOOLISH.test(node.value)) node.type = "QUOTE_DOUBLE"
    }
  })
  const top = result.notCarried.filter((n) => n.session === undefined)
  doc.commentBefore = comment([
    ...header,
    ...(result.notCarried.length === 0 ? ["Every key was carried."] : [`${result.notCarried.length} key(s) not carried (listed where they belong):`]),
    ...top.map((n) => `not carried: ${n.where}: ${n.why}`)
  ])
  const sessions = doc.getIn(["ops", "sessions"], true)
  if (YAML.isMap(sessions)) {
    for (const pair of sessions.items) {
      const name = YAML.isScalar(pair.key) ? String(pair.key.value) : null
      const mine = result.notCarried.filter((n) => n.session === name)
      if (mine.length > 0 && YAML.isScalar(pair.key)) pair.key.commentBefore = comment(mine.map((n) => `not carried: ${n.where}: ${n.why}`))
    }
  }
  return doc.toString({ lineWidth: 0 })
}
