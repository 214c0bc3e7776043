/**
 * The planner: a plan and a fleet in, the schedule a run will follow out — the order and wave of
 * every host, batches with start offsets, which hold-over takes which workload, the estimated
 * makespan, a lower bound and their ratio, per-region figures and the risks found — or a refusal
 * that says what is missing.
 *
 * Invariants:
 * - Pure and deterministic for its inputs and seed (no clock, no I/O).
 * - Every scoped host is scheduled exactly once; no cap is ever exceeded; no hold-over is ever
 *   over-committed; the first wave (the canary) finishes before anything else starts. The caps
 *   the planner adds (one host at a time per replicated group, each region's hold-over room) are
 *   returned as `domains` per host and `caps`, so the engine enforces the same ones.
 * - Windows (`windows`): no host of a region starts before its window opens (admission holds it,
 *   in the planner as in the coordinator), so batch offsets include the wait for each opening; the
 *   schedule keeps each region's opening as an absolute time (`startAt` + offset) for the run.
 * - Refusals before anything runs: a workload no hold-over can take, a region without enough
 *   hold-overs for one host, a region whose estimate does not fit its window — with what held it
 *   back (an earlier wave, other regions under the caps; held-back.ts) or what binds on its own,
 *   and the number of hold-overs that would fit it only when the region drains, that number is
 *   more than it has and nothing held it back (window-refusal.ts).
 */
import type { Capacity, Host, Workload } from "../model/fleet.js";
import type { Concurrency, Plan } from "../plan/compile.js";
import { assignWaves, waveSize } from "../policy/waves.js";
import { GROUP_DOMAIN_PREFIX, HOLDOVER_DOMAIN, isPlannerDomain } from "./domains.js";
import { DEFAULT_FLOW_MODEL, drains, type FlowModel, flowMs, rebootFailShare } from "./flow-model.js";
import { holdsOf } from "./held-back.js";
import { HoldoverPool, holdoverBins, isPlacement } from "./holdover-pool.js";
import { type ListHost, listSchedule, type Started } from "./list-schedule.js";
import { type LowerBound, lowerBound } from "./lower-bound.js";
import { type OrderPolicy, orderHosts } from "./order.js";
import { Pressure } from "./pressure.js";
import { formatMs, PlanRefusal, type Refusal } from "./refusal.js";
import { type Spread, spreadOf } from "./spread.js";
import { type WindowFacts, windowRefusal } from "./window-refusal.js";

export interface PlannerInput {
  plan: Plan;
  /** Every host of the fleet: the region's hold-overs take workloads even when outside the scope. */
  fleet: readonly Host[];
  /** The run's hosts. */
  scope: readonly Host[];
  workloads: readonly Workload[];
  model?: FlowModel;
  order?: OrderPolicy;
  seed?: number;
  /**
   * Each region's utilization (0..1) while it is maintained: one figure per region (a window's
   * mean), or a function of the time since the run's start; default 0.15 (a night trough).
   */
  utilization?: Readonly<Record<string, number>> | ((region: string, atMs: number) => number);
  /** Each region's window length; a region whose estimate does not fit is refused. */
  windowMs?: Readonly<Record<string, number>>;
  /** Capacity assumed for hold-overs to add (sizing); default the region's first hold-over's. */
  holdoverCapacity?: Capacity;
  /**
   * The chosen windows: when the run starts (`startAt`, epoch ms: offset 0 of the schedule) and
   * each region's window opening (epoch ms); a region's hosts start at or after its opening.
   */
  windows?: { startAt: number; opensAt: Readonly<Record<string, number>> };
  /**
   * Schedules to play again with drawn boot times (spread.ts), for the makespan's and each
   * region's percentiles; default 0 (none: `spread` is null).
   */
  samples?: number;
}

export interface ScheduledHost {
  host: string;
  region: string;
  wave: number;
  order: number;
  batch: number;
  startMs: number;
  endMs: number;
  durationMs: number;
  /** Workload id -> hold-over. */
  holdovers: Record<string, string>;
  /** The planner's own failure domains for the engine (`group:<name>`, `holdovers`). */
  domains: Record<string, string>;
}

export interface Batch {
  index: number;
  wave: number;
  startMs: number;
  hosts: string[];
}

