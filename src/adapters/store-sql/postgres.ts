/**
 * Open the PostgreSQL store (several coordinators sharing one database).
 *
 * Invariants:
 * - int8 columns (times, tokens, seeds, event seq) come back as JS numbers, parsed per pool (not
 *   through pg's global type registry, which other code in the process may rely on). Values
 *   outside the safe-integer range are an error, never silently rounded.
 * - Every commit is a Postgres commit (synchronous_commit as the server is configured).
 * - Migrations run before the store is returned; Kysely serializes concurrent migrators with an
 *   advisory lock.
 */
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
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

export interface PostgresStoreOptions {
  /** Pool size (default 10). */
  max?: number;
}

export async function openPostgresStore(
  connectionString: string,
  options: PostgresStoreOptions = {},
): Promise<Store> {
  const pool = new pg.Pool({ connectionString, max: options.max ?? 10, types });
  // An idle client's error (server restart) must not crash the process; the next query fails instead.
  pool.on("error", () => {});
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  const store = new KyselyStore(db, { dialect: "postgres" });
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
