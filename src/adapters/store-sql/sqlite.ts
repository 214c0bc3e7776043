/**
 * Open the SQLite store (the default: one process, one file).
 *
 * Invariants:
 * - Durable commits: `journal_mode=WAL` + `synchronous=FULL` (the WAL is fsynced at every commit,
 *   so a resolved write survives a process or OS crash). WAL is verified, not assumed.
 * - `busy_timeout` lets a second process (a restarted coordinator, `overhaul status`) wait for the
 *   write lock instead of failing; every write takes the lock up front (`BEGIN IMMEDIATE`).
 * - Switching a new file to WAL needs an exclusive lock for which SQLite does not call the busy
 *   handler: processes opening a new file together retry it (bounded by the busy timeout).
 * - Foreign keys are enforced (SQLite leaves them off by default).
 * - The parent directory is created; migrations run before the store is returned, in one
 *   `BEGIN IMMEDIATE` transaction, so processes opening a new file together do not race.
 * - Stores of this process on the same file share one write gate (see gate.ts).
 * - A path that cannot hold the store (a directory, a file that is not a SQLite database, a
 *   parent that is a file) is an `InputError` naming it, and that file is left as it was.
 */
import { realpathSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { Kysely } from "kysely";
import { InputError, OverhaulError } from "../../core/errors.js";
import type { Store } from "../../ports/store.js";
import { acquireGate } from "./gate.js";
import { KyselyStore } from "./kysely-store.js";
import type { DB } from "./schema.js";
import { prepareSqliteHotCommit } from "./sqlite-commit.js";
import { ImmediateSqliteDialect } from "./sqlite-dialect.js";
import { prepareSqliteHotLeases } from "./sqlite-leases.js";
import { prepareSqliteHotReads } from "./sqlite-reads.js";

export interface SqliteStoreOptions {
  /** How long a write waits for another process's write lock (ms). Default 10 000. */
  busyTimeoutMs?: number;
  /**
   * Route `commitHost`, `renewLeases` (and the per-tick reads `getRun` / `listEvents`) through prepared
   * better-sqlite3 statements (default true). `false` uses the plain Kysely path; the conformance
   * suite runs both, the bench compares them.
   */
  preparedHotPath?: boolean;
}

export async function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Promise<Store> {
  const memory = file === ":memory:" || file === "";
  let raw: Database.Database;
  try {
    if (!memory) await mkdir(dirname(resolve(file)), { recursive: true });
    raw = new Database(file);
  } catch (err) {
    throw notAStore(file, err);
  }
  try {
    const busyMs = Math.max(0, Math.floor(options.busyTimeoutMs ?? 10_000));
    raw.pragma(`busy_timeout = ${busyMs}`);
    const mode = await switchToWal(raw, busyMs);
    if (!memory && mode !== "wal") {
      throw new OverhaulError(`SQLite store ${file}: cannot switch to WAL (journal_mode is ${String(mode)})`);
    }
    raw.pragma("synchronous = FULL");
    raw.pragma("foreign_keys = ON");
  } catch (err) {
    raw.close();
    throw notAStore(file, err);
  }
  // In-memory databases are private to their connection: nothing to share.
  const gate = acquireGate(memory ? `memory:${Math.random()}` : realpathSync(file));
  const db = new Kysely<DB>({ dialect: new ImmediateSqliteDialect({ database: raw }) });
  // One transaction around a group of hot-path commits (see KyselyStore's group commit).
  const batch = raw.transaction((fn: () => void) => fn());
  const store = new KyselyStore(db, {
    dialect: "sqlite",
    gate: gate.gate,
    prepareHotCommit: options.preparedHotPath === false ? undefined : () => prepareSqliteHotCommit(raw),
    prepareHotLeases: options.preparedHotPath === false ? undefined : () => prepareSqliteHotLeases(raw),
    prepareHotReads: options.preparedHotPath === false ? undefined : () => prepareSqliteHotReads(raw),
    ...(options.preparedHotPath === false ? {} : { runBatch: (fn: () => void) => batch.immediate(fn) }),
    onClose: () => gate.release(),
  });
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

const NOT_A_STORE: Record<string, string> = {
  SQLITE_NOTADB: "it is not a SQLite database",
  SQLITE_CANTOPEN: "SQLite cannot open it (a directory, or in a directory that cannot be written)",
  EEXIST: "a part of its path is a file, not a directory",
  ENOTDIR: "a part of its path is a file, not a directory",
  EACCES: "its directory cannot be created (permission denied)",
};

/** The user's path cannot hold the store: an InputError naming it; anything else as it was. */
function notAStore(file: string, err: unknown): unknown {
  const why = NOT_A_STORE[(err as { code?: string }).code ?? ""];
  if (why === undefined) return err;
  return new InputError(
    {
      file,
      message: `cannot be the database: ${why}`,
      expected: "a database file Overhaul created, a new file name, or a postgres:// URL",
    },
    { cause: err },
  );
}

/**
 * `journal_mode = WAL`, retried while another connection holds the lock it needs (SQLite answers
 * SQLITE_BUSY at once there, without its busy handler), for at most `busyMs`.
 */
async function switchToWal(raw: Database.Database, busyMs: number): Promise<unknown> {
  const started = performance.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return raw.pragma("journal_mode = WAL", { simple: true });
    } catch (err) {
      const busy = (err as { code?: string }).code?.startsWith("SQLITE_BUSY") === true;
      if (!busy || performance.now() - started >= busyMs) throw err;
      await sleep(5 * Math.min(attempt, 20));
    }
  }
}
