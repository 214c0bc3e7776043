/**
 * Engine behaviour on virtual time with the in-memory store and a scripted transport:
 * steps, retries, revert to the point of no return, budget, waves, caps, in-doubt, pause/abort.
 */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../src/adapters/clock/virtual-clock.js";
import { MemoryStore } from "../../src/adapters/store-memory/memory-store.js";
import { compilePlan } from "../../src/core/plan/compile.js";
import { parsePlanText } from "../../src/core/plan/load.js";
import { seededRandom } from "../../src/core/policy/random.js";
import { Coordinator } from "../../src/engine/coordinator.js";
import { nullNotifier } from "../../src/engine/deps.js";
import { createRun, hostAction, runAction } from "../../src/engine/runs.js";
import type { EventRecord } from "../../src/ports/store.js";
import { type Handler, makeHosts, ScriptedTransport } from "../support/scripted-transport.js";

async function setup(planYaml: string, hostsN: number, handler: Handler, hostOpts = {}) {
  const clock = new VirtualClock();
  const store = new MemoryStore();
  const random = seededRandom(1);
  const transport = new ScriptedTransport(clock, handler);
  const plan = compilePlan(parsePlanText(planYaml, "plan.yaml"));
  const hosts = makeHosts(hostsN, hostOpts);
  const run = await createRun(
    { store, clock, random },
    { plan, planBody: planYaml, planHash: "h", hosts, options: {}, actor: "test" },
  );
  const events: Omit<EventRecord, "seq">[] = [];
  const coordinator = (owner = "c1", signal?: AbortSignal) =>
    new Coordinator(
      { store, transport, clock, random, sink: { emit: (e) => events.push(e) }, notifier: nullNotifier },
      { owner, leaseTtlMs: 30_000, tickMs: 500 },
      run.id,
      signal,
    );
  return { clock, store, transport, run, coordinator, events };
}

const states = async (store: MemoryStore, runId: string) =>
  Object.fromEntries((await store.getHosts(runId)).map((h) => [h.host, h.state]));

