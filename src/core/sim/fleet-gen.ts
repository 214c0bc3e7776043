/**
 * Generate a simulated fleet from a spec like `regions=3,hosts=5,holdovers=0.2,racks=2,seed=7`.
 *
 * Invariants:
 * - Pure and deterministic: the same spec gives the same hosts, byte for byte (seeded PRNG only).
 * - `hosts` is per region; racks are per region, one power circuit per rack pair (`<region>-p<n>`).
 * - Bad specs fail with one `InputError` naming every bad key; nothing is adjusted silently.
 */
import { InputError, type Problem } from "../errors.js";
import type { Host } from "../model/fleet.js";
import { seededRandom } from "../policy/random.js";

export interface FleetSpec {
  regions: number;
  /** Hosts per region. */
  hosts: number;
  /** Fraction of hosts with role `holdover`, 0..1. */
  holdovers: number;
  /** Racks per region. */
  racks: number;
  seed: number;
}

const DEFAULTS: FleetSpec = { regions: 1, hosts: 5, holdovers: 0, racks: 2, seed: 1 };
const INTS = new Set(["regions", "hosts", "racks", "seed"]);

/** Parse `key=value,...`; unknown keys, bad numbers and out-of-range values are errors. */
export function parseFleetSpec(text: string): FleetSpec {
  const spec: FleetSpec = { ...DEFAULTS };
  const problems: Problem[] = [];
  for (const part of text
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq).trim();
    const raw = eq < 0 ? "" : part.slice(eq + 1).trim();
    if (!(key in DEFAULTS)) {
      problems.push({
        path: key,
        message: `unknown fleet key "${key}"`,
        expected: Object.keys(DEFAULTS).join(", "),
      });
      continue;
    }
    const n = Number(raw);
    if (raw === "" || !Number.isFinite(n)) {
      problems.push({ path: key, message: `"${raw}" is not a number`, expected: `${key}=<number>` });
      continue;
    }
    if (INTS.has(key) && (!Number.isInteger(n) || n < (key === "seed" ? 0 : 1))) {
      problems.push({
        path: key,
        message: `must be a whole number >= ${key === "seed" ? 0 : 1}, got ${raw}`,
      });
      continue;
    }
    if (key === "holdovers" && (n < 0 || n > 1)) {
      problems.push({ path: key, message: `must be a fraction between 0 and 1, got ${raw}` });
      continue;
    }
    spec[key as keyof FleetSpec] = n;
  }
  if (problems.length > 0) throw new InputError(problems);
  return spec;
}

/** Build the hosts: names `r01-h001`, regions `r01..`, racks `r01-k01..`, power `r01-p01..`. */
export function generateFleet(spec: FleetSpec): Host[] {
  const rnd = seededRandom(spec.seed);
  const hosts: Host[] = [];
  for (let r = 1; r <= spec.regions; r++) {
    const region = `r${pad(r, 2)}`;
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
        groups: [region],
        vars: { overhaul_uptime_days: 1 + Math.floor(rnd.next() * 400) },
      });
    }
  }
  return hosts;
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, "0");
}
