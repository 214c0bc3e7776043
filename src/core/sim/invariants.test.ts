import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Host, Workload } from "../model/fleet.js";
import type { Concurrency, Plan, Step } from "../plan/compile.js";
import {
  activeIntervals,
  checkInvariants,
  type InvariantInput,
  type InvariantName,
  type RunEvent,
  type RunHost,
} from "./invariants.js";
import type { LedgerEntry } from "./ledger.js";

const T0 = Date.UTC(2026, 0, 1);
const m = (minutes: number) => T0 + minutes * 60_000;

function host(name: string, over: Partial<Host> = {}): Host {
  return {
    name,
    address: name,
    connection: "ssh",
    region: "eu-1",
    failureDomains: { rack: `rack-${name}`, power: "pdu-1" },
    role: "worker",
    capacity: { cpu: 64, memoryMb: 65_536, diskGb: 1000 },
    groups: [],
    vars: {},
    ...over,
  };
}

function wl(id: string, home: string, cpu = 8, memoryMb = 8192): Workload {
  return { id, kind: "vm", host: home, cpu, memoryMb, diskGb: 10, migration: ["live"], volumes: [] };
}

const place = (at: number, h: string, w: string, outcome = "live"): LedgerEntry => ({
  at,
  host: h,
  command: "@place",
  outcome,
  workload: w,
});
const unplace = (at: number, h: string, w: string): LedgerEntry => ({
  at,
  host: h,
  command: "@unplace",
  outcome: "live",
  workload: w,
});
/** Move a workload: @unplace from `from`, then @place on `to`, at the same instant. */
const move = (at: number, w: string, from: string, to: string) => [unplace(at, from, w), place(at, to, w)];
const cmd = (at: number, h: string, step: string, over: Partial<LedgerEntry> = {}): LedgerEntry => ({
  at,
  host: h,
  command: "upgrade-kernel",
  outcome: "exit 0",
  applied: true,
  runId: "run-1",
  step,
  phase: "run",
  attempt: 1,
  ...over,
});
const ev = (at: number, h: string | null, type: string, data: Record<string, unknown> = {}): RunEvent => ({
  at,
  host: h,
  type,
  data,
});
const rec = (h: string, state: RunHost["state"] = "succeeded", reason: string | null = null): RunHost => ({
  host: h,
  state,
  reason,
});

function step(name: string, idempotent: boolean, index = 0): Step {
  return {
    index,
    name,
    kind: "command",
    run: "x",
    timeoutMs: 60_000,
    idempotent,
    pointOfNoReturn: false,
    become: false,
    retry: { attempts: 1, initialMs: 1000, factor: 2, maxMs: 1000, jitter: 0 },
  };
}

function plan(concurrency: Partial<Concurrency> = {}): Pick<Plan, "steps" | "concurrency"> {
  return {
    steps: [step("drain", true, 0), step("upgrade", false, 1), step("reinstate", true, 2)],
    concurrency: { global: 1, perFailureDomain: {}, ...concurrency },
  };
}

const HOSTS = [host("h1"), host("h2"), host("hold1", { role: "holdover" })];
const WORKLOADS = [wl("w1", "h1"), wl("w2", "h1"), wl("w3", "h2")];
const INITIAL = WORKLOADS.map((w) => place(T0, w.host, w.id, "initial"));

/** A clean run: h1 then h2 are drained onto hold1, upgraded and reinstated, one at a time. */
function clean(): InvariantInput {
  return {
    hosts: HOSTS,
    workloads: WORKLOADS,
    ledger: [
      ...INITIAL,
      ...move(m(1), "w1", "h1", "hold1"),
      ...move(m(1), "w2", "h1", "hold1"),
      cmd(m(2), "h1", "upgrade"),
      ...move(m(3), "w1", "hold1", "h1"),
      ...move(m(3), "w2", "hold1", "h1"),
      ...move(m(4), "w3", "h2", "hold1"),
      cmd(m(5), "h2", "upgrade"),
      ...move(m(6), "w3", "hold1", "h2"),
    ],
    plan: plan(),
    runHosts: [rec("h1"), rec("h2")],
    events: [
      ev(T0, null, "run.created"),
      ev(m(0), "h1", "host.started"),
      // h1 ends and h2 starts at the same instant: ends first, so never two active.
      ev(m(4), "h1", "host.succeeded"),
      ev(m(4), "h2", "host.started"),
      ev(m(7), "h2", "host.succeeded"),
      ev(m(7), null, "run.succeeded", { from: "running" }),
    ],
  };
}

