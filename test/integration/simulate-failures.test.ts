/**
 * Every kind of injected failure, through `simulateRun`: the real engine (memory store, virtual
 * clock) drives drain -> upgrade (a non-idempotent command) -> reboot -> wait-healthy (the Health
 * port) -> reinstate over 4 workers with 2 hold-overs, and each test checks the engine's specific
 * reaction to its failure, then that every invariant holds.
 */
import { describe, expect, it } from "vitest";
import {
  effects,
  finalPlacement,
  MAINTENANCE,
  ran,
  type SimOutcome,
  START,
  simulateCase,
} from "./simulate-support.js";

const WORKERS = ["r01-h001", "r01-h002", "r01-h003", "r01-h004"];
const HOLDOVERS = ["r01-h005", "r01-h006"];

function scenario(failures: string, seed = 3): string {
  return `seed: ${seed}\nboot: { min: 2m, max: 6m }\nfailures:\n${failures}\n`;
}

function expectInvariantsHold(r: SimOutcome): void {
  expect(r.invariants.violations).toEqual([]);
  expect(r.invariants.ok).toBe(true);
  // Something was actually checked: every workload, every host, every placement.
  expect(r.invariants.checked["workload-lost"]).toBeGreaterThanOrEqual(r.fleet.workloads.length);
  expect(r.invariants.checked["host-unfinished"]).toBe(WORKERS.length);
  expect(r.invariants.checked["workload-twice"]).toBeGreaterThan(r.fleet.workloads.length);
  expect(r.unfinished).toBeUndefined();
  expect(["succeeded", "failed"]).toContain(r.run.state);
}

/** Workloads whose home is `host`, and where each runs at the end. */
function homeOf(r: SimOutcome, host: string): [string, string[]][] {
  const at = finalPlacement(r.ledger);
  return r.fleet.workloads.filter((w) => w.host === host).map((w) => [w.id, at.get(w.id) ?? []]);
}

function attemptsOf(r: SimOutcome, host: string, step: string, phase = "run") {
  return r.attempts.filter((a) => a.host === host && a.stepName === step && a.phase === phase);
}

function eventsOf(r: SimOutcome, host: string, type: string) {
  return r.events.filter((e) => e.host === host && e.type === type);
}

