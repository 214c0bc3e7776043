/**
 * The `Store` port: everything the engine persists, and nothing more.
 *
 * Invariants every adapter must keep (checked by test/conformance/store-suite.ts for each adapter):
 * - Every method that writes is one atomic, durable transaction: when it resolves, the change
 *   survives a crash of the process (SQLite: WAL + synchronous=FULL; Postgres: commit).
 * - `commitHost` is compare-and-set on the host flow's lease (owner, token): a coordinator that
 *   lost its lease writes nothing and gets `LeaseLostError` (fencing).
 * - `updateRun` and `operatorHost` are compare-and-set on the current state.
 * - Events are append-only; `seq` is strictly increasing per store, gap-free per transaction order.
 * - Plan revisions are numbered per plan name from 1 and identified by their content hash:
 *   saving the same body twice returns the existing revision.
 * - Times are epoch milliseconds supplied by the caller (the Clock port); the store never reads a clock.
 */
import type { AttemptState, HostState, RunState } from "../core/flow/states.js";
import type { AccessStore } from "./access.js";

export interface PlanRevisionRecord {
  name: string;
  revision: number;
  hash: string;
  /** The plan file's text, exactly as given. */
  body: string;
  createdAt: number;
}

export interface RunRecord {
  id: string;
  planName: string;
  planRevision: number;
  planHash: string;
  state: RunState;
  /** Index of the wave currently allowed to start hosts. */
  currentWave: number;
  seed: number;
  /** Free-form options of the run (limit pattern, inventory path, operator). JSON-serializable. */
  options: Record<string, unknown>;
  reason: string | null;
  createdAt: number;
  updatedAt: number;
}

export type FlowPhase = "forward" | "revert";

/** The mutable part of a host flow, written through `commitHost` / `operatorHost`. */
export interface HostFlowFields {
  state: HostState;
  /** Index of the current step (forward: next to do; revert: next to revert). */
  stepIndex: number;
  phase: FlowPhase;
  /** Attempts used on the current step. */
  attempts: number;
  /** Do not act on this host before this time (backoff, stagger); null = now. */
  notBefore: number | null;
  /** Index of the last completed point-of-no-return step, or -1. Revert stops above it. */
  noReturnIndex: number;
  startedAt: number | null;
  finishedAt: number | null;
  reason: string | null;
}

export interface HostFlowRecord extends HostFlowFields {
  runId: string;
  host: string;
  wave: number;
  /** Position in the run's start order (0-based). */
  order: number;
  /** Snapshot of the host as the inventory described it when the run was created (JSON). */
  data: Record<string, unknown>;
  leaseOwner: string | null;
  leaseToken: number;
  leaseExpiresAt: number | null;
}

export type AttemptPhase = "check" | "run" | "verify" | "revert";

export interface AttemptRecord {
  runId: string;
  host: string;
  /** Per host flow, 1, 2, 3, ... in the order intents were written. */
  seq: number;
  stepIndex: number;
  stepName: string;
  phase: AttemptPhase;
  /** Attempt number within the step (1-based). */
  number: number;
  state: AttemptState;
  /** Fencing token of the lease under which the intent was written. */
  token: number;
  /** Pre-state recorded before the effect (e.g. the boot id before a reboot). JSON. */
  pre: Record<string, unknown> | null;
  /** Outcome (exit code, output tail, error). JSON. */
  result: Record<string, unknown> | null;
  startedAt: number;
  finishedAt: number | null;
}

export interface EventRecord {
  seq: number;
  runId: string;
  host: string | null;
  at: number;
  type: string;
  /** Who caused it: a coordinator id or `operator:NAME`. */
  actor: string;
  data: Record<string, unknown>;
}

export type NewEvent = Omit<EventRecord, "seq">;
export type NewRun = RunRecord;
export type NewHostFlow = Omit<HostFlowRecord, "leaseOwner" | "leaseToken" | "leaseExpiresAt">;
export type NewAttempt = Omit<AttemptRecord, "finishedAt" | "result" | "state"> & { state: "started" };

export interface AttemptResult {
  seq: number;
  state: Exclude<AttemptState, "started">;
  finishedAt: number;
  result: Record<string, unknown> | null;
}

/** One fenced, atomic write to a host flow. */
export interface HostCommit {
  runId: string;
  host: string;
  owner: string;
  token: number;
  /** Fields to change on the host flow. */
  patch?: Partial<HostFlowFields>;
  /** Write an attempt's intent (insert) and/or an attempt's result (update), in this transaction. */
  intent?: NewAttempt;
  result?: AttemptResult;
  events?: NewEvent[];
}

