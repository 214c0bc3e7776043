/**
 * Creating runs and the operator's actions on them (pause, resume, abort, retry, skip).
 *
 * Invariants:
 * - A run pins one stored plan revision; its scope is the explicit host list resolved at creation.
 * - A run never starts on a host that another unfinished run holds (the store decides, atomically;
 *   see `Store.createRun`), except a simulated one (`exclusive: false`).
 * - Operator actions are compare-and-set writes checked against the transition tables; each is an
 *   event with the operator as actor. Host actions also fence out the coordinator that held the host.
 * - A halted or failed run goes on again only when a host is left to drive and its failure budget
 *   allows it (core/policy/budget.ts `mayGoOn`): a retry or skip that makes it so reopens it, and
 *   `resume --detach` of one that cannot go on is refused with what would let it. A simulated run
 *   is never reopened, nor are its hosts retried or skipped (only `overhaul simulate` drives it,
 *   and its stored events are the record of that dry run).
 */
import {
  type HostInRun,
  hostsInOtherRuns,
  InputError,
  NotFoundError,
  OverhaulError,
  SafetyRefusal,
} from "../core/errors.js";
import { chooseRunForHost, type RunWithHost } from "../core/flow/host-run.js";
import { buildFlows, makeRunId, NOT_STARTED } from "../core/flow/run-setup.js";
import {
  CLAIMING_HOST_STATES,
  HOST_TRANSITIONS,
  type HostState,
  predecessors,
  RUN_TRANSITIONS,
  type RunState,
  TERMINAL_RUN_STATES,
} from "../core/flow/states.js";
import type { Host } from "../core/model/fleet.js";
import type { Plan } from "../core/plan/compile.js";
import { optionsWithSchedule, type RunSchedule } from "../core/planner/run-schedule.js";
import { type GoOn, mayGoOn, tally } from "../core/policy/budget.js";
import type { Clock } from "../ports/clock.js";
import type { Random } from "../ports/random.js";
import type { HostFlowRecord, NewEvent, RunRecord, Store } from "../ports/store.js";
import { loadRunPlan } from "./plan-of-run.js";

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
      throw new NotFoundError(
        `no run "${runId}" in this database (see \`overhaul status --runs\` for the runs)`,
      );
    return r;
  }
  const [latest] = await store.listRuns(1);
  if (!latest) throw new NotFoundError("there are no runs in this database yet");
  return latest;
}

/** How many of the newest runs (besides every unfinished one) a host action without a run looks at. */
export const HOST_RUNS_LOOKED_AT = 100;

/**
 * The runs a host is in, newest first: every unfinished run and the newest HOST_RUNS_LOOKED_AT,
 * each with the host's state there (what `retry HOST` / `skip HOST` without --run choose from).
 */
export async function runsOfHost(store: Store, host: string): Promise<RunWithHost[]> {
  const byId = new Map<string, RunRecord>();
  for (const r of [
    ...(await store.listRuns(undefined, { unfinished: true })),
    ...(await store.listRuns(HOST_RUNS_LOOKED_AT)),
  ])
    byId.set(r.id, r);
  const runs = [...byId.values()].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  const out: RunWithHost[] = [];
  for (const r of runs) {
    const h = await store.getHost(r.id, host);
    if (h) out.push({ run: r.id, runState: r.state, host: h.state });
  }
  return out;
}

/** The run `retry HOST` / `skip HOST` acts on when none is named (core/flow/host-run.ts). */
export function runIdForHost(host: string, runs: readonly RunWithHost[]): string {
  const c = chooseRunForHost(runs);
  if ("run" in c) return c.run;
  if ("none" in c)
    throw new NotFoundError(
      `host "${host}" is in none of the runs looked at (every unfinished run and the newest ${HOST_RUNS_LOOKED_AT}): name its run with --run RUN`,
    );
  throw new InputError({
    path: "--run",
    message: `host ${host} is unfinished in ${c.ambiguous.length} runs: ${c.ambiguous
      .map((r) => `${r.run} (${r.runState}; ${host} ${r.host})`)
      .join(", ")}`,
    expected: "--run RUN naming the one to act on",
  });
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
  // A finished run's hosts were free for other runs: the store refuses to set it going again while
  // another holds one (in the transaction that decides creates too).
  const exclusive = to === "running" && TERMINAL_RUN_STATES.includes(run.state);
  const ok = await deps.store.updateRun(run.id, [run.state], patch, events, { exclusive });
  if (!ok) throw new OverhaulError(`run ${run.id} changed while ${action} was being applied; try again`);
  return { ...run, ...patch };
}

