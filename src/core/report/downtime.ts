/**
 * Workload downtime samples from a run's attempts: every `drain` / `reinstate` result lists its
 * moves with their downtime (src/steps/workload-kinds.ts). Real runs and `overhaul report` use
 * them; `overhaul simulate` counts the world's moves instead (core/sim/ledger.ts `moveDowntimes`),
 * which include those of an attempt whose coordinator was killed before it stored its result.
 *
 * Invariants: pure; one sample per move, attributed to the host of the attempt (the host drained or
 * reinstated, which gives the region); malformed results are skipped, never guessed at.
 */
export function downtimeSamples(
  attempts: readonly { host: string; result: Record<string, unknown> | null }[],
): { host: string; downtimeMs: number }[] {
  const out: { host: string; downtimeMs: number }[] = [];
  for (const a of attempts) {
    const moves = a.result?.moves;
    if (!Array.isArray(moves)) continue;
    for (const m of moves) {
      const d = (m as { downtimeMs?: unknown } | null)?.downtimeMs;
      if (typeof d === "number" && Number.isFinite(d) && d >= 0) out.push({ host: a.host, downtimeMs: d });
    }
  }
  return out;
}
