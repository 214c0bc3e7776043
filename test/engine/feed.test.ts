/**
 * What a coordinator reads from its run's log about others (operators, other coordinators) reaches
 * its sink's `observe`: each event once, in seq order, none of its own and none from before it began
 * to drive. On virtual time with the in-memory store.
 */
import { describe, expect, it } from "vitest";
import { hostAction, runAction } from "../../src/engine/runs.js";
import { type Setup, setup } from "../support/engine-harness.js";

const PLAN = `
name: p
hosts: all
concurrency: { global: 1 }
steps:
  - { name: nap, kind: sleep, duration: 10s }
`;

const op = (t: Setup) => ({ store: t.store, clock: t.clock });
const run = async (t: Setup) => (await t.store.getRun(t.run.id))!;

describe("coordinator: others' events reach the sink", () => {
  it("an operator's pause, resume and skip reach the driving coordinator's sink once each, in order", async () => {
    const t = await setup(PLAN, 3, () => undefined);
    const drive = t.coordinator("c1").drive();
    await t.clock.sleep(5_000); // h01 is in its step
    await runAction(op(t), await run(t), "pause", "operator:alice", "looking at h01");
    await t.clock.sleep(30_000);
    await runAction(op(t), await run(t), "resume", "operator:alice");
    await t.clock.sleep(2_000);
    await hostAction(op(t), await run(t), "h03", "skip", "operator:bob");
    expect((await drive).run.state).toBe("succeeded");

    expect(t.observed.map((e) => [e.type, e.actor, e.by])).toEqual([
      ["run.paused", "operator:alice", "c1"],
      ["run.running", "operator:alice", "c1"],
      ["host.skipped", "operator:bob", "c1"],
    ]);
    expect(t.observed[0]?.data).toMatchObject({ reason: "looking at h01" });
    // As stored: the same seqs, rising.
    const stored = await t.store.listEvents(t.run.id);
    for (const e of t.observed) expect(stored.find((s) => s.seq === e.seq)?.type).toBe(e.type);
    expect(t.observed.map((e) => e.seq)).toEqual([...t.observed.map((e) => e.seq)].sort((a, b) => a - b));
    // Its own events went to `emit` only.
    expect(t.events.filter((e) => e.type === "run.paused")).toEqual([]);
  });

  it("what was written before the coordinator began is not handed on; what comes after is", async () => {
    const t = await setup(PLAN, 2, () => undefined);
    await runAction(op(t), await run(t), "pause", "operator:alice");
    const drive = t.coordinator("c1").drive();
    await t.clock.sleep(10_000);
    expect(t.observed).toEqual([]); // neither run.created nor the pause: the run was read as paused
    await runAction(op(t), await run(t), "resume", "operator:alice");
    expect((await drive).run.state).toBe("succeeded");
    expect(t.observed.map((e) => e.type)).toEqual(["run.running"]);
  });
});
