/**
 * A `Store` wrapper that counts the calls made to it, to count durable transitions without
 * touching the adapter.
 *
 * What it counts: every method call, by name. `commitHost` calls are the engine's durable step
 * transitions (an attempt's intent and its result are separate commits). For `commitHost` it also
 * adds up the time until the call returns its promise: on the SQLite store's prepared hot path the
 * whole transaction, fsync included, runs synchronously inside the call, so that sum is the time
 * spent in SQLite and the rest of a run's time is the engine's own (on the Kysely path most of the
 * work happens after the promise is returned, so the split means little there).
 *
 * Invariant: it forwards every call unchanged (same arguments, same result, same errors).
 */
import type { Store } from "../src/ports/store.js";

export interface StoreCounts {
  calls: Record<string, number>;
  commitHostSyncMs: number;
}

export interface CountingStore {
  store: Store;
  counts: StoreCounts;
  reset(): void;
}

export function countingStore(inner: Store): CountingStore {
  const counts: StoreCounts = { calls: {}, commitHostSyncMs: 0 };
  const self: CountingStore = {
    store: inner,
    counts,
    reset() {
      counts.calls = {};
      counts.commitHostSyncMs = 0;
    },
  };
  self.store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || typeof prop !== "string") return value;
      const fn = value as (...args: unknown[]) => unknown;
      if (prop === "commitHost") {
        return (...args: unknown[]) => {
          counts.calls[prop] = (counts.calls[prop] ?? 0) + 1;
          const t0 = performance.now();
          try {
            return fn.apply(target, args);
          } finally {
            counts.commitHostSyncMs += performance.now() - t0;
          }
        };
      }
      return (...args: unknown[]) => {
        counts.calls[prop] = (counts.calls[prop] ?? 0) + 1;
        return fn.apply(target, args);
      };
    },
  });
  return self;
}
