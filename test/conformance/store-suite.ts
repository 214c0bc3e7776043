/**
 * The `Store` conformance suite: every invariant of `src/ports/store.ts`, for any adapter.
 *
 * Contract for `open`: each call returns a NEW store connected to the SAME database (already
 * migrated). The suite uses that to race two stores against each other (two coordinators) and to
 * check durability (write, close, open again, read). Tests share the database, so every test
 * makes its own runs, hosts and plan names; nothing depends on what another test wrote.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LeaseLostError, SafetyRefusal } from "../../src/core/errors.js";
import type { HostState } from "../../src/core/flow/states.js";
import type {
  EventRecord,
  HostCommit,
  NewAttempt,
  NewEvent,
  NewHostFlow,
  NewRun,
  RunRecord,
  Store,
} from "../../src/ports/store.js";
import { hostFlowRecord, runRecord } from "../support/records.js";
import { describeAccessConformance } from "./access-suite.js";

const TTL = 30_000;
/** A clock that only moves forward, shared by the whole suite (listRuns is newest first). */
let clock = 1_750_000_000_000;
const tick = (ms = 1): number => {
  clock += ms;
  return clock;
};

const uid = (prefix: string): string => `${prefix}-${randomUUID()}`;

function hostFlow(runId: string, i: number, state: HostState = "pending"): NewHostFlow {
  return hostFlowRecord({
    runId,
    host: `h${String(i).padStart(3, "0")}.example.org`,
    wave: i === 0 ? 0 : 1,
    order: i,
    data: { address: `10.0.0.${i}`, vars: { rack: `r${i % 3}`, tags: ["a", "b"] }, cpu: 8 },
    state,
  });
}

function event(
  runId: string,
  type: string,
  host: string | null = null,
  data: Record<string, unknown> = {},
): NewEvent {
  return { runId, host, at: tick(), type, actor: "coordinator:test", data };
}

function intent(runId: string, host: string, seq: number, token: number): NewAttempt {
  return {
    runId,
    host,
    seq,
    stepIndex: 2,
    stepName: "reboot",
    phase: "run",
    number: 1,
    state: "started",
    token,
    pre: { bootId: "a1b2", nested: { list: [1, 2, 3] } },
    startedAt: tick(),
  };
}

export async function newRun(
  store: Store,
  opts: { hosts?: number; states?: HostState[] } = {},
): Promise<{ run: NewRun; hosts: NewHostFlow[] }> {
  const planName = uid("plan");
  const rev = await store.savePlanRevision({
    name: planName,
    hash: uid("hash"),
    body: "steps: []\n",
    createdAt: tick(),
  });
  const now = tick();
  const run: NewRun = {
    id: uid("run"),
    planName,
    planRevision: rev.revision,
    planHash: rev.hash,
    state: "running",
    currentWave: 0,
    seed: 4_294_967_297, // > 2^32: 64-bit integers survive
    options: { limit: "web*", inventory: "inv.ini", operator: "alice", nested: { a: [1, "x", null] } },
    reason: null,
    createdAt: now,
    updatedAt: now,
  };
  const states = opts.states ?? Array.from({ length: opts.hosts ?? 3 }, () => "pending" as HostState);
  const hosts = states.map((s, i) => hostFlow(run.id, i, s));
  await store.createRun(run, hosts, [event(run.id, "run.created", null, { hosts: hosts.length })]);
  return { run, hosts };
}

/** Everything a failed write must leave untouched. */
async function snapshot(store: Store, runId: string) {
  return {
    run: await store.getRun(runId),
    hosts: await store.getHosts(runId),
    attempts: await store.getAttempts(runId),
    events: await store.listEvents(runId),
  };
}

function expectContiguous(events: EventRecord[]): void {
  for (let i = 1; i < events.length; i++) expect(events[i]!.seq).toBe(events[i - 1]!.seq + 1);
}

