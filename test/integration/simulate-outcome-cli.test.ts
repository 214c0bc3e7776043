/**
 * What `overhaul simulate` reports at the end, through the built CLI: the workload downtime
 * figures (from the world's moves, so a killed coordinator hides none), the exit code and the
 * virtual time of a run the simulator had to stop, and coordinator kills at the edges of a run.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "../support/cli.js";

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "overhaul-sim-outcome-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

const DEMO_PLAN = join(ROOT, "examples/demo/plan.yaml");

describe("overhaul simulate: workload downtime", () => {
  it("counts the moves of a killed coordinator: every workload out and back, once each", async () => {
    // One region: 5 workers with 4 workloads each, 1 hold-over. The kill at 5m lands in the
    // first worker's drain: its attempt keeps no result, and the drain the next coordinator
    // re-runs finds nothing left to move.
    const scenario = file("kill-5m.yaml", "failures:\n  - { kind: coordinator-kill, at: 5m }\n");
    const db = join(work, "kill-5m.db");
    const r = await runCli([
      "simulate",
      DEMO_PLAN,
      "--fleet",
      "regions=1,hosts=6,holdovers=0.2,workloads=4,seed=1",
      "--scenario",
      scenario,
      "--db",
      db,
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.simulation.coordinators).toBe(2);
    expect(out.invariants.ok).toBe(true);
    // 5 workers x 4 workloads, each moved out and back.
    expect(out.report.workloadDowntime.samples).toBe(40);
    expect(out.report.regions[0].workloadDowntime.samples).toBe(40);
    // The attempts' results alone (what `overhaul report` reads back from the stored simulation)
    // miss the moves of the drain the kill cut short.
    const stored = await runCli(["--db", db, "report", "--format", "json"], { cwd: work });
    expect(stored.code, stored.stderr).toBe(0);
    expect(JSON.parse(stored.stdout).workloadDowntime.samples).toBeLessThan(40);
  });
});
