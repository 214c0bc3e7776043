/**
 * The order hosts are offered to admission in, by policy.
 *
 * Invariants:
 * - A permutation of the input: every host exactly once. Ties break by name, so the order is
 *   deterministic.
 * - `balanced` (the default) is for the shortest makespan: the first wave (the canary) takes the
 *   shortest flows of the busiest region, so widening waits as little as possible; the rest go longest
 *   flow first, one region after another in turn (the busiest region first), so every region and
 *   every cap group has work from the start and no long flow is left for the end. With windows
 *   (`opensAt`, each region's opening) regions go by opening first, then by work: the canary comes
 *   from the region whose window opens first, since every later wave waits for it. This is the
 *   planner's first order; it then also plays most-constrained first (pressure.ts) and keeps
 *   whichever schedule is shorter.
 * - `rack`: rack by rack (region, rack, name): a rack is finished before the next one starts
 *   wherever the caps allow. `uptime`: longest uptime first (`overhaul_uptime_days`), the hosts
 *   most likely to fail on reboot go while there is the most time to deal with them.
 *   `inventory`: as the inventory lists them.
 */
export type OrderPolicy = "balanced" | "rack" | "uptime" | "inventory";

export const ORDER_POLICIES: readonly OrderPolicy[] = ["balanced", "rack", "uptime", "inventory"];

export interface OrderHost {
  host: string;
  region: string;
  rack: string;
  uptimeDays: number;
  durationMs: number;
}

const byName = (a: OrderHost, b: OrderHost) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0);

export function orderHosts<T extends OrderHost>(
  hosts: readonly T[],
  policy: OrderPolicy,
  canaries: number,
  opensAt?: Readonly<Record<string, number>>,
): T[] {
  switch (policy) {
    case "inventory":
      return [...hosts];
    case "rack":
      return [...hosts].sort((a, b) => cmp(a.region, b.region) || cmp(a.rack, b.rack) || byName(a, b));
    case "uptime":
      return [...hosts].sort((a, b) => b.uptimeDays - a.uptimeDays || byName(a, b));
    case "balanced":
      return balanced(hosts, canaries, opensAt ?? {});
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function balanced<T extends OrderHost>(
  hosts: readonly T[],
  canaries: number,
  opensAt: Readonly<Record<string, number>>,
): T[] {
  const queues = new Map<string, T[]>();
  for (const h of hosts) {
    const q = queues.get(h.region) ?? [];
    q.push(h);
    queues.set(h.region, q);
  }
  const work = (q: readonly T[]) => q.reduce((s, h) => s + h.durationMs, 0);
  const opens = (region: string) => opensAt[region] ?? 0;
  const earlier = (a: [string, readonly T[]], b: [string, readonly T[]]) =>
    opens(a[0]) - opens(b[0]) || work(b[1]) - work(a[1]) || cmp(a[0], b[0]);
  const busiest = [...queues.entries()].sort(earlier);
  // The canary comes from the busiest region, shortest flow first: that region's work has to be
  // done one way or another, while a canary from elsewhere would only delay it.
  const first: T[] = [];
  for (const [, q] of busiest) {
    for (const h of [...q].sort((a, b) => a.durationMs - b.durationMs || byName(a, b))) {
      if (first.length >= Math.min(canaries, hosts.length)) break;
      first.push(h);
    }
  }
  const taken = new Set(first);
  const rest = new Map<string, T[]>();
  for (const [region, q] of queues)
    rest.set(
      region,
      q.filter((h) => !taken.has(h)).sort((a, b) => b.durationMs - a.durationMs || byName(a, b)),
    );
  const regions = [...rest.entries()].sort(earlier);
  const out = [...first];
  for (let i = 0; out.length < hosts.length; i++)
    for (const [, q] of regions) {
      const h = q[i];
      if (h !== undefined) out.push(h);
    }
  return out;
}
