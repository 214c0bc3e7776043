/**
 * The report builder, table-driven over synthetic event lists: what counts as a retry (not a
 * crash re-run), a rollback, a failure; per-region makespan; waves; stage order; determinism;
 * workload downtime that stays null until there is data.
 */
import { describe, expect, it } from "vitest";
import { events, host, input, syntheticFleet, T0 } from "../../../test/support/report-fixtures.js";
import { buildReport } from "./build.js";
import { canonicalJson } from "./canonical-json.js";
import { NO_WORKLOADS_NOTE } from "./figures.js";

const A = "web01";
const ok = (step: string, from: number, to: number, attempt = 1) =>
  [
    [A, from, "attempt.started", { step, attempt }],
    [A, to, "attempt.succeeded", { step, attempt }],
    [A, to, "step.succeeded", { step }],
  ] as const;

describe("buildReport: one host's figures from its events", () => {
  it.each([
    {
      name: "clean pass",
      state: "succeeded",
      evs: [
        [A, 0, "host.started", { wave: 0 }],
        ...ok("a", 0, 100),
        ...ok("b", 100, 300),
        [A, 300, "host.succeeded"],
      ],
      want: { done: 1, retries: 0, rollbacks: 0, makespanMs: 300, segments: 2, marks: [] as string[] },
    },
    {
      name: "one retry",
      state: "succeeded",
      evs: [
        [A, 0, "host.started", { wave: 0 }],
        [A, 0, "attempt.started", { step: "a", attempt: 1 }],
        [A, 50, "attempt.failed", { step: "a", attempt: 1, reason: "exit 1", retryInMs: 100 }],
        ...ok("a", 150, 200, 2),
        [A, 200, "host.succeeded"],
      ],
      want: { done: 1, retries: 1, rollbacks: 0, makespanMs: 200, segments: 2, marks: ["attempt-failed"] },
    },
    {
      name: "crash re-run of attempt 2 is not a second retry",
      state: "succeeded",
      evs: [
        [A, 0, "host.started", { wave: 0 }],
        [A, 0, "attempt.started", { step: "a", attempt: 1 }],
        [A, 10, "attempt.failed", { step: "a", attempt: 1, reason: "x", retryInMs: 5 }],
        [A, 20, "attempt.started", { step: "a", attempt: 2 }],
        [A, 900, "attempt.unknown", { step: "a", attempt: 2, phase: "run", resolution: "rerun" }],
        ...ok("a", 900, 950, 2),
        [A, 950, "host.succeeded"],
      ],
      want: { done: 1, retries: 1, rollbacks: 0, makespanMs: 950, segments: 3, marks: ["attempt-failed"] },
    },
    {
      name: "retries run out, rolled back",
      state: "failed",
      evs: [
        [A, 0, "host.started", { wave: 0 }],
        ...ok("a", 0, 10),
        [A, 10, "attempt.started", { step: "b", attempt: 1 }],
        [A, 20, "attempt.failed", { step: "b", attempt: 1, reason: "boom", retryInMs: 5 }],
        [A, 25, "attempt.started", { step: "b", attempt: 2 }],
        [A, 30, "attempt.failed", { step: "b", attempt: 2, reason: "boom", final: true }],
        [A, 30, "host.reverting", { reason: "b failed", from: "a" }],
        [A, 30, "revert.started", { step: "a", attempt: 1 }],
        [A, 40, "revert.succeeded", { step: "a" }],
        [A, 40, "host.failed", { reason: 'step "b" failed (rolled back)' }],
      ],
      want: {
        failed: 1,
        retries: 1,
        rollbacks: 1,
        makespanMs: 40,
        segments: 4,
        marks: ["attempt-failed", "attempt-failed", "failed"],
      },
    },
    {
      name: "failed with nothing to revert is not a rollback",
      state: "failed",
      evs: [
        [A, 0, "host.started", { wave: 0 }],
        [A, 0, "attempt.started", { step: "a", attempt: 1 }],
        [A, 5, "attempt.failed", { step: "a", attempt: 1, reason: "no", final: true }],
        [A, 5, "host.failed", { reason: "a failed" }],
      ],
      want: {
        failed: 1,
        retries: 0,
        rollbacks: 0,
        makespanMs: 5,
        segments: 1,
        marks: ["attempt-failed", "failed"],
      },
    },
    {
      name: "parked in doubt",
      state: "in_doubt",
      evs: [
        [A, 0, "host.started", { wave: 0 }],
        [A, 0, "attempt.started", { step: "a", attempt: 1 }],
        [A, 70, "attempt.unknown", { step: "a", attempt: 1, reason: "timeout", resolution: "park" }],
        [A, 70, "host.in_doubt", { reason: "outcome unknown" }],
      ],
      want: { inDoubt: 1, retries: 0, rollbacks: 0, makespanMs: 70, segments: 1, marks: ["in_doubt"] },
    },
    {
      name: "in doubt during the revert; the operator resumes it; rolled back",
      state: "failed",
      evs: [
        [A, 0, "host.started", { wave: 0 }],
        ...ok("a", 0, 10),
        [A, 10, "attempt.started", { step: "b", attempt: 1 }],
        [A, 20, "attempt.failed", { step: "b", attempt: 1, reason: "boom", final: true }],
        [A, 20, "host.reverting", { reason: "b failed", from: "a" }],
        [A, 20, "revert.started", { step: "a", attempt: 1 }],
        [A, 90, "attempt.unknown", { step: "a", attempt: 1, phase: "revert", resolution: "park" }],
        [A, 90, "host.in_doubt", { reason: "revert outcome unknown" }],
        [A, 500, "host.retried", { from: "in_doubt" }],
        [A, 510, "revert.started", { step: "a", attempt: 1 }],
        [A, 520, "revert.succeeded", { step: "a" }],
        [A, 520, "host.failed", { reason: "b failed (rolled back)" }],
      ],
      want: {
        failed: 1,
        retries: 0,
        rollbacks: 1,
        makespanMs: 520,
        segments: 4,
        marks: ["attempt-failed", "in_doubt", "retried", "failed"],
      },
    },
    {
      name: "failed, retried by an operator, then succeeded",
      state: "succeeded",
      evs: [
        [A, 0, "host.started", { wave: 0 }],
        [A, 0, "attempt.started", { step: "a", attempt: 1 }],
        [A, 5, "attempt.failed", { step: "a", attempt: 1, reason: "no", final: true }],
        [A, 5, "host.failed", { reason: "a failed" }],
        [A, 1000, "host.retried", { from: "failed" }],
        [A, 1100, "host.started", { wave: 0 }],
        ...ok("a", 1100, 1200),
        [A, 1200, "host.succeeded"],
      ],
      want: {
        done: 1,
        retries: 0,
        rollbacks: 0,
        makespanMs: 1200,
        segments: 2,
        marks: ["attempt-failed", "failed", "retried"],
      },
    },
  ] as const)("$name", ({ state, evs, want }) => {
    const r = buildReport(input([host(A, { region: "eu", state })], events(evs)));
    const { segments, marks, ...figures } = want;
    expect(r.totals).toMatchObject(figures);
    expect(r.regions[0]).toMatchObject({ region: "eu", ...figures });
    const h = r.hosts[0];
    expect(h?.segments).toHaveLength(segments);
    expect(h?.marks.map((m) => m.kind)).toEqual(marks);
    expect(h?.reverted).toBe(want.rollbacks === 1);
    for (const rv of h?.reverts ?? []) expect(rv.endMs).toBeGreaterThan(rv.startMs);
  });
});

