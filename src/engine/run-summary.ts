/**
 * The run summary shown at the end of `run`, by `status` and by the API (the same data, so
 * `overhaul status --server URL` prints exactly what the local command prints). Reads only.
 *
 * Invariants:
 * - Time comes from the caller (`now`, from its Clock), never read here.
 * - `windows` lists each region of a run that follows a schedule with windows: when its window
 *   opens, whether it has, and how many of its hosts are still pending; a pending host of a region
 *   whose window has not opened says so (`waiting: "window"`), so a run that is quiet on purpose
 *   does not look stuck. Empty for a run without windows, and for a finished run.
 * - `coordinators` are the holders of the run's unexpired leases (each with when its leases expire
 *   unless renewed): an unfinished run with none is driven by nobody, and says so (`overhaul resume`
 *   carries it on). `elapsedMs` is the time since the run was created, up to now for an unfinished
 *   run and up to its last change for a finished one.
 * - `next` is the command(s) an operator runs next, each naming the run (`--run RUN`), and only
 *   ones the run accepts: an aborted run takes no retry and no resume; a failed run whose hosts
 *   wait to start says whether `resume` carries on or the failure budget holds them, and how many
 *   failed or in-doubt hosts must be retried or skipped first.
 */
import { placedByPosition, positionOf } from "../core/flow/position.js";
import { HOST_STATES, type HostState, isTerminalRun } from "../core/flow/states.js";
import type { FailureBudget, Plan } from "../core/plan/compile.js";
import { mayGoOn, tally } from "../core/policy/budget.js";
import type { HostFlowRecord, RunRecord, Store } from "../ports/store.js";
import { runOpensAt } from "./plan-of-run.js";

export interface RunSummary {
  run: {
    id: string;
    plan: string;
    revision: number;
    hash: string;
    state: string;
    wave: number;
    reason: string | null;
    seed: number;
    createdAt: string;
    updatedAt: string;
    options: Record<string, unknown>;
  };
  /** Since creation: up to now for an unfinished run, up to its last change for a finished one. */
  elapsedMs: number;
  /** Coordinators holding the run's leases now, and until when (unless they renew them). */
  coordinators: LeaseHolder[];
  counts: Record<HostState, number>;
  windows: { region: string; opensAt: string; open: boolean; pending: number }[];
  hosts: {
    host: string;
    region: string | null;
    state: HostState;
    wave: number;
    /** The step it is at (an attempt of it began), or null (between steps, not started, done). */
    step: string | null;
    /** A running or aborted host between steps: the last step it finished. */
    after: string | null;
    attempts: number;
    reason: string | null;
    startedAt: string | null;
    finishedAt: string | null;
    /** Set when the host is pending because its region's window has not opened yet. */
    waiting: "window" | null;
  }[];
  failures: { host: string; state: HostState; reason: string | null }[];
  /** What to do next (commands naming the run), or null when there is nothing to do. */
  next: string | null;
}

export interface LeaseHolder {
  owner: string;
  until: string;
}

/** The owners of unexpired leases among `hosts` at `now`, with their latest expiry. */
export function leaseHolders(
  hosts: readonly Pick<HostFlowRecord, "leaseOwner" | "leaseExpiresAt">[],
  now: number,
): LeaseHolder[] {
  const until = new Map<string, number>();
  for (const h of hosts) {
    if (h.leaseOwner === null || h.leaseExpiresAt === null || h.leaseExpiresAt <= now) continue;
    until.set(h.leaseOwner, Math.max(until.get(h.leaseOwner) ?? 0, h.leaseExpiresAt));
  }
  return [...until]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([owner, at]) => ({ owner, until: new Date(at).toISOString() }));
}

