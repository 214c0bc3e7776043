/**
 * A run's life after it halts or stops, on virtual time with the memory store: operators' retry and
 * skip let a halted run go on only within its failure budget (and say what holds it otherwise),
 * and `resume` refuses a run that cannot go on.
 */
import { describe, expect, it } from "vitest";
import { renderSummary } from "../../src/cli/summary.js";
import { compilePlan } from "../../src/core/plan/compile.js";
import { parsePlanText } from "../../src/core/plan/load.js";
import { seededRandom } from "../../src/core/policy/random.js";
import { renderReport } from "../../src/core/report/index.js";
import { finishUnheldAbort } from "../../src/engine/abort-unheld.js";
import { reportOfRun } from "../../src/engine/report-of-run.js";
import { summarize } from "../../src/engine/run-summary.js";
import { createRun, hostAction, resumeRun, runAction } from "../../src/engine/runs.js";
import { leaveInDoubt, type Setup, setup, states } from "../support/engine-harness.js";
import { makeHosts } from "../support/scripted-transport.js";

/** failone.yaml of the review: one host at a time, no failure budget (maxFailed 0), h02 fails. */
const FAIL_ONE = `
name: failone
hosts: all
concurrency: { global: 1 }
steps:
  - { name: mark, kind: command, run: "mark", idempotent: true }
  - { name: maybe, kind: command, run: "maybe", idempotent: true }
`;

const failsOn =
  (...bad: string[]) =>
  (h: string, c: string) =>
    c === "maybe" && bad.includes(h) ? { exitCode: 1 } : undefined;

const act = (t: Setup, host: string, action: "retry" | "skip") =>
  t.store
    .getRun(t.run.id)
    .then((run) => hostAction({ store: t.store, clock: t.clock }, run!, host, action, "op"));