export function describeStoreConformance(name: string, open: () => Promise<Store>): void {
  describe(`Store conformance: ${name}`, () => {
    const opened: Store[] = [];
    let store: Store;
    const openMore = async (): Promise<Store> => {
      const s = await open();
      opened.push(s);
      return s;
    };

    beforeAll(async () => {
      store = await openMore();
    });
    afterAll(async () => {
      for (const s of opened) await s.close();
    });

    describeAccessConformance(() => store, openMore);

    describe("migrations", () => {
      it("migrate() again, and concurrently from two stores, is harmless", async () => {
        const { run } = await newRun(store);
        await store.migrate();
        await store.migrate();
        const other = await openMore();
        await Promise.all([store.migrate(), other.migrate()]);
        expect(await other.getRun(run.id)).toEqual(run);
      });
    });

    describe("plan revisions", () => {
      it("numbers revisions per plan name from 1 and dedups by content hash", async () => {
        const a = uid("plan-a");
        const b = uid("plan-b");
        const body1 = "name: demo\nsteps:\n  - reboot  \n# ünïcödé ✓\n";
        const r1 = await store.savePlanRevision({ name: a, hash: "h1", body: body1, createdAt: tick() });
        const r2 = await store.savePlanRevision({ name: a, hash: "h2", body: "v2", createdAt: tick() });
        const again = await store.savePlanRevision({ name: a, hash: "h1", body: body1, createdAt: tick() });
        const b1 = await store.savePlanRevision({ name: b, hash: "h1", body: body1, createdAt: tick() });
        expect([r1.revision, r2.revision, b1.revision]).toEqual([1, 2, 1]);
        expect(again).toEqual(r1);
        expect(await store.getPlanRevision(a, 1)).toEqual(r1);
        expect((await store.getPlanRevision(a, 1))?.body).toBe(body1);
        expect(await store.getPlanRevision(a, 3)).toBeUndefined();
        expect(await store.getPlanRevision(uid("nope"), 1)).toBeUndefined();
        expect(await store.listPlanRevisions(a)).toEqual([r1, r2]);
        const all = await store.listPlanRevisions();
        expect(all).toEqual(expect.arrayContaining([r1, r2, b1]));
        expect(all.filter((r) => r.name === a).map((r) => r.revision)).toEqual([1, 2]);
      });

      it("two stores saving at once get distinct numbers, or the same revision for the same body", async () => {
        const other = await openMore();
        const n = uid("plan-race");
        const [x, y] = await Promise.all([
          store.savePlanRevision({ name: n, hash: "x", body: "x", createdAt: tick() }),
          other.savePlanRevision({ name: n, hash: "y", body: "y", createdAt: tick() }),
        ]);
        expect([x.revision, y.revision].sort()).toEqual([1, 2]);
        const [p, q] = await Promise.all([
          store.savePlanRevision({ name: n, hash: "z", body: "z", createdAt: tick() }),
          other.savePlanRevision({ name: n, hash: "z", body: "z", createdAt: tick() }),
        ]);
        expect(p).toEqual(q);
        expect(p.revision).toBe(3);
      });
    });

    describe("runs", () => {
      it("createRun stores the run, its host flows in order and its first events", async () => {
        const { run, hosts } = await newRun(store, { hosts: 5 });
        expect(await store.getRun(run.id)).toEqual(run);
        const got = await store.getHosts(run.id);
        expect(got.map((h) => h.order)).toEqual([0, 1, 2, 3, 4]);
        expect(got.map(({ leaseOwner, leaseToken, leaseExpiresAt, ...rest }) => rest)).toEqual(hosts);
        for (const h of got) {
          expect([h.leaseOwner, h.leaseToken, h.leaseExpiresAt]).toEqual([null, 0, null]);
        }
        expect(await store.getHost(run.id, hosts[3]!.host)).toEqual(got[3]);
        expect(await store.getHost(run.id, "nope")).toBeUndefined();
        expect(await store.getRun(uid("nope"))).toBeUndefined();
        const events = await store.listEvents(run.id);
        expect(events.map((e) => [e.type, e.host, e.data])).toEqual([["run.created", null, { hosts: 5 }]]);
        expect(typeof events[0]!.seq).toBe("number");
      });

      it("getHosts follows `order`, not insertion or name order", async () => {
        const planName = uid("plan");
        const rev = await store.savePlanRevision({ name: planName, hash: "h", body: "b", createdAt: tick() });
        const run = runRecord({ id: uid("run"), planName, planRevision: rev.revision, createdAt: tick() });
        const hosts = [3, 0, 4, 1, 2].map((o, i) => ({ ...hostFlow(run.id, i), order: o }));
        await store.createRun(run, hosts, []);
        const got = await store.getHosts(run.id);
        expect(got.map((h) => h.order)).toEqual([0, 1, 2, 3, 4]);
        expect(got.map((h) => h.host)).toEqual([
          "h001.example.org",
          "h003.example.org",
          "h004.example.org",
          "h000.example.org",
          "h002.example.org",
        ]);
      });

      it("createRun is atomic: a bad host flow leaves no run, no host, no event", async () => {
        const { run } = await newRun(store);
        const id = uid("run");
        const dup = hostFlow(id, 1);
        await expect(
          store.createRun(
            { ...run, id },
            [hostFlow(id, 0), dup, { ...dup, order: 7 }],
            [event(id, "run.created")],
          ),
        ).rejects.toThrow();
        expect(await snapshot(store, id)).toEqual({ run: undefined, hosts: [], attempts: [], events: [] });
        // An existing id is refused and the existing run is untouched.
        const before = await snapshot(store, run.id);
        await expect(
          store.createRun({ ...run, state: "paused" }, [], [event(run.id, "dup")]),
        ).rejects.toThrow();
        expect(await snapshot(store, run.id)).toEqual(before);
      });

      it("an exclusive createRun refuses hosts an unfinished run holds, and writes nothing", async () => {
        const web = uid("web");
        const held = await newRun(store, { hosts: 0 });
        const other = { ...held.run, id: uid("run") };
        const heldHosts = ["pending", "failed", "succeeded"].map((st, i) => ({
          ...hostFlow(other.id, i, st as HostState),
          host: `${web}-${i}`,
        }));
        await store.createRun(other, heldHosts, []);
        const id = uid("run");
        const mine = (names: string[]) => names.map((h, i) => ({ ...hostFlow(id, i), host: h }));
        let err: unknown;
        try {
          await store.createRun(
            { ...held.run, id },
            mine([`${web}-0`, `${web}-1`, `${web}-2`, `${web}-9`]),
            [event(id, "run.created")],
            { exclusive: true },
          );
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(SafetyRefusal);
        expect((err as SafetyRefusal).rule).toBe("hosts-in-another-run");
        // The pending and the failed host (a retry would act on it again); not the succeeded one.
        expect((err as Error).message).toContain(
          `2 host(s) belong to a run that is not finished: ${web}-0 (run ${other.id}, running; host pending), ${web}-1 (run ${other.id}, running; host failed)`,
        );
        expect(await snapshot(store, id)).toEqual({ run: undefined, hosts: [], attempts: [], events: [] });
        // Not exclusive (a simulation): not checked.
        await store.createRun({ ...held.run, id }, mine([`${web}-0`]), [], {});
        // Once that run is finished, its hosts are free; the one the new run took is not.
        expect(await store.updateRun(other.id, ["running"], { state: "aborted" }, [])).toBe(true);
        const next = uid("run");
        const create = (h: string) =>
          store.createRun({ ...held.run, id: next }, [{ ...hostFlow(next, 0), host: h }], [], {
            exclusive: true,
          });
        await expect(create(`${web}-0`)).rejects.toThrow(`${web}-0 (run ${id}, running; host pending)`);
        await create(`${web}-1`);
        expect((await store.getHosts(next)).map((h) => h.host)).toEqual([`${web}-1`]);
      });

      it("of concurrent exclusive createRuns over one host (two coordinators), exactly one succeeds", async () => {
        const { run } = await newRun(store, { hosts: 0 });
        const second = await openMore();
        const host = uid("shared");
        const attempt = (id: string, i: number) =>
          (i % 2 === 0 ? store : second).createRun(
            { ...run, id },
            [{ ...hostFlow(id, 0), host }],
            [event(id, "run.created")],
            { exclusive: true },
          );
        const ids = Array.from({ length: 8 }, () => uid("run"));
        const out = await Promise.allSettled(ids.map(attempt));
        expect(out.filter((o) => o.status === "fulfilled")).toHaveLength(1);
        for (const o of out)
          if (o.status === "rejected") expect((o.reason as SafetyRefusal).rule).toBe("hosts-in-another-run");
        const made = (await Promise.all(ids.map((id) => store.getRun(id)))).filter(Boolean);
        expect(made).toHaveLength(1);
      });

      it("an exclusive updateRun does not set a finished run going while another run holds its hosts; a reopen and a create never both win", async () => {
        const { run } = await newRun(store, { hosts: 0 });
        const second = await openMore();
        for (let round = 0; round < 4; round++) {
          const host = uid("h");
          const a = uid("run");
          await store.createRun({ ...run, id: a, state: "failed" }, [{ ...hostFlow(a, 0), host }], []);
          const b = uid("run");
          // Reopen A and create B on its host at once, through two stores (two coordinators), each
          // asked first in turn.
          const reopen = () =>
            (round % 2 === 0 ? store : second).updateRun(a, ["failed"], { state: "running" }, [], {
              exclusive: true,
            });
          const create = () =>
            (round % 2 === 0 ? second : store).createRun(
              { ...run, id: b },
              [{ ...hostFlow(b, 0), host }],
              [],
              {
                exclusive: true,
              },
            );
          const [r, c] = round < 2 ? [reopen(), create()] : [undefined, create()];
          const out = await Promise.allSettled([r ?? reopen(), c]);
          const reopened = out[0].status === "fulfilled" && out[0].value === true;
          const created = out[1].status === "fulfilled";
          expect(reopened !== created, `round ${round}: reopened ${reopened}, created ${created}`).toBe(true);
          for (const o of out)
            if (o.status === "rejected")
              expect((o.reason as SafetyRefusal).rule).toBe("hosts-in-another-run");
          expect((await store.getRun(a))?.state).toBe(reopened ? "running" : "failed");
          expect(await store.getRun(b)).toEqual(created ? expect.anything() : undefined);
        }
        // Not exclusive (the coordinator finishing its own run, an operator's pause): not checked.
        const c = uid("run");
        await store.createRun(
          { ...run, id: c, state: "failed" },
          [{ ...hostFlow(c, 0), host: uid("h") }],
          [],
        );
        expect(await store.updateRun(c, ["failed"], { state: "running" }, [])).toBe(true);
      });

      it("createRun takes many hosts at once", async () => {
        const { run } = await newRun(store, { hosts: 1234 });
        const got = await store.getHosts(run.id);
        expect(got).toHaveLength(1234);
        expect(got.every((h, i) => h.order === i)).toBe(true);
      });

      it("listRuns is newest first and honours the limit", async () => {
        const a = await newRun(store);
        const b = await newRun(store);
        const c = await newRun(store);
        const top = await store.listRuns(3);
        expect(top.map((r) => r.id)).toEqual([c.run.id, b.run.id, a.run.id]);
        expect(await store.listRuns(1)).toEqual([c.run]);
        expect((await store.listRuns()).length).toBeGreaterThanOrEqual(3);
      });

      it("listRuns with `unfinished` gives every run not finished, however old, newest first", async () => {
        const old = await newRun(store);
        const finished: string[] = [];
        for (let i = 0; i < 3; i++) {
          const { run } = await newRun(store);
          expect(
            await store.updateRun(run.id, ["running"], { state: "succeeded" }, [event(run.id, "x")]),
          ).toBe(true);
          finished.push(run.id);
        }
        const newer = await newRun(store);
        const got = (await store.listRuns(undefined, { unfinished: true })).map((r) => r.id);
        expect(got.indexOf(newer.run.id)).toBeLessThan(got.indexOf(old.run.id));
        expect(got).toContain(old.run.id);
        for (const id of finished) expect(got).not.toContain(id);
        expect(await store.listRuns(1, { unfinished: true })).toEqual([newer.run]);
      });

      it("updateRun is compare-and-set on the state", async () => {
        const { run } = await newRun(store);
        const before = await snapshot(store, run.id);
        expect(
          await store.updateRun(run.id, ["paused", "halting"], { state: "aborting" }, [event(run.id, "x")]),
        ).toBe(false);
        expect(await store.updateRun(run.id, [], { state: "paused" }, [event(run.id, "x")])).toBe(false);
        expect(await store.updateRun(uid("nope"), ["running"], { state: "paused" }, [])).toBe(false);
        expect(await snapshot(store, run.id)).toEqual(before);

        const at = tick();
        const ok = await store.updateRun(
          run.id,
          ["running"],
          { state: "paused", reason: "gate", updatedAt: at },
          [event(run.id, "run.paused", null, { by: "alice" })],
        );
        expect(ok).toBe(true);
        const after = await store.getRun(run.id);
        expect(after).toEqual({ ...run, state: "paused", reason: "gate", updatedAt: at });
        // A second writer that still believes "running" loses.
        expect(await store.updateRun(run.id, ["running"], { state: "halting" }, [event(run.id, "y")])).toBe(
          false,
        );
        expect(
          await store.updateRun(run.id, ["paused"], { state: "running", currentWave: 2, reason: null }, []),
        ).toBe(true);
        expect(await store.getRun(run.id)).toEqual({
          ...(after as RunRecord),
          state: "running",
          currentWave: 2,
          reason: null,
        });
        // An empty patch still checks the state and writes the events.
        expect(await store.updateRun(run.id, ["running"], {}, [event(run.id, "touch")])).toBe(true);
        expect((await store.listEvents(run.id)).map((e) => e.type)).toEqual([
          "run.created",
          "run.paused",
          "touch",
        ]);
      });
    });

    describe("leases", () => {
      it("grants free leases on non-terminal host flows, token + 1, in order", async () => {
        const { run } = await newRun(store, {
          states: [
            "pending",
            "succeeded",
            "running",
            "failed",
            "in_doubt",
            "reverting",
            "skipped",
            "aborted",
          ],
        });
        const now = tick();
        const got = await store.acquireLeases(run.id, "A", now, TTL);
        expect(got.map((h) => [h.order, h.state, h.leaseOwner, h.leaseToken, h.leaseExpiresAt])).toEqual([
          [0, "pending", "A", 1, now + TTL],
          [2, "running", "A", 1, now + TTL],
          [5, "reverting", "A", 1, now + TTL],
        ]);
        const stored = await store.getHosts(run.id);
        expect(stored.filter((h) => h.leaseOwner === "A").map((h) => h.order)).toEqual([0, 2, 5]);
        expect(stored.filter((h) => h.leaseOwner === null).every((h) => h.leaseToken === 0)).toBe(true);
      });

      it("does not re-grant our own live lease, nor one another owner holds", async () => {
        const { run } = await newRun(store, { hosts: 2 });
        const t0 = tick();
        expect(await store.acquireLeases(run.id, "A", t0, TTL)).toHaveLength(2);
        const mid = t0 + TTL - 1;
        expect(await store.acquireLeases(run.id, "A", mid, TTL)).toEqual([]);
        expect(await store.acquireLeases(run.id, "B", mid, TTL)).toEqual([]);
        const hosts = await store.getHosts(run.id);
        expect(hosts.map((h) => [h.leaseOwner, h.leaseToken, h.leaseExpiresAt])).toEqual([
          ["A", 1, t0 + TTL],
          ["A", 1, t0 + TTL],
        ]);
      });

      it("grants another owner's expired lease (expiresAt <= now) with token + 1", async () => {
        const { run } = await newRun(store, { hosts: 2 });
        const t0 = tick();
        await store.acquireLeases(run.id, "A", t0, TTL);
        expect(await store.acquireLeases(run.id, "B", t0 + TTL - 1, TTL)).toEqual([]);
        const expired = t0 + TTL; // exactly at expiry counts as expired
        const b = await store.acquireLeases(run.id, "B", expired, TTL);
        expect(b.map((h) => [h.leaseOwner, h.leaseToken, h.leaseExpiresAt])).toEqual([
          ["B", 2, expired + TTL],
          ["B", 2, expired + TTL],
        ]);
        // And A, deposed, can take them back once B's expire.
        const a = await store.acquireLeases(run.id, "A", expired + TTL, TTL);
        expect(a.map((h) => [h.leaseOwner, h.leaseToken])).toEqual([
          ["A", 3],
          ["A", 3],
        ]);
      });

      it("never re-grants our own lease, even expired: that would fence our own unit in flight", async () => {
        const { run } = await newRun(store, { hosts: 2 });
        const t0 = tick();
        const [h] = await store.acquireLeases(run.id, "A", t0, TTL);
        const late = t0 + 5 * TTL; // A stalled past its expiry, and nobody took over
        expect(await store.acquireLeases(run.id, "A", late, TTL)).toEqual([]);
        const hosts = await store.getHosts(run.id);
        expect(hosts.map((x) => [x.leaseOwner, x.leaseToken, x.leaseExpiresAt])).toEqual([
          ["A", 1, t0 + TTL],
          ["A", 1, t0 + TTL],
        ]);
        // Still ours: the token works, and renewing revives the expiry.
        await store.commitHost({
          runId: run.id,
          host: h!.host,
          owner: "A",
          token: 1,
          patch: { attempts: 1 },
        });
        expect(await store.renewLeases(run.id, "A", late, TTL)).toBe(2);
        expect((await store.getHost(run.id, h!.host))?.leaseExpiresAt).toBe(late + TTL);
      });

      it("renewLeases extends only our leases and counts them; releaseLeases frees only ours", async () => {
        const { run, hosts } = await newRun(store, { hosts: 3 });
        const t0 = tick();
        await store.acquireLeases(run.id, "A", t0, TTL);
        const t1 = t0 + TTL;
        expect(await store.renewLeases(run.id, "A", t1 - 10, TTL)).toBe(3);
        const h2 = hosts[2]!.host;
        // An operator frees host 2 (token 2) and B takes it (token 3).
        await store.operatorHost(run.id, h2, ["pending"], {}, []);
        const b = await store.acquireLeases(run.id, "B", t1, TTL);
        expect(b.map((h) => [h.host, h.leaseToken])).toEqual([[h2, 3]]);
        expect(await store.renewLeases(run.id, "A", t1 + 5, TTL)).toBe(2);
        expect(await store.renewLeases(run.id, "C", t1 + 5, TTL)).toBe(0);
        const after = await store.getHosts(run.id);
        expect(after.map((h) => [h.leaseOwner, h.leaseExpiresAt])).toEqual([
          ["A", t1 + 5 + TTL],
          ["A", t1 + 5 + TTL],
          ["B", t1 + TTL],
        ]);
        await store.releaseLeases(run.id, "A");
        const released = await store.getHosts(run.id);
        expect(released.map((h) => [h.leaseOwner, h.leaseToken, h.leaseExpiresAt])).toEqual([
          [null, 1, null],
          [null, 1, null],
          ["B", 3, t1 + TTL],
        ]);
        // Released leases are free again; the next owner gets token + 1.
        const c = await store.acquireLeases(run.id, "C", t1 + 6, TTL);
        expect(c.map((h) => [h.leaseOwner, h.leaseToken])).toEqual([
          ["C", 2],
          ["C", 2],
        ]);
      });

      it("an owner's leases in a run expire together: a renewal or a new grant extends them all", async () => {
        const { run, hosts } = await newRun(store, { hosts: 3 });
        const t0 = tick();
        await store.acquireLeases(run.id, "A", t0, TTL);
        // An operator frees host 0; A takes it back later, which proves A alive for all three.
        await store.operatorHost(run.id, hosts[0]!.host, ["pending"], {}, []);
        const t1 = t0 + TTL / 2;
        expect((await store.acquireLeases(run.id, "A", t1, TTL)).map((h) => h.host)).toEqual([
          hosts[0]!.host,
        ]);
        expect((await store.getHosts(run.id)).map((h) => h.leaseExpiresAt)).toEqual([
          t1 + TTL,
          t1 + TTL,
          t1 + TTL,
        ]);
        // So B finds none expired until t1 + TTL, and then all of them.
        expect(await store.acquireLeases(run.id, "B", t1 + TTL - 1, TTL)).toEqual([]);
        expect(await store.acquireLeases(run.id, "B", t1 + TTL, TTL)).toHaveLength(3);
        // A, deposed, renews nothing and extends nothing of B's.
        expect(await store.renewLeases(run.id, "A", t1 + TTL + 1, TTL)).toBe(0);
        expect((await store.getHosts(run.id)).map((h) => [h.leaseOwner, h.leaseExpiresAt])).toEqual([
          ["B", t1 + 2 * TTL],
          ["B", t1 + 2 * TTL],
          ["B", t1 + 2 * TTL],
        ]);
      });

      it("two coordinators racing for the same leases never both get one", async () => {
        const other = await openMore();
        const { run } = await newRun(store, { hosts: 40 });
        let now = tick();
        for (let round = 0; round < 5; round++) {
          const [a, b] = await Promise.all([
            store.acquireLeases(run.id, "A", now, TTL),
            other.acquireLeases(run.id, "B", now, TTL),
          ]);
          const names = [...a, ...b].map((h) => h.host);
          expect(new Set(names).size).toBe(names.length);
          expect(names.length).toBe(40);
          const stored = await store.getHosts(run.id);
          for (const h of [...a, ...b]) {
            const s = stored.find((x) => x.host === h.host)!;
            expect([s.leaseOwner, s.leaseToken]).toEqual([h.leaseOwner, h.leaseToken]);
            expect(s.leaseToken).toBe(round + 1);
          }
          now += TTL; // everything expires before the next round
        }
      });

      it("a renewal racing a takeover: the count it returns is what its owner holds afterwards", async () => {
        const other = await openMore();
        for (let round = 0; round < 10; round++) {
          const { run } = await newRun(store, { hosts: 8 });
          const t0 = tick();
          await store.acquireLeases(run.id, "A", t0, TTL);
          // At A's expiry, A renews (late) while B takes over: either may win, never both.
          const at = t0 + TTL;
          const [held, taken] = await Promise.all([
            store.renewLeases(run.id, "A", at, TTL),
            other.acquireLeases(run.id, "B", at, TTL),
          ]);
          const owners = (await store.getHosts(run.id)).map((h) => h.leaseOwner);
          expect(held, `round ${round}`).toBe(owners.filter((o) => o === "A").length);
          expect(taken.length, `round ${round}`).toBe(owners.filter((o) => o === "B").length);
          expect(held + taken.length).toBe(8);
        }
      });
    });

    describe("commitHost", () => {
      async function leased(hostsN = 2) {
        const { run, hosts } = await newRun(store, { hosts: hostsN });
        const granted = await store.acquireLeases(run.id, "A", tick(), TTL);
        const h = granted[0]!;
        const base = { runId: run.id, host: h.host, owner: "A", token: h.leaseToken };
        return { run, hosts, h, base };
      }

      it("writes the patch, the intent and the events in one commit, then the result later", async () => {
        const { run, h, base } = await leased();
        const started = tick();
        const i1 = intent(run.id, h.host, 1, h.leaseToken);
        await store.commitHost({
          ...base,
          patch: { state: "running", startedAt: started, attempts: 1, stepIndex: 2, notBefore: null },
          intent: i1,
          events: [
            event(run.id, "step.started", h.host, { step: "reboot" }),
            event(run.id, "attempt.intent", h.host),
          ],
        });
        let host = await store.getHost(run.id, h.host);
        expect(host).toMatchObject({
          state: "running",
          startedAt: started,
          attempts: 1,
          stepIndex: 2,
          notBefore: null,
          leaseOwner: "A",
          leaseToken: h.leaseToken,
          phase: "forward",
          reason: null,
        });
        expect(await store.getAttempts(run.id, h.host)).toEqual([{ ...i1, result: null, finishedAt: null }]);

        const fin = tick();
        await store.commitHost({
          ...base,
          patch: { stepIndex: 3, attempts: 0, notBefore: fin + 500, reason: "waiting" },
          result: { seq: 1, state: "succeeded", finishedAt: fin, result: { exitCode: 0, tail: "ok\n" } },
          events: [event(run.id, "step.succeeded", h.host)],
        });
        expect(await store.getAttempts(run.id)).toEqual([
          { ...i1, state: "succeeded", finishedAt: fin, result: { exitCode: 0, tail: "ok\n" } },
        ]);
        host = await store.getHost(run.id, h.host);
        expect(host).toMatchObject({
          stepIndex: 3,
          attempts: 0,
          notBefore: fin + 500,
          reason: "waiting",
          startedAt: started,
        });

        // Result and next intent in the same commit; a null result document stays null.
        const i2 = { ...intent(run.id, h.host, 2, h.leaseToken), pre: null };
        await store.commitHost({ ...base, intent: i2, events: [] });
        const i3 = intent(run.id, h.host, 3, h.leaseToken);
        await store.commitHost({
          ...base,
          result: { seq: 2, state: "unknown", finishedAt: tick(), result: null },
          intent: i3,
        });
        const attempts = await store.getAttempts(run.id, h.host);
        expect(attempts.map((a) => [a.seq, a.state, a.pre === null, a.result])).toEqual([
          [1, "succeeded", false, { exitCode: 0, tail: "ok\n" }],
          [2, "unknown", true, null],
          [3, "started", false, null],
        ]);
        // A commit with nothing but events is still fenced and still writes its events.
        await store.commitHost({ ...base, events: [event(run.id, "heartbeat", h.host)] });
        const types = (await store.listEvents(run.id)).map((e) => e.type);
        expect(types).toEqual([
          "run.created",
          "step.started",
          "attempt.intent",
          "step.succeeded",
          "heartbeat",
        ]);
      });

      it("getAttempts is in (host, seq) order across hosts, hosts by code point", async () => {
        const { run } = await newRun(store, { hosts: 3 });
        const planName = uid("plan");
        await store.savePlanRevision({ name: planName, hash: "h", body: "b", createdAt: tick() });
        // Code-point order, whatever the database's locale: "B" < "_" < "a" < "b".
        const names = ["b.example", "B.example", "a.example", "_x.example"];
        const hosts = names.map((n, i) => ({ ...hostFlow(run.id, i), host: n }));
        const run2 = {
          ...run,
          id: uid("run"),
          planName,
          planRevision: 1,
          createdAt: tick(),
          updatedAt: clock,
        };
        await store.createRun(
          run2,
          hosts.map((h) => ({ ...h, runId: run2.id })),
          [],
        );
        for (const r of [run, run2]) {
          const granted = await store.acquireLeases(r.id, "A", tick(), TTL);
          for (const seq of [1, 2]) {
            for (const h of granted) {
              await store.commitHost({
                runId: r.id,
                host: h.host,
                owner: "A",
                token: h.leaseToken,
                intent: intent(r.id, h.host, seq, h.leaseToken),
              });
            }
          }
        }
        const expected = (list: string[]) =>
          [...list].sort().flatMap((h) => [
            [h, 1],
            [h, 2],
          ]);
        const got1 = await store.getAttempts(run.id);
        expect(got1.map((a) => [a.host, a.seq])).toEqual(
          expected((await store.getHosts(run.id)).map((h) => h.host)),
        );
        const got2 = await store.getAttempts(run2.id);
        expect(got2.map((a) => [a.host, a.seq])).toEqual(expected(names));
        expect(got2.map((a) => a.host).filter((_, i) => i % 2 === 0)).toEqual([
          "B.example",
          "_x.example",
          "a.example",
          "b.example",
        ]);
        expect((await store.getAttempts(run2.id, "a.example")).map((a) => a.seq)).toEqual([1, 2]);
      });

      it("fences a stale token or another owner: LeaseLostError and nothing written", async () => {
        const { run, h, base } = await leased();
        await store.commitHost({
          ...base,
          intent: intent(run.id, h.host, 1, base.token),
          events: [event(run.id, "a", h.host)],
        });
        // B takes over after expiry: A's token is now stale.
        const b = await store.acquireLeases(run.id, "B", tick(TTL + 1), TTL);
        expect(b.find((x) => x.host === h.host)?.leaseToken).toBe(base.token + 1);
        const before = await snapshot(store, run.id);
        const stale: HostCommit = {
          ...base,
          patch: { state: "running", attempts: 9 },
          intent: intent(run.id, h.host, 2, base.token),
          result: { seq: 1, state: "failed", finishedAt: tick(), result: { error: "x" } },
          events: [event(run.id, "should.not.exist", h.host)],
        };
        const err = await store.commitHost(stale).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(LeaseLostError);
        // Right owner, stale token; right token, wrong owner: both fenced.
        await expect(store.commitHost({ ...stale, owner: "B" })).rejects.toBeInstanceOf(LeaseLostError);
        await expect(store.commitHost({ ...stale, token: base.token + 1 })).rejects.toBeInstanceOf(
          LeaseLostError,
        );
        await expect(
          store.commitHost({ ...stale, host: "not-a-host", intent: undefined, result: undefined }),
        ).rejects.toBeInstanceOf(LeaseLostError);
        expect(await snapshot(store, run.id)).toEqual(before);
        // The new owner writes fine.
        await store.commitHost({ ...base, owner: "B", token: base.token + 1, patch: { attempts: 2 } });
        expect((await store.getHost(run.id, h.host))?.attempts).toBe(2);
      });

      it("is atomic: a bad intent or result rolls the whole commit back", async () => {
        const { run, h, base } = await leased();
        await store.commitHost({ ...base, intent: intent(run.id, h.host, 1, base.token) });
        const before = await snapshot(store, run.id);
        const bad: HostCommit[] = [
          // duplicate attempt (run_id, host, seq)
          {
            ...base,
            patch: { attempts: 5 },
            intent: intent(run.id, h.host, 1, base.token),
            events: [event(run.id, "x")],
          },
          // result for an attempt that does not exist
          {
            ...base,
            patch: { attempts: 5 },
            result: { seq: 9, state: "failed", finishedAt: tick(), result: null },
            events: [event(run.id, "x")],
          },
        ];
        for (const c of bad) {
          const err = await store.commitHost(c).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(Error);
          expect(err).not.toBeInstanceOf(LeaseLostError);
        }
        expect(await snapshot(store, run.id)).toEqual(before);
        // A result is recorded once: a second result for the same attempt is refused.
        await store.commitHost({
          ...base,
          result: { seq: 1, state: "succeeded", finishedAt: tick(), result: {} },
        });
        const done = await snapshot(store, run.id);
        await expect(
          store.commitHost({
            ...base,
            result: { seq: 1, state: "failed", finishedAt: tick(), result: {} },
            events: [event(run.id, "x")],
          }),
        ).rejects.toThrow();
        expect(await snapshot(store, run.id)).toEqual(done);
      });

      it("numbers events in commit order with no gaps, failed commits included", async () => {
        const { run, h, base } = await leased();
        for (let i = 0; i < 5; i++) {
          await store.commitHost({
            ...base,
            events: [event(run.id, `e${i}`, h.host), event(run.id, `f${i}`, h.host)],
          });
          await store.commitHost({ ...base, token: -1, events: [event(run.id, "fenced")] }).catch(() => {});
        }
        const events = await store.listEvents(run.id);
        expect(events).toHaveLength(11);
        expectContiguous(events);
        expect(events.slice(1).map((e) => e.type)).toEqual([
          "e0",
          "f0",
          "e1",
          "f1",
          "e2",
          "f2",
          "e3",
          "f3",
          "e4",
          "f4",
        ]);
      });

      it("two coordinators committing at once: every event gets a distinct, ordered seq", async () => {
        const other = await openMore();
        const { run } = await newRun(store, { hosts: 4 });
        const a = await store.acquireLeases(run.id, "A", tick(), TTL);
        const [h0, h1, h2, h3] = a;
        // Hand hosts 2 and 3 to B.
        for (const h of [h2!, h3!]) await store.operatorHost(run.id, h.host, ["pending"], {}, []);
        const b = await other.acquireLeases(run.id, "B", tick(), TTL);
        expect(b.map((h) => h.host)).toEqual([h2!.host, h3!.host]);
        const drive = async (s: Store, owner: string, hosts: { host: string; leaseToken: number }[]) => {
          for (let i = 0; i < 15; i++) {
            await Promise.all(
              hosts.map((h) =>
                s.commitHost({
                  runId: run.id,
                  host: h.host,
                  owner,
                  token: h.leaseToken,
                  intent: intent(run.id, h.host, i + 1, h.leaseToken),
                  events: [event(run.id, `${h.host}#${i}`, h.host)],
                }),
              ),
            );
          }
        };
        await Promise.all([drive(store, "A", [h0!, h1!]), drive(other, "B", b)]);
        const events = (await store.listEvents(run.id)).slice(1);
        expect(events).toHaveLength(60);
        expectContiguous(events);
        for (const h of [h0!, h1!, ...b]) {
          const mine = events.filter((e) => e.host === h.host).map((e) => e.type);
          expect(mine).toEqual(Array.from({ length: 15 }, (_, i) => `${h.host}#${i}`));
        }
        expect((await store.getAttempts(run.id)).length).toBe(60);
      });
    });

    describe("operatorHost", () => {
      it("is compare-and-set on the host state", async () => {
        const { run, hosts } = await newRun(store, { states: ["failed", "pending"] });
        const h = hosts[0]!.host;
        const before = await snapshot(store, run.id);
        expect(
          await store.operatorHost(run.id, h, ["in_doubt"], { state: "skipped" }, [event(run.id, "x", h)]),
        ).toBe(false);
        expect(await store.operatorHost(run.id, h, [], { state: "skipped" }, [event(run.id, "x", h)])).toBe(
          false,
        );
        expect(await store.operatorHost(run.id, "nope", ["failed"], { state: "skipped" }, [])).toBe(false);
        expect(await snapshot(store, run.id)).toEqual(before);

        const ok = await store.operatorHost(
          run.id,
          h,
          ["failed", "in_doubt"],
          { state: "pending", stepIndex: 0, attempts: 0, reason: null, finishedAt: null },
          [event(run.id, "host.retried", h, { by: "operator:alice" })],
        );
        expect(ok).toBe(true);
        const got = await store.getHost(run.id, h);
        expect(got).toMatchObject({
          state: "pending",
          stepIndex: 0,
          attempts: 0,
          reason: null,
          leaseToken: 1,
          leaseOwner: null,
        });
        expect((await store.listEvents(run.id)).at(-1)).toMatchObject({
          type: "host.retried",
          host: h,
          actor: "coordinator:test",
        });
      });

      it("fences the coordinator that held the lease", async () => {
        const { run } = await newRun(store, { hosts: 1 });
        const [h] = await store.acquireLeases(run.id, "A", tick(), TTL);
        const base = { runId: run.id, host: h!.host, owner: "A", token: h!.leaseToken };
        await store.commitHost({
          ...base,
          patch: { state: "running" },
          intent: intent(run.id, h!.host, 1, base.token),
        });
        await store.commitHost({ ...base, patch: { state: "failed", reason: "boom" } });
        expect(
          await store.operatorHost(run.id, h!.host, ["failed"], { state: "pending", reason: null }, []),
        ).toBe(true);
        const fenced = await snapshot(store, run.id);
        expect(fenced.hosts[0]).toMatchObject({
          leaseOwner: null,
          leaseToken: base.token + 1,
          leaseExpiresAt: null,
        });
        // The old owner is deposed even though its lease had not expired.
        await expect(
          store.commitHost({
            ...base,
            patch: { state: "running" },
            intent: intent(run.id, h!.host, 2, base.token),
            events: [event(run.id, "x")],
          }),
        ).rejects.toBeInstanceOf(LeaseLostError);
        expect(await snapshot(store, run.id)).toEqual(fenced);
        // It re-acquires the host with a new token and sees the operator's state.
        const [again] = await store.acquireLeases(run.id, "A", tick(), TTL);
        expect(again).toMatchObject({
          state: "pending",
          reason: null,
          leaseOwner: "A",
          leaseToken: base.token + 2,
        });
      });
    });

    describe("events", () => {
      it("listEvents: only the run's events, oldest first, after a seq, limited", async () => {
        const { run: r1 } = await newRun(store);
        const { run: r2 } = await newRun(store);
        for (let i = 0; i < 6; i++) {
          const ok = await store.updateRun(i % 2 ? r2.id : r1.id, ["running"], {}, [
            event(i % 2 ? r2.id : r1.id, `t${i}`, null, { i }),
          ]);
          expect(ok).toBe(true);
        }
        const all = await store.listEvents(r1.id);
        expect(all.map((e) => e.type)).toEqual(["run.created", "t0", "t2", "t4"]);
        expect(all.every((e) => e.runId === r1.id && e.actor === "coordinator:test")).toBe(true);
        expect(all[1]!.data).toEqual({ i: 0 });
        for (let i = 1; i < all.length; i++) expect(all[i]!.seq).toBeGreaterThan(all[i - 1]!.seq);
        expect((await store.listEvents(r1.id, all[1]!.seq)).map((e) => e.type)).toEqual(["t2", "t4"]);
        expect((await store.listEvents(r1.id, all[0]!.seq, 2)).map((e) => e.type)).toEqual(["t0", "t2"]);
        expect(await store.listEvents(r1.id, all[3]!.seq)).toEqual([]);
        expect((await store.listEvents(r1.id, 0, 1)).map((e) => e.type)).toEqual(["run.created"]);
        expect(await store.listEvents(uid("nope"))).toEqual([]);
      });

      it("feedSince: the newest seq after a seq, and whether someone else wrote since", async () => {
        const { run: r1 } = await newRun(store);
        const { run: r2 } = await newRun(store);
        const [created] = await store.listEvents(r1.id);
        const start = created!.seq;
        expect(await store.feedSince(r1.id, start, "coordinator:test")).toEqual({
          lastSeq: start,
          foreign: false,
        });
        await store.updateRun(r1.id, ["running"], {}, [event(r1.id, "mine")]);
        // Another run's events, even someone else's, are not this run's feed.
        await store.updateRun(r2.id, ["running"], {}, [{ ...event(r2.id, "theirs"), actor: "operator:ann" }]);
        const mine = await store.feedSince(r1.id, start, "coordinator:test");
        expect(mine.foreign).toBe(false);
        expect(mine.lastSeq).toBeGreaterThan(start);
        await store.updateRun(r1.id, ["running"], {}, [{ ...event(r1.id, "pause"), actor: "operator:ann" }]);
        const seen = await store.feedSince(r1.id, mine.lastSeq, "coordinator:test");
        expect(seen.foreign).toBe(true);
        const all = await store.listEvents(r1.id);
        expect(seen.lastSeq).toBe(all[all.length - 1]!.seq);
        // Read up to there, the feed is quiet again; the whole log still shows the operator.
        expect(await store.feedSince(r1.id, seen.lastSeq, "coordinator:test")).toEqual({
          lastSeq: seen.lastSeq,
          foreign: false,
        });
        expect((await store.feedSince(r1.id, 0, "coordinator:test")).foreign).toBe(true);
        expect(await store.feedSince(uid("nope"), 7, "x")).toEqual({ lastSeq: 7, foreign: false });
      });
    });

    describe("durability", () => {
      it("everything written survives closing the store and opening it again", async () => {
        const first = await open();
        const { run } = await newRun(first, { hosts: 2 });
        const [h] = await first.acquireLeases(run.id, "A", tick(), TTL);
        await first.commitHost({
          runId: run.id,
          host: h!.host,
          owner: "A",
          token: h!.leaseToken,
          patch: { state: "running" },
          intent: intent(run.id, h!.host, 1, h!.leaseToken),
          events: [event(run.id, "step.started", h!.host)],
        });
        const written = await snapshot(first, run.id);
        const plans = await first.listPlanRevisions(run.planName);
        await first.close();
        await first.close(); // closing twice is harmless

        const second = await open();
        try {
          expect(await snapshot(second, run.id)).toEqual(written);
          expect(await second.listPlanRevisions(run.planName)).toEqual(plans);
          // The lease is still A's: A's next commit goes through, B's is fenced.
          await second.commitHost({
            runId: run.id,
            host: h!.host,
            owner: "A",
            token: h!.leaseToken,
            patch: { attempts: 1 },
          });
          await expect(
            second.commitHost({ runId: run.id, host: h!.host, owner: "B", token: h!.leaseToken }),
          ).rejects.toBeInstanceOf(LeaseLostError);
        } finally {
          await second.close();
        }
      });
    });
  });
}