export interface RegionPlan {
  region: string;
  hosts: number;
  holdovers: number;
  /** Hosts of the region whose workloads fit on its hold-overs at once. */
  holdoverRoom: number;
  startMs: number;
  endMs: number;
  windowMs: number | null;
  /** When the region's window opens (epoch ms; null: no window chosen); no host starts before. */
  opensAt: number | null;
  /** The fewest hold-overs that finish the region inside its window (null: no window given, or none does). */
  holdoversNeeded: number | null;
}

export interface Risk {
  kind: "single-holdover-rack" | "holdover-in-scope" | "tight-window" | "reboot-timeout";
  /** Absent: the whole plan (every region). */
  region?: string;
  message: string;
}

export interface Schedule {
  hosts: ScheduledHost[];
  batches: Batch[];
  waves: { index: number; hosts: number; startMs: number; endMs: number }[];
  regions: RegionPlan[];
  makespanMs: number;
  lowerBound: LowerBound;
  /** makespan / lower bound (>= 1). */
  ratio: number;
  /** Per-value caps for the engine (kind -> value -> cap). */
  caps: Record<string, Record<string, number>>;
  risks: Risk[];
  order: OrderPolicy;
  seed: number;
  /** Epoch ms of offset 0 when windows were chosen (null: offsets only, start whenever the run does). */
  startAt: number | null;
  /** The makespan and region ends with drawn boot times (null: not asked for, or no reboot). */
  spread: Spread | null;
}

const FALLBACK_CAPACITY: Capacity = { cpu: 64, memoryMb: 262_144, diskGb: 4_000 };

interface Prepared {
  host: Host;
  workloads: Workload[];
  durationMs: number;
  domains: Record<string, string>;
}

export function planSchedule(input: PlannerInput): Schedule {
  const model = input.model ?? DEFAULT_FLOW_MODEL;
  const policy = input.order ?? "balanced";
  const seed = input.seed ?? input.plan.seed ?? 1;
  const moving = drains(input.plan);
  const scoped = new Set(input.scope.map((h) => h.name));
  const holdovers = holdoversByRegion(input.fleet, scoped);
  const byHost = new Map<string, Workload[]>();
  for (const w of input.workloads) {
    const l = byHost.get(w.host) ?? [];
    l.push(w);
    byHost.set(w.host, l);
  }
  const groupHosts = new Map<string, Set<string>>();
  for (const h of input.scope)
    for (const w of byHost.get(h.name) ?? [])
      if (w.antiAffinityGroup !== undefined) {
        const s = groupHosts.get(w.antiAffinityGroup) ?? new Set();
        s.add(h.name);
        groupHosts.set(w.antiAffinityGroup, s);
      }
  const opens = openingOffsets(input.windows);
  const u = input.utilization;
  const utilizationOf = (region: string): ((atMs: number) => number) =>
    typeof u === "function" ? (at) => u(region, at) : () => u?.[region] ?? 0.15;
  const prepared: Prepared[] = input.scope.map((host) => {
    const workloads = moving ? (byHost.get(host.name) ?? []) : [];
    const domains: Record<string, string> = {};
    for (const w of byHost.get(host.name) ?? [])
      if (w.antiAffinityGroup !== undefined && (groupHosts.get(w.antiAffinityGroup)?.size ?? 0) > 1)
        domains[`${GROUP_DOMAIN_PREFIX}${w.antiAffinityGroup}`] = w.antiAffinityGroup;
    if (workloads.length > 0) domains[HOLDOVER_DOMAIN] = host.region;
    return {
      host,
      workloads,
      durationMs: flowMs(input.plan, workloads, model, utilizationOf(host.region)),
      domains,
    };
  });

  const capacityOf = (region: string) =>
    input.holdoverCapacity ?? holdovers.get(region)?.[0]?.capacity ?? FALLBACK_CAPACITY;
  const refusals = moving ? placementRefusals(prepared, holdovers, capacityOf) : [];
  if (refusals.length > 0) throw new PlanRefusal(refusals);

  const canaries = waveSize(input.plan.waves[0] ?? { percent: 100 }, prepared.length);
  const ordered = orderHosts(
    prepared.map((p) => ({
      prep: p,
      host: p.host.name,
      region: p.host.region,
      rack: p.host.failureDomains.rack ?? "",
      uptimeDays: Number(p.host.vars.overhaul_uptime_days ?? 0) || 0,
      durationMs: p.durationMs,
    })),
    policy,
    canaries,
    opens,
  );
  const waves = assignWaves(input.plan.waves, ordered.length);
  let list: ListHost[] = ordered.map((o, i) => ({
    host: o.host,
    region: o.region,
    wave: waves[i] ?? 0,
    order: i,
    durationMs: o.durationMs,
    domains: { ...o.prep.host.failureDomains, ...o.prep.domains },
    workloads: o.prep.workloads,
  }));

  // Every schedule below differs only in its order and room: plan, hold-overs, seed and openings stay.
  const play: Play = (hosts, room, ranked = false) =>
    attempt(input.plan, hosts, holdovers, room, seed, opens, ranked);
  const initial = new Map<string, number>();
  for (const [region, hs] of holdovers) initial.set(region, initialRoom(list, region, hs));
  if (typeof u === "function") {
    // Utilization changes while the run goes on: estimate each flow again from where a first
    // schedule starts it, then plan with those estimates (the bound uses the same ones).
    const first = play(list, initial);
    const startOf = new Map(first.started.map((x) => [x.host, x.startMs]));
    list = list.map((h) => ({
      ...h,
      durationMs: flowMs(input.plan, h.workloads, model, utilizationOf(h.region), startOf.get(h.host) ?? 0),
    }));
  }
  // Only the default policy is the planner's to reorder; an order the operator chose is kept.
  const from = policy === "balanced" ? mostConstrainedFirst(play, list, initial) : play(list, initial);
  const {
    list: finalList,
    started,
    concurrency,
    room,
  } = improve(play, from, policy === "balanced" ? budgetFor(list.length) : 0);

  const result = assemble(
    input.plan,
    finalList,
    started,
    concurrency,
    holdovers,
    room,
    policy,
    seed,
    input.fleet,
    scoped,
    input.windows,
  );
  const windowRefusals = fitWindows(input, result, list, holdovers, capacityOf, seed);
  if (windowRefusals.length > 0) throw new PlanRefusal(windowRefusals);
  // A play is a whole schedule with the final order and room (if its packing refused a host, it
  // lowers that region's room as the planner does; never seen in tests).
  result.spread =
    spreadOf({
      plan: input.plan,
      hosts: finalList,
      model,
      samples: input.samples ?? 0,
      seed,
      play: (hs) => play(hs, room).started,
    }) ?? null;
  result.risks.push(...rebootRisks(input.plan, model));
  if (judgedBySpread(input)) result.risks.push(...spreadRisks(input, result));
  return result;
}

