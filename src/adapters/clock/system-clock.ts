/**
 * The real clock and the seeded randomness used in production runs.
 * Invariant: `now()` never goes backwards within this process even if the wall clock is stepped
 * back (NTP after boot): it is anchored to the wall clock once and advanced by the monotonic clock.
 */
import { setTimeout as delay } from "node:timers/promises";
import { seededRandom } from "../../core/policy/random.js";
import type { Clock } from "../../ports/clock.js";
import type { Random } from "../../ports/random.js";

export function systemClock(): Clock {
  const anchorWall = Date.now();
  const anchorMono = performance.now();
  return {
    now: () => Math.floor(anchorWall + (performance.now() - anchorMono)),
    async sleep(ms: number, signal?: AbortSignal): Promise<void> {
      // Always through a timer, even for 0 ms: a caller looping on sleep(0) still yields to I/O.
      await delay(Math.max(0, ms), undefined, signal ? { signal } : {});
    },
  };
}

export function randomSource(seed: number): Random {
  return seededRandom(seed);
}
