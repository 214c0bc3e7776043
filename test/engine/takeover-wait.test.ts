/**
 * A coordinator that finds its run held by another one says at once what it waits for, and a stop
 * ends that wait at once (it holds nothing yet); a run paused at a manual gate says to approve it
 * with `resume --detach`, which leaves the waiting coordinator to carry on. Virtual time, memory
 * store.
 */
import { describe, expect, it } from "vitest";
import { runAction } from "../../src/engine/runs.js";
import { type Setup, setup } from "../support/engine-harness.js";

const LONG = `
name: p
hosts: all
steps:
  - { name: long, kind: sleep, duration: 5m }
`;
const TTL = 30_000;

async function until(t: Setup, pred: () => Promise<boolean>): Promise<void> {
  for (let i = 0; !(await pred()); i++) {
    if (i > 10_000) throw new Error("condition never held");
    await t.clock.sleep(100);
  }
}
const runOf = async (t: Setup) => (await t.store.getRun(t.run.id))!;

describe("coordinator: waiting to take a run over", () => {
  it("says at once whom it waits for, until when, and how long it will wait", async () => {
    const t = await setup(LONG, 2, () => undefined);
    const first = t.coordinator("c1").drive();
    await until(t, async () => (await t.store.getHosts(t.run.id)).every((h) => h.state === "running"));
    const start = t.clock.now();
    const second = t.coordinator("c2").drive();
    await t.clock.sleep(1);
    const waiting = t.events.filter((e) => e.actor === "c2" && e.type === "takeover.waiting");
    expect(waiting).toHaveLength(1);
    const w = waiting[0]!;
    expect(w.at).toBe(start);
    expect(w.data.holders).toEqual(["c1"]);
    const expiry = (await t.store.getHosts(t.run.id))[0]!.leaseExpiresAt!;
    expect(w.data.heldUntil).toBe(expiry);
    // It looks when the leases expire, then once more for a TTL (clock skew), then gives up.
    expect(w.data.giveUpAt).toBe(start + Math.min(expiry - start, TTL) + 50 + TTL);
    expect((await second).outcome).toBe("held-elsewhere");
    expect(t.clock.now()).toBeLessThanOrEqual(Number(w.data.giveUpAt) + 1_000);
    expect((await first).run.state).toBe("succeeded");
  });

  it("a graceful stop (the first Ctrl-C) ends the wait at once, detached; so does a hard stop", async () => {
    const t = await setup(LONG, 1, () => undefined);
    const first = t.coordinator("c1").drive();
    await until(t, async () => (await t.store.getHosts(t.run.id))[0]?.state === "running");
    const drain = new AbortController();
    const second = t.coordinator("c2", undefined, drain.signal).drive();
    await t.clock.sleep(2_000);
    const at = t.clock.now();
    drain.abort(new Error("interrupted"));
    const r2 = await second;
    expect(r2.outcome).toBe("detached");
    expect(t.clock.now() - at).toBeLessThan(1_000);

    const hard = new AbortController();
    const third = t.coordinator("c3", hard.signal).drive();
    await t.clock.sleep(2_000);
    hard.abort(new Error("interrupted twice"));
    expect((await third).outcome).toBe("detached");
    // Neither took anything from the coordinator driving the run.
    expect((await t.store.getHosts(t.run.id))[0]?.leaseOwner).toBe("c1");
    expect((await first).run.state).toBe("succeeded");
  });
});

describe("coordinator: a manual gate", () => {
  it("asks for `resume --detach`, which approves it; the coordinator waiting at it carries on", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: canary-ok, kind: gate, approval: true }
  - { name: b, kind: command, run: "b" }
`;
    const t = await setup(plan, 2, () => undefined);
    const drive = t.coordinator("c1").drive();
    await until(t, async () => (await runOf(t)).state === "paused");
    const run = await runOf(t);
    expect(run.reason).toBe(
      `gate "canary-ok" awaits approval: run \`overhaul resume ${t.run.id} --detach\` (the coordinator waiting at it carries on; if it has stopped, \`overhaul resume ${t.run.id}\`)`,
    );
    // What `overhaul resume RUN --detach` does (commands/run.ts): the action, and nothing more.
    await runAction({ store: t.store, clock: t.clock }, run, "resume", "operator:alice");
    const res = await drive;
    expect(res.run.state).toBe("succeeded");
    expect(t.transport.calls).toHaveLength(2);
  });
});
