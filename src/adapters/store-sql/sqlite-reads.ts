/**
 * SQLite hot path for the reads a coordinator makes on every tick: `getRun` and `listEvents`.
 *
 * Why it exists: Kysely compiles the query tree and re-prepares the SQL on every call; a simulated
 * 2,000-host run ticks ~15,000 times (one tick per virtual second), and those two reads then cost
 * more than the run's durable commits. Here the statements are prepared once.
 *
 * Invariants (same as the Kysely path, which stays the reference and is tested by the same suite):
 * - The same SQL as the Kysely queries and the same row mapping (`rows.ts`), so both paths return
 *   identical records.
 * - Used only while no Kysely write transaction is open on the shared connection (the store checks
 *   its write gate), so a read never sees another caller's uncommitted writes.
 */
import type { Database } from "better-sqlite3";
import type { Selectable } from "kysely";
import type { EventRecord, RunRecord } from "../../ports/store.js";
import { toEvent, toRun } from "./rows.js";
import type { EventsTable, RunsTable } from "./schema.js";

export interface HotReads {
  getRun(runId: string): RunRecord | undefined;
  listEvents(runId: string, afterSeq: number, limit?: number): EventRecord[];
}

type Row<T> = Selectable<T>;

export function prepareSqliteHotReads(raw: Database): HotReads {
  const run = raw.prepare<[string], Row<RunsTable>>('select * from "runs" where "id" = ?');
  const events = raw.prepare<[string, number], Row<EventsTable>>(
    'select * from "events" where "run_id" = ? and "seq" > ? order by "seq"',
  );
  const eventsUpTo = raw.prepare<[string, number, number], Row<EventsTable>>(
    'select * from "events" where "run_id" = ? and "seq" > ? order by "seq" limit ?',
  );
  return {
    getRun(runId) {
      const row = run.get(runId);
      return row ? toRun(row) : undefined;
    },
    listEvents(runId, afterSeq, limit) {
      const rows = limit === undefined ? events.all(runId, afterSeq) : eventsUpTo.all(runId, afterSeq, limit);
      return rows.map(toEvent);
    },
  };
}
