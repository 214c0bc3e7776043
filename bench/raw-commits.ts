/**
 * The raw sample: single-row durable commits straight through better-sqlite3, with the SQLite
 * store's pragmas, on a new file. This is the ceiling the engine's durable transitions are
 * compared with: one `BEGIN IMMEDIATE; INSERT one row; COMMIT` per transaction (the store's hot
 * path also commits with `BEGIN IMMEDIATE`), so each commit costs one WAL append and one fsync.
 *
 * Invariants: `prepareRaw` brings the WAL to its steady size with untimed commits (see
 * sqlite-files.ts) so that `timed` measures only the steady regime; `close` removes the file.
 */
import Database from "better-sqlite3";
import { round } from "./results.js";
import { removeDb, STORE_PRAGMAS, type WalShape, walFrames, walIsSteady } from "./sqlite-files.js";

/** About the size of one engine event row, so the raw row is not trivially small. */
export const RAW_PAYLOAD = JSON.stringify({
  type: "attempt.succeeded",
  step: "step-1",
  attempt: 1,
  pad: "x".repeat(40),
});

export interface RawSample {
  commits: number;
  ms: number;
  perSecond: number;
  /** Commits made before timing, to bring the WAL to its steady size. */
  untimedCommits: number;
  walFramesAtStart: number;
}

export interface PreparedRaw {
  /** N commits back to back. */
  timed(commits: number): RawSample;
  close(): Promise<void>;
}

export function prepareRaw(file: string, wal: WalShape): PreparedRaw {
  const db = new Database(file);
  try {
    for (const p of STORE_PRAGMAS) db.pragma(p);
    const mode = db.pragma("journal_mode", { simple: true });
    if (mode !== "wal") throw new Error(`raw database ${file}: journal_mode is ${String(mode)}, not wal`);
    db.exec("create table raw_commits (id integer primary key, at integer not null, data text not null)");
  } catch (err) {
    db.close();
    throw err;
  }
  const insert = db.prepare("insert into raw_commits (at, data) values (?, ?)");
  const commit = db.transaction((at: number) => insert.run(at, RAW_PAYLOAD));
  let untimed = 0;
  while (!walIsSteady(file, wal) && untimed < 100_000) {
    commit.immediate(Date.now());
    untimed++;
  }
  return {
    timed(commits) {
      const walFramesAtStart = walFrames(file, wal);
      const t0 = performance.now();
      for (let i = 0; i < commits; i++) commit.immediate(Date.now());
      const ms = performance.now() - t0;
      return {
        commits,
        ms: round(ms, 2),
        perSecond: round((commits / ms) * 1000),
        untimedCommits: untimed,
        walFramesAtStart,
      };
    },
    async close() {
      db.close();
      await removeDb(file);
    },
  };
}
