/**
 * What the report builder reads: a run, its host flows, attempts and events, as plain data.
 *
 * Invariants:
 * - These are structural subsets of the Store port's records (`RunRecord`, `HostFlowRecord`,
 *   `AttemptRecord`, `EventRecord`), declared here because core imports nothing outside core.
 *   Anything the store returns is assignable to them as is; so are a simulator's records.
 * - Times are epoch milliseconds. The builder never reads a clock: "now" is the last thing that
 *   happened in the data.
 */

export interface ReportRunInput {
  id: string;
  planName: string;
  planRevision: number;
  planHash: string;
  state: string;
  reason: string | null;
  seed: number;
  createdAt: number;
  updatedAt: number;
}

export interface ReportHostInput {
  host: string;
  /** 0-based wave. */
  wave: number;
  /** Position in the run's start order. */
  order: number;
  state: string;
  reason: string | null;
  startedAt: number | null;
  finishedAt: number | null;
  /** The inventory snapshot; `region` (a string) is the only field the report reads. */
  data: Record<string, unknown>;
}

export interface ReportAttemptInput {
  host: string;
  seq: number;
  stepIndex: number;
  stepName: string;
  phase: string;
  number: number;
}

export interface ReportEventInput {
  seq: number;
  host: string | null;
  at: number;
  type: string;
  data: Record<string, unknown>;
}

export interface ReportInput {
  run: ReportRunInput;
  hosts: readonly ReportHostInput[];
  attempts: readonly ReportAttemptInput[];
  events: readonly ReportEventInput[];
  /** The plan's step names in order (the stages); derived from attempts and events when absent. */
  steps?: readonly string[];
  /**
   * One sample per workload move: how long the workload was unavailable, and the host it was
   * drained from (which gives its region). Only the simulator has workloads so far; absent or
   * empty, the report says there is no workload data instead of inventing numbers.
   */
  workloadDowntime?: readonly { host: string; downtimeMs: number }[];
}

/** The host's region from its inventory snapshot, or "-" when the inventory gave none. */
export function regionOf(h: ReportHostInput): string {
  const r = h.data.region;
  return typeof r === "string" && r !== "" ? r : "-";
}