/** The operator's next step (see the header); `budget` is unknown when the plan is. */
export function nextStep(
  run: Pick<RunRecord, "id" | "state">,
  states: readonly HostState[],
  budget?: FailureBudget,
): string | null {
  const t = tally(states);
  const bad = t.failed + t.inDoubt;
  const id = run.id;
  const retryOrSkip = `\`overhaul retry HOST --run ${id}\` or \`overhaul skip HOST --run ${id}\``;
  if (run.state === "aborted" || run.state === "aborting") {
    // An aborted run is never driven again (retry and resume are refused): the hosts are the
    // operator's to look at, an in-doubt one with a step that may be half done.
    return bad > 0
      ? "the run is aborted and cannot be resumed: look at these hosts (an in-doubt host's step may be half done), then start a new run for them"
      : null;
  }
  if (run.state === "failed" && budget !== undefined) {
    const d = mayGoOn(budget, t);
    if (d.go) return `\`overhaul resume ${id}\` (${t.pending + t.active} host(s) not finished)`;
    if (d.why === "budget")
      return `${retryOrSkip} for ${d.fewer} more of the failed or in-doubt hosts (the failure budget holds ${t.pending} host(s) that have not started), then \`overhaul resume ${id}\``;
  }
  return bad > 0 ? `${retryOrSkip}, then \`overhaul resume ${id}\`` : null;
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

const regionOf = (h: HostFlowRecord): string | null =>
  typeof h.data.region === "string" ? h.data.region : null;

export async function summarize(store: Store, run: RunRecord, now: number, plan?: Plan): Promise<RunSummary> {
  const hosts = await store.getHosts(run.id);
  const counts = Object.fromEntries(HOST_STATES.map((s) => [s, 0])) as Record<HostState, number>;
  for (const h of hosts) counts[h.state]++;
  // A finished run waits for nothing, whatever it left pending (a halted run's unstarted hosts).
  const opensAt = isTerminalRun(run.state) ? {} : (runOpensAt(run) ?? {});
  const closed = (region: string | null) => region !== null && (opensAt[region] ?? -Infinity) > now;
  const windows = Object.entries(opensAt)
    .sort(([a, x], [b, y]) => x - y || (a < b ? -1 : 1))
    .map(([region, at]) => ({
      region,
      opensAt: iso(at) as string,
      open: at <= now,
      pending: hosts.filter((h) => h.state === "pending" && regionOf(h) === region).length,
    }));
  const stepName = (h: HostFlowRecord) =>
    plan ? (plan.steps[h.stepIndex]?.name ?? null) : String(h.stepIndex);
  const names = plan
    ? plan.steps.map((s) => s.name)
    : Array.from({ length: Math.max(0, ...hosts.map((h) => h.stepIndex + 1)) }, (_, i) => String(i));
  // A running or aborted host may sit between steps, or never have started (core/flow/position.ts).
  const where = (h: HostFlowRecord): { step: string | null; after: string | null } =>
    placedByPosition(h.state)
      ? positionOf(h, names)
      : { step: h.state === "succeeded" || h.state === "pending" ? null : stepName(h), after: null };
  return {
    run: {
      id: run.id,
      plan: run.planName,
      revision: run.planRevision,
      hash: run.planHash,
      state: run.state,
      wave: run.currentWave + 1,
      reason: run.reason,
      seed: run.seed,
      createdAt: iso(run.createdAt) as string,
      updatedAt: iso(run.updatedAt) as string,
      options: run.options,
    },
    elapsedMs: Math.max(0, (isTerminalRun(run.state) ? run.updatedAt : now) - run.createdAt),
    coordinators: leaseHolders(hosts, now),
    counts,
    windows,
    hosts: hosts.map((h) => ({
      host: h.host,
      region: regionOf(h),
      state: h.state,
      wave: h.wave + 1,
      ...where(h),
      attempts: h.attempts,
      reason: h.reason,
      startedAt: iso(h.startedAt),
      finishedAt: iso(h.finishedAt),
      waiting: h.state === "pending" && closed(regionOf(h)) ? ("window" as const) : null,
    })),
    failures: hosts
      .filter((h) => h.state === "failed" || h.state === "in_doubt")
      .map((h) => ({ host: h.host, state: h.state, reason: h.reason })),
    next: nextStep(
      run,
      hosts.map((h) => h.state),
      plan?.failureBudget,
    ),
  };
}
