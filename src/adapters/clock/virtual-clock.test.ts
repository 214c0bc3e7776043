/** VirtualClock: (time, creation) order, idle settling before time moves, abort removes the timer. */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "./virtual-clock.js";

const START = Date.UTC(2026, 0, 1);

describe("VirtualClock", () => {
  it("fires timers in (time, creation order) and jumps time to each", async () => {
    const clock = new VirtualClock();
    const seen: string[] = [];
    const sleeper = (name: string, ms: number) =>
      clock.sleep(ms).then(() => seen.push(`${name}@${clock.now() - START}`));
    await Promise.all([
      sleeper("c", 300),
      sleeper("a", 100),
      sleeper("d", 300),
      sleeper("b", 100),
      sleeper("zero", 0),
      sleeper("negative", -5),
    ]);
    expect(seen).toEqual(["zero@0", "negative@0", "a@100", "b@100", "c@300", "d@300"]);
    expect(clock.pending).toBe(0);
  });

  it("timer: fires inside the jump in (time, creation) order among sleeps, before their continuations; cancel removes it", async () => {
    const clock = new VirtualClock(0);
    const seen: string[] = [];
    const slept = clock.sleep(100).then(() => seen.push(`sleep@${clock.now()}`));
    clock.timer(100, () => seen.push(`timer@${clock.now()}`));
    clock.timer(50, () => {
      seen.push(`early@${clock.now()}`);
      // A timer set from inside a firing one, due at once: fires in the same jump.
      clock.timer(0, () => seen.push(`chained@${clock.now()}`));
    });
    const cancel = clock.timer(60, () => seen.push("cancelled"));
    cancel();
    cancel(); // twice: a no-op
    expect(clock.pending).toBe(3);
    await slept;
    expect(seen).toEqual(["early@50", "chained@50", "timer@100", "sleep@100"]);
    expect(clock.pending).toBe(0);
  });

  it("runs the work a timer triggers before the next timer fires", async () => {
    const clock = new VirtualClock(0);
    const seen: string[] = [];
    const chain = async () => {
      await clock.sleep(10);
      seen.push(`woke@${clock.now()}`);
      // Several turns of async work (macrotasks, not only microtasks) before sleeping again.
      for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
      seen.push(`worked@${clock.now()}`);
      await clock.sleep(5);
      seen.push(`again@${clock.now()}`);
    };
    const other = clock.sleep(12).then(() => seen.push(`other@${clock.now()}`));
    await Promise.all([chain(), other]);
    expect(seen).toEqual(["woke@10", "worked@10", "other@12", "again@15"]);
  });

  it("quietTurns 0: a timer's promise work (however deep) runs before the next timer, and a tracked call holds time", async () => {
    const clock = new VirtualClock(0, { quietTurns: 0 });
    const seen: string[] = [];
    const deep = async (n: number): Promise<void> => {
      if (n > 0) await deep(n - 1);
    };
    const chain = async () => {
      await clock.sleep(10);
      await deep(500);
      seen.push(`deep@${clock.now()}`);
      // A store call on real I/O: time must not move until it settles.
      await clock.track(new Promise((r) => setTimeout(r, 5)));
      seen.push(`tracked@${clock.now()}`);
    };
    const other = clock.sleep(11).then(() => seen.push(`other@${clock.now()}`));
    await Promise.all([chain(), other]);
    expect(seen).toEqual(["deep@10", "tracked@10", "other@11"]);
  });

  it("quietTurns 0: a long run of jumps still lets real timers and I/O callbacks run", async () => {
    const clock = new VirtualClock(0, { quietTurns: 0 });
    let realTicks = 0;
    const interval = setInterval(() => realTicks++, 0);
    try {
      const started = performance.now();
      let jumps = 0;
      // Keep jumping until a real timer got to run, for at most 2 s of real time.
      while (realTicks < 3 && performance.now() - started < 2_000) {
        await clock.sleep(1);
        jumps++;
      }
      expect(realTicks).toBeGreaterThanOrEqual(3);
      expect(jumps).toBeGreaterThan(0);
    } finally {
      clearInterval(interval);
    }
  });

  it("aborting a sleep removes its timer and rejects with the reason", async () => {
    const clock = new VirtualClock(0);
    const ac = new AbortController();
    const aborted = clock.sleep(50, ac.signal);
    const kept = clock.sleep(100);
    expect(clock.pending).toBe(2);
    ac.abort(new Error("stop"));
    await expect(aborted).rejects.toThrow("stop");
    expect(clock.pending).toBe(1);
    await kept;
    expect(clock.now()).toBe(100);
    await expect(clock.sleep(1, ac.signal)).rejects.toThrow("stop");
    expect(clock.pending).toBe(0);
  });

  it("a sleep that resolved ignores a later abort", async () => {
    const clock = new VirtualClock(0);
    const ac = new AbortController();
    await clock.sleep(5, ac.signal);
    ac.abort(new Error("late"));
    expect(clock.pending).toBe(0);
    await clock.sleep(5);
    expect(clock.now()).toBe(10);
  });

  it("keeps order with many sleepers and aborts mixed in", async () => {
    const clock = new VirtualClock(0);
    const fired: number[] = [];
    const all: Promise<unknown>[] = [];
    const controllers: AbortController[] = [];
    for (let i = 0; i < 500; i++) {
      const ac = new AbortController();
      controllers.push(ac);
      const at = (i * 37) % 101;
      all.push(
        clock.sleep(at, ac.signal).then(
          () => fired.push(i),
          () => undefined,
        ),
      );
    }
    for (let i = 0; i < 500; i += 3) controllers[i]!.abort();
    await Promise.all(all);
    const want = [...Array(500).keys()]
      .filter((i) => i % 3 !== 0)
      .sort((a, b) => ((a * 37) % 101) - ((b * 37) % 101) || a - b);
    expect(fired).toEqual(want);
    expect(clock.now()).toBe(Math.max(...want.map((i) => (i * 37) % 101)));
  });
});