function only(input: InvariantInput, name: InvariantName) {
  return checkInvariants(input).violations.filter((v) => v.invariant === name);
}

describe("a clean run", () => {
  it("has no violations and checks something for every invariant", () => {
    const r = checkInvariants(clean());
    expect(r.violations).toEqual([]);
    expect(r.ok).toBe(true);
    for (const [name, n] of Object.entries(r.checked)) expect(n, name).toBeGreaterThan(0);
    expect(r.checked["drained-not-reinstated"]).toBe(2);
    expect(r.checked["effect-twice"]).toBe(2);
  });
});

describe("workload-twice", () => {
  it("catches a @place while the workload still runs elsewhere", () => {
    const input = { ...clean(), ledger: [...INITIAL, place(m(1), "hold1", "w1")] };
    const v = only(input, "workload-twice");
    expect(v).toEqual([
      {
        invariant: "workload-twice",
        message:
          "w1 placed on hold1 at 2026-01-01T00:01:00.000Z while it still runs on h1 (no @unplace first)",
        at: m(1),
        host: "hold1",
        workload: "w1",
      },
    ]);
  });

  it("catches an @unplace from a host the workload is not on", () => {
    const input = { ...clean(), ledger: [...INITIAL, unplace(m(1), "h2", "w1")] };
    expect(only(input, "workload-twice").map((v) => v.message)).toEqual([
      "w1 unplaced from h2 at 2026-01-01T00:01:00.000Z, but it runs on h1",
    ]);
  });

  it("catches placing a workload twice on the same host", () => {
    const input = { ...clean(), ledger: [...INITIAL, place(m(1), "h1", "w1")] };
    expect(only(input, "workload-twice")[0]?.message).toContain("while it already runs there");
  });
});

describe("workload-lost", () => {
  it("reports every @lost entry, once per workload", () => {
    const lost: LedgerEntry = {
      at: m(2),
      host: "h1",
      command: "@lost",
      outcome: "disk died",
      workload: "w1",
    };
    const input = { ...clean(), ledger: [...INITIAL, lost] };
    expect(only(input, "workload-lost")).toEqual([
      {
        invariant: "workload-lost",
        message: "w1 lost with h1 at 2026-01-01T00:02:00.000Z (disk died)",
        at: m(2),
        host: "h1",
        workload: "w1",
      },
    ]);
  });

  it("catches a workload that runs nowhere at the end", () => {
    const input = { ...clean(), ledger: [...INITIAL, unplace(m(1), "h2", "w3")] };
    expect(only(input, "workload-lost").map((v) => v.message)).toEqual([
      "w3 (home h2) runs on no host at the end of the run",
    ]);
  });

  it("catches a workload left on a host that died", () => {
    const input = {
      ...clean(),
      ledger: [
        ...INITIAL,
        { at: m(2), host: "h2", command: "@down", outcome: "reboot" },
        { at: m(3), host: "h2", command: "@dead", outcome: "never returns" },
      ],
    };
    expect(only(input, "workload-lost").map((v) => v.message)).toEqual([
      "w3 is left on h2, which died at 2026-01-01T00:03:00.000Z",
    ]);
  });

  it("does not mind a host that went down and came back up", () => {
    const input = {
      ...clean(),
      ledger: [
        ...INITIAL,
        { at: m(2), host: "h2", command: "@down", outcome: "power trip" },
        { at: m(3), host: "h2", command: "@up", outcome: "boot-2" },
      ],
    };
    expect(only(input, "workload-lost")).toEqual([]);
  });
});

