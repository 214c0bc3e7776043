/** AbortFanout: one listener on the parent, children aborted in registration order with their reasons. */
import { describe, expect, it } from "vitest";
import { AbortFanout } from "./abort-fanout.js";

describe("AbortFanout", () => {
  it("aborts the registered children in order, with their own reason or the parent's", () => {
    const parent = new AbortController();
    let listeners = 0;
    const add = parent.signal.addEventListener.bind(parent.signal);
    parent.signal.addEventListener = (...args: Parameters<typeof add>) => {
      listeners++;
      add(...args);
    };
    const fan = new AbortFanout(parent.signal);
    const order: string[] = [];
    const child = (name: string) => {
      const c = new AbortController();
      c.signal.addEventListener("abort", () => order.push(name));
      return c;
    };
    const a = child("a");
    const b = child("b");
    const gone = child("gone");
    const c = child("c");
    fan.add(b, "own reason");
    fan.add(gone);
    fan.add(a);
    fan.add(c);
    fan.delete(gone);
    fan.delete(new AbortController()); // not registered: no-op
    expect(fan.size).toBe(3);
    parent.abort("stop");
    expect(order).toEqual(["b", "a", "c"]);
    expect(b.signal.reason).toBe("own reason");
    expect(a.signal.reason).toBe("stop");
    expect(gone.signal.aborted).toBe(false);
    expect(fan.size).toBe(0);
    expect(listeners).toBe(1);
  });

  it("never aborts a child added after the parent aborted (like a listener added too late)", () => {
    const parent = new AbortController();
    const fan = new AbortFanout(parent.signal);
    parent.abort();
    const late = new AbortController();
    fan.add(late);
    expect(late.signal.aborted).toBe(false);
    expect(fan.size).toBe(0);
  });
});
