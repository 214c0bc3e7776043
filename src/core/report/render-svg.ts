/**
 * The timeline picture as inline SVG: one row per host, grouped by region, a bar per attempt
 * coloured by stage, revert attempts hatched on a revert-phase band, failure marks, dashed wave
 * boundaries, a time axis (relative to the first host start) above and, for tall charts, below.
 *
 * Invariants:
 * - Static markup only (no script, no external reference): it draws without JavaScript, offline.
 * - Every text from the data is escaped (`esc`); coordinates are numbers this file computes.
 * - Every bar is at least 1 px wide, so an attempt that took no measurable time still shows.
 * - Row height shrinks with the host count (18 px up to 60 hosts, 4 px from 600) so 2,000 hosts
 *   stay one scrollable picture; below 11 px names move to tooltips (`<title>`), and the region
 *   headers carry the labels. Row and mark classes (`row`, `bar`, `mk-failed`, ...) and the
 *   `data-host` attribute are a contract the Chromium test relies on.
 */
import { duration, offset, oneLine } from "./format.js";
import { esc } from "./html-escape.js";
import { makespanCell } from "./makespan-text.js";
import type { Figures, HostReport, Report } from "./model.js";

const GUTTER = 170;
const PLOT_W = 1000;
const RIGHT = 24;
const AXIS_H = 34;
const REGION_H = 18;
const NICE = [
  0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
].map((s) => Math.round(s * 1000));

interface Layout {
  rowH: number;
  barH: number;
  labels: boolean;
  scale: number;
}

const n1 = (v: number) => String(Math.round(v * 10) / 10);

function layoutFor(hosts: number, endMs: number): Layout {
  const rowH = hosts <= 60 ? 18 : hosts <= 200 ? 12 : hosts <= 600 ? 6 : 4;
  return {
    rowH,
    barH: rowH >= 10 ? rowH - 6 : rowH - 1,
    labels: rowH >= 11,
    scale: PLOT_W / Math.max(endMs, 1),
  };
}

function tickStep(endMs: number): number {
  return NICE.find((s) => endMs / s <= 10) ?? Math.ceil(endMs / 10 / 86_400_000) * 86_400_000;
}

/** Grid lines from `top` to `bottom` at each tick, with labels at `labelY` unless null. */
function axis(
  endMs: number,
  x: (ms: number) => number,
  top: number,
  bottom: number,
  labelY: number | null,
): string {
  const step = tickStep(Math.max(endMs, 1));
  const parts: string[] = [];
  for (let t = 0; t <= endMs; t += step) {
    const xs = n1(x(t));
    parts.push(`<line class="gl" x1="${xs}" x2="${xs}" y1="${top}" y2="${bottom}"/>`);
    if (labelY !== null) parts.push(`<text class="tk" x="${xs}" y="${labelY}">${offset(t)}</text>`);
  }
  return `<g class="axis">${parts.join("")}</g>`;
}

function marksOf(h: HostReport, L: Layout, x: (ms: number) => number, stages: readonly string[]): string {
  const out: string[] = [];
  const c = L.rowH / 2;
  const s = Math.max(3, Math.min(6, L.rowH / 2 - 1));
  for (const m of h.marks) {
    const mx = x(m.atMs);
    const at = offset(m.atMs);
    const step = m.stage !== null && m.stage >= 0 ? ` at step ${stages[m.stage] ?? "?"}` : "";
    const title = `<title>${esc(`${m.kind.replace("_", " ")}${step} (${at})${m.reason ? `: ${oneLine(m.reason, 300)}` : ""}`)}</title>`;
    if (m.kind === "attempt-failed")
      out.push(
        `<rect class="mk mk-attempt" x="${n1(mx - 1)}" y="0" width="2" height="${L.rowH}">${title}</rect>`,
      );
    else if (m.kind === "failed")
      out.push(
        `<path class="mk mk-failed" d="M${n1(mx - s)} ${n1(c - s)}L${n1(mx + s)} ${n1(c + s)}M${n1(mx - s)} ${n1(c + s)}L${n1(mx + s)} ${n1(c - s)}">${title}</path>`,
      );
    else if (m.kind === "in_doubt")
      out.push(
        `<path class="mk mk-in_doubt" d="M${n1(mx)} ${n1(c - s)}L${n1(mx + s)} ${n1(c)}L${n1(mx)} ${n1(c + s)}L${n1(mx - s)} ${n1(c)}Z">${title}</path>`,
      );
    else if (m.kind === "aborted")
      out.push(
        `<rect class="mk mk-aborted" x="${n1(mx - s)}" y="${n1(c - s)}" width="${n1(2 * s)}" height="${n1(2 * s)}">${title}</rect>`,
      );
    else
      out.push(
        `<rect class="mk mk-op" x="${n1(mx - 0.5)}" y="0" width="1" height="${L.rowH}">${title}</rect>`,
      );
  }
  return out.join("");
}

