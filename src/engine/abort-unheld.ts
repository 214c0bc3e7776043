/**
 * Finishing an abort no coordinator will finish: `overhaul abort` of a run nobody holds (its
 * coordinator was stopped with Ctrl-C, or died and its leases expired) would otherwise stay
 * `aborting` until someone runs `overhaul resume`.
 *
 * Invariants:
 * - Only while no coordinator holds a lease on the run: a holder (alive, or dead with leases not yet
 *   expired) aborts its own hosts, and nothing is done here. The check is the leases themselves:
 *   this takes every unfinished host's lease, and gives up (releasing them) if any is held by
 *   someone else.
 * - It is the coordinator's own abort (`HostFlow.abort`): nothing runs on any host; an attempt a
 *   stopped coordinator left open is closed as unknown and its host parked `in_doubt` (its step
 *   may be half done), never reported as aborted as if the step had not begun or had finished.
 * - Needs only the steps' names (where each host stopped): a run whose pinned plan revision this
 *   version no longer accepts is aborted with that revision's skeleton (`loadAbortPlan`).
 * - Fenced like any coordinator's writes; the leases are released at the end either way.
 */
import { OverhaulError } from "../core/errors.js";
import { isTerminalHost } from "../core/flow/states.js";
import { seededRandom } from "../core/policy/random.js";
import type { Clock } from "../ports/clock.js";
import type { EventSink } from "../ports/events.js";
import type { AttemptRecord, RunRecord, Store } from "../ports/store.js";
import type { Transport } from "../ports/transport.js";
import { nullNotifier, nullSink } from "./deps.js";
import { HostFlow } from "./host-flow.js";
import { loadAbortPlan } from "./plan-of-run.js";
import { type LeaseHolder, leaseHolders } from "./run-summary.js";

/** An abort runs nothing on a host: a transport that is never used, and says so if it were. */
const NOTHING_RUNS: Transport = {
  exec: () => Promise.reject(new Error("finishing an abort runs nothing on hosts")),
  close: async () => {},
};

export type UnheldAbort =
  | { finished: true; run: RunRecord; inDoubt: string[] }
  /** Coordinators that hold the run's leases: theirs to finish. */
  | { finished: false; holders: LeaseHolder[] };

export async function finishUnheldAbort(
  deps: { store: Store; clock: Clock; sink?: EventSink },
  runId: string,
  owner: string,
  ttlMs = 30_000,
): Promise<UnheldAbort> {
  const { store, clock } = deps;
  const run = await store.getRun(runId);
  if (run?.state !== "aborting")
    throw new OverhaulError(`run ${runId} is ${run?.state ?? "missing"}, not aborting`);
  const holders = leaseHolders(await store.getHosts(runId), clock.now());
  if (holders.length > 0) return { finished: false, holders };
  const granted = await store.acquireLeases(runId, owner, clock.now(), ttlMs);
  try {
    const hosts = await store.getHosts(runId);
    const others = leaseHolders(
      hosts.filter((h) => !isTerminalHost(h.state) && h.leaseOwner !== owner),
      clock.now(),
    );
    if (others.length > 0) return { finished: false, holders: others };
    const plan = await loadAbortPlan(store, run);
    const byHost = new Map<string, AttemptRecord[]>();
    for (const a of await store.getAttempts(runId)) byHost.set(a.host, [...(byHost.get(a.host) ?? []), a]);
    const reason = run.reason ?? "run aborted by an operator";
    const inDoubt: string[] = [];
    for (const rec of granted) {
      const flow = new HostFlow(
        {
          deps: {
            store,
            clock,
            transport: NOTHING_RUNS,
            random: seededRandom(run.seed),
            sink: deps.sink ?? nullSink,
            notifier: nullNotifier,
          },
          plan,
          runId,
          owner,
          signal: new AbortController().signal,
          awaitApproval: async () => {},
        },
        rec,
        byHost.get(rec.host) ?? [],
      );
      await flow.abort(reason);
      if (flow.rec.state === "in_doubt") inDoubt.push(rec.host);
    }
    const now = clock.now();
    const ok = await store.updateRun(runId, ["aborting"], { state: "aborted", updatedAt: now }, [
      { runId, host: null, at: now, type: "run.aborted", actor: owner, data: { from: "aborting" } },
    ]);
    const after = (await store.getRun(runId)) ?? run;
    if (!ok && after.state !== "aborted") return { finished: false, holders: [] };
    return { finished: true, run: after, inDoubt };
  } finally {
    await store.releaseLeases(runId, owner);
  }
}
