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
import type { EventRecord, HostCommit } from "../../src/ports/store.js";
import { killAfterCommit, type Setup, setup } from "../support/engine-harness.js";
import { type Handler, makeHosts, ScriptedTransport } from "../support/scripted-transport.js";

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

  it("a step that fails for another reason on later attempts keeps the first one in the host's reason", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: e, kind: command, run: "e", retry: { attempts: 3, backoff: { initial: 10s, jitter: 0 } } }
failureBudget: { maxFailed: 5 }
`;
    // h01: the first attempt says what went wrong, the later ones only that they could not start.
    // h02: the same reason every time, said once.
    let n = 0;
    const t = await setup(plan, 2, (h, c) => {
      if (c !== "e") return undefined;
      if (h === "h02") return { exitCode: 1, stderr: "disk full" };
      n++;
      return { exitCode: 1, stderr: n === 1 ? "kernel panic on upgrade" : "lock held by a previous run" };
    });
    await t.coordinator().drive();
    const reasons = new Map((await t.store.getHosts(t.run.id)).map((h) => [h.host, h.reason ?? ""]));
    expect(reasons.get("h01")).toMatch(
      /^step "e" failed after 3 attempt\(s\): attempt 1: .*kernel panic on upgrade.*; attempt 3: .*lock held by a previous run/,
    );
    expect(reasons.get("h02")).toMatch(/^step "e" failed after 3 attempt\(s\): [^;]*disk full/);
    expect(reasons.get("h02")).not.toContain("attempt 1:");
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

  it("a run halted by hosts in doubt says so, not that they failed", async () => {
    const plan = `
name: p
hosts: all
steps: [{ name: s, kind: command, run: "x", timeout: 5s }]
concurrency: { global: 1 }
`;
    const t = await setup(plan, 3, (h, _c, req) => (h === "h01" ? never(req) : undefined));
    const res = await t.coordinator().drive();
    expect(await states(t.store, t.run.id)).toEqual({ h01: "in_doubt", h02: "pending", h03: "pending" });
    expect(res.run.reason).toBe(
      "failure budget exceeded: 1 of 3 hosts failed or in doubt (0 failed, 1 in doubt; maxFailed 0)",
    );
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

/** Poll the store on virtual time until `pred` holds (at most `maxMs` of virtual time). */
async function until(t: Setup, pred: () => Promise<boolean>, maxMs = 3_600_000): Promise<void> {
  for (let waited = 0; !(await pred()); waited += 500) {
    if (waited > maxMs) throw new Error("condition never held");
    await t.clock.sleep(500);
  }
}

/** The drive's result, or "stuck" when it has not ended after `ms` of virtual time. */
function within<T>(t: Setup, p: Promise<T>, ms: number): Promise<T | "stuck"> {
  return Promise.race([p, t.clock.sleep(ms).then(() => "stuck" as const)]);
}

const hostState = async (t: Setup, h: string) => (await t.store.getHost(t.run.id, h))?.state;
const never = (req: { signal?: AbortSignal }) =>
  new Promise<never>((_r, rej) => req.signal?.addEventListener("abort", () => rej(req.signal?.reason)));

describe("engine: operator actions, doubt and gates under a live coordinator", () => {
  it("a failed host retried by an operator is picked up by the coordinator already driving the run", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: s, kind: command, run: "x" }
  - { name: t, kind: sleep, duration: 10m }
concurrency: { global: 2 }
failureBudget: { maxFailed: 5 }
`;
    let h01Calls = 0;
    const t = await setup(plan, 2, (h, c) => {
      if (h === "h01" && c === "x" && h01Calls++ === 0) return { exitCode: 1 };
      return undefined;
    });
    const stop = new AbortController();
    try {
      const drive = t.coordinator("c1", stop.signal).drive();
      await until(t, async () => (await hostState(t, "h01")) === "failed");
      await hostAction(
        { store: t.store, clock: t.clock },
        (await t.store.getRun(t.run.id))!,
        "h01",
        "retry",
        "op",
      );
      const res = await within(t, drive, 3 * 3_600_000);
      expect(res).not.toBe("stuck");
      expect(await states(t.store, t.run.id)).toEqual({ h01: "succeeded", h02: "succeeded" });
      expect((await t.store.getRun(t.run.id))?.state).toBe("succeeded");
      expect(t.transport.count("h01", "x")).toBe(2);
    } finally {
      stop.abort(new Error("test over"));
    }
  });

  it("two coordinators sharing a run (one started for a retried host) both see it finish", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: s, kind: command, run: "x" }
  - { name: t, kind: sleep, duration: 10m }