/** Hosts that fail at least this often on a reboot step's timeout make it a risk. */
const REBOOT_FAIL_RISK = 0.01;

/**
 * Reboot steps whose timeout the assumed boot times overrun so often that hosts would use every
 * attempt and fail (e.g. a 30 s timeout for the default 2-15 min boots of physical servers).
 */
function rebootRisks(plan: Plan, model: FlowModel): Risk[] {
  const out: Risk[] = [];
  const boots = `${formatMs(model.bootMs.min)}-${formatMs(model.bootMs.max)}`;
  for (const step of plan.steps) {
    if (step.kind !== "reboot") continue;
    const share = rebootFailShare(step, model);
    if (share < REBOOT_FAIL_RISK) continue;
    out.push({
      kind: "reboot-timeout",
      message: `step ${step.name}: with boots of ${boots} (uniform) and a timeout of ${formatMs(step.timeoutMs)}, ${(100 * share).toFixed(share < 0.1 ? 1 : 0)} % of hosts would use all ${step.retry.attempts} attempt(s) and fail; raise the step's timeout above your hosts' boot time, or give that boot time with --scenario (boot: { min, max })`,
    });
  }
  return out;
}

/** A region's chosen window opening as an offset from the schedule's start (none chosen: undefined). */
function windowOpening(input: PlannerInput, r: RegionPlan): number | undefined {
  return r.opensAt !== null && input.windows !== undefined
    ? Math.max(0, r.opensAt - input.windows.startAt)
    : undefined;
}

/** Plays needed before the spread's p90 judges a window (below, p90 is one of the few largest draws). */
const P90_SAMPLES = 10;

/** Does the spread (not the 90 % rule of thumb) judge whether a window is tight? */
function judgedBySpread(input: PlannerInput): boolean {
  return (input.samples ?? 0) >= P90_SAMPLES && input.plan.steps.some((s) => s.kind === "reboot");
}

/**
 * Regions whose window the estimate fits but one play in ten with drawn boot times does not: from
 * the window's opening when one was chosen (the region's end in each play), else the region's own
 * span in each play (its start moves with the canary and earlier waves too).
 */