describe("over-capacity", () => {
  const small = [
    host("h1"),
    host("h2"),
    host("hold1", { capacity: { cpu: 16, memoryMb: 65_536, diskGb: 1 } }),
  ];

  it("catches the placement that overfills a host, once while it stays over", () => {
    const input = {
      ...clean(),
      hosts: small,
      ledger: [
        ...INITIAL,
        ...move(m(10), "w1", "h1", "hold1"),
        ...move(m(11), "w2", "h1", "hold1"),
        ...move(m(12), "w3", "h2", "hold1"),
        place(m(13), "hold1", "w9"), // unknown workload: no size, still placed
      ],
    };
    expect(only(input, "over-capacity")).toEqual([
      {
        invariant: "over-capacity",
        message: "hold1 over capacity at 2026-01-01T00:12:00.000Z: cpu 24 of 16 (after w3 was placed)",
        at: m(12),
        host: "hold1",
        workload: "w3",
      },
    ]);
  });

  it("reports cpu and memory together, and again after the host was back within capacity", () => {
    const hosts = [host("h1"), host("h2", { capacity: { cpu: 12, memoryMb: 10_000, diskGb: 1 } })];
    const input = {
      ...clean(),
      hosts,
      ledger: [
        ...INITIAL,
        ...move(m(1), "w1", "h1", "h2"),
        ...move(m(2), "w1", "h2", "h1"),
        ...move(m(3), "w2", "h1", "h2"),
      ],
    };
    expect(only(input, "over-capacity").map((v) => v.message)).toEqual([
      "h2 over capacity at 2026-01-01T00:01:00.000Z: cpu 16 of 12, memory 16384 MB of 10000 MB (after w1 was placed)",
      "h2 over capacity at 2026-01-01T00:03:00.000Z: cpu 16 of 12, memory 16384 MB of 10000 MB (after w2 was placed)",
    ]);
  });

  it("does not check a host without capacity", () => {
    const { capacity: _, ...uncapped } = host("hold1");
    const input = {
      ...clean(),
      hosts: [host("h1"), host("h2"), uncapped],
      workloads: [...WORKLOADS, wl("big", "hold1", 1000, 1_000_000)],
      ledger: [...INITIAL, place(T0, "hold1", "big", "initial"), ...move(m(1), "w1", "h1", "hold1")],
    };
    const r = checkInvariants(input);
    expect(r.violations.filter((v) => v.invariant === "over-capacity")).toEqual([]);
    // The three initial placements on h1/h2 are checked; none on hold1.
    expect(r.checked["over-capacity"]).toBe(4);
  });
});

