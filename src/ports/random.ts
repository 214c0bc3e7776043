/**
 * The `Random` port: seeded randomness, so every run is reproducible from its seed.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
}
