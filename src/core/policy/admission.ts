/**
 * Admission: which pending hosts may start now, under waves, concurrency caps and stagger.
 *
 * Invariants:
 * - Caps hold at every level at once: global, per region, per failure domain kind (rack, power...),
 *   and per failure-domain value where `perDomainValue` names one (a schedule's replicated-group
 *   and hold-over caps, see core/planner); a value's own cap replaces its kind's.
 *   A host counts against the caps while it is running or reverting.
 * - Only hosts of the current wave start; the next wave opens only when every host of the earlier
 *   waves is terminal (canary first).
 * - Hosts start in their `order`; a host blocked by a cap does not block a later host that fits
 *   (so a full rack does not stall other racks).
 * - With a stagger interval, at most one host starts per call and never before `nextStartAt`.
 * - Windows: a host of a region with an entry in `opensAt` never starts while `now` is before it
 *   (its region's maintenance window has not opened); it is skipped like a host blocked by a cap,
 *   so it blocks no other region. Regions without an entry, and calls without `opensAt`, are
 *   unaffected. `waiting` is "window" when nothing started and a window held a candidate back.
 * - Terminal hosts change nothing but the highest wave: a caller may leave them out of `hosts` if
 *   it gives `maxWave` (the result is the same).
 * - `hosts` may come in any order; candidates are taken by `order`, ties in the order given (a
 *   stable sort, skipped when they already come sorted). One pass, no key strings per host: the
 *   coordinator calls this with every unfinished host of the run after each change of its view.
 * - A caller that calls this after every start and end (the planner plays thousands of them per
 *   schedule) may keep the active hosts' counts itself (`counts`, `countHost`); the answer is the
 *   same as when admission counts `hosts`.
 */
import { ACTIVE_HOST_STATES, type HostState, isTerminalHost } from "../flow/states.js";
import type { Concurrency } from "../plan/compile.js";

export interface AdmissionHost {
  host: string;
  wave: number;
  order: number;
  state: HostState;
  region: string;
  domains: Readonly<Record<string, string>>;
}

export interface AdmissionInput {
  hosts: readonly AdmissionHost[];
  /** The highest wave of the run; default: the highest wave among `hosts`. */
  maxWave?: number;
  currentWave: number;
  concurrency: Concurrency;
  now: number;
  /** Earliest time the next host may start (stagger). */
  nextStartAt: number;
  staggered: boolean;
  /** Region -> when its window opens (same time base as `now`); its hosts do not start before. */
  opensAt?: Readonly<Record<string, number>>;
  /**
   * The active hosts of `hosts` already counted, kept by the caller (`countHost` on every host
   * that becomes or stops being active): admission then does not count them again, and adds the
   * hosts it starts to these counts (the caller makes them active). Without it admission counts
   * `hosts` itself; the answer is the same.
   */
  counts?: ActiveCounts;
}

export interface AdmissionResult {
  /** The wave in force after this call (may have advanced). */
  currentWave: number;
  start: string[];
  /** Why nothing (more) could start, for progress displays. */
  waiting?: "wave" | "caps" | "window" | "stagger" | "done";
}

/** Hosts counted per failure domain: kind -> value -> count (no key strings built per host). */
type DomainCounts = Map<string, Map<string, number>>;

/** The active hosts as the caps count them: in all, per region, per failure-domain value. */
export interface ActiveCounts {
  active: number;
  perRegion: Map<string, number>;
  perDomain: DomainCounts;
}

export function emptyCounts(): ActiveCounts {
  return { active: 0, perRegion: new Map(), perDomain: new Map() };
}

/** Count `h` in (`by` 1: it became active) or out (`by` -1: it stopped being active). */
export function countHost(c: ActiveCounts, h: Pick<AdmissionHost, "region" | "domains">, by: 1 | -1): void {
  c.active += by;
  c.perRegion.set(h.region, (c.perRegion.get(h.region) ?? 0) + by);
  for (const kind in h.domains) {
    const value = h.domains[kind] as string;
    let byValue = c.perDomain.get(kind);
    if (byValue === undefined) {
      byValue = new Map();
      c.perDomain.set(kind, byValue);
    }
    byValue.set(value, (byValue.get(value) ?? 0) + by);
  }
}

/** The earliest window opening after `now` among `opensAt` (undefined: none left to wait for). */
export function nextOpening(
  opensAt: Readonly<Record<string, number>> | undefined,
  now: number,
): number | undefined {
  let next: number | undefined;
  for (const region in opensAt) {
    const at = opensAt[region] as number;
    if (at > now && (next === undefined || at < next)) next = at;
  }
  return next;
}

export function admit(input: AdmissionInput): AdmissionResult {
  const { hosts, concurrency } = input;
  let wave = input.currentWave;
  // Advance past waves whose hosts are all terminal.
  const maxWave = input.maxWave ?? hosts.reduce((m, h) => Math.max(m, h.wave), 0);
  while (wave < maxWave && hosts.every((h) => h.wave > wave || isTerminalHost(h.state))) wave++;

  const given = input.counts;
  const counts = given ?? emptyCounts();
  const { perRegion, perDomain } = counts;
  const candidates: AdmissionHost[] = [];
  let sorted = true;
  for (const h of hosts) {
    if (h.state === "pending") {
      if (h.wave <= wave) {
        const last = candidates[candidates.length - 1];
        if (last !== undefined && last.order > h.order) sorted = false;
        candidates.push(h);
      }
      continue;
    }
    if (given === undefined && ACTIVE_HOST_STATES.includes(h.state)) countHost(counts, h, 1);
  }
  // Stable sort, skipped when the hosts already come in order (the coordinator's usually do).
  if (!sorted) candidates.sort((a, b) => a.order - b.order);
  if (candidates.length === 0) {
    const done = hosts.every((h) => isTerminalHost(h.state));
    return { currentWave: wave, start: [], waiting: done ? "done" : "wave" };
  }
  if (input.staggered && input.now < input.nextStartAt)
    return { currentWave: wave, start: [], waiting: "stagger" };

  const start: string[] = [];
  const opensAt = input.opensAt;
  let held = false;
  for (const h of candidates) {
    if (counts.active >= concurrency.global) break;
    if (opensAt !== undefined && input.now < (opensAt[h.region] ?? Number.NEGATIVE_INFINITY)) {
      held = true;
      continue;
    }
    if (concurrency.perRegion !== undefined && (perRegion.get(h.region) ?? 0) >= concurrency.perRegion)
      continue;
    let blocked = false;
    // A cap for the host's own value of a kind (the planner's) wins over the kind's cap.
    for (const kind in h.domains) {
      const value = h.domains[kind] as string;
      const cap = concurrency.perDomainValue?.[kind]?.[value] ?? concurrency.perFailureDomain[kind];
      if (cap !== undefined && (perDomain.get(kind)?.get(value) ?? 0) >= cap) {
        blocked = true;
        break;
      }
    }
    if (blocked) continue;
    start.push(h.host);
    countHost(counts, h, 1);
    if (input.staggered) break;
  }
  if (start.length > 0) return { currentWave: wave, start };
  return { currentWave: wave, start, waiting: held ? "window" : "caps" };
}
