/**
 * Counting: host figures for a group of hosts (the run, one region), and workload-downtime
 * percentiles.
 *
 * Invariants: pure arithmetic over the given data; a figure the data cannot give is `null`.
 * A group with a host still unfinished has no makespan yet (`null`, as a wave has no finish while
 * any of its hosts is unfinished); what it has taken so far is `makespanSoFarMs`, measured to the
 * last thing the data records (`dataEnd`), since the report never reads a clock.
 * Percentiles use the nearest-rank method (always one of the samples, never interpolated), so a
 * reported p99 is a downtime that really happened.
 */
import type { ReportHostInput } from "./input.js";
import type { DowntimeReport, Figures } from "./model.js";
import type { HostTrack } from "./timeline.js";

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

export function figuresOf(
  group: readonly { rec: ReportHostInput; track: HostTrack }[],
  dataEnd: number,
): Figures {
  const f: Figures = {
    hosts: group.length,
    done: 0,
    failed: 0,
    inDoubt: 0,
    skipped: 0,
    aborted: 0,
    unfinished: 0,
    retries: 0,
    rollbacks: 0,
    start: null,
    end: null,
    makespanMs: null,
    makespanSoFarMs: null,
  };
  let start: number | null = null;
  let end: number | null = null;
  for (const { rec, track } of group) {
    switch (rec.state) {
      case "succeeded":
        f.done++;
        break;
      case "failed":
        f.failed++;
        break;
      case "in_doubt":
        f.inDoubt++;
        break;
      case "skipped":
        f.skipped++;
        break;
      case "aborted":
        f.aborted++;
        break;
      default:
        f.unfinished++;
    }
    f.retries += track.retries;
    if (track.reverted) f.rollbacks++;
    if (track.firstStart !== null && (start === null || track.firstStart < start)) start = track.firstStart;
    if (track.lastFinish !== null && (end === null || track.lastFinish > end)) end = track.lastFinish;
  }
  f.start = iso(start);
  f.end = iso(end);
  if (f.unfinished > 0) f.makespanSoFarMs = start === null ? null : Math.max(0, dataEnd - start);
  else f.makespanMs = start !== null && end !== null ? Math.max(0, end - start) : null;
  return f;
}

/** Nearest-rank percentile of ascending `sorted` (non-empty), p in (0, 100]. */
export function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

export const NO_WORKLOADS_NOTE =
  "no workload data: this run's hosts had no workloads to drain (real runs do not track workloads yet; simulated runs do)";

export function downtimeOf(samples: readonly number[] | undefined): DowntimeReport {
  if (samples === undefined || samples.length === 0) {
    return { samples: 0, p50Ms: null, p99Ms: null, maxMs: null, note: NO_WORKLOADS_NOTE };
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] as number,
    note: null,
  };
}