describe("a halted run after an operator's skip or retry", () => {
  it("skipping the failed host lets the run go on: the hosts it never started run on resume", async () => {
    const t = await setup(FAIL_ONE, 4, failsOn("h02"));
    const first = await t.coordinator().drive();
    expect(first.run.state).toBe("failed");
    expect(await states(t)).toEqual({ h01: "succeeded", h02: "failed", h03: "pending", h04: "pending" });

    const r = await act(t, "h02", "skip");
    expect(r).toMatchObject({ runState: "running", reopened: true, held: null });
    expect(r.host.state).toBe("skipped");
    const again = await t.coordinator("c2").drive();
    expect(again.run.state).toBe("succeeded");
    expect(await states(t)).toEqual({ h01: "succeeded", h02: "skipped", h03: "succeeded", h04: "succeeded" });
    expect(t.transport.count("h03", "mark")).toBe(1);
  });

  it("a skip that leaves the budget exceeded keeps the run failed and says how many must go first", async () => {
    const t = await setup(
      FAIL_ONE.replace("concurrency: { global: 1 }", "concurrency: { global: 2 }"),
      5,
      failsOn("h01", "h02"),
    );
    expect((await t.coordinator().drive()).run.state).toBe("failed");
    expect((await states(t)).h03).toBe("pending");
    const r = await act(t, "h01", "skip");
    expect(r.runState).toBe("failed");
    expect(r.reopened).toBe(false);
    expect(r.held).toBe(
      "the failure budget is still exceeded: 1 of 5 hosts failed or in doubt (1 failed, 0 in doubt; maxFailed 0); 3 host(s) wait to start until 1 more of the failed or in-doubt hosts are retried or skipped",
    );
    const run = (await t.store.getRun(t.run.id))!;
    // resume --detach (and the API) refuse it; a driving resume only shows it.
    expect(await resumeRun({ store: t.store, clock: t.clock }, run, "op", { drive: true })).toBe(run);
    await expect(resumeRun({ store: t.store, clock: t.clock }, run, "op", { drive: false })).rejects.toThrow(
      /cannot resume run .*: it is failed; the failure budget is still exceeded.*`overhaul skip HOST --run /,
    );
    // The second failure handled too: the run goes on.
    expect((await act(t, "h02", "retry")).reopened).toBe(true);
    expect((await t.coordinator("c2").drive()).run.state).toBe("failed"); // h02 fails again
    expect((await states(t)).h02).toBe("failed");
  });

  it("a retry that leaves another failure over the budget does not reopen the run (nothing would start)", async () => {
    const t = await setup(FAIL_ONE.replace("global: 1", "global: 2"), 3, failsOn("h01", "h02"));
    expect((await t.coordinator().drive()).run.state).toBe("failed");
    const r = await act(t, "h01", "retry");
    expect(r).toMatchObject({ runState: "failed", reopened: false });
    expect(r.host.state).toBe("pending");
    expect(r.held).toMatch(/until 1 more of the failed or in-doubt hosts are retried or skipped/);
    expect((await act(t, "h02", "skip")).reopened).toBe(true);
  });

  it("a finished run whose hosts another run has taken since does not go on, and does not retry them", async () => {
    const t = await setup(FAIL_ONE, 4, failsOn("h02"));
    expect((await t.coordinator().drive()).run.state).toBe("failed");
    // Its hosts were free once it failed: another run takes h02 (failed there) and h03 (never started).
    const deps = { store: t.store, clock: t.clock, random: seededRandom(2) };
    const plan = compilePlan(parsePlanText(FAIL_ONE, "plan.yaml"));
    const other = await createRun(deps, {
      plan,
      planBody: FAIL_ONE,
      planHash: "h",
      hosts: makeHosts(4).filter((h) => h.name === "h02" || h.name === "h03"),
      options: {},
      actor: "test",
    });
    await expect(act(t, "h02", "retry")).rejects.toThrow(
      `refusing to retry h02 in run ${t.run.id}: 1 host(s) belong to a run that is not finished: h02 (run ${other.id}, running; host pending)`,
    );
    expect((await states(t)).h02).toBe("failed");
    const r = await act(t, "h02", "skip");
    expect(r).toMatchObject({ runState: "failed", reopened: false });
    expect(r.held).toContain(
      `run ${t.run.id} does not go on: 1 host(s) belong to a run that is not finished: h03 (run ${other.id}`,
    );
    expect((await t.store.getRun(t.run.id))?.state).toBe("failed");
    // Nor does resume set it going (h02 is skipped now, so only the taken h03 holds it).
    const run = (await t.store.getRun(t.run.id))!;
    for (const drive of [true, false])
      await expect(resumeRun({ store: t.store, clock: t.clock }, run, "op", { drive })).rejects.toThrow(
        `run ${t.run.id} does not go on: 1 host(s) belong to a run that is not finished: h03 (run ${other.id}`,
      );
    expect((await t.store.getRun(t.run.id))?.state).toBe("failed");
  });

  it("a simulated run's hosts are neither retried nor skipped (only `overhaul simulate` drives it)", async () => {
    const t = await setup(FAIL_ONE, 4, failsOn("h02"), {}, { simulated: true });
    expect((await t.coordinator().drive()).run.state).toBe("failed");
    const before = await states(t);
    for (const action of ["retry", "skip"] as const)
      await expect(act(t, "h02", action)).rejects.toMatchObject({ rule: "simulated-run" });
    expect(await states(t)).toEqual(before);
    expect((await t.store.getRun(t.run.id))?.state).toBe("failed");
  });

  it("a skip while the run halts (hosts in flight) lets the live coordinator go on", async () => {
    const plan = `
name: p
hosts: all
concurrency: { global: 2 }
steps:
  - { name: s, kind: command, run: "x", idempotent: true }
  - { name: wait, kind: sleep, duration: 10m }
`;
    const t = await setup(plan, 4, (h, c) => (h === "h01" && c === "x" ? { exitCode: 1 } : undefined));
    const drive = t.coordinator().drive();
    for (let i = 0; (await t.store.getRun(t.run.id))?.state !== "halting"; i++) {
      if (i > 1000) throw new Error("never halted");
      await t.clock.sleep(500);
    }
    expect((await act(t, "h01", "skip")).runState).toBe("running");
    const res = await drive;
    expect(res.run.state).toBe("succeeded");
    expect(await states(t)).toEqual({ h01: "skipped", h02: "succeeded", h03: "succeeded", h04: "succeeded" });
  });

  it("a failed host skipped under a live coordinator no longer counts against the budget", async () => {
    const plan = `
name: p
hosts: all
concurrency: { global: 1 }
failureBudget: { maxFailed: 1 }
steps:
  - { name: s, kind: command, run: "x", idempotent: true }
  - { name: wait, kind: sleep, duration: 1s }
`;
    const t = await setup(plan, 4, (h, c) =>
      (h === "h01" || h === "h03") && c === "x" ? { exitCode: 1 } : undefined,
    );
    const drive = t.coordinator().drive();
    for (let i = 0; (await t.store.getHost(t.run.id, "h01"))?.state !== "failed"; i++) {
      if (i > 1000) throw new Error("h01 never failed");
      await t.clock.sleep(500);
    }
    expect((await act(t, "h01", "skip")).runState).toBe("running");
    // h03 fails a moment later (before the coordinator renews its leases, which would also notice
    // the skip): one failure, within maxFailed 1, so h04 still runs.
    const res = await drive;
    expect(await states(t)).toEqual({ h01: "skipped", h02: "succeeded", h03: "failed", h04: "succeeded" });
    expect(res.run.reason).toBe("1 host(s) failed, 0 in doubt");
  });
});

describe("a run no coordinator holds", () => {
  const PLAN = `
name: p
hosts: all
concurrency: { global: 1 }
steps:
  - { name: once, kind: command, run: "once" }
  - { name: after, kind: command, run: "after", idempotent: true }
`;

  it("status says who holds it and until when, or that nobody does; elapsed time runs on", async () => {
    const t = await setup(PLAN, 2, () => undefined);
    const s0 = await summarize(t.store, t.run, t.run.createdAt + 90_000);
    expect(s0.coordinators).toEqual([]);
    expect(s0.elapsedMs).toBe(90_000);
    const at = t.clock.now();
    await t.store.acquireLeases(t.run.id, "host:42:abc", at, 30_000);
    const s1 = await summarize(t.store, t.run, at + 1_000);
    expect(s1.coordinators).toEqual([{ owner: "host:42:abc", until: new Date(at + 30_000).toISOString() }]);
    const text = renderSummary({ color: false, write: () => {}, err: () => {} }, s1);
    expect(text).toContain(`coordinator: host:42:abc (lease until `);
    // Its leases expired: nobody drives it.
    const s2 = await summarize(t.store, t.run, at + 31_000);
    expect(s2.coordinators).toEqual([]);
    expect(renderSummary({ color: false, write: () => {}, err: () => {} }, s2)).toContain(
      `no coordinator holds this run: nothing runs; \`overhaul resume ${t.run.id}\` carries it on`,
    );
  });

  it("an abort is finished at once: the host whose step was cut off is in doubt, the others aborted", async () => {
    const t = await setup(PLAN, 3, () => undefined);
    await leaveInDoubt(t, "once", null); // a dead coordinator's attempt on h01, its lease expired
    const run = await runAction(
      { store: t.store, clock: t.clock },
      (await t.store.getRun(t.run.id))!,
      "abort",
      "op",
    );
    expect(run.state).toBe("aborting");
    const done = await finishUnheldAbort({ store: t.store, clock: t.clock }, t.run.id, "cli");
    expect(done).toMatchObject({ finished: true, inDoubt: ["h01"] });
    expect((await t.store.getRun(t.run.id))?.state).toBe("aborted");
    expect(await states(t)).toEqual({ h01: "in_doubt", h02: "aborted", h03: "aborted" });
    expect((await t.store.getAttempts(t.run.id)).map((a) => a.state)).toEqual(["unknown"]);
    expect(t.transport.calls).toEqual([]); // nothing ran on any host
    expect((await t.store.getHosts(t.run.id)).every((h) => h.leaseOwner === null)).toBe(true);
  });

  it("a run whose coordinator still holds a lease is left to it", async () => {
    const t = await setup(PLAN, 2, () => undefined);
    await t.store.acquireLeases(t.run.id, "alive", t.clock.now(), 30_000);
    await runAction({ store: t.store, clock: t.clock }, (await t.store.getRun(t.run.id))!, "abort", "op");
    const r = await finishUnheldAbort({ store: t.store, clock: t.clock }, t.run.id, "cli");
    expect(r).toMatchObject({ finished: false, holders: [{ owner: "alive" }] });
    expect((await t.store.getRun(t.run.id))?.state).toBe("aborting");
    expect(await states(t)).toEqual({ h01: "pending", h02: "pending" });
  });
});

describe("where stopped hosts are reported", () => {
  /** slow.yaml of the review: two 3 s steps, two hosts at a time. */
  const SLOW = `
name: slow
hosts: all
concurrency: { global: 2 }
steps:
  - { name: nap, kind: command, run: "nap" }
  - { name: nap2, kind: command, run: "nap2", idempotent: true }
`;
  async function stoppedAt(action: "abort" | "pause") {
    let clock: Setup["clock"] | undefined;
    const t = await setup(SLOW, 4, async () => {
      await clock?.sleep(3_000);
      return undefined;
    });
    clock = t.clock;
    const drive = t.coordinator().drive();
    await t.clock.sleep(2_500);
    await runAction({ store: t.store, clock: t.clock }, (await t.store.getRun(t.run.id))!, action, "op");
    if (action === "abort") await drive;
    else await t.clock.sleep(5_000); // nap ends; nothing new starts
    const plan = compilePlan(parsePlanText(SLOW, "slow.yaml"));
    const s = await summarize(t.store, (await t.store.getRun(t.run.id))!, t.clock.now(), plan);
    return { t, s, drive };
  }
  const at = (s: Awaited<ReturnType<typeof summarize>>) =>
    Object.fromEntries(s.hosts.map((h) => [h.host, [h.state, h.step, h.after]]));

  it("aborted: between steps is `after nap`, never started is `not started` (status and report)", async () => {
    const { t, s } = await stoppedAt("abort");
    expect(at(s)).toEqual({
      h01: ["aborted", null, "nap"],
      h02: ["aborted", null, "nap"],
      h03: ["aborted", null, null],
      h04: ["aborted", null, null],
    });
    const text = renderSummary({ color: false, write: () => {}, err: () => {} }, s, { hosts: true });
    expect(text).toMatch(/h01 +aborted +1 +after nap +0/);
    expect(text).toMatch(/h03 +aborted +1 +not started +0/);
    const report = await reportOfRun(t.store, (await t.store.getRun(t.run.id))!);
    expect(report.failures.map((f) => [f.host, f.step, f.after])).toEqual([
      ["h01", null, "nap"],
      ["h02", null, "nap"],
      ["h03", null, null],
      ["h04", null, null],
    ]);
    const txt = renderReport(report, "text");
    expect(txt).toContain("h01 (aborted, r1, after nap)");
    expect(txt).toContain("h03 (aborted, r1, not started)");
  });

  it("paused between steps: `after nap` with no attempt of nap2 counted", async () => {
    const { t, s, drive } = await stoppedAt("pause");
    expect(at(s)).toMatchObject({ h01: ["running", null, "nap"], h03: ["pending", null, null] });
    const text = renderSummary({ color: false, write: () => {}, err: () => {} }, s, { hosts: true });
    expect(text).toMatch(/h01 +running +1 +after nap +0/);
    await runAction({ store: t.store, clock: t.clock }, (await t.store.getRun(t.run.id))!, "abort", "op");
    await drive;
  });
});