concurrency: { global: 2 }
failureBudget: { maxFailed: 5 }
`;
    let h01Calls = 0;
    const t = await setup(plan, 2, (h, c) => {
      if (h === "h01" && c === "x" && h01Calls++ === 0) return { exitCode: 1 };
      return undefined;
    });
    const stop = new AbortController();
    try {
      const d1 = t.coordinator("c1", stop.signal).drive();
      await until(t, async () => (await hostState(t, "h01")) === "failed");
      await hostAction(
        { store: t.store, clock: t.clock },
        (await t.store.getRun(t.run.id))!,
        "h01",
        "retry",
        "op",
      );
      // `overhaul retry h01 && overhaul resume RUN`: a second coordinator takes the freed host.
      const d2 = t.coordinator("c2", stop.signal).drive();
      const [r1, r2] = await within(t, Promise.all([d1, d2]), 3 * 3_600_000).then((r) =>
        r === "stuck" ? ["stuck", "stuck"] : r,
      );
      expect(r1).not.toBe("stuck");
      expect(r2).not.toBe("stuck");
      expect(await states(t.store, t.run.id)).toEqual({ h01: "succeeded", h02: "succeeded" });
      expect((await t.store.getRun(t.run.id))?.state).toBe("succeeded");
    } finally {
      stop.abort(new Error("test over"));
    }
  });

  it("a coordinator stopped while checking an in-doubt attempt leaves it in doubt: the effect never runs twice", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: once, kind: command, run: "once", check: "did-once" }
`;
    // The dead coordinator's "once" did happen; the first check after the crash hangs (a second crash).
    let checks = 0;
    const stop = new AbortController();
    const t = await setup(plan, 1, (_h, c, req) => {
      if (c === "did-once") {
        if (checks++ === 0) {
          queueMicrotask(() => stop.abort(new Error("coordinator killed")));
          return never(req);
        }
        return { exitCode: 0 };
      }
      return undefined;
    });
    const [lease] = await t.store.acquireLeases(t.run.id, "dead", t.clock.now(), 1_000);
    await t.store.commitHost({
      runId: t.run.id,
      host: "h01",
      owner: "dead",
      token: lease!.leaseToken,
      patch: { state: "running", attempts: 1 },
      intent: {
        runId: t.run.id,
        host: "h01",
        seq: 1,
        stepIndex: 0,
        stepName: "once",
        phase: "run",
        number: 1,
        state: "started",
        token: lease!.leaseToken,
        pre: null,
        startedAt: t.clock.now(),
      },
    });
    const r1 = await t.coordinator("c2", stop.signal).drive();
    expect(r1.outcome).toBe("detached");
    // Nothing was decided: the attempt is still in doubt.
    expect((await t.store.getAttempts(t.run.id)).map((a) => a.state)).toEqual(["started"]);
    const r2 = await t.coordinator("c3").drive();
    expect(r2.run.state).toBe("succeeded");
    expect(t.transport.count("h01", "once")).toBe(0);
  });

  it("a revert of unknown outcome that cannot be re-run parks the host in doubt; retry re-runs that revert once", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: a, kind: command, run: "a", revert: "undo-a", timeout: 5s }
  - { name: b, kind: command, run: "b" }
