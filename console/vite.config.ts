// Builds the console into the Python package, where `assay serve` finds it and from where the
// CDK console construct publishes it. Everything is bundled: no CDN at run time.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here("."),
  base: "./",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: here("../layers/core/assay/console/static"),
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    chunkSizeWarningLimit: 400,
  },
  server: { proxy: { "/v1": "http://127.0.0.1:8080", "/config.json": "http://127.0.0.1:8080" } },
});
