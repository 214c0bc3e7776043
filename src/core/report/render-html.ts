/**
 * The HTML report: one self-contained file (inline CSS, inline SVG) with the run's outcome, the
 * timeline picture and its legend, per-region figures, waves, failures with their reasons, and
 * workload downtime.
 *
 * Invariants:
 * - No external URL, no script: it opens offline, from a ticket attachment or `file://`, and a
 *   Content-Security-Policy of `default-src 'none'` makes the browser refuse anything else, so
 *   hostile text in a reason can neither load nor run anything (it is escaped as well).
 * - Every text from the data goes through `esc`.
 * - Deterministic: the same report gives the same bytes (no generation time in the page).
 */
import { duration, failureStep, instant, offset, when } from "./format.js";
import { esc } from "./html-escape.js";
import { makespanCell, unfinishedNote } from "./makespan-text.js";
import type { Figures, Report } from "./model.js";
import { DOUBT, FAIL, REVERT, stageCss } from "./palette.js";
import { renderTimeline } from "./render-svg.js";

const CSS = `
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2328;margin:24px;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d8dee4;padding-bottom:4px}
.sub{color:#59636e;margin:0 0 16px}.sub code{font-size:12px}
.state{display:inline-block;padding:1px 8px;border-radius:10px;font-size:13px;font-weight:600;color:#fff;background:#59636e;vertical-align:middle}
.state.succeeded{background:#1a7f37}.state.failed,.state.aborted{background:${FAIL}}.state.running,.state.paused,.state.halting,.state.aborting{background:#bf8700}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{border:1px solid #d8dee4;border-radius:6px;padding:8px 12px;min-width:92px}
.card b{display:block;font-size:20px}.card span{color:#59636e;font-size:12px}.card.bad b{color:${FAIL}}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #d8dee4;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f6f8fa}td.l,th.l{text-align:left}tbody tr:nth-child(even){background:#fafbfc}
td.reason{text-align:left;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;white-space:pre-wrap;word-break:break-word;max-width:720px}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;margin:8px 0;font-size:12px;align-items:center}
.legend svg{vertical-align:middle;margin-right:4px}
.scroll{overflow:auto;max-height:85vh;border:1px solid #d8dee4;border-radius:6px;width:max-content;max-width:100%}
.tlhead{position:sticky;top:0;z-index:1;background:#fff;border-bottom:1px solid #d8dee4}
.note{color:#59636e}
svg.tl{display:block;font-size:11px}
.tl .gl{stroke:#e4e8ec;stroke-width:1}.tl .tk{fill:#59636e;text-anchor:middle;font-size:10px}
.tl .rb{fill:#fff}.tl .rb.odd{fill:#f6f8fa}.tl .rb.bad{fill:#fdecec}
.tl .hl{fill:#1f2328;text-anchor:end;dominant-baseline:central;font-size:11px}.tl .hl.bad{fill:${FAIL};font-weight:600}
.tl .rh{fill:#eaeef2}.tl .rl{fill:#1f2328;font-weight:600;dominant-baseline:central;font-size:11px;paint-order:stroke;stroke:#eaeef2;stroke-width:4px;stroke-linejoin:round}
.tl .bar{stroke:rgba(0,0,0,.25);stroke-width:.5}.tl .rv{fill:url(#hatch)}.tl .rvp{fill:${REVERT};fill-opacity:.14}
.tl .mk-attempt{fill:${FAIL}}.tl .mk-failed{stroke:${FAIL};stroke-width:2.5;fill:none;stroke-linecap:round}
.tl .mk-in_doubt{fill:${DOUBT};stroke:#fff;stroke-width:.5}.tl .mk-aborted{fill:#424a53}.tl .mk-op{fill:#59636e}
.tl .wave{stroke:#0969da;stroke-width:1.2;stroke-dasharray:4 3}.tl .wl{fill:#0969da;font-size:10px;font-weight:600}
`;

const swatch = (inner: string) =>
  `<svg width="22" height="14" viewBox="0 0 22 14" aria-hidden="true">${inner}</svg>`;

function legend(r: Report): string {
  const items = r.stages.map(
    (s, i) =>
      `<span>${swatch(`<rect class="s${i}" x="1" y="2" width="20" height="10" stroke="rgba(0,0,0,.25)"/>`)}${esc(s)}</span>`,
  );
  items.push(
    `<span>${swatch('<rect x="0" y="0" width="22" height="14" fill="#6a3d9a" fill-opacity=".14"/><rect x="1" y="2" width="20" height="10" fill="url(#hatch)"/>')}revert (phase and attempts)</span>`,
    `<span>${swatch(`<rect x="10" y="0" width="2" height="14" fill="${FAIL}"/>`)}failed attempt</span>`,
    `<span>${swatch(`<path d="M6 2L16 12M6 12L16 2" stroke="${FAIL}" stroke-width="2.5" stroke-linecap="round"/>`)}host failed</span>`,
    `<span>${swatch(`<path d="M11 1L17 7L11 13L5 7Z" fill="${DOUBT}"/>`)}in doubt</span>`,
    `<span>${swatch('<rect x="6" y="2" width="10" height="10" fill="#424a53"/>')}aborted</span>`,
    `<span>${swatch('<line x1="11" y1="0" x2="11" y2="14" stroke="#0969da" stroke-width="1.2" stroke-dasharray="4 3"/>')}wave start</span>`,
  );
  return `<div class="legend">${items.join("")}</div>`;
}

