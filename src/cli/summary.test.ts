import { describe, expect, it } from "vitest";
import { hostFlowRecord, runRecord } from "../../test/support/records.js";
import { MemoryStore } from "../adapters/store-memory/memory-store.js";
import { nextStep } from "../engine/run-summary.js";
import { renderSummary, summarize } from "./summary.js";

const T0 = Date.UTC(2026, 10, 21, 20, 0);
const HOUR = 3_600_000;

async function runWithWindows(opensAt?: Record<string, number>) {
  const store = new MemoryStore();
  await store.savePlanRevision({ name: "p", hash: "h", body: "b", createdAt: T0 });
  const host = (name: string, region: string, order: number) =>
    hostFlowRecord({ runId: "r1", host: name, order, data: { name, region } });
  await store.createRun(
    runRecord({ id: "r1", createdAt: T0, options: opensAt ? { schedule: { caps: {}, opensAt } } : {} }),
    [host("eu1", "eu", 0), host("eu2", "eu", 1), host("us1", "us", 2)],
    [],
  );
  return { store, run: (await store.getRun("r1"))! };
}

describe("run summary (status): windows", () => {
  it("says which regions wait for their window and which pending hosts wait for it", async () => {
    const { store, run } = await runWithWindows({ us: T0 + 6 * HOUR, eu: T0 + HOUR });
    const s = await summarize(store, run, T0 + 2 * HOUR);
    expect(s.windows).toEqual([
      { region: "eu", opensAt: "2026-11-21T21:00:00.000Z", open: true, pending: 2 },
      { region: "us", opensAt: "2026-11-22T02:00:00.000Z", open: false, pending: 1 },
    ]);
    expect(s.hosts.map((h) => [h.host, h.region, h.waiting])).toEqual([
      ["eu1", "eu", null],
      ["eu2", "eu", null],
      ["us1", "us", "window"],
    ]);
    const text = renderSummary({ color: false, write: () => {}, err: () => {} }, s, { hosts: true });
    expect(text).toContain("windows: eu open, us opens 2026-11-22 02:00 UTC (1 host(s) waiting)");
    expect(text).toMatch(/us1 +pending +1 +\(waiting for its window\)/);
    // Once it opens, nobody waits for a window any more.
    const later = await summarize(store, run, T0 + 6 * HOUR);
    expect(later.windows.every((w) => w.open)).toBe(true);
    expect(later.hosts.every((h) => h.waiting === null)).toBe(true);
  });

  it("a finished run waits for nothing, even with hosts it never started", async () => {
    const { store, run } = await runWithWindows({ us: T0 + 6 * HOUR, eu: T0 + HOUR });
    const s = await summarize(store, { ...run, state: "failed" }, T0 + 2 * HOUR);
    expect(s.windows).toEqual([]);
    expect(s.hosts.every((h) => h.waiting === null)).toBe(true);
  });

  it("a run without windows has none and no host waits for one", async () => {
    const { store, run } = await runWithWindows();
    const s = await summarize(store, run, T0);
    expect(s.windows).toEqual([]);
    expect(s.hosts.every((h) => h.waiting === null)).toBe(true);
  });
});

describe("run summary (status): failures", () => {
  const out = { color: false, write: () => {}, err: () => {} };
  async function runWith(state: "failed" | "aborted") {
    const store = new MemoryStore();
    await store.savePlanRevision({ name: "p", hash: "h", body: "b", createdAt: T0 });
    const reason =
      'run aborted (abort by op) with the outcome of step "upgrade" unknown (the coordinator stopped during it): look at the host';
    await store.createRun(
      runRecord({ id: "r1", createdAt: T0, state }),
      [hostFlowRecord({ runId: "r1", host: "h01", order: 0, state: "in_doubt", reason })],
      [],
    );
    const s = await summarize(store, (await store.getRun("r1"))!, T0);
    return { s, reason, text: renderSummary(out, s) };
  }

  it("an aborted run's in-doubt hosts are listed with why, and the next step is not a retry it would refuse", async () => {
    const { s, reason, text } = await runWith("aborted");
    expect(s.failures).toEqual([{ host: "h01", state: "in_doubt", reason }]);
    expect(text).toContain(`h01 (in_doubt): ${reason}`);
    expect(text).toContain("the run is aborted and cannot be resumed: look at these hosts");
    expect(text).not.toContain("overhaul retry");
  });

  it("a failed run suggests retry or skip of a host of this run, then resume", async () => {
    const { text } = await runWith("failed");
    expect(text).toContain(
      "next: `overhaul retry HOST --run r1` or `overhaul skip HOST --run r1`, then `overhaul resume r1`",
    );
  });
});

describe("run summary (status): the next step of a failed run with hosts that never started", () => {
  const run = { id: "r1", state: "failed" as const };
  it("its failures skipped, within the budget: resume carries on", () => {
    expect(nextStep(run, ["succeeded", "skipped", "pending", "pending"], { maxFailed: 0 })).toBe(
      "`overhaul resume r1` (2 host(s) not finished)",
    );
  });

  it("over the budget: how many failed or in-doubt hosts to retry or skip first, naming the run", () => {
    expect(nextStep(run, ["failed", "in_doubt", "pending"], { maxFailed: 1 })).toBe(
      "`overhaul retry HOST --run r1` or `overhaul skip HOST --run r1` for 1 more of the failed or in-doubt hosts (the failure budget holds 1 host(s) that have not started), then `overhaul resume r1`",
    );
  });

  it("a run with nothing left to do suggests nothing", () => {
    expect(nextStep(run, ["succeeded", "skipped"], { maxFailed: 0 })).toBeNull();
    expect(nextStep({ id: "r1", state: "aborted" }, ["aborted", "succeeded"], { maxFailed: 0 })).toBeNull();
  });
});
