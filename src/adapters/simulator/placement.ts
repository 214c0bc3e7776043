/**
 * Where a moving workload may go, and how long the move takes: the simulated scheduler's rules.
 *
 * Invariants:
 * - A target is in the source's region, is a worker or hold-over, is not cordoned, and is reachable
 *   now; hold-overs come first, then hosts already holding workloads of the same home (a drained
 *   host's workloads stay together), then the host with the most free memory, then by name.
 * - A workload never goes where it would exceed cpu, memory or disk (counting moves in flight
 *   towards the host), where a workload of its anti-affinity group already is (or is arriving), or
 *   where another singleton is: singletons are single-instance services, and one host failure
 *   must never take out two of them.
 * - Durations come from the workload's own seeded PRNG and the region's utilization at the start
 *   of the move (bandwidth = link x (1 - 0.6 x utilization)), so they do not depend on other
 *   workloads. A live move pre-copies memory, then blacks out 50-500 ms; a cold one copies its local
 *   volumes, then starts in 20-60 s.
 */
import type { MigrationMode, Workload } from "../../core/model/fleet.js";
import { utcOffsetHours } from "../../core/model/utc-offset.js";
import { utilization } from "../../core/sim/utilization.js";
import type { SimHost } from "./sim-host.js";
import type { WorldState } from "./world-state.js";

/** Migration network per host, MB/s (10 Gbit/s). */
const LINK_MBPS = 1_250;
/** Share of the link the region's own traffic takes at utilization 1. */
const BUSY_SHARE = 0.6;
const BLACKOUT_MS = { min: 50, max: 500 };
const COLD_START_MS = { min: 20_000, max: 60_000 };

export interface MoveTiming {
  mode: MigrationMode;
  /** Live: memory pre-copy while the workload keeps running (cancellable). Cold: 0. */
  preCopyMs: number;
  /** How long the workload is unavailable: live blackout, or cold copy + start. */
  downtimeMs: number;
}

/** The preferred way to move a workload: live when it supports it. */
export function modeOf(w: Workload): MigrationMode | undefined {
  if (w.migration.includes("live")) return "live";
  return w.migration.includes("cold") ? "cold" : undefined;
}

export function timingOf(
  w: Workload,
  mode: MigrationMode,
  source: SimHost,
  now: number,
  rnd: { next(): number },
): MoveTiming {
  const bandwidth = LINK_MBPS * (1 - BUSY_SHARE * utilization(utcOffsetOf(source), now));
  if (mode === "live") {
    const preCopyMs = Math.ceil((w.memoryMb / bandwidth) * 1000);
    return { mode, preCopyMs, downtimeMs: between(BLACKOUT_MS, rnd) };
  }
  const localMb = w.volumes.filter((v) => !v.network).reduce((a, v) => a + v.sizeGb * 1024, 0);
  const copyMs = Math.ceil((localMb / bandwidth) * 1000);
  return { mode, preCopyMs: 0, downtimeMs: copyMs + between(COLD_START_MS, rnd) };
}

/** Why `w` cannot go to `target` now, or undefined when it can. */
export function refusal(world: WorldState, w: Workload, target: string): string | undefined {
  const cap = world.capacityOf(target);
  const used = world.used(target);
  const short: string[] = [];
  if (used.cpu + w.cpu > cap.cpu) short.push(`cpu ${w.cpu} > ${cap.cpu - used.cpu} free`);
  if (used.memoryMb + w.memoryMb > cap.memoryMb)
    short.push(`memory ${w.memoryMb} MB > ${cap.memoryMb - used.memoryMb} MB free`);
  if (used.diskGb + w.diskGb > cap.diskGb)
    short.push(`disk ${w.diskGb} GB > ${cap.diskGb - used.diskGb} GB free`);
  if (short.length > 0) return `${target}: ${short.join(", ")}`;
  const g = w.antiAffinityGroup;
  if (g === undefined && !w.singleton) return undefined;
  const residents = world.residents(target);
  if (g !== undefined)
    for (const r of residents)
      if (r.id !== w.id && r.antiAffinityGroup === g)
        return `${target}: anti-affinity group ${g} already there`;
  if (w.singleton)
    for (const r of residents)
      if (r.id !== w.id && r.singleton) return `${target}: another singleton already there`;
  return undefined;
}

export type Choice = { target: string } | { reason: string; unreachable: boolean };

interface Candidate {
  name: string;
  holdover: number;
  together: number;
  free: number;
}

