// Builds the browser bundles the server serves, into dist/:
//   userlens.js           the core snippet (one script tag, defines window.userlens)
//   userlens.esm.js       the same core as an ES module for bundlers
//   userlens-recorder.js  session recording, loaded lazily by the core when a session is recorded
//   rrweb-record.js       @rrweb/record alone, only as the baseline of the benchmarks
import { build } from "esbuild";
import { readFileSync } from "node:fs";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url)));
const common = {
  bundle: true,
  minify: true,
  target: ["es2019"],
  legalComments: "none",
  define: { __VERSION__: JSON.stringify(version) },
  logLevel: "warning",
};

await Promise.all([
  build({ ...common, entryPoints: ["src/core/snippet.ts"], format: "iife", outfile: "dist/userlens.js" }),
  build({ ...common, entryPoints: ["src/core/index.ts"], format: "esm", outfile: "dist/userlens.esm.js" }),
  // rrweb's own console warnings are dropped: they would be recorded as the page's console.
  build({
    ...common,
    entryPoints: ["src/recorder/bundle.ts"],
    format: "iife",
    outfile: "dist/userlens-recorder.js",
    drop: ["console", "debugger"],
  }),
  build({ ...common, entryPoints: ["src/baseline/rrweb.ts"], format: "iife", outfile: "dist/rrweb-record.js" }),
]);