function row(
  h: HostReport,
  y: number,
  i: number,
  L: Layout,
  x: (ms: number) => number,
  stages: readonly string[],
): string {
  const parts: string[] = [];
  const reason = h.reason ? ` — ${oneLine(h.reason, 300)}` : "";
  parts.push(
    `<title>${esc(`${h.host} (${h.region}, wave ${h.wave}): ${h.state.replace("_", " ")}${reason}`)}</title>`,
  );
  const bad = h.state === "failed" || h.state === "in_doubt" || h.state === "aborted";
  parts.push(
    `<rect class="rb${i % 2 ? " odd" : ""}${bad ? " bad" : ""}" x="0" y="0" width="${GUTTER + PLOT_W + RIGHT}" height="${L.rowH}"/>`,
  );
  if (L.labels) {
    const name = h.host.length > 26 ? `${h.host.slice(0, 25)}…` : h.host;
    parts.push(
      `<text class="hl${bad ? " bad" : ""}" x="${GUTTER - 8}" y="${n1(L.rowH / 2)}">${esc(name)}</text>`,
    );
  }
  for (const r of h.reverts)
    parts.push(
      `<rect class="rvp" x="${n1(x(r.startMs))}" y="0" width="${n1(Math.max(1, (r.endMs - r.startMs) * L.scale))}" height="${L.rowH}"/>`,
    );
  const by = n1((L.rowH - L.barH) / 2);
  for (const s of h.segments) {
    const cls = s.kind === "revert" ? "bar rv" : `bar ${s.stage >= 0 ? `s${s.stage}` : "sx"}`;
    const w = n1(Math.max(1, (s.endMs - s.startMs) * L.scale));
    const what = `${stages[s.stage] ?? "?"}${s.kind === "revert" ? " (revert)" : ""} attempt ${s.attempt}`;
    const tip = `${what}: ${s.outcome}, ${duration(s.endMs - s.startMs)} from ${offset(s.startMs)}${s.reason ? ` — ${oneLine(s.reason, 160)}` : ""}`;
    parts.push(
      `<rect class="${cls}" data-stage="${s.stage}" x="${n1(x(s.startMs))}" y="${by}" width="${w}" height="${L.barH}"><title>${esc(tip)}</title></rect>`,
    );
  }
  parts.push(marksOf(h, L, x, stages));
  return `<g class="row" data-host="${esc(h.host)}" data-state="${esc(h.state)}" data-wave="${h.wave}" transform="translate(0 ${y})">${parts.join("")}</g>`;
}

/** A region header's figures: every count a host can end in (those that are 0 left out), as the tables have them. */
function regionFigures(g: Figures): string {
  const optional = [
    [g.inDoubt, "in doubt"],
    [g.skipped, "skipped"],
    [g.aborted, "aborted"],
    [g.unfinished, "unfinished"],
  ] as const;
  const counts = [`${g.done} done`, `${g.failed} failed`];
  for (const [n, label] of optional) if (n > 0) counts.push(`${n} ${label}`);
  return `${g.hosts} hosts: ${counts.join(", ")}, makespan ${makespanCell(g)}`;
}

/**
 * Two SVGs: `#timeline-axis` (time labels and wave labels; the page keeps it in view while the
 * rows scroll) and `#timeline` (the rows, grid, wave lines, and a bottom axis when tall).
 */
export function renderTimeline(r: Report): string {
  const L = layoutFor(r.hosts.length, r.timeline.endMs);
  const x = (ms: number) => GUTTER + Math.max(0, ms) * L.scale;
  const end = r.timeline.endMs;
  const regionCount = new Set(r.hosts.map((h) => h.region)).size;
  const bodyH = Math.max(r.hosts.length * L.rowH + regionCount * REGION_H, 24);
  const tall = bodyH > 600;
  const height = bodyH + (tall ? 22 : 4);
  const width = GUTTER + PLOT_W + RIGHT;

  const head: string[] = [axis(end, x, AXIS_H - 6, AXIS_H, 12)];
  const body: string[] = [axis(end, x, 0, bodyH, tall ? bodyH + 15 : null)];
  if (r.hosts.length === 0) body.push(`<text class="rl" x="${GUTTER}" y="12">no hosts</text>`);

  let y = 0;
  let region: string | null = null;
  const byRegion = new Map(r.regions.map((g) => [g.region, g]));
  r.hosts.forEach((h, i) => {
    if (h.region !== region) {
      region = h.region;
      const g = byRegion.get(region);
      const fig = g ? ` — ${regionFigures(g)}` : "";
      body.push(
        `<g class="region" data-region="${esc(region)}"><rect class="rh" x="0" y="${y}" width="${GUTTER + PLOT_W + RIGHT}" height="${REGION_H}"/><text class="rl" x="6" y="${y + REGION_H / 2}">${esc(region + fig)}</text></g>`,
      );
      y += REGION_H;
    }
    body.push(row(h, y, i, L, x, r.stages));
    y += L.rowH;
  });

  let lastLabel = Number.NEGATIVE_INFINITY;
  for (const w of r.waves) {
    if (w.startMs === null) continue;
    const wx = n1(x(w.startMs));
    body.push(`<line class="wave" data-wave="${w.wave}" x1="${wx}" x2="${wx}" y1="0" y2="${bodyH}"/>`);
    head.push(`<line class="wave" x1="${wx}" x2="${wx}" y1="17" y2="${AXIS_H}"/>`);
    if (x(w.startMs) - lastLabel >= 48) {
      head.push(`<text class="wl" x="${n1(x(w.startMs) + 3)}" y="28">wave ${w.wave}</text>`);
      lastLabel = x(w.startMs);
    }
  }

  return [
    `<div class="tlhead"><svg id="timeline-axis" class="tl" width="${width}" height="${AXIS_H}" viewBox="0 0 ${width} ${AXIS_H}" aria-hidden="true">`,
    ...head,
    "</svg></div>",
    `<svg id="timeline" class="tl" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="timeline of ${r.hosts.length} hosts">`,
    `<defs><pattern id="hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="#e2d4f0"/><rect width="3" height="6" fill="#6a3d9a"/></pattern></defs>`,
    ...body,
    "</svg>",
  ].join("\n");
}
