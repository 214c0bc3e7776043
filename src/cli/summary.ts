/**
 * The run summary shown at the end of `run` and by `status`, in text and JSON (same data).
 *
 * Invariant: the next step it suggests is the summary's `next` (engine/run-summary.ts), one the run
 * accepts, naming the run.
 */
import { type HostState, isTerminalRun, type RunState } from "../core/flow/states.js";
import { visible } from "../core/output/visible.js";
import { formatDuration } from "../core/plan/duration.js";
import type { RunSummary } from "../engine/run-summary.js";
import { type Out, paint, stateColor, table } from "./output.js";

export { type RunSummary, summarize } from "../engine/run-summary.js";

/** The STEP column: the step, `after STEP` between steps, `not started`, or why it waits. */
function stepColumn(h: RunSummary["hosts"][number]): string {
  if (h.step) return h.step;
  if (h.after) return `after ${h.after}`;
  if (h.waiting === "window") return "(waiting for its window)";
  return h.state === "running" || h.state === "aborted" ? "not started" : "-";
}

/** `2026-11-22 10:43:00 UTC` from an ISO time. */
export const utc = (iso: string): string => iso.replace("T", " ").replace(/\.\d+Z$/, " UTC");

/** What `overhaul resume` does for an unfinished run that no coordinator holds. */
function unheld(id: string, state: string): string {
  if (state === "aborting")
    return `\`overhaul abort ${id}\` (or \`overhaul resume ${id}\`) finishes the abort`;
  if (state === "paused") return `nothing runs; \`overhaul resume ${id}\` continues it`;
  return `nothing runs; \`overhaul resume ${id}\` carries it on`;
}

export function renderSummary(out: Out, s: RunSummary, opts: { hosts?: boolean } = {}): string {
  const r = s.run;
  const lines: string[] = [];
  lines.push(
    `${paint(out, "bold", `run ${r.id}`)}  ${paint(out, stateColor(r.state), r.state.toUpperCase())}  plan ${r.plan}@${r.revision}  wave ${r.wave}`,
  );
  if (r.reason) lines.push(`  ${visible(r.reason)}`);
  const counts = (Object.entries(s.counts) as [HostState, number][])
    .filter(([, n]) => n > 0)
    .map(([st, n]) => paint(out, stateColor(st), `${st} ${n}`));
  const finished = isTerminalRun(r.state as RunState);
  const elapsed = formatDuration(s.elapsedMs);
  lines.push(
    `  hosts: ${counts.join(", ")}  (total ${s.hosts.length})  ${paint(out, "gray", finished ? `took ${elapsed}` : `${elapsed} since start`)}`,
  );
  // Who drives an unfinished run: a run nobody holds does not move until someone resumes it.
  if (!finished) {
    if (s.coordinators.length > 0)
      lines.push(
        `  coordinator: ${s.coordinators.map((c) => `${c.owner} (lease until ${utc(c.until)})`).join(", ")}`,
      );
    else lines.push(`  ${paint(out, "yellow", "no coordinator holds this run")}: ${unheld(r.id, r.state)}`);
  }
  // A run that waits for its regions' windows is quiet on purpose: say what it waits for.
  const closed = s.windows.filter((w) => !w.open);
  if (closed.length > 0) {
    const parts = s.windows.map((w) =>
      w.open
        ? `${w.region} open`
        : `${w.region} opens ${w.opensAt.replace("T", " ").replace(/:\d\d\.\d+Z$/, " UTC")} (${w.pending} host(s) waiting)`,
    );
    lines.push(`  windows: ${parts.join(", ")}`);
  }
  if (opts.hosts) {
    const rows = [["HOST", "STATE", "WAVE", "STEP", "ATTEMPTS", "REASON"]];
    for (const h of s.hosts) {
      rows.push([
        h.host,
        paint(out, stateColor(h.state), h.state),
        String(h.wave),
        stepColumn(h),
        String(h.attempts),
        visible(h.reason ?? ""),
      ]);
    }
    lines.push(table(rows, out).replace(/^/gm, "  "));
  }
  if (s.failures.length > 0) {
    lines.push(paint(out, "bold", "  failures:"));
    for (const f of s.failures)
      lines.push(`    ${paint(out, "red", f.host)} (${f.state}): ${visible(f.reason ?? "")}`);
  }
  if (s.next) lines.push(`  next: ${s.next}`);
  return `${lines.join("\n")}\n`;
}
