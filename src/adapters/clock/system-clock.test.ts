/** systemClock: `timer` fires on real time, and never after its `cancel`. */
import { describe, expect, it } from "vitest";
import { systemClock } from "./system-clock.js";

describe("systemClock", () => {
  it("timer fires once, no earlier than asked; a cancelled one never fires", async () => {
    const clock = systemClock();
    const t0 = clock.now();
    const fired: number[] = [];
    let cancelledFired = false;
    const done = new Promise<void>((resolve) =>
      clock.timer(30, () => {
        fired.push(clock.now() - t0);
        resolve();
      }),
    );
    const cancel = clock.timer(10, () => {
      cancelledFired = true;
    });
    cancel();
    await done;
    await clock.sleep(40);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeGreaterThanOrEqual(29);
    expect(cancelledFired).toBe(false);
  });
});
