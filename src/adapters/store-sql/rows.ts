/**
 * Mapping between the port's records and the SQL rows of `schema.ts`.
 *
 * Invariants:
 * - The only place that knows both the camelCase record fields and the snake_case columns, so the
 *   Kysely path and the prepared SQLite hot path write identical rows.
 * - JSON is `JSON.stringify` text; `null` stays SQL NULL for nullable documents (`pre`, `result`).
 * - Every number read back is a JS number (the Postgres pool parses int8; SQLite returns numbers).
 */
import type { Insertable, Selectable } from "kysely";
import type { AttemptState, HostState, RunState } from "../../core/flow/states.js";
import type {
  AttemptPhase,
  AttemptRecord,
  EventRecord,
  FlowPhase,
  HostFlowFields,
  HostFlowRecord,
  NewAttempt,
  NewEvent,
  NewHostFlow,
  NewRun,
  PlanRevisionRecord,
  RunRecord,
} from "../../ports/store.js";
import type { AttemptsTable, EventsTable, HostFlowsTable, PlanRevisionsTable, RunsTable } from "./schema.js";

/** A row as read back or written whole (Kysely's select types: `Generated<T>` becomes `T`). */
type Row<T> = Selectable<T>;

type HostFieldColumn = Exclude<
  keyof HostFlowsTable,
  "run_id" | "host" | "wave" | "ord" | "data" | "lease_owner" | "lease_token" | "lease_expires_at"
>;

/** Every patchable host-flow field and its column; `satisfies` makes a new port field a compile error here. */
const HOST_FIELD_COLUMNS = {
  state: "state",
  stepIndex: "step_index",
  phase: "phase",
  attempts: "attempts",
  notBefore: "not_before",
  noReturnIndex: "no_return_index",
  startedAt: "started_at",
  finishedAt: "finished_at",
  reason: "reason",
} as const satisfies Record<keyof HostFlowFields, HostFieldColumn>;

/** The same, in one fixed order (the SQLite hot path caches statements on it). */
export const HOST_FIELDS = Object.entries(HOST_FIELD_COLUMNS) as readonly (readonly [
  keyof HostFlowFields,
  HostFieldColumn,
])[];

export type HostPatchRow = Partial<Pick<HostFlowsTable, HostFieldColumn>>;

/** The columns a host-flow patch sets; `undefined` fields are left alone, `null` is written. */
export function hostPatchRow(patch: Partial<HostFlowFields> | undefined): HostPatchRow {
  const row: Record<string, unknown> = {};
  if (patch) {
    for (const [field, column] of HOST_FIELDS) {
      const v = patch[field];
      if (v !== undefined) row[column] = v;
    }
  }
  return row as HostPatchRow;
}

export function json(value: unknown): string {
  return JSON.stringify(value);
}
export function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}
function parse(text: string): Record<string, unknown> {
  return JSON.parse(text) as Record<string, unknown>;
}
function parseOrNull(text: string | null): Record<string, unknown> | null {
  return text === null ? null : parse(text);
}

export function toPlanRevision(r: Row<PlanRevisionsTable>): PlanRevisionRecord {
  return { name: r.name, revision: r.revision, hash: r.hash, body: r.body, createdAt: r.created_at };
}

export function runRow(run: NewRun): Row<RunsTable> {
  return {
    id: run.id,
    plan_name: run.planName,
    plan_revision: run.planRevision,
    plan_hash: run.planHash,
    state: run.state,
    current_wave: run.currentWave,
    seed: run.seed,
    options: json(run.options),
    reason: run.reason,
    created_at: run.createdAt,
    updated_at: run.updatedAt,
  };
}

export function toRun(r: Row<RunsTable>): RunRecord {
  return {
    id: r.id,
    planName: r.plan_name,
    planRevision: r.plan_revision,
    planHash: r.plan_hash,
    state: r.state as RunState,
    currentWave: r.current_wave,
    seed: r.seed,
    options: parse(r.options),
    reason: r.reason,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function hostFlowRow(h: NewHostFlow): Omit<Row<HostFlowsTable>, "lease_token"> {
  return {
    run_id: h.runId,
    host: h.host,
    wave: h.wave,
    ord: h.order,
    data: json(h.data),
    state: h.state,
    step_index: h.stepIndex,
    phase: h.phase,
    attempts: h.attempts,
    not_before: h.notBefore,
    no_return_index: h.noReturnIndex,
    started_at: h.startedAt,
    finished_at: h.finishedAt,
    reason: h.reason,
    lease_owner: null,
    lease_expires_at: null,
  };
}

export function toHostFlow(r: Row<HostFlowsTable>): HostFlowRecord {
  return {
    runId: r.run_id,
    host: r.host,
    wave: r.wave,
    order: r.ord,
    data: parse(r.data),
    state: r.state as HostState,
    stepIndex: r.step_index,
    phase: r.phase as FlowPhase,
    attempts: r.attempts,
    notBefore: r.not_before,
    noReturnIndex: r.no_return_index,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    reason: r.reason,
    leaseOwner: r.lease_owner,
    leaseToken: r.lease_token,
    leaseExpiresAt: r.lease_expires_at,
  };
}

export function attemptRow(a: NewAttempt): Row<AttemptsTable> {
  return {
    run_id: a.runId,
    host: a.host,
    seq: a.seq,
    step_index: a.stepIndex,
    step_name: a.stepName,
    phase: a.phase,
    number: a.number,
    state: a.state,
    token: a.token,
    pre: jsonOrNull(a.pre),
    result: null,
    started_at: a.startedAt,
    finished_at: null,
  };
}

export function toAttempt(r: Row<AttemptsTable>): AttemptRecord {
  return {
    runId: r.run_id,
    host: r.host,
    seq: r.seq,
    stepIndex: r.step_index,
    stepName: r.step_name,
    phase: r.phase as AttemptPhase,
    number: r.number,
    state: r.state as AttemptState,
    token: r.token,
    pre: parseOrNull(r.pre),
    result: parseOrNull(r.result),
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

/** An event row to insert; without `seq` SQLite assigns the next one. */
export function eventRow(e: NewEvent, seq?: number): Insertable<EventsTable> {
  const row: Insertable<EventsTable> = {
    run_id: e.runId,
    host: e.host,
    at: e.at,
    type: e.type,
    actor: e.actor,
    data: json(e.data),
  };
  if (seq !== undefined) row.seq = seq;
  return row;
}

export function toEvent(r: Row<EventsTable>): EventRecord {
  return {
    seq: r.seq,
    runId: r.run_id,
    host: r.host,
    at: r.at,
    type: r.type,
    actor: r.actor,
    data: parse(r.data),
  };
}

/** `feedSince`'s answer from the aggregate row (Postgres returns bigint aggregates as text). */
export function feedOf(
  afterSeq: number,
  last: number | string | null,
  foreign: number | string | null,
): { lastSeq: number; foreign: boolean } {
  return { lastSeq: last === null ? afterSeq : Number(last), foreign: Number(foreign ?? 0) > 0 };
}
