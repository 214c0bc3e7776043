/**
 * The invariants of a simulated run, checked after it ends from the simulator's ledger, the fleet,
 * the compiled plan and what the engine stored (DESIGN.md "The simulator"): no workload lost or
 * running twice, no host over capacity, no non-idempotent effect applied twice, every drained host
 * reinstated or reported, the concurrency caps held at every instant, every host finished.
 *
 * Invariants of this module:
 * - Pure: reads only its input; no clock, no randomness, no I/O. Same input, same report.
 * - Every rule reports each problem once, with the host, workload, time (ISO) and numbers involved;
 *   `checked` says how many things each rule looked at, so "0 violations" of nothing is visible.
 * - `effect-twice` holds the engine to its promise, not to a bare count: a non-idempotent step is
 *   run again after an attempt whose outcome the engine did not know (a dropped answer, a killed
 *   coordinator) only when a check said "not done" or an operator retried the host; after a failure
 *   it saw, as often as the step's retry policy allows (see `checkEffects`). The commands of one
 *   attempt (one ledger `tag`) are one application.
 * - A run the simulator stopped (`unfinished`) is reported as unfinished by its caller: its hosts
 *   still on their way are not `host-unfinished` or `drained-not-reinstated` violations.
 * - Caps are rebuilt from the engine's events with the engine's own state mapping: a host is active
 *   from `host.started` (or `host.reverting`, or an operator's `host.retried` of an in-doubt host,
 *   which resumes it without a new `host.started`) until `host.succeeded|failed|in_doubt|aborted|
 *   skipped`. A coordinator restart writes no host event, so an active host stays active across it.
 *   Activity intervals are half-open: at one instant, ends are applied before starts.
 */
import { type HostState, isTerminalHost, RUN_STATES, type RunState } from "../flow/states.js";
import type { Host, Workload } from "../model/fleet.js";
import type { Plan, Step } from "../plan/compile.js";
import type { LedgerEntry } from "./ledger.js";

export const INVARIANT_NAMES = [
  "workload-lost",
  "workload-twice",
  "over-capacity",
  "effect-twice",
  "drained-not-reinstated",
  "cap-exceeded",
  "host-unfinished",
] as const;
export type InvariantName = (typeof INVARIANT_NAMES)[number];

/**
 * What each invariant says when it holds, and what its `checked` count counts: `invariants hold`
 * is followed by these, so `workload-lost 48` never reads as 48 workloads lost.
 */
export const INVARIANT_HOLDS: Readonly<Record<InvariantName, { holds: string; unit: string }>> = {
  "workload-lost": { holds: "no workload lost", unit: "workloads" },
  "workload-twice": { holds: "none on two hosts at once", unit: "placements and removals" },
  "over-capacity": { holds: "no host over capacity", unit: "placements and removals on sized hosts" },
  "effect-twice": { holds: "no non-idempotent effect applied twice", unit: "such effects" },
  "drained-not-reinstated": {
    holds: "every drained host reinstated or failed with a reason",
    unit: "drained hosts",
  },
  "cap-exceeded": { holds: "no cap exceeded", unit: "host starts" },
  "host-unfinished": { holds: "every host finished", unit: "hosts" },
};

/** `no workload lost (48 workloads), ...`: the invariants that held, in words, with their counts. */
export function describeHeld(checked: Readonly<Record<InvariantName, number>>): string {
  return INVARIANT_NAMES.map(
    (n) => `${INVARIANT_HOLDS[n].holds} (${checked[n]} ${INVARIANT_HOLDS[n].unit})`,
  ).join(", ");
}

/** The fields of a store host-flow record the checker reads (a `HostFlowRecord` fits). */
export interface RunHost {
  host: string;
  state: HostState;
  reason: string | null;
}

/** The fields of a store event the checker reads (an `EventRecord` fits). */
export interface RunEvent {
  host: string | null;
  at: number;
  type: string;
  data: Record<string, unknown>;
}

