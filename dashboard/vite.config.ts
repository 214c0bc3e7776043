// The dashboard of `overhaul serve`: a small TypeScript single-page app, built into dashboard/dist,
// which the service serves at / (src/server/static.ts). `npm run build` builds it.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, target: "es2022" },
  logLevel: "warn",
});
