/**
 * Admission: which pending hosts may start now, under waves, concurrency caps and stagger.
 *
 * Invariants:
 * - Caps hold at every level at once: global, per region, per failure domain kind (rack, power...),
 *   and per failure-domain value where `perDomainValue` names one (a schedule's replicated-group
 *   and hold-over caps, see core/planner); a value's own cap replaces its kind's.
 *   A host counts against the caps while it is running or reverting.
 * - Only hosts of the current wave start; the next wave opens only when every host of the earlier
 *   waves is terminal (canary first).
 * - Hosts start in their `order`; a host blocked by a cap does not block a later host that fits
 *   (so a full rack does not stall other racks).
 * - With a stagger interval, at most one host starts per call and never before `nextStartAt`.
 * - Terminal hosts change nothing but the highest wave: a caller may leave them out of `hosts` if
 *   it gives `maxWave` (the result is the same).
 */
import { ACTIVE_HOST_STATES, type HostState, isTerminalHost } from "../flow/states.js";
import type { Concurrency } from "../plan/compile.js";

export interface AdmissionHost {
  host: string;
  wave: number;
  order: number;
  state: HostState;
  region: string;
  domains: Readonly<Record<string, string>>;
}

export interface AdmissionInput {
  hosts: readonly AdmissionHost[];
  /** The highest wave of the run; default: the highest wave among `hosts`. */
  maxWave?: number;
  currentWave: number;
  concurrency: Concurrency;
  now: number;
  /** Earliest time the next host may start (stagger). */
  nextStartAt: number;
  staggered: boolean;
}

export interface AdmissionResult {
  /** The wave in force after this call (may have advanced). */
  currentWave: number;
  start: string[];
  /** Why nothing (more) could start, for progress displays. */
  waiting?: "wave" | "caps" | "stagger" | "done";
}

function key(kind: string, value: string): string {
  return `${kind}\u0000${value}`;
}

/** Each domains object's (kind, value, key) triples, built once: admission runs on every tick. */
const KEYS = new WeakMap<Readonly<Record<string, string>>, [string, string, string][]>();

function keysOf(domains: Readonly<Record<string, string>>): [string, string, string][] {
  let k = KEYS.get(domains);
  if (k === undefined) {
    k = Object.entries(domains).map(([kind, value]) => [kind, value, key(kind, value)]);
    KEYS.set(domains, k);
  }
  return k;
}

export function admit(input: AdmissionInput): AdmissionResult {
  const { hosts, concurrency } = input;
  let wave = input.currentWave;
  // Advance past waves whose hosts are all terminal.
  const maxWave = input.maxWave ?? hosts.reduce((m, h) => Math.max(m, h.wave), 0);
  while (wave < maxWave && hosts.every((h) => h.wave > wave || isTerminalHost(h.state))) wave++;

  let active = 0;
  const perRegion = new Map<string, number>();
  const perDomain = new Map<string, number>();
  for (const h of hosts) {
    if (!ACTIVE_HOST_STATES.includes(h.state)) continue;
    active++;
    perRegion.set(h.region, (perRegion.get(h.region) ?? 0) + 1);
    for (const [, , k] of keysOf(h.domains)) perDomain.set(k, (perDomain.get(k) ?? 0) + 1);
  }

  const candidates = hosts
    .filter((h) => h.state === "pending" && h.wave <= wave)
    .sort((a, b) => a.order - b.order);
  if (candidates.length === 0) {
    const done = hosts.every((h) => isTerminalHost(h.state));
    return { currentWave: wave, start: [], waiting: done ? "done" : "wave" };
  }
  if (input.staggered && input.now < input.nextStartAt)
    return { currentWave: wave, start: [], waiting: "stagger" };

  const start: string[] = [];
  for (const h of candidates) {
    if (active >= concurrency.global) break;
    if (concurrency.perRegion !== undefined && (perRegion.get(h.region) ?? 0) >= concurrency.perRegion)
      continue;
    let blocked = false;
    for (const [kind, value, k] of keysOf(h.domains)) {
      const cap = concurrency.perDomainValue?.[kind]?.[value] ?? concurrency.perFailureDomain[kind];
      if (cap !== undefined && (perDomain.get(k) ?? 0) >= cap) {
        blocked = true;
        break;
      }
    }
    if (blocked) continue;
    start.push(h.host);
    active++;
    perRegion.set(h.region, (perRegion.get(h.region) ?? 0) + 1);
    for (const [, , k] of keysOf(h.domains)) perDomain.set(k, (perDomain.get(k) ?? 0) + 1);
    if (input.staggered) break;
  }
  return start.length > 0 ? { currentWave: wave, start } : { currentWave: wave, start, waiting: "caps" };
}