export interface InvariantInput {
  hosts: readonly Host[];
  /** The initial fleet; `Workload.host` is the workload's home. */
  workloads: readonly Workload[];
  ledger: readonly LedgerEntry[];
  plan: Pick<Plan, "steps" | "concurrency">;
  /** The run's final host records. */
  runHosts: readonly RunHost[];
  /** The run's events, in seq order. */
  events: readonly RunEvent[];
  /** The run's final state; without it, the last `run.<state>` event says (none: strict). */
  runState?: RunState;
  /**
   * The simulator stopped the run before it ended (its time limit): a host still pending, running
   * or reverting is unfinished, which the caller reports (exit 3), so neither `host-unfinished`
   * nor `drained-not-reinstated` holds it against the engine.
   */
  unfinished?: boolean;
}

export interface Violation {
  invariant: InvariantName;
  message: string;
  at?: number;
  host?: string;
  workload?: string;
}

export interface InvariantReport {
  ok: boolean;
  checked: Record<InvariantName, number>;
  violations: Violation[];
}

function iso(t: number): string {
  return Number.isFinite(t) && Math.abs(t) <= 8.64e15 ? new Date(t).toISOString() : String(t);
}

type Out = (v: Violation) => void;
type Checked = Record<InvariantName, number>;

/** What replaying the ledger's placements leaves behind. */
interface Placement {
  /** workload -> hosts it runs on now (more than one only after a violation). */
  on: Map<string, Set<string>>;
  /** host -> time of the first @unplace of one of its home workloads. */
  drainedAt: Map<string, number>;
  /** host -> last of @up / @down / @dead. */
  lastHostEffect: Map<string, { command: string; at: number }>;
  /** Workloads already reported through a `@lost` entry. */
  lost: Set<string>;
}

/** A host as the replay sees it: the size of what runs on it, its capacity, whether it is over. */
interface HostLoad {
  cpu: number;
  mem: number;
  /** Undefined: a host with no declared capacity is not checked. */
  readonly cap: Host["capacity"];
  /** Reported over capacity, and not back under it since. */
  over: boolean;
}

function replayPlacements(input: InvariantInput, out: Out, checked: Checked): Placement {
  const byId = new Map(input.workloads.map((w) => [w.id, w]));
  const hostsByName = new Map(input.hosts.map((h) => [h.name, h]));
  const p: Placement = { on: new Map(), drainedAt: new Map(), lastHostEffect: new Map(), lost: new Set() };
  // One record per host, made when the ledger first names it (a lookup per entry, not four).
  const loads = new Map<string, HostLoad>();
  const loadOf = (host: string): HostLoad => {
    let l = loads.get(host);
    if (l === undefined) {
      l = { cpu: 0, mem: 0, cap: hostsByName.get(host)?.capacity, over: false };
      loads.set(host, l);
    }
    return l;
  };
  const change = (l: HostLoad, w: Workload | undefined, sign: 1 | -1) => {
    l.cpu += sign * (w?.cpu ?? 0);
    l.mem += sign * (w?.memoryMb ?? 0);
  };
  const checkCapacity = (e: LedgerEntry, l: HostLoad) => {
    const cap = l.cap;
    if (!cap) return;
    checked["over-capacity"]++;
    const cpuOver = l.cpu > cap.cpu;
    const memOver = l.mem > cap.memoryMb;
    if (!cpuOver && !memOver) l.over = false;
    else if (!l.over) {
      l.over = true;
      const parts: string[] = [];
      if (cpuOver) parts.push(`cpu ${l.cpu} of ${cap.cpu}`);
      if (memOver) parts.push(`memory ${l.mem} MB of ${cap.memoryMb} MB`);
      out({
        invariant: "over-capacity",
        message: `${e.host} over capacity at ${iso(e.at)}: ${parts.join(", ")} (after ${e.workload} was placed)`,
        at: e.at,
        host: e.host,
        ...(e.workload !== undefined ? { workload: e.workload } : {}),
      });
    }
  };

  for (const e of input.ledger) {
    if (e.command === "@up" || e.command === "@down" || e.command === "@dead") {
      p.lastHostEffect.set(e.host, { command: e.command, at: e.at });
      continue;
    }
    const w = e.workload;
    if (w === undefined) continue;
    let hosts = p.on.get(w);
    if (hosts === undefined) {
      hosts = new Set<string>();
      p.on.set(w, hosts);
    }
    if (e.command === "@place") {
      checked["workload-twice"]++;
      if (hosts.size > 0) {
        const where = [...hosts].join(", ");
        out({
          invariant: "workload-twice",
          message: hosts.has(e.host)
            ? `${w} placed on ${e.host} at ${iso(e.at)} while it already runs there`
            : `${w} placed on ${e.host} at ${iso(e.at)} while it still runs on ${where} (no @unplace first)`,
          at: e.at,
          host: e.host,
          workload: w,
        });
      }
      const l = loadOf(e.host);
      if (!hosts.has(e.host)) {
        hosts.add(e.host);
        change(l, byId.get(w), 1);
      }
      checkCapacity(e, l);
    } else if (e.command === "@unplace") {
      checked["workload-twice"]++;
      if (!hosts.has(e.host)) {
        const where = hosts.size > 0 ? `it runs on ${[...hosts].join(", ")}` : "it runs on no host";
        out({
          invariant: "workload-twice",
          message: `${w} unplaced from ${e.host} at ${iso(e.at)}, but ${where}`,
          at: e.at,
          host: e.host,
          workload: w,
        });
        continue;
      }
      hosts.delete(e.host);
      const spec = byId.get(w);
      const l = loadOf(e.host);
      change(l, spec, -1);
      if (spec?.host === e.host && !p.drainedAt.has(e.host)) p.drainedAt.set(e.host, e.at);
      checkCapacity(e, l);
    } else if (e.command === "@lost") {
      checked["workload-lost"]++;
      p.lost.add(w);
      out({
        invariant: "workload-lost",
        message: `${w} lost with ${e.host} at ${iso(e.at)}${e.outcome ? ` (${e.outcome})` : ""}`,
        at: e.at,
        host: e.host,
        workload: w,
      });
      if (hosts.delete(e.host)) change(loadOf(e.host), byId.get(w), -1);
    }
  }
  return p;
}

