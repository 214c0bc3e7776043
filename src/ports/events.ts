/**
 * The `EventSink` and `Notifier` ports. Observability is a subscriber: the engine emits typed
 * events and never depends on what listens.
 *
 * Invariants: `emit` never throws and never blocks the engine (a sink that fails swallows and
 * reports its own error); `notify` failures are logged by the caller, never fatal to a run.
 */
import type { EventRecord } from "./store.js";

export interface EventSink {
  /** An event of this coordinator: one it wrote to the store, or one it only reports (no `seq`). */
  emit(event: EventRecord | Omit<EventRecord, "seq">): void;
  /**
   * An event someone else wrote to the run while this coordinator drives it (an operator's pause,
   * resume, abort, retry or skip; another coordinator's work), as the coordinator reads it from the
   * run's log: in seq order, each once, up to a tick after it was written. Optional: a sink that
   * counts only its own coordinator's work (metrics) leaves it out, and the coordinator then reads
   * no more than whether anything changed.
   */
  observe?(event: EventRecord): void;
}

export interface Notification {
  runId: string;
  host?: string;
  severity: "info" | "warning" | "critical";
  summary: string;
  details?: Record<string, unknown>;
}

export interface Notifier {
  notify(n: Notification): Promise<void>;
}
