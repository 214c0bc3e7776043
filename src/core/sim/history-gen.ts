/**
 * Utilization history the simulator would have recorded: each region's daily curve (utilization.ts)
 * in its own time zone, quieter at weekends, with seeded noise — as CSV or as a Prometheus
 * `query_range` response, so window selection can be tried on a generated fleet.
 *
 * Invariants: pure and deterministic for the seed; values stay within 0..1; one sample per region
 * per step, regions in first-seen order.
 */
import type { Host } from "../model/fleet.js";
import { regionUtcOffsets } from "../model/utc-offset.js";
import { seededRandom } from "../policy/random.js";
import { utilization } from "./utilization.js";

export interface HistoryPoint {
  region: string;
  at: number;
  value: number;
}

const WEEKEND_FACTOR = 0.8;
const NOISE = 0.04;

export function generateHistory(
  hosts: readonly Host[],
  opts: { from: number; days: number; stepMs: number; seed: number },
): HistoryPoint[] {
  const offsets = regionUtcOffsets(hosts);
  const rnd = seededRandom(opts.seed);
  const out: HistoryPoint[] = [];
  const end = opts.from + opts.days * 86_400_000;
  for (let at = opts.from; at < end; at += opts.stepMs)
    for (const [region, off] of offsets) {
      const day = new Date(at + off * 3_600_000).getUTCDay();
      const weekend = day === 0 || day === 6 ? WEEKEND_FACTOR : 1;
      const v = utilization(off, at) * weekend + (rnd.next() * 2 - 1) * NOISE;
      out.push({ region, at, value: Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000 });
    }
  return out;
}

export function historyCsv(points: readonly HistoryPoint[]): string {
  return `timestamp,region,utilization\n${points.map((p) => `${new Date(p.at).toISOString()},${p.region},${p.value}`).join("\n")}\n`;
}

export function historyPrometheus(points: readonly HistoryPoint[]): string {
  const series = new Map<string, [number, string][]>();
  for (const p of points) {
    const s = series.get(p.region) ?? [];
    s.push([p.at / 1000, String(p.value)]);
    series.set(p.region, s);
  }
  return `${JSON.stringify({
    status: "success",
    data: {
      resultType: "matrix",
      result: [...series].map(([region, values]) => ({ metric: { region }, values })),
    },
  })}\n`;
}
