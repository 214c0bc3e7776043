/**
 * VirtualClock with `quietTurns: 0` (the simulator's clock): time moves at the first macrotask turn
 * with nothing tracked in flight; promise chains of any length and tracked calls still run first.
 */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "./virtual-clock.js";

describe("VirtualClock, quietTurns 0", () => {
  it("runs a long promise chain a timer triggers before the next timer fires", async () => {
    const clock = new VirtualClock(0, { quietTurns: 0 });
    const seen: string[] = [];
    const chain = async () => {
      await clock.sleep(10);
      for (let i = 0; i < 1000; i++) await Promise.resolve();
      seen.push(`chain@${clock.now()}`);
    };
    await Promise.all([chain(), clock.sleep(11).then(() => seen.push(`next@${clock.now()}`))]);
    expect(seen).toEqual(["chain@10", "next@11"]);
  });

  it("holds time while a tracked call runs across macrotask turns", async () => {
    const clock = new VirtualClock(0, { quietTurns: 0 });
    const seen: string[] = [];
    const slowCall = () =>
      new Promise<void>((resolve) => {
        let turns = 0;
        const spin = () => (++turns < 5 ? setImmediate(spin) : resolve());
        setImmediate(spin);
      });
    const worker = async () => {
      await clock.sleep(10);
      await clock.track(slowCall());
      seen.push(`tracked done@${clock.now()}`);
    };
    await Promise.all([worker(), clock.sleep(11).then(() => seen.push(`next@${clock.now()}`))]);
    expect(seen).toEqual(["tracked done@10", "next@11"]);
  });

  it("fires in the same (time, creation) order as the default clock", async () => {
    const run = async (clock: VirtualClock) => {
      const seen: string[] = [];
      await Promise.all(
        [30, 10, 30, 0, 20, 10].map((ms, i) => clock.sleep(ms).then(() => seen.push(`${i}@${clock.now()}`))),
      );
      return seen;
    };
    expect(await run(new VirtualClock(0, { quietTurns: 0 }))).toEqual(await run(new VirtualClock(0)));
  });

  it("rejects a bad quietTurns", () => {
    expect(() => new VirtualClock(0, { quietTurns: -1 })).toThrow(RangeError);
    expect(() => new VirtualClock(0, { quietTurns: 1.5 })).toThrow(RangeError);
  });
});
