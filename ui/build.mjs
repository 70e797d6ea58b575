// Builds the web app into dist/: app.js (every page, one bundle) and app.css.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";

mkdirSync("dist", { recursive: true });
await build({
  entryPoints: ["src/main.tsx"],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  outfile: "dist/app.js",
  logLevel: "warning",
});
copyFileSync("src/app.css", "dist/app.css");