export interface Store {
  /** API tokens and the audit log (the coordinator service), in the same database. */
  readonly access: AccessStore;
  /** Run the numbered migrations that have not run yet. Safe to call at every start. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  savePlanRevision(input: {
    name: string;
    hash: string;
    body: string;
    createdAt: number;
  }): Promise<PlanRevisionRecord>;
  getPlanRevision(name: string, revision: number): Promise<PlanRevisionRecord | undefined>;
  listPlanRevisions(name?: string): Promise<PlanRevisionRecord[]>;

  /**
   * Create the run, its host flows and its first events in one transaction. `exclusive`: refuse
   * (SafetyRefusal `hosts-in-another-run`, nothing written) when any of its hosts is held by
   * another run that is not finished (a flow in CLAIMING_HOST_STATES); decided inside the
   * transaction, so of two concurrent exclusive creates over one host exactly one succeeds.
   */
  createRun(
    run: NewRun,
    hosts: NewHostFlow[],
    events: NewEvent[],
    opts?: { exclusive?: boolean },
  ): Promise<void>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  /**
   * Newest first. `unfinished`: only runs not in a terminal state, however old (what a
   * coordinator service must drive; a limit would hide an old paused run resumed later).
   */
  listRuns(limit?: number, filter?: { unfinished?: boolean }): Promise<RunRecord[]>;
  /** In `order`. */
  getHosts(runId: string): Promise<HostFlowRecord[]>;
  getHost(runId: string, host: string): Promise<HostFlowRecord | undefined>;
  /** In (host, seq) order. */
  getAttempts(runId: string, host?: string): Promise<AttemptRecord[]>;
  /** Events with seq > afterSeq, oldest first. */
  listEvents(runId: string, afterSeq?: number, limit?: number): Promise<EventRecord[]>;
  /**
   * Follow the run's log without reading it: the seq of its newest event after `afterSeq`
   * (`afterSeq` itself when there is none), and whether any of those was written by an actor other
   * than `actor`. What a coordinator asks on every tick (did an operator or another coordinator
   * write?), so it costs one indexed aggregate, not a page of events.
   */
  feedSince(runId: string, afterSeq: number, actor: string): Promise<{ lastSeq: number; foreign: boolean }>;

  /**
   * Compare-and-set on the run's state: applies `patch` only while the run's state is one of
   * `expect`. Returns false (and writes nothing) otherwise. `exclusive` (setting a finished run
   * going again): also refuses (SafetyRefusal `hosts-in-another-run`, nothing written) when
   * another unfinished run holds any of this run's hosts that can still change, decided in the
   * same transaction as `createRun`'s exclusive check, so a reopen and a create never both win.
   */
  updateRun(
    runId: string,
    expect: readonly RunState[],
    patch: Partial<Pick<RunRecord, "state" | "currentWave" | "reason" | "updatedAt">>,
    events: NewEvent[],
    opts?: { exclusive?: boolean },
  ): Promise<boolean>;

  /**
   * Take the lease on every host flow of the run that is not terminal and whose lease is free
   * (owner null) or expired (expiresAt <= now). Leases we already hold are NOT re-granted (that
   * would fence our own work in flight). Each granted lease gets token + 1.
   * Returns only the newly granted host flows, with their new tokens.
   *
   * An owner's leases in a run share one expiry (like a session's locks): granting any sets it to
   * now + ttl for all of them, as `renewLeases` does, so renewing costs one write however many
   * host flows the coordinator holds.
   */
  acquireLeases(runId: string, owner: string, now: number, ttlMs: number): Promise<HostFlowRecord[]>;
  /** Extend the expiry of our leases in the run (one write); returns how many are still ours. */
  renewLeases(runId: string, owner: string, now: number, ttlMs: number): Promise<number>;
  releaseLeases(runId: string, owner: string): Promise<void>;

  /** Fenced write; throws LeaseLostError (and writes nothing) when (owner, token) no longer match. */
  commitHost(commit: HostCommit): Promise<void>;

  /**
   * An operator's change to one host flow (retry, skip), compare-and-set on its state.
   * It also bumps the lease token and clears the owner, which fences out whichever coordinator
   * held it; that coordinator re-acquires the host and sees the new state.
   */
  operatorHost(
    runId: string,
    host: string,
    expect: readonly HostState[],
    patch: Partial<HostFlowFields>,
    events: NewEvent[],
  ): Promise<boolean>;
}