describe("buildReport: the run", () => {
  const twoRegions = () =>
    input(
      [
        host("eu1", { region: "eu", order: 0 }),
        host("us1", { region: "us", order: 1, wave: 1 }),
        host("eu2", { region: "eu", order: 2, wave: 1, state: "running" }),
      ],
      events([
        ["eu1", 0, "host.started", { wave: 0 }],
        ["eu1", 1000, "host.succeeded"],
        [null, 1500, "wave.started", { wave: 1 }],
        ["us1", 2000, "host.started", { wave: 1 }],
        ["eu2", 2500, "host.started", { wave: 1 }],
        ["eu2", 2500, "attempt.started", { step: "a", attempt: 1 }],
        ["us1", 5000, "host.succeeded"],
      ]),
    );

  it("per-region makespan: first start to last finish of the region's hosts, once they all finished", () => {
    const r = buildReport(twoRegions());
    expect(r.regions.map((g) => [g.region, g.makespanMs, g.makespanSoFarMs, g.done, g.unfinished])).toEqual([
      // eu2 is still running: no makespan yet (as its wave has no finish), the time so far instead:
      // from eu's first start to the last thing the data records (us1's finish at 5 s).
      ["eu", null, 5000, 1, 1],
      ["us", 3000, null, 1, 0],
    ]);
    expect(r.totals).toMatchObject({ makespanMs: null, makespanSoFarMs: 5000, unfinished: 1 });
    expect(r.totals.start).toBe(new Date(T0).toISOString());
    expect(r.totals.end).toBe(new Date(T0 + 5000).toISOString());
  });

  it("once every host finished, the makespan is final and there is no time so far", () => {
    const i = twoRegions();
    const done = input(
      i.hosts.map((h) => ({ ...h, state: "succeeded" })),
      [...i.events, { seq: 99, host: "eu2", at: T0 + 7000, type: "host.succeeded", data: {} }],
    );
    const r = buildReport(done);
    expect(r.totals).toMatchObject({ makespanMs: 7000, makespanSoFarMs: null });
    expect(r.regions.map((g) => [g.makespanMs, g.makespanSoFarMs])).toEqual([
      [7000, null],
      [3000, null],
    ]);
  });

  it("hosts are grouped by region in start order; an unfinished attempt is open to the end", () => {
    const r = buildReport(twoRegions());
    expect(r.hosts.map((h) => h.host)).toEqual(["eu1", "eu2", "us1"]);
    expect(r.hosts[1]?.segments).toEqual([
      { kind: "attempt", stage: 0, attempt: 1, startMs: 2500, endMs: 5000, outcome: "open", reason: null },
    ]);
  });

  it("waves: opened by wave.started (or the first start), finished when every host is", () => {
    expect(buildReport(twoRegions()).waves).toEqual([
      { wave: 1, hosts: 1, startMs: 0, endMs: 1000 },
      { wave: 2, hosts: 2, startMs: 1500, endMs: null },
    ]);
  });

  it("stages: plan order first, then steps only the data names", () => {
    const i = { ...twoRegions(), steps: ["z", "a"] };
    expect(buildReport(i).stages).toEqual(["z", "a"]);
    expect(buildReport({ ...twoRegions(), steps: ["z"] }).stages).toEqual(["z", "a"]);
  });

  it("is deterministic: shuffled input gives byte-identical JSON with sorted keys", () => {
    const a = syntheticFleet(3, 20);
    const b = { ...a, hosts: [...a.hosts].reverse(), events: [...a.events].reverse() };
    const ja = canonicalJson(buildReport(a));
    expect(canonicalJson(buildReport(b))).toBe(ja);
    expect(canonicalJson(buildReport(a))).toBe(ja);
    expect(Object.keys(JSON.parse(ja))).toEqual([...Object.keys(JSON.parse(ja))].sort());
  });

  it("a synthetic fleet adds up: retries, rollbacks, failures with reasons", () => {
    const r = buildReport(syntheticFleet(4, 50));
    expect(r.totals).toMatchObject({ hosts: 200, failed: 4, rollbacks: 4, retries: 29 });
    expect(r.failures).toHaveLength(4);
    expect(r.failures[0]).toMatchObject({ state: "failed", step: "reboot" });
    expect(r.failures[0]?.reason).toContain("never returned");
    expect(r.regions.reduce((n, g) => n + g.hosts, 0)).toBe(200);
  });

  it("workload downtime is null with a note until there are workloads; nearest-rank otherwise", () => {
    const none = buildReport(twoRegions()).workloadDowntime;
    expect(none).toEqual({ samples: 0, p50Ms: null, p99Ms: null, maxMs: null, note: NO_WORKLOADS_NOTE });
    const samples = Array.from({ length: 100 }, (_, i) => ({
      host: i < 50 ? "eu1" : "us1",
      downtimeMs: i + 1,
    }));
    const r = buildReport({ ...twoRegions(), workloadDowntime: samples });
    expect(r.workloadDowntime).toEqual({ samples: 100, p50Ms: 50, p99Ms: 99, maxMs: 100, note: null });
    expect(r.regions.map((g) => g.workloadDowntime.maxMs)).toEqual([50, 100]);
  });

  describe("a host aborted before it started finishes nothing", () => {
    // Region eu: a1 works 0-3 s; a2 waits (the run paused) and is aborted at 20 s; b1 (us, wave 2) 3-6 s.
    const pausedThenAborted = () =>
      input(
        [
          host("a1", { region: "eu", order: 0 }),
          host("b1", { region: "us", order: 1, wave: 1 }),
          host("a2", { region: "eu", order: 2, wave: 1, state: "aborted", reason: "abort by op" }),
          host("c1", { region: "eu", order: 3, wave: 2, state: "aborted", reason: "abort by op" }),
        ],
        events([
          ["a1", 0, "host.started", { wave: 0 }],
          ...ok("a", 0, 3000).map(([, at, type, data]) => ["a1", at, type, data] as const),
          ["a1", 3000, "host.succeeded"],
          [null, 3000, "wave.started", { wave: 1 }],
          ["b1", 3000, "host.started", { wave: 1 }],
          ["b1", 6000, "host.succeeded"],
          ["a2", 20_000, "host.aborted", { reason: "abort by op", step: null, after: null }],
          ["c1", 20_000, "host.aborted", { reason: "abort by op", step: null, after: null }],
        ]),
      );

    it("no finish at the abort: makespans and wave spans end at the last host that worked", () => {
      const r = buildReport(pausedThenAborted());
      expect(r.totals).toMatchObject({ aborted: 2, unfinished: 0, makespanMs: 6000 });
      expect(r.totals.end).toBe(new Date(T0 + 6000).toISOString());
      expect(r.regions.map((g) => [g.region, g.makespanMs])).toEqual([
        ["eu", 3000],
        ["us", 3000],
      ]);
      expect(r.waves).toEqual([
        { wave: 1, hosts: 1, startMs: 0, endMs: 3000 },
        { wave: 2, hosts: 2, startMs: 3000, endMs: 6000 },
        // None of its hosts started: never opened, nothing finished.
        { wave: 3, hosts: 1, startMs: null, endMs: null },
      ]);
      const a2 = r.hosts.find((h) => h.host === "a2");
      expect(a2).toMatchObject({ startMs: null, endMs: null });
      expect(a2?.marks).toEqual([{ kind: "aborted", atMs: 20_000, stage: null, reason: "abort by op" }]);
    });

    it("the failures keep the abort's time", () => {
      const r = buildReport(pausedThenAborted());
      expect(r.failures.map((f) => [f.host, f.at, f.step, f.after])).toEqual([
        ["a2", new Date(T0 + 20_000).toISOString(), null, null],
        ["c1", new Date(T0 + 20_000).toISOString(), null, null],
      ]);
      expect(r.timeline.endMs).toBe(20_000);
    });

    it("a host aborted at work finishes at the abort", () => {
      const r = buildReport(
        input(
          [host(A, { region: "eu", state: "aborted" })],
          events([
            [A, 0, "host.started", { wave: 0 }],
            [A, 0, "attempt.started", { step: "a", attempt: 1 }],
            [A, 9000, "host.aborted", { reason: "abort", step: "a", after: null }],
          ]),
        ),
      );
      expect(r.totals.makespanMs).toBe(9000);
      expect(r.waves[0]).toEqual({ wave: 1, hosts: 1, startMs: 0, endMs: 9000 });
    });

    it("a failed host an operator retried and that was aborted while it waited keeps its failure's finish", () => {
      const r = buildReport(
        input(
          [host(A, { region: "eu", state: "aborted" })],
          events([
            [A, 0, "host.started", { wave: 0 }],
            [A, 0, "attempt.started", { step: "a", attempt: 1 }],
            [A, 5, "attempt.failed", { step: "a", attempt: 1, reason: "no", final: true }],
            [A, 5, "host.failed", { reason: "a failed" }],
            [A, 1000, "host.retried", { from: "failed" }],
            [A, 86_400_000, "host.aborted", { reason: "abort", step: null, after: null }],
          ]),
        ),
      );
      expect(r.totals.makespanMs).toBe(5);
      expect(r.hosts[0]).toMatchObject({ startMs: 0, endMs: 5 });
      expect(r.failures[0]?.at).toBe(new Date(T0 + 86_400_000).toISOString());
    });
  });

  it("a run where nothing started: origin is the run's creation, figures are null, not 0", () => {
    const r = buildReport(input([host("a", { state: "pending" })], []));
    expect(r.timeline).toEqual({ origin: new Date(T0 - 1000).toISOString(), endMs: 0 });
    expect(r.totals).toMatchObject({
      unfinished: 1,
      start: null,
      end: null,
      makespanMs: null,
      makespanSoFarMs: null,
    });
    expect(r.regions[0]?.region).toBe("-");
  });
});
