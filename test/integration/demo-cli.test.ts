/**
 * `overhaul demo` through the built CLI, in an empty directory: the built-in fleet, plan and
 * scenario; one host never comes back and is rolled back, one upgrade fails once and succeeds on
 * retry; every invariant holds (exit 0) and the reports land in .overhaul/demo/. The paced demo's
 * wall time is only logged, never asserted.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "overhaul-demo-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface ReportHost {
  host: string;
  state: string;
  retries: number;
  reason: string | null;
  reverted: boolean;
}

describe("overhaul demo", () => {
  /** report.json of the --fast demo. */
  let fastReport: string | undefined;

  it("--fast: the injected failures happen, the invariants hold, the reports are written", async () => {
    const dir = mkdtempSync(join(work, "fast-"));
    const r = await runCli(["demo", "--fast"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/r02-h003 FAILED: step "reboot" failed after 3 attempt\(s\)/);
    expect(r.stderr).toMatch(
      /r03-h002 step upgrade attempt 1 failed: .*injected failure of version set 2\.0/,
    );
    // In words, with what was counted: never "workload-lost 48", which reads as 48 lost.
    expect(r.stderr).toMatch(
      /\ninvariants hold: no workload lost \(48 workloads\), none on two hosts at once \(\d+ placements and removals\), /,
    );
    expect(r.stderr).not.toMatch(/workload-lost \d/);
    expect(r.stderr).toContain(".overhaul/demo/report.html");

    fastReport = readFileSync(join(dir, ".overhaul/demo/report.json"), "utf8");
    const out = JSON.parse(fastReport);
    expect(out.invariants).toMatchObject({ ok: true, violations: [] });
    expect(out.simulation).toMatchObject({ hosts: 12, workloads: 48, coordinators: 1, unfinished: null });
    const hosts = new Map<string, ReportHost>(out.report.hosts.map((h: ReportHost) => [h.host, h]));
    expect(hosts.size).toBe(12);

    const dead = hosts.get("r02-h003");
    expect(dead).toMatchObject({ state: "failed", reverted: true });
    expect(dead?.reason).toMatch(/^step "reboot" failed after 3 attempt\(s\): .*\(rolled back\)$/);
    expect(out.report.failures).toHaveLength(1);
    expect(out.report.failures[0]).toMatchObject({ host: "r02-h003", step: "reboot", state: "failed" });

    const retried = hosts.get("r03-h002");
    expect(retried).toMatchObject({ state: "succeeded", retries: 1, reason: null, reverted: false });
    for (const h of hosts.values()) if (h.host !== "r02-h003") expect(h.state, h.host).toBe("succeeded");

    // Workloads really moved: drained and put back, with their downtime measured.
    const dt = out.report.workloadDowntime;
    expect(dt.samples).toBeGreaterThan(48);
    expect(dt.note).toBeNull();
    expect(dt.p50Ms).toBeGreaterThan(0);
    expect(dt.maxMs).toBeGreaterThanOrEqual(dt.p99Ms);
    for (const g of out.report.regions) expect(g.workloadDowntime.samples, g.region).toBeGreaterThan(0);

    for (const f of ["report.md", "report.txt", "report.html"])
      expect(readFileSync(join(dir, ".overhaul/demo", f), "utf8"), f).toContain("r02-h003");
  });

  it("--json: the report, the invariants, the simulation figures and the warnings on stdout, as --help says", async () => {
    const dir = mkdtempSync(join(work, "json-"));
    const r = await runCli(["demo", "--json"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(Object.keys(JSON.parse(r.stdout))).toEqual(["invariants", "report", "simulation", "warnings"]);
    expect(r.stdout).toBe(readFileSync(join(dir, ".overhaul/demo/report.json"), "utf8"));
    const help = await runCli(["demo", "--help"], { cwd: dir });
    expect(help.stdout.replace(/\s+/g, " ")).toContain(
      "--json print the report, the invariants, the simulation figures and the warnings as JSON on stdout",
    );
  });

  it("paced: the same outcome, watched in compressed time (wall time logged only)", async () => {
    const dir = mkdtempSync(join(work, "paced-"));
    const t0 = performance.now();
    const r = await runCli(["demo"], { cwd: dir });
    console.log(`overhaul demo (paced): ${Math.round(performance.now() - t0)} ms wall`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("invariants hold");
    // Pacing changes how fast time passes, never what happens: the very same report.
    expect(fastReport).toBeDefined();
    expect(readFileSync(join(dir, ".overhaul/demo/report.json"), "utf8")).toBe(fastReport);
  });
});
