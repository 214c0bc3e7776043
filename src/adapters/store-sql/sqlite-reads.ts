/**
 * SQLite hot path for the reads a coordinator makes on every tick: `getRun`, `listEvents` and
 * `feedSince`.
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
import { feedOf, toEvent, toRun } from "./rows.js";
import type { EventsTable, RunsTable } from "./schema.js";

export interface HotReads {
  getRun(runId: string): RunRecord | undefined;
  listEvents(runId: string, afterSeq: number, limit?: number): EventRecord[];
  feedSince(runId: string, afterSeq: number, actor: string): { lastSeq: number; foreign: boolean };
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
  const feed = raw.prepare<[string, string, number], { last: number | null; foreign: number | null }>(
    `select max("seq") as "last", max(case when "actor" <> ? then 1 else 0 end) as "foreign"
     from "events" where "run_id" = ? and "seq" > ?`,
  );
  return {
    feedSince(runId, afterSeq, actor) {
      const row = feed.get(actor, runId, afterSeq);
      return feedOf(afterSeq, row?.last ?? null, row?.foreign ?? null);
    },
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
