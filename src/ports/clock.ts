/**
 * The `Clock` port. Core and engine read time only here, so tests and the simulator run on virtual time.
 *
 * Invariants: `now()` never goes backwards within one process; `sleep` resolves no earlier than
 * `now() + ms` and rejects with the signal's reason when aborted.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}
