/**
 * The largest seed: the PRNG keeps 32 bits of it (`seed >>> 0`), so seeds above would repeat the
 * sequences of smaller ones (4294967297 is 1); seeds are refused past it, never reduced silently.
 */
export const MAX_SEED = 0xffff_ffff;

/**
 * A small seeded PRNG (mulberry32): deterministic, pure, good enough for jitter and shuffles.
 * Not for secrets.
 */
export function seededRandom(seed: number): { next(): number } {
  let a = seed >>> 0;
  return {
    next(): number {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}
