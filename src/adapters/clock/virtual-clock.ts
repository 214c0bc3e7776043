/**
 * A virtual clock for tests and simulations: time stands still until every sleeper is waiting,
 * then jumps to the earliest timer. Ten hours of maintenance take milliseconds, reproducibly.
 *
 * Invariants:
 * - Timers fire in (time, creation order); `now()` never goes backwards.
 * - Time advances only when the process is otherwise idle (checked over several macrotask turns),
 *   so work triggered by one timer runs before the next timer fires.
 */
import type { Clock } from "../../ports/clock.js";

interface Timer {
  at: number;
  id: number;
  resolve: () => void;
}

export class VirtualClock implements Clock {
  private t: number;
  private timers: Timer[] = [];
  private ids = 0;
  private scheduled = false;
  private activity = 0;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.activity++;
    return new Promise<void>((resolve, reject) => {
      const timer: Timer = { at: this.t + Math.max(0, ms), id: this.ids++, resolve };
      const onAbort = () => {
        this.timers = this.timers.filter((x) => x !== timer);
        reject(signal?.reason);
      };
      timer.resolve = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.timers.push(timer);
      this.schedule();
    });
  }

  /** Number of pending timers (for tests). */
  get pending(): number {
    return this.timers.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.settle(this.activity, 0);
  }

  /** Wait until nothing new happened for a few macrotask turns, then fire the earliest timer. */
  private settle(seen: number, quiet: number): void {
    setImmediate(() => {
      if (this.activity !== seen) return this.settle(this.activity, 0);
      if (quiet < 3) return this.settle(seen, quiet + 1);
      this.scheduled = false;
      this.fire();
    });
  }

  private fire(): void {
    if (this.timers.length === 0) return;
    this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
    const first = this.timers[0] as Timer;
    this.t = Math.max(this.t, first.at);
    const due = this.timers.filter((x) => x.at <= this.t);
    this.timers = this.timers.filter((x) => x.at > this.t);
    for (const d of due) d.resolve();
    this.activity++;
    if (this.timers.length > 0) this.schedule();
  }
}
