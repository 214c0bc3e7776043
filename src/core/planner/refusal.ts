/**
 * Why a plan cannot be scheduled, refused before anything runs.
 *
 * Invariants: every refusal names the region or host, what is short, and the number that would
 * make the plan feasible (hold-overs needed, room needed, window needed) where one exists. A
 * window refusal names what held the region back when something did, never suggests hold-overs
 * for a region that drains nothing, and never asks for fewer hold-overs than the region has.
 */
import { SafetyRefusal } from "../errors.js";
import type { Capacity } from "../model/fleet.js";
import type { Closest } from "./holdover-pool.js";

export type Refusal =
  | {
      kind: "unplaceable";
      region: string;
      host: string;
      workload: string;
      size: Capacity;
      /** Per resource, the most room any one hold-over of the region has, empty (each may be a different one; null: it has none). */
      largestFree: Capacity | null;
      /** The hold-over it misses by the least, with its room and what the workload lacks there (null: none). */
      closest: Closest | null;
    }
  | { kind: "missing-holdovers"; region: string; holdovers: number; needed: number; why: string }
  | { kind: "no-window"; region: string; why: string }
  | {
      kind: "window-too-short";
      region: string;
      windowMs: number;
      /** From the window's opening when one was chosen (`fromOpening`), else from the region's first start. */
      estimateMs: number;
      fromOpening: boolean;
      /** The region's hold-overs; null when the plan drains none of its hosts (hold-overs do not matter). */
      holdovers: number | null;
      /** The fewest hold-overs with which the region alone fits the window, or null when no number does (or it drains nothing). */
      needed: number | null;
      /** What makes it too long: what held it back (and for how long), or what binds on its own. */
      why: string;
      /** What would make it fit, as far as the planner checked. */
      fix: string;
    };

export class PlanRefusal extends SafetyRefusal {
  constructor(readonly refusals: readonly Refusal[]) {
    super("planner", refusals.map(describeRefusal).join("\n"));
  }
}

export function formatCapacity(c: Capacity): string {
  return `${round(c.cpu)} cpu, ${Math.round(c.memoryMb)} MB memory, ${Math.round(c.diskGb)} GB disk`;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** `the closest, h2 (64 cpu, ...), lacks 1000 GB disk; the most of each on one hold-over is ...`. */
function roomOf(closest: Closest | null, most: Capacity | null): string {
  if (closest === null || most === null) return "the region has no hold-over";
  const lacks = [
    closest.short.cpu !== undefined ? `${round(closest.short.cpu)} cpu` : undefined,
    closest.short.memoryMb !== undefined ? `${Math.round(closest.short.memoryMb)} MB memory` : undefined,
    closest.short.diskGb !== undefined ? `${Math.round(closest.short.diskGb)} GB disk` : undefined,
  ].filter((x) => x !== undefined);
  return `the closest, ${closest.holdover} (${formatCapacity(closest.free)} free), lacks ${lacks.join(" and ")}; the most of each on any one hold-over is ${formatCapacity(most)}`;
}

export function formatMs(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}

export function describeRefusal(r: Refusal): string {
  switch (r.kind) {
    case "unplaceable":
      return `region ${r.region}: workload ${r.workload} of ${r.host} (${formatCapacity(r.size)}) fits on no hold-over: ${roomOf(r.closest, r.largestFree)}; add a larger hold-over or move the workload first`;
    case "missing-holdovers":
      return `region ${r.region}: ${r.why}; it has ${r.holdovers} hold-over(s), ${r.needed} needed`;
    case "no-window":
      return `region ${r.region}: no maintenance window: ${r.why}`;
    case "window-too-short":
      return `region ${r.region}: ${r.why}: an estimated ${formatMs(r.estimateMs)}${r.fromOpening ? " from its window's opening" : ""}${r.holdovers === null ? "" : ` with ${r.holdovers} hold-over(s)`} does not fit its ${formatMs(r.windowMs)} window; ${r.fix}`;
  }
}
