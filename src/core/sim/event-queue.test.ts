/** Event queue: (at, seq) order with insertion-order ties, remove of live and dead handles, a model check. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventQueue, type QueueEntry } from "./event-queue.js";

function drain<T>(q: EventQueue<T>): QueueEntry<T>[] {
  const out: QueueEntry<T>[] = [];
  for (let e = q.pop(); e !== undefined; e = q.pop()) out.push(e);
  return out;
}

describe("event queue", () => {
  it("pops by time, ties in insertion order", () => {
    const q = new EventQueue<string>();
    for (const [at, v] of [
      [5, "a"],
      [1, "b"],
      [5, "c"],
      [3, "d"],
      [1, "e"],
      [5, "f"],
    ] as const)
      q.push(at, v);
    expect(q.size).toBe(6);
    expect(q.peek()?.value).toBe("b");
    expect(drain(q).map((e) => e.value)).toEqual(["b", "e", "d", "a", "c", "f"]);
    expect(q.size).toBe(0);
    expect(q.pop()).toBeUndefined();
    expect(q.peek()).toBeUndefined();
  });

  it("removes live entries from anywhere, and only live ones of its own", () => {
    const q = new EventQueue<number>();
    const hs = Array.from({ length: 20 }, (_, i) => q.push((i * 7) % 11, i));
    expect(q.remove(hs[0]!)).toBe(true);
    expect(q.remove(hs[0]!)).toBe(false);
    expect(q.remove(hs[13]!)).toBe(true);
    expect(q.has(hs[13]!)).toBe(false);
    expect(q.has(hs[5]!)).toBe(true);
    const popped = q.pop()!;
    expect(q.remove(popped)).toBe(false);
    const other = new EventQueue<number>();
    expect(other.remove(hs[4]!)).toBe(false);
    expect(other.has(hs[4]!)).toBe(false);
    expect(q.remove({ at: hs[4]!.at, seq: hs[4]!.seq, value: 4 })).toBe(false);
    expect(q.size).toBe(17);
    const rest = drain(q);
    expect(rest.map((e) => e.value)).not.toContain(0);
    expect(rest.map((e) => e.value)).not.toContain(13);
    expect(rest.map((e) => e.value)).not.toContain(popped.value);
  });

  it("rejects NaN times, accepts infinities", () => {
    const q = new EventQueue<string>();
    expect(() => q.push(Number.NaN, "x")).toThrow(RangeError);
    q.push(Number.POSITIVE_INFINITY, "never");
    q.push(Number.NEGATIVE_INFINITY, "first");
    q.push(0, "zero");
    expect(drain(q).map((e) => e.value)).toEqual(["first", "zero", "never"]);
  });

  it("clear drops everything and kills the handles", () => {
    const q = new EventQueue<number>();
    const h = q.push(1, 1);
    q.push(2, 2);
    q.clear();
    expect(q.size).toBe(0);
    expect(q.remove(h)).toBe(false);
    q.push(0, 3);
    expect(drain(q).map((e) => e.value)).toEqual([3]);
  });

  type Op = { kind: "push"; at: number } | { kind: "pop" } | { kind: "remove"; pick: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.integer({ min: 0, max: 20 }).map((at) => ({ kind: "push", at }) as const) },
    { weight: 2, arbitrary: fc.constant({ kind: "pop" } as const) },
    { weight: 2, arbitrary: fc.nat().map((pick) => ({ kind: "remove", pick }) as const) },
  );
  const byAtSeq = (a: QueueEntry<number>, b: QueueEntry<number>) => a.at - b.at || a.seq - b.seq;

  it("matches a sorted-list model under any mix of push, pop and remove", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const q = new EventQueue<number>();
        let live: QueueEntry<number>[] = [];
        const dead: QueueEntry<number>[] = [];
        let n = 0;
        for (const o of ops) {
          if (o.kind === "push") {
            live.push(q.push(o.at, n++));
          } else if (o.kind === "pop") {
            live.sort(byAtSeq);
            const want = live.shift();
            const got = q.pop();
            expect(got).toBe(want);
            if (got) dead.push(got);
          } else if (live.length > 0) {
            const h = live[o.pick % live.length]!;
            expect(q.remove(h)).toBe(true);
            live = live.filter((x) => x !== h);
            dead.push(h);
          } else if (dead.length > 0) {
            expect(q.remove(dead[o.pick % dead.length]!)).toBe(false);
          }
          expect(q.size).toBe(live.length);
          expect(q.peek()).toBe([...live].sort(byAtSeq)[0]);
        }
        const out = drain(q);
        expect(out).toEqual([...live].sort(byAtSeq));
        for (let i = 1; i < out.length; i++) expect(byAtSeq(out[i - 1]!, out[i]!)).toBeLessThan(0);
      }),
      { numRuns: 300 },
    );
  });

  it("pops any pushed sequence sorted by (at, seq)", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true }), { maxLength: 500 }), (ats) => {
        const q = new EventQueue<number>();
        for (const [i, at] of ats.entries()) q.push(at, i);
        const out = drain(q);
        expect(out.map((e) => e.value)).toEqual(
          ats
            .map((at, i) => ({ at, i }))
            .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.i - b.i))
            .map((x) => x.i),
        );
      }),
    );
  });
});