function checkLost(input: InvariantInput, p: Placement, out: Out, checked: Checked): void {
  for (const w of input.workloads) {
    checked["workload-lost"]++;
    if (p.lost.has(w.id)) continue;
    const hosts = [...(p.on.get(w.id) ?? [])];
    if (hosts.length === 0) {
      out({
        invariant: "workload-lost",
        message: `${w.id} (home ${w.host}) runs on no host at the end of the run`,
        workload: w.id,
      });
      continue;
    }
    for (const h of hosts) {
      const last = p.lastHostEffect.get(h);
      if (last?.command === "@dead") {
        out({
          invariant: "workload-lost",
          message: `${w.id} is left on ${h}, which died at ${iso(last.at)}`,
          at: last.at,
          host: h,
          workload: w.id,
        });
      }
    }
  }
}

const EXCUSED: readonly HostState[] = ["failed", "in_doubt", "aborted", "skipped"];

function checkReinstated(input: InvariantInput, p: Placement, out: Out, checked: Checked): void {
  const records = new Map(input.runHosts.map((r) => [r.host, r]));
  // Workloads by home, in input order.
  const homed = new Map<string, Workload[]>();
  for (const w of input.workloads) {
    const list = homed.get(w.host);
    if (list) list.push(w);
    else homed.set(w.host, [w]);
  }
  for (const [host, at] of p.drainedAt) {
    checked["drained-not-reinstated"]++;
    const missing = (homed.get(host) ?? [])
      .filter((w) => !p.on.get(w.id)?.has(host))
      .map((w) => {
        const now = [...(p.on.get(w.id) ?? [])];
        return `${w.id} (on ${now.length > 0 ? now.join(", ") : "no host"})`;
      });
    if (missing.length === 0) continue;
    const rec = records.get(host);
    if (rec && EXCUSED.includes(rec.state) && (rec.reason ?? "").trim() !== "") continue;
    if (rec && input.unfinished === true && !isTerminalHost(rec.state)) continue;
    const why = !rec
      ? "it has no run record"
      : EXCUSED.includes(rec.state)
        ? `its run record is ${rec.state} with no reason`
        : `its run record is ${rec.state}`;
    out({
      invariant: "drained-not-reinstated",
      message: `${host} was drained at ${iso(at)} but ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not back on it, and ${why}`,
      at,
      host,
    });
  }
}

