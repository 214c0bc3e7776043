/**
 * Numbered schema migrations, run at start-up by `Store.migrate()` through Kysely's Migrator.
 *
 * Invariants:
 * - One migration set for both dialects; the only difference is the integer type of 64-bit
 *   columns (`bigint` in Postgres, `integer` in SQLite, where `integer primary key` is the rowid).
 * - Migrations are append-only: never edit a released one, add `000N_...` instead. Names sort in
 *   the order they must run; Kysely refuses unknown or out-of-order history.
 * - Each migration runs in a transaction (both dialects have transactional DDL), so a crash
 *   mid-migration leaves the previous schema; running `migrate()` again is harmless.
 */
import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from "kysely";
import { OverhaulError } from "../../core/errors.js";
import { EVENT_SEQ } from "./schema.js";

export type SqlDialect = "sqlite" | "postgres";

function migrationSet(dialect: SqlDialect): Record<string, Migration> {
  // 64-bit integers: epoch ms, fencing tokens, seeds, event sequence numbers.
  const big = dialect === "postgres" ? "bigint" : "integer";
  return {
    "0001_initial": {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable("plan_revisions")
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("revision", "integer", (c) => c.notNull())
          .addColumn("hash", "text", (c) => c.notNull())
          .addColumn("body", "text", (c) => c.notNull())
          .addColumn("created_at", big, (c) => c.notNull())
          .addPrimaryKeyConstraint("plan_revisions_pk", ["name", "revision"])
          .addUniqueConstraint("plan_revisions_hash_uq", ["name", "hash"])
          .execute();

        await db.schema
          .createTable("runs")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("plan_name", "text", (c) => c.notNull())
          .addColumn("plan_revision", "integer", (c) => c.notNull())
          .addColumn("plan_hash", "text", (c) => c.notNull())
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("current_wave", "integer", (c) => c.notNull())
          .addColumn("seed", big, (c) => c.notNull())
          .addColumn("options", "text", (c) => c.notNull())
          .addColumn("reason", "text")
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("updated_at", big, (c) => c.notNull())
          .addForeignKeyConstraint("runs_plan_fk", ["plan_name", "plan_revision"], "plan_revisions", [
            "name",
            "revision",
          ])
          .execute();
        await db.schema.createIndex("runs_created_idx").on("runs").columns(["created_at", "id"]).execute();

        await db.schema
          .createTable("host_flows")
          .addColumn("run_id", "text", (c) => c.notNull().references("runs.id"))
          .addColumn("host", "text", (c) => c.notNull())
          .addColumn("wave", "integer", (c) => c.notNull())
          .addColumn("ord", "integer", (c) => c.notNull())
          .addColumn("data", "text", (c) => c.notNull())
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("step_index", "integer", (c) => c.notNull())
          .addColumn("phase", "text", (c) => c.notNull())
          .addColumn("attempts", "integer", (c) => c.notNull())
          .addColumn("not_before", big)
          .addColumn("no_return_index", "integer", (c) => c.notNull())
          .addColumn("started_at", big)
          .addColumn("finished_at", big)
          .addColumn("reason", "text")
          .addColumn("lease_owner", "text")
          .addColumn("lease_token", big, (c) => c.notNull().defaultTo(0))
          .addColumn("lease_expires_at", big)
          .addPrimaryKeyConstraint("host_flows_pk", ["run_id", "host"])
          .execute();
        await db.schema
          .createIndex("host_flows_ord_idx")
          .on("host_flows")
          .columns(["run_id", "ord"])
          .execute();

        await db.schema
          .createTable("attempts")
          .addColumn("run_id", "text", (c) => c.notNull())
          .addColumn("host", "text", (c) => c.notNull())
          .addColumn("seq", "integer", (c) => c.notNull())
          .addColumn("step_index", "integer", (c) => c.notNull())
          .addColumn("step_name", "text", (c) => c.notNull())
          .addColumn("phase", "text", (c) => c.notNull())
          .addColumn("number", "integer", (c) => c.notNull())
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("token", big, (c) => c.notNull())
          .addColumn("pre", "text")
          .addColumn("result", "text")
          .addColumn("started_at", big, (c) => c.notNull())
          .addColumn("finished_at", big)
          .addPrimaryKeyConstraint("attempts_pk", ["run_id", "host", "seq"])
          .addForeignKeyConstraint("attempts_host_fk", ["run_id", "host"], "host_flows", ["run_id", "host"])
          .execute();

        await db.schema
          .createTable("events")
          // SQLite: `integer primary key` is the rowid; an insert without `seq` gets max(seq) + 1.
          // Writers are serialized (BEGIN IMMEDIATE) and events are never deleted, so seq follows
          // commit order with no gaps (no AUTOINCREMENT needed: it would only add a write to
          // sqlite_sequence). Postgres: seq comes from the `counters` row, see below.
          .addColumn("seq", big, (c) => c.primaryKey())
          .addColumn("run_id", "text", (c) => c.notNull().references("runs.id"))
          .addColumn("host", "text")
          .addColumn("at", big, (c) => c.notNull())
          .addColumn("type", "text", (c) => c.notNull())
          .addColumn("actor", "text", (c) => c.notNull())
          .addColumn("data", "text", (c) => c.notNull())
          .execute();
        await db.schema.createIndex("events_run_idx").on("events").columns(["run_id", "seq"]).execute();

        if (dialect === "postgres") {
          // A sequence (bigserial) is neither gap-free nor in commit order with concurrent writers:
          // a reader tailing `seq > N` could miss an event committed late with a smaller seq.
          // Incrementing this row inside the writing transaction serializes event writers on
          // the row lock until commit, so seq order = commit order and a rollback leaves no gap.
          await db.schema
            .createTable("counters")
            .addColumn("name", "text", (c) => c.primaryKey())
            .addColumn("value", big, (c) => c.notNull())
            .execute();
          await sql`insert into counters (name, value) values (${EVENT_SEQ}, 0)`.execute(db);
        }
      },
    },
    "0002_access": {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable("api_tokens")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("name", "text", (c) => c.notNull().unique())
          .addColumn("role", "text", (c) => c.notNull())
          .addColumn("hash", "text", (c) => c.notNull().unique())
          .addColumn("created_at", big, (c) => c.notNull())
          .addColumn("created_by", "text", (c) => c.notNull())
          .addColumn("revoked_at", big)
          .execute();
        await db.schema
          .createTable("audit_log")
          // Ordering only (readers page by seq); gaps after a Postgres rollback are harmless here.
          .addColumn("seq", dialect === "postgres" ? "bigserial" : "integer", (c) => c.primaryKey())
          .addColumn("at", big, (c) => c.notNull())
          .addColumn("actor", "text", (c) => c.notNull())
          .addColumn("token_id", "text")
          .addColumn("role", "text")
          .addColumn("remote", "text", (c) => c.notNull())
          .addColumn("action", "text", (c) => c.notNull())
          .addColumn("target", "text")
          .addColumn("status", "integer", (c) => c.notNull())
          .addColumn("outcome", "text", (c) => c.notNull())
          .addColumn("detail", "text", (c) => c.notNull())
          .execute();
      },
    },
    "0003_lease_holders": {
      async up(db: Kysely<unknown>): Promise<void> {
        // One expiry per coordinator and run (see kysely-store.ts, leases): renewing is one row,
        // not one per held host flow. host_flows.lease_expires_at stays, for leases granted
        // before this migration (no holder row) and as the expiry a lease was granted with.
        await db.schema
          .createTable("lease_holders")
          .addColumn("run_id", "text", (c) => c.notNull().references("runs.id"))
          .addColumn("owner", "text", (c) => c.notNull())
          .addColumn("expires_at", big, (c) => c.notNull())
          .addPrimaryKeyConstraint("lease_holders_pk", ["run_id", "owner"])
          .execute();
        await db.schema
          .createIndex("host_flows_lease_idx")
          .on("host_flows")
          .columns(["run_id", "lease_owner"])
          .execute();
      },
    },
  };
}