failureBudget: { maxFailed: 5 }
`;
    let undo = 0;
    const t = await setup(plan, 1, (_h, c, req) => {
      if (c === "b") return { exitCode: 1 };
      if (c === "undo-a" && undo++ === 0) return never(req);
      return undefined;
    });
    const stop = new AbortController();
    try {
      const res = await within(t, t.coordinator("c1", stop.signal).drive(), 3_600_000);
      expect(res).not.toBe("stuck");
      const h = await t.store.getHost(t.run.id, "h01");
      expect(h?.state).toBe("in_doubt");
      expect(h?.reason).toMatch(/undo|revert/);
      expect(t.transport.count("h01", "undo-a")).toBe(1);
      await hostAction(
        { store: t.store, clock: t.clock },
        (await t.store.getRun(t.run.id))!,
        "h01",
        "retry",
        "op",
      );
      expect(await hostState(t, "h01")).toBe("reverting");
      const res2 = await within(t, t.coordinator("c2", stop.signal).drive(), 3_600_000);
      expect(res2).not.toBe("stuck");
      expect(t.transport.count("h01", "undo-a")).toBe(2);
      expect(t.transport.count("h01", "a")).toBe(1);
      const h2 = await t.store.getHost(t.run.id, "h01");
      expect(h2?.state).toBe("failed");
      expect(h2?.reason).toMatch(/rolled back/);
    } finally {
      stop.abort(new Error("test over"));
    }
  });

  it("abort while a host waits at a manual gate aborts the run", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: ok, kind: gate, approval: true }
  - { name: b, kind: command, run: "b" }
`;
    const t = await setup(plan, 2, () => undefined);
    const stop = new AbortController();
    try {
      const drive = t.coordinator("c1", stop.signal).drive();
      await until(t, async () => (await t.store.getRun(t.run.id))?.state === "paused");
      await runAction({ store: t.store, clock: t.clock }, (await t.store.getRun(t.run.id))!, "abort", "op");
      const res = await within(t, drive, 3_600_000);
      expect(res).not.toBe("stuck");
      expect((await t.store.getRun(t.run.id))?.state).toBe("aborted");
      expect(Object.values(await states(t.store, t.run.id))).toEqual(["aborted", "aborted"]);
      expect((await t.store.getAttempts(t.run.id)).filter((a) => a.state === "started")).toEqual([]);
      expect(t.transport.calls).toHaveLength(0);
    } finally {
      stop.abort(new Error("test over"));
    }
  });

  it("a graceful stop while a host waits at a manual gate detaches; approval later lets it through", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: ok, kind: gate, approval: true }
  - { name: b, kind: command, run: "b" }
`;
    const t = await setup(plan, 1, () => undefined);
    const stop = new AbortController();
    const drain = new AbortController();
    try {
      const drive = t.coordinator("c1", stop.signal, drain.signal).drive();
      await until(t, async () => (await t.store.getRun(t.run.id))?.state === "paused");
      drain.abort();
      const res = await within(t, drive, 3_600_000);
      expect(res).not.toBe("stuck");
      expect(res !== "stuck" && res.outcome).toBe("detached");
      await runAction({ store: t.store, clock: t.clock }, (await t.store.getRun(t.run.id))!, "resume", "op");
      const res2 = await within(t, t.coordinator("c2", stop.signal).drive(), 3_600_000);
      expect(res2 !== "stuck" && res2.run.state).toBe("succeeded");
      expect(t.transport.count("h01", "b")).toBe(1);
    } finally {
      stop.abort(new Error("test over"));
    }
  });

  it("a manual gate reached while the run is halting asks for approval instead of waiting forever", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: a, kind: command, run: "a" }
  - { name: ok, kind: gate, approval: true }
  - { name: b, kind: command, run: "b" }
concurrency: { global: 2 }
`;
    const t = await setup(plan, 2, async (h, c) => {
      if (c === "a" && h === "h01") return { exitCode: 1 };
      if (c === "a" && h === "h02") await t.clock.sleep(60_000);
      return undefined;
    });
    const stop = new AbortController();
    try {
      const drive = t.coordinator("c1", stop.signal).drive();
      await until(t, async () => (await t.store.getRun(t.run.id))?.state === "paused", 600_000);
      const run = (await t.store.getRun(t.run.id))!;
      expect(run.reason).toMatch(/gate "ok" awaits approval/);
      await runAction({ store: t.store, clock: t.clock }, run, "resume", "op");
      const res = await within(t, drive, 3_600_000);
      expect(res !== "stuck" && res.run.state).toBe("failed");
      expect(await states(t.store, t.run.id)).toEqual({ h01: "failed", h02: "succeeded" });
      expect((await t.store.getRun(t.run.id))?.reason).toMatch(/failure budget exceeded/);
    } finally {
      stop.abort(new Error("test over"));
    }
  });

  it("retrying a host of an aborted run is refused (nobody would ever drive it)", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: once, kind: command, run: "once", timeout: 5s }
  - { name: wait, kind: sleep, duration: 1h }
failureBudget: { maxFailed: 5 }
concurrency: { global: 2 }
`;
    const t = await setup(plan, 2, (h, _c, req) => (h === "h01" ? never(req) : undefined));
    const drive = t.coordinator().drive();
    await until(t, async () => (await hostState(t, "h01")) === "in_doubt");
    await runAction({ store: t.store, clock: t.clock }, (await t.store.getRun(t.run.id))!, "abort", "op");
    await drive;
    const run = (await t.store.getRun(t.run.id))!;
    expect(run.state).toBe("aborted");
    await expect(hostAction({ store: t.store, clock: t.clock }, run, "h01", "retry", "op")).rejects.toThrow(
      /aborted/,
    );
    expect(await hostState(t, "h01")).toBe("in_doubt");
  });

  it("a coordinator stopped while it commits an intent does not start the effect afterwards", async () => {
    const plan = `