/** One attempt row of a step on a host, as the ledger saw it: its commands (one `tag`). */
interface Execution {
  entries: LedgerEntry[];
  first: number;
  last: number;
  applied: boolean;
  attempt: number | undefined;
}

/** A command outcome that tells nothing about the effect: the answer never came. */
const NO_ANSWER = /^(dropped|timeout)\b/;
const ANSWERED_EXIT = /^exit (\d+)$/;
/** The engine's events that settle a run attempt. */
const VERDICTS = new Set(["attempt.succeeded", "attempt.failed", "attempt.unknown"]);

/**
 * `effect-twice`: what the engine promises about a non-idempotent step (DESIGN.md "Flow
 * semantics"). Each run of the step on a host (one attempt row: its commands share a `tag`) that
 * took effect after an earlier one did must be justified by the attempt just before it:
 * - the engine knew that attempt failed (its own `attempt.failed`, and the ledger shows an answer
 *   came back: not every command of it was dropped or timed out): the plan's retry, at most
 *   `retry.attempts - 1` of them between operator retries; or
 * - a check asked the host after that attempt and said "not done" (the step's `check` command
 *   exited non-zero; for a built-in check, one was asked); or
 * - an operator retried the host after that attempt (`host.retried`).
 * So re-running after an outcome the engine did not know (a dropped answer, a killed coordinator:
 * no result, or `attempt.unknown`) without a check is caught, and so is retrying past the policy.
 */
function checkEffects(input: InvariantInput, out: Out, checked: Checked): void {
  const steps = new Map(input.plan.steps.filter((s) => !s.idempotent).map((s) => [s.name, s]));
  const retries = new Map<string, number[]>();
  /** host, step, attempt number -> the verdict events, in order. */
  const verdicts = new Map<string, RunEvent[]>();
  const push = <T>(m: Map<string, T[]>, k: string, v: T) => {
    const list = m.get(k);
    if (list) list.push(v);
    else m.set(k, [v]);
  };
  for (const e of input.events) {
    if (e.host === null) continue;
    if (e.type === "host.retried") push(retries, e.host, e.at);
    else if (VERDICTS.has(e.type) && (e.data.phase ?? "run") === "run")
      push(verdicts, JSON.stringify([e.host, e.data.step, e.data.attempt]), e);
  }
  const groups = new Map<
    string,
    {
      host: string;
      runId?: string;
      step: Step;
      runs: Execution[];
      byTag: Map<string, Execution>;
      checks: LedgerEntry[];
    }
  >();
  for (const e of input.ledger) {
    if (e.command.startsWith("@") || e.step === undefined) continue;
    const step = steps.get(e.step);
    const phase = e.phase ?? "run";
    if (step === undefined || (phase !== "run" && phase !== "check")) continue;
    const key = JSON.stringify([e.runId ?? null, e.host, e.step]);
    let g = groups.get(key);
    if (g === undefined) {
      g = { host: e.host, step, runs: [], byTag: new Map(), checks: [] };
      if (e.runId !== undefined) g.runId = e.runId;
      groups.set(key, g);
    }
    if (phase === "check") {
      g.checks.push(e);
      continue;
    }
    const x = e.tag !== undefined ? g.byTag.get(e.tag) : undefined;
    if (x !== undefined) {
      x.entries.push(e);
      x.last = e.at;
      x.applied ||= e.applied === true;
      continue;
    }
    const run: Execution = {
      entries: [e],
      first: e.at,
      last: e.at,
      applied: e.applied === true,
      attempt: e.attempt,
    };
    g.runs.push(run);
    if (e.tag !== undefined) g.byTag.set(e.tag, run);
  }

  const verdictOf = (host: string, step: string, x: Execution): RunEvent | undefined =>
    x.attempt === undefined
      ? undefined
      : verdicts.get(JSON.stringify([host, step, x.attempt]))?.find((v) => v.at >= x.first);
  /** Did a check asked in [from, to] say "not done"? */
  const checkSaidNotDone = (
    checks: readonly LedgerEntry[],
    step: Step,
    from: number,
    to: number,
  ): boolean => {
    const asked = checks.filter((c) => c.at >= from && c.at <= to && ANSWERED_EXIT.test(c.outcome));
    const own = step.check === undefined ? [] : asked.filter((c) => c.command === step.check?.trim());
    // The step's own check answers for itself; without one (or before it, a reboot's boot ids),
    // the built-in check was asked.
    const last = own.at(-1);
    return last !== undefined ? last.outcome !== "exit 0" : asked.length > 0;
  };

  for (const g of groups.values()) {
    if (!g.runs.some((x) => x.applied)) continue;
    checked["effect-twice"]++;
    const name = g.step.name;
    const operatorRetries = retries.get(g.host) ?? [];
    let appliedBefore = 0;
    let retried = 0;
    let problem: string | undefined;
    let at = 0;
    for (let i = 0; i < g.runs.length && problem === undefined; i++) {
      const x = g.runs[i] as Execution;
      const p = g.runs[i - 1];
      if (p !== undefined) {
        const v = verdictOf(g.host, name, p);
        const answered = p.entries.some((e) => !NO_ANSWER.test(e.outcome));
        let why: string | undefined;
        if (operatorRetries.some((t) => t >= p.last && t <= x.first)) retried = 0;
        else if (v?.type === "attempt.failed" && answered) {
          retried++;
          if (retried >= g.step.retry.attempts)
            why = `retried after ${retried} failed attempt(s), but its retry policy allows ${g.step.retry.attempts} attempt(s)`;
        } else if (!checkSaidNotDone(g.checks, g.step, p.last, x.first)) {
          const outcome =
            v === undefined
              ? "the engine recorded no outcome (a coordinator stopped during it)"
              : v.type === "attempt.unknown"
                ? `its outcome was unknown${typeof v.data.reason === "string" ? ` (${v.data.reason})` : ""}`
                : v.type === "attempt.succeeded"
                  ? "it succeeded"
                  : `no answer came back (${p.entries.map((e) => e.outcome).join(", ")})`;
          why = `run again after attempt${p.attempt !== undefined ? ` ${p.attempt}` : ""} at ${iso(p.first)}, of which ${outcome}, with no check saying "not done" and no operator retry in between`;
        }
        if (why !== undefined && x.applied && appliedBefore > 0) {
          problem = why;
          at = x.first;
        }
      }
      if (x.applied) appliedBefore++;
    }
    if (problem === undefined) continue;
    const applied = g.runs.filter((x) => x.applied);
    out({
      invariant: "effect-twice",
      message:
        `non-idempotent step "${name}" applied ${applied.length} times on ${g.host}` +
        `${g.runId ? ` in run ${g.runId}` : ""} (at ${applied.map((x) => iso(x.first)).join(", ")}): ${problem}`,
      at,
      host: g.host,
    });
  }
}

