/**
 * The report: one value every renderer (text, JSON, Markdown, HTML) draws from.
 *
 * Invariants:
 * - It is plain JSON data and a pure function of the builder's input: no wall-clock time, no
 *   store sequence numbers, no randomness, so the same run gives byte-identical output.
 * - Absolute times are ISO-8601 strings (UTC); timeline positions are milliseconds after
 *   `timeline.origin`, which keeps a 2,000-host report compact.
 * - Waves are numbered from 1, as `status` shows them.
 * - Nothing is invented: a figure the data cannot give is `null` with a note.
 */

export const REPORT_SCHEMA = "overhaul.report/1";

/** Host counts and timing for the whole run or one region. */
export interface Figures {
  hosts: number;
  /** Succeeded. */
  done: number;
  failed: number;
  inDoubt: number;
  skipped: number;
  aborted: number;
  /** Pending, running or reverting: not finished yet. */
  unfinished: number;
  /** Attempts beyond the first of a step (forward attempts; a crash re-run is not a retry). */
  retries: number;
  /** Hosts that reverted at least once (entered the revert phase). */
  rollbacks: number;
  /** First host start, ISO; null when no host started. */
  start: string | null;
  /** Last host finish, ISO; null when no host finished. While hosts are unfinished: the last so far. */
  end: string | null;
  /**
   * end - start in ms, once every host is finished; null when either is missing, and while any
   * host is `unfinished` (as a wave's `endMs`): a makespan so far is not a makespan. (Before
   * `makespanSoFarMs` existed this held the span so far for an unfinished group.)
   */
  makespanMs: number | null;
  /**
   * While any host is unfinished: from the first host start to the last thing the data records
   * (`timeline.endMs`; the report reads no clock), a lower bound of the makespan to come. Null once
   * every host is finished (see `makespanMs`) and while no host started.
   */
  makespanSoFarMs: number | null;
}

export interface RegionReport extends Figures {
  region: string;
  workloadDowntime: DowntimeReport;
}

export interface WaveReport {
  /** 1-based. */
  wave: number;
  hosts: number;
  /**
   * When the wave opened (`wave.started`, or its first host start), ms after the origin; null when
   * it was never opened (no `wave.started` and none of its hosts started).
   */
  startMs: number | null;
  /**
   * When its last host finished, ms after the origin; null while any is unfinished, and when none
   * of its hosts finished work (a host aborted before it started finishes nothing).
   */
  endMs: number | null;
}

export type SegmentKind = "attempt" | "revert";
export type SegmentOutcome = "ok" | "failed" | "unknown" | "open";

/** One bar of the timeline: an attempt of a step (forward) or of its revert. */
export interface Segment {
  kind: SegmentKind;
  /** Index into `Report.stages`. */
  stage: number;
  attempt: number;
  startMs: number;
  /** Equal to the timeline end when the attempt never finished (`open`). */
  endMs: number;
  outcome: SegmentOutcome;
  reason: string | null;
}

export type MarkKind = "attempt-failed" | "failed" | "in_doubt" | "aborted" | "skipped" | "retried";

/** A point on a host's row: a failure, a doubt, an operator action. */
export interface Mark {
  kind: MarkKind;
  atMs: number;
  stage: number | null;
  reason: string | null;
}

export interface HostReport {
  host: string;
  region: string;
  /** 1-based. */
  wave: number;
  state: string;
  reason: string | null;
  startMs: number | null;
  endMs: number | null;
  retries: number;
  reverted: boolean;
  /** Revert phases: from `host.reverting` to the end of the revert. */
  reverts: { startMs: number; endMs: number }[];
  segments: Segment[];
  marks: Mark[];
}

export interface FailureReport {
  host: string;
  region: string;
  state: string;
  /** The step the host failed or stopped at, when the events name it (null: between steps, or not started). */
  step: string | null;
  /** An aborted host that stopped between steps: the last step it finished. */
  after: string | null;
  reason: string | null;
  at: string | null;
}

export interface DowntimeReport {
  samples: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  note: string | null;
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
  run: {
    id: string;
    plan: string;
    revision: number;
    hash: string;
    state: string;
    reason: string | null;
    seed: number;
    createdAt: string;
    updatedAt: string;
  };
  totals: Figures;
  regions: RegionReport[];
  /** Step names in plan order: the stages bars are coloured by. */
  stages: string[];
  waves: WaveReport[];
  timeline: {
    /** ISO time of position 0: the first host start (or wave start), else the run's creation. */
    origin: string;
    /** Length of the timeline in ms: the last thing that happened. */
    endMs: number;
  };
  hosts: HostReport[];
  failures: FailureReport[];
  workloadDowntime: DowntimeReport;
}
