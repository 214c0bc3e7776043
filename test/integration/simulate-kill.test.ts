/**
 * Coordinator kills: the coordinator dies (SIGKILL: it writes nothing more, releases no lease) at
 * seeded instants and a new one resumes from the database alone. Non-idempotent command steps sit
 * in the plan with long `verify` windows, so kills land after their effect and before its result
 * is stored: exactly-once matters. After the run: it ended, every invariant holds (effect-twice
 * above all), one coordinator per kill plus the first drove it, and no host is left mid-flow.
 *
 * And the other way round: the invariant checker does catch a non-idempotent effect applied twice.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../src/adapters/store-sql/index.js";
import { isTerminalHost, isTerminalRun } from "../../src/core/flow/states.js";
import { seededRandom } from "../../src/core/policy/random.js";
import { checkInvariants } from "../../src/core/sim/invariants.js";
import type { LedgerEntry } from "../../src/core/sim/ledger.js";
import { loadedPlan, ran, type SimOutcome, START, simulateCase } from "./simulate-support.js";

/**
 * `upgrade` is not idempotent but has a check (an in-doubt attempt is confirmed, not re-run);
 * `migrate` is not idempotent and has no check (an in-doubt attempt parks the host).
 */
const PLAN = `
name: maintenance-kill
hosts: workers
concurrency: { global: 2 }
failureBudget: { maxFailedPercent: 100 }
steps:
  - { name: drain, kind: drain }
  - name: upgrade
    kind: command
    run: version set 2.0
    check: version get
    verify: sleep 120
  - name: migrate
    kind: command
    run: echo migrated
    verify: sleep 60
  - { name: reboot, kind: reboot, timeout: 10m, retry: { attempts: 3, backoff: { initial: 2m, jitter: 0 } } }
  - { name: healthy, kind: wait-healthy, timeout: 5m }
  - { name: reinstate, kind: reinstate }
`;
const NON_IDEMPOTENT = ["upgrade", "migrate"];
const STOPPED = "the coordinator stopped while the attempt ran";

function killScenario(killsMs: readonly number[]): string {
  const lines = killsMs.map((k) => `\n  - { kind: coordinator-kill, at: ${k}ms }`);
  return `seed: 3\nboot: { min: 2m, max: 6m }\nfailures:${lines.length > 0 ? lines.join("") : " []"}\n`;
}

/** What must hold after any run with kills. */
function expectSound(r: SimOutcome, kills: number): void {
  expect(r.unfinished).toBeUndefined();
  expect(isTerminalRun(r.run.state)).toBe(true);
  expect(r.coordinators).toBe(kills + 1);
  expect(r.invariants.violations).toEqual([]);
  expect(r.invariants.ok).toBe(true);
  expect(r.invariants.checked["effect-twice"]).toBeGreaterThan(0);
  // No host mid-flow; every one that did not succeed says why.
  for (const h of r.hosts) {
    expect(isTerminalHost(h.state), `${h.host} is ${h.state}`).toBe(true);
    if (h.state !== "succeeded") expect(h.reason, h.host).toBeTruthy();
  }
  // Exactly once, counted straight from the ledger: a non-idempotent effect never applied twice.
  for (const h of r.hosts) {
    for (const step of NON_IDEMPOTENT) {
      const applied = ran(r.ledger, h.host, step).filter((e) => e.applied);
      expect(applied.length, `${step} on ${h.host}`).toBeLessThanOrEqual(1);
    }
  }
  // A host parked in doubt was parked on a non-idempotent step whose effect was not repeated.
  for (const h of r.hosts.filter((x) => x.state === "in_doubt")) {
    expect(h.reason).toMatch(/^outcome of step "migrate" \(run\) is unknown/);
    expect(ran(r.ledger, h.host, "migrate")).toHaveLength(1);
  }
}

/** Events written by coordinator `n` (1-based). */
function byCoordinator(r: SimOutcome, n: number) {
  return r.events.filter((e) => e.actor === `sim-coordinator-${n}`);
}

