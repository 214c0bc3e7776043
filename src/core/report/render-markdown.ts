/**
 * The Markdown report (for a ticket, a wiki page, a pull request): the same figures as the
 * terminal report, as tables.
 *
 * Invariants: every piece of text from the data (host names, regions, reasons) goes through
 * `mdCell`, so a `|` cannot break a table and `<`, `*`, `_`, `` ` ``, `[` cannot become markup or
 * HTML in a renderer that allows inline HTML.
 */
import { duration, failureStep, instant, offset, oneLine, when } from "./format.js";
import { makespanCell, unfinishedNote } from "./makespan-text.js";
import type { Figures, Report } from "./model.js";

export function mdCell(s: string): string {
  return oneLine(s, 1000)
    .replace(/[\\`*_[\]|#~]/g, (c) => `\\${c}`)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;");
}

function tableOf(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}

const FIGURE_HEAD = [
  "hosts",
  "done",
  "failed",
  "in doubt",
  "skipped",
  "aborted",
  "unfinished",
  "retries",
  "rollbacks",
  "makespan",
];
const figureCells = (f: Figures): string[] => [
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

export function renderMarkdown(r: Report): string {
  const L: string[] = [];
  L.push(`# Run ${mdCell(r.run.id)}: ${r.run.state}`, "");
  L.push(`- plan: ${mdCell(`${r.run.plan}@${r.run.revision}`)} (hash \`${r.run.hash.slice(0, 12)}\`)`);
  if (r.run.reason) L.push(`- reason: ${mdCell(r.run.reason)}`);
  const unfinished = unfinishedNote(r.totals);
  L.push(
    `- first host start: ${instant(r.totals.start)}; last host finish${unfinished === null ? "" : " so far"}: ${instant(r.totals.end)}`,
  );
  L.push(`- makespan: ${unfinished === null ? duration(r.totals.makespanMs) : `- (${unfinished})`}`, "");
  L.push("## Hosts", "", ...tableOf(["", ...FIGURE_HEAD], [["**all**", ...figureCells(r.totals)]]), "");
  L.push("## Regions", "");
  L.push(
    ...tableOf(
      ["region", ...FIGURE_HEAD, "downtime p50", "p99", "max"],
      r.regions.map((g) => [
        mdCell(g.region),
        ...figureCells(g),
        duration(g.workloadDowntime.p50Ms),
        duration(g.workloadDowntime.p99Ms),
        duration(g.workloadDowntime.maxMs),
      ]),
    ),
    "",
  );
  L.push("## Waves", "");
  L.push(
    ...tableOf(
      ["wave", "hosts", "opened", "finished"],
      r.waves.map((w) => [String(w.wave), String(w.hosts), offset(w.startMs), offset(w.endMs)]),
    ),
    "",
  );
  L.push(`## Failures (${r.failures.length})`, "");
  if (r.failures.length === 0) L.push("None.");
  else
    L.push(
      ...tableOf(
        ["host", "region", "state", "step", "at", "reason"],
        r.failures.map((f) => [
          mdCell(f.host),
          mdCell(f.region),
          f.state,
          mdCell(failureStep(f)),
          when(f.at),
          mdCell(f.reason ?? ""),
        ]),
      ),
    );
  L.push("", "## Workload downtime", "");
  const d = r.workloadDowntime;
  L.push(
    d.note === null
      ? `p50 ${duration(d.p50Ms)}, p99 ${duration(d.p99Ms)}, max ${duration(d.maxMs)} over ${d.samples} workload moves.`
      : `No figures: ${mdCell(d.note)}.`,
  );
  return `${L.join("\n")}\n`;
}
