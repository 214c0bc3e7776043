/**
 * The JSON shapes the API answers with, built from store records. Times are ISO-8601 (UTC).
 * A host's `stage` is the name of the step it is on (or its state once finished), so a fleet grid
 * can be drawn by region and stage without knowing the plan.
 */

import { isTerminalHost } from "../core/flow/states.js";
import type { Plan } from "../core/plan/compile.js";
import { planOfRevision } from "../engine/plan-of-run.js";
import type { TokenRecord } from "../ports/access.js";
import type { AttemptRecord, HostFlowRecord, PlanRevisionRecord, RunRecord, Store } from "../ports/store.js";

export const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/** Compiled plans by content hash: a revision never changes, so it is compiled once. */
const compiled = new Map<string, Plan | undefined>();

export function planOf(rev: PlanRevisionRecord): Plan | undefined {
  const key = `${rev.name}\u0000${rev.hash}`;
  if (compiled.has(key)) return compiled.get(key);
  const plan = planOfRevision(rev);
  if (compiled.size > 1000) compiled.clear();
  compiled.set(key, plan);
  return plan;
}

export function runView(r: RunRecord) {
  return {
    id: r.id,
    plan: r.planName,
    revision: r.planRevision,
    planHash: r.planHash,
    state: r.state,
    currentWave: r.currentWave,
    seed: r.seed,
    reason: r.reason,
    options: r.options,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  };
}

export function regionOfHost(h: HostFlowRecord): string {
  const r = h.data.region;
  return typeof r === "string" && r !== "" ? r : "default";
}

export function stageOf(h: HostFlowRecord, plan: Plan | undefined): string {
  if (isTerminalHost(h.state) || h.state === "pending" || h.state === "in_doubt") return h.state;
  const step = plan?.steps[h.stepIndex]?.name ?? `step ${h.stepIndex}`;
  return h.phase === "revert" ? `revert:${step}` : step;
}

export function hostView(h: HostFlowRecord, plan: Plan | undefined) {
  return {
    host: h.host,
    region: regionOfHost(h),
    wave: h.wave,
    order: h.order,
    state: h.state,
    stage: stageOf(h, plan),
    stepIndex: h.stepIndex,
    phase: h.phase,
    attempts: h.attempts,
    reason: h.reason,
    startedAt: iso(h.startedAt),
    finishedAt: iso(h.finishedAt),
  };
}

export function attemptView(a: AttemptRecord) {
  return {
    seq: a.seq,
    step: a.stepName,
    stepIndex: a.stepIndex,
    phase: a.phase,
    number: a.number,
    state: a.state,
    result: a.result,
    startedAt: iso(a.startedAt),
    finishedAt: iso(a.finishedAt),
  };
}

export function stepsView(plan: Plan | undefined) {
  return (plan?.steps ?? []).map((s) => ({
    index: s.index,
    name: s.name,
    kind: s.kind,
    idempotent: s.idempotent,
    pointOfNoReturn: s.pointOfNoReturn,
    hasCheck: s.check !== undefined,
    hasRevert: s.revert !== undefined,
    attempts: s.retry.attempts,
    timeoutMs: s.timeoutMs,
  }));
}

/**
 * The step a badly finished host failed at: its last forward attempt that did not succeed (after
 * a rollback the host's position points at the reverted steps, not at the one that failed).
 */
async function failedStep(store: Store, h: HostFlowRecord): Promise<string | null> {
  const attempts = await store.getAttempts(h.runId, h.host);
  const bad = attempts.filter(
    (a) => a.phase !== "revert" && a.state !== "succeeded" && a.state !== "started",
  );
  return bad.at(-1)?.stepName ?? attempts.at(-1)?.stepName ?? null;
}

/** A run with its plan's steps and its hosts counted by state, stage and region. */
export async function runDetail(store: Store, run: RunRecord) {
  const [hosts, rev] = await Promise.all([
    store.getHosts(run.id),
    store.getPlanRevision(run.planName, run.planRevision),
  ]);
  const plan = rev ? planOf(rev) : undefined;
  const byState: Record<string, number> = {};
  const byStage: Record<string, number> = {};
  const failures = [];
  for (const h of hosts) {
    byState[h.state] = (byState[h.state] ?? 0) + 1;
    const stage = stageOf(h, plan);
    byStage[stage] = (byStage[stage] ?? 0) + 1;
    if (h.state === "failed" || h.state === "in_doubt" || h.state === "aborted")
      failures.push({
        host: h.host,
        state: h.state,
        step: await failedStep(store, h),
        reason: h.reason,
      });
  }
  return {
    ...runView(run),
    hosts: hosts.length,
    byState,
    byStage,
    failures,
    steps: stepsView(plan),
  };
}

export function tokenView(t: TokenRecord) {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    createdAt: iso(t.createdAt),
    createdBy: t.createdBy,
    revokedAt: iso(t.revokedAt),
  };
}
