/**
 * A region's hold-overs as bins: drained workloads are packed onto them first-fit decreasing, and
 * the room they take stays reserved until their host's flow ends (its workloads are back home).
 *
 * Invariants:
 * - Never over-committed: a workload is placed only where CPU, memory and disk all fit next to
 *   everything already reserved there, where no workload of its anti-affinity group is, and (for a
 *   singleton) where no other singleton is — the simulator's rules (adapters/simulator/placement.ts).
 * - All or nothing per host: `reserve` places every workload of the host or none (and then says
 *   which one did not fit and the most free room of each resource there was).
 * - Free room is told per resource (`mostFree`: the most of each, maybe on different hold-overs)
 *   or for the one hold-over a workload misses by the least (`closest`), never as one hold-over
 *   picked by memory alone: a workload too large on disk or CPU must see the disk or CPU there is.
 * - Deterministic: workloads are taken largest first (by their largest share of a hold-over's
 *   capacity, then id); hold-overs are tried in name order. No randomness is needed.
 */
import type { Capacity, Host, Workload } from "../model/fleet.js";

export interface Bin {
  name: string;
  capacity: Capacity;
  used: Capacity;
  groups: Map<string, number>;
  singletons: number;
}

export interface Placement {
  /** Workload id -> hold-over. */
  assignments: Record<string, string>;
}

export interface NoRoom {
  workload: Workload;
  /** Per resource, the most free room on any hold-over when the workload was tried. */
  largestFree: Capacity | undefined;
}

/** The hold-over a workload misses by the least: its free room and what the workload lacks there. */
export interface Closest {
  holdover: string;
  free: Capacity;
  /** Only the resources that are short, by how much. */
  short: Partial<Capacity>;
}

const RESOURCES = ["cpu", "memoryMb", "diskGb"] as const;

const ZERO: Capacity = { cpu: 0, memoryMb: 0, diskGb: 0 };

/** The share of the largest hold-over a workload takes in its scarcest resource. */
function weight(w: Workload, ref: Capacity): number {
  return Math.max(w.cpu / ref.cpu, w.memoryMb / ref.memoryMb, w.diskGb / ref.diskGb);
}

export function largestFirst(ws: readonly Workload[], ref: Capacity): Workload[] {
  return [...ws].sort((a, b) => weight(b, ref) - weight(a, ref) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function fits(bin: Bin, w: Workload): boolean {
  const { used, capacity } = bin;
  if (used.cpu + w.cpu > capacity.cpu + 1e-9) return false;
  if (used.memoryMb + w.memoryMb > capacity.memoryMb) return false;
  if (used.diskGb + w.diskGb > capacity.diskGb) return false;
  if (w.antiAffinityGroup !== undefined && (bin.groups.get(w.antiAffinityGroup) ?? 0) > 0) return false;
  if (w.singleton && bin.singletons > 0) return false;
  return true;
}

function add(bin: Bin, w: Workload, sign: 1 | -1): void {
  bin.used = {
    cpu: bin.used.cpu + sign * w.cpu,
    memoryMb: bin.used.memoryMb + sign * w.memoryMb,
    diskGb: bin.used.diskGb + sign * w.diskGb,
  };
  if (w.antiAffinityGroup !== undefined)
    bin.groups.set(w.antiAffinityGroup, (bin.groups.get(w.antiAffinityGroup) ?? 0) + sign);
  if (w.singleton) bin.singletons += sign;
}

export class HoldoverPool {
  readonly bins: Bin[];
  private readonly ref: Capacity;
  private readonly held = new Map<string, { bin: Bin; w: Workload }[]>();

  constructor(holdovers: readonly { name: string; capacity: Capacity }[]) {
    this.bins = [...holdovers]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((h) => ({
        name: h.name,
        capacity: { ...h.capacity },
        used: { ...ZERO },
        groups: new Map(),
        singletons: 0,
      }));
    this.ref = this.bins.reduce<Capacity>(
      (m, b) => ({
        cpu: Math.max(m.cpu, b.capacity.cpu),
        memoryMb: Math.max(m.memoryMb, b.capacity.memoryMb),
        diskGb: Math.max(m.diskGb, b.capacity.diskGb),
      }),
      { cpu: 1, memoryMb: 1, diskGb: 1 },
    );
  }

  /** Place every workload of `host` (first-fit decreasing) and keep the room reserved, or place none. */
  reserve(host: string, workloads: readonly Workload[]): Placement | NoRoom {
    const taken: { bin: Bin; w: Workload }[] = [];
    for (const w of largestFirst(workloads, this.ref)) {
      const bin = this.bins.find((b) => fits(b, w));
      if (bin === undefined) {
        const largestFree = this.mostFree();
        for (const t of taken) add(t.bin, t.w, -1);
        return { workload: w, largestFree };
      }
      add(bin, w, 1);
      taken.push({ bin, w });
    }
    this.held.set(host, taken);
    const assignments: Record<string, string> = {};
    for (const t of taken) assignments[t.w.id] = t.bin.name;
    return { assignments };
  }

  /** The host's workloads went home: its room is free again. */
  release(host: string): void {
    for (const t of this.held.get(host) ?? []) add(t.bin, t.w, -1);
    this.held.delete(host);
  }

  /** Per resource, the most free room on any one hold-over (each may be on a different one). */
  mostFree(): Capacity | undefined {
    let best: Capacity | undefined;
    for (const b of this.bins) {
      const free = freeOf(b);
      best =
        best === undefined
          ? free
          : {
              cpu: Math.max(best.cpu, free.cpu),
              memoryMb: Math.max(best.memoryMb, free.memoryMb),
              diskGb: Math.max(best.diskGb, free.diskGb),
            };
    }
    return best;
  }

  /**
   * The hold-over whose free room `w` misses by the least (its largest shortfall as a share of the
   * workload's own size, then name), with what it lacks there: CPU, memory and disk only (an
   * anti-affinity group or a singleton already there is not a shortfall).
   */
  closest(w: Workload): Closest | undefined {
    let best: { c: Closest; miss: number } | undefined;
    for (const b of this.bins) {
      const free = freeOf(b);
      const short: Partial<Capacity> = {};
      let miss = 0;
      for (const r of RESOURCES) {
        const lack = w[r] - free[r];
        if (lack <= (r === "cpu" ? 1e-9 : 0)) continue;
        short[r] = lack;
        miss = Math.max(miss, lack / w[r]);
      }
      if (best === undefined || miss < best.miss) best = { c: { holdover: b.name, free, short }, miss };
    }
    return best?.c;
  }
}

function freeOf(b: Bin): Capacity {
  return {
    cpu: b.capacity.cpu - b.used.cpu,
    memoryMb: b.capacity.memoryMb - b.used.memoryMb,
    diskGb: b.capacity.diskGb - b.used.diskGb,
  };
}

export function isPlacement(p: Placement | NoRoom): p is Placement {
  return "assignments" in p;
}

/** The hold-overs of a region as the pool sees them (a host without a capacity gets `fallback`). */
export function holdoverBins(
  holdovers: readonly Host[],
  fallback: Capacity,
): { name: string; capacity: Capacity }[] {
  return holdovers.map((h) => ({ name: h.name, capacity: h.capacity ?? fallback }));
}
