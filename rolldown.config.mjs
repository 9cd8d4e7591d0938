// The CLI bundle (dist/kstlib.mjs): one tree-shaken file, loaded by dist/cli/bin.js.
const SEGMENTER = /const graphemeSegmenter = \/\*#__PURE__\*\/new Intl\.Segmenter\(undefined, \{\s*granularity: "grapheme"\s*\}\);/u

export default {
  input: "dist/cli/main.js",
  platform: "node",
  logLevel: "warn",
  output: { file: "dist/kstlib.mjs", format: "esm", minify: true, sourcemap: true },
  plugins: [{
    // effect/cli builds an Intl.Segmenter when its module loads (~20 ms of every start, loading ICU
    // data); only help and table widths use it: build it on first use instead.
    name: "kstlib-lazy-segmenter",
    transform(code, id) {
      if (!id.replaceAll("\\", "/").endsWith("effect/dist/cli/CliOutput.js")) return null
      if (!SEGMENTER.test(code)) this.error("effect/cli CliOutput.js changed: update the lazy Intl.Segmenter rewrite")
      return code.replace(
        SEGMENTER,
        `let graphemeSegmenterInstance; const graphemeSegmenter = { segment: (text) => (graphemeSegmenterInstance ??= new Intl.Segmenter(undefined, { granularity: "grapheme" })).segment(text) };`
      )
    }
  }]
}