name: p
hosts: all
steps: [{ name: slow, kind: command, run: "slow", timeout: 2h }]
`;
    const t = await setup(plan, 1, (_h, _c, req) => never(req));
    const stop = new AbortController();
    const commit = t.store.commitHost.bind(t.store);
    t.store.commitHost = async (c) => {
      await commit(c);
      if (c.intent) stop.abort(new Error("second Ctrl-C"));
    };
    try {
      const res = await within(t, t.coordinator("c1", stop.signal).drive(), 60_000);
      expect(res !== "stuck" && res.outcome).toBe("detached");
      expect(t.transport.count("h01", "slow")).toBe(0);
      expect((await t.store.getAttempts(t.run.id)).map((a) => a.state)).toEqual(["started"]);
    } finally {
      stop.abort(new Error("test over"));
    }
  });

  it("a retry applied with a run record read before the run finished still reopens the run", async () => {
    const plan = `
name: p
hosts: all
steps: [{ name: s, kind: command, run: "x" }]
`;
    let calls = 0;
    const t = await setup(plan, 1, () => (calls++ === 0 ? { exitCode: 1 } : undefined));
    const stale = (await t.store.getRun(t.run.id))!; // the operator's CLI loaded it: running
    expect((await t.coordinator().drive()).run.state).toBe("failed");
    await hostAction({ store: t.store, clock: t.clock }, stale, "h01", "retry", "op");
    expect((await t.store.getRun(t.run.id))?.state).toBe("running");
    expect((await t.coordinator("c2").drive()).run.state).toBe("succeeded");
  });
});

describe("a run that follows a schedule with windows", () => {
  it("starts no host of a region before its window opens, and starts them at the opening, not a tick later", async () => {
    const planYaml = `
