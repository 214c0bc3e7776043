/**
 * SQLite hot path for `commitHost`: one `BEGIN IMMEDIATE` transaction over prepared statements.
 *
 * Why it exists: `commitHost` is the engine's durable step transition (intent before the effect,
 * result after). Kysely's SqliteDialect compiles the query tree and re-prepares the SQL on every
 * call and adds several promise hops per statement; measured, that costs a large share of the raw
 * durable commit rate (see `kysely-store.ts` and the bench). Here the statements are prepared
 * once, and the whole transaction runs synchronously, so nothing can interleave with it.
 *
 * Invariants (same as the Kysely path, which stays the reference and is tested by the same suite):
 * - The first statement is the compare-and-set on (lease_owner, lease_token); zero rows changed
 *   means the lease is lost: throw `LeaseLostError`, and better-sqlite3 rolls the transaction back.
 * - The attempt result updates only an attempt still `started`.
 * - Events get seq = max + 1 (rowid) under the write lock: commit order, no gaps.
 * - Rows are built by `rows.ts`, so both paths write identical data.
 */
import type { Database, Statement } from "better-sqlite3";
import type { HostCommit } from "../../ports/store.js";
import { attemptNotInFlight, type HotCommit, leaseLost } from "./kysely-store.js";
import { attemptRow, HOST_FIELDS, hostPatchRow, json, jsonOrNull } from "./rows.js";

export function prepareSqliteHotCommit(raw: Database): HotCommit {
  // One UPDATE per set of patched fields, keyed by a bitmask over HOST_FIELDS' fixed order.
  const updates = new Map<number, { stmt: Statement; columns: string[] }>();
  const updateFor = (mask: number) => {
    let u = updates.get(mask);
    if (!u) {
      const columns = HOST_FIELDS.filter((_, i) => mask & (1 << i)).map(([, c]) => c);
      const set =
        columns.length > 0 ? columns.map((c) => `${c} = ?`).join(", ") : "lease_token = lease_token";
      const stmt = raw.prepare(
        `update host_flows set ${set} where run_id = ? and host = ? and lease_owner = ? and lease_token = ?`,
      );
      u = { stmt, columns };
      updates.set(mask, u);
    }
    return u;
  };
  const insertAttempt = raw.prepare(
    `insert into attempts (run_id, host, seq, step_index, step_name, phase, number, state, token, pre,
       result, started_at, finished_at)
     values (@run_id, @host, @seq, @step_index, @step_name, @phase, @number, @state, @token, @pre,
       @result, @started_at, @finished_at)`,
  );
  const finishAttempt = raw.prepare(
    `update attempts set state = ?, finished_at = ?, result = ?
     where run_id = ? and host = ? and seq = ? and state = 'started'`,
  );
  const insertEvent = raw.prepare(
    "insert into events (run_id, host, at, type, actor, data) values (?, ?, ?, ?, ?, ?)",
  );

  const txn = raw.transaction((c: HostCommit) => {
    let mask = 0;
    if (c.patch) {
      for (let i = 0; i < HOST_FIELDS.length; i++) {
        const [field] = HOST_FIELDS[i]!;
        if (c.patch[field] !== undefined) mask |= 1 << i;
      }
    }
    const u = updateFor(mask);
    const row = hostPatchRow(c.patch) as Record<string, unknown>;
    const args: unknown[] = u.columns.map((col) => row[col]);
    args.push(c.runId, c.host, c.owner, c.token);
    if (u.stmt.run(args).changes === 0) throw leaseLost(c);
    if (c.intent) insertAttempt.run(attemptRow(c.intent));
    if (c.result) {
      const r = c.result;
      const res = finishAttempt.run(r.state, r.finishedAt, jsonOrNull(r.result), c.runId, c.host, r.seq);
      if (res.changes === 0) throw attemptNotInFlight(c.runId, c.host, r.seq);
    }
    if (c.events) {
      for (const e of c.events) insertEvent.run(e.runId, e.host, e.at, e.type, e.actor, json(e.data));
    }
  });
  return (commit) => txn.immediate(commit);
}
