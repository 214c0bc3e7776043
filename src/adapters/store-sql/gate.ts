/**
 * A FIFO async mutex for SQLite writes, shared by every store of this process on the same file.
 *
 * Why: better-sqlite3 is synchronous, and its busy handler sleeps on the JS thread. If one store
 * holds a write transaction open across an `await` while another store of the same process (same
 * file, other connection) starts a write, that write blocks the thread, so the first can never
 * finish: a self-deadlock until busy_timeout. Taking this gate before every write (and holding it
 * to commit) makes writers of one process wait asynchronously instead. Other processes are
 * real concurrency and are handled by SQLite's lock and busy_timeout.
 *
 * Invariants: `run` executes callbacks one at a time in call order; `busy` is true while any is
 * pending or running; a gate lives as long as some store on its file is open.
 */
export class Gate {
  private tail: Promise<void> = Promise.resolve();
  private holders = 0;

  get busy(): boolean {
    return this.holders > 0;
  }

  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => {
      release = r;
    });
    this.holders++;
    try {
      await prev;
      return await fn();
    } finally {
      this.holders--;
      release();
    }
  }
}

const shared = new Map<string, { gate: Gate; refs: number }>();

/** The gate of one database file (key: its real path); call `release` when the store closes. */
export function acquireGate(key: string): { gate: Gate; release(): void } {
  let entry = shared.get(key);
  if (!entry) {
    entry = { gate: new Gate(), refs: 0 };
    shared.set(key, entry);
  }
  entry.refs++;
  const e = entry;
  let released = false;
  return {
    gate: e.gate,
    release(): void {
      if (released) return;
      released = true;
      e.refs--;
      if (e.refs === 0 && shared.get(key) === e) shared.delete(key);
    },
  };
}