describe("effect-twice", () => {
  const twice = () => ({
    ...clean(),
    ledger: [...clean().ledger, cmd(m(8), "h1", "upgrade", { attempt: 2 })],
  });

  it("catches a non-idempotent step run again after an attempt the engine recorded no outcome for", () => {
    expect(only(twice(), "effect-twice")).toEqual([
      {
        invariant: "effect-twice",
        message:
          'non-idempotent step "upgrade" applied 2 times on h1 in run run-1 ' +
          "(at 2026-01-01T00:02:00.000Z, 2026-01-01T00:08:00.000Z): run again after attempt 1 at " +
          "2026-01-01T00:02:00.000Z, of which the engine recorded no outcome (a coordinator stopped during it), " +
          'with no check saying "not done" and no operator retry in between',
        at: m(8),
        host: "h1",
      },
    ]);
  });

  it("allows one more apply per operator retry of the host", () => {
    const input = twice();
    input.events = [...input.events, ev(m(7), "h1", "host.retried", { from: "failed" })];
    expect(only(input, "effect-twice")).toEqual([]);
    input.ledger = [...input.ledger, cmd(m(9), "h1", "upgrade")];
    expect(only(input, "effect-twice")[0]?.message).toContain("run again after attempt 2 at");
  });

  /**
   * `upgrade` (not idempotent, `retry.attempts` 3) on h1: each entry is one attempt row (its own
   * tag), with the engine's verdict on it.
   */
  const retried = (
    outcomes: [outcome: string, verdict: string | null, data?: Record<string, unknown>][],
    over: { attempts?: number; check?: string; extra?: LedgerEntry[] } = {},
  ): InvariantInput => {
    const upgrade = {
      ...step("upgrade", false, 1),
      ...(over.check !== undefined ? { check: over.check } : {}),
    };
    upgrade.retry = { ...upgrade.retry, attempts: over.attempts ?? 3 };
    const base = clean();
    const ledger = base.ledger.filter((e) => e.step !== "upgrade" || e.host !== "h1");
    const events = [...base.events];
    outcomes.forEach(([outcome, verdict, data], i) => {
      const at = m(2) + i * 10_000;
      ledger.push(cmd(at, "h1", "upgrade", { outcome, attempt: i + 1, tag: `t${i + 1}` }));
      if (verdict !== null)
        events.push(ev(at + 1, "h1", verdict, { step: "upgrade", attempt: i + 1, ...(data ?? {}) }));
    });
    ledger.push(...(over.extra ?? []));
    ledger.sort((a, b) => a.at - b.at);
    events.sort((a, b) => a.at - b.at);
    return { ...base, plan: { ...base.plan, steps: [step("drain", true, 0), upgrade] }, ledger, events };
  };

  it("allows the retries of a failure the engine saw, as many as the step's retry policy allows", () => {
    const failed = (n: number): [string, string, Record<string, unknown>] => [
      "exit 1",
      "attempt.failed",
      n < 3 ? { retryInMs: 5_000 } : { final: true },
    ];
    const input = retried([failed(1), failed(2), failed(3)]);
    expect(only(input, "effect-twice")).toEqual([]);
    expect(checkInvariants(input).checked["effect-twice"]).toBe(2);
    // A fourth run is one retry too many.
    const over = retried([failed(1), failed(2), failed(3), ["exit 1", "attempt.failed"]]);
    expect(only(over, "effect-twice")).toEqual([
      expect.objectContaining({
        at: m(2) + 30_000,
        message: expect.stringContaining(
          "applied 4 times on h1 in run run-1 (at 2026-01-01T00:02:00.000Z, 2026-01-01T00:02:10.000Z, " +
            "2026-01-01T00:02:20.000Z, 2026-01-01T00:02:30.000Z): retried after 3 failed attempt(s), but its " +
            "retry policy allows 3 attempt(s)",
        ),
      }),
    ]);
    // With one attempt, a failure is final: no run after it.
    expect(only(retried([failed(1), failed(2)], { attempts: 1 }), "effect-twice")).toHaveLength(1);
  });

  it("catches a re-run after an unknown outcome that no check resolved", () => {
    const unknown: [string, string, Record<string, unknown>] = [
      "dropped (partition)",
      "attempt.unknown",
      { phase: "run", reason: "connection dropped", resolution: "rerun" },
    ];
    expect(only(retried([unknown, ["exit 0", "attempt.succeeded"]]), "effect-twice")).toEqual([
      expect.objectContaining({
        message: expect.stringContaining(
          "run again after attempt 1 at 2026-01-01T00:02:00.000Z, of which its outcome was unknown " +
            '(connection dropped), with no check saying "not done"',
        ),
      }),
    ]);
    // The engine calling a dropped answer a failure does not make it known.
    const claimed = retried([
      ["dropped (partition)", "attempt.failed"],
      ["exit 0", "attempt.succeeded"],
    ]);
    expect(only(claimed, "effect-twice")[0]?.message).toContain(
      "of which no answer came back (dropped (partition))",
    );
    // Nor does a run after a success.
    const again = retried([
      ["exit 0", "attempt.succeeded"],
      ["exit 0", "attempt.succeeded"],
    ]);
    expect(only(again, "effect-twice")[0]?.message).toContain("of which it succeeded");
  });

  it("accepts a re-run after an unknown outcome when the step's check said not done, not when it said done", () => {
    const unknown: [string, string, Record<string, unknown>] = [
      "exit 0",
      "attempt.unknown",
      { phase: "run", reason: "the coordinator stopped while the attempt ran", resolution: "check" },
    ];
    const check = (outcome: string): LedgerEntry =>
      cmd(m(2) + 5_000, "h1", "upgrade", { command: "version get", phase: "check", attempt: 0, outcome });
    const input = (outcome: string) =>
      retried([unknown, ["exit 0", "attempt.succeeded"]], { check: "version get", extra: [check(outcome)] });
    expect(only(input("exit 1"), "effect-twice")).toEqual([]);
    expect(only(input("exit 0"), "effect-twice")).toHaveLength(1);
    // A check that did not answer said nothing.
    expect(only(input("unreachable (booting)"), "effect-twice")).toHaveLength(1);
  });

  it("counts the commands of one attempt (one tag) as one application", () => {
    const base = retried([["exit 0", "attempt.succeeded"]]);
    const poll = (at: number) =>
      cmd(at, "h1", "upgrade", { command: "cat /proc/sys/kernel/random/boot_id", tag: "t1" });
    const input = { ...base, ledger: [...base.ledger, poll(m(2) + 2_000), poll(m(2) + 4_000)] };
    input.ledger.sort((a, b) => a.at - b.at);
    expect(only(input, "effect-twice")).toEqual([]);
  });

  it.each<[string, Partial<LedgerEntry>]>([
    ["not applied", { applied: false }],
    ["applied unknown", { applied: undefined }],
    ["a check", { phase: "check" }],
    ["a verify", { phase: "verify" }],
    ["a revert", { phase: "revert" }],
    ["another run", { runId: "run-2" }],
    ["an idempotent step", { step: "drain" }],
    ["a step not in the plan", { step: "elsewhere" }],
  ])("does not count %s", (_, over) => {
    const input = { ...clean(), ledger: [...clean().ledger, cmd(m(8), "h1", "upgrade", over)] };
    expect(only(input, "effect-twice")).toEqual([]);
  });

  it("counts entries without a phase as runs", () => {
    const input = {
      ...clean(),
      ledger: [...clean().ledger, cmd(m(8), "h1", "upgrade", { phase: undefined })],
    };
    expect(only(input, "effect-twice")).toHaveLength(1);
  });
});

