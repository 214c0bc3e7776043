/**
 * A virtual clock for tests and simulations: time stands still until every sleeper is waiting,
 * then jumps to the earliest timer. Ten hours of maintenance take milliseconds, reproducibly.
 *
 * Invariants:
 * - Timers fire in (time, creation order); `now()` never goes backwards.
 * - Time advances only when the process is otherwise idle (checked over several macrotask turns,
 *   `quietTurns`), so work triggered by one timer runs before the next timer fires. All timers due
 *   at the new time resolve together, in creation order.
 * - `quietTurns: 0` is for a world whose every wait is on this clock, a promise chain, or a
 *   `track`ed call (the simulator: its ports sleep on the clock, its store calls are tracked). A
 *   macrotask turn runs only once the microtask queue is empty, so at the first turn with nothing
 *   tracked in flight, everything the fired timers set going has run or is waiting on this clock:
 *   time moves then, one turn per jump instead of five. Work in macrotasks the clock cannot see
 *   (untracked real I/O, `setImmediate` chains) needs the default.
 * - With `quietTurns: 0`, no pacer and nothing tracked in flight, a jump does not even wait for a
 *   macrotask turn: it waits for the microtask queue to be empty (a microtask that queues a
 *   `process.nextTick`: Node runs that tick only after the microtask queue has drained, including
 *   what was queued meanwhile), which is the same condition without a pass through the event
 *   loop's phases. A tracked call in flight (a store write waiting for its group commit, which
 *   runs in a macrotask) makes the clock wait in macrotask turns, as before. Every
 *   `MICROTASK_JUMPS` jumps the clock still takes one macrotask turn, so I/O, signals and real
 *   timers (progress output, Ctrl-C) are never starved by a long simulation.
 * - A `timer`'s `fire` is called inside the jump, in its place among the timers due then (a sleep's
 *   continuation runs after the jump, as a microtask); cancelling it removes it at once.
 * - Aborting a sleep removes its timer at once (it no longer counts in `pending` and never fires).
 *   A signal gets one abort listener from this clock, however many sleeps use it: on abort, its
 *   pending sleeps reject in creation order (at the place of that one listener among the signal's
 *   other listeners); a sleep that fired is simply forgotten (no listener to remove).
 * - Work the clock cannot see (a database call on real I/O) can be `track`ed: while any tracked
 *   promise is pending, time does not advance, however many turns go by.
 * - With a pacer (`pace`), each jump first waits the real time the pacer asks for (the demo's
 *   compressed time); without one, jumps are immediate. Pacing never changes the order of events.
 * - Pending timers live in a binary heap (core/sim/event-queue.ts): O(log n) per sleep, firing
 *   and abort, so thousands of simulated hosts do not pay for a sort on every firing.
 */
import { EventQueue, type QueueEntry } from "../../core/sim/event-queue.js";
import type { Clock } from "../../ports/clock.js";

/** Jumps in a row that wait on the microtask queue only, before one macrotask turn (see the header). */
const MICROTASK_JUMPS = 256;

/** A settled promise: a reaction to it is queued as a microtask at once (see `settle`). */
const SETTLED = Promise.resolve();

/** A pending sleep that has a signal: its timer, and how to reject it on abort. */
interface Sleeper {
  readonly timer: QueueEntry<() => void>;
  readonly reject: (reason: unknown) => void;
}

export class VirtualClock implements Clock {
  private t: number;
  /** Pending timers; the value resolves the sleep. Ties in time fire in creation order (the queue's seq). */
  private readonly timers = new EventQueue<() => void>();
  /** Pending sleeps per abort signal (see `sleepersOf`). */
  private readonly bySignal = new WeakMap<AbortSignal, Set<Sleeper>>();
  private scheduled = false;
  private activity = 0;
  private pacer: ((virtualMs: number) => number) | undefined;
  /** Virtual time already paid for in real time (so a re-settled jump is not paced twice). */
  private pacedTo = Number.NEGATIVE_INFINITY;
  private busy = 0;
  /** Macrotask turns with no new activity needed before time moves (see the header). */
  private readonly quietTurns: number;
  /** Jumps since the last macrotask turn (see MICROTASK_JUMPS). */
  private microJumps = 0;
  /** The arguments of the pending look at the world (`settle`). */
  private lookSeen = 0;
  private lookQuiet = 0;

