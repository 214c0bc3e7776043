/**
 * A view of a Store that can be killed: from `kill()` on, every call fails, as if the process
 * holding it had received SIGKILL. The simulator gives each coordinator one.
 *
 * Invariants:
 * - Calls already running when the kill comes finish (a write that reached the database before the
 *   kill stays); calls made after it reject and change nothing.
 * - The underlying store stays open for the next coordinator.
 */
import type { Store } from "../../ports/store.js";

export class CoordinatorKilled extends Error {
  override readonly name = "CoordinatorKilled";
}

/**
 * `track` sees every call's promise (the simulator holds its virtual clock still while the store
 * works, so time never jumps ahead of a commit in flight).
 */
export function killable(
  store: Store,
  track: <T>(p: Promise<T>) => Promise<T> = (p) => p,
): { store: Store; kill(): void; readonly killed: boolean } {
  let killed = false;
  const view = new Proxy(store, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (killed) return Promise.reject(new CoordinatorKilled("the coordinator was killed"));
        const r = (v as (...a: unknown[]) => unknown).apply(target, args);
        return r instanceof Promise ? track(r) : r;
      };
    },
  });
  return {
    store: view,
    kill() {
      killed = true;
    },
    get killed() {
      return killed;
    },
  };
}