/** The order targets are tried in: hold-overs, then with the same home, then most free memory, then name. */
function byPreference(a: Candidate, b: Candidate): number {
  return (
    a.holdover - b.holdover ||
    a.together - b.together ||
    b.free - a.free ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
}

/**
 * The targets a workload drained from `from` may go to (peers of its region that are not
 * cordoned; with `reachableOnly`, only those reachable now), ranked with `byPreference`; `each`
 * sees them unsorted. Returns how many peers there were at all, and how many were reachable
 * (counted only with `reachableOnly`).
 */
function eachCandidate(
  world: WorldState,
  from: SimHost,
  home: string,
  reachableOnly: boolean,
  each: (c: Candidate, h: SimHost) => void,
  among: readonly SimHost[] = world.regionHosts(from.host.region),
): { peers: number; reachable: number } {
  const region = from.host.region;
  const holders = world.holdersOf(home);
  let peers = 0;
  let reachable = 0;
  // One scratch record: the caller copies what it keeps (no allocation per peer).
  const c: Candidate = { name: "", holdover: 0, together: 0, free: 0 };
  for (const h of among) {
    const name = h.host.name;
    if (h.host.region !== region || name === from.host.name || h.host.role === "control") continue;
    if (world.cordoned.has(name)) continue;
    peers++;
    if (reachableOnly) {
      if (world.unreachable(h) !== undefined) continue;
      reachable++;
    }
    c.name = name;
    c.holdover = h.host.role === "holdover" ? 0 : 1;
    c.together = holders?.has(name) ? 0 : 1;
    c.free = world.capacityOfHost(h).memoryMb - world.used(name).memoryMb;
    each(c, h);
  }
  return { peers, reachable };
}

/** The best target for a workload drained from `from`, or why there is none. */
export function chooseTarget(world: WorldState, w: Workload, home: string, from: SimHost): Choice {
  const region = from.host.region;
  // Fast path: the best peer, reachable or not. When it is reachable and has room, it is what the
  // full ranking below would choose (the best of all peers is the best of the reachable ones), so
  // the common move costs one reachability check instead of one per peer. Any hold-over ranks
  // before every worker, so the best peer is the best hold-over when there is one.
  let top: Candidate | undefined;
  let topHost: SimHost | undefined;
  const keep = (c: Candidate, h: SimHost) => {
    if (top === undefined) top = { ...c };
    else if (byPreference(c, top) < 0) Object.assign(top, c);
    else return;
    topHost = h;
  };
  eachCandidate(world, from, home, false, keep, world.regionHoldovers(region));
  if (top === undefined) eachCandidate(world, from, home, false, keep);
  if (top !== undefined && topHost !== undefined && world.unreachable(topHost) === undefined) {
    if (refusal(world, w, top.name) === undefined) return { target: top.name };
  }
  // The preferred reachable target usually takes the workload: find it in one pass, and rank the
  // others (in the same order) only when it does not. `byPreference` is a total order, so the
  // targets are tried in exactly the order a full sort would give; the second pass reads the same
  // state (`refusal` and `unreachable` change nothing that ranks a target).
  let best: Candidate | undefined;
  const { peers, reachable } = eachCandidate(world, from, home, true, (c) => {
    if (best === undefined) best = { ...c };
    else if (byPreference(c, best) < 0) Object.assign(best, c);
  });
  if (best === undefined || reachable === 0) {
    return peers === 0
      ? { reason: `no other worker or hold-over in region ${region}`, unreachable: false }
      : { reason: `every target in region ${region} is unreachable`, unreachable: true };
  }
  const first: Candidate = best;
  const why = refusal(world, w, first.name);
  if (why === undefined) return { target: first.name };
  const refusals: string[] = [why];
  const ranked: Candidate[] = [];
  eachCandidate(world, from, home, true, (c) => {
    if (c.name !== first.name) ranked.push({ ...c });
  });
  ranked.sort(byPreference);
  for (const c of ranked) {
    const why = refusal(world, w, c.name);
    if (why === undefined) return { target: c.name };
    refusals.push(why);
  }
  const more = refusals.length > 3 ? `; and ${refusals.length - 3} more` : "";
  return {
    reason: `no room in region ${region} (${refusals.slice(0, 3).join("; ")}${more})`,
    unreachable: false,
  };
}

function utcOffsetOf(h: SimHost): number {
  return utcOffsetHours(h.host);
}

function between(r: { min: number; max: number }, rnd: { next(): number }): number {
  return r.min + Math.floor(rnd.next() * (r.max - r.min + 1));
}
