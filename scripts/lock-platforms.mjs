#!/usr/bin/env node
// Completes package-lock.json with the platform-specific optional packages that npm could not
// record because the registry this project is installed from serves only some platforms (it
// answers 404 for e.g. @biomejs/cli-darwin-arm64). Without their entries `npm ci` refuses the
// lock ("Missing: ... from lock file", npm/cli#4828, #8805) even though it would skip them.
// Each added entry carries the version and the os/cpu/libc read from the package name, so npm
// skips it on every other platform exactly as it would with a complete lock.
// Usage: node scripts/lock-platforms.mjs  (after `npm install`); `--check` exits 1 if entries are missing.
import { readFileSync, writeFileSync } from "node:fs";

const OS = [
  "darwin",
  "linux",
  "win32",
  "android",
  "freebsd",
  "openbsd",
  "netbsd",
  "sunos",
  "aix",
  "openharmony",
  "cygwin",
];
const CPU = ["x64", "arm64", "arm", "ia32", "ppc64", "s390x", "riscv64", "loong64", "mips64el", "wasm32"];
const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(file, "utf8"));
const pkgs = lock.packages;
const added = [];

function platformOf(name) {
  const tokens = name
    .toLowerCase()
    .split(/[/@_-]+/)
    .flatMap((t) => (t === "win32" ? ["win32"] : [t]));
  const os = OS.find((o) => tokens.includes(o) || (o === "win32" && tokens.includes("windows")));
  let cpu = CPU.find((c) => tokens.includes(c));
  if (!cpu && tokens.includes("x86")) cpu = "ia32";
  if (!cpu && tokens.includes("universal")) cpu = undefined;
  const libc = tokens.includes("musl")
    ? "musl"
    : os === "linux" && (tokens.includes("gnu") || tokens.includes("glibc"))
      ? "glibc"
      : undefined;
  return { os, cpu, libc };
}

for (const [loc, meta] of Object.entries(pkgs)) {
  if (!meta.optionalDependencies) continue;
  const base = loc === "" ? "" : `${loc}/`;
  for (const [dep, range] of Object.entries(meta.optionalDependencies)) {
    const here = `${base}node_modules/${dep}`;
    const hoisted = `node_modules/${dep}`;
    if (pkgs[here] || pkgs[hoisted]) continue;
    const { os, cpu, libc } = platformOf(dep);
    if (!os && !cpu) continue; // not a platform package: leave it to npm
    const version = String(range).replace(/^[\^~=]/, "");
    const entry = { version, dev: meta.dev === true || undefined, optional: true };
    if (os) entry.os = [os];
    if (cpu) entry.cpu = [cpu];
    if (libc) entry.libc = [libc];
    if (!entry.dev) delete entry.dev;
    pkgs[hoisted] = entry;
    added.push(`${dep}@${version}`);
  }
}

if (process.argv.includes("--check")) {
  if (added.length) {
    console.error(
      `package-lock.json lacks ${added.length} platform entries; run: node scripts/lock-platforms.mjs`,
    );
    process.exit(1);
  }
  process.exit(0);
}
lock.packages = Object.fromEntries(
  Object.entries(pkgs).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : a > b ? 1 : 0)),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added.length} platform entries${added.length ? `: ${added.join(", ")}` : ""}`);