describe("coordinator kills", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "overhaul-sim-kill-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("20 seeded kills in one run on SQLite: the run ends, exactly once holds, one coordinator per kill", async () => {
    const rnd = seededRandom(2026);
    const kills: number[] = [];
    for (let t = 0; kills.length < 20; ) {
      t += 45_000 + Math.floor(rnd.next() * 105_000);
      kills.push(t);
    }
    const store = await openSqliteStore(join(dir, "kills.db"));
    let r: SimOutcome;
    try {
      r = await simulateCase({ scenario: killScenario(kills), plan: PLAN, store });
    } finally {
      await store.close();
    }
    expectSound(r, kills.length);
    // Every kill happened before the run ended (so each one really stopped a coordinator) ...
    expect(START + (kills.at(-1) as number)).toBeLessThan(START + r.virtualMs);
    // ... and a killed coordinator wrote nothing after its kill; its successor started 10 s later.
    for (let n = 1; n <= kills.length + 1; n++) {
      const evs = byCoordinator(r, n);
      const killedAt = START + (kills[n - 1] ?? Number.POSITIVE_INFINITY);
      const startedAfter = n === 1 ? START : START + (kills[n - 2] as number) + 10_000;
      for (const e of evs) {
        expect(e.at, `coordinator ${n}: ${e.type}`).toBeLessThanOrEqual(killedAt);
        expect(e.at, `coordinator ${n}: ${e.type}`).toBeGreaterThanOrEqual(startedAfter);
      }
    }
    // The kills did land mid-step, and on the non-idempotent steps too, which were then resolved by
    // their check (upgrade) or parked (migrate), never re-run blindly.
    const doubts = r.events.filter((e) => e.type === "attempt.unknown" && e.data.reason === STOPPED);
    expect(doubts.length).toBeGreaterThanOrEqual(10);
    const onUpgrade = doubts.filter((e) => e.data.step === "upgrade");
    const onMigrate = doubts.filter((e) => e.data.step === "migrate");
    expect(onUpgrade.length).toBeGreaterThan(0);
    expect(onMigrate.length).toBeGreaterThan(0);
    for (const e of onUpgrade) expect(e.data.resolution).toBe("check");
    for (const e of onMigrate) {
      expect(e.data.resolution).toBe("park");
      expect(r.states[e.host as string]).toBe("in_doubt");
    }
  });

  it("10 independent runs on the memory store, each killed once at a seeded instant", async () => {
    const rnd = seededRandom(77);
    let landed = 0;
    const resolutions = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const at = 60_000 + Math.floor(rnd.next() * 50 * 60_000);
      const r = await simulateCase({ scenario: killScenario([at]), plan: PLAN });
      expectSound(r, 1);
      expect(byCoordinator(r, 1).every((e) => e.at <= START + at)).toBe(true);
      expect(byCoordinator(r, 2).length, `kill at ${at} ms`).toBeGreaterThan(0);
      const doubts = r.events.filter((e) => e.type === "attempt.unknown" && e.data.reason === STOPPED);
      if (doubts.length > 0) landed++;
      for (const d of doubts) resolutions.add(`${d.data.step}:${d.data.resolution}`);
    }
    // Most kills caught a coordinator in the middle of an attempt.
    expect(landed).toBeGreaterThanOrEqual(5);
    expect(resolutions.size).toBeGreaterThan(1);
  });

  it("a kill at 0 s kills the first coordinator once it has done what it does at the first instant", async () => {
    const r = await simulateCase({ scenario: killScenario([0]), plan: PLAN });
    expectSound(r, 1);
    const first = byCoordinator(r, 1);
    expect(first.length).toBeGreaterThan(0);
    expect(first.every((e) => e.at === START)).toBe(true);
    expect(byCoordinator(r, 2).every((e) => e.at >= START + 10_000)).toBe(true);
    // What it had started at that instant was left in doubt, and resolved by its successor.
    const doubts = r.events.filter((e) => e.type === "attempt.unknown" && e.data.reason === STOPPED);
    expect(doubts.length).toBeGreaterThan(0);
    for (const d of doubts) expect(d.actor).toBe("sim-coordinator-2");
  });

  it("a command its killed coordinator left running goes on; the next coordinator waits for its end, never runs it twice", async () => {
    // One host at a time; each one's `slow` (not idempotent, no check) runs 10 minutes. The kill
    // comes 5 minutes into the first.
    const plan = `
name: slow-kill
hosts: workers
concurrency: { global: 1 }
failureBudget: { maxFailedPercent: 100 }
steps:
  - { name: slow, kind: command, run: sleep 600, timeout: 20m }
`;
    const r = await simulateCase({ plan, scenario: killScenario([300_000]) });
    expect(r.coordinators).toBe(2);
    expect(r.invariants.violations).toEqual([]);
    const first = r.events.find((e) => e.type === "host.started")?.host as string;
    const began = r.events.find((e) => e.host === first && e.type === "attempt.started")?.at as number;
    expect(began).toBeLessThan(START + 300_000);
    // Run once, by the killed coordinator: it ended its 10 minutes (and a call's latency) later,
    // after the kill, and took effect.
    const slow = ran(r.ledger, first, "slow");
    expect(slow.map((e) => [e.outcome, e.applied])).toEqual([
      ["exit 0 (after its coordinator was killed)", true],
    ]);
    const ended = slow[0]?.at as number;
    expect(ended).toBeGreaterThanOrEqual(began + 600_000);
    expect(ended).toBeLessThanOrEqual(began + 600_200);
    // The next coordinator asked, was told it still ran, and waited until it had ended; with no
    // check to say whether it did its work, the host is left for an operator, not run again.
    const waited = r.events.filter((e) => e.host === first && e.type === "attempt.still-running");
    expect(waited.length).toBeGreaterThan(0);
    const parked = r.events.find((e) => e.host === first && e.type === "host.in_doubt");
    expect(parked?.at).toBeGreaterThanOrEqual(ended);
    expect(r.states[first]).toBe("in_doubt");
    // The others ran theirs in the usual way, once each.
    for (const h of r.hosts.filter((x) => x.host !== first)) {
      expect(h.state, h.host).toBe("succeeded");
      expect(ran(r.ledger, h.host, "slow").map((e) => e.outcome)).toEqual(["exit 0"]);
    }
  });

  it("the checker is not blind: a tampered ledger with a non-idempotent effect applied twice fails effect-twice", async () => {
    const r = await simulateCase({ scenario: killScenario([]), plan: PLAN });
    const input = {
      hosts: r.fleet.hosts,
      workloads: r.fleet.workloads,
      plan: loadedPlan(PLAN).plan,
      runHosts: r.hosts,
      events: r.events,
      runState: r.run.state,
    };
    expect(checkInvariants({ ...input, ledger: r.ledger }).ok).toBe(true);

    /** The ledger with `e` applied once more, one attempt later (a new attempt row), just after the original. */
    const twice = (e: LedgerEntry): LedgerEntry[] => {
      const i = r.ledger.indexOf(e);
      const copy: LedgerEntry = { ...e, at: e.at + 1, attempt: (e.attempt ?? 1) + 1, tag: `${e.tag}-again` };
      return [...r.ledger.slice(0, i + 1), copy, ...r.ledger.slice(i + 1)];
    };
    for (const step of NON_IDEMPOTENT) {
      const e = ran(r.ledger, "r01-h003", step).find((x) => x.applied);
      if (!e) throw new Error(`no applied ${step} on r01-h003`);
      const report = checkInvariants({ ...input, ledger: twice(e) });
      expect(report.ok).toBe(false);
      expect(report.violations).toHaveLength(1);
      expect(report.violations[0]).toMatchObject({
        invariant: "effect-twice",
        host: "r01-h003",
        message: expect.stringContaining(`non-idempotent step "${step}" applied 2 times on r01-h003`),
      });
    }
    // An idempotent step's command twice is fine (the reboot command is idempotent by default) ...
    const reboot = ran(r.ledger, "r01-h003", "reboot").find((x) => x.command === "systemctl reboot");
    if (!reboot) throw new Error("no reboot command on r01-h003");
    expect(checkInvariants({ ...input, ledger: twice(reboot) }).ok).toBe(true);
    // ... and so is a second application an operator asked for (`overhaul retry HOST`).
    const upgrade = ran(r.ledger, "r01-h003", "upgrade").find((x) => x.applied) as LedgerEntry;
    const retried = [
      ...r.events,
      { host: "r01-h003", at: upgrade.at, type: "host.retried", data: { from: "failed" } },
    ];
    expect(checkInvariants({ ...input, events: retried, ledger: twice(upgrade) }).ok).toBe(true);
  });
});
