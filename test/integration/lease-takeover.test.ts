/**
 * Taking over a dead coordinator's leases when the store judges leases by a clock of its own (as
 * PostgreSQL does, decision 0012) that does not agree with this coordinator's. The store here runs
 * 20 s behind the coordinators: by the coordinator's clock the dead holder's leases expire 20 s
 * before the store lets anyone take them. Virtual time, the in-memory store.
 */
import { describe, expect, it } from "vitest";
import { setup, states } from "../support/engine-harness.js";

const PLAN = `
name: p
hosts: all
steps:
  - { name: mark, kind: command, run: mark, idempotent: true }
`;

/** Leases judged `offsetMs` from the coordinators' clock (the store's own clock). */
function storeClock(t: Awaited<ReturnType<typeof setup>>, offsetMs: number) {
  const acquire = t.store.acquireLeases.bind(t.store);
  const renew = t.store.renewLeases.bind(t.store);
  t.store.acquireLeases = (runId, owner, now, ttl) => acquire(runId, owner, now + offsetMs, ttl);
  t.store.renewLeases = (runId, owner, now, ttl) => renew(runId, owner, now + offsetMs, ttl);
}

describe("taking over a dead coordinator's leases", () => {
  it("a coordinator whose clock runs 20 s ahead of the store's still takes them, when the store says they expired", async () => {
    const t = await setup(PLAN, 2, () => undefined);
    storeClock(t, -20_000);
    // The dead coordinator held every lease (30 s, by the store's clock), then died.
    expect(await t.store.acquireLeases(t.run.id, "dead", t.clock.now(), 30_000)).toHaveLength(2);
    const started = t.clock.now();
    const res = await t.coordinator("c2").drive();
    expect(res.outcome).toBe("finished");
    expect(await states(t)).toEqual({ h01: "succeeded", h02: "succeeded" });
    // By our clock the leases expired 10 s after the grant (and a single wait until then gave up:
    // "held elsewhere"); the store lets them go 30 s after it, and they are taken within a poll.
    const firstMark = Math.min(...t.transport.calls.filter((c) => c.command === "mark").map((c) => c.at));
    expect(firstMark - started).toBeGreaterThanOrEqual(30_000);
    expect(firstMark - started).toBeLessThan(31_200);
  });

  it("a live holder that keeps renewing is left alone: held elsewhere, after at most two TTLs", async () => {
    const t = await setup(PLAN, 1, () => undefined);
    storeClock(t, -20_000);
    await t.store.acquireLeases(t.run.id, "live", t.clock.now(), 30_000);
    // The live holder renews every 10 s (by its clock, the coordinators').
    let renewing = true;
    const renewals = (async () => {
      while (renewing) {
        await t.clock.sleep(10_000);
        await t.store.renewLeases(t.run.id, "live", t.clock.now(), 30_000);
      }
    })();
    const started = t.clock.now();
    const res = await t.coordinator("c2").drive();
    renewing = false;
    await renewals;
    expect(res.outcome).toBe("held-elsewhere");
    expect(t.clock.now() - started).toBeLessThanOrEqual(60_100);
    expect(t.transport.calls).toEqual([]);
  });
});
