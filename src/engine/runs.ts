/**
 * Creating runs and the operator's actions on them (pause, resume, abort, retry, skip).
 *
 * Invariants:
 * - A run pins one stored plan revision; its scope is the explicit host list resolved at creation.
 * - A run never starts on a host that another unfinished run holds (the store decides, atomically;
 *   see `Store.createRun`), except a simulated one (`exclusive: false`).
 * - Operator actions are compare-and-set writes checked against the transition tables; each is an
 *   event with the operator as actor. Host actions also fence out the coordinator that held the host.
 */
import { NotFoundError, OverhaulError } from "../core/errors.js";
import { buildFlows, makeRunId, NOT_STARTED } from "../core/flow/run-setup.js";
import {
  HOST_TRANSITIONS,
  type HostState,
  predecessors,
  RUN_TRANSITIONS,
  type RunState,
} from "../core/flow/states.js";
import type { Host } from "../core/model/fleet.js";
import type { Plan } from "../core/plan/compile.js";
import { optionsWithSchedule, type RunSchedule } from "../core/planner/run-schedule.js";
import type { Clock } from "../ports/clock.js";
import type { Random } from "../ports/random.js";
import type { HostFlowRecord, NewEvent, RunRecord, Store } from "../ports/store.js";

export interface CreateRunInput {
  plan: Plan;
  planBody: string;
  planHash: string;
  hosts: readonly Host[];
  options: Record<string, unknown>;
  actor: string;
  seed?: number;
  /** Follow the planner's schedule: its order, waves and caps (see core/planner/run-schedule.ts). */
  schedule?: RunSchedule;
  /** A chosen run id (the simulator names runs after their inputs); default: time and randomness. */
  id?: string;
  /**
   * Refuse hosts that another unfinished run holds (default). Only a simulation, whose hosts are
   * its own simulated world, starts without it.
   */
  exclusive?: boolean;
}

export async function createRun(
  deps: { store: Store; clock: Clock; random: Random },
  input: CreateRunInput,
): Promise<RunRecord> {
  const { store, clock, random } = deps;
  const now = clock.now();
  const rev = await store.savePlanRevision({
    name: input.plan.name,
    hash: input.planHash,
    body: input.planBody,
    createdAt: now,
  });
  const seed = input.seed ?? input.plan.seed ?? Math.floor(random.next() * 2 ** 31);
  const run: RunRecord = {
    id: input.id ?? makeRunId(now, random.next()),
    planName: rev.name,
    planRevision: rev.revision,
    planHash: rev.hash,
    state: "running",
    currentWave: 0,
    seed,
    options: input.schedule ? optionsWithSchedule(input.options, input.schedule) : input.options,
    reason: null,
    createdAt: now,
    updatedAt: now,
  };
  const flows = buildFlows(input.plan, input.hosts, input.schedule).map((f) => ({
    runId: run.id,
    ...f,
    ...NOT_STARTED,
  }));
  const ev: NewEvent = {
    runId: run.id,
    host: null,
    at: now,
    type: "run.created",
    actor: input.actor,
    data: {
      plan: rev.name,
      revision: rev.revision,
      hash: rev.hash,
      hosts: flows.length,
      seed,
      options: run.options,
    },
  };
  await store.createRun(run, flows, [ev], { exclusive: input.exclusive ?? true });
  return run;
}

export async function requireRun(store: Store, runId?: string): Promise<RunRecord> {
  if (runId) {
    const r = await store.getRun(runId);
    if (!r)
      throw new NotFoundError(`no run "${runId}" in this database (see \`overhaul status\` for the runs)`);
    return r;
  }
  const [latest] = await store.listRuns(1);
  if (!latest) throw new NotFoundError("there are no runs in this database yet");
  return latest;
}

export type RunAction = "pause" | "resume" | "abort";

const ACTION_TARGET: Record<RunAction, RunState> = { pause: "paused", resume: "running", abort: "aborting" };

