/**
 * The run summary shown at the end of `run` and by `status`, in text and JSON (same data).
 */
import { HOST_STATES, type HostState } from "../core/flow/states.js";
import type { Plan } from "../core/plan/compile.js";
import { formatDuration } from "../core/plan/duration.js";
import type { HostFlowRecord, RunRecord, Store } from "../ports/store.js";
import { type Out, paint, stateColor, table } from "./output.js";

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

export function renderSummary(out: Out, s: RunSummary, opts: { hosts?: boolean } = {}): string {
  const r = s.run;
  const lines: string[] = [];
  lines.push(
    `${paint(out, "bold", `run ${r.id}`)}  ${paint(out, stateColor(r.state), r.state.toUpperCase())}  plan ${r.plan}@${r.revision}  wave ${r.wave}`,
  );
  if (r.reason) lines.push(`  ${r.reason}`);
  const counts = (Object.entries(s.counts) as [HostState, number][])
    .filter(([, n]) => n > 0)
    .map(([st, n]) => paint(out, stateColor(st), `${st} ${n}`));
  const took = Date.parse(r.updatedAt) - Date.parse(r.createdAt);
  lines.push(
    `  hosts: ${counts.join(", ")}  (total ${s.hosts.length})  ${paint(out, "gray", `${formatDuration(took)} since start`)}`,
  );
  if (opts.hosts) {
    const rows = [["HOST", "STATE", "WAVE", "STEP", "ATTEMPTS", "REASON"]];
    for (const h of s.hosts) {
      rows.push([
        h.host,
        paint(out, stateColor(h.state), h.state),
        String(h.wave),
        h.step ?? "-",
        String(h.attempts),
        h.reason ?? "",
      ]);
    }
    lines.push(table(rows, out).replace(/^/gm, "  "));
  }
  if (s.failures.length > 0) {
    lines.push(paint(out, "bold", "  failures:"));
    for (const f of s.failures)
      lines.push(`    ${paint(out, "red", f.host)} (${f.state}): ${f.reason ?? ""}`);
    lines.push(`  next: \`overhaul retry HOST\` or \`overhaul skip HOST\`, then \`overhaul resume ${r.id}\``);
  }
  return `${lines.join("\n")}\n`;
}
