/**
 * The `Store` port over Kysely: one implementation for SQLite and PostgreSQL.
 *
 * Invariants (see the port's header for the contract):
 * - Every multi-statement write runs in one transaction: SQLite `BEGIN IMMEDIATE` (takes the write
 *   lock up front, so two processes never deadlock on a read-to-write upgrade), Postgres
 *   `BEGIN` at READ COMMITTED, retried whole on deadlock / serialization failure.
 * - Every guarded write is a single compare-and-set UPDATE whose row count decides: lease
 *   (owner, token) for `commitHost`, state for `updateRun` / `operatorHost`, lease freedom for
 *   `acquireLeases` (free, or expired and someone else's: our own lease is never re-granted).
 *   In Postgres the UPDATE also row-locks the host flow until commit, so a racing acquire waits
 *   and then re-checks the lease on the committed row.
 * - A failed guard writes nothing: the guard is the first statement and a throw rolls back.
 * - Leases expire with their holder: `lease_holders` has one expiry per (run, owner), set by every
 *   grant and renewal, so a renewal writes one row, not every held host flow (a 2,000-host run
 *   renewed ~2,000 rows every ten seconds). A host flow's `lease_expires_at` is the expiry it was
 *   granted with, and the effective one when no holder row exists (leases granted before
 *   migration 0003). Reads and the acquire guard use the holder's when there is one. In Postgres
 *   a takeover and a renewal serialize on the holder row: acquire locks the expired holders
 *   (`FOR UPDATE`) before its UPDATE, renew updates its holder row before counting.
 * - SQLite: every write (transaction or single statement) holds the file's `Gate` (see gate.ts), so
 *   two stores of one process never self-deadlock, and the synchronous prepared-statement hot path
 *   for `commitHost` (`prepareHotCommit`) never runs inside a Kysely transaction left open across
 *   an await. The same holds for the prepared per-tick reads (`prepareHotReads`): they run only
 *   while the gate is free, so they never see a transaction's uncommitted writes.
 */
import { type Kysely, sql, type Transaction } from "kysely";
import { hostsInOtherRuns, LeaseLostError, OverhaulError } from "../../core/errors.js";
import {
  CLAIMING_HOST_STATES,
  type HostState,
  type RunState,
  TERMINAL_HOST_STATES,
  TERMINAL_RUN_STATES,
} from "../../core/flow/states.js";
import type { AccessStore } from "../../ports/access.js";
import type {
  AttemptRecord,
  EventRecord,
  HostCommit,
  HostFlowFields,
  HostFlowRecord,
  NewEvent,
  NewHostFlow,
  NewRun,
  PlanRevisionRecord,
  RunRecord,
  Store,
} from "../../ports/store.js";
import { SqlAccessStore } from "./access-store.js";
import { Gate } from "./gate.js";
import { migrateToLatest, type SqlDialect } from "./migrations.js";
import {
  attemptRow,
  eventRow,
  feedOf,
  hostFlowRow,
  hostPatchRow,
  json,
  jsonOrNull,
  runRow,
  toAttempt,
  toEvent,
  toHostFlow,
  toPlanRevision,
  toRun,
} from "./rows.js";
import { type DB, EVENT_SEQ } from "./schema.js";
import type { HotLeases } from "./sqlite-leases.js";
import type { HotReads } from "./sqlite-reads.js";

/** A synchronous, self-contained `commitHost` (one SQLite transaction over prepared statements). */
export type HotCommit = (commit: HostCommit) => void;