describe("engine", () => {
  it("runs every step on every host and finishes the run", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: a, kind: command, run: "do-a" }
  - { name: b, kind: sleep, duration: 10s }
  - { name: c, kind: command, run: "do-c" }
concurrency: { global: 2 }
`;
    const t = await setup(plan, 5, () => undefined);
    const res = await t.coordinator().drive();
    expect(res.run.state).toBe("succeeded");
    for (const h of ["h01", "h02", "h03", "h04", "h05"]) {
      expect(t.transport.count(h, "do-a")).toBe(1);
      expect(t.transport.count(h, "do-c")).toBe(1);
    }
    // 5 hosts, 2 at a time, 10 s sleep each -> 3 rounds of >= 10 s.
    expect(t.clock.now() - t.run.createdAt).toBeGreaterThanOrEqual(30_000);
  });

  it("never exceeds the global, per-region and per-rack caps", async () => {
    const plan = `
name: p
hosts: all
steps: [{ name: s, kind: sleep, duration: 1m }]
concurrency: { global: 4, perRegion: 3, perFailureDomain: { rack: 1 } }
`;
    const t = await setup(plan, 12, () => undefined, { regions: 2, racks: 3 });
    const active = new Set<string>();
    let maxActive = 0;
    const hostsMeta = new Map(
      (await t.store.getHosts(t.run.id)).map((h) => [
        h.host,
        h.data as { region: string; failureDomains: { rack: string } },
      ]),
    );
    let violations = 0;
    const origEmit = t.events.push.bind(t.events);
    t.events.push = (...es) => {
      for (const e of es) {
        if (e.type === "host.started" && e.host) active.add(e.host);
        if (e.type === "host.succeeded" && e.host) active.delete(e.host);
        maxActive = Math.max(maxActive, active.size);
        const racks = new Map<string, number>();
        const regions = new Map<string, number>();
        for (const h of active) {
          const m = hostsMeta.get(h)!;
          const rk = `${m.region}/${m.failureDomains.rack}`;
          racks.set(rk, (racks.get(rk) ?? 0) + 1);
          regions.set(m.region, (regions.get(m.region) ?? 0) + 1);
        }
        if ([...racks.values()].some((n) => n > 1) || [...regions.values()].some((n) => n > 3)) violations++;
      }
      return origEmit(...es);
    };
    const res = await t.coordinator().drive();
    expect(res.run.state).toBe("succeeded");
    expect(violations).toBe(0);
    expect(maxActive).toBeLessThanOrEqual(4);
    expect(maxActive).toBeGreaterThanOrEqual(2);
  });

  it("canary wave finishes before the next wave starts", async () => {
    const plan = `
name: p
hosts: all
steps: [{ name: s, kind: sleep, duration: 1m }]
waves: [{ count: 1 }, { percent: 50 }, { percent: 100 }]
concurrency: { global: 10 }
`;
    const t = await setup(plan, 6, () => undefined);
    await t.coordinator().drive();
    const starts = t.events.filter((e) => e.type === "host.started").map((e) => ({ h: e.host, at: e.at }));
    const done = t.events.filter((e) => e.type === "host.succeeded").map((e) => ({ h: e.host, at: e.at }));
    const canaryDone = done.find((d) => d.h === "h01")!.at;
    expect(starts.filter((s) => s.h !== "h01").every((s) => s.at >= canaryDone)).toBe(true);
    // wave 2 = 3 hosts (50 % of 6), wave 3 = the remaining 2
    const w2done = Math.max(...done.filter((d) => ["h02", "h03", "h04"].includes(d.h!)).map((d) => d.at));
    expect(starts.filter((s) => ["h05", "h06"].includes(s.h!)).every((s) => s.at >= w2done)).toBe(true);
  });

  it("retries with backoff, then reverts completed steps newest first down to the point of no return", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: a, kind: command, run: "a", revert: "undo-a" }
  - { name: b, kind: command, run: "b", revert: "undo-b", pointOfNoReturn: true }
  - { name: c, kind: command, run: "c", revert: "undo-c" }
  - { name: d, kind: command, run: "d", revert: "undo-d" }
  - { name: e, kind: command, run: "e", retry: { attempts: 3, backoff: { initial: 10s, jitter: 0 } }, revert: "undo-e" }
failureBudget: { maxFailed: 5 }
`;
    const t = await setup(plan, 1, (_h, c) => (c === "e" ? { exitCode: 1, stderr: "boom" } : undefined));
    const res = await t.coordinator().drive();
    expect(res.run.state).toBe("failed");
    const seq = t.transport.calls.map((c) => c.command);
    expect(seq).toEqual(["a", "b", "c", "d", "e", "e", "e", "undo-e", "undo-d", "undo-c"]);
    const eCalls = t.transport.calls.filter((c) => c.command === "e").map((c) => c.at);
    expect(eCalls[1]! - eCalls[0]!).toBe(10_000);
    expect(eCalls[2]! - eCalls[1]!).toBe(20_000);
    const h = (await t.store.getHosts(t.run.id))[0]!;
    expect(h.state).toBe("failed");
    expect(h.reason).toMatch(/step "e" failed after 3 attempt\(s\).*rolled back/);
  });

  it("verify failure counts as a failed attempt and reverts the step", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: up, kind: command, run: "upgrade", verify: "check-version", revert: "downgrade" }
`;
    const t = await setup(plan, 2, (h, c) =>
      c === "check-version" && h === "h02" ? { exitCode: 3 } : undefined,
    );
    const res = await t.coordinator().drive();
    expect(res.run.state).toBe("failed");
    expect(await states(t.store, t.run.id)).toEqual({ h01: "succeeded", h02: "failed" });
    expect(t.transport.count("h02", "downgrade")).toBe(1);
    expect(t.transport.count("h01", "downgrade")).toBe(0);
  });

  it("halts on the failure budget: no new hosts start once it is exceeded", async () => {
    const plan = `
