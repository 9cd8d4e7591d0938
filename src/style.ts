/**
 * Whether to colour, and how. A bottom-level module (imports nothing of kstlib) so that both the pure
 * renderers (reconcile/render.ts) and the CLI's output helpers share one decision and one painter.
 */
// Not `import … from "node:util"`: an ESM import of a builtin builds its whole namespace, and node:util's
// loads node's colour module, whose NO_COLOR-and-FORCE_COLOR warning `kstlib --help` (bin.ts) would
// then print where the CLI (a CommonJS bundle) does not.
const { styleText } = process.getBuiltinModule("node:util")

export interface Style {
  readonly color: boolean
}

/** The `--color` flag's values. */
export const colorModes = ["auto", "always", "never"] as const
export type ColorMode = typeof colorModes[number]

export type Color = "green" | "yellow" | "red" | "magenta" | "cyan" | "dim" | "bold"

/**
 * Node's own styleText, told not to second-guess us: the decision (flag, env, TTY of the right stream)
 * is made once in styleFor, and styleText's own check would look at stdout even when painting stderr.
 */
export const paint = (style: Style, color: Color, text: string): string =>
  style.color ? styleText(color, text, { validateStream: false }) : text

const set = (v: string | undefined): v is string => v !== undefined && v !== ""

/**
 * Precedence: `--color always|never` > NO_COLOR (https://no-color.org: any non-empty value) >
 * FORCE_COLOR (any non-empty value but `0`) > TERM=dumb (no colour) > the stream is a TTY.
 */
export const styleFor = (
  isTty: boolean,
  env: Readonly<Record<string, string | undefined>>,
  mode: ColorMode = "auto"
): Style => {
  if (mode !== "auto") return { color: mode === "always" }
  if (set(env["NO_COLOR"])) return { color: false }
  if (set(env["FORCE_COLOR"]) && env["FORCE_COLOR"] !== "0") return { color: true }
  return { color: isTty && env["TERM"] !== "dumb" }
}
