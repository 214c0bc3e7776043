/**
 * A synchronous discrete-event loop on virtual time: schedule callbacks at instants, then run
 * them in time order. For pure simulations (no promises, no macrotask settling) and for measuring
 * the event queue itself; the async `VirtualClock` adapter serves the engine instead.
 *
 * Invariants:
 * - Events run in (at, scheduling order), one at a time; `now` equals the running event's `at`
 *   and never goes backwards.
 * - Scheduling before `now` (or at NaN) throws a RangeError: a simulation that does it has a bug,
 *   and moving the event silently would hide it. Delays must be >= 0.
 * - A callback may schedule and cancel events (including at `now`: those run in the same run, after
 *   the events already due at `now`); it may not start a nested run (throws).
 * - A callback that throws stops the run: the exception propagates, that event counts as run,
 *   `now` stays at its time, and the rest stay queued, so the loop can be run again.
 * - Pure: no real clock, no timers, no I/O.
 */
import { EventQueue, type QueueEntry } from "./event-queue.js";

/** A scheduled event's callback; receives the loop's `now` (the event's time). */
export type EventFn = (now: number) => void;

export type EventHandle = QueueEntry<EventFn>;

export class EventLoop {
  private readonly queue = new EventQueue<EventFn>();
  private t: number;
  private running = false;
  private count = 0;

  constructor(start = 0) {
    if (!Number.isFinite(start)) throw new RangeError(`EventLoop: start must be finite, not ${start}`);
    this.t = start;
  }

  /** The current virtual time. */
  get now(): number {
    return this.t;
  }

  /** Events scheduled and not yet run or cancelled. */
  get pending(): number {
    return this.queue.size;
  }

  /** Events run since construction. */
  get fired(): number {
    return this.count;
  }

  /** Run `fn` at time `at` (>= now). */
  schedule(at: number, fn: EventFn): EventHandle {
    if (!(at >= this.t)) throw new RangeError(`EventLoop.schedule: ${at} is before now (${this.t})`);
    return this.queue.push(at, fn);
  }

  /** Run `fn` `delay` (>= 0) after now. */
  after(delay: number, fn: EventFn): EventHandle {
    if (!(delay >= 0)) throw new RangeError(`EventLoop.after: delay must be >= 0, not ${delay}`);
    return this.queue.push(this.t + delay, fn);
  }

  /** Cancel a scheduled event; false when it already ran or was cancelled. */
  cancel(handle: EventHandle): boolean {
    return this.queue.remove(handle);
  }

  /** Time of the next event, or undefined when none is pending. */
  nextAt(): number | undefined {
    return this.queue.peek()?.at;
  }

  /**
   * Run every event due at or before `t` (including ones they schedule), then advance `now` to `t`
   * if it is later and finite. Returns how many ran.
   */
  runUntil(t: number): number {
    if (Number.isNaN(t)) throw new RangeError("EventLoop.runUntil: t is NaN");
    const n = this.run(t);
    if (t > this.t && Number.isFinite(t)) this.t = t;
    return n;
  }

  /** Run events until none is pending; `now` ends at the last event's time. Returns how many ran. */
  runUntilEmpty(): number {
    return this.run(Number.POSITIVE_INFINITY);
  }

  private run(limit: number): number {
    if (this.running) throw new Error("EventLoop: run called from inside an event");
    this.running = true;
    const queue = this.queue;
    let n = 0;
    try {
      for (;;) {
        const next = queue.peek();
        if (next === undefined || next.at > limit) break;
        queue.pop();
        this.t = next.at;
        n++;
        this.count++;
        next.value(next.at);
      }
    } finally {
      this.running = false;
    }
    return n;
  }
}
