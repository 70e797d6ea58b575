// Builds the web app into dist/: app.js (ES modules: the pages, with the replay player and
// the charts split into chunks loaded when a page needs them) and app.css (ours, then
// rrweb's player styles).
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist", { recursive: true });
await build({
  entryPoints: ["src/main.tsx"],
  bundle: true,
  splitting: true,
  minify: true,
  format: "esm",
  target: ["es2020"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  entryNames: "[name]",
  chunkNames: "chunk-[hash]",
  outdir: "dist",
  logLevel: "warning",
});
writeFileSync(
  "dist/app.css",
  readFileSync("src/app.css", "utf8") + readFileSync("node_modules/@rrweb/replay/dist/style.min.css", "utf8"),
);
