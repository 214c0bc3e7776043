/**
 * `overhaul report` through the built CLI on a real (local-transport) run: every format, the
 * format taken from `-o`'s extension, byte-identical output for the same run, and exit 2 for an
 * unknown run or format. Needs no browser (the Chromium check is report-html.test.ts).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "../support/cli.js";

let work: string;
let runId = "";
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "overhaul-report-cli-"));
  cpSync(join(ROOT, "examples/quickstart"), join(work, "examples/quickstart"), { recursive: true });
  writeFileSync(
    join(work, "plan.yaml"),
    `name: tiny
hosts: eu_west
steps:
  - { name: one, kind: command, run: "true", idempotent: true }
  - { name: two, kind: command, run: "true", idempotent: true }
`,
  );
  const r = await runCli(
    ["run", "plan.yaml", "-i", "examples/quickstart/inventory.ini", "-l", "eu_west", "-q"],
    {
      cwd: work,
    },
  );
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const cli = (args: string[]) => runCli(args, { cwd: work });

describe("overhaul report", () => {
  it("prints text by default and JSON, Markdown and HTML on request; the same bytes each time", async () => {
    const [text, json1, json2, md, html] = await Promise.all([
      cli(["report"]),
      cli(["report", "--json"]),
      cli(["report", "--format", "json"]),
      cli(["report", "--format", "md"]),
      cli(["report", "--format", "html"]),
    ]);
    for (const r of [text, json1, json2, md, html]) expect(r.code, r.stderr).toBe(0);
    expect(text.stdout).toMatch(/report of run r-\S+ {2}SUCCEEDED/);
    expect(text.stdout).toMatch(/eu-west +4 +4 +0/);
    expect(md.stdout).toMatch(/^# Run r-\S+: succeeded/);
    expect(html.stdout).toMatch(/^<!doctype html>/);
    expect(json2.stdout).toBe(json1.stdout);
    const json = JSON.parse(json1.stdout);
    expect(json.schema).toBe("overhaul.report/1");
    expect(json.stages).toEqual(["one", "two"]);
    expect(json.totals).toMatchObject({ hosts: 4, done: 4, failed: 0, retries: 0, rollbacks: 0 });
    expect(json.regions.map((g: { region: string }) => g.region)).toEqual(["eu-west"]);
    expect(json.workloadDowntime.p50Ms).toBeNull();
    runId = json.run.id;
  });

  it("-o FILE writes the file in the format its extension names", async () => {
    const cases = [
      ["r.html", /^<!doctype html>/],
      ["r.json", /^\{\n {2}"failures": \[\]/],
      ["r.md", /^# Run r-/],
      ["r.txt", /^report of run /],
    ] as const;
    const results = await Promise.all(cases.map(([file]) => cli(["report", runId, "-o", join(work, file)])));
    cases.forEach(([file, probe], i) => {
      const r = results[i];
      expect(r?.code, r?.stderr).toBe(0);
      expect(r?.stdout).toBe("");
      expect(readFileSync(join(work, file), "utf8")).toMatch(probe);
    });
  });

  it("exits 2 for an unknown run or format", async () => {
    const [run, format] = await Promise.all([cli(["report", "r-nope"]), cli(["report", "--format", "pdf"])]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no run "r-nope"');
    expect(format.code).toBe(2);
  });
});
