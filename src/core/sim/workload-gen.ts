/**
 * Generate the workloads of worker hosts: a seeded mix of VMs (with network or local volumes),
 * containers and services, sized to use 50-65 % of each worker, so that one empty hold-over (of
 * the same capacity) can take in one drained worker. Used for generated fleets and for fleets read
 * from a real inventory.
 *
 * Invariants:
 * - Pure and deterministic: each host's workloads come from a PRNG seeded by (seed, host name), so
 *   a host's workloads do not change when other hosts are added or removed.
 * - Only `worker` hosts get workloads; hold-overs and control hosts start empty.
 * - Per host and per resource (cpu, memory, disk) the workloads use between LOAD_MIN and LOAD_MAX of
 *   the host's capacity (DEFAULT_CAPACITY when the host has none), for up to MAX_PER_HOST workloads.
 * - `diskGb` is everything a workload stores on its host: its root disk plus its volumes.
 * - Mix: VMs with an attached network volume (live and cold migration, some also own an unattached
 *   network volume); VMs with a local volume (cold only: the volume must be copied); containers
 *   and services (cold: stopped, started on the target). At most one singleton per host.
 *   Anti-affinity groups span the same slot on up to three neighbouring workers of a region, so
 *   no group starts with two members on one host. Nothing is `pinned`. With the `network` mix every
 *   workload is a VM on an attached network volume, drawn from the same random sequence.
 */
import type { Capacity, Host, MigrationMode, Volume, Workload } from "../model/fleet.js";
import { seededRandom } from "../policy/random.js";

export const DEFAULT_CAPACITY: Readonly<Capacity> = Object.freeze({
  cpu: 64,
  memoryMb: 262_144,
  diskGb: 4_000,
});
/** Share of each resource of a worker that its workloads use. */
export const LOAD_MIN = 0.5;
export const LOAD_MAX = 0.65;
/** Above this many workloads per host the minimum sizes could exceed LOAD_MAX. */
export const MAX_PER_HOST = 64;

const CPU_STEP = 0.25;
const MEM_STEP = 256;
/** Workers per anti-affinity neighbourhood, and the chance that a slot of it forms a group. */
const GROUP_SPAN = 3;
const GROUP_CHANCE = 0.2;

type Flavor = "vm-network" | "vm-local" | "container" | "service";

/** Cumulative chance of each flavor, and the relative size range of each. */
const FLAVORS: { flavor: Flavor; upTo: number; weight: [number, number] }[] = [
  { flavor: "vm-network", upTo: 0.4, weight: [1, 2] },
  { flavor: "vm-local", upTo: 0.6, weight: [1, 2] },
  { flavor: "container", upTo: 0.85, weight: [0.2, 0.6] },
  { flavor: "service", upTo: 1, weight: [0.3, 0.8] },
];

/** `mixed`: the mix above; `network`: only VMs with attached network volumes (same sizes, same draws). */
export type WorkloadMix = "mixed" | "network";

/** The workloads of every worker in `hosts`, `perHost` each, in host order. */
export function generateWorkloads(
  hosts: readonly Host[],
  perHost: number,
  seed: number,
  mix: WorkloadMix = "mixed",
): Workload[] {
  if (!Number.isInteger(perHost) || perHost < 0 || perHost > MAX_PER_HOST)
    throw new RangeError(
      `generateWorkloads: perHost must be a whole number 0..${MAX_PER_HOST}, got ${perHost}`,
    );
  if (perHost === 0) return [];
  const workers = hosts.filter((h) => h.role === "worker");
  const indexInRegion = new Map<string, number>();
  const seen = new Map<string, number>();
  for (const h of workers) {
    const i = seen.get(h.region) ?? 0;
    indexInRegion.set(h.name, i);
    seen.set(h.region, i + 1);
  }
  return workers.flatMap((h) =>
    workloadsOf(h, perHost, seed, mix, (slot) =>
      groupOf(h.region, indexInRegion.get(h.name) ?? 0, slot, seed),
    ),
  );
}