function figureCells(f: Figures): string {
  const c = [
    f.hosts,
    f.done,
    f.failed,
    f.inDoubt,
    f.skipped,
    f.aborted,
    f.unfinished,
    f.retries,
    f.rollbacks,
  ];
  return `${c.map((v) => `<td>${v}</td>`).join("")}<td>${makespanCell(f)}</td>`;
}
const FIGURE_HEAD =
  "<th>hosts</th><th>done</th><th>failed</th><th>in doubt</th><th>skipped</th><th>aborted</th><th>unfinished</th><th>retries</th><th>rollbacks</th><th>makespan</th>";

function cards(t: Figures): string {
  const card = (v: string | number, label: string, bad = false) =>
    `<div class="card${bad ? " bad" : ""}"><b>${esc(String(v))}</b><span>${label}</span></div>`;
  return `<div class="cards">${[
    card(t.hosts, "hosts"),
    card(t.done, "done"),
    card(t.failed, "failed", t.failed > 0),
    card(t.inDoubt, "in doubt", t.inDoubt > 0),
    card(t.skipped, "skipped"),
    card(t.aborted, "aborted", t.aborted > 0),
    card(t.unfinished, "unfinished"),
    card(t.retries, "retries"),
    card(t.rollbacks, "rollbacks", t.rollbacks > 0),
    t.unfinished === 0
      ? card(duration(t.makespanMs), "makespan")
      : card(
          t.makespanSoFarMs === null ? "-" : `${duration(t.makespanSoFarMs)} so far`,
          "makespan: unfinished",
        ),
  ].join("")}</div>`;
}

export function renderHtml(r: Report): string {
  const run = r.run;
  const dt = r.workloadDowntime;
  const unfinished = unfinishedNote(r.totals);
  const regions = r.regions
    .map(
      (g) =>
        `<tr><td class="l">${esc(g.region)}</td>${figureCells(g)}<td>${duration(g.workloadDowntime.p50Ms)}</td><td>${duration(g.workloadDowntime.p99Ms)}</td><td>${duration(g.workloadDowntime.maxMs)}</td></tr>`,
    )
    .join("\n");
  const waves = r.waves
    .map(
      (w) =>
        `<tr><td>${w.wave}</td><td>${w.hosts}</td><td>${offset(w.startMs)}</td><td>${offset(w.endMs)}</td></tr>`,
    )
    .join("\n");
  const failures = r.failures
    .map(
      (f) =>
        `<tr><td class="l">${esc(f.host)}</td><td class="l">${esc(f.region)}</td><td class="l">${esc(f.state.replace("_", " "))}</td><td class="l">${esc(failureStep(f))}</td><td class="l">${esc(when(f.at))}</td><td class="reason">${esc(f.reason ?? "")}</td></tr>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(`Overhaul report: run ${run.id} (${run.state})`)}</title>
<style>${CSS}${stageCss(r.stages.length)}</style>
</head>
<body>
<h1>Run ${esc(run.id)} <span class="state ${esc(run.state)}">${esc(run.state)}</span></h1>
<p class="sub">plan <b>${esc(`${run.plan}@${run.revision}`)}</b> <code>${esc(run.hash.slice(0, 12))}</code> · seed ${run.seed} · first host start ${esc(instant(r.totals.start))} · last host finish${unfinished === null ? "" : " so far"} ${esc(instant(r.totals.end))}${unfinished === null ? "" : ` · makespan - (${esc(unfinished)})`}${run.reason ? ` · ${esc(run.reason)}` : ""}</p>
${cards(r.totals)}
<h2>Timeline</h2>
<p class="note">One row per host, grouped by region, in start order. Time is relative to ${esc(when(r.timeline.origin))}. Hover a bar or a mark for details.</p>
${legend(r)}
<div class="scroll">
${renderTimeline(r)}
</div>
<h2>Regions</h2>
<table><thead><tr><th class="l">region</th>${FIGURE_HEAD}<th>downtime p50</th><th>p99</th><th>max</th></tr></thead><tbody>
${regions}
<tr><td class="l"><b>all</b></td>${figureCells(r.totals)}<td>${duration(dt.p50Ms)}</td><td>${duration(dt.p99Ms)}</td><td>${duration(dt.maxMs)}</td></tr>
</tbody></table>
<h2>Waves</h2>
<table><thead><tr><th>wave</th><th>hosts</th><th>opened</th><th>finished</th></tr></thead><tbody>
${waves}
</tbody></table>
<h2>Failures (${r.failures.length})</h2>
${r.failures.length === 0 ? '<p class="note">None.</p>' : `<table><thead><tr><th class="l">host</th><th class="l">region</th><th class="l">state</th><th class="l">step</th><th class="l">at</th><th class="l">reason</th></tr></thead><tbody>\n${failures}\n</tbody></table>`}
<h2>Workload downtime</h2>
<p${dt.note === null ? "" : ' class="note"'}>${dt.note === null ? `p50 ${duration(dt.p50Ms)}, p99 ${duration(dt.p99Ms)}, max ${duration(dt.maxMs)} over ${dt.samples} workload moves.` : `No figures: ${esc(dt.note)}.`}</p>
</body>
</html>
`;
}
