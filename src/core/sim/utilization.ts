/**
 * A region's utilization over the day, as the simulator assumes it: low at night, high in the
 * afternoon, each region in its own time zone. Drives migration bandwidth (a busy region leaves
 * less network for moving workloads) and, later, the choice of maintenance windows.
 *
 * Invariants:
 * - Pure: a function of the region's UTC offset and the instant; no clock, no randomness.
 * - Always in [MIN_UTILIZATION, MAX_UTILIZATION]; trough at 04:00 local, peak at 14:00 local.
 * - Smooth: two half-cosines (04:00 -> 14:00 rising, 14:00 -> 04:00 falling) that meet with zero
 *   slope, so the curve has no kinks and no jumps, including across local midnight.
 */

export const MIN_UTILIZATION = 0.15;
export const MAX_UTILIZATION = 0.9;
const TROUGH_HOUR = 4;
const PEAK_HOUR = 14;
const HOUR_MS = 3_600_000;

/** Utilization in [0.15, 0.9] of a region at UTC offset `utcOffsetHours` at `epochMs`. */
export function utilization(utcOffsetHours: number, epochMs: number): number {
  const local = localHour(utcOffsetHours, epochMs);
  // Hours since the trough, 0..24: rising for 10 h, then falling for 14 h.
  const since = mod(local - TROUGH_HOUR, 24);
  const rise = PEAK_HOUR - TROUGH_HOUR;
  const x = since <= rise ? since / rise : 1 - (since - rise) / (24 - rise);
  const shape = (1 - Math.cos(Math.PI * x)) / 2;
  return MIN_UTILIZATION + (MAX_UTILIZATION - MIN_UTILIZATION) * shape;
}

/** Local hour (0..24) of an instant in a region at UTC offset `utcOffsetHours`. */
export function localHour(utcOffsetHours: number, epochMs: number): number {
  return mod(epochMs / HOUR_MS + utcOffsetHours, 24);
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}
