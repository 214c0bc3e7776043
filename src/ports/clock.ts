/**
 * The `Clock` port. Core and engine read time only here, so tests and the simulator run on virtual time.
 *
 * Invariants: `now()` never goes backwards within one process; `sleep` resolves no earlier than
 * `now() + ms` and rejects with the signal's reason when aborted; `timer` fires likewise, never
 * after its `cancel`.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Call `fire` once, no earlier than `now() + ms`, unless the returned `cancel` is called first.
   * A timer without a promise or a signal: for the simulator's many short timers and for the
   * engine's backstops, where a promise and an AbortController per wait cost more than the wait.
   * `fire` must not throw (what it does belongs to its owner, which handles its own errors).
   */
  timer(ms: number, fire: () => void): () => void;
}
