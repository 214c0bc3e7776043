/**
 * The SQL store adapter: SQLite (default) and PostgreSQL, one schema through Kysely.
 * Only the composition root (cli/) imports this.
 */
export { MigrationFailedError } from "./migrations.js";
export { openPostgresStore, type PostgresStoreOptions, StoreUnavailableError } from "./postgres.js";
export { openSqliteStore, type SqliteStoreOptions } from "./sqlite.js";
