/**
 * The schedule a run will follow: the engine's own admission (`core/policy/admission.ts`) played
 * forward over the planner's duration estimates, so the order, waves and caps are the engine's,
 * not a model of them.
 *
 * Invariants:
 * - Same rules as the coordinator: hosts start in `order`, a wave opens only when every host of the
 *   earlier waves is finished, every cap (global, region, each failure-domain kind, and the
 *   per-value caps of replicated groups and hold-over room) holds at every instant, and with a
 *   stagger at most one host starts per interval plus seeded jitter.
 * - Hold-over room: a host that drains reserves room for all its workloads on its region's
 *   hold-overs when it starts (first-fit decreasing) and frees it when its flow ends, so no
 *   hold-over is ever over-committed. If the packing cannot take a host that admission started
 *   (bin packing is not monotone), the call reports that region so the caller lowers its cap.
 * - Windows: a host of a region in `opensAt` (offsets from the schedule's start) starts at or after
 *   its region's opening, as the coordinator admits it; when nothing runs and only windows hold
 *   hosts back, time jumps to the next opening.
 * - Deterministic for the seed; every host is scheduled exactly once.
 */
import type { Workload } from "../model/fleet.js";
import type { Concurrency } from "../plan/compile.js";
import { type AdmissionHost, admit, countHost, emptyCounts, nextOpening } from "../policy/admission.js";
import { seededRandom } from "../policy/random.js";
import { type HoldoverPool, isPlacement } from "./holdover-pool.js";
import type { Pressure } from "./pressure.js";

export interface ListHost {
  host: string;
  region: string;
  wave: number;
  order: number;
  durationMs: number;
  /** Failure domains as admission sees them (the inventory's and the planner's). */
  domains: Readonly<Record<string, string>>;
  /** Workloads to place on the region's hold-overs while the host is away (empty: none). */
  workloads: readonly Workload[];
}

export interface ListInput {
  hosts: readonly ListHost[];
  concurrency: Concurrency;
  stagger: { intervalMs: number; jitterMs: number };
  seed: number;
  pools: ReadonlyMap<string, HoldoverPool>;
  /** Region -> when its window opens, ms after the schedule's start (absent: at once). */
  opensAt?: Readonly<Record<string, number>>;
  /**
   * Most-constrained first: whenever hosts may start, the waiting hosts are ranked by their
   * pressure first (`order` is ignored). The start order is then a fixed order that plays forward
   * to the same schedule.
   */
  pressure?: Pressure;
}

export interface Started {
  host: string;
  startMs: number;
  endMs: number;
  holdovers: Record<string, string>;
}

export type ListResult = { ok: true; started: Started[] } | { ok: false; overfullRegion: string };

export function listSchedule(input: ListInput): ListResult {
  const rnd = seededRandom(input.seed);
  const staggered = input.stagger.intervalMs > 0 || input.stagger.jitterMs > 0;
  const maxWave = input.hosts.reduce((m, h) => Math.max(m, h.wave), 0);
  const byName = new Map(input.hosts.map((h) => [h.host, h]));
  const admission: AdmissionHost[] = input.hosts.map((h) => ({
    host: h.host,
    wave: h.wave,
    order: h.order,
    state: "pending",
    region: h.region,
    domains: h.domains,
  }));
  const admissionOf = new Map(admission.map((a) => [a.host, a]));
  const running: Started[] = [];
  const started: Started[] = [];
  let live = admission;
  // The running hosts as the caps count them, kept here as hosts start and end (admission adds
  // the hosts it starts), so admission does not count them again on every call.
  const counts = emptyCounts();
  let wave = 0;
  let now = 0;
  let nextStartAt = 0;
  while (live.length > 0) {
    for (;;) {
      if (input.pressure !== undefined) {
        const ranked = input.pressure.rank(
          live.filter((a) => a.state === "pending"),
          now,
        );
        for (let i = 0; i < ranked.length; i++) (ranked[i] as AdmissionHost).order = i;
      }
      const res = admit({
        hosts: live,
        maxWave,
        currentWave: wave,
        concurrency: input.concurrency,
        now,
        nextStartAt,
        staggered,
        counts,
        ...(input.opensAt !== undefined ? { opensAt: input.opensAt } : {}),
      });
      wave = res.currentWave;
      if (res.start.length === 0) break;
      // One call starts everything that fits now (the coordinator does the same): asked again at
      // once, admission would start nothing more. With a stagger it starts one host.
      for (const name of res.start) {
        const h = byName.get(name) as ListHost;
        let holdovers: Record<string, string> = {};
        if (h.workloads.length > 0) {
          const pool = input.pools.get(h.region);
          const placed = pool?.reserve(h.host, h.workloads);
          if (placed === undefined || !isPlacement(placed)) return { ok: false, overfullRegion: h.region };
          holdovers = placed.assignments;
        }
        const s: Started = { host: name, startMs: now, endMs: now + h.durationMs, holdovers };
        running.push(s);
        started.push(s);
        (admissionOf.get(name) as AdmissionHost).state = "running";
        input.pressure?.started(name, s.endMs);
      }
      if (!staggered) break;
      nextStartAt = now + input.stagger.intervalMs + Math.round(input.stagger.jitterMs * rnd.next());
    }
    const opening = nextOpening(input.opensAt, now);
    if (running.length === 0 && !(staggered && now < nextStartAt) && opening === undefined) {
      // Nothing runs and nothing can start: a cap of the plan blocks a host for ever.
      throw new Error("planner: admission started nothing with nothing running (a cap below 1?)");
    }
    let next = Number.POSITIVE_INFINITY;
    for (const r of running) next = Math.min(next, r.endMs);
    if (staggered && nextStartAt > now) next = Math.min(next, nextStartAt);
    if (opening !== undefined) next = Math.min(next, opening);
    now = next;
    for (let i = running.length - 1; i >= 0; i--) {
      const r = running[i] as Started;
      if (r.endMs > now) continue;
      running.splice(i, 1);
      const a = admissionOf.get(r.host) as AdmissionHost;
      a.state = "succeeded";
      countHost(counts, a, -1);
      input.pressure?.ended(r.host, r.endMs);
      input.pools.get(a.region)?.release(r.host);
    }
    live = live.filter((a) => a.state !== "succeeded");
  }
  return { ok: true, started };
}