  constructor(start = Date.UTC(2026, 0, 1), options: { quietTurns?: number } = {}) {
    this.t = start;
    const q = options.quietTurns ?? 3;
    if (!Number.isInteger(q) || q < 0)
      throw new RangeError(`VirtualClock: quietTurns must be a whole number >= 0, got ${q}`);
    this.quietTurns = q;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.activity++;
    return new Promise<void>((resolve, reject) => {
      const at = this.t + Math.max(0, ms);
      if (signal === undefined) {
        this.timers.push(at, resolve);
      } else {
        const sleepers = this.sleepersOf(signal);
        const sleeper: Sleeper = {
          timer: this.timers.push(at, () => {
            sleepers.delete(sleeper);
            resolve();
          }),
          reject,
        };
        sleepers.add(sleeper);
      }
      this.schedule();
    });
  }

  timer(ms: number, fire: () => void): () => void {
    this.activity++;
    const entry = this.timers.push(this.t + Math.max(0, ms), fire);
    this.schedule();
    return () => {
      this.timers.remove(entry);
    };
  }

  /**
   * The pending sleeps on `signal`. One abort listener per signal, not one per sleep: a signal
   * that many sleeps use in turn (a coordinator's, a move's) would otherwise add and remove a
   * listener on every sleep, which costs more than the sleep itself.
   */
  private sleepersOf(signal: AbortSignal): Set<Sleeper> {
    let sleepers = this.bySignal.get(signal);
    if (sleepers === undefined) {
      const mine = new Set<Sleeper>();
      sleepers = mine;
      this.bySignal.set(signal, mine);
      signal.addEventListener(
        "abort",
        () => {
          // In creation order, like one listener per sleep registered in that order.
          for (const s of mine) {
            this.timers.remove(s.timer);
            s.reject(signal.reason);
          }
          mine.clear();
        },
        { once: true },
      );
    }
    return sleepers;
  }

  /** Hold time still until `p` settles (e.g. a store call the engine is waiting on). */
  track<T>(p: Promise<T>): Promise<T> {
    this.busy++;
    this.activity++;
    return p.finally(() => {
      this.busy--;
      this.activity++;
    });
  }

  /** Slow time down: before jumping `virtualMs` ahead, wait the real milliseconds `pacer` returns. */
  pace(pacer: ((virtualMs: number) => number) | undefined): void {
    this.pacer = pacer;
  }

  /** Number of pending timers (for tests). */
  get pending(): number {
    return this.timers.size;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.settle(this.activity, 0);
  }

  /** Wait until nothing new happened for a few macrotask turns, then fire the earliest timer. */
  private settle(seen: number, quiet: number): void {
    // One look is pending at a time (`scheduled`), so its arguments can wait in fields and the
    // callbacks below are made once, not per jump.
    this.lookSeen = seen;
    this.lookQuiet = quiet;
    if (
      this.quietTurns === 0 &&
      this.busy === 0 &&
      this.pacer === undefined &&
      this.microJumps < MICROTASK_JUMPS
    ) {
      this.microJumps++;
      // Runs once the microtask queue is empty (see the header), then exactly as below. A reaction
      // to a settled promise is a plain microtask, like `queueMicrotask`'s, without the async
      // resource Node makes for each of those.
      SETTLED.then(this.tickAfterMicrotasks);
      return;
    }
    this.microJumps = 0;
    setImmediate(this.look);
  }

  private readonly tickAfterMicrotasks = (): void => {
    process.nextTick(this.look);
  };

  private readonly look = (): void => {
    this.settled(this.lookSeen, this.lookQuiet);
  };

  /** The settled world: move time on, or look again (something is in flight or still changing). */
  private settled(seen: number, quiet: number): void {
    if (this.busy > 0) {
      this.settle(this.activity, 0);
      return;
    }
    if (this.quietTurns > 0) {
      if (this.activity !== seen) {
        this.settle(this.activity, 0);
        return;
      }
      if (quiet < this.quietTurns) {
        this.settle(seen, quiet + 1);
        return;
      }
    }
    const first = this.timers.peek();
    let wait = 0;
    if (this.pacer && first && first.at > this.pacedTo) {
      wait = this.pacer(first.at - Math.max(this.t, this.pacedTo));
      this.pacedTo = first.at;
    }
    if (wait > 0) {
      // A real wait; then settle again (something may have happened meanwhile), without pacing twice.
      setTimeout(() => {
        if (this.activity !== seen || this.busy > 0) return this.settle(this.activity, 0);
        this.scheduled = false;
        this.fire();
      }, wait);
      return;
    }
    this.scheduled = false;
    this.fire();
  }

  /** Jump to the earliest timer's time and resolve every timer due then, in (time, creation) order. */
  private fire(): void {
    const first = this.timers.peek();
    if (first === undefined) return;
    this.t = Math.max(this.t, first.at);
    let next: QueueEntry<() => void> | undefined = first;
    while (next !== undefined && next.at <= this.t) {
      this.timers.pop();
      next.value();
      next = this.timers.peek();
    }
    this.activity++;
    if (this.timers.size > 0) this.schedule();
  }
}