name: p
hosts: all
steps: [{ name: s, kind: command, run: "x" }]
concurrency: { global: 1 }
failureBudget: { maxFailed: 1 }
`;
    const t = await setup(plan, 6, (h) => (h === "h01" || h === "h02" ? { exitCode: 1 } : undefined));
    const res = await t.coordinator().drive();
    expect(res.run.state).toBe("failed");
    expect(res.run.reason).toMatch(/failure budget exceeded: 2 of 6/);
    expect(await states(t.store, t.run.id)).toEqual({
      h01: "failed",
      h02: "failed",
      h03: "pending",
      h04: "pending",
      h05: "pending",
      h06: "pending",
    });
  });

  it("a check that passes skips the step", async () => {
    const plan = `
name: p
hosts: all
steps: [{ name: s, kind: command, run: "install", check: "is-installed" }]
`;
    const t = await setup(plan, 2, (h, c) =>
      c === "is-installed" ? { exitCode: h === "h01" ? 0 : 1 } : undefined,
    );
    await t.coordinator().drive();
    expect(t.transport.count("h01", "install")).toBe(0);
    expect(t.transport.count("h02", "install")).toBe(1);
  });

  it("a timed-out non-idempotent step without check parks the host in doubt; with check it is resolved", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: once, kind: command, run: "once", timeout: 5s }
  - { name: checked, kind: command, run: "checked", check: "did-checked", timeout: 5s }
failureBudget: { maxFailed: 10 }
`;
    let checkedRan = false;
    const t = await setup(plan, 2, (h, c, req) => {
      if (c === "once" && h === "h01")
        return new Promise((_r, rej) => req.signal?.addEventListener("abort", () => rej(req.signal?.reason)));
      if (c === "checked" && h === "h02") {
        checkedRan = true;
        return new Promise((_r, rej) => req.signal?.addEventListener("abort", () => rej(req.signal?.reason)));
      }
      if (c === "did-checked") return { exitCode: checkedRan ? 0 : 1 };
      return undefined;
    });
    const res = await t.coordinator().drive();
    expect(await states(t.store, t.run.id)).toEqual({ h01: "in_doubt", h02: "succeeded" });
    expect(t.transport.count("h01", "once")).toBe(1);
    expect(t.transport.count("h02", "checked")).toBe(1);
    expect(res.run.state).toBe("failed");
    // The operator says re-running is safe.
    await hostAction(
      { store: t.store, clock: t.clock },
      (await t.store.getRun(t.run.id))!,
      "h01",
      "retry",
      "op",
    );
    const h01 = await t.store.getHost(t.run.id, "h01");
    expect(h01?.state).toBe("running");
  });

  it("resolves an attempt left in doubt by a crashed coordinator: check, re-run if idempotent, park otherwise", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: once, kind: command, run: "once" }
  - { name: idem, kind: command, run: "idem", idempotent: true }
  - { name: checked, kind: command, run: "checked", check: "did-checked" }
failureBudget: { maxFailed: 10 }
`;
    const t = await setup(plan, 3, (_h, c) => (c === "did-checked" ? { exitCode: 0 } : undefined));
    // Simulate a crash: claim the leases and write intents with no result, as a dead coordinator would.
    const leases = await t.store.acquireLeases(t.run.id, "dead", t.clock.now(), 1_000);
    const mk = (host: string, stepIndex: number, stepName: string, token: number) =>
      t.store.commitHost({
        runId: t.run.id,
        host,
        owner: "dead",
        token,
        patch: { state: "running", stepIndex, attempts: 1 },
        intent: {
          runId: t.run.id,
          host,
          seq: 1,
          stepIndex,
          stepName,
          phase: "run",
          number: 1,
          state: "started",
          token,
          pre: null,
          startedAt: t.clock.now(),
        },
      });
    const tok = (h: string) => leases.find((l) => l.host === h)!.leaseToken;
    await mk("h01", 0, "once", tok("h01"));
    await mk("h02", 1, "idem", tok("h02"));
    await mk("h03", 2, "checked", tok("h03"));
    const res = await t.coordinator("c2").drive();
    expect(await states(t.store, t.run.id)).toEqual({ h01: "in_doubt", h02: "succeeded", h03: "succeeded" });
    expect(t.transport.count("h01", "once")).toBe(0); // never re-run
    expect(t.transport.count("h02", "idem")).toBe(1); // re-run: idempotent
    expect(t.transport.count("h03", "checked")).toBe(0); // check says done
    expect(res.run.state).toBe("failed");
  });

  it("a coordinator that lost its lease writes nothing more (fencing)", async () => {
    const plan = `