function workloadsOf(
  host: Host,
  perHost: number,
  seed: number,
  mix: WorkloadMix,
  group: (slot: number) => string | undefined,
): Workload[] {
  const rnd = seededRandom(hashOf(`${seed}/workloads/${host.name}`));
  const cap = host.capacity ?? DEFAULT_CAPACITY;
  const share = () => LOAD_MIN + rnd.next() * (LOAD_MAX - LOAD_MIN);
  const target = { cpu: cap.cpu * share(), memoryMb: cap.memoryMb * share(), diskGb: cap.diskGb * share() };
  const drafts = Array.from({ length: perHost }, () => {
    const x = rnd.next();
    const drawn =
      FLAVORS.find((c) => x < c.upTo) ?? (FLAVORS[FLAVORS.length - 1] as (typeof FLAVORS)[number]);
    const f = mix === "network" ? (FLAVORS[0] as (typeof FLAVORS)[number]) : drawn;
    const [lo, hi] = f.weight;
    return { flavor: f.flavor, weight: lo + rnd.next() * (hi - lo), extra: rnd.next(), single: rnd.next() };
  });
  const weights = drafts.map((d) => d.weight);
  const cpu = split(target.cpu, weights, CPU_STEP);
  const mem = split(target.memoryMb, weights, MEM_STEP);
  const disk = split(target.diskGb, weights, 1).map((d) => Math.max(d, 2));
  let singletonTaken = false;
  return drafts.map((d, j) => {
    const id = `${host.name}-w${String(j + 1).padStart(2, "0")}`;
    const diskGb = disk[j] as number;
    const w: Workload = {
      id,
      kind: d.flavor === "container" ? "container" : d.flavor === "service" ? "service" : "vm",
      host: host.name,
      cpu: Math.max(cpu[j] as number, CPU_STEP),
      memoryMb: Math.max(mem[j] as number, MEM_STEP),
      diskGb,
      migration: modesOf(d.flavor),
      volumes: volumesOf(id, d.flavor, diskGb, d.extra < 0.3),
    };
    const g = group(j);
    if (g !== undefined) w.antiAffinityGroup = g;
    if (d.flavor === "service" && !singletonTaken && g === undefined && d.single < 0.3) {
      w.singleton = true;
      singletonTaken = true;
    }
    return w;
  });
}

function modesOf(f: Flavor): MigrationMode[] {
  return f === "vm-network" ? ["live", "cold"] : ["cold"];
}

function volumesOf(id: string, f: Flavor, diskGb: number, unattached: boolean): Volume[] {
  if (f === "vm-local")
    return [{ id: `${id}-v1`, sizeGb: Math.floor(diskGb * 0.75), network: false, attachedTo: id }];
  if (f !== "vm-network") return [];
  if (!unattached)
    return [{ id: `${id}-v1`, sizeGb: Math.floor(diskGb * 0.75), network: true, attachedTo: id }];
  return [
    { id: `${id}-v1`, sizeGb: Math.floor(diskGb * 0.5), network: true, attachedTo: id },
    { id: `${id}-v2`, sizeGb: Math.floor(diskGb * 0.25), network: true },
  ];
}

/**
 * Split `total` in proportion to `weights`, in multiples of `step`, rounding the running sum so the
 * parts add up to `total` rounded down to a step (no drift however many parts).
 */
function split(total: number, weights: readonly number[], step: number): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  let acc = 0;
  let given = 0;
  return weights.map((w) => {
    acc += w;
    const upTo = Math.floor((total * acc) / sum / step) * step;
    const part = upTo - given;
    given = upTo;
    return part;
  });
}

/** The anti-affinity group of slot `slot` on the `index`-th worker of `region`, if any. */
function groupOf(region: string, index: number, slot: number, seed: number): string | undefined {
  const n = Math.floor(index / GROUP_SPAN);
  const rnd = seededRandom(hashOf(`${seed}/group/${region}/${n}/${slot}`));
  return rnd.next() < GROUP_CHANCE ? `${region}-aa${n + 1}-${slot + 1}` : undefined;
}

/** FNV-1a, 32 bits. */
function hashOf(s: string): number {
  let x = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return x;
}