const END_EVENTS = new Set([
  "host.succeeded",
  "host.failed",
  "host.in_doubt",
  "host.aborted",
  "host.skipped",
]);

/** Each host's active intervals [start, end), from the events (end = Infinity while still active). */
export function activeIntervals(events: readonly RunEvent[]): { host: string; start: number; end: number }[] {
  const open = new Map<string, number>();
  const state = new Map<string, string>();
  const intervals: { host: string; start: number; end: number }[] = [];
  for (const e of events) {
    const h = e.host;
    if (h === null) continue;
    if (e.type === "host.started" || e.type === "host.reverting") {
      if (!open.has(h)) open.set(h, e.at);
      state.set(h, e.type === "host.started" ? "running" : "reverting");
    } else if (END_EVENTS.has(e.type)) {
      const start = open.get(h);
      if (start !== undefined) intervals.push({ host: h, start, end: e.at });
      open.delete(h);
      state.set(h, e.type.slice("host.".length));
    } else if (e.type === "host.retried") {
      // Retry of an in-doubt host resumes it (running or reverting) at once; of a failed one, re-queues it.
      const from = typeof e.data.from === "string" ? e.data.from : state.get(h);
      if (from === "in_doubt") {
        if (!open.has(h)) open.set(h, e.at);
        state.set(h, "running");
      } else state.set(h, "pending");
    }
  }
  for (const [host, start] of open) intervals.push({ host, start, end: Number.POSITIVE_INFINITY });
  return intervals;
}