function spreadRisks(input: PlannerInput, schedule: Schedule): Risk[] {
  const sp = schedule.spread;
  if (sp === null || input.windowMs === undefined) return [];
  const out: Risk[] = [];
  for (const r of schedule.regions) {
    const windowMs = input.windowMs[r.region];
    const mine = sp.regions[r.region];
    if (windowMs === undefined || mine === undefined) continue;
    const opens = windowOpening(input, r);
    const p90 = opens !== undefined ? mine.end.p90Ms - opens : mine.span.p90Ms;
    if (p90 > windowMs)
      out.push({
        kind: "tight-window",
        region: r.region,
        message: `in one play in ten with drawn boot times it takes ${formatMs(p90)} or more (p90 of ${sp.samples} plays), over its window of ${formatMs(windowMs)}: the estimate fits it only with average boots`,
      });
  }
  return out;
}

/** Each region's window opening as an offset from the schedule's start (never negative). */
function openingOffsets(windows: PlannerInput["windows"]): Record<string, number> | undefined {
  if (windows === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const [region, at] of Object.entries(windows.opensAt)) out[region] = Math.max(0, at - windows.startAt);
  return out;
}

/** Hold-overs outside the scope, by region, in name order. */
function holdoversByRegion(fleet: readonly Host[], scoped: ReadonlySet<string>): Map<string, Host[]> {
  const m = new Map<string, Host[]>();
  for (const h of fleet) {
    if (h.role !== "holdover" || scoped.has(h.name)) continue;
    const l = m.get(h.region) ?? [];
    l.push(h);
    m.set(h.region, l);
  }
  for (const l of m.values()) l.sort((a, b) => (a.name < b.name ? -1 : 1));
  return m;
}

/** Hold-overs of `capacity` one host's workloads need on their own (first-fit decreasing). */
function holdoversFor(workloads: readonly Workload[], capacity: Capacity): number | null {
  for (let n = 1; n <= workloads.length; n++) {
    const pool = new HoldoverPool(Array.from({ length: n }, (_, i) => ({ name: `h${i}`, capacity })));
    if (isPlacement(pool.reserve("x", workloads))) return n;
  }
  return null;
}

function placementRefusals(
  prepared: readonly Prepared[],
  holdovers: ReadonlyMap<string, Host[]>,
  capacityOf: (region: string) => Capacity,
): Refusal[] {
  const out: Refusal[] = [];
  const missing = new Map<string, { needed: number; host: string }>();
  for (const p of prepared) {
    if (p.workloads.length === 0) continue;
    const region = p.host.region;
    const hs = holdovers.get(region) ?? [];
    const cap = capacityOf(region);
    const bins = holdoverBins(hs, cap);
    let unplaceable = false;
    for (const w of p.workloads) {
      if (bins.some((b) => isPlacement(new HoldoverPool([b]).reserve("x", [w])))) continue;
      if (
        bins.length === 0 &&
        isPlacement(new HoldoverPool([{ name: "h", capacity: cap }]).reserve("x", [w]))
      )
        continue;
      unplaceable = true;
      const empty = new HoldoverPool(bins);
      out.push({
        kind: "unplaceable",
        region,
        host: p.host.name,
        workload: w.id,
        size: { cpu: w.cpu, memoryMb: w.memoryMb, diskGb: w.diskGb },
        largestFree: empty.mostFree() ?? null,
        closest: empty.closest(w) ?? null,
      });
    }
    if (unplaceable) continue;
    if (isPlacement(new HoldoverPool(bins).reserve(p.host.name, p.workloads))) continue;
    const needed = holdoversFor(p.workloads, cap) ?? p.workloads.length;
    const prev = missing.get(region);
    if (prev === undefined || needed > prev.needed) missing.set(region, { needed, host: p.host.name });
  }
  for (const [region, m] of missing) {
    const have = holdovers.get(region)?.length ?? 0;
    out.push({
      kind: "missing-holdovers",
      region,
      holdovers: have,
      needed: Math.max(m.needed, have + 1),
      why:
        have === 0
          ? `hosts with workloads to drain but no hold-over outside the scope`
          : `the workloads of ${m.host} do not fit on the hold-overs together`,
    });
  }
  return out;
}

