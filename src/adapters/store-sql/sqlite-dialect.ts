/**
 * Kysely's SQLite dialect, adjusted for several processes sharing one database file.
 *
 * Invariants:
 * - Every Kysely transaction starts with `BEGIN IMMEDIATE`: it takes the write lock (waiting up to
 *   `busy_timeout`) before its first read, so what it reads cannot be stale by the time it writes.
 * - Migrations run inside one such transaction (SQLite has transactional DDL; Kysely's stock adapter
 *   says it has not, and then runs each migration bare). Two processes opening a fresh file at the
 *   same moment therefore serialize: the second waits, then sees the migrations already applied.
 *   A crash mid-migration leaves the previous schema.
 */

import type { SqliteDialectConfig } from "kysely";
import { CompiledQuery, type DatabaseConnection, SqliteAdapter, SqliteDialect, SqliteDriver } from "kysely";

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}

class TransactionalSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

export class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): SqliteDriver {
    return new ImmediateSqliteDriver(this.#config);
  }
  override createAdapter(): SqliteAdapter {
    return new TransactionalSqliteAdapter();
  }
}