name: p
hosts: all
steps: [{ name: s, kind: command, run: "x" }]
`;
    const t = await setup(plan, 1, () => undefined);
    const [lease] = await t.store.acquireLeases(t.run.id, "old", t.clock.now(), 1_000);
    await t.store.acquireLeases(t.run.id, "new", t.clock.now() + 2_000, 1_000);
    await expect(
      t.store.commitHost({
        runId: t.run.id,
        host: "h01",
        owner: "old",
        token: lease!.leaseToken,
        patch: { state: "running" },
      }),
    ).rejects.toThrow(/lease/);
    expect((await t.store.getHost(t.run.id, "h01"))?.state).toBe("pending");
  });

  it("pause stops new work, resume continues, abort stops hosts without revert", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: a, kind: sleep, duration: 1m }
  - { name: b, kind: command, run: "b", revert: "undo-b" }
concurrency: { global: 1 }
`;
    const t = await setup(plan, 3, () => undefined);
    const drive = t.coordinator().drive();
    await t.clock.sleep(30_000);
    let run = (await t.store.getRun(t.run.id))!;
    run = await runAction({ store: t.store, clock: t.clock }, run, "pause", "op");
    await t.clock.sleep(10 * 60_000);
    // h01 finished its current unit (the sleep) but nothing new started.
    const s1 = await states(t.store, t.run.id);
    expect(s1.h02).toBe("pending");
    run = await runAction({ store: t.store, clock: t.clock }, run, "abort", "op");
    const res = await drive;
    expect(res.run.state).toBe("aborted");
    const s2 = await states(t.store, t.run.id);
    expect(Object.values(s2).every((s) => s === "aborted")).toBe(true);
    expect(t.transport.calls.filter((c) => c.command === "undo-b")).toHaveLength(0);
  });

  it("a manual gate pauses the run until an operator resumes it", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: canary-ok, kind: gate, approval: true }
  - { name: b, kind: command, run: "b" }
`;
    const t = await setup(plan, 2, () => undefined);
    const drive = t.coordinator().drive();
    for (let i = 0; i < 20 && (await t.store.getRun(t.run.id))?.state !== "paused"; i++)
      await t.clock.sleep(1_000);
    const run = (await t.store.getRun(t.run.id))!;
    expect(run.state).toBe("paused");
    expect(run.reason).toMatch(/gate "canary-ok" awaits approval/);
    expect(t.transport.calls).toHaveLength(0);
    await runAction({ store: t.store, clock: t.clock }, run, "resume", "op");
    const res = await drive;
    expect(res.run.state).toBe("succeeded");
    expect(t.transport.calls).toHaveLength(2);
  });

  it("a coordinator stopped mid-effect records nothing; the next one resolves the attempt", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: slow, kind: command, run: "slow", check: "done?" }
`;
    let finished = 0;
    const t = await setup(plan, 1, async (_h, c, req) => {
      if (c === "done?") return { exitCode: finished > 0 ? 0 : 1 };
      await new Promise<void>((resolve, reject) => {
        const timer = t.clock.sleep(60_000).then(() => {
          finished++;
          resolve();
        });
        void timer;
        req.signal?.addEventListener("abort", () => reject(req.signal?.reason));
      });
      return undefined;
    });
    const ac = new AbortController();
    const first = t.coordinator("c1", ac.signal).drive();
    for (let i = 0; i < 50 && (await t.store.getAttempts(t.run.id)).length === 0; i++)
      await t.clock.sleep(100);
    ac.abort(new Error("stop"));
    const r1 = await first;
    expect(r1.outcome).toBe("detached");
    const attempts = await t.store.getAttempts(t.run.id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.state).toBe("started"); // in doubt, exactly as after a crash
    expect((await t.store.getHost(t.run.id, "h01"))?.state).toBe("running");
    const r2 = await t.coordinator("c2").drive();
    expect(r2.run.state).toBe("succeeded");
    expect(t.events.some((e) => e.type === "attempt.unknown")).toBe(true);
  });
});