export type HostAction = "retry" | "skip";

/** What a retry or skip did: the host's new record, and the run's state after it. */
export interface HostActionResult {
  host: HostFlowRecord;
  /** The run's state after the action: a retry or skip may have let a halted or finished run go on. */
  runState: RunState;
  /** The run was set running again by this action. */
  reopened: boolean;
  /**
   * Why a halting or failed run with hosts waiting to start does not go on yet (its failure budget
   * is still exceeded, and by how many hosts); null otherwise.
   */
  held: string | null;
}

/** The run's hosts against its failure budget: may it go on (core/policy/budget.ts `mayGoOn`)? */
export async function goOnOf(store: Store, run: RunRecord): Promise<GoOn> {
  const plan = await loadRunPlan(store, run);
  const hosts = await store.getHosts(run.id);
  return mayGoOn(plan.failureBudget, tally(hosts.map((h) => h.state)));
}

/**
 * The other unfinished runs that hold `host` now (its flow there can still change): the stores'
 * exclusive rule (`Store.createRun`), asked before a retry in a finished run, whose hosts were free
 * for other runs, sets the host going again.
 */
async function holdersOf(store: Store, run: RunRecord, host: string): Promise<HostInRun[]> {
  const out: HostInRun[] = [];
  for (const other of await store.listRuns(undefined, { unfinished: true })) {
    if (other.id === run.id) continue;
    const h = await store.getHost(other.id, host);
    if (h && CLAIMING_HOST_STATES.includes(h.state))
      out.push({ host, runId: other.id, runState: other.state, hostState: h.state });
  }
  return out;
}

/** Run states an operator's retry or skip (or resume) may set running again, when it may go on. */
const REOPENABLE: readonly RunState[] = ["halting", "failed", "succeeded"];

/**
 * After a retry or skip: a halting or finished run goes on (running) when a host is left to drive
 * and the failure budget allows it. Compare-and-set on the state read; read again if a coordinator
 * changed it meanwhile (a halting run it just finished as failed is reopened all the same).
 */
async function reopenAfter(
  deps: { store: Store; clock: Clock },
  runId: string,
  actor: string,
  why: { action: HostAction; host: string },
): Promise<{ runState: RunState; reopened: boolean; held: string | null }> {
  for (let tries = 0; ; tries++) {
    const run = await deps.store.getRun(runId);
    if (!run) throw new NotFoundError(`run ${runId} vanished`);
    // (A simulation never gets here: `hostAction` refuses its hosts.)
    if (!REOPENABLE.includes(run.state)) return { runState: run.state, reopened: false, held: null };
    let d: GoOn;
    try {
      d = await goOnOf(deps.store, run);
    } catch (e) {
      // Its pinned plan no longer validates (loadRunPlan says why): the host's change stands and is
      // the answer; the run is not driven again by this version.
      if (e instanceof InputError) return { runState: run.state, reopened: false, held: e.message };
      throw e;
    }
    if (!d.go) return { runState: run.state, reopened: false, held: d.why === "budget" ? d.message : null };
    const now = deps.clock.now();
    const ev: NewEvent = {
      runId,
      host: null,
      at: now,
      type: "run.running",
      actor,
      data: { from: run.state, action: why.action, host: why.host },
    };
    // Finished, its hosts were free for other runs: it goes on only if none has taken one since,
    // which the store decides with the same lock as creates (`exclusive`).
    let set: boolean;
    try {
      set = await deps.store.updateRun(
        runId,
        [run.state],
        { state: "running", updatedAt: now, reason: null },
        [ev],
        { exclusive: TERMINAL_RUN_STATES.includes(run.state) },
      );
    } catch (e) {
      if (e instanceof SafetyRefusal && e.rule === "hosts-in-another-run")
        return { runState: run.state, reopened: false, held: e.message };
      throw e;
    }
    if (set) return { runState: "running", reopened: true, held: null };
    // The host's change stands; a run that keeps changing under us is left to `resume`.
    if (tries >= 5)
      return {
        runState: run.state,
        reopened: false,
        held: `the run changed meanwhile: \`overhaul resume ${runId}\``,
      };
  }
}