/** Hosts of the region whose workloads fit on its hold-overs at once: the heaviest first, until one does not fit. */
function initialRoom(list: readonly ListHost[], region: string, hs: readonly Host[]): number {
  const mine = list
    .filter((h) => h.region === region && h.workloads.length > 0)
    .map((h) => ({ h, mem: h.workloads.reduce((s, w) => s + w.memoryMb, 0) }))
    .sort((a, b) => b.mem - a.mem || (a.h.host < b.h.host ? -1 : 1));
  const pool = new HoldoverPool(holdoverBins(hs, FALLBACK_CAPACITY));
  let n = 0;
  for (const { h } of mine) {
    if (!isPlacement(pool.reserve(h.host, h.workloads))) break;
    n++;
  }
  return Math.max(1, n);
}

function capsOf(plan: Plan, room: ReadonlyMap<string, number>, list: readonly ListHost[]): Concurrency {
  const perDomainValue: Record<string, Record<string, number>> = {};
  for (const h of list)
    for (const [kind, value] of Object.entries(h.domains))
      if (kind.startsWith(GROUP_DOMAIN_PREFIX)) perDomainValue[kind] = { [value]: 1 };
  if (room.size > 0) perDomainValue[HOLDOVER_DOMAIN] = Object.fromEntries(room);
  return { ...plan.concurrency, perDomainValue };
}

/** Schedule; a region whose packing refused a host admission started gets one host less of room. */
function scheduleWithRoom(
  plan: Plan,
  list: readonly ListHost[],
  holdovers: ReadonlyMap<string, Host[]>,
  room: Map<string, number>,
  seed: number,
  opensAt?: Readonly<Record<string, number>>,
  ranked = false,
): { started: Started[]; concurrency: Concurrency } {
  for (;;) {
    const concurrency = capsOf(plan, room, list);
    const pools = new Map(
      [...holdovers].map(([r, hs]) => [r, new HoldoverPool(holdoverBins(hs, FALLBACK_CAPACITY))]),
    );
    const res = listSchedule({
      hosts: list,
      concurrency,
      stagger: plan.stagger,
      seed,
      pools,
      ...(opensAt !== undefined ? { opensAt } : {}),
      ...(ranked ? { pressure: new Pressure(list, concurrency) } : {}),
    });
    if (res.ok) return { started: res.started, concurrency };
    const was = room.get(res.overfullRegion) ?? 1;
    // With room for one host, the pool is empty whenever a host starts, and every host fits
    // alone (checked before scheduling).
    if (was <= 1)
      throw new Error(`planner: one host of region ${res.overfullRegion} does not fit its hold-overs`);
    room.set(res.overfullRegion, Math.max(1, (room.get(res.overfullRegion) ?? 1) - 1));
  }
}

interface Attempt {
  list: readonly ListHost[];
  started: Started[];
  concurrency: Concurrency;
  room: Map<string, number>;
  span: number;
}

/**
 * One whole list schedule of `list` from `room` (copied: the schedule may lower it); `ranked` plays
 * most-constrained first instead of the list's order (pressure.ts).
 */
type Play = (list: readonly ListHost[], room: ReadonlyMap<string, number>, ranked?: boolean) => Attempt;

function attempt(
  plan: Plan,
  list: readonly ListHost[],
  holdovers: ReadonlyMap<string, Host[]>,
  room: ReadonlyMap<string, number>,
  seed: number,
  opensAt: Readonly<Record<string, number>> | undefined,
  ranked: boolean,
): Attempt {
  const own = new Map(room);
  const { started, concurrency } = scheduleWithRoom(plan, list, holdovers, own, seed, opensAt, ranked);
  return { list, started, concurrency, room: own, span: started.reduce((m, s) => Math.max(m, s.endMs), 0) };
}

/**
 * The order most-constrained first gives (see pressure.ts), when its schedule is shorter than the
 * given order's: the start order of a schedule played with ranks refreshed whenever hosts may
 * start, waves unchanged (waves are barriers, so each wave's hosts start in a block of their own).
 */
function mostConstrainedFirst(
  play: Play,
  list: readonly ListHost[],
  room: ReadonlyMap<string, number>,
): Attempt {
  const { started } = play(list, room, true);
  const byName = new Map(list.map((h) => [h.host, h]));
  const reordered = started
    .map((s) => byName.get(s.host) as ListHost)
    .sort((a, b) => a.wave - b.wave)
    .map((h, i) => ({ ...h, order: i }));
  const given = play(list, room);
  const mine = play(reordered, room);
  return mine.span < given.span ? mine : given;
}

