/**
 * SQLite file helpers shared by the raw and the engine samples: the store's pragmas, the WAL's
 * geometry and fill level, and removing a database with its side files.
 *
 * Why the WAL fill level matters: while the WAL file still grows, every fsync also commits the
 * file's new size to the filesystem's journal and costs about twice as much as once the WAL has
 * reached its auto-checkpoint size, wrapped, and is overwritten in place (measured on ext4: ~2 800
 * vs ~5 500 single-row commits/s). Both samples are therefore timed only in the steady regime.
 */
import { statSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import Database from "better-sqlite3";

/** The pragmas `openSqliteStore` sets (src/adapters/store-sql/sqlite.ts), in its order. */
export const STORE_PRAGMAS = [
  "busy_timeout = 10000",
  "journal_mode = WAL",
  "synchronous = FULL",
  "foreign_keys = ON",
] as const;

export interface WalShape {
  pageSize: number;
  /** Frames after which SQLite checkpoints and starts overwriting the WAL from its beginning. */
  autocheckpointFrames: number;
}

/** The WAL geometry of a new database file in `dir` (SQLite's defaults, recorded with results). */
export async function walShape(dir: string): Promise<WalShape> {
  const file = join(dir, "wal-shape.db");
  const db = new Database(file);
  try {
    return {
      pageSize: Number(db.pragma("page_size", { simple: true })),
      autocheckpointFrames: Number(db.pragma("wal_autocheckpoint", { simple: true })),
    };
  } finally {
    db.close();
    await removeDb(file);
  }
}

/** Frames in `file`'s WAL, from its size: a 32-byte header, then frames of 24 bytes + one page. */
export function walFrames(file: string, wal: WalShape): number {
  try {
    return Math.floor(Math.max(0, statSync(`${file}-wal`).size - 32) / (24 + wal.pageSize));
  } catch {
    return 0;
  }
}

export function walIsSteady(file: string, wal: WalShape): boolean {
  return walFrames(file, wal) >= wal.autocheckpointFrames;
}

export async function removeDb(file: string): Promise<void> {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) await rm(file + suffix, { force: true });
}

/** The SQLite library version better-sqlite3 links. */
export function sqliteVersion(): string {
  const db = new Database(":memory:");
  try {
    return (db.prepare("select sqlite_version() as v").get() as { v: string }).v;
  } finally {
    db.close();
  }
}
