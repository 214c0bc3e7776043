/**
 * Open the PostgreSQL store (several coordinators sharing one database).
 *
 * Invariants:
 * - int8 columns (times, tokens, seeds, event seq) come back as JS numbers, parsed per pool (not
 *   through pg's global type registry, which other code in the process may rely on). Values
 *   outside the safe-integer range are an error, never silently rounded.
 * - Every commit is a Postgres commit (synchronous_commit as the server is configured).
 * - Leases are judged by the database server's clock (`leaseClock: "database"`): coordinators on
 *   machines whose clocks disagree still agree on when a lease expires.
 * - Migrations run before the store is returned; Kysely serializes concurrent migrators with an
 *   advisory lock.
 * - A server that cannot be reached (refused, unknown host, no answer within CONNECT_TIMEOUT_MS,
 *   bad password, no such database) is a `StoreUnavailableError` naming host, port and database,
 *   never the user or password, before any pool is made.
 */
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { OverhaulError } from "../../core/errors.js";
import type { Store } from "../../ports/store.js";
import { KyselyStore } from "./kysely-store.js";
import type { DB } from "./schema.js";

const INT8_OID = 20;

function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${text} is outside the safe integer range`);
  return n;
}

const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary"
      ? parseInt8
      : pg.types.getTypeParser(oid, format ?? "text")) as pg.CustomTypesConfig["getTypeParser"],
};

/** How long the first connection may take before the server counts as unreachable. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** The database cannot be reached: nothing was read or written. */
export class StoreUnavailableError extends OverhaulError {
  override readonly name = "StoreUnavailableError";
}

/** host:port/database of a connection string, without user or password. */
export function describeDatabase(connectionString: string): string {
  try {
    const u = new URL(connectionString);
    const host = u.hostname || u.searchParams.get("host") || "localhost";
    return `${host}:${u.port || "5432"}${u.pathname || "/"}`;
  } catch {
    return "(a connection string that is not a URL)";
  }
}

/** One connection, then closed: a clear error now rather than a pool's failure later. */
async function reach(connectionString: string): Promise<void> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // A connection that fails after connecting (server shutdown) must not crash the process.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    const why = err instanceof Error ? err.message : String(err);
    throw new StoreUnavailableError(
      `cannot reach the PostgreSQL database at ${describeDatabase(connectionString)}: ${why} (is the server running, and are --db / OVERHAUL_DB right?)`,
      { cause: err },
    );
  }
  await client.end();
}

export interface PostgresStoreOptions {
  /** Pool size (default 10). */
  max?: number;
  /**
   * Whose clock judges leases (see KyselyStoreOptions): `database` (the default: coordinators on
   * several machines, whose clocks may disagree) or `caller` (tests on synthetic time).
   */
  leaseClock?: "database" | "caller";
}

export async function openPostgresStore(
  connectionString: string,
  options: PostgresStoreOptions = {},
): Promise<Store> {
  await reach(connectionString);
  const pool = new pg.Pool({ connectionString, max: options.max ?? 10, types });
  // An idle client's error (server restart) must not crash the process; the next query fails instead.
  pool.on("error", () => {});
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  const store = new KyselyStore(db, { dialect: "postgres", leaseClock: options.leaseClock ?? "database" });
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