describe("simulateRun: the engine's reaction to each injected failure", () => {
  it("a baseline without failures: every host succeeds and every workload goes home", async () => {
    const r = await simulateCase({ scenario: scenario("  []") });
    expect(r.states).toEqual(Object.fromEntries(WORKERS.map((h) => [h, "succeeded"])));
    expect(r.run.state).toBe("succeeded");
    for (const h of WORKERS) {
      expect(homeOf(r, h).map(([, on]) => on)).toEqual([[h], [h], [h]]);
      // Drained to a hold-over first, for real.
      expect(ran(r.ledger, h, "upgrade")).toHaveLength(1);
      expect(effects(r.ledger, h, "@down")).toHaveLength(1);
    }
    const drainedTo = new Set(
      r.ledger.filter((e) => e.command === "@place" && e.outcome !== "initial").map((e) => e.host),
    );
    expect([...drainedTo].some((h) => HOLDOVERS.includes(h))).toBe(true);
    expectInvariantsHold(r);
  });

  it("never-returns: three reboot attempts, then the host is failed and rolled back; its workloads stay on hold-overs", async () => {
    const r = await simulateCase({ scenario: scenario("  - { kind: never-returns, host: r01-h002 }") });
    expect(r.states).toEqual({
      "r01-h001": "succeeded",
      "r01-h002": "failed",
      "r01-h003": "succeeded",
      "r01-h004": "succeeded",
    });
    expect(r.reasons["r01-h002"]).toMatch(/^step "reboot" failed after 3 attempt\(s\): .*\(rolled back\)$/);
    const reboots = attemptsOf(r, "r01-h002", "reboot").map((a) => a.state);
    expect(reboots).toHaveLength(3);
    expect(reboots).not.toContain("succeeded");
    // The first attempt waited its 10 minutes for a new boot id (polling stops when the next probe,
    // every 2 s, could not answer before the deadline); each retry first waited (its own 10 minutes)
    // for the host to answer before giving up: 30 minutes in all, not 10 and two instant failures.
    const [first, , third] = attemptsOf(r, "r01-h002", "reboot");
    expect((first?.finishedAt ?? 0) - (first?.startedAt ?? 0)).toBeGreaterThanOrEqual(598_000);
    expect((third?.finishedAt ?? 0) - (first?.startedAt ?? 0)).toBeGreaterThanOrEqual(3 * 598_000);
    expect(effects(r.ledger, "r01-h002", "@dead")).toHaveLength(1);
    expect(eventsOf(r, "r01-h002", "host.reverting")).toHaveLength(1);
    // The drain's revert could not put anything back on a dead host: the workloads stay where they
    // were moved, on hold-overs, each on exactly one host, none lost.
    const placed = homeOf(r, "r01-h002");
    expect(placed).toHaveLength(3);
    for (const [id, on] of placed) {
      expect(on, id).toHaveLength(1);
      expect(HOLDOVERS, id).toContain(on[0]);
    }
    expect(r.ledger.filter((e) => e.command === "@lost")).toEqual([]);
    // Nothing after the reboot ran on it.
    expect(attemptsOf(r, "r01-h002", "healthy")).toEqual([]);
    expect(attemptsOf(r, "r01-h002", "reinstate")).toEqual([]);
    expectInvariantsHold(r);
  });

  it("unhealthy: the host comes back but wait-healthy fails; the host is rolled back (its workloads go home)", async () => {
    const r = await simulateCase({ scenario: scenario("  - { kind: unhealthy, host: r01-h002 }") });
    expect(r.states["r01-h002"]).toBe("failed");
    expect(r.reasons["r01-h002"]).toMatch(/^step "healthy" failed after 1 attempt\(s\): .*\(rolled back\)$/);
    for (const h of ["r01-h001", "r01-h003", "r01-h004"]) expect(r.states[h], h).toBe("succeeded");
    // It did reboot and come back, with a new boot id, and answered its health checks: unhealthy.
    expect(attemptsOf(r, "r01-h002", "reboot").map((a) => a.state)).toEqual(["succeeded"]);
    expect(effects(r.ledger, "r01-h002", "@up")).toHaveLength(1);
    const health = effects(r.ledger, "r01-h002", "@health").map((e) => e.outcome);
    expect(health.length).toBeGreaterThan(1);
    expect(new Set(health)).toEqual(new Set(["unhealthy: system degraded since its last boot"]));
    expect(attemptsOf(r, "r01-h002", "healthy").map((a) => a.state)).not.toContain("succeeded");
    // Rolled back: the drain was reverted (a reinstate), the forward reinstate never ran.
    expect(attemptsOf(r, "r01-h002", "drain", "revert").map((a) => a.state)).toEqual(["succeeded"]);
    expect(attemptsOf(r, "r01-h002", "reinstate")).toEqual([]);
    expect(homeOf(r, "r01-h002").map(([, on]) => on)).toEqual([["r01-h002"], ["r01-h002"], ["r01-h002"]]);
    expectInvariantsHold(r);
  });

  it("clock-skew: the Health port reports the skew beyond the allowance and the host is rolled back; a skew within it passes", async () => {
    const r = await simulateCase({
      scenario: scenario(
        "  - { kind: clock-skew, host: r01-h002, seconds: 120 }\n  - { kind: clock-skew, host: r01-h003, seconds: -2 }",
      ),
    });
    const h2 = effects(r.ledger, "r01-h002", "@health").map((e) => e.outcome);
    expect(h2.length).toBeGreaterThan(1);
    expect(new Set(h2)).toEqual(new Set(["unhealthy: clock off by 120 s (at most 2 s allowed)"]));
    expect(r.states["r01-h002"]).toBe("failed");
    expect(r.reasons["r01-h002"]).toMatch(/^step "healthy" failed .*\(rolled back\)$/);
    expect(homeOf(r, "r01-h002").map(([, on]) => on)).toEqual([["r01-h002"], ["r01-h002"], ["r01-h002"]]);
    // 2 s off is exactly the default allowance: healthy.
    expect(effects(r.ledger, "r01-h003", "@health").map((e) => e.outcome)).toEqual(["healthy"]);
    const healthy = attemptsOf(r, "r01-h003", "healthy")[0];
    expect(healthy?.result).toMatchObject({ health: "running, clock within 2 s" });
    expect(r.states["r01-h003"]).toBe("succeeded");
    expectInvariantsHold(r);
  });

  it("disk-dies: the host dies on its reboot and is reported failed; nothing was on it, nothing is lost", async () => {
    const r = await simulateCase({
      scenario: scenario(
        "  - { kind: disk-dies, host: r01-h002 }\n  - { kind: disk-dies, host: r01-h003, probability: 0 }",
      ),
    });
    expect(effects(r.ledger, "r01-h002", "@dead")).toHaveLength(1);
    // It died after the drain emptied it: no workload went with it.
    const dead = effects(r.ledger, "r01-h002", "@dead")[0]?.at ?? 0;
    const onIt = [...finalPlacement(r.ledger.filter((e) => e.at < dead)).entries()].filter(([, on]) =>
      on.includes("r01-h002"),
    );
    expect(onIt).toEqual([]);
    expect(r.ledger.filter((e) => e.command === "@lost")).toEqual([]);
    expect(r.states["r01-h002"]).toBe("failed");
    expect(r.reasons["r01-h002"]).toMatch(
      // The first attempt says the host went down and never came back; the later ones could not
      // even read its boot id.
      /step "reboot" failed after 3 attempt\(s\): attempt 1: host r01-h002 did not come back within 600s after the reboot command .*; attempt 3: could not read the boot id of r01-h002 before rebooting \(.*unreachable \(dead\)\)/,
    );
    for (const [id, on] of homeOf(r, "r01-h002")) expect(HOLDOVERS, id).toContain(on[0]);
    // probability 0: this disk survives.
    expect(effects(r.ledger, "r01-h003", "@dead")).toEqual([]);
    expect(r.states["r01-h003"]).toBe("succeeded");
    expectInvariantsHold(r);
  });

  it("power-trip: two hosts POSTing at once take the whole circuit down; the engine retries and ends every host with a reason", async () => {
    const r = await simulateCase({
      scenario: scenario("  - { kind: power-trip, power: r01-p01, maxPosting: 1, downFor: 10m }"),
    });
    const trips = r.ledger.filter((e) => e.command === "@power-trip");
    // Retried reboots of the caught hosts can POST together again and trip it again.
    expect(trips.length).toBeGreaterThanOrEqual(1);
    for (const t of trips) expect(t.outcome).toBe("circuit r01-p01");
    const at = trips[0]?.at ?? 0;
    // Every host on the circuit went down, hold-overs (carrying drained workloads) and finished
    // hosts included, and every one came back: a trip is not a death.
    const down = r.ledger
      .filter((e) => e.command === "@down" && e.outcome === "power trip")
      .map((e) => e.host);
    expect([...new Set(down)].sort()).toEqual([...WORKERS, ...HOLDOVERS]);
    // Boots resolve when a host is next asked, so a host nobody asked after a later trip records
    // no `@up`; every host the engine touched again was back no earlier than the trip's 10 minutes.
    for (const h of [...WORKERS, ...HOLDOVERS]) {
      for (const e of effects(r.ledger, h, "@up").filter((x) => x.at > at))
        expect(e.at - at, h).toBeGreaterThanOrEqual(600_000);
    }
    expect(r.ledger.filter((e) => e.command === "@dead" || e.command === "@lost")).toEqual([]);
    // The hosts rebooting at the trip were retried; every host ended, failures with their reason.
    const caught = WORKERS.filter((h) => attemptsOf(r, h, "reboot").length > 1);
    expect(caught.length).toBeGreaterThan(0);
    for (const h of WORKERS) {
      expect(["succeeded", "failed"], h).toContain(r.states[h]);
      if (r.states[h] === "failed") expect(r.reasons[h], h).toMatch(/step "reboot" failed .*\(rolled back\)/);
    }
    // (With two workers of one circuit rebooting at once and maxPosting 1, a retried reboot POSTs
    // both again and trips the circuit again: the plan's cap, not retries, is the cure — a
    // `perFailureDomain: { power: 1 }` cap keeps them apart.)
    expectInvariantsHold(r);
  });

  it("partition: a dropped non-idempotent command parks its host in doubt and is never re-run; an idempotent one is checked, then re-run", async () => {
    // Find when r01-h002's upgrade command ends without a partition, then cut the host off 10 ms
    // before that: the command is in flight when the partition starts, so its answer is lost and
    // the simulator decides (seeded) whether it took effect.
    const cutUpgrade = async (plan: string, ms: number) => {
      const probe = await simulateCase({ scenario: scenario("  []"), plan });
      const upgrade = ran(probe.ledger, "r01-h002", "upgrade")[0];
      if (!upgrade) throw new Error("probe: r01-h002 ran no upgrade");
      const from = upgrade.at - START - 10;
      return scenario(`  - { kind: partition, host: r01-h002, from: ${from}ms, until: ${from + ms}ms }`);
    };

    const r = await simulateCase({ scenario: await cutUpgrade(MAINTENANCE, 15 * 60_000) });
    const runs = ran(r.ledger, "r01-h002", "upgrade");
    expect(runs).toHaveLength(1);
    expect(runs[0]?.outcome).toBe("dropped (partition)");
    expect(r.states["r01-h002"]).toBe("in_doubt");
    expect(r.reasons["r01-h002"]).toBe(
      'outcome of step "upgrade" (run) is unknown (sim: connection to r01-h002 dropped (partition)); it is not idempotent and has no check',
    );
    expect(eventsOf(r, "r01-h002", "attempt.unknown").map((e) => e.data.resolution)).toEqual(["park"]);
    expect(attemptsOf(r, "r01-h002", "upgrade").map((a) => a.state)).toEqual(["unknown"]);
    // Parked where it stood: no reboot, its workloads wait on the hold-overs for an operator.
    expect(attemptsOf(r, "r01-h002", "reboot")).toEqual([]);
    for (const [id, on] of homeOf(r, "r01-h002")) expect(HOLDOVERS, id).toContain(on[0]);
    for (const h of ["r01-h001", "r01-h003", "r01-h004"]) expect(r.states[h], h).toBe("succeeded");
    expectInvariantsHold(r);

    // A 5 s cut of an idempotent upgrade with a check: the engine first asks whether the command
    // still runs (the host does not answer: 10 s, the connect timeout, and nobody can tell), by
    // then the cut is over and the check answers "not done" (the dropped command did not take
    // effect), so it retries after the backoff, and that works.
    const idempotent = MAINTENANCE.replace(
      "run: version set 2.0\n",
      "run: version set 2.0\n    idempotent: true\n    check: version get\n",
    );
    expect(idempotent).not.toBe(MAINTENANCE);
    const s = await simulateCase({ scenario: await cutUpgrade(idempotent, 5_000), plan: idempotent });
    expect(eventsOf(s, "r01-h002", "attempt.unknown").map((e) => e.data.resolution)).toEqual(["check"]);
    expect(ran(s.ledger, "r01-h002", "upgrade", "check").map((e) => e.outcome)).toEqual([
      "exit 1", // before the first attempt: not done yet
      "exit 1", // resolving the dropped attempt, after the probe gave up: not done
    ]);
    expect(ran(s.ledger, "r01-h002", "upgrade").map((e) => e.outcome)).toEqual([
      "dropped (partition)",
      "exit 0",
    ]);
    const dropped = ran(s.ledger, "r01-h002", "upgrade")[0]?.at ?? 0;
    const checked = ran(s.ledger, "r01-h002", "upgrade", "check")[1]?.at ?? 0;
    expect(checked - dropped).toBeGreaterThanOrEqual(10_000);
    expect(attemptsOf(s, "r01-h002", "upgrade").map((a) => a.state)).toEqual(["unknown", "succeeded"]);
    expect(s.states["r01-h002"]).toBe("succeeded");
    expect(s.run.state).toBe("succeeded");
    expectInvariantsHold(s);
  });

  it("command-fails: the upgrade fails once on one host and its retry succeeds; the effect is applied once", async () => {
    const r = await simulateCase({
      scenario: scenario('  - { kind: command-fails, host: r01-h002, command: "version set", times: 1 }'),
    });
    expect(attemptsOf(r, "r01-h002", "upgrade").map((a) => a.state)).toEqual(["failed", "succeeded"]);
    expect(attemptsOf(r, "r01-h002", "upgrade")[0]?.result).toMatchObject({
      reason: expect.stringContaining("injected failure of version set 2.0"),
    });
    expect(ran(r.ledger, "r01-h002", "upgrade").map((e) => [e.outcome, e.applied, e.attempt])).toEqual([
      ["exit 1", false, 1],
      ["exit 0", true, 2],
    ]);
    for (const h of ["r01-h001", "r01-h003", "r01-h004"])
      expect(
        ran(r.ledger, h, "upgrade").map((e) => e.attempt),
        h,
      ).toEqual([1]);
    expect(r.states).toEqual(Object.fromEntries(WORKERS.map((h) => [h, "succeeded"])));
    expect(r.run.state).toBe("succeeded");
    expect(r.invariants.checked["effect-twice"]).toBe(WORKERS.length);
    expectInvariantsHold(r);
  });

  it("a non-idempotent command that clearly fails is retried as its policy says: every run applied, effect-twice holds", async () => {
    const plan = `
name: retry-nonidem
hosts: workers
concurrency: { global: 2 }
failureBudget: { maxFailedPercent: 100 }
steps:
  - { name: flaky, kind: command, run: "false", retry: { attempts: 3, backoff: { initial: 5s } } }
`;
    const r = await simulateCase({ scenario: scenario("  []"), plan });
    for (const h of WORKERS) {
      expect(r.states[h]).toBe("failed");
      expect(ran(r.ledger, h, "flaky").map((e) => [e.outcome, e.applied, e.attempt])).toEqual([
        ["exit 1", true, 1],
        ["exit 1", true, 2],
        ["exit 1", true, 3],
      ]);
    }
    expect(r.invariants.checked["effect-twice"]).toBe(WORKERS.length);
    expect(r.invariants.violations).toEqual([]);
  });

  it("a reboot step with its own `run`: that command reboots the host (down, then up with a new boot id)", async () => {
    const plan = MAINTENANCE.replace(
      "{ name: reboot, kind: reboot,",
      '{ name: reboot, kind: reboot, run: "shutdown -r now",',
    );
    expect(plan).toContain("shutdown -r now");
    const r = await simulateCase({ scenario: scenario("  []"), plan });
    expect(r.states).toEqual(Object.fromEntries(WORKERS.map((h) => [h, "succeeded"])));
    for (const h of WORKERS) {
      expect(
        ran(r.ledger, h, "reboot")
          .filter((e) => e.command === "shutdown -r now")
          .map((e) => e.outcome),
      ).toEqual(["exit 0"]);
      const down = effects(r.ledger, h, "@down");
      const up = effects(r.ledger, h, "@up");
      expect(down).toHaveLength(1);
      expect(up).toHaveLength(1);
      expect(up[0]?.at).toBeGreaterThan(down[0]?.at ?? Number.POSITIVE_INFINITY);
      const attempt = attemptsOf(r, h, "reboot").at(-1)?.result;
      expect(attempt?.bootIdAfter).not.toBe(attempt?.bootIdBefore);
    }
    expectInvariantsHold(r);
  });

  it("a wait-healthy step with its own `run`: that probe answers from the health model (unhealthy, clock skew)", async () => {
    const plan = MAINTENANCE.replace(
      "{ name: healthy, kind: wait-healthy, timeout: 5m }",
      '{ name: healthy, kind: wait-healthy, run: "curl -fsS http://localhost:8080/healthz", timeout: 5m }',
    );
    expect(plan).toContain("healthz");
    const r = await simulateCase({
      scenario: scenario(
        "  - { kind: unhealthy, host: r01-h002 }\n  - { kind: clock-skew, host: r01-h003, seconds: 300 }",
      ),
      plan,
    });
    expect(r.states).toEqual({
      "r01-h001": "succeeded",
      "r01-h002": "failed",
      "r01-h003": "failed",
      "r01-h004": "succeeded",
    });
    for (const h of ["r01-h002", "r01-h003"]) {
      expect(r.reasons[h]).toMatch(
        /^step "healthy" failed after 1 attempt\(s\): host "r01-h00\d" healthy check not passed/,
      );
      expect(ran(r.ledger, h, "healthy").at(-1)?.outcome).toBe("exit 1");
    }
    expect(ran(r.ledger, "r01-h001", "healthy").at(-1)?.outcome).toBe("exit 0");
    expectInvariantsHold(r);
  });

  it("coordinator-kill: a new coordinator takes over 10 s later (once the dead one's leases expire) and finishes the run", async () => {
    const r = await simulateCase({ scenario: scenario("  - { kind: coordinator-kill, at: 20m }") });
    expect(r.coordinators).toBe(2);
    const kill = START + 20 * 60_000;
    const second = r.events.filter((e) => e.actor === "sim-coordinator-2");
    const first = r.events.filter((e) => e.actor === "sim-coordinator-1");
    expect(first.every((e) => e.at <= kill)).toBe(true);
    // 10 s restart delay, then at most one lease TTL (30 s) of waiting for the dead one's leases.
    expect(second[0]?.at).toBeGreaterThanOrEqual(kill + 10_000);
    expect(second[0]?.at).toBeLessThanOrEqual(kill + 10_000 + 30_000 + 1_000);
    // The attempts the kill interrupted were resolved by their built-in checks, not blindly re-run.
    const doubts = r.events.filter((e) => e.type === "attempt.unknown");
    expect(doubts.length).toBeGreaterThan(0);
    for (const d of doubts) {
      expect(d.actor).toBe("sim-coordinator-2");
      expect(d.data).toMatchObject({
        reason: "the coordinator stopped while the attempt ran",
        resolution: "check",
      });
    }
    // The kill caught a reinstate whose cold moves run on in the world: the re-run waits for them
    // instead of moving a workload twice.
    expect(doubts.map((d) => [d.host, d.data.step])).toContainEqual(["r01-h001", "reinstate"]);
    expect(r.states).toEqual(Object.fromEntries(WORKERS.map((h) => [h, "succeeded"])));
    for (const h of WORKERS) expect(homeOf(r, h).map(([, on]) => on)).toEqual([[h], [h], [h]]);
    expectInvariantsHold(r);
  });

  it("a manual gate is approved by the simulated operator 5 minutes after it pauses the run", async () => {
    const plan = MAINTENANCE.replace(
      "  - { name: drain, kind: drain }",
      "  - { name: go-ahead, kind: gate, approval: true }\n  - { name: drain, kind: drain }",
    );
    const r = await simulateCase({ scenario: scenario("  []"), plan });
    expect(r.run.state).toBe("succeeded");
    expect(r.unfinished).toBeUndefined();
    const paused = r.events.filter((e) => e.type === "run.paused");
    const resumed = r.events.filter((e) => e.type === "run.running" && e.actor === "simulated operator");
    expect(paused).toHaveLength(1);
    expect(resumed).toHaveLength(1);
    expect((resumed[0]?.at ?? 0) - (paused[0]?.at ?? 0)).toBe(300_000);
    expectInvariantsHold(r);
  });
});
