/**
 * A priority queue of timed entries (binary min-heap) for discrete-event simulation and virtual
 * clocks. Why a heap: with thousands of simulated hosts the pending set holds thousands of timers,
 * and sorting it on every firing costs O(n log n) per event; here push, pop and remove are
 * O(log n) and peek is O(1).
 *
 * Invariants:
 * - Entries come out ordered by (at, seq); `seq` is this queue's insertion counter, so entries
 *   with the same `at` come out in insertion order (ties are deterministic, never arbitrary).
 * - A handle is live from its `push` until it is popped or removed; `remove` of a handle that is
 *   not live in this queue (already popped, removed, or from another queue) is a no-op returning
 *   false, never a corruption.
 * - `at` must not be NaN (it would break the order); the queue does not know about "now", so
 *   whether an entry lies in the past is the caller's business (see event-loop.ts).
 * - Pure: no clock, no I/O, no `node:*`.
 */

/** A pushed entry: what `push` returns and `pop`/`peek` give back. Treat as opaque for `remove`. */
export interface QueueEntry<T> {
  readonly at: number;
  readonly seq: number;
  readonly value: T;
}

class Entry<T> implements QueueEntry<T> {
  constructor(
    readonly at: number,
    readonly seq: number,
    readonly value: T,
    /** Position in the heap array; -1 once popped or removed. */
    public pos: number,
  ) {}
}

/** True when `a` comes out before `b`. */
function before<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export class EventQueue<T> {
  private heap: Entry<T>[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Add an entry due at `at`; the returned handle can be passed to `remove`. */
  push(at: number, value: T): QueueEntry<T> {
    if (Number.isNaN(at)) throw new RangeError("EventQueue.push: `at` is NaN");
    const e = new Entry(at, this.nextSeq++, value, this.heap.length);
    this.heap.push(e);
    this.up(e.pos);
    return e;
  }

  /** The first entry in (at, seq) order, left in the queue; undefined when empty. */
  peek(): QueueEntry<T> | undefined {
    return this.heap[0];
  }

  /** Remove and return the first entry in (at, seq) order; undefined when empty. */
  pop(): QueueEntry<T> | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return undefined;
    const last = heap.pop() as Entry<T>;
    if (last !== top) {
      heap[0] = last;
      last.pos = 0;
      this.down(0);
    }
    top.pos = -1;
    return top;
  }

  /** True while `handle` is in this queue (pushed here, not yet popped or removed). */
  has(handle: QueueEntry<T>): boolean {
    return handle instanceof Entry && handle.pos >= 0 && this.heap[handle.pos] === handle;
  }

  /** Take `handle` out of the queue (a cancelled timer). False when it was not live here. */
  remove(handle: QueueEntry<T>): boolean {
    if (!this.has(handle)) return false;
    const e = handle as Entry<T>;
    const heap = this.heap;
    const i = e.pos;
    const last = heap.pop() as Entry<T>;
    e.pos = -1;
    if (last !== e) {
      heap[i] = last;
      last.pos = i;
      // The moved entry may belong above or below position i; at most one of these moves it.
      this.up(i);
      if (last.pos === i) this.down(i);
    }
    return true;
  }

  /** Drop every entry (their handles stop being live). */
  clear(): void {
    for (const e of this.heap) e.pos = -1;
    this.heap = [];
  }

  private up(i: number): void {
    const heap = this.heap;
    const e = heap[i] as Entry<T>;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p] as Entry<T>;
      if (!before(e, parent)) break;
      heap[i] = parent;
      parent.pos = i;
      i = p;
    }
    heap[i] = e;
    e.pos = i;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const e = heap[i] as Entry<T>;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let c = l;
      let child = heap[l] as Entry<T>;
      const r = l + 1;
      if (r < n) {
        const right = heap[r] as Entry<T>;
        if (before(right, child)) {
          c = r;
          child = right;
        }
      }
      if (!before(child, e)) break;
      heap[i] = child;
      child.pos = i;
      i = c;
    }
    heap[i] = e;
    e.pos = i;
  }
}
