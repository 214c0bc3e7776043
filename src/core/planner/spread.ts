/**
 * How much the makespan moves with boot times. The estimate counts every reboot at the mean of
 * the boot-time distribution; a real run (or a dry run) gets one draw per host, and its end is set
 * by the slowest boots among the last hosts and by the canary's boot, which every later host waits
 * for. So the planner plays its schedule again with drawn boot times — same order, waves, caps and
 * hold-over room, the engine's own admission, as a run with those boots would go — and reports
 * percentiles of the makespan and of each region's end and span.
 *
 * Invariants:
 * - Pure and seeded: the same list, plan, model, seed and sample count give the same figures.
 * - Only reboots vary. A drawn reboot follows `rebootMs`'s rules attempt by attempt (a boot longer
 *   than the step's timeout fails the attempt; after the backoff the next attempt waits for the
 *   host, still booting, and reboots it again), and the wait until a poll sees the host back is
 *   drawn uniformly over one poll cycle (connect timeout + interval) instead of its half.
 * - A sample's host flow is the estimate with each reboot's expectation (boot and poll wait)
 *   replaced by its draw, so with a boot distribution of one point a flow moves only by the poll's
 *   wait: at most half a poll cycle either way. (The estimate averages boots over a grid of the
 *   distribution, the draws are continuous: their mean is within about 1 % of it.)
 * - A reboot whose every attempt timed out is counted at its full length, as the estimate counts
 *   it; in a run that host fails and is rolled back. `exhausted` says how many draws did so.
 * - Percentiles are nearest-rank over the samples (p50 of 20 samples is the 10th smallest).
 */
import type { Plan, Step } from "../plan/compile.js";
import { seededRandom } from "../policy/random.js";
import { type FlowModel, meanBackoffMs, rebootMs } from "./flow-model.js";
import type { ListHost } from "./list-schedule.js";

export interface SpreadFigures {
  p10Ms: number;
  p50Ms: number;
  p90Ms: number;
  maxMs: number;
}

export interface Spread extends SpreadFigures {
  /** Schedules played with drawn boot times. */
  samples: number;
  /**
   * Region -> over the same plays: its end (offset from the schedule's start, which moves with
   * the canary and earlier waves) and its span (its last end minus its first start, in each play).
   */
  regions: Record<string, { end: SpreadFigures; span: SpreadFigures }>;
  /** Share of the drawn reboots that used every attempt (that host would fail), 0..1. */
  exhausted: number;
}

/** One play of the schedule with these flows: each host's start and end (from the schedule's start). */
export type Play = (
  hosts: readonly ListHost[],
) => readonly { host: string; startMs: number; endMs: number }[];

export interface SpreadInput {
  plan: Plan;
  /** The schedule's hosts in its order, with their estimated flows. */
  hosts: readonly ListHost[];
  model: FlowModel;
  samples: number;
  seed: number;
  play: Play;
}

/**
 * One draw of a reboot step's time, by `rebootMs`'s rules (see the header); `exhausted` when no
 * attempt saw the host back.
 */
export function drawReboot(
  step: Step,
  model: FlowModel,
  rnd: { next(): number },
): { ms: number; exhausted: boolean } {
  const { min, max } = model.bootMs;
  const t = step.timeoutMs;
  let total = 0;
  let carry = 0;
  for (let k = 1; ; k++) {
    const boot = min + rnd.next() * (max - min);
    const wait = Math.min(carry, t);
    if (wait + boot <= t || k >= step.retry.attempts)
      return { ms: total + Math.min(wait + boot, t), exhausted: wait + boot > t };
    const backoff = meanBackoffMs(step, k);
    total += t + backoff;
    carry = Math.max(0, wait + boot - t - backoff);
  }
}

/** The schedule's makespan, region ends and spans over `samples` draws of every host's boots. */
export function spreadOf(input: SpreadInput): Spread | undefined {
  const reboots = input.plan.steps.filter((s) => s.kind === "reboot");
  if (reboots.length === 0 || input.samples <= 0 || input.hosts.length === 0) return undefined;
  const { model } = input;
  const cycle = (s: Step) => model.noAnswerMs + (s.intervalMs ?? 2_000);
  // What the estimate counted for the reboots of one flow (see flow-model.ts `stepMs`).
  const expected = reboots.reduce((a, s) => a + rebootMs(s, model) + cycle(s) / 2, 0);
  const regionOf = new Map(input.hosts.map((h) => [h.host, h.region]));
  const makespans: number[] = [];
  const ends = new Map<string, number[]>();
  const spans = new Map<string, number[]>();
  let draws = 0;
  let exhausted = 0;
  for (let i = 0; i < input.samples; i++) {
    const rnd = seededRandom((Math.imul(input.seed, 0x9e3779b1) + Math.imul(i + 1, 0x85ebca6b)) >>> 0);
    const drawn = input.hosts.map((h) => {
      let d = 0;
      for (const s of reboots) {
        const r = drawReboot(s, model, rnd);
        draws++;
        if (r.exhausted) exhausted++;
        d += r.ms + rnd.next() * cycle(s);
      }
      return { ...h, durationMs: Math.max(0, Math.round(h.durationMs - expected + d)) };
    });
    let span = 0;
    const mine = new Map<string, { start: number; end: number }>();
    for (const s of input.play(drawn)) {
      span = Math.max(span, s.endMs);
      const r = regionOf.get(s.host) as string;
      const m = mine.get(r);
      if (m === undefined) mine.set(r, { start: s.startMs, end: s.endMs });
      else {
        m.start = Math.min(m.start, s.startMs);
        m.end = Math.max(m.end, s.endMs);
      }
    }
    makespans.push(span);
    for (const [r, m] of mine) {
      push(ends, r, m.end);
      push(spans, r, m.end - m.start);
    }
  }
  const regions: Spread["regions"] = {};
  for (const r of [...ends.keys()].sort())
    regions[r] = { end: figures(ends.get(r) ?? []), span: figures(spans.get(r) ?? []) };
  return {
    samples: input.samples,
    ...figures(makespans),
    regions,
    exhausted: draws > 0 ? exhausted / draws : 0,
  };
}

function push(m: Map<string, number[]>, k: string, v: number): void {
  const list = m.get(k);
  if (list === undefined) m.set(k, [v]);
  else list.push(v);
}

/** Nearest-rank percentiles of `xs` (not empty). */
export function figures(xs: readonly number[]): SpreadFigures {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] as number;
  return { p10Ms: at(0.1), p50Ms: at(0.5), p90Ms: at(0.9), maxMs: s[s.length - 1] as number };
}