/** Tries per schedule: every try is one whole list schedule, so fewer for larger fleets. */
function budgetFor(hosts: number): number {
  return hosts <= 100 ? 24 : hosts <= 600 ? 12 : 6;
}

/**
 * Local search on the order: the host that finishes last goes first in its wave (it was held
 * back by a cap, or started too late to end with the rest); kept only when the makespan shrinks.
 * Waves keep their members; every try is a full schedule under every cap, so each one is valid.
 */
function improve(play: Play, from: Attempt, tries: number): Attempt {
  let best = from;
  const list = from.list;
  const tried = new Set<string>();
  const mean = list.reduce((a, h) => a + h.durationMs, 0) / Math.max(1, list.length);
  for (let k = 0; k < tries; k++) {
    const waveOf = new Map(best.list.map((h) => [h.host, h.wave]));
    const ranked = [...best.started]
      .filter((s) => !tried.has(s.host) && (waveOf.get(s.host) ?? 0) > 0)
      .sort((a, b) => b.endMs - a.endMs || (a.host < b.host ? -1 : 1));
    const first = ranked[0];
    if (first === undefined) break;
    // The tail: every host ending within half a mean flow of the end (at least the last one).
    const tail = new Set(ranked.filter((s) => s.endMs > best.span - mean / 2).map((s) => s.host));
    tail.add(first.host);
    for (const h of tail) tried.add(h);
    const next = play(promote(best.list, tail), best.room);
    if (next.span < best.span) best = next;
  }
  return best;
}

/** `hosts` move to the front of their waves (in their order); everything else keeps its order. */
function promote(list: readonly ListHost[], hosts: ReadonlySet<string>): ListHost[] {
  const waves = [...new Set(list.map((h) => h.wave))].sort((a, b) => a - b);
  const out: ListHost[] = [];
  for (const w of waves) {
    const mine = list.filter((h) => h.wave === w);
    out.push(...mine.filter((h) => hosts.has(h.host)), ...mine.filter((h) => !hosts.has(h.host)));
  }
  return out.map((h, i) => ({ ...h, order: i }));
}

function assemble(
  plan: Plan,
  list: readonly ListHost[],
  started: readonly Started[],
  concurrency: Concurrency,
  holdovers: ReadonlyMap<string, Host[]>,
  room: ReadonlyMap<string, number>,
  policy: OrderPolicy,
  seed: number,
  fleet: readonly Host[],
  scoped: ReadonlySet<string>,
  windows: PlannerInput["windows"],
): Schedule {
  const startOf = new Map(started.map((s) => [s.host, s]));
  const batches: Batch[] = [];
  const batchOf = new Map<string, number>();
  const waveOf = new Map(list.map((h) => [h.host, h.wave]));
  for (const s of started) {
    const wave = waveOf.get(s.host) as number;
    let b = batches[batches.length - 1];
    if (b === undefined || b.startMs !== s.startMs || b.wave !== wave) {
      b = { index: batches.length, wave, startMs: s.startMs, hosts: [] };
      batches.push(b);
    }
    b.hosts.push(s.host);
    batchOf.set(s.host, b.index);
  }
  const hosts: ScheduledHost[] = list.map((h) => {
    const s = startOf.get(h.host) as Started;
    const own: Record<string, string> = {};
    for (const [k, v] of Object.entries(h.domains)) if (isPlannerDomain(k)) own[k] = v;
    return {
      host: h.host,
      region: h.region,
      wave: h.wave,
      order: h.order,
      batch: batchOf.get(h.host) as number,
      startMs: s.startMs,
      endMs: s.endMs,
      durationMs: h.durationMs,
      holdovers: s.holdovers,
      domains: own,
    };
  });
  const makespanMs = hosts.reduce((m, h) => Math.max(m, h.endMs), 0);
  const bound = withWindows(lowerBound(list, concurrency, plan.stagger.intervalMs), list, windows);
  const waveIds = [...new Set(hosts.map((h) => h.wave))].sort((a, b) => a - b);
  const waves = waveIds.map((index) => {
    const hs = hosts.filter((h) => h.wave === index);
    return {
      index,
      hosts: hs.length,
      startMs: Math.min(...hs.map((h) => h.startMs)),
      endMs: Math.max(...hs.map((h) => h.endMs)),
    };
  });
  const regions: RegionPlan[] = [...new Set(hosts.map((h) => h.region))].map((region) => {
    const hs = hosts.filter((h) => h.region === region);
    return {
      region,
      hosts: hs.length,
      holdovers: holdovers.get(region)?.length ?? 0,
      holdoverRoom: room.get(region) ?? 0,
      startMs: Math.min(...hs.map((h) => h.startMs)),
      endMs: Math.max(...hs.map((h) => h.endMs)),
      windowMs: null,
      opensAt: windows?.opensAt[region] ?? null,
      holdoversNeeded: null,
    };
  });
  return {
    hosts,
    batches,
    waves,
    regions,
    makespanMs,
    lowerBound: bound,
    ratio: bound.ms > 0 ? makespanMs / bound.ms : 1,
    caps: Object.fromEntries(Object.entries(concurrency.perDomainValue ?? {}).map(([k, v]) => [k, { ...v }])),
    risks: risksOf(fleet, scoped, hosts, holdovers),
    order: policy,
    seed,
    startAt: windows?.startAt ?? null,
    spread: null,
  };
}

