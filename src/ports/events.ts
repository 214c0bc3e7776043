/**
 * The `EventSink` and `Notifier` ports. Observability is a subscriber: the engine emits typed
 * events and never depends on what listens.
 *
 * Invariants: `emit` never throws and never blocks the engine (a sink that fails swallows and
 * reports its own error); `notify` failures are logged by the caller, never fatal to a run.
 */
import type { EventRecord } from "./store.js";

export interface EventSink {
  emit(event: EventRecord | Omit<EventRecord, "seq">): void;
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
