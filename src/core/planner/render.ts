/**
 * A schedule for people: what `overhaul plan` prints. The summary is what an operator signs
 * (makespan, bound, ratio, regions, waves, risks); `explain` adds every batch with its start
 * offset, each host's estimated flow and which hold-over takes which workload, and why the bound
 * is what it is.
 *
 * Invariants: pure; the same schedule gives the same text; offsets are from the run's start, and
 * with windows a region's `opens` offset is when its window opens (none of its hosts starts before).
 */
import { columns } from "../report/format.js";
import type { Schedule } from "./planner.js";
import { formatMs } from "./refusal.js";

type Paint = (style: "bold" | "yellow" | "gray" | "green", s: string) => string;

const plain: Paint = (_s, t) => t;

function offset(ms: number): string {
  return `+${formatMs(ms)}`;
}

export function renderSchedule(s: Schedule, opts: { explain?: boolean; paint?: Paint } = {}): string {
  const p = opts.paint ?? plain;
  const out: string[] = [];
  const binding = [...s.lowerBound.waves].sort((a, b) => b.ms - a.ms)[0];
  out.push(
    `${s.hosts.length} host(s) in ${s.regions.length} region(s), ${s.batches.length} batch(es), order ${s.order}, seed ${s.seed}`,
  );
  out.push(
    `${p("bold", `estimated makespan ${formatMs(s.makespanMs)}`)}; lower bound ${formatMs(s.lowerBound.ms)}; ratio ${s.ratio.toFixed(3)}${binding ? ` (largest part: wave ${binding.wave}, ${binding.binding})` : ""}`,
  );
  const sp = s.spread;
  if (sp !== null) {
    const r = (ms: number) => (s.lowerBound.ms > 0 ? ` (${(ms / s.lowerBound.ms).toFixed(3)})` : "");
    out.push(
      `with drawn boot times (${sp.samples} play${sp.samples === 1 ? "" : "s"}): p10 ${formatMs(sp.p10Ms)}${r(sp.p10Ms)}, p50 ${formatMs(sp.p50Ms)}${r(sp.p50Ms)}, p90 ${formatMs(sp.p90Ms)}${r(sp.p90Ms)}, worst ${formatMs(sp.maxMs)}`,
    );
    if (sp.exhausted > 0)
      out.push(
        `  ${(100 * sp.exhausted).toFixed(1)} % of the drawn reboots used every attempt (the host would fail and be rolled back; counted here at its full length, as in the estimate)`,
      );
  }
  out.push("");
  out.push(
    columns([
      ["region", "hosts", "hold-overs", "room", "opens", "start", "end", "window", "hold-overs needed"],
      ...s.regions.map((r) => [
        r.region,
        String(r.hosts),
        String(r.holdovers),
        r.holdoverRoom > 0 ? String(r.holdoverRoom) : "-",
        r.opensAt === null || s.startAt === null ? "-" : offset(r.opensAt - s.startAt),
        offset(r.startMs),
        offset(r.endMs),
        r.windowMs === null ? "-" : formatMs(r.windowMs),
        r.holdoversNeeded === null ? "-" : String(r.holdoversNeeded),
      ]),
    ]),
  );
  out.push("");
  out.push("waves:");
  for (const w of s.waves)
    out.push(`  ${w.index}: ${w.hosts} host(s), ${offset(w.startMs)} to ${offset(w.endMs)}`);
  if (Object.keys(s.caps).length > 0) {
    const groups = Object.keys(s.caps).filter((k) => k.startsWith("group:")).length;
    const room = s.caps.holdovers;
    out.push(
      `planner caps: ${groups} replicated group(s) one host at a time${
        room
          ? `; hold-over room ${Object.entries(room)
              .map(([r, n]) => `${r} ${n}`)
              .join(", ")}`
          : ""
      }`,
    );
  }
  out.push("");
  if (s.risks.length === 0) out.push(p("green", "risks: none found"));
  else {
    out.push(p("yellow", `risks (${s.risks.length}):`));
    for (const r of s.risks) out.push(`  - ${r.region ?? "every region"}: ${r.message}`);
  }
  if (opts.explain) {
    out.push("");
    out.push("lower bound, wave by wave (waves are barriers, so the parts add up):");
    for (const w of s.lowerBound.waves) out.push(`  wave ${w.wave}: ${formatMs(w.ms)} (${w.binding})`);
    const w = s.lowerBound.window;
    if (w !== undefined)
      out.push(
        `  but region ${w.region}'s window opens at ${offset(w.opensMs)}: at least ${formatMs(w.ms)} (its opening + its longest flow)`,
      );
    out.push("");
    out.push("batches (hosts that start together):");
    const byHost = new Map(s.hosts.map((h) => [h.host, h]));
    for (const b of s.batches) {
      out.push(`  batch ${b.index} (wave ${b.wave}) at ${offset(b.startMs)}:`);
      for (const name of b.hosts) {
        const h = byHost.get(name);
        if (h === undefined) continue;
        const moves = Object.entries(h.holdovers);
        const to = new Map<string, number>();
        for (const [, ho] of moves) to.set(ho, (to.get(ho) ?? 0) + 1);
        const where =
          moves.length === 0
            ? ""
            : `; ${moves.length} workload(s) to ${[...to].map(([ho, n]) => `${ho} (${n})`).join(", ")}`;
        out.push(`    ${name} [${h.region}] ${formatMs(h.durationMs)}, done ${offset(h.endMs)}${where}`);
      }
    }
  }
  return `${out.join("\n")}\n`;
}