/**
 * No host starts before its region's window opens, so the makespan is at least each region's
 * opening plus its longest flow (whatever the waves and caps).
 */
function withWindows(
  bound: LowerBound,
  list: readonly ListHost[],
  windows: PlannerInput["windows"],
): LowerBound {
  const opens = openingOffsets(windows);
  if (opens === undefined) return bound;
  let best: LowerBound["window"];
  for (const h of list) {
    const at = opens[h.region];
    if (at === undefined) continue;
    const ms = at + h.durationMs;
    if (best === undefined || ms > best.ms) best = { region: h.region, opensMs: at, ms };
  }
  if (best === undefined || best.ms <= bound.ms) return bound;
  return { ...bound, ms: best.ms, window: best };
}

function risksOf(
  fleet: readonly Host[],
  scoped: ReadonlySet<string>,
  hosts: readonly ScheduledHost[],
  holdovers: ReadonlyMap<string, Host[]>,
): Risk[] {
  const risks: Risk[] = [];
  const regions = new Set(hosts.map((h) => h.region));
  for (const h of fleet)
    if (h.role === "holdover" && scoped.has(h.name))
      risks.push({
        kind: "holdover-in-scope",
        region: h.region,
        message: `hold-over ${h.name} is itself in the scope: it takes no workloads in this plan`,
      });
  const rackOf = new Map(fleet.map((h) => [h.name, h.failureDomains.rack]));
  for (const region of regions) {
    const hs = holdovers.get(region) ?? [];
    const only = hs[0];
    if (hs.length !== 1 || only === undefined) continue;
    const rack = only.failureDomains.rack;
    if (rack === undefined) continue;
    const targets = hosts.filter((h) => h.region === region && rackOf.get(h.host) === rack);
    if (targets.length > 0)
      risks.push({
        kind: "single-holdover-rack",
        region,
        message: `the only hold-over ${only.name} is in rack ${rack} with ${targets.length} target(s) (${targets
          .slice(0, 3)
          .map((t) => t.host)
          .join(
            ", ",
          )}${targets.length > 3 ? ", ..." : ""}): one rack failure takes both the drained workloads and their home`,
      });
  }
  return risks;
}

/** Region `region` alone with `n` hold-overs of `capacity`: its makespan. */
export function regionMakespan(
  plan: Plan,
  list: readonly ListHost[],
  region: string,
  n: number,
  capacity: Capacity,
  seed: number,
): number {
  const mine = list.filter((h) => h.region === region);
  const hs = Array.from({ length: n }, (_, i) => ({ name: `${region}-holdover-${i + 1}`, capacity }));
  const fake = hs.map(
    (b) =>
      ({
        name: b.name,
        region,
        role: "holdover",
        capacity: b.capacity,
        failureDomains: {},
      }) as unknown as Host,
  );
  const holdovers = new Map([[region, fake]]);
  const room = new Map([[region, initialRoom(mine, region, fake)]]);
  const { started } = scheduleWithRoom(plan, mine, holdovers, room, seed);
  return (
    started.reduce((m, s) => Math.max(m, s.endMs), 0) -
    started.reduce((m, s) => Math.min(m, s.startMs), Number.POSITIVE_INFINITY)
  );
}

