/**
 * Dependency direction (docs/architecture.md):
 *   cli -> engine -> ports <- adapters;  core is pure.
 * core: no node:*, no adapters, no engine, no cli, no I/O packages.
 * adapters never import each other; only cli (the composition root) wires them.
 */
const ADAPTERS = "^src/adapters/([^/]+)/";
module.exports = {
  forbidden: [
    {
      name: "core-is-pure",
      severity: "error",
      comment: "core/ may import only core/ and pure libraries (zod, yaml, safe-regex).",
      from: { path: "^src/core/" },
      to: {
        pathNot: ["^src/core/", "node_modules/(zod|yaml|safe-regex)/"],
      },
    },
    {
      name: "core-no-node-builtins",
      severity: "error",
      from: { path: "^src/core/" },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "ports-are-interfaces",
      severity: "error",
      comment: "ports/ import only core/ types and each other.",
      from: { path: "^src/ports/" },
      to: { pathNot: ["^src/ports/", "^src/core/"] },
    },
    {
      name: "engine-uses-ports-not-adapters",
      severity: "error",
      from: { path: "^src/(engine|steps)/" },
      to: { path: ["^src/adapters/", "^src/cli/"] },
    },
    {
      name: "engine-no-node-builtins",
      severity: "error",
      comment: "engine/ and steps/ reach the world only through ports (clock, randomness, I/O).",
      from: { path: "^src/(engine|steps)/" },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "adapters-do-not-import-each-other",
      severity: "error",
      from: { path: ADAPTERS },
      to: { path: "^src/adapters/", pathNot: "^src/adapters/$1/" },
    },
    {
      name: "adapters-not-engine-or-cli",
      severity: "error",
      from: { path: "^src/adapters/" },
      to: { path: ["^src/engine/", "^src/cli/", "^src/steps/"] },
    },
    {
      name: "server-uses-ports-not-adapters",
      comment:
        "server/ (HTTP API, live events, metrics) is wired by cli/commands/serve.ts: it sees ports, engine and core, never an adapter or the CLI (decision 0008).",
      severity: "error",
      from: { path: "^src/server/" },
      to: { path: ["^src/adapters/", "^src/cli/"] },
    },
    {
      name: "only-cli-imports-server",
      severity: "error",
      from: { path: "^src/(core|ports|engine|steps|adapters)/" },
      to: { path: "^src/server/" },
    },
    {
      name: "no-circular",
      severity: "error",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "\\.test\\.ts$" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default"],
    },
  },
};