describe("drained-not-reinstated", () => {
  const leftOnHoldover = (record: RunHost): InvariantInput => ({
    ...clean(),
    ledger: [...INITIAL, ...move(m(1), "w1", "h1", "hold1"), ...move(m(1), "w2", "h1", "hold1")],
    runHosts: [record, rec("h2")],
  });

  it("catches a drained host whose workloads did not come back", () => {
    expect(only(leftOnHoldover(rec("h1")), "drained-not-reinstated")).toEqual([
      {
        invariant: "drained-not-reinstated",
        message:
          "h1 was drained at 2026-01-01T00:01:00.000Z but w1 (on hold1), w2 (on hold1) are not back on it, " +
          "and its run record is succeeded",
        at: m(1),
        host: "h1",
      },
    ]);
  });

  it("accepts a host reported failed, in doubt, aborted or skipped with a reason", () => {
    for (const state of ["failed", "in_doubt", "aborted", "skipped"] as const) {
      const input = leftOnHoldover(rec("h1", state, 'step "upgrade" failed after 1 attempt(s)'));
      expect(only(input, "drained-not-reinstated"), state).toEqual([]);
    }
  });

  it("does not accept a failure without a reason, or a host with no run record", () => {
    expect(only(leftOnHoldover(rec("h1", "failed", " ")), "drained-not-reinstated")[0]?.message).toContain(
      "its run record is failed with no reason",
    );
    const input = { ...leftOnHoldover(rec("h1")), runHosts: [rec("h2")] };
    expect(only(input, "drained-not-reinstated")[0]?.message).toContain("it has no run record");
  });

  it("leaves a host still on its way in a run the simulator stopped to the unfinished report", () => {
    const stopped = (record: RunHost): InvariantInput => ({ ...leftOnHoldover(record), unfinished: true });
    expect(only(stopped(rec("h1", "running")), "drained-not-reinstated")).toEqual([]);
    expect(only(stopped(rec("h1", "reverting")), "drained-not-reinstated")).toEqual([]);
    // A host that did end is held to the rule, stopped run or not.
    expect(only(stopped(rec("h1")), "drained-not-reinstated")).toHaveLength(1);
    expect(only(stopped(rec("h1", "failed", "")), "drained-not-reinstated")).toHaveLength(1);
    expect(only(leftOnHoldover(rec("h1", "running")), "drained-not-reinstated")).toHaveLength(1);
  });

  it("ignores hosts from which only foreign workloads moved", () => {
    const input = {
      ...clean(),
      ledger: [...INITIAL, ...move(m(1), "w1", "h1", "hold1"), ...move(m(2), "w1", "hold1", "h2")],
    };
    // h1 was drained (w1 is not back), hold1 was not (w1's home is h1).
    expect(only(input, "drained-not-reinstated").map((v) => v.host)).toEqual(["h1"]);
  });
});

