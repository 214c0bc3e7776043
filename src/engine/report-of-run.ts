import { buildReport, downtimeSamples, type Report } from "../core/report/index.js";
import type { EventRecord, RunRecord, Store } from "../ports/store.js";
import { planOfRevision } from "./plan-of-run.js";

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
  // A stored revision that no longer compiles (schema moved on): stages come from the data.
  const steps = planOfRevision(rev)?.steps.map((s) => s.name);
  return buildReport({
    run,
    hosts,
    attempts,
    events,
    workloadDowntime: downtimeSamples(attempts),
    ...(steps ? { steps } : {}),
  });
}