export interface KyselyStoreOptions {
  dialect: SqlDialect;
  /** SQLite: the write gate of the database file, shared by the stores of this process. */
  gate?: Gate;
  /** SQLite only: builds the hot path; called once, after migrations. */
  prepareHotCommit?: () => HotCommit;
  /**
   * Whose clock judges leases: `caller` (the `now` each call passes: SQLite, whose coordinators
   * share one machine's clock, and tests on synthetic time) or `database` (PostgreSQL shared by
   * several machines: `acquireLeases` and `renewLeases` read the server's `clock_timestamp()`
   * instead, so a coordinator whose clock is off can neither take a live lease nor grant itself
   * one that others see expired early). Default `caller`.
   */
  leaseClock?: "caller" | "database";
  /** SQLite only: prepared `renewLeases` (joins the group commit); called once, after migrations. */
  prepareHotLeases?: () => HotLeases;
  /** SQLite only: prepared statements for `getRun` / `listEvents`; called once, after migrations. */
  prepareHotReads?: () => HotReads;
  /** SQLite only: runs `fn` inside one BEGIN IMMEDIATE transaction (group commit). */
  runBatch?: (fn: () => void) => void;
  /** Runs after Kysely is destroyed (e.g. close extra handles). */
  onClose?: () => Promise<void> | void;
}

/**
 * A lease's effective expiry, inside a statement on `host_flows` (reads and the acquire guard):
 * its holder's (renewed as one row, see `renewLeases`), else the row's own (a lease granted before
 * holders existed, or no owner).
 */
const LEASE_EXPIRY = sql<
  number | null
>`coalesce((select lh.expires_at from lease_holders lh where lh.run_id = host_flows.run_id and lh.owner = host_flows.lease_owner), host_flows.lease_expires_at)`;

/** Rows per multi-row INSERT: well under SQLite's and Postgres' bound-parameter limits. */
const CHUNK = 200;
const PG_RETRY_CODES = new Set(["40P01", "40001"]);
/** The advisory lock key exclusive `createRun`s take on PostgreSQL (any fixed 64-bit number). */
const CREATE_RUN_LOCK = 0x07e4a11c4e;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

export function leaseLost(c: { runId: string; host: string; owner: string; token: number }): LeaseLostError {
  return new LeaseLostError(
    `lease on host ${c.host} of run ${c.runId} is no longer held by ${c.owner} with token ${c.token}`,
  );
}

export function attemptNotInFlight(runId: string, host: string, seq: number): OverhaulError {
  return new OverhaulError(
    `attempt ${seq} of host ${host} in run ${runId} is not in flight: cannot record its result`,
  );
}

export class KyselyStore implements Store {
  private readonly gate: Gate;
  readonly access: AccessStore;
  private hot: HotCommit | undefined;
  private hotLeases: HotLeases | undefined;
  private hotReads: HotReads | undefined;
  private closed = false;
  /**
   * SQLite group commit. `commitHost` (and `renewLeases`) calls issued in the same turn of the
   * event loop share one transaction, hence one fsync. Each runs inside it as its own savepoint
   * (better-sqlite3 nests transaction functions as savepoints), so a lost lease or a bad attempt
   * fails only that commit. Every promise settles only after the shared transaction is durable, so
   * "intent committed before the effect starts" still holds for each caller.
   */
  private pending: { op: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly opts: KyselyStoreOptions,
  ) {
    this.gate = opts.gate ?? new Gate();
    this.access = new SqlAccessStore(db, (fn) => this.exclusive(fn));
  }

  /** SQLite: run a write while holding the gate. Postgres: just run it. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.sqlite ? this.gate.run(fn) : fn();
  }

  private get sqlite(): boolean {
    return this.opts.dialect === "sqlite";
  }

  /** Text sort by code point on both dialects (Postgres would otherwise use the database's locale). */
  private byText(column: "host" | "name") {
    return this.sqlite ? sql.ref(column) : sql`${sql.ref(column)} collate "C"`;
  }

