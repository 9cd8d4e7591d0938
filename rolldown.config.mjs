// The CLI bundle (dist/kstlib.mjs): one tree-shaken file, loaded by dist/cli/bin.js.
const SEGMENTER = /const graphemeSegmenter = \/\*#__PURE__\*\/new Intl\.Segmenter\(undefined, \{\s*granularity: "grapheme"\s*\}\);/u

export default {
  input: "dist/cli/main.js",
  platform: "node",
  logLevel: "warn",
  // codeSplitting false: one file, a lazy import (smol-toml for TOML includes) inlined
  output: { file: "dist/kstlib.mjs", format: "esm", minify: true, sourcemap: true, codeSplitting: false },
  plugins: [{
    // effect/cli builds an Intl.Segmenter when its module loads (~20 ms of every start, loading ICU
    // data); only help and table widths use it: build it on first use instead.
    name: "kstlib-lazy-segmenter",
    transform(code, id) {
      if (!id.replaceAll("\\", "/").endsWith("effect/dist/cli/CliOutput.js")) return null
      if (!SEGMENTER.test(code)) this.error("effect/cli CliOutput.js changed: update the lazy Intl.Segmenter rewrite")
      // Same number of lines as the original statement: the module's source map stays exact (map: null).
      const code2 = code.replace(SEGMENTER, (original) =>
        `let graphemeSegmenterInstance; const graphemeSegmenter = { segment: (text) => (graphemeSegmenterInstance ??= new Intl.Segmenter(undefined, { granularity: "grapheme" })).segment(text) };` +
        "\n".repeat(original.split("\n").length - 1))
      return { code: code2, map: null }
    }
  }]
}