describe("VirtualClock pacing", () => {
  it("waits real time before each jump, in proportion to the virtual jump, without reordering", async () => {
    const clock = new VirtualClock(0);
    const asked: number[] = [];
    clock.pace((ms) => {
      asked.push(ms);
      return ms / 1000; // 1 real ms per virtual second
    });
    const order: number[] = [];
    const started = performance.now();
    await Promise.all([
      clock.sleep(60_000).then(() => order.push(60)),
      clock.sleep(20_000).then(() => order.push(20)),
      clock.sleep(40_000).then(() => order.push(40)),
    ]);
    const realMs = performance.now() - started;
    expect(order).toEqual([20, 40, 60]);
    expect(asked).toEqual([20_000, 20_000, 20_000]);
    expect(clock.now()).toBe(60_000);
    // three waits of 20 ms each: at least 60 ms of real time went by (no upper bound: shared machine)
    expect(realMs).toBeGreaterThanOrEqual(55);
  });
});

describe("VirtualClock: sleeps sharing a signal", () => {
  it("listens once per signal, and an abort rejects its pending sleeps in creation order", async () => {
    const clock = new VirtualClock(0);
    const ac = new AbortController();
    let listeners = 0;
    const add = ac.signal.addEventListener.bind(ac.signal);
    ac.signal.addEventListener = (...args: Parameters<typeof add>) => {
      listeners++;
      add(...args);
    };
    await clock.sleep(5, ac.signal); // fired: forgotten, nothing left to clean up
    const seen: string[] = [];
    const sleeps = [30, 10, 20].map((ms) =>
      clock.sleep(ms, ac.signal).then(
        () => seen.push(`fired ${ms}`),
        (e: Error) => seen.push(`${e.message} ${ms}`),
      ),
    );
    const other = clock.sleep(40);
    expect(listeners).toBe(1);
    expect(clock.pending).toBe(4);
    await clock.sleep(15); // now 20: the 10 ms sleep (due at 15) fired, the others are pending
    ac.abort(new Error("stop"));
    await Promise.all(sleeps);
    expect(seen).toEqual(["fired 10", "stop 30", "stop 20"]);
    expect(clock.pending).toBe(1);
    await other;
    expect(clock.now()).toBe(45);
    expect(clock.pending).toBe(0);
  });
});
