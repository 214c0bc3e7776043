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

describe("overhaul simulate: a run the simulator stops at its 7-day limit", () => {
  it("exits 3 (did not end), with no invariant violation, after 168h of virtual time", async () => {
    // The reboot's timeout (10 days) outlasts the limit, and every boot takes 8 days (polled hourly).
    const plan = file(
      "long-boot.yaml",
      "name: long-boot\nhosts: all\nsteps:\n  - { name: reboot, kind: reboot, timeout: 10d, interval: 1h }\n",
    );
    const scenario = file("boot-8d.yaml", "boot: { min: 8d, max: 8d }\n");
    const args = [
      "simulate",
      plan,
      "--fleet",
      "regions=1,hosts=2",
      "--scenario",
      scenario,
      "--db",
      ":memory:",
    ];
    const [json, text] = await Promise.all([runCli([...args, "--json"]), runCli([...args, "-q"])]);
    expect(json.code, json.stderr).toBe(3);
    const out = JSON.parse(json.stdout);
    expect(out.simulation.unfinished).toMatch(/^the run did not end within 168h of simulated time/);
    expect(out.simulation.virtualMs).toBe(7 * 86_400_000);
    expect(out.invariants).toMatchObject({ ok: true, violations: [] });
    expect(out.invariants.checked["host-unfinished"]).toBe(2);
    expect(text.code, text.stderr).toBe(3);
    expect(text.stderr).toContain("unfinished: the run did not end within 168h");
    expect(text.stderr).toContain("in 168h00m of virtual time");
  });
});

describe("overhaul simulate: coordinator kills at the edges", () => {
  it("a kill at 0s happens: the first coordinator dies at the first instant and a second one finishes", async () => {
    const scenario = file("kill-0s.yaml", "failures:\n  - { kind: coordinator-kill, at: 0s }\n");
    const r = await runCli([
      "simulate",
      DEMO_PLAN,
      "--fleet",
      "regions=1,hosts=4,holdovers=0.25,workloads=2,seed=1",
      "--scenario",
      scenario,
      "--db",
      ":memory:",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.simulation.coordinators).toBe(2);
    expect(out.invariants.ok).toBe(true);
  });
});
