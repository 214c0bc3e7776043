/**
 * The terminal report: the run's outcome, per-region figures, waves and every failure's reason.
 *
 * Invariants: pure; colour only through the caller's `paint` (the CLI decides whether the
 * terminal wants colour, NO_COLOR included); without it the output is plain text.
 */
import { columns, duration, failureStep, instant, offset, oneLine } from "./format.js";
import { makespanCell, unfinishedNote } from "./makespan-text.js";
import type { Figures, Report } from "./model.js";

export type Style = "bold" | "red" | "green" | "yellow" | "magenta" | "gray";
export type Paint = (style: Style, s: string) => string;

const plain: Paint = (_style, s) => s;

const stateStyle = (state: string): Style =>
  state === "succeeded"
    ? "green"
    : state === "failed" || state === "aborted"
      ? "red"
      : state === "in_doubt"
        ? "magenta"
        : "yellow";

function figureRow(name: string, f: Figures): string[] {
  return [
    name,
    String(f.hosts),
    String(f.done),
    String(f.failed),
    String(f.inDoubt),
    String(f.skipped),
    String(f.aborted),
    String(f.unfinished),
    String(f.retries),
    String(f.rollbacks),
    makespanCell(f),
  ];
}

export function renderText(r: Report, paint: Paint = plain): string {
  const L: string[] = [];
  const t = r.totals;
  L.push(
    `${paint("bold", `report of run ${r.run.id}`)}  ${paint(stateStyle(r.run.state), r.run.state.toUpperCase())}  plan ${r.run.plan}@${r.run.revision}`,
  );
  if (r.run.reason) L.push(`  ${oneLine(r.run.reason)}`);
  const unfinished = unfinishedNote(t, `the first host start ${instant(t.start)}`);
  L.push(
    unfinished === null
      ? `  makespan ${duration(t.makespanMs)}  (${instant(t.start)} -> ${instant(t.end)})`
      : `  makespan -  (${unfinished})`,
  );
  L.push(
    `  hosts ${t.hosts}: done ${t.done}, failed ${t.failed}, in doubt ${t.inDoubt}, skipped ${t.skipped}, aborted ${t.aborted}, unfinished ${t.unfinished}; retries ${t.retries}, rollbacks ${t.rollbacks}`,
  );
  L.push("");
  const head = ["REGION", "HOSTS", "DONE", "FAILED", "IN DOUBT", "SKIPPED", "ABORTED", "UNFINISHED"];
  const rows = [[...head, "RETRIES", "ROLLBACKS", "MAKESPAN"]];
  for (const g of r.regions) rows.push(figureRow(g.region, g));
  L.push(columns(rows));
  L.push("");
  const waves = [["WAVE", "HOSTS", "OPENED", "FINISHED"]];
  for (const w of r.waves) waves.push([String(w.wave), String(w.hosts), offset(w.startMs), offset(w.endMs)]);
  L.push(columns(waves));
  L.push("");
  if (r.failures.length === 0) L.push(paint("green", "failures: none"));
  else {
    L.push(paint("bold", `failures (${r.failures.length}):`));
    for (const f of r.failures)
      L.push(
        `  ${paint(stateStyle(f.state), f.host)} (${f.state}, ${f.region}, ${f.step !== null ? `step ${f.step}` : failureStep(f)}): ${oneLine(f.reason, 400)}`,
      );
  }
  const d = r.workloadDowntime;
  L.push(
    d.note === null
      ? `workload downtime: p50 ${duration(d.p50Ms)}, p99 ${duration(d.p99Ms)}, max ${duration(d.maxMs)} (${d.samples} workload moves)`
      : `workload downtime: - (${d.note})`,
  );
  return `${L.join("\n")}\n`;
}
