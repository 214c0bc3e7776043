/**
 * Everything a report needs for one run, read from the store (used by `overhaul report` and the
 * coordinator service). Reads only; nothing is written.
 */
import { compilePlan } from "../core/plan/compile.js";
import { parsePlanText } from "../core/plan/load.js";
import { buildReport, downtimeSamples, type Report } from "../core/report/index.js";
import type { EventRecord, RunRecord, Store } from "../ports/store.js";

async function allEvents(store: Store, runId: string): Promise<EventRecord[]> {
  const page = 10_000;
  const all: EventRecord[] = [];
  for (let after = 0; ; ) {
    const batch = await store.listEvents(runId, after, page);
    all.push(...batch);
    if (batch.length < page) return all;
    after = (batch[batch.length - 1] as EventRecord).seq;
  }
}

/** Read everything the report needs for one run. */
export async function reportOfRun(store: Store, run: RunRecord): Promise<Report> {
  const [hosts, attempts, events, rev] = await Promise.all([
    store.getHosts(run.id),
    store.getAttempts(run.id),
    allEvents(store, run.id),
    store.getPlanRevision(run.planName, run.planRevision),
  ]);
  let steps: string[] | undefined;
  if (rev) {
    try {
      steps = compilePlan(parsePlanText(rev.body, rev.name)).steps.map((s) => s.name);
    } catch {
      // A stored revision that no longer compiles (schema moved on): stages come from the data.
    }
  }
  return buildReport({
    run,
    hosts,
    attempts,
    events,
    workloadDowntime: downtimeSamples(attempts),
    ...(steps ? { steps } : {}),
  });
}
