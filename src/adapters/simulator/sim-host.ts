/**
 * State of one simulated host and the failure rules that apply to it.
 *
 * Invariants:
 * - Boots resolve lazily: a booting host is `up` once the virtual clock reaches `upAt`; no timers.
 * - Each host draws from its own PRNG (seeded by scenario seed and host name), so its fate does not
 *   depend on how the engine interleaves other hosts.
 * - The failure rules of a host are those of the scenario it was made with, found once.
 */
import { TransportError, type TransportFailure } from "../../core/errors.js";
import type { Host } from "../../core/model/fleet.js";
import { seededRandom } from "../../core/policy/random.js";
import { type FailureSpec, hostFailures, type Scenario } from "../../core/sim/scenario.js";
import type { Clock } from "../../ports/clock.js";
import type { HealthResult } from "../../ports/health.js";

export type SimHostState = "up" | "booting" | "dead";

export interface SimHost {
  host: Host;
  state: SimHostState;
  /** When a booting host comes up (virtual epoch ms). */
  upAt: number;
  boots: number;
  bootId: string;
  healthy: boolean;
  skewSeconds: number;
  version: string | undefined;
  rnd: { next(): number };
  /** The scenario's failures that target this host (`failuresFor`; do not modify). */
  readonly failures: readonly FailureSpec[];
}

export function newSimHost(host: Host, scenario: Scenario): SimHost {
  const rnd = seededRandom(hashOf(`${scenario.seed}/${host.name}`));
  const h: SimHost = {
    host,
    state: "up",
    upAt: 0,
    boots: 0,
    bootId: "",
    healthy: true,
    skewSeconds: 0,
    version: undefined,
    rnd,
    failures: failuresFor(scenario, host),
  };
  h.bootId = bootIdOf(h);
  return h;
}

export function bootIdOf(h: SimHost): string {
  return `${h.host.name}-boot-${h.boots}-${Math.floor(h.rnd.next() * 0xffffff).toString(16)}`;
}

/** Failures of the scenario that target this host (directly, by rack or by power circuit). */
export function failuresFor(scenario: Scenario, host: Host): FailureSpec[] {
  return hostFailures(scenario).filter(
    (f) =>
      (f.host !== undefined && f.host === host.name) ||
      (f.rack !== undefined && f.rack === host.failureDomains.rack) ||
      (f.power !== undefined && f.power === host.failureDomains.power),
  );
}

/**
 * Does the disk die on this reboot? Without `probability` it always does; with it, `probability` is
 * the chance per 30 days of uptime (`overhaul_uptime_days`, default 30), so long uptimes die more.
 */
export function diskDies(h: SimHost, f: FailureSpec & { kind: "disk-dies" }): boolean {
  if (f.probability === undefined) return true;
  const days = Number(h.host.vars.overhaul_uptime_days ?? 30);
  const p = 1 - (1 - f.probability) ** (Math.max(0, days) / 30);
  return h.rnd.next() < p;
}

const DEFAULT_MAX_SKEW_S = 2;

/**
 * Is the host healthy? Not when the scenario made it come back unhealthy, nor when its clock is off
 * by more than its `overhaul_max_clock_skew_seconds` (default 2). The one health model of the
 * simulator: the `Health` port and a plan's own health probe (a `wait-healthy` step's `run`) answer
 * from it.
 */
export function healthOf(h: SimHost): HealthResult {
  if (!h.healthy) return { healthy: false, detail: "system degraded since its last boot" };
  const max = maxSkewOf(h);
  if (Math.abs(h.skewSeconds) > max)
    return { healthy: false, detail: `clock off by ${h.skewSeconds} s (at most ${max} s allowed)` };
  return { healthy: true, detail: `running, clock within ${max} s` };
}

function maxSkewOf(h: SimHost): number {
  const v = h.host.vars.overhaul_max_clock_skew_seconds;
  const n = typeof v === "number" || typeof v === "string" ? Number(v) : Number.NaN;
  return Number.isFinite(n) && n >= 0 ? n : DEFAULT_MAX_SKEW_S;
}

/**
 * A simulated transport failure (unreachable, timeout, dropped), without a stack trace: these are
 * the simulation's expected outcomes, not bugs, and a 2,000-host run throws ~100,000 of them while
 * hosts boot; capturing the (deep, async) stack cost ~50 µs each. The message says everything.
 */
export function simFailure(kind: TransportFailure, message: string): TransportError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new TransportError(kind, message);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * How long a call to a host that does not answer (booting, dead, partitioned away) takes to fail.
 * A real SSH connect to such a host gets no answer at all and gives up at its connect timeout: the
 * SSH transport's default is 10 s (`DEFAULT_CONNECT_TIMEOUT_MS`, src/adapters/transport-ssh/
 * options.ts; repeated here, not imported: adapters do not import each other).
 */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Wait out a connect that gets no answer: `CONNECT_TIMEOUT_MS`, or until `deadline` when that comes
 * first (the call's own timeout); rejects with the signal's reason when it aborts.
 */
export function noAnswer(clock: Clock, deadline: number, signal?: AbortSignal): Promise<void> {
  return clock.sleep(Math.max(0, Math.min(CONNECT_TIMEOUT_MS, deadline - clock.now())), signal);
}

/** FNV-1a, 32 bits. */
export function hashOf(s: string): number {
  let x = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return x;
}
