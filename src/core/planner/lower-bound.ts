/**
 * A lower bound on the makespan of a set of host flows under waves, caps and stagger: no schedule
 * of these flows (with these durations and this wave assignment) can finish sooner.
 *
 * Invariants:
 * - Waves are barriers (a wave opens when the earlier ones are finished), so the bound is the sum
 *   over waves of each wave's own bound.
 * - A wave's bound is the largest of: its longest host flow; for every cap group (global, each
 *   region, each failure-domain value, each replicated group, each region's hold-over room) the
 *   work of the wave's hosts in that group divided by the group's cap; with a stagger interval,
 *   (hosts - 1) x interval plus the shortest flow. `binding` names the largest.
 */
import type { Concurrency } from "../plan/compile.js";
import { domainLabel } from "./domains.js";

export interface BoundHost {
  wave: number;
  region: string;
  durationMs: number;
  domains: Readonly<Record<string, string>>;
}

export interface WaveBound {
  wave: number;
  ms: number;
  /** What sets the bound: `longest flow`, `global cap 10`, `region r01 cap 1`, `rack r01-k01 cap 1`, `stagger 5s`. */
  binding: string;
}

export interface LowerBound {
  ms: number;
  waves: WaveBound[];
  /**
   * Set by the planner when a region's window opening sets the bound (it then exceeds the sum of
   * the waves): the region, its opening (offset from the start) and opening + its longest flow.
   */
  window?: { region: string; opensMs: number; ms: number };
}

export function lowerBound(
  hosts: readonly BoundHost[],
  concurrency: Concurrency,
  staggerIntervalMs: number,
): LowerBound {
  const byWave = new Map<number, BoundHost[]>();
  for (const h of hosts) {
    const list = byWave.get(h.wave) ?? [];
    list.push(h);
    byWave.set(h.wave, list);
  }
  const waves = [...byWave.keys()]
    .sort((a, b) => a - b)
    .map((w) => waveBound(w, byWave.get(w) ?? [], concurrency, staggerIntervalMs));
  return { ms: waves.reduce((a, w) => a + w.ms, 0), waves };
}

function waveBound(
  wave: number,
  hosts: readonly BoundHost[],
  concurrency: Concurrency,
  staggerIntervalMs: number,
): WaveBound {
  let best: WaveBound = { wave, ms: 0, binding: "longest flow" };
  const consider = (ms: number, binding: string) => {
    if (ms > best.ms) best = { wave, ms, binding };
  };
  let total = 0;
  let shortest = Number.POSITIVE_INFINITY;
  const groups = new Map<string, { label: string; cap: number; work: number }>();
  const addTo = (key: string, label: string, cap: number, d: number) => {
    const g = groups.get(key) ?? { label, cap, work: 0 };
    g.work += d;
    groups.set(key, g);
  };
  for (const h of hosts) {
    const d = h.durationMs;
    consider(d, "longest flow");
    total += d;
    shortest = Math.min(shortest, d);
    if (concurrency.perRegion !== undefined)
      addTo(`region\u0000${h.region}`, `region ${h.region}`, concurrency.perRegion, d);
    for (const [kind, value] of Object.entries(h.domains)) {
      const cap = concurrency.perDomainValue?.[kind]?.[value] ?? concurrency.perFailureDomain[kind];
      if (cap !== undefined) addTo(`${kind}\u0000${value}`, domainLabel(kind, value), cap, d);
    }
  }
  consider(total / concurrency.global, `global cap ${concurrency.global}`);
  for (const g of groups.values()) consider(g.work / g.cap, `${g.label} cap ${g.cap}`);
  if (staggerIntervalMs > 0 && hosts.length > 1)
    consider((hosts.length - 1) * staggerIntervalMs + shortest, `stagger ${staggerIntervalMs} ms`);
  return { ...best, ms: Math.ceil(best.ms) };
}