name: p
hosts: all
steps: [{ name: s, kind: sleep, duration: 1m }]
concurrency: { global: 4 }
`;
    const clock = new VirtualClock();
    const store = new MemoryStore();
    const random = seededRandom(1);
    const transport = new ScriptedTransport(clock, () => undefined);
    const plan = compilePlan(parsePlanText(planYaml, "plan.yaml"));
    const hosts = makeHosts(4, { regions: 2 });
    const t0 = clock.now();
    // Off the coordinator's 500 ms tick and its lease renewals: only the wake-up at the opening hits them.
    const opensAt = { r1: t0 + 90_250, r2: t0 + 3_600_123 };
    const run = await createRun(
      { store, clock, random },
      {
        plan,
        planBody: planYaml,
        planHash: "h",
        hosts,
        options: {},
        actor: "test",
        schedule: {
          hosts: hosts.map((h, i) => ({ host: h.name, wave: 0, order: i, domains: {} })),
          caps: {},
          opensAt,
        },
      },
    );
    const events: Omit<EventRecord, "seq">[] = [];
    const res = await new Coordinator(
      { store, transport, clock, random, sink: { emit: (e) => events.push(e) }, notifier: nullNotifier },
      { owner: "c1", leaseTtlMs: 30_000, tickMs: 500 },
      run.id,
    ).drive();
    expect(res.run.state).toBe("succeeded");
    const started = events.filter((e) => e.type === "host.started");
    expect(started).toHaveLength(4);
    const regionOf = new Map(hosts.map((h) => [h.name, h.region]));
    for (const e of started) expect(e.at).toBe(opensAt[regionOf.get(e.host as string) as "r1" | "r2"]);
  });
});

describe("chained intents: a step's result and the next step's intent in one commit", () => {
  /** Every commit of the run, as (host, what it wrote). */
  function recordCommits(t: Setup) {
    const log: { host: string; result?: string; intent?: string; state?: string }[] = [];
    const commit = t.store.commitHost.bind(t.store);
    t.store.commitHost = async (c) => {
      await commit(c);
      log.push({
        host: c.host,
        ...(c.result ? { result: c.result.state } : {}),
        ...(c.intent ? { intent: c.intent.stepName } : {}),
        ...(c.patch?.state ? { state: c.patch.state } : {}),
      });
    };
    return log;
  }

  it("chains into idempotent steps that need nothing first, and only into those", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: a, kind: command, run: "do-a", idempotent: true }
  - { name: b, kind: sleep, duration: 10s }
  - { name: c, kind: command, run: "do-c" }
  - { name: d, kind: command, run: "do-d", idempotent: true, check: "did-d" }
  - { name: e, kind: reboot, run: "do-reboot" }
  - { name: f, kind: command, run: "do-f", idempotent: true }
`;
    let boot = 0;
    const t = await setup(plan, 1, (_h, c) => {
      if (c === "did-d") return { exitCode: 1 };
      if (c === "do-reboot") boot++;
      else if (c.includes("boot_id")) return { stdout: `boot-${boot}\n` };
      return undefined;
    });
    const log = recordCommits(t);
    const res = await t.coordinator().drive();
    expect(res.run.state).toBe("succeeded");
    expect(log).toEqual([
      { host: "h01", intent: "a", state: "running" }, // admitted with a's intent
      { host: "h01", result: "succeeded", intent: "b" }, // a done, b (sleep) chained
      { host: "h01", result: "succeeded" }, // c is not idempotent: its own intent
      { host: "h01", intent: "c" },
      { host: "h01", result: "succeeded" }, // d has a check to run first
      { host: "h01", intent: "d" },
      { host: "h01", result: "succeeded" }, // e reads the boot id first
      { host: "h01", intent: "e" },
      { host: "h01", result: "succeeded", intent: "f" },
      { host: "h01", result: "succeeded", state: "succeeded" },
    ]);
    // Same events, in the same order, as one commit each would give.
    const types = t.events.filter((e) => e.host === "h01").map((e) => e.type);
    expect(types.slice(0, 6)).toEqual([
      "host.started",
      "attempt.started",
      "attempt.succeeded",
      "step.succeeded",
      "attempt.started",
      "attempt.succeeded",
    ]);
    const attempts = await t.store.getAttempts(t.run.id);
    expect(attempts.map((a) => [a.seq, a.stepName, a.state])).toEqual([
      [1, "a", "succeeded"],
      [2, "b", "succeeded"],
      [3, "c", "succeeded"],
      [4, "d", "succeeded"],
      [5, "e", "succeeded"],
      [6, "f", "succeeded"],
    ]);
  });

  it("a chained step that fails retries with its own attempts, then reverts, as an unchained one would", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: a, kind: command, run: "do-a", idempotent: true, revert: "undo-a" }
  - { name: b, kind: command, run: "do-b", idempotent: true, retry: { attempts: 3, backoff: { initial: 10s } } }
