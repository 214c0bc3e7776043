/**
 * One host's timeline, read from its events: the bars (attempts and revert attempts), the revert
 * phases, the failure marks, its first start and last finish, and its retries.
 *
 * Invariants:
 * - Input events are this host's, in `seq` order (the order they were committed); the result
 *   depends on nothing else, so it is deterministic.
 * - A bar starts at `attempt.started` / `revert.started` and ends at the attempt's result event.
 *   An attempt that a later `attempt.started` (a coordinator took over) or the host's end closes
 *   without a result ends as `unknown`; one still running when the data ends is `open` and is
 *   drawn up to the end of the timeline.
 * - A retry is an `attempt.started` with attempt > 1 that is not the same (step, attempt) as the
 *   previous one: after a coordinator crash the engine re-runs an attempt under the same number,
 *   and that does not use up a retry, so it is not counted as one.
 * - Positions are ms after the report's origin (`at - origin`).
 * - A host's start and finish are times it was at work: one aborted while it waited (never started,
 *   or waiting again after an operator's retry) gains no finish at the abort, only its mark and
 *   `stoppedAt` (where failures list it).
 */
import type { ReportEventInput } from "./input.js";
import type { Mark, Segment } from "./model.js";

export interface HostTrack {
  /** Absolute epoch ms of the first `host.started`, or null. */
  firstStart: number | null;
  /**
   * Absolute epoch ms of the last time the host finished (succeeded, failed, in doubt, aborted),
   * or null. An abort is a finish only of a host that was at work (started, or working again after
   * an operator's retry): one aborted while it waited did not finish anything then, so a run paused
   * for days and then aborted does not stretch the makespans and wave spans to the abort.
   */
  lastFinish: number | null;
  /** When the host stopped for good as failed, in doubt or aborted (also a never-started abort), or null. */
  stoppedAt: number | null;
  retries: number;
  reverted: boolean;
  reverts: { startMs: number; endMs: number }[];
  segments: Segment[];
  marks: Mark[];
  /** The step the host last failed / stopped at (its final failed attempt, else its latest step). */
  failedStep: string | null;
  /**
   * An aborted host that stopped between steps: the last step it finished (`failedStep` is then
   * null; both null: it never started one). From the abort's own record of where the host was.
   */
  stoppedAfter: string | null;
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

export function trackHost(
  events: readonly ReportEventInput[],
  stageOf: (step: string | null) => number,
  origin: number,
  endAbs: number,
): HostTrack {
  const t: HostTrack = {
    firstStart: null,
    lastFinish: null,
    stoppedAt: null,
    retries: 0,
    reverted: false,
    reverts: [],
    segments: [],
    marks: [],
    failedStep: null,
    stoppedAfter: null,
  };
  const rel = (at: number) => at - origin;
  let open: Segment | null = null;
  let revertFrom: number | null = null;
  let lastKey: string | null = null;
  /** Step of the latest attempt, and of the latest attempt whose retries ran out. */
  let lastStep: string | null = null;
  let finalStep: string | null = null;
  /** At work in the current pass: started (or working again since an operator's retry). */
  let working = false;
  /** The finish an operator's retry set aside: the host's last finish if it never works again. */
  let finishBeforeRetry: number | null = null;

  const close = (at: number, outcome: Segment["outcome"], reason: string | null) => {
    if (!open) return;
    open.endMs = Math.max(open.startMs, rel(at));
    open.outcome = outcome;
    open.reason = reason;
    t.segments.push(open);
    open = null;
  };
  const endRevert = (at: number) => {
    if (revertFrom === null) return;
    t.reverts.push({ startMs: rel(revertFrom), endMs: Math.max(rel(revertFrom), rel(at)) });
    revertFrom = null;
  };
  const mark = (kind: Mark["kind"], at: number, step: string | null, reason: string | null) =>
    t.marks.push({ kind, atMs: rel(at), stage: step === null ? null : stageOf(step), reason });
  const finish = (at: number) => {
    t.lastFinish = at;
  };

  for (const e of events) {
    const step = str(e.data.step);
    const reason = str(e.data.reason);
    const attempt = num(e.data.attempt) ?? 1;
    switch (e.type) {
      case "host.started":
        t.firstStart ??= e.at;
        working = true;
        break;
      case "attempt.started":
      case "revert.started": {
        working = true;
        close(e.at, "unknown", "no result was recorded (the coordinator stopped)");
        const kind = e.type === "attempt.started" ? "attempt" : "revert";
        if (kind === "revert") {
          // A revert attempt is always inside a revert phase, also when an operator resumed one.
          t.reverted = true;
          revertFrom ??= e.at;
        }
        const key = `${kind}:${step}:${attempt}`;
        if (kind === "attempt" && attempt > 1 && key !== lastKey) t.retries++;
        lastKey = key;
        lastStep = step;
        open = {
          kind,
          stage: stageOf(step),
          attempt,
          startMs: rel(e.at),
          endMs: rel(e.at),
          outcome: "open",
          reason: null,
        };
        break;
      }
      case "attempt.succeeded":
      case "revert.succeeded":
        close(e.at, "ok", null);
        break;
      case "attempt.failed":
      case "revert.failed":
        close(e.at, "failed", reason);
        mark("attempt-failed", e.at, step, reason);
        if (e.type === "attempt.failed" && e.data.final === true) finalStep = step;
        break;
      case "attempt.unknown":
        close(e.at, "unknown", reason);
        break;
      case "host.reverting":
        working = true;
        t.reverted = true;
        revertFrom ??= e.at;
        break;
      case "host.failed":
      case "host.in_doubt":
      case "host.aborted": {
        const kind =
          e.type === "host.failed" ? "failed" : e.type === "host.in_doubt" ? "in_doubt" : "aborted";
        close(e.at, kind === "failed" ? "failed" : "unknown", reason);
        endRevert(e.at);
        // An abort records where the host was (`after` set: between steps; both null: not started).
        // Older aborts named the step at its index, begun or not: their latest attempt's is kept.
        const placed = kind === "aborted" && "after" in e.data;
        t.failedStep = placed ? step : (step ?? finalStep ?? lastStep);
        t.stoppedAfter = placed ? str(e.data.after) : null;
        mark(kind, e.at, t.failedStep, reason);
        t.stoppedAt = e.at;
        // An aborted host that was not at work did not finish then: it keeps the finish it had.
        if (kind !== "aborted" || working) finish(e.at);
        else t.lastFinish = finishBeforeRetry;
        break;
      }
      case "host.succeeded":
        close(e.at, "ok", null);
        finish(e.at);
        break;
      case "host.skipped":
        mark("skipped", e.at, null, null);
        break;
      case "host.retried":
        mark("retried", e.at, null, null);
        t.stoppedAfter = null;
        lastKey = null;
        finalStep = null;
        finishBeforeRetry = t.lastFinish ?? finishBeforeRetry;
        t.lastFinish = null;
        t.stoppedAt = null;
        working = false;
        break;
      default:
        break;
    }
  }
  if (open !== null) {
    const o: Segment = open;
    o.endMs = Math.max(o.startMs, rel(endAbs));
    t.segments.push(o);
  }
  if (revertFrom !== null)
    t.reverts.push({ startMs: rel(revertFrom), endMs: Math.max(rel(revertFrom), rel(endAbs)) });
  return t;
}
