/**
 * SQLite hot path for `renewLeases`: prepared statements, one synchronous transaction, so a
 * renewal can join the store's group commit (kysely-store.ts) and share its fsync.
 *
 * Invariants (same as the Kysely path, which stays the reference and is tested by the same suite):
 * - Counts the host flows `owner` holds in the run and, when there are any, sets the holder's one
 *   expiry row (`lease_holders`) to `expiresAt`; holds none: writes nothing.
 * - A transaction function: inside the group-commit transaction it runs as a savepoint.
 */
import type { Database } from "better-sqlite3";

export interface HotLeases {
  /** How many host flows `owner` holds in the run; extends their expiry when there are any. */
  renew(runId: string, owner: string, expiresAt: number): number;
}

export function prepareSqliteHotLeases(raw: Database): HotLeases {
  const held = raw
    .prepare<[string, string], number>("select count(*) from host_flows where run_id = ? and lease_owner = ?")
    .pluck();
  const expires = raw.prepare<[string, string, number]>(
    `insert into lease_holders (run_id, owner, expires_at) values (?, ?, ?)
     on conflict (run_id, owner) do update set expires_at = excluded.expires_at`,
  );
  const renew = raw.transaction((runId: string, owner: string, expiresAt: number): number => {
    const n = held.get(runId, owner) ?? 0;
    if (n > 0) expires.run(runId, owner, expiresAt);
    return n;
  });
  return { renew: (runId, owner, expiresAt) => renew.immediate(runId, owner, expiresAt) };
}
