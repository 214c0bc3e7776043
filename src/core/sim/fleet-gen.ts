/**
 * Generate a simulated fleet from a spec like `regions=3,hosts=5,holdovers=0.2,racks=2,workloads=8,seed=7`
 * (`vms=network`: every workload a VM on network volumes, as in a cloud's compute hosts).
 *
 * Invariants:
 * - Pure and deterministic: the same spec gives the same fleet, byte for byte (seeded PRNG only).
 *   The hosts do not depend on `workloads`; the workloads come from `generateWorkloads`.
 * - `hosts` is per region; racks are per region, one power circuit per rack pair (`<region>-p<n>`).
 * - Every host has DEFAULT_CAPACITY and its region's UTC offset in `overhaul_utc_offset` (hours):
 *   regions take the offsets -8..+9 in a fixed, spread-out order, so adding a region never moves
 *   the others. `workloads` is per worker; hold-overs start empty.
 * - Bad specs fail with one `InputError` naming every bad key (as `--fleet <key>`); nothing is
 *   adjusted silently: a key given twice, a number that is not plain decimal (`0x10`, `1e3`), a
 *   negative number, a seed above MAX_SEED and a fleet of more than MAX_FLEET_HOSTS hosts (a typo
 *   such as hosts=1e9 would exhaust memory) are errors.
 */
import { InputError, type Problem } from "../errors.js";
import type { Fleet, Host } from "../model/fleet.js";
import { MAX_SEED, seededRandom } from "../policy/random.js";
import { DEFAULT_CAPACITY, generateWorkloads, MAX_PER_HOST, type WorkloadMix } from "./workload-gen.js";

export interface FleetSpec {
  regions: number;
  /** Hosts per region. */
  hosts: number;
  /** Fraction of hosts with role `holdover`, 0..1. */
  holdovers: number;
  /** Racks per region. */
  racks: number;
  /** Workloads per worker host, 0..64. */
  workloads: number;
  seed: number;
  /** `mixed` (VMs, containers, services) or `network`: only VMs on network volumes. */
  vms: WorkloadMix;
}

const DEFAULTS: FleetSpec = {
  regions: 1,
  hosts: 5,
  holdovers: 0,
  racks: 2,
  workloads: 0,
  seed: 1,
  vms: "mixed",
};
const INTS = new Set(["regions", "hosts", "racks", "workloads", "seed"]);
/** The most hosts (regions x hosts) a generated fleet may have. */
export const MAX_FLEET_HOSTS = 10_000;
/** Keys whose smallest value is 0 rather than 1. */
const FROM_ZERO = new Set(["workloads", "seed"]);
/** UTC offsets of regions r01, r02, ... (then again from the start): every hour of -8..+9 once. */
const REGION_UTC_OFFSETS = [-5, 1, 9, -8, 0, 8, -6, 2, 5, -7, 3, 7, -4, -1, 6, -3, 4, -2];

/** Parse `key=value,...`; unknown keys, bad numbers and out-of-range values are errors. */
export function parseFleetSpec(text: string): FleetSpec {
  const spec: FleetSpec = { ...DEFAULTS };
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const part of text
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq).trim();
    const raw = eq < 0 ? "" : part.slice(eq + 1).trim();
    const path = `--fleet ${key}`;
    if (!(key in DEFAULTS)) {
      problems.push({
        path,
        message: `unknown fleet key "${key}"`,
        expected: Object.keys(DEFAULTS).join(", "),
      });
      continue;
    }
    if (seen.has(key)) {
      problems.push({ path, message: `"${key}" is given twice`, expected: "each key once" });
      continue;
    }
    seen.add(key);
    if (key === "vms") {
      if (raw === "mixed" || raw === "network") spec.vms = raw;
      else
        problems.push({
          path,
          message: `unknown workload mix "${raw}"`,
          expected: "vms=mixed or vms=network",
        });
      continue;
    }
    const n = Number(raw);
    const least = FROM_ZERO.has(key) ? 0 : 1;
    const whole = `${key}=<a whole number >= ${least}>`;
    if (!/^-?\d+(\.\d+)?$/.test(raw) || !Number.isFinite(n)) {
      problems.push({
        path,
        message: `"${raw}" is not a number`,
        expected: INTS.has(key) ? whole : `${key}=<a number>`,
      });
      continue;
    }
    if (INTS.has(key) && (!Number.isInteger(n) || n < least)) {
      problems.push({ path, message: `must be a whole number >= ${least}, got ${raw}`, expected: whole });
      continue;
    }
    if (key === "workloads" && n > MAX_PER_HOST) {
      problems.push({
        path,
        message: `must be at most ${MAX_PER_HOST} per host, got ${raw}`,
        expected: `a whole number 0..${MAX_PER_HOST}`,
      });
      continue;
    }
    if (key === "seed" && n > MAX_SEED) {
      problems.push({
        path,
        message: `must be at most ${MAX_SEED} (seeds are 32-bit), got ${raw}`,
        expected: `a whole number 0..${MAX_SEED}`,
      });
      continue;
    }
    if (key === "holdovers" && (n < 0 || n > 1)) {
      problems.push({
        path,
        message: `must be a fraction between 0 and 1, got ${raw}`,
        expected: "a number from 0 to 1, e.g. holdovers=0.2",
      });
      continue;
    }
    spec[key as Exclude<keyof FleetSpec, "vms">] = n;
  }
  if (problems.length === 0 && spec.regions * spec.hosts > MAX_FLEET_HOSTS)
    problems.push({
      path: "--fleet hosts",
      message: `regions x hosts is ${spec.regions * spec.hosts} hosts; a generated fleet has at most ${MAX_FLEET_HOSTS}`,
      expected: `regions x hosts <= ${MAX_FLEET_HOSTS}`,
    });
  if (problems.length > 0) throw new InputError(problems);
  return spec;
}

/**
 * Build the fleet: hosts `r01-h001`, regions `r01..`, racks `r01-k01..`, power `r01-p01..`, and
 * `spec.workloads` workloads on every worker.
 */
export function generateFleet(spec: FleetSpec): Fleet {
  const rnd = seededRandom(spec.seed);
  const hosts: Host[] = [];
  for (let r = 1; r <= spec.regions; r++) {
    const region = `r${pad(r, 2)}`;
    const utcOffset = REGION_UTC_OFFSETS[(r - 1) % REGION_UTC_OFFSETS.length] as number;
    const holdovers = Math.round(spec.hosts * spec.holdovers);
    for (let i = 1; i <= spec.hosts; i++) {
      const rack = ((i - 1) % spec.racks) + 1;
      const name = `${region}-h${pad(i, 3)}`;
      hosts.push({
        name,
        address: name,
        connection: "ssh",
        region,
        failureDomains: {
          rack: `${region}-k${pad(rack, 2)}`,
          power: `${region}-p${pad(Math.ceil(rack / 2), 2)}`,
        },
        role: i > spec.hosts - holdovers ? "holdover" : "worker",
        capacity: { ...DEFAULT_CAPACITY },
        groups: [region],
        vars: { overhaul_uptime_days: 1 + Math.floor(rnd.next() * 400), overhaul_utc_offset: utcOffset },
      });
    }
  }
  return { hosts, workloads: generateWorkloads(hosts, spec.workloads, spec.seed, spec.vms) };
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, "0");
}