describe("cap-exceeded", () => {
  const withEvents = (events: RunEvent[], concurrency: Partial<Concurrency> = {}): InvariantInput => ({
    ...clean(),
    plan: plan(concurrency),
    events,
  });

  it("catches two hosts active under a global cap of 1", () => {
    const input = withEvents([
      ev(m(0), "h1", "host.started"),
      ev(m(3), "h2", "host.started"),
      ev(m(4), "h1", "host.succeeded"),
      ev(m(7), "h2", "host.succeeded"),
    ]);
    expect(only(input, "cap-exceeded")).toEqual([
      {
        invariant: "cap-exceeded",
        message:
          "cap exceeded at 2026-01-01T00:03:00.000Z when h2 became active: " +
          "2 hosts active in the run (global cap 1: h1, h2)",
        at: m(3),
        host: "h2",
      },
    ]);
  });

  it("applies ends before starts at the same instant, whatever the event order", () => {
    const input = withEvents([
      ev(m(0), "h1", "host.started"),
      ev(m(4), "h2", "host.started"),
      ev(m(4), "h1", "host.failed", { reason: "x" }),
      ev(m(7), "h2", "host.succeeded"),
    ]);
    expect(only(input, "cap-exceeded")).toEqual([]);
  });

  it("keeps a reverting host active, and one across a coordinator restart", () => {
    const input = withEvents([
      ev(m(0), "h1", "host.started"),
      ev(m(1), "h1", "host.reverting", { reason: "x" }),
      ev(m(2), null, "lease.acquired", { owner: "c2" }),
      ev(m(2), null, "coordinator.started", { owner: "c2" }),
      ev(m(3), "h2", "host.started"),
    ]);
    expect(only(input, "cap-exceeded").map((v) => v.at)).toEqual([m(3)]);
  });

  it("treats an operator's retry of an in-doubt host as resuming it, of a failed host as re-queueing it", () => {
    const base = [
      ev(m(0), "h1", "host.started"),
      ev(m(1), "h1", "host.in_doubt", { reason: "x" }),
      ev(m(2), "h2", "host.started"),
    ];
    const doubt = withEvents([...base, ev(m(3), "h1", "host.retried", { from: "in_doubt" })]);
    expect(only(doubt, "cap-exceeded").map((v) => [v.host, v.at])).toEqual([["h1", m(3)]]);
    // Without `from`, the state rebuilt from the events says in_doubt.
    const noFrom = withEvents([...base, ev(m(3), "h1", "host.retried")]);
    expect(only(noFrom, "cap-exceeded")).toHaveLength(1);
    const failed = withEvents([
      ev(m(0), "h1", "host.started"),
      ev(m(1), "h1", "host.failed", { reason: "x" }),
      ev(m(2), "h2", "host.started"),
      ev(m(3), "h1", "host.retried", { from: "failed" }),
      ev(m(5), "h2", "host.succeeded"),
      ev(m(5), "h1", "host.started"),
    ]);
    expect(only(failed, "cap-exceeded")).toEqual([]);
  });

  it("checks per-region and per-failure-domain caps", () => {
    const hosts = [
      host("a", { region: "eu-1", failureDomains: { rack: "r1" } }),
      host("b", { region: "eu-1", failureDomains: { rack: "r2" } }),
      host("c", { region: "us-1", failureDomains: { rack: "r2" } }),
    ];
    const events = ["a", "b", "c"].map((h, i) => ev(m(i), h, "host.started"));
    const region = { ...withEvents(events, { global: 10, perRegion: 1 }), hosts };
    expect(only(region, "cap-exceeded").map((v) => v.message)).toEqual([
      "cap exceeded at 2026-01-01T00:01:00.000Z when b became active: 2 hosts active in region eu-1 (perRegion cap 1: a, b)",
    ]);
    const rack = { ...withEvents(events, { global: 10, perFailureDomain: { rack: 1 } }), hosts };
    expect(only(rack, "cap-exceeded").map((v) => v.message)).toEqual([
      "cap exceeded at 2026-01-01T00:02:00.000Z when c became active: 2 hosts active in rack r2 (rack cap 1: b, c)",
    ]);
  });

  it("rebuilds half-open activity intervals from the events", () => {
    expect(
      activeIntervals([
        ev(m(0), "h1", "host.started"),
        ev(m(1), "h1", "host.in_doubt"),
        ev(m(2), "h1", "host.retried", { from: "in_doubt" }),
        ev(m(3), "h1", "host.succeeded"),
        ev(m(4), "h2", "host.aborted"), // aborted while pending: never active
        ev(m(5), "h3", "host.started"),
      ]),
    ).toEqual([
      { host: "h1", start: m(0), end: m(1) },
      { host: "h1", start: m(2), end: m(3) },
      { host: "h3", start: m(5), end: Number.POSITIVE_INFINITY },
    ]);
  });
});