/**
 * Retry: a failed host starts its flow again (after its last point of no return); an in-doubt host
 * re-runs the doubtful step (forward or revert). Skip: the host leaves the run. Retry is refused in
 * an aborted run. Either lets a halted or failed run go on when a host is left to drive and the
 * failure budget then allows it (`reopenAfter`); otherwise the result says what holds it.
 */
export async function hostAction(
  deps: { store: Store; clock: Clock },
  run: RunRecord,
  host: string,
  action: HostAction,
  actor: string,
): Promise<HostActionResult> {
  const { store, clock } = deps;
  const h = await store.getHost(run.id, host);
  if (!h) throw new NotFoundError(`host "${host}" is not part of run ${run.id}`);
  // A simulation's database is the record of one dry run, and only `overhaul simulate` drives it:
  // a retried host would wait forever, a skipped one would make its stored report say what the
  // simulation never did.
  if (run.options.simulated === true)
    throw new SafetyRefusal(
      "simulated-run",
      `run ${run.id} is a simulation: a ${action} would change the record of a dry run that nothing drives again; simulate the plan again instead (e.g. with another --seed or scenario)`,
    );
  // An aborted run is never driven again (and cannot be reopened): a retried host would stay
  // non-terminal forever.
  const current = (await store.getRun(run.id))?.state ?? run.state;
  if (action === "retry" && (current === "aborted" || current === "aborting")) {
    throw new OverhaulError(`cannot retry host ${host}: run ${run.id} is ${current}`);
  }
  // A finished run's hosts were free for other runs: a retry there must not set one going that
  // another unfinished run holds now.
  if (action === "retry" && TERMINAL_RUN_STATES.includes(current)) {
    const taken = await holdersOf(store, run, host);
    if (taken.length > 0) throw hostsInOtherRuns(taken, `refusing to retry ${host} in run ${run.id}`);
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
      `cannot ${action} host ${host} in run ${run.id}: it is ${h.state} (possible from ${predecessors(HOST_TRANSITIONS, to).join(", ")})`,
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
  if (!ok)
    throw new OverhaulError(
      `host ${host} in run ${run.id} changed while ${action} was being applied; try again`,
    );
  // Read the run after the host changed: a coordinator may have finished it since the caller
  // loaded it.
  const after = await reopenAfter(deps, run.id, actor, { action, host });
  return { host: { ...h, ...patch }, ...after };
}

/**
 * What `resume` does to the run's state, before a coordinator drives it (`drive`) or, with
 * `--detach`, instead of that. Paused: running (approving the manual gate it waits at). Halting or
 * failed: running when it may go on (a host left to drive, the failure budget allowing it).
 * Otherwise the run is left as it is: driven, a halting run's hosts in flight finish, an aborting
 * run's abort is finished, and a finished run is only shown (its summary says what would let it go
 * on). Without `drive` (`--detach`, the API), a run that cannot go on is refused with an
 * OverhaulError that says why and what would let it.
 */
export async function resumeRun(
  deps: { store: Store; clock: Clock },
  run: RunRecord,
  actor: string,
  opts: { drive: boolean },
): Promise<RunRecord> {
  let why = "";
  switch (run.state) {
    case "running":
      return run;
    case "paused":
      return runAction(deps, run, "resume", actor);
    case "aborting":
      why = `its coordinator finishes the abort (if none holds it, \`overhaul abort ${run.id}\` or \`overhaul resume ${run.id}\` without --detach does)`;
      break;
    case "halting":
    case "failed": {
      if (run.options.simulated === true) {
        why = "a simulated run is driven by `overhaul simulate` only: simulate the plan again";
        break;
      }
      const d = await goOnOf(deps.store, run);
      // A failed run's hosts were free for other runs: runAction's store write refuses to set it
      // going while another run holds one.
      if (d.go) return runAction(deps, run, "resume", actor);
      if (d.why === "budget")
        why = `${d.message}: \`overhaul retry HOST --run ${run.id}\` or \`overhaul skip HOST --run ${run.id}\`, then \`overhaul resume ${run.id}\``;
      else if (run.state === "failed")
        why = `no host is left to run (\`overhaul retry HOST --run ${run.id}\` runs a failed or in-doubt host again)`;
      break;
    }
    case "aborted":
      why = "an aborted run is never driven again: start a new run";
      break;
    case "succeeded":
      break;
  }
  if (opts.drive) return run;
  throw new OverhaulError(`cannot resume run ${run.id}: it is ${run.state}${why ? `; ${why}` : ""}`);
}