function fitWindows(
  input: PlannerInput,
  schedule: Schedule,
  list: readonly ListHost[],
  holdovers: ReadonlyMap<string, Host[]>,
  capacityOf: (region: string) => Capacity,
  seed: number,
): Refusal[] {
  const out: Refusal[] = [];
  if (input.windowMs === undefined) return out;
  let balanced: ReadonlySet<string> | undefined;
  for (const r of schedule.regions) {
    const windowMs = input.windowMs[r.region];
    if (windowMs === undefined) continue;
    r.windowMs = windowMs;
    const movers = list.filter((h) => h.region === r.region && h.workloads.length > 0).length;
    const drainsHere = drains(input.plan) && movers > 0;
    if (drainsHere) {
      const cap = capacityOf(r.region);
      for (let n = 1; n <= movers; n++)
        if (regionMakespan(input.plan, list, r.region, n, cap, seed) <= windowMs) {
          r.holdoversNeeded = n;
          break;
        }
    }
    // From the window's opening when one was chosen (a region held back past it has less time).
    const opening = windowOpening(input, r);
    const from = opening ?? r.startMs;
    const span = r.endMs - from;
    if (span <= windowMs) {
      // Without enough plays with drawn boots (spreadRisks), a rule of thumb.
      if (!judgedBySpread(input) && span > 0.9 * windowMs)
        schedule.risks.push({
          kind: "tight-window",
          region: r.region,
          message: `the estimate uses ${Math.round((100 * span) / windowMs)} % of the window: a few slow boots or one retry will overrun it`,
        });
      continue;
    }
    const have = holdovers.get(r.region)?.length ?? 0;
    // Another order could start it on time (the canary from the region whose window opens first):
    // played once, only when refusing under an order the operator chose.
    if ((input.order ?? "balanced") !== "balanced")
      balanced ??= regionsFitting({ ...input, order: "balanced", samples: 0 });
    out.push(
      windowRefusal({
        region: r.region,
        windowMs,
        estimateMs: span,
        fromOpening: opening !== undefined,
        holdovers: drainsHere ? have : null,
        needed: r.holdoversNeeded,
        alone: alone(input, schedule, list, r, drainsHere, have, capacityOf, seed),
        holds: holdsOf(schedule.hosts, r.region, from),
        opening: (region) => {
          const at = input.windows?.opensAt[region];
          return at === undefined || opening === undefined || input.windows === undefined
            ? undefined
            : { afterMs: Math.max(0, at - input.windows.startAt) - opening, at };
        },
        globalCap: input.plan.concurrency.global,
        staggered: input.plan.stagger.intervalMs > 0 || input.plan.stagger.jitterMs > 0,
        balancedFits: balanced?.has(r.region) ?? false,
      }),
    );
  }
  return out;
}

/**
 * The region on its own (no other region, no window opening): it fits with the hold-overs it has,
 * or what it takes — the bound with unlimited hold-over room when it drains, else its estimate —
 * and the bound's largest part.
 */
function alone(
  input: PlannerInput,
  schedule: Schedule,
  list: readonly ListHost[],
  r: RegionPlan,
  drainsHere: boolean,
  have: number,
  capacityOf: (region: string) => Capacity,
  seed: number,
): WindowFacts["alone"] {
  const windowMs = r.windowMs ?? 0;
  if (drainsHere && r.holdoversNeeded !== null && r.holdoversNeeded <= have) return { fits: true };
  const ownMs = drainsHere
    ? undefined
    : regionMakespan(input.plan, list, r.region, 0, capacityOf(r.region), seed);
  if (ownMs !== undefined && ownMs <= windowMs) return { fits: true };
  const { [HOLDOVER_DOMAIN]: _room, ...caps } = schedule.caps;
  const lb = lowerBound(
    list.filter((h) => h.region === r.region),
    { ...input.plan.concurrency, perDomainValue: caps },
    input.plan.stagger.intervalMs,
  );
  const worst = [...lb.waves].sort((a, b) => b.ms - a.ms)[0];
  return {
    fits: false,
    ms: ownMs ?? lb.ms,
    binding: worst === undefined ? undefined : `wave ${worst.wave}: ${worst.binding}`,
  };
}

/** The regions whose window the plan fits under `input` (its order): all unless refused for a window. */
function regionsFitting(input: PlannerInput): ReadonlySet<string> {
  const regions = new Set(input.scope.map((h) => h.region));
  try {
    planSchedule(input);
  } catch (e) {
    if (!(e instanceof PlanRefusal)) throw e;
    for (const r of e.refusals) if (r.kind === "window-too-short") regions.delete(r.region);
  }
  return regions;
}