`;
    const t = await setup(plan, 1, (_h, c) => (c === "do-b" ? { exitCode: 1 } : undefined));
    const log = recordCommits(t);
    const res = await t.coordinator().drive();
    expect(res.run.state).toBe("failed");
    expect(t.transport.count("h01", "do-b")).toBe(3);
    expect(t.transport.count("h01", "undo-a")).toBe(1);
    // b's first attempt was chained into a's result; its retries came after their backoff.
    expect(log.slice(0, 2)).toEqual([
      { host: "h01", intent: "a", state: "running" },
      { host: "h01", result: "succeeded", intent: "b" },
    ]);
    const attempts = await t.store.getAttempts(t.run.id);
    expect(attempts.map((a) => [a.stepName, a.phase, a.number, a.state])).toEqual([
      ["a", "run", 1, "succeeded"],
      ["b", "run", 1, "failed"],
      ["b", "run", 2, "failed"],
      ["b", "run", 3, "failed"],
      ["a", "revert", 1, "succeeded"], // b has no revert; a's is undone
    ]);
  });

  it("a run paused while a step runs: the next step is not chained and starts only after resume", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: a, kind: sleep, duration: 1m }
  - { name: b, kind: command, run: "do-b", idempotent: true }
`;
    const t = await setup(plan, 1, () => undefined);
    const drive = t.coordinator().drive();
    await t.clock.sleep(20_000);
    let run = (await t.store.getRun(t.run.id))!;
    run = await runAction({ store: t.store, clock: t.clock }, run, "pause", "op");
    await t.clock.sleep(10 * 60_000);
    expect((await t.store.getAttempts(t.run.id)).map((a) => [a.stepName, a.state])).toEqual([
      ["a", "succeeded"],
    ]);
    expect(t.transport.count("h01", "do-b")).toBe(0);
    await runAction({ store: t.store, clock: t.clock }, run, "resume", "op");
    expect((await drive).run.state).toBe("succeeded");
    expect(t.transport.count("h01", "do-b")).toBe(1);
  });

  /** Holds the first commit that chains an intent after a result (a slow fsync) until released. */
  function holdChainedCommit(t: Setup) {
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const state = { holding: false, release };
    const commit = t.store.commitHost.bind(t.store);
    t.store.commitHost = async (c) => {
      await commit(c);
      if (c.result && c.intent && !state.holding) {
        state.holding = true;
        await held;
      }
    };
    return state;
  }

  const SLEEP_THEN_B = `
name: p
hosts: all
steps:
  - { name: a, kind: sleep, duration: 1m }
  - { name: b, kind: command, run: "do-b", idempotent: true }
`;

  /**
   * Step a's result and b's chained intent are committed slowly; the operator pauses meanwhile and
   * the coordinator reads it (a tick) before the commit is durable.
   */
  async function pausedDuringChainedCommit(t: Setup) {
    const hold = holdChainedCommit(t);
    const drive = t.coordinator().drive();
    await until(t, async () => hold.holding);
    const run = await runAction(
      { store: t.store, clock: t.clock },
      (await t.store.getRun(t.run.id))!,
      "pause",
      "op",
    );
    await t.clock.sleep(5_000);
    hold.release();
    return { drive, run };
  }

  it("a pause read while a chained commit is in flight: the chained effect waits for resume", async () => {
    const t = await setup(SLEEP_THEN_B, 1, () => undefined);
    const { drive, run } = await pausedDuringChainedCommit(t);
    await t.clock.sleep(10 * 60_000);
    expect(t.transport.count("h01", "do-b")).toBe(0);
    expect((await t.store.getAttempts(t.run.id)).map((a) => [a.stepName, a.state])).toEqual([
      ["a", "succeeded"],
      ["b", "started"],
    ]);
    await runAction({ store: t.store, clock: t.clock }, run, "resume", "op");
    expect((await drive).run.state).toBe("succeeded");
    expect(t.transport.count("h01", "do-b")).toBe(1);
    expect((await t.store.getAttempts(t.run.id)).map((a) => [a.stepName, a.state])).toEqual([
      ["a", "succeeded"],
      ["b", "succeeded"],
    ]);
  });

  it("an abort while a chained effect waits closes its intent: failed, nothing ran, no attempt left open", async () => {
    const t = await setup(SLEEP_THEN_B, 1, () => undefined);
    const { drive, run } = await pausedDuringChainedCommit(t);
    await t.clock.sleep(60_000);
    await runAction({ store: t.store, clock: t.clock }, run, "abort", "op");
    expect((await drive).run.state).toBe("aborted");
    expect(t.transport.count("h01", "do-b")).toBe(0);
    expect((await t.store.getHost(t.run.id, "h01"))?.state).toBe("aborted");
    const attempts = await t.store.getAttempts(t.run.id);
    expect(attempts.map((a) => [a.stepName, a.state])).toEqual([
      ["a", "succeeded"],
      ["b", "failed"],
    ]);
    expect(String(attempts[1]?.result?.reason)).toMatch(/before the step started: nothing ran/);
  });

  it("a coordinator killed right after admitting a host with its first intent: the next one runs that step once", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: a, kind: command, run: "do-a", idempotent: true }
`;
    const t = await setup(plan, 1, () => undefined);
    const { stop, restore } = killAfterCommit(
      t,
      (c) => c.intent !== undefined && c.patch?.state === "running",
    );
    expect((await t.coordinator("c1", stop).drive()).outcome).toBe("detached");
    expect(t.transport.count("h01", "do-a")).toBe(0);
    restore();
    await t.clock.sleep(60_000);
    expect((await t.coordinator("c2").drive()).run.state).toBe("succeeded");
    expect(t.transport.count("h01", "do-a")).toBe(1);
  });

  it("a coordinator killed right after a chained commit: the next one re-runs that idempotent step, nothing parks", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: a, kind: command, run: "do-a", idempotent: true }
  - { name: b, kind: command, run: "do-b", idempotent: true }
`;
    const t = await setup(plan, 1, () => undefined);
    const { stop, restore } = killAfterCommit(t, (c) => c.result !== undefined && c.intent !== undefined);
    const first = await t.coordinator("c1", stop).drive();
    expect(first.outcome).toBe("detached");
    expect(t.transport.count("h01", "do-b")).toBe(0);
    expect((await t.store.getAttempts(t.run.id)).map((a) => [a.stepName, a.state])).toEqual([
      ["a", "succeeded"],
      ["b", "started"],
    ]);
    restore();
    // The dead coordinator's lease expires; the next one takes over.
    await t.clock.sleep(60_000);
    const second = await t.coordinator("c2").drive();
    expect(second.run.state).toBe("succeeded");
    expect(t.transport.count("h01", "do-a")).toBe(1);
    expect(t.transport.count("h01", "do-b")).toBe(1);
    const unknown = t.events.find((e) => e.type === "attempt.unknown");
    expect(unknown?.data).toMatchObject({ step: "b", resolution: "rerun" });
  });
});