describe("host-unfinished", () => {
  it.each<[RunHost["state"], InvariantInput["runState"], boolean]>([
    ["running", "succeeded", false],
    ["reverting", undefined, false],
    ["pending", "succeeded", false],
    ["pending", "running", false],
    ["running", "failed", false],
    ["pending", "failed", true], // a failure budget halt leaves unstarted hosts pending
    ["running", "paused", true],
    ["pending", "aborted", true],
    ["running", "aborted", true],
    ["in_doubt", "failed", true],
  ])("a %s host in a %s run is fine: %s", (state, runState, fine) => {
    const input: InvariantInput = { ...clean(), runHosts: [rec("h1"), rec("h2", state)], events: [] };
    if (runState !== undefined) input.runState = runState;
    expect(only(input, "host-unfinished")).toHaveLength(fine ? 0 : 1);
  });

  it("does not count hosts still on their way when the simulator stopped the run (it is reported unfinished)", () => {
    const input: InvariantInput = {
      ...clean(),
      runHosts: [rec("h1", "running"), rec("h2", "pending")],
      runState: "running",
    };
    expect(only(input, "host-unfinished")).toHaveLength(2);
    input.unfinished = true;
    expect(only(input, "host-unfinished")).toEqual([]);
    expect(checkInvariants(input).checked["host-unfinished"]).toBe(2);
  });

  it("reads the run state from the last run event when not given", () => {
    const input = { ...clean(), runHosts: [rec("h1"), rec("h2", "running")] };
    expect(only(input, "host-unfinished")).toEqual([
      { invariant: "host-unfinished", message: "h2 is still running at the end (run succeeded)", host: "h2" },
    ]);
    input.events = [...input.events, ev(m(8), null, "run.paused", { from: "succeeded" })];
    expect(only(input, "host-unfinished")).toEqual([]);
  });
});

