/**
 * Waves: which hosts go in which wave, the way Ansible's `serial: [1, "10%", "100%"]` reads.
 *
 * Invariants:
 * - Each wave entry is a batch size: `count`, or `percent` of ALL scoped hosts (floored, at least 1).
 * - The last entry repeats until every host has a wave; every host gets exactly one wave.
 * - The first wave is the canary: with `[{count: 1}, ...]` exactly one host goes first.
 */
import type { WaveSpec } from "../plan/schema.js";

export function waveSize(w: WaveSpec, total: number): number {
  if (w.count !== undefined) return w.count;
  return Math.max(1, Math.floor(((w.percent ?? 100) / 100) * total));
}

/** Wave index for each of `total` hosts in start order. */
export function assignWaves(waves: readonly WaveSpec[], total: number): number[] {
  const out: number[] = [];
  let wave = 0;
  while (out.length < total) {
    const spec = waves[Math.min(wave, waves.length - 1)] ?? { percent: 100 };
    const n = Math.min(waveSize(spec, total), total - out.length);
    for (let i = 0; i < n; i++) out.push(wave);
    wave++;
  }
  return out;
}