describe("engine: leases while steps outlast them, and the budget under racing commits", () => {
  /** One host, one non-idempotent 5-minute step with a check (the lease TTL is 30 s). */
  const LONG = `
name: p
hosts: all
steps:
  - { name: migrate, kind: command, run: "migrate-db", check: "is-migrated", timeout: 30m }
  - { name: after, kind: command, run: "after" }
`;
  function longStep() {
    const s = { running: 0, most: 0, migrated: false };
    const handler: Handler = async (_h, c) => {
      if (c === "is-migrated") return { exitCode: s.migrated ? 0 : 1 };
      if (c !== "migrate-db") return undefined;
      s.running++;
      s.most = Math.max(s.most, s.running);
      await t.clock.sleep(5 * 60_000);
      s.running--;
      s.migrated = true;
      return { exitCode: 0 };
    };
    let t!: Awaited<ReturnType<typeof setup>>;
    return { s, handler, bind: (x: typeof t) => (t = x) };
  }
  async function until(t: Awaited<ReturnType<typeof setup>>, pred: () => boolean): Promise<void> {
    for (let i = 0; !pred(); i++) {
      if (i > 100_000) throw new Error("condition never held");
      await t.clock.sleep(100);
    }
  }

  it("a graceful stop keeps renewing while its step runs: a successor waits, and the step runs once", async () => {
    const l = longStep();
    const t = l.bind(await setup(LONG, 1, l.handler));
    const drain = new AbortController();
    const first = t.coordinator("c1", undefined, drain.signal).drive();
    await until(t, () => l.s.running === 1);
    drain.abort(new Error("interrupted")); // the first Ctrl-C: let the step finish, then detach
    await t.clock.sleep(1_000);
    const second = t.coordinator("c2").drive(); // `overhaul resume`, as the detach message says
    const [r1, r2] = await Promise.all([first, second]);
    expect(r1.outcome).toBe("detached");
    expect(t.transport.count("h01", "migrate-db")).toBe(1);
    expect(l.s.most).toBe(1);
    // c2 could not take the host while c1 renewed; it gives up or finishes after c1 let go.
    if (r2.outcome === "held-elsewhere") {
      const r3 = await t.coordinator("c3").drive();
      expect(r3.run.state).toBe("succeeded");
    } else expect(r2.run.state).toBe("succeeded");
    expect(t.transport.count("h01", "migrate-db")).toBe(1);
  });

  it("a failed renewal is retried, not fatal: the coordinator keeps its lease and the step runs once", async () => {
    const l = longStep();
    const t = l.bind(await setup(LONG, 1, l.handler));
    const renew = t.store.renewLeases.bind(t.store);
    let failures = 0;
    t.store.renewLeases = async (...a) => {
      if (l.s.running === 1 && failures < 2) {
        failures++;
        throw new Error("connection reset by peer");
      }
      return renew(...a);
    };
    const first = t.coordinator("c1").drive();
    await until(t, () => failures === 2);
    await t.clock.sleep(1_000);
    const second = await t.coordinator("c2").drive();
    expect(second.outcome).toBe("held-elsewhere");
    const res = await first;
    expect(res.run.state).toBe("succeeded");
    expect(t.transport.count("h01", "migrate-db")).toBe(1);
    expect(t.events.filter((e) => e.type === "lease.renewal-failed")).toHaveLength(2);
  });

  it("renewals failing past the lease's expiry: no further unit starts until a renewal succeeds", async () => {
    const l = longStep();
    const t = l.bind(await setup(LONG, 1, l.handler));
    const renew = t.store.renewLeases.bind(t.store);
    let down = true;
    let backAt = Number.POSITIVE_INFINITY;
    t.store.renewLeases = async (...a) => {
      if (down && l.s.running === 0 && l.s.migrated) {
        // The store came back 10 minutes after the step ended.
        if (backAt === Number.POSITIVE_INFINITY) backAt = t.clock.now() + 10 * 60_000;
        if (t.clock.now() < backAt) throw new Error("connection refused");
        down = false;
      }
      if (down && l.s.running === 1) throw new Error("connection refused");
      return renew(...a);
    };
    const res = await t.coordinator("c1").drive();
    expect(res.run.state).toBe("succeeded");
    const after = t.transport.calls.find((c) => c.command === "after");
    // The step's 5 minutes outlast the 30 s lease: "after" waits for a renewal to succeed again.
    expect(after?.at).toBeGreaterThanOrEqual(backAt);
  });

  it("a failure that lands while an admission commits its starts stops the rest of that admission", async () => {
    const plan = `
name: p
hosts: all
steps: [{ name: s, kind: command, run: "x", idempotent: true }]
concurrency: { global: 3 }
`; // no failure budget: the first failed host halts the run
    const t = await setup(plan, 6, async (h) => {
      await t.clock.sleep(10_000);
      return h === "h01" ? { exitCode: 1 } : undefined;
    });
    // h01's failure is held back until the start of h04 (admitted when h01 ended) is in flight.
    const commit = t.store.commitHost.bind(t.store);
    let letFailureLand!: () => void;
    const failureMayLand = new Promise<void>((r) => (letFailureLand = r));
    let failureLanded!: () => void;
    const landed = new Promise<void>((r) => (failureLanded = r));
    const order: string[] = [];
    t.store.commitHost = async (c: HostCommit) => {
      const types = (c.events ?? []).map((e) => e.type);
      if (c.host === "h01" && types.includes("host.failed")) {
        await failureMayLand;
        await commit(c);
        order.push("h01 failed");
        failureLanded();
        return;
      }
      if (types.includes("host.started") && !["h01", "h02", "h03"].includes(c.host)) {
        letFailureLand();
        await landed;
      }
      await commit(c);
      if (types.includes("host.started")) order.push(`${c.host} started`);
    };
    const res = await t.coordinator().drive();
    expect(res.run.state).toBe("failed");
    const after = order.slice(order.indexOf("h01 failed") + 1);
    // The start already being committed when the failure landed goes through (it was decided
    // before); no later one does.
    expect(after.filter((x) => x.endsWith("started")).length).toBeLessThanOrEqual(1);
    const s = await states(t.store, t.run.id);
    expect(["pending", "skipped"]).toContain(s.h06);
  });
});

