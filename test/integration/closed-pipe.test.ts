/**
 * A reader that closes the CLI's output early (`overhaul validate ... | head -1`) ends the output,
 * not the command: no unhandled EPIPE, no stack trace, the command's own exit code. The pipe is
 * closed before the built CLI (a new Node process) can write anything, so every write meets it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCli } from "../support/cli.js";

const INV = "[web]\nweb[01:40] overhaul_rack=r1\n\n[web:vars]\nansible_connection=local\n";
const PLAN = `name: p
hosts: web
steps:
${Array.from({ length: 30 }, (_, i) => `  - { name: s${i}, kind: command, run: "true" }\n`).join("")}`;

describe("closed output pipe", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "overhaul-pipe-"));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "plan.yaml"), PLAN);
    writeFileSync(join(dir, "bad.yaml"), "name: p\nhosts: web\nsteps: []\n");
    writeFileSync(join(dir, "inventory.ini"), INV);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Run the CLI with its stdout (and optionally stderr) closed by the reader at once. */
  function closedEarly(args: string[], closeStderr = false) {
    const p = startCli(args, { cwd: dir });
    p.child.stdout?.destroy();
    if (closeStderr) p.child.stderr?.destroy();
    return p.done;
  }

  it.each([
    ["validate", ["validate", "plan.yaml", "-i", "inventory.ini"]],
    ["validate --json", ["validate", "plan.yaml", "-i", "inventory.ini", "--json"]],
    ["inventory list", ["inventory", "list", "-i", "inventory.ini"]],
    ["--help", ["--help"]],
  ])("%s: ends quietly with exit 0", async (_name, args) => {
    const r = await closedEarly(args);
    expect(r.stderr).toBe("");
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
  });

  it("a command that fails keeps its own exit code, and its error still reaches stderr", async () => {
    const r = await closedEarly(["validate", "bad.yaml", "--json"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^overhaul: bad\.yaml:3:8: steps: /);
    expect(r.stderr).not.toMatch(/EPIPE|\n\s+at .+:\d+:\d+/);
  });

  it("with stderr closed too, the exit code is still the command's own", async () => {
    expect((await closedEarly(["validate", "bad.yaml", "--json"], true)).code).toBe(2);
    expect((await closedEarly(["validate", "plan.yaml", "-i", "inventory.ini"], true)).code).toBe(0);
  });
});
