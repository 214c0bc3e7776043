/**
 * The run summary shown at the end of `run` and by `status`, in text and JSON (same data).
 *
 * Invariant: the next step it suggests is the summary's `next` (engine/run-summary.ts), one the run
 * accepts, naming the run.
 */
import type { HostState } from "../core/flow/states.js";
import { formatDuration } from "../core/plan/duration.js";
import type { RunSummary } from "../engine/run-summary.js";
import { type Out, paint, stateColor, table } from "./output.js";

export { type RunSummary, summarize } from "../engine/run-summary.js";

export function renderSummary(out: Out, s: RunSummary, opts: { hosts?: boolean } = {}): string {
  const r = s.run;
  const lines: string[] = [];
  lines.push(
    `${paint(out, "bold", `run ${r.id}`)}  ${paint(out, stateColor(r.state), r.state.toUpperCase())}  plan ${r.plan}@${r.revision}  wave ${r.wave}`,
  );
  if (r.reason) lines.push(`  ${r.reason}`);
  const counts = (Object.entries(s.counts) as [HostState, number][])
    .filter(([, n]) => n > 0)
    .map(([st, n]) => paint(out, stateColor(st), `${st} ${n}`));
  const took = Date.parse(r.updatedAt) - Date.parse(r.createdAt);
  lines.push(
    `  hosts: ${counts.join(", ")}  (total ${s.hosts.length})  ${paint(out, "gray", `${formatDuration(took)} since start`)}`,
  );
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
        h.step ?? (h.waiting === "window" ? "(waiting for its window)" : "-"),
        String(h.attempts),
        h.reason ?? "",
      ]);
    }
    lines.push(table(rows, out).replace(/^/gm, "  "));
  }
  if (s.failures.length > 0) {
    lines.push(paint(out, "bold", "  failures:"));
    for (const f of s.failures)
      lines.push(`    ${paint(out, "red", f.host)} (${f.state}): ${f.reason ?? ""}`);
  }
  if (s.next) lines.push(`  next: ${s.next}`);
  return `${lines.join("\n")}\n`;
}