describe("engine: an operator's retry racing the end of the run", () => {
  it("a retry committed just before the coordinator finishes the run reopens it, and the host is driven", async () => {
    const plan = `
name: p
hosts: all
steps: [{ name: s, kind: command, run: "x" }]
`;
    let calls = 0;
    const t = await setup(plan, 1, () => (++calls === 1 ? { exitCode: 1 } : undefined));
    const update = t.store.updateRun.bind(t.store);
    let raced = false;
    t.store.updateRun = async (id, from, patch, events) => {
      if (!raced && patch.state === "failed") {
        // The operator's retry commits between the coordinator's look at its hosts and its write.
        raced = true;
        const run = await t.store.getRun(id);
        if (run) await hostAction({ store: t.store, clock: t.clock }, run, "h01", "retry", "op");
      }
      return update(id, from, patch, events);
    };
    const res = await t.coordinator().drive();
    expect(raced).toBe(true);
    expect(res.run.state).toBe("succeeded");
    expect(await states(t.store, t.run.id)).toEqual({ h01: "succeeded" });
    expect(t.transport.count("h01", "x")).toBe(2);
  });
});

describe("engine: an error inside a unit", () => {
  it("a store error while a step commits ends the drive with that error (other steps settle first), not an unhandled rejection", async () => {
    const plan = `
name: p
hosts: all
concurrency: { global: 2 }
steps: [{ name: s, kind: command, run: "x", idempotent: true }]
`;
    const t = await setup(plan, 2, async (h) => {
      await t.clock.sleep(h === "h01" ? 1_000 : 5_000);
      return undefined;
    });
    const commit = t.store.commitHost.bind(t.store);
    t.store.commitHost = async (c: HostCommit) => {
      if (c.host === "h01" && (c.events ?? []).some((e) => e.type === "host.succeeded"))
        throw new Error("database connection lost");
      return commit(c);
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      await expect(t.coordinator().drive()).rejects.toThrow("database connection lost");
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
    // h02's step, in flight when h01's commit failed, was allowed to finish and record its result.
    expect((await states(t.store, t.run.id)).h02).toBe("succeeded");
  });
});
