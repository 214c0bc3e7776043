/**
 * Benchmark "event-loop": how fast the simulator can move through virtual time.
 *
 * - Headline (goal >= 1,000,000 events/s): the pure core `EventLoop` (src/core/sim/event-loop.ts)
 *   scheduling and firing events with a steady pending set (10,000 timers by default). Each fired
 *   event schedules the next one at a random later time until the total is reached, then the rest
 *   drain; the timed window covers every schedule and every fire, allocation and GC included.
 * - For honesty, separately: `VirtualClock` sleeps resolved per second. That is the clock the
 *   engine runs on: async, and before time moves it waits for the process to be idle over several
 *   macrotask turns, so its rate is set by that settling, not by the heap. Many simulated hosts
 *   (2,000 by default) each sleep a number of times; reported with the number of time jumps
 *   ("fire batches") and sleeps per batch, which are what the settling is paid per.
 *
 * Invariants:
 * - Deterministic workload: delays come from the seeded PRNG, so every round does the same work;
 *   rounds differ only by machine noise. Medians of the rounds are reported.
 * - One untimed full-size warm-up of each kind before the rounds (JIT, heap size). Every sample
 *   checks its own counts (events fired, sleeps resolved) and fails loudly if they are off.
 * - No I/O, no network; pure CPU in this process.
 */
import { performance } from "node:perf_hooks";
import { VirtualClock } from "../src/adapters/clock/virtual-clock.js";
import { seededRandom } from "../src/core/policy/random.js";
import { EventLoop } from "../src/core/sim/event-loop.js";
import { median, round } from "./results.js";

export const NAME = "event-loop";
export const GOAL_EVENTS_PER_SECOND = 1_000_000;

export interface EventLoopConfig {
  rounds: number;
  /** Events per core-loop sample (scheduled and fired). */
  events: number;
  /** Timers pending at any time in the core-loop sample. */
  pending: number;
  /** Concurrent sleepers (simulated hosts) in the VirtualClock sample. */
  sleepers: number;
  /** Sleeps per sleeper in the VirtualClock sample. */
  sleepsEach: number;
  /** Delays are uniform integers in [1, maxDelayMs] virtual milliseconds. */
  maxDelayMs: number;
  seed: number;
}

export const DEFAULT_EVENT_LOOP: Omit<EventLoopConfig, "rounds"> = {
  events: 2_000_000,
  pending: 10_000,
  sleepers: 2_000,
  sleepsEach: 50,
  maxDelayMs: 60_000,
  seed: 42,
};

export interface CoreSample {
  events: number;
  ms: number;
  perSecond: number;
  /** Virtual time covered, in ms. */
  virtualMs: number;
}

export interface ClockSample {
  sleeps: number;
  /** Distinct instants the clock jumped to (each paid one idle settling). */
  batches: number;
  ms: number;
  perSecond: number;
  batchesPerSecond: number;
}

export interface EventLoopRound {
  round: number;
  core: CoreSample;
  clock: ClockSample;
}

export interface EventLoopResult {
  rounds: EventLoopRound[];
  median: {
    coreEventsPerSecond: number;
    coreNanosPerEvent: number;
    clockSleepsPerSecond: number;
    clockBatchesPerSecond: number;
    clockMicrosPerSleep: number;
    clockSleepsPerBatch: number;
  };
  spread: { coreMin: number; coreMax: number; clockMin: number; clockMax: number };
  goal: { eventsPerSecond: number; met: boolean };
}

/** The core loop: `pending` timers in flight, each firing schedules the next until `events` ran. */
export function coreSample(
  cfg: Pick<EventLoopConfig, "events" | "pending" | "maxDelayMs" | "seed">,
): CoreSample {
  const rnd = seededRandom(cfg.seed);
  const delay = () => 1 + Math.floor(rnd.next() * cfg.maxDelayMs);
  const initial = Math.min(cfg.pending, cfg.events);
  const t0 = performance.now();
  const loop = new EventLoop(0);
  let scheduled = 0;
  const fire = (now: number) => {
    if (scheduled < cfg.events) {
      scheduled++;
      loop.schedule(now + delay(), fire);
    }
  };
  for (; scheduled < initial; scheduled++) loop.schedule(delay() - 1, fire);
  const fired = loop.runUntilEmpty();
  const ms = performance.now() - t0;
  if (fired !== cfg.events || loop.pending !== 0)
    throw new Error(`core sample: ${fired} events fired, ${loop.pending} left; expected ${cfg.events}, 0`);
  return { events: fired, ms: round(ms, 2), perSecond: round(fired / (ms / 1000)), virtualMs: loop.now };
}