class InCodeProvider implements MigrationProvider {
  constructor(private readonly dialect: SqlDialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrationSet(this.dialect);
  }
}

export class MigrationFailedError extends OverhaulError {
  override readonly name = "MigrationFailedError";
}

/** True for SQLite lock contention (another process migrating or writing at the same moment). */
function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("SQLITE_BUSY");
}

/**
 * Bring the schema to the latest migration. Postgres: Kysely holds an advisory lock, so concurrent
 * coordinators are safe. SQLite: the migration transaction is `BEGIN IMMEDIATE` (sqlite-dialect.ts),
 * so a second process waits for the first; should it still get SQLITE_BUSY (its busy timeout ran
 * out), nothing was applied and we retry.
 */
export async function migrateToLatest(db: Kysely<unknown>, dialect: SqlDialect): Promise<void> {
  const migrator = new Migrator({ db, provider: new InCodeProvider(dialect) });
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    if (!error) return;
    if (dialect === "sqlite" && isBusy(error) && attempt < 50) {
      await new Promise((r) => setTimeout(r, 20 * Math.min(attempt, 10)));
      continue;
    }
    const failed = results?.find((r) => r.status === "Error")?.migrationName;
    throw new MigrationFailedError(
      `store migration ${failed ?? "(setup)"} failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}