  /** One write transaction (see header). */
  private async write<T>(fn: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
    if (this.sqlite) {
      return this.gate.run(() =>
        this.db.connection().execute(async (conn) => {
          await sql`begin immediate`.execute(conn);
          try {
            const out = await fn(conn);
            await sql`commit`.execute(conn);
            return out;
          } catch (err) {
            await sql`rollback`.execute(conn).catch(() => {});
            throw err;
          }
        }),
      );
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction().execute((trx: Transaction<DB>) => fn(trx));
      } catch (err) {
        const code = (err as { code?: unknown } | null)?.code;
        if (attempt < 5 && typeof code === "string" && PG_RETRY_CODES.has(code)) continue;
        throw err;
      }
    }
  }

  async migrate(): Promise<void> {
    await this.exclusive(() => migrateToLatest(this.db as unknown as Kysely<unknown>, this.opts.dialect));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.pending.length > 0 || this.flushing)
      await (this.flushing ?? new Promise((r) => setImmediate(r)));
    if (this.sqlite) await this.gate.run(async () => {});
    await this.db.destroy();
    await this.opts.onClose?.();
  }

  // ---- plan revisions ----

  async savePlanRevision(input: {
    name: string;
    hash: string;
    body: string;
    createdAt: number;
  }): Promise<PlanRevisionRecord> {
    // Postgres: two coordinators may pick the same next number; the loser's insert does nothing
    // (unique (name, revision) / (name, hash)) and it looks again.
    for (let attempt = 1; ; attempt++) {
      const saved = await this.write(async (trx) => {
        const existing = await trx
          .selectFrom("plan_revisions")
          .selectAll()
          .where("name", "=", input.name)
          .where("hash", "=", input.hash)
          .executeTakeFirst();
        if (existing) return toPlanRevision(existing);
        const top = await trx
          .selectFrom("plan_revisions")
          .select((eb) => eb.fn.max("revision").as("top"))
          .where("name", "=", input.name)
          .executeTakeFirst();
        const inserted = await trx
          .insertInto("plan_revisions")
          .values({
            name: input.name,
            revision: Number(top?.top ?? 0) + 1,
            hash: input.hash,
            body: input.body,
            created_at: input.createdAt,
          })
          .onConflict((oc) => oc.doNothing())
          .returningAll()
          .executeTakeFirst();
        return inserted ? toPlanRevision(inserted) : undefined;
      });
      if (saved) return saved;
      if (attempt >= 10)
        throw new OverhaulError(`could not save a revision of plan ${input.name}: contention`);
    }
  }

  async getPlanRevision(name: string, revision: number): Promise<PlanRevisionRecord | undefined> {
    const row = await this.db
      .selectFrom("plan_revisions")
      .selectAll()
      .where("name", "=", name)
      .where("revision", "=", revision)
      .executeTakeFirst();
    return row ? toPlanRevision(row) : undefined;
  }

  async listPlanRevisions(name?: string): Promise<PlanRevisionRecord[]> {
    let q = this.db.selectFrom("plan_revisions").selectAll().orderBy(this.byText("name")).orderBy("revision");
    if (name !== undefined) q = q.where("name", "=", name);
    return (await q.execute()).map(toPlanRevision);
  }

  // ---- runs, hosts, attempts, events: reads ----

  async createRun(
    run: NewRun,
    hosts: NewHostFlow[],
    events: NewEvent[],
    opts: { exclusive?: boolean } = {},
  ): Promise<void> {
    const stray = hosts.find((h) => h.runId !== run.id);
    if (stray)
      throw new OverhaulError(`host flow ${stray.host} belongs to run ${stray.runId}, not ${run.id}`);
    await this.write(async (trx) => {
      if (opts.exclusive) await this.refuseHeldHosts(trx, hosts);
      await trx.insertInto("runs").values(runRow(run)).execute();
      for (const part of chunks(hosts)) {
        await trx.insertInto("host_flows").values(part.map(hostFlowRow)).execute();
      }
      await this.appendEvents(trx, events);
    });
  }

  /**
   * Inside `createRun`'s transaction: refuse hosts that an unfinished run holds (see the port).
   * SQLite's BEGIN IMMEDIATE already serializes writers; on PostgreSQL (READ COMMITTED) exclusive
   * creates take one transaction-scoped advisory lock first, so two of them never both see the
   * hosts free.
   */
  private async refuseHeldHosts(
    trx: Kysely<DB>,
    hosts: readonly { host: string }[],
    self?: string,
    what?: string,
  ): Promise<void> {
    if (!this.sqlite) await sql`select pg_advisory_xact_lock(${CREATE_RUN_LOCK})`.execute(trx);
    const busy = [];
    for (const part of chunks([...hosts])) {
      let q = trx
        .selectFrom("host_flows")
        .innerJoin("runs", "runs.id", "host_flows.run_id")
        .select([
          "host_flows.host as host",
          "runs.id as runId",
          "runs.state as runState",
          "host_flows.state as hostState",
        ])
        .where(
          "host_flows.host",
          "in",
          part.map((h) => h.host),
        )
        .where("runs.state", "not in", [...TERMINAL_RUN_STATES])
        .where("host_flows.state", "in", [...CLAIMING_HOST_STATES]);
      if (self !== undefined) q = q.where("runs.id", "<>", self);
      busy.push(...(await q.orderBy(this.byText("host")).execute()));
    }
    if (busy.length > 0) throw hostsInOtherRuns(busy, what);
  }

  /** The prepared reads, when this store has them and no write transaction is open. */
  private reads(): HotReads | undefined {
    if (!this.opts.prepareHotReads || this.gate.busy) return undefined;
    this.hotReads ??= this.opts.prepareHotReads();
    return this.hotReads;
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const hot = this.reads();
    if (hot) return hot.getRun(runId);
    const row = await this.db.selectFrom("runs").selectAll().where("id", "=", runId).executeTakeFirst();
    return row ? toRun(row) : undefined;
  }

  async listRuns(limit?: number, filter: { unfinished?: boolean } = {}): Promise<RunRecord[]> {
    let q = this.db.selectFrom("runs").selectAll().orderBy("created_at", "desc").orderBy("id", "desc");
    if (filter.unfinished) q = q.where("state", "not in", [...TERMINAL_RUN_STATES]);
    if (limit !== undefined) q = q.limit(limit);
    return (await q.execute()).map(toRun);
  }

  async getHosts(runId: string): Promise<HostFlowRecord[]> {
    const rows = await this.hostFlows().where("host_flows.run_id", "=", runId).orderBy("ord").execute();
    return rows.map(toHostFlow);
  }

  async getHost(runId: string, host: string): Promise<HostFlowRecord | undefined> {
    const row = await this.hostFlows()
      .where("host_flows.run_id", "=", runId)
      .where("host_flows.host", "=", host)
      .executeTakeFirst();
    return row ? toHostFlow(row) : undefined;
  }

  /** Host flow rows with each lease's effective expiry (`LEASE_EXPIRY`). */
  private hostFlows() {
    return this.db
      .selectFrom("host_flows")
      .select([
        "host_flows.run_id",
        "host_flows.host",
        "host_flows.wave",
        "host_flows.ord",
        "host_flows.data",
        "host_flows.state",
        "host_flows.step_index",
        "host_flows.phase",
        "host_flows.attempts",
        "host_flows.not_before",
        "host_flows.no_return_index",
        "host_flows.started_at",
        "host_flows.finished_at",
        "host_flows.reason",
        "host_flows.lease_owner",
        "host_flows.lease_token",
      ])
      .select(LEASE_EXPIRY.as("lease_expires_at"));
  }

  async getAttempts(runId: string, host?: string): Promise<AttemptRecord[]> {
    let q = this.db.selectFrom("attempts").selectAll().where("run_id", "=", runId);
    if (host !== undefined) q = q.where("host", "=", host);
    return (await q.orderBy(this.byText("host")).orderBy("seq").execute()).map(toAttempt);
  }

  async listEvents(runId: string, afterSeq = 0, limit?: number): Promise<EventRecord[]> {
    const hot = this.reads();
    if (hot) return hot.listEvents(runId, afterSeq, limit);
    let q = this.db
      .selectFrom("events")
      .selectAll()
      .where("run_id", "=", runId)
      .where("seq", ">", afterSeq)
      .orderBy("seq");
    if (limit !== undefined) q = q.limit(limit);
    return (await q.execute()).map(toEvent);
  }

  async feedSince(
    runId: string,
    afterSeq: number,
    actor: string,
  ): Promise<{ lastSeq: number; foreign: boolean }> {
    const hot = this.reads();
    if (hot) return hot.feedSince(runId, afterSeq, actor);
    const row = await this.db
      .selectFrom("events")
      .select((eb) => [
        eb.fn.max("seq").as("last"),
        sql<number | string | null>`max(case when ${eb.ref("actor")} <> ${actor} then 1 else 0 end)`.as(
          "foreign",
        ),
      ])
      .where("run_id", "=", runId)
      .where("seq", ">", afterSeq)
      .executeTakeFirst();
    return feedOf(afterSeq, row?.last ?? null, row?.foreign ?? null);
  }

  // ---- guarded writes ----

  /** Append events in the current transaction; seq per the schema's rule for the dialect. */
  private async appendEvents(trx: Kysely<DB>, events: readonly NewEvent[]): Promise<void> {
    if (events.length === 0) return;
    if (this.sqlite) {
      for (const part of chunks(events)) {
        await trx
          .insertInto("events")
          .values(part.map((e) => eventRow(e)))
          .execute();
      }
      return;
    }
    // One statement per chunk: bump the counter and insert with the numbers it hands out, so the
    // counter's row lock is held only from here to commit.
    for (const part of chunks(events)) {
      const n = part.length;
      const values = sql.join(
        part.map(
          (e, i) =>
            sql`(${i + 1}::bigint, ${e.runId}::text, ${e.host}::text, ${e.at}::bigint, ${e.type}::text, ${e.actor}::text, ${json(e.data)}::text)`,
        ),
      );
      await sql`with s as (
          update counters set value = value + ${n}::bigint where name = ${EVENT_SEQ} returning value
        )
        insert into events (seq, run_id, host, at, type, actor, data)
        select s.value - ${n}::bigint + v.i, v.run_id, v.host, v.at, v.type, v.actor, v.data
        from s, (values ${values}) as v (i, run_id, host, at, type, actor, data)`.execute(trx);
    }
  }

  async updateRun(
    runId: string,
    expect: readonly RunState[],
    patch: Partial<Pick<RunRecord, "state" | "currentWave" | "reason" | "updatedAt">>,
    events: NewEvent[],
    opts: { exclusive?: boolean } = {},
  ): Promise<boolean> {
    if (expect.length === 0) return false;
    const set: { state?: string; current_wave?: number; reason?: string | null; updated_at?: number } = {};
    if (patch.state !== undefined) set.state = patch.state;
    if (patch.currentWave !== undefined) set.current_wave = patch.currentWave;
    if (patch.reason !== undefined) set.reason = patch.reason;
    if (patch.updatedAt !== undefined) set.updated_at = patch.updatedAt;
    return this.write(async (trx) => {
      if (opts.exclusive) {
        const run = await trx.selectFrom("runs").select("state").where("id", "=", runId).executeTakeFirst();
        if (!run || !expect.includes(run.state as RunState)) return false;
        const mine = await trx
          .selectFrom("host_flows")
          .select("host")
          .where("run_id", "=", runId)
          .where("state", "in", [...CLAIMING_HOST_STATES])
          .execute();
        if (mine.length > 0) await this.refuseHeldHosts(trx, mine, runId, `run ${runId} does not go on`);
      }
      const res = await trx
        .updateTable("runs")
        .set((eb) => (Object.keys(set).length > 0 ? set : { state: eb.ref("state") }))
        .where("id", "=", runId)
        .where("state", "in", [...expect])
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return false;
      await this.appendEvents(trx, events);
      return true;
    });
  }

  async acquireLeases(
    runId: string,
    owner: string,
    callerNow: number,
    ttlMs: number,
  ): Promise<HostFlowRecord[]> {
    const rows = await this.write(async (trx) => {
      const now = await this.leaseNow(trx, callerNow);
      const expiresAt = now + ttlMs;
      if (!this.sqlite) {
        // Postgres: lock the expired holders first. A renewal of one of them in flight holds its
        // row, so we wait for it and the UPDATE below (a new snapshot at READ COMMITTED) sees it:
        // a lease renewed in time is never taken. SQLite serializes every write anyway.
        await trx
          .selectFrom("lease_holders")
          .select("owner")
          .where("run_id", "=", runId)
          .where("owner", "!=", owner)
          .where("expires_at", "<=", now)
          .orderBy("owner")
          .forUpdate()
          .execute();
      }
      // One UPDATE decides: in Postgres a racing acquirer blocks on the row lock and then
      // re-evaluates the WHERE against the committed row, so each lease goes to one owner.
      const granted = await trx
        .updateTable("host_flows")
        .set((eb) => ({
          lease_owner: owner,
          lease_token: eb("lease_token", "+", 1),
          lease_expires_at: expiresAt,
        }))
        .where("run_id", "=", runId)
        .where("state", "not in", [...TERMINAL_HOST_STATES])
        .where((eb) =>
          eb.or([
            eb("lease_owner", "is", null),
            // Expired leases of other owners only: re-granting our own (with a new token) would
            // fence our own unit in flight and let a second flow of the same host start.
            eb.and([
              eb("lease_owner", "!=", owner),
              eb.or([eb(LEASE_EXPIRY, "is", null), eb(LEASE_EXPIRY, "<=", now)]),
            ]),
          ]),
        )
        .returningAll()
        .execute();
      if (granted.length > 0) await this.holderExpires(trx, runId, owner, expiresAt);
      return granted;
    });
    return rows.map(toHostFlow).sort((a, b) => a.order - b.order);
  }

  /** The time leases are judged by (see `leaseClock`): the caller's, or the database server's. */
  private async leaseNow(trx: Kysely<DB>, callerNow: number): Promise<number> {
    if (this.opts.leaseClock !== "database") return callerNow;
    const r = await sql<{
      ms: number | string;
    }>`select floor(extract(epoch from clock_timestamp()) * 1000)::int8 as ms`.execute(trx);
    return Number(r.rows[0]?.ms);
  }

  /** Set `owner`'s expiry in the run (the expiry of every lease it holds there). */
  private async holderExpires(
    trx: Kysely<DB>,
    runId: string,
    owner: string,
    expiresAt: number,
  ): Promise<void> {
    await trx
      .insertInto("lease_holders")
      .values({ run_id: runId, owner, expires_at: expiresAt })
      .onConflict((oc) => oc.columns(["run_id", "owner"]).doUpdateSet({ expires_at: expiresAt }))
      .execute();
  }

  async renewLeases(runId: string, owner: string, callerNow: number, ttlMs: number): Promise<number> {
    if (this.opts.prepareHotLeases) {
      this.hotLeases ??= this.opts.prepareHotLeases();
      const hot = this.hotLeases;
      return this.hotWrite(() => hot.renew(runId, owner, callerNow + ttlMs));
    }
    return this.write(async (trx) => {
      const expiresAt = (await this.leaseNow(trx, callerNow)) + ttlMs;
      // The holder row first: in Postgres this waits for an acquirer that locked it (see
      // `acquireLeases`), so the count below, a new snapshot, sees what that acquirer took.
      const renewed = await trx
        .updateTable("lease_holders")
        .set({ expires_at: expiresAt })
        .where("run_id", "=", runId)
        .where("owner", "=", owner)
        .executeTakeFirst();
      const row = await trx
        .selectFrom("host_flows")
        .select((eb) => eb.fn.countAll<number | string>().as("n"))
        .where("run_id", "=", runId)
        .where("lease_owner", "=", owner)
        .executeTakeFirstOrThrow();
      const held = Number(row.n);
      // One row however many leases: they all expire with their holder. No holder row yet
      // (leases granted before migration 0003): make one.
      if (held > 0 && Number(renewed.numUpdatedRows) === 0)
        await this.holderExpires(trx, runId, owner, expiresAt);
      return held;
    });
  }

  async releaseLeases(runId: string, owner: string): Promise<void> {
    await this.write(async (trx) => {
      await trx
        .updateTable("host_flows")
        .set({ lease_owner: null, lease_expires_at: null })
        .where("run_id", "=", runId)
        .where("lease_owner", "=", owner)
        .execute();
      await trx.deleteFrom("lease_holders").where("run_id", "=", runId).where("owner", "=", owner).execute();
    });
  }

  async commitHost(commit: HostCommit): Promise<void> {
    checkCommitTargets(commit);
    if (this.opts.prepareHotCommit) {
      this.hot ??= this.opts.prepareHotCommit();
      const hot = this.hot;
      return this.hotWrite(() => hot(commit));
    }
    await this.write(async (trx) => {
      const patch = hostPatchRow(commit.patch);
      const res = await trx
        .updateTable("host_flows")
        .set((eb) => (Object.keys(patch).length > 0 ? patch : { lease_token: eb.ref("lease_token") }))
        .where("run_id", "=", commit.runId)
        .where("host", "=", commit.host)
        .where("lease_owner", "=", commit.owner)
        .where("lease_token", "=", commit.token)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) throw leaseLost(commit);
      if (commit.intent) await trx.insertInto("attempts").values(attemptRow(commit.intent)).execute();
      if (commit.result) {
        const r = commit.result;
        const done = await trx
          .updateTable("attempts")
          .set({ state: r.state, finished_at: r.finishedAt, result: jsonOrNull(r.result) })
          .where("run_id", "=", commit.runId)
          .where("host", "=", commit.host)
          .where("seq", "=", r.seq)
          .where("state", "=", "started")
          .executeTakeFirst();
        if (Number(done.numUpdatedRows) === 0) throw attemptNotInFlight(commit.runId, commit.host, r.seq);
      }
      await this.appendEvents(trx, commit.events ?? []);
    });
  }

  /**
   * A synchronous prepared-statement write (SQLite's hot path): in the next group commit when
   * there is one (see `pending`), else at once. Nothing can interleave once it starts; it only
   * waits if a Kysely write transaction is open on the shared connection.
   */
  private async hotWrite<T>(op: () => T): Promise<T> {
    if (this.opts.runBatch) return this.groupCommit(op);
    return this.gate.busy ? this.gate.run(async () => op()) : op();
  }

  /** Run the synchronous write `op` in the next group-commit transaction (see `pending`). */
  private groupCommit<T>(op: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ op, resolve: resolve as (v: unknown) => void, reject });
      if (this.pending.length === 1) {
        setImmediate(() => {
          this.flushing = this.flush().finally(() => {
            this.flushing = undefined;
          });
        });
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    const results: { ok: boolean; value: unknown }[] = [];
    const body = () => {
      for (const b of batch) {
        try {
          results.push({ ok: true, value: b.op() });
        } catch (e) {
          results.push({ ok: false, value: e });
        }
      }
    };
    const runBatch = this.opts.runBatch as (fn: () => void) => void;
    try {
      if (!this.gate.busy) runBatch(body);
      else await this.gate.run(async () => runBatch(body));
    } catch (e) {
      for (const b of batch) b.reject(e);
      return;
    }
    batch.forEach((b, i) => {
      const r = results[i] as { ok: boolean; value: unknown };
      if (r.ok) b.resolve(r.value);
      else b.reject(r.value);
    });
  }

  async operatorHost(
    runId: string,
    host: string,
    expect: readonly HostState[],
    patch: Partial<HostFlowFields>,
    events: NewEvent[],
  ): Promise<boolean> {
    if (expect.length === 0) return false;
    return this.write(async (trx) => {
      const res = await trx
        .updateTable("host_flows")
        .set((eb) => ({
          ...hostPatchRow(patch),
          // Fence whoever held the lease: their (owner, token) no longer matches.
          lease_token: eb("lease_token", "+", 1),
          lease_owner: null,
          lease_expires_at: null,
        }))
        .where("run_id", "=", runId)
        .where("host", "=", host)
        .where("state", "in", [...expect])
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return false;
      await this.appendEvents(trx, events);
      return true;
    });
  }
}

/** An intent or result must belong to the host flow being committed (a bug otherwise). */
export function checkCommitTargets(c: HostCommit): void {
  const i = c.intent;
  if (i && (i.runId !== c.runId || i.host !== c.host)) {
    throw new OverhaulError(`attempt intent for ${i.runId}/${i.host} committed on ${c.runId}/${c.host}`);
  }
}
