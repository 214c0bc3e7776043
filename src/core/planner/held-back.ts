/**
 * What held a region back in a schedule: the stretches after its window opened in which none of
 * its hosts ran while some still waited, and why each one waited — for the refusal of a window
 * too short, which must name the real cause (the canary of a region whose window opens later, an
 * earlier wave, other regions' hosts under the caps), not guess one.
 *
 * Invariants:
 * - Pure; reads only start and end times and waves, as the schedule has them.
 * - A stretch is split at the moment the waiting host's wave opened (when every host of the earlier
 *   waves had finished): before it the host waited for the wave barrier, after it for the caps (or
 *   the stagger). The two parts add up to the stretch; nothing is counted twice.
 * - The holder of a wave wait is the host of an earlier wave that finished last: always a host of
 *   another region (a region idle with a host waiting has none of its own still running).
 */

export interface TimedHost {
  host: string;
  region: string;
  wave: number;
  startMs: number;
  endMs: number;
}

export type Hold = (
  | {
      by: "wave";
      /** The host of an earlier wave that finished last: the wave opened when it ended. */
      holder: TimedHost;
    }
  | {
      by: "caps";
      /** Hosts running (all of other regions) when the wait began. */
      running: number;
    }
) & {
  fromMs: number;
  toMs: number;
  /** Before the region's first host started (from its window's opening). */
  first: boolean;
};

/**
 * The waits of `region`'s hosts from `fromMs` (its window's opening, or its first start): each
 * stretch with none of them running and one of them still to start, in time order.
 */
export function holdsOf(hosts: readonly TimedHost[], region: string, fromMs: number): Hold[] {
  const mine = hosts
    .filter((h) => h.region === region)
    .sort((a, b) => a.startMs - b.startMs || (a.host < b.host ? -1 : 1));
  const out: Hold[] = [];
  let idleFrom = fromMs;
  mine.forEach((h, i) => {
    const first = i === 0;
    if (h.startMs > idleFrom) {
      const holder = lastOfEarlierWaves(hosts, h.wave);
      const opened = holder === undefined ? Number.NEGATIVE_INFINITY : holder.endMs;
      if (holder !== undefined && opened > idleFrom)
        out.push({ by: "wave", fromMs: idleFrom, toMs: Math.min(opened, h.startMs), holder, first });
      const capsFrom = Math.max(idleFrom, opened);
      if (h.startMs > capsFrom)
        out.push({
          by: "caps",
          fromMs: capsFrom,
          toMs: h.startMs,
          running: runningAt(hosts, capsFrom),
          first,
        });
    }
    idleFrom = Math.max(idleFrom, h.endMs);
  });
  return out;
}

/** The host of a wave before `wave` that finished last (none for the first wave). */
function lastOfEarlierWaves(hosts: readonly TimedHost[], wave: number): TimedHost | undefined {
  let last: TimedHost | undefined;
  for (const h of hosts)
    if (
      h.wave < wave &&
      (last === undefined || h.endMs > last.endMs || (h.endMs === last.endMs && h.host < last.host))
    )
      last = h;
  return last;
}

function runningAt(hosts: readonly TimedHost[], at: number): number {
  return hosts.filter((h) => h.startMs <= at && h.endMs > at).length;
}
