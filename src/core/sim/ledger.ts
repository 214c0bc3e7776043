/**
 * The simulator's ledger: every effect on the simulated world, in the order it happened. The
 * invariant checker reads it after a run, and a simulation's workload downtime figures come from
 * its moves (`moveDowntimes`), so a move a killed coordinator never saw the end of still counts.
 *
 * Invariants:
 * - Append-only and ordered by `at` (virtual epoch ms), ties in the order they happened.
 * - `command` is the command a host ran, or an effect of the world, starting with `@`:
 *   hosts: `@up`, `@down` (outcome `reboot` or `power trip`), `@dead`, `@power-trip`, `@health`;
 *   workloads (`workload` names it): `@place` / `@unplace` (starts / stops running on `host`; the
 *   initial placement is `@place` at the world's start time with outcome `initial`; a move is
 *   `@unplace` then `@place` at the same `at`, the `@place` with the move's `downtimeMs`), `@lost` (died with its host), `@volume-ro`,
 *   `@volume-rw`, `@volume-move`, `@volume-drop` (network volumes during a move).
 * - For commands, `applied` says whether the command took effect (it may have, even when the
 *   answer was lost), and `step` / `phase` / `attempt` come from the engine's environment; `tag`
 *   is the attempt's tag (`ExecRequest.tag`), one per attempt row of a `run` or `revert`, so the
 *   commands of one attempt (a reboot and its boot id polls) share it, and a re-run has a new one.
 */
export interface LedgerEntry {
  at: number;
  host: string;
  command: string;
  outcome: string;
  applied?: boolean;
  workload?: string;
  runId?: string;
  step?: string;
  /** `run`, `check`, `verify` or `revert`. */
  phase?: string;
  attempt?: number;
  tag?: string;
  /** A move's `@place`: how long the workload was unavailable (blackout, or stop-copy-start). */
  downtimeMs?: number;
}

/**
 * Workload downtime samples from the ledger's moves: one per `@place` that has a `downtimeMs`,
 * attributed as a drain or reinstate attempt would be, to the host drained or reinstated: the
 * target when the move brings the workload home (`homes`: workload -> home), else the source (the
 * `@unplace` just before it; the target when there is none). Pure; ledger order.
 */
export function moveDowntimes(
  ledger: readonly LedgerEntry[],
  homes: ReadonlyMap<string, string>,
): { host: string; downtimeMs: number }[] {
  const out: { host: string; downtimeMs: number }[] = [];
  for (let i = 0; i < ledger.length; i++) {
    const e = ledger[i] as LedgerEntry;
    if (e.command !== "@place" || e.downtimeMs === undefined || e.workload === undefined) continue;
    const prev = ledger[i - 1];
    const from =
      prev?.command === "@unplace" && prev.workload === e.workload && prev.at === e.at ? prev.host : e.host;
    out.push({ host: homes.get(e.workload) === e.host ? e.host : from, downtimeMs: e.downtimeMs });
  }
  return out;
}