/** `sleepers` concurrent loops each sleeping `sleepsEach` times on one VirtualClock. */
export async function clockSample(
  cfg: Pick<EventLoopConfig, "sleepers" | "sleepsEach" | "maxDelayMs" | "seed">,
): Promise<ClockSample> {
  const rnd = seededRandom(cfg.seed);
  const clock = new VirtualClock(0);
  const instants = new Set<number>();
  let sleeps = 0;
  const sleeper = async () => {
    for (let i = 0; i < cfg.sleepsEach; i++) {
      await clock.sleep(1 + Math.floor(rnd.next() * cfg.maxDelayMs));
      sleeps++;
      instants.add(clock.now());
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: cfg.sleepers }, sleeper));
  const ms = performance.now() - t0;
  const want = cfg.sleepers * cfg.sleepsEach;
  if (sleeps !== want || clock.pending !== 0)
    throw new Error(`clock sample: ${sleeps} sleeps resolved, ${clock.pending} left; expected ${want}, 0`);
  return {
    sleeps,
    batches: instants.size,
    ms: round(ms, 2),
    perSecond: round(sleeps / (ms / 1000)),
    batchesPerSecond: round(instants.size / (ms / 1000)),
  };
}

export async function runEventLoop(
  cfg: EventLoopConfig,
  log: (line: string) => void,
): Promise<EventLoopResult> {
  // Warm-up (untimed): one full-size sample of each, so the JIT has optimized both paths and the
  // heap has grown to its working size before the first timed round.
  coreSample(cfg);
  await clockSample(cfg);

  const rounds: EventLoopRound[] = [];
  for (let r = 1; r <= cfg.rounds; r++) {
    const core = coreSample(cfg);
    const clock = await clockSample(cfg);
    rounds.push({ round: r, core, clock });
    log(
      `  round ${r}: core ${core.perSecond.toFixed(0)} events/s (${core.events} in ${core.ms.toFixed(0)} ms); ` +
        `VirtualClock ${clock.perSecond.toFixed(0)} sleeps/s (${clock.sleeps} in ${clock.batches} batches, ${clock.ms.toFixed(0)} ms)`,
    );
  }
  const core = rounds.map((x) => x.core.perSecond);
  const clock = rounds.map((x) => x.clock.perSecond);
  const coreMedian = median(core);
  const clockMedian = median(clock);
  return {
    rounds,
    median: {
      coreEventsPerSecond: round(coreMedian),
      coreNanosPerEvent: round(1e9 / coreMedian),
      clockSleepsPerSecond: round(clockMedian),
      clockBatchesPerSecond: round(median(rounds.map((x) => x.clock.batchesPerSecond))),
      clockMicrosPerSleep: round(1e6 / clockMedian, 2),
      clockSleepsPerBatch: round(median(rounds.map((x) => x.clock.sleeps / x.clock.batches)), 2),
    },
    spread: {
      coreMin: Math.min(...core),
      coreMax: Math.max(...core),
      clockMin: Math.min(...clock),
      clockMax: Math.max(...clock),
    },
    goal: { eventsPerSecond: GOAL_EVENTS_PER_SECOND, met: coreMedian >= GOAL_EVENTS_PER_SECOND },
  };
}

const int = (x: number) => Math.round(x).toLocaleString("en-US");

/** The summary lines `npm run bench` prints after the rounds. */
export function summarize(res: EventLoopResult): string[] {
  const m = res.median;
  return [
    `  median: core ${int(m.coreEventsPerSecond)} events/s (${m.coreNanosPerEvent} ns/event; rounds ${int(res.spread.coreMin)} to ${int(res.spread.coreMax)})`,
    `  median: VirtualClock ${int(m.clockSleepsPerSecond)} sleeps/s (${m.clockMicrosPerSleep} µs/sleep; ` +
      `${int(m.clockBatchesPerSecond)} time jumps/s, ${m.clockSleepsPerBatch} sleeps per jump; rounds ${int(res.spread.clockMin)} to ${int(res.spread.clockMax)})`,
    res.goal.met
      ? `  GOAL MET: core ${int(m.coreEventsPerSecond)} >= ${int(GOAL_EVENTS_PER_SECOND)} events/s`
      : `  GOAL NOT MET: core ${int(m.coreEventsPerSecond)} < ${int(GOAL_EVENTS_PER_SECOND)} events/s`,
  ];
}
