/** Event loop: time order with stable ties, events scheduling and cancelling events, runUntil, errors. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventLoop } from "./event-loop.js";

describe("event loop", () => {
  it("runs events in (time, scheduling order) and moves now with them", () => {
    const loop = new EventLoop(100);
    const seen: string[] = [];
    const log = (name: string) => (now: number) => seen.push(`${name}@${now}`);
    loop.schedule(130, log("c"));
    loop.schedule(110, log("a"));
    loop.after(30, log("d"));
    loop.after(10, log("b"));
    expect(loop.pending).toBe(4);
    expect(loop.nextAt()).toBe(110);
    expect(loop.runUntilEmpty()).toBe(4);
    expect(seen).toEqual(["a@110", "b@110", "c@130", "d@130"]);
    expect(loop.now).toBe(130);
    expect(loop.fired).toBe(4);
    expect(loop.nextAt()).toBeUndefined();
  });

  it("lets events schedule and cancel events, also at now", () => {
    const loop = new EventLoop();
    const seen: string[] = [];
    const late = loop.schedule(50, () => seen.push("late"));
    loop.schedule(10, (now) => {
      seen.push("first");
      loop.schedule(now, () => seen.push("same instant, after the others due now"));
      loop.after(5, () => seen.push("later"));
      expect(loop.cancel(late)).toBe(true);
    });
    loop.schedule(10, () => seen.push("second"));
    loop.runUntilEmpty();
    expect(seen).toEqual(["first", "second", "same instant, after the others due now", "later"]);
    expect(loop.now).toBe(15);
    expect(loop.cancel(late)).toBe(false);
  });

  it("runUntil runs what is due, then advances now to t", () => {
    const loop = new EventLoop();
    const seen: number[] = [];
    for (const at of [5, 10, 15, 20]) loop.schedule(at, (now) => seen.push(now));
    expect(loop.runUntil(10)).toBe(2);
    expect(seen).toEqual([5, 10]);
    expect(loop.runUntil(12)).toBe(0);
    expect(loop.now).toBe(12);
    expect(() => loop.schedule(11, () => undefined)).toThrow(RangeError);
    expect(loop.runUntil(Number.POSITIVE_INFINITY)).toBe(2);
    expect(loop.now).toBe(20);
    expect(loop.runUntil(3)).toBe(0);
    expect(loop.now).toBe(20);
  });

  it("rejects bad times and nested runs", () => {
    const loop = new EventLoop(10);
    expect(() => loop.schedule(9, () => undefined)).toThrow(RangeError);
    expect(() => loop.schedule(Number.NaN, () => undefined)).toThrow(RangeError);
    expect(() => loop.after(-1, () => undefined)).toThrow(RangeError);
    expect(() => loop.after(Number.NaN, () => undefined)).toThrow(RangeError);
    expect(() => loop.runUntil(Number.NaN)).toThrow(RangeError);
    expect(() => new EventLoop(Number.NaN)).toThrow(RangeError);
    loop.after(1, () => loop.runUntilEmpty());
    expect(() => loop.runUntilEmpty()).toThrow(/inside an event/);
  });

  it("a throwing event stops the run; the rest stay queued", () => {
    const loop = new EventLoop();
    const seen: number[] = [];
    loop.schedule(1, () => seen.push(1));
    loop.schedule(2, () => {
      throw new Error("boom");
    });
    loop.schedule(3, () => seen.push(3));
    expect(() => loop.runUntilEmpty()).toThrow("boom");
    expect(loop.now).toBe(2);
    expect(loop.pending).toBe(1);
    expect(loop.runUntilEmpty()).toBe(1);
    expect(seen).toEqual([1, 3]);
  });

  it("self-rescheduling chains interleave by time, ties by scheduling order", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 8 }), { maxLength: 10 }),
        (chains) => {
          const loop = new EventLoop();
          const fired: { at: number; chain: number }[] = [];
          chains.forEach((delays, chain) => {
            const next = (i: number) => {
              const d = delays[i];
              if (d === undefined) return;
              loop.after(d, (now) => {
                fired.push({ at: now, chain });
                next(i + 1);
              });
            };
            next(0);
          });
          loop.runUntilEmpty();
          expect(fired).toHaveLength(chains.reduce((n, c) => n + c.length, 0));
          for (let i = 1; i < fired.length; i++)
            expect(fired[i]!.at).toBeGreaterThanOrEqual(fired[i - 1]!.at);
        },
      ),
    );
  });
});
