/**
 * The run summary shown at the end of `run`, by `status` and by the API (the same data, so
 * `overhaul status --server URL` prints exactly what the local command prints). Reads only.
 */
import { HOST_STATES, type HostState } from "../core/flow/states.js";
import type { Plan } from "../core/plan/compile.js";
import type { HostFlowRecord, RunRecord, Store } from "../ports/store.js";

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
  counts: Record<HostState, number>;
  hosts: {
    host: string;
    state: HostState;
    wave: number;
    step: string | null;
    attempts: number;
    reason: string | null;
    startedAt: string | null;
    finishedAt: string | null;
  }[];
  failures: { host: string; state: HostState; reason: string | null }[];
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

export async function summarize(store: Store, run: RunRecord, plan?: Plan): Promise<RunSummary> {
  const hosts = await store.getHosts(run.id);
  const counts = Object.fromEntries(HOST_STATES.map((s) => [s, 0])) as Record<HostState, number>;
  for (const h of hosts) counts[h.state]++;
  const stepName = (h: HostFlowRecord) =>
    plan ? (plan.steps[h.stepIndex]?.name ?? null) : String(h.stepIndex);
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
    counts,
    hosts: hosts.map((h) => ({
      host: h.host,
      state: h.state,
      wave: h.wave + 1,
      step: h.state === "succeeded" || h.state === "pending" ? null : stepName(h),
      attempts: h.attempts,
      reason: h.reason,
      startedAt: iso(h.startedAt),
      finishedAt: iso(h.finishedAt),
    })),
    failures: hosts
      .filter((h) => h.state === "failed" || h.state === "in_doubt")
      .map((h) => ({ host: h.host, state: h.state, reason: h.reason })),
  };
}