function checkCaps(input: InvariantInput, out: Out, checked: Checked): void {
  const { concurrency } = input.plan;
  const hosts = new Map(input.hosts.map((h) => [h.name, h]));
  // Scopes a host counts in, each with its cap: [key, label, cap].
  const scopesOf = (name: string): [string, string, number][] => {
    const s: [string, string, number][] = [["global", "in the run (global cap", concurrency.global]];
    const h = hosts.get(name);
    if (!h) return s;
    if (concurrency.perRegion !== undefined)
      s.push([`r\0${h.region}`, `in region ${h.region} (perRegion cap`, concurrency.perRegion]);
    for (const [kind, cap] of Object.entries(concurrency.perFailureDomain)) {
      const v = h.failureDomains[kind];
      if (v !== undefined) s.push([`d\0${kind}\0${v}`, `in ${kind} ${v} (${kind} cap`, cap]);
    }
    return s;
  };
  const points = activeIntervals(input.events)
    .filter((i) => i.end > i.start)
    .flatMap((i) => [
      { t: i.start, start: true, host: i.host },
      ...(Number.isFinite(i.end) ? [{ t: i.end, start: false, host: i.host }] : []),
    ])
    .sort((a, b) => a.t - b.t || Number(a.start) - Number(b.start));
  const members = new Map<string, Set<string>>();
  const over = new Set<string>();
  for (const pt of points) {
    if (pt.start) checked["cap-exceeded"]++;
    for (const [key, label, cap] of scopesOf(pt.host)) {
      const set = members.get(key) ?? new Set<string>();
      members.set(key, set);
      if (!pt.start) {
        set.delete(pt.host);
        if (set.size <= cap) over.delete(key);
        continue;
      }
      set.add(pt.host);
      if (set.size <= cap || over.has(key)) continue;
      over.add(key);
      out({
        invariant: "cap-exceeded",
        message: `cap exceeded at ${iso(pt.t)} when ${pt.host} became active: ${set.size} hosts active ${label} ${cap}: ${[...set].join(", ")})`,
        at: pt.t,
        host: pt.host,
      });
    }
  }
}

function finalRunState(input: InvariantInput): RunState | undefined {
  if (input.runState !== undefined) return input.runState;
  let s: RunState | undefined;
  for (const e of input.events) {
    const x = e.type.startsWith("run.") ? e.type.slice(4) : "";
    if (e.host === null && (RUN_STATES as readonly string[]).includes(x)) s = x as RunState;
  }
  return s;
}

/** Run states in which non-terminal hosts are expected: pending ones, and active ones. */
const PENDING_OK: readonly RunState[] = ["failed", "halting", "paused", "aborting", "aborted"];
const ACTIVE_OK: readonly RunState[] = ["paused", "aborting", "aborted"];

function checkFinished(input: InvariantInput, out: Out, checked: Checked): void {
  const run = finalRunState(input);
  for (const r of input.runHosts) {
    checked["host-unfinished"]++;
    if (r.state === "pending" && run !== undefined && PENDING_OK.includes(run)) continue;
    if ((r.state === "running" || r.state === "reverting") && run !== undefined && ACTIVE_OK.includes(run))
      continue;
    if (r.state !== "pending" && r.state !== "running" && r.state !== "reverting") continue;
    if (input.unfinished === true) continue;
    out({
      invariant: "host-unfinished",
      message: `${r.host} is still ${r.state} at the end (run ${run ?? "state unknown"})`,
      host: r.host,
    });
  }
}

export function checkInvariants(input: InvariantInput): InvariantReport {
  const checked = Object.fromEntries(INVARIANT_NAMES.map((n) => [n, 0])) as Checked;
  const found: Violation[] = [];
  const out: Out = (v) => found.push(v);
  const placement = replayPlacements(input, out, checked);
  checkLost(input, placement, out, checked);
  checkReinstated(input, placement, out, checked);
  checkEffects(input, out, checked);
  checkCaps(input, out, checked);
  checkFinished(input, out, checked);
  const rank = (n: InvariantName) => INVARIANT_NAMES.indexOf(n);
  const violations = found
    .map((v, i) => ({ v, i }))
    .sort((a, b) => rank(a.v.invariant) - rank(b.v.invariant) || a.i - b.i)
    .map((x) => x.v);
  return { ok: violations.length === 0, checked, violations };
}
