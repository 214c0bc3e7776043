/**
 * The real clock and the seeded randomness used in production runs.
 * Invariant: `now()` never goes backwards within this process even if the wall clock is stepped
 * back (NTP after boot): it is anchored to the wall clock once and advanced by the monotonic clock.
 * `sleep` waits the whole time however long it is: a Node timer holds at most 2^31-1 ms (~24.8
 * days) and fires after 1 ms when asked for more, so a longer sleep (or `timer`) is a chain of
 * timers.
 */
import { setTimeout as delay } from "node:timers/promises";
import { seededRandom } from "../../core/policy/random.js";
import type { Clock } from "../../ports/clock.js";
import type { Random } from "../../ports/random.js";

/** The longest delay one Node timer holds (2^31-1 ms); a longer one would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

export function systemClock(): Clock {
  const anchorWall = Date.now();
  const anchorMono = performance.now();
  return {
    now: () => Math.floor(anchorWall + (performance.now() - anchorMono)),
    async sleep(ms: number, signal?: AbortSignal): Promise<void> {
      // Always through a timer, even for 0 ms: a caller looping on sleep(0) still yields to I/O.
      let left = Math.max(0, ms);
      do {
        const part = Math.min(left, MAX_TIMER_MS);
        await delay(part, undefined, signal ? { signal } : {});
        left -= part;
      } while (left > 0);
    },
    timer(ms: number, fire: () => void): () => void {
      let left = Math.max(0, ms);
      let handle: NodeJS.Timeout;
      const step = () => {
        const part = Math.min(left, MAX_TIMER_MS);
        left -= part;
        handle = setTimeout(left > 0 ? step : fire, part);
      };
      step();
      return () => clearTimeout(handle);
    },
  };
}

export function randomSource(seed: number): Random {
  return seededRandom(seed);
}
