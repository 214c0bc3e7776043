/**
 * Most-constrained first: which waiting host the planner should start next, by how much time the
 * cap groups it belongs to still need at the least.
 *
 * For every cap group (each region with a per-region cap, each failure-domain value with a cap:
 * rack, power circuit, replicated group, a region's hold-over room) the time it still needs is at
 * least (work not yet started + what its running hosts still have to run) / its cap. A host's
 * pressure is the largest of those over its groups, and its own flow; hosts with more pressure go
 * first (ties: longer flow, then the order given). The global cap is left out: it is the same for
 * every host, so it ranks nothing.
 *
 * Invariants:
 * - Pure and deterministic: the same calls give the same ranks.
 * - Only ranks: which hosts may start (waves, caps, windows) is still admission's decision, so a
 *   schedule played with these ranks is as valid as any other; its start order, given to admission
 *   as a fixed order, plays forward to the same schedule (admission starts every host that fits,
 *   in order).
 */
import type { Concurrency } from "../plan/compile.js";

export interface PressureHost {
  host: string;
  region: string;
  wave: number;
  durationMs: number;
  domains: Readonly<Record<string, string>>;
}

interface Group {
  cap: number;
  /** Work of the group's hosts that have not started. */
  waiting: number;
  /** Sum of the end times of the group's running hosts, and how many run. */
  endSum: number;
  running: number;
}

export class Pressure {
  private readonly groups = new Map<string, Group>();
  private readonly members = new Map<string, { h: PressureHost; groups: Group[] }>();

  constructor(hosts: readonly PressureHost[], concurrency: Concurrency) {
    for (const h of hosts) {
      const mine: Group[] = [];
      const join = (key: string, cap: number) => {
        let g = this.groups.get(key);
        if (g === undefined) {
          g = { cap, waiting: 0, endSum: 0, running: 0 };
          this.groups.set(key, g);
        }
        g.waiting += h.durationMs;
        mine.push(g);
      };
      if (concurrency.perRegion !== undefined) join(`region\u0000${h.region}`, concurrency.perRegion);
      for (const kind in h.domains) {
        const value = h.domains[kind] as string;
        const cap = concurrency.perDomainValue?.[kind]?.[value] ?? concurrency.perFailureDomain[kind];
        if (cap !== undefined) join(`${kind}\u0000${value}`, cap);
      }
      this.members.set(h.host, { h, groups: mine });
    }
  }

  /** The least time (ms from `now`) the host's busiest group, or its own flow, still needs. */
  pressureOf(host: string, now: number): number {
    const x = this.members.get(host);
    if (x === undefined) return 0;
    let p = x.h.durationMs;
    for (const g of x.groups) {
      const need = (g.waiting + g.endSum - g.running * now) / g.cap;
      if (need > p) p = need;
    }
    return p;
  }

  /** `hosts` ranked: most pressure first, then longer flow, then as given. */
  rank<T extends { host: string }>(hosts: readonly T[], now: number): T[] {
    const keyed = hosts.map((h, i) => ({
      h,
      i,
      p: this.pressureOf(h.host, now),
      d: this.members.get(h.host)?.h.durationMs ?? 0,
    }));
    keyed.sort((a, b) => b.p - a.p || b.d - a.d || a.i - b.i);
    return keyed.map((k) => k.h);
  }

  started(host: string, endMs: number): void {
    const x = this.members.get(host);
    if (x === undefined) return;
    for (const g of x.groups) {
      g.waiting -= x.h.durationMs;
      g.endSum += endMs;
      g.running++;
    }
  }

  ended(host: string, endMs: number): void {
    const x = this.members.get(host);
    if (x === undefined) return;
    for (const g of x.groups) {
      g.endSum -= endMs;
      g.running--;
    }
  }
}
