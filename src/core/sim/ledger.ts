/**
 * The simulator's ledger: every effect on the simulated world, in the order it happened. The
 * invariant checker reads it after a run; nothing else does.
 *
 * Invariants:
 * - Append-only and ordered by `at` (virtual epoch ms), ties in the order they happened.
 * - `command` is the command a host ran, or an effect of the world, starting with `@`:
 *   hosts: `@up`, `@down` (outcome `reboot` or `power trip`), `@dead`, `@power-trip`, `@health`;
 *   workloads (`workload` names it): `@place` / `@unplace` (starts / stops running on `host`; the
 *   initial placement is `@place` at the world's start time with outcome `initial`; a move is
 *   `@unplace` then `@place` at the same `at`), `@lost` (died with its host), `@volume-ro`,
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
}
