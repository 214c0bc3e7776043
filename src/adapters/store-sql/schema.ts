/**
 * Kysely table types of the SQL store: the one schema shared by SQLite and PostgreSQL.
 *
 * Invariants:
 * - Column names are snake_case; `rows.ts` is the only place that maps them to the port's records.
 * - Times, tokens, seeds and sequence numbers are 64-bit integers (`bigint` in Postgres, parsed back
 *   to `number` by the pool; `integer` in SQLite, which is 64-bit there anyway).
 * - JSON columns hold text (`JSON.stringify`), so both dialects store byte-identical documents.
 * - Event `seq` follows commit order with no gaps on both dialects: SQLite assigns the rowid
 *   (max + 1) under its single writer; Postgres takes it from the `counters` row (Postgres only)
 *   inside the writing transaction (a Postgres sequence would give neither property).
 */
import type { Generated } from "kysely";

export interface PlanRevisionsTable {
  name: string;
  revision: number;
  hash: string;
  body: string;
  created_at: number;
}

export interface RunsTable {
  id: string;
  plan_name: string;
  plan_revision: number;
  plan_hash: string;
  state: string;
  current_wave: number;
  seed: number;
  /** JSON text. */
  options: string;
  reason: string | null;
  created_at: number;
  updated_at: number;
}

export interface HostFlowsTable {
  run_id: string;
  host: string;
  wave: number;
  ord: number;
  /** JSON text. */
  data: string;
  state: string;
  step_index: number;
  phase: string;
  attempts: number;
  not_before: number | null;
  no_return_index: number;
  started_at: number | null;
  finished_at: number | null;
  reason: string | null;
  lease_owner: string | null;
  lease_token: Generated<number>;
  lease_expires_at: number | null;
}

/** A coordinator's leases in a run expire together: one row per (run, owner). */
export interface LeaseHoldersTable {
  run_id: string;
  owner: string;
  expires_at: number;
}

export interface AttemptsTable {
  run_id: string;
  host: string;
  seq: number;
  step_index: number;
  step_name: string;
  phase: string;
  number: number;
  state: string;
  token: number;
  /** JSON text or null. */
  pre: string | null;
  /** JSON text or null. */
  result: string | null;
  started_at: number;
  finished_at: number | null;
}

export interface EventsTable {
  /** Optional on insert: SQLite assigns it. */
  seq: Generated<number>;
  run_id: string;
  host: string | null;
  at: number;
  type: string;
  actor: string;
  /** JSON text. */
  data: string;
}

export interface CountersTable {
  name: string;
  value: number;
}

export interface ApiTokensTable {
  id: string;
  name: string;
  role: string;
  hash: string;
  created_at: number;
  created_by: string;
  revoked_at: number | null;
}

export interface AuditLogTable {
  seq: Generated<number>;
  at: number;
  actor: string;
  token_id: string | null;
  role: string | null;
  remote: string;
  action: string;
  target: string | null;
  status: number;
  outcome: string;
  /** JSON text. */
  detail: string;
}

export interface DB {
  api_tokens: ApiTokensTable;
  audit_log: AuditLogTable;
  plan_revisions: PlanRevisionsTable;
  runs: RunsTable;
  host_flows: HostFlowsTable;
  lease_holders: LeaseHoldersTable;
  attempts: AttemptsTable;
  events: EventsTable;
  /** Postgres only. */
  counters: CountersTable;
}

/** The `counters` row that numbers events (Postgres). */
export const EVENT_SEQ = "event_seq";
