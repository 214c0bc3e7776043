/**
 * `status`, `pause`, `resume --detach`, `abort`, `retry HOST`, `skip HOST`: operator actions on a
 * stored run. Each writes one compare-and-set change and one audit event; the coordinator driving
 * the run (if any) picks it up within a second.
 */

import { systemClock } from "../../adapters/clock/system-clock.js";
import { visible } from "../../core/output/visible.js";
import { finishUnheldAbort } from "../../engine/abort-unheld.js";
import { shownPlanOf } from "../../engine/plan-of-run.js";
import { leaseHolders } from "../../engine/run-summary.js";
import {
  type HostAction,
  hostAction,
  type RunAction,
  requireRun,
  runAction,
  runIdForHost,
  runsOfHost,
} from "../../engine/runs.js";
import { coordinatorId, openStore, operatorName } from "../compose.js";
import { EXIT } from "../exit-codes.js";
import { makeOut, type Out, paint, stateColor, table } from "../output.js";
import { renderSummary, summarize, utc } from "../summary.js";

interface Common {
  db?: string;
  json?: boolean;
  noColor?: boolean;
}

export async function statusCommand(
  runId: string | undefined,
  opts: Common & { hosts?: boolean; runs?: boolean },
): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  const store = await openStore(opts.db, { existing: true });
  try {
    if (opts.runs) {
      const runs = await store.listRuns(50);
      if (opts.json) {
        out.write(
          `${JSON.stringify(
            runs.map((r) => ({
              id: r.id,
              plan: r.planName,
              revision: r.planRevision,
              state: r.state,
              createdAt: new Date(r.createdAt).toISOString(),
              reason: r.reason,
            })),
            null,
            2,
          )}\n`,
        );
      } else {
        const rows = [["RUN", "STATE", "PLAN", "CREATED", "REASON"]];
        for (const r of runs)
          rows.push([
            r.id,
            paint(out, stateColor(r.state), r.state),
            `${r.planName}@${r.planRevision}`,
            new Date(r.createdAt).toISOString(),
            visible(r.reason ?? ""),
          ]);
        out.write(`${table(rows, out)}\n`);
      }
      return EXIT.ok;
    }
    const run = await requireRun(store, runId);
    const s = await summarize(store, run, systemClock().now(), await shownPlanOf(store, run));
    if (opts.json) out.write(`${JSON.stringify(s, null, 2)}\n`);
    else out.write(renderSummary(out, s, { hosts: opts.hosts ?? s.hosts.length <= 40 }));
    return EXIT.ok;
  } finally {
    await store.close();
  }
}

export async function runActionCommand(
  action: RunAction,
  runId: string | undefined,
  opts: Common & { reason?: string },
): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  const store = await openStore(opts.db, { existing: true });
  try {
    const run = await requireRun(store, runId);
    const clock = systemClock();
    // Aborting already (its coordinator gone): abort again finishes it, when nobody holds it.
    let after =
      action === "abort" && run.state === "aborting"
        ? run
        : await runAction({ store, clock }, run, action, `operator:${operatorName()}`, opts.reason);
    const notes: string[] = [];
    // A run no coordinator holds does not move: say so, and finish an abort here when that is safe
    // (engine/abort-unheld.ts: nothing runs, steps left in doubt stay in doubt).
    const holders = leaseHolders(await store.getHosts(after.id), clock.now());
    if (holders.length > 0) {
      const who = holders.map((h) => `${h.owner} (lease until ${utc(h.until)})`).join(", ");
      if (after.state === "aborting")
        notes.push(
          `coordinator ${who} carries out the abort; if it is gone, \`overhaul abort ${after.id}\` finishes it once that lease has expired`,
        );
    } else if (after.state === "aborting") {
      const done = await finishUnheldAbort({ store, clock }, after.id, coordinatorId());
      if (done.finished) {
        after = done.run;
        notes.push(
          `no coordinator held run ${after.id}: the abort is finished here${
            done.inDoubt.length > 0
              ? `; in doubt (a step of theirs may be half done, look at them): ${done.inDoubt.join(", ")}`
              : ""
          }`,
        );
      } else notes.push(`a coordinator took run ${after.id} meanwhile: it carries out the abort`);
    } else if (after.state === "paused") {
      notes.push(
        `no coordinator holds run ${after.id}: nothing runs; \`overhaul resume ${after.id}\` continues it`,
      );
    }
    if (opts.json) out.write(`${JSON.stringify({ run: after.id, state: after.state })}\n`);
    else {
      out.write(`run ${after.id}: ${run.state} -> ${after.state}\n`);
      for (const n of notes) out.write(`${n}\n`);
    }
    return EXIT.ok;
  } finally {
    await store.close();
  }
}

/** What a retry or skip did to the run (absent from an older server's answer). */
export interface HostActionOutcome {
  runState?: string;
  reopened?: boolean;
  held?: string | null;
}

/** What `retry` / `skip` print, locally and with --server. */
export function writeHostAction(
  out: Out,
  json: boolean | undefined,
  action: HostAction,
  runId: string,
  host: string,
  state: string,
  outcome: HostActionOutcome = {},
): void {
  if (json) {
    const { runState, reopened, held } = outcome;
    out.write(`${JSON.stringify({ run: runId, host, state, runState, reopened, held })}\n`);
    return;
  }
  out.write(`run ${runId}: host ${host} -> ${state}\n`);
  if (outcome.held) {
    out.write(
      `run ${runId} stays ${outcome.runState}: ${outcome.held}: \`overhaul retry HOST --run ${runId}\` or \`overhaul skip HOST --run ${runId}\`, then \`overhaul resume ${runId}\`\n`,
    );
  } else if (outcome.reopened) {
    out.write(
      `run ${runId} goes on: continue it with \`overhaul resume ${runId}\` (a coordinator already driving it picks this up)\n`,
    );
  } else if (action === "retry")
    out.write(
      `continue the run with \`overhaul resume ${runId}\` (a coordinator already driving it picks this up)\n`,
    );
}

export async function hostActionCommand(
  action: HostAction,
  host: string,
  opts: Common & { run?: string },
): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  const store = await openStore(opts.db, { existing: true });
  try {
    // Without --run: the run that has the host, refused when it waits in more than one.
    const run = await requireRun(store, opts.run ?? runIdForHost(host, await runsOfHost(store, host)));
    const r = await hostAction(
      { store, clock: systemClock() },
      run,
      host,
      action,
      `operator:${operatorName()}`,
    );
    writeHostAction(out, opts.json, action, run.id, host, r.host.state, r);
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