describe("property: valid moves that respect capacity", () => {
  it("never produce a violation", () => {
    const arb = fc.record({
      nHosts: fc.integer({ min: 1, max: 5 }),
      sizes: fc.array(
        fc.record({ cpu: fc.integer({ min: 1, max: 16 }), mem: fc.integer({ min: 1, max: 16 }) }),
        {
          maxLength: 12,
        },
      ),
      homes: fc.array(fc.nat(), { maxLength: 12 }),
      moves: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 40 }),
    });
    fc.assert(
      fc.property(arb, ({ nHosts, sizes, homes, moves }) => {
        const names = [...Array(nHosts + 1).keys()].map((i) => (i === nHosts ? "hold" : `h${i}`));
        const workloads = sizes.map((s, i) =>
          wl(`w${i}`, names[(homes[i] ?? 0) % nHosts] as string, s.cpu, s.mem),
        );
        // Capacity: enough for the home workloads, plus a little room, so some moves do not fit.
        const hosts = names.map((n) => {
          const home = workloads.filter((w) => w.host === n);
          const cpu = home.reduce((a, w) => a + w.cpu, 0) + 16;
          const memoryMb = home.reduce((a, w) => a + w.memoryMb, 0) + 16;
          return host(n, { region: "r", failureDomains: {}, capacity: { cpu, memoryMb, diskGb: 0 } });
        });
        const cap = new Map(hosts.map((h) => [h.name, h.capacity as { cpu: number; memoryMb: number }]));
        const where = new Map(workloads.map((w) => [w.id, w.host]));
        const used = new Map(names.map((n) => [n, { cpu: 0, mem: 0 }]));
        const add = (h: string, w: Workload, sign: number) => {
          const u = used.get(h) as { cpu: number; mem: number };
          u.cpu += sign * w.cpu;
          u.mem += sign * w.memoryMb;
        };
        for (const w of workloads) add(w.host, w, 1);
        const ledger: LedgerEntry[] = workloads.map((w) => place(T0, w.host, w.id, "initial"));
        let t = T0;
        for (const [wi, hi] of moves) {
          const w = workloads[wi % Math.max(1, workloads.length)];
          if (!w) break;
          const from = where.get(w.id) as string;
          const to = names[hi % names.length] as string;
          const u = used.get(to) as { cpu: number; mem: number };
          const c = cap.get(to) as { cpu: number; memoryMb: number };
          if (to === from || u.cpu + w.cpu > c.cpu || u.mem + w.memoryMb > c.memoryMb) continue;
          t += 1000;
          ledger.push(...move(t, w.id, from, to));
          add(from, w, -1);
          add(to, w, 1);
          where.set(w.id, to);
        }
        // Reinstate: take every moved workload off, then put each back home.
        const away = workloads.filter((w) => where.get(w.id) !== w.host);
        t += 1000;
        for (const w of away) ledger.push(unplace(t, where.get(w.id) as string, w.id));
        for (const w of away) ledger.push(place(t, w.host, w.id));
        // One host at a time, each end and the next start at the same instant.
        const events = names.flatMap((n, i) => [
          ev(T0 + i, n, "host.started"),
          ev(T0 + i + 1, n, "host.succeeded"),
        ]);
        const ledgerWithCommands = [...ledger, ...names.map((n) => cmd(t, n, "upgrade"))];
        const r = checkInvariants({
          hosts,
          workloads,
          ledger: ledgerWithCommands,
          plan: plan(),
          runHosts: names.map((n) => rec(n)),
          events,
          runState: "succeeded",
        });
        expect(r.violations).toEqual([]);
      }),
    );
  });
});