export async function runAction(
  deps: { store: Store; clock: Clock },
  run: RunRecord,
  action: RunAction,
  actor: string,
  reason?: string,
): Promise<RunRecord> {
  const to = ACTION_TARGET[action];
  const from = predecessors(RUN_TRANSITIONS, to);
  if (!from.includes(run.state)) {
    throw new OverhaulError(`cannot ${action} run ${run.id}: it is ${run.state}`);
  }
  const now = deps.clock.now();
  const events: NewEvent[] = [
    {
      runId: run.id,
      host: null,
      at: now,
      type: `run.${to}`,
      actor,
      data: { from: run.state, action, ...(reason ? { reason } : {}) },
    },
  ];
  // Resuming a run paused at a manual gate approves that gate.
  const gate = run.state === "paused" && run.reason?.match(/^gate "([^"]+)" awaits approval/)?.[1];
  if (action === "resume" && gate) {
    events.push({ runId: run.id, host: null, at: now, type: "gate.approved", actor, data: { step: gate } });
  }
  const patch = {
    state: to,
    updatedAt: now,
    reason: action === "resume" ? null : (reason ?? `${action} by ${actor}`),
  };
  const ok = await deps.store.updateRun(run.id, [run.state], patch, events);
  if (!ok) throw new OverhaulError(`run ${run.id} changed while ${action} was being applied; try again`);
  return { ...run, ...patch };
}

export type HostAction = "retry" | "skip";

/** Retry: a failed host starts its flow again (after its last point of no return); an in-doubt host re-runs the doubtful step (forward or revert). Skip: the host leaves the run. Retry is refused in an aborted run. */
export async function hostAction(
  deps: { store: Store; clock: Clock },
  run: RunRecord,
  host: string,
  action: HostAction,
  actor: string,
): Promise<HostFlowRecord> {
  const { store, clock } = deps;
  const h = await store.getHost(run.id, host);
  if (!h) throw new NotFoundError(`host "${host}" is not part of run ${run.id}`);
  // An aborted run is never driven again (and cannot be reopened): a retried host would stay
  // non-terminal forever.
  const current = (await store.getRun(run.id))?.state ?? run.state;
  if (action === "retry" && (current === "aborted" || current === "aborting")) {
    throw new OverhaulError(`cannot retry host ${host}: run ${run.id} is ${current}`);
  }
  const now = clock.now();
  let to: HostState;
  let patch: Partial<HostFlowRecord>;
  if (action === "skip") {
    to = "skipped";
    patch = { state: to, finishedAt: now, reason: `skipped by ${actor}`, notBefore: null };
  } else if (h.state === "in_doubt") {
    // Re-run the doubtful attempt where it was: a forward step, or a revert.
    to = h.phase === "revert" ? "reverting" : "running";
    patch = {
      state: to,
      attempts: Math.max(0, h.attempts - 1),
      finishedAt: null,
      notBefore: null,
      reason: null,
    };
  } else {
    to = "pending";
    patch = {
      state: to,
      phase: "forward",
      stepIndex: h.noReturnIndex + 1,
      attempts: 0,
      notBefore: null,
      startedAt: null,
      finishedAt: null,
      reason: null,
    };
  }
  if (!predecessors(HOST_TRANSITIONS, to).includes(h.state)) {
    throw new OverhaulError(
      `cannot ${action} host ${host}: it is ${h.state} (possible from ${predecessors(HOST_TRANSITIONS, to).join(", ")})`,
    );
  }
  const ev: NewEvent = {
    runId: run.id,
    host,
    at: now,
    type: `host.${action === "retry" ? "retried" : "skipped"}`,
    actor,
    data: { from: h.state },
  };
  const ok = await store.operatorHost(run.id, host, [h.state], patch, [ev]);
  if (!ok) throw new OverhaulError(`host ${host} changed while ${action} was being applied; try again`);
  // A finished run with a retried host is open again. Read the run after the host changed: a
  // coordinator may have finished it since the caller loaded it.
  const after = (await store.getRun(run.id))?.state ?? run.state;
  if (action === "retry" && (after === "failed" || after === "succeeded")) {
    await store.updateRun(run.id, [after], { state: "running", updatedAt: now, reason: null }, [
      {
        runId: run.id,
        host: null,
        at: now,
        type: "run.running",
        actor,
        data: { from: after, action: "retry", host },
      },
    ]);
  }
  return { ...h, ...patch };
}
