/**
 * The report builder: run, host flows, attempts and events in, one `Report` value out.
 *
 * Invariants:
 * - Pure and deterministic: no clock, no I/O; inputs are sorted here (events by seq, hosts by
 *   start order) so callers may pass them in any order and get the same report.
 * - Figures come from the host flows' current states (what `status` shows); timing, retries,
 *   rollbacks and the timeline come from the events, which are the durable record of what
 *   happened and when.
 * - Regions appear in the order their first host is in the run's start order; hosts are grouped
 *   by region, then in start order, the order the timeline draws them.
 */
import { downtimeOf, figuresOf } from "./figures.js";
import { type ReportEventInput, type ReportHostInput, type ReportInput, regionOf } from "./input.js";
import { type FailureReport, REPORT_SCHEMA, type Report, type WaveReport } from "./model.js";
import { type HostTrack, trackHost } from "./timeline.js";

const iso = (t: number) => new Date(t).toISOString();
const UNFINISHED = new Set(["pending", "running", "reverting"]);
const FAILURE_STATES = new Set(["failed", "in_doubt", "aborted"]);

/** Stage names: the plan's steps, then any other step the attempts or events name, in first-seen order. */
function stagesOf(input: ReportInput, events: readonly ReportEventInput[]): string[] {
  const stages = [...(input.steps ?? [])];
  const seen = new Set(stages);
  const add = (s: unknown) => {
    if (typeof s === "string" && !seen.has(s)) {
      seen.add(s);
      stages.push(s);
    }
  };
  const byIndex = [...input.attempts].sort((a, b) => a.stepIndex - b.stepIndex || a.seq - b.seq);
  for (const a of byIndex) add(a.stepName);
  for (const e of events) add(e.data.step);
  return stages;
}

export function buildReport(input: ReportInput): Report {
  const events = [...input.events].sort((a, b) => a.seq - b.seq);
  const hosts = [...input.hosts].sort((a, b) => a.order - b.order || (a.host < b.host ? -1 : 1));
  const stages = stagesOf(input, events);
  const stageIndex = new Map(stages.map((s, i) => [s, i]));
  const stageOf = (s: string | null) => (s === null ? -1 : (stageIndex.get(s) ?? -1));

  const starts = events
    .filter((e) => e.type === "host.started" || e.type === "wave.started")
    .map((e) => e.at);
  const origin = starts.length > 0 ? Math.min(...starts) : input.run.createdAt;
  let endAbs = origin;
  for (const e of events) if (e.at > endAbs) endAbs = e.at;
  for (const h of hosts) if (h.finishedAt !== null && h.finishedAt > endAbs) endAbs = h.finishedAt;

  const perHost = new Map<string, ReportEventInput[]>();
  for (const e of events) {
    if (e.host === null) continue;
    const list = perHost.get(e.host) ?? [];
    list.push(e);
    perHost.set(e.host, list);
  }

  const regions: string[] = [];
  for (const h of hosts) if (!regions.includes(regionOf(h))) regions.push(regionOf(h));
  const entries: { rec: ReportHostInput; track: HostTrack; region: string }[] = [];
  for (const region of regions) {
    for (const rec of hosts) {
      if (regionOf(rec) !== region) continue;
      entries.push({ rec, region, track: trackHost(perHost.get(rec.host) ?? [], stageOf, origin, endAbs) });
    }
  }

  const samples = input.workloadDowntime ?? [];
  const regionByHost = new Map(hosts.map((h) => [h.host, regionOf(h)]));
  const rel = (t: number | null) => (t === null ? null : t - origin);

  return {
    schema: REPORT_SCHEMA,
    run: {
      id: input.run.id,
      plan: input.run.planName,
      revision: input.run.planRevision,
      hash: input.run.planHash,
      state: input.run.state,
      reason: input.run.reason,
      seed: input.run.seed,
      createdAt: iso(input.run.createdAt),
      updatedAt: iso(input.run.updatedAt),
    },
    totals: figuresOf(entries, endAbs),
    regions: regions.map((region) => ({
      region,
      ...figuresOf(
        entries.filter((x) => x.region === region),
        endAbs,
      ),
      workloadDowntime: downtimeOf(
        input.workloadDowntime === undefined
          ? undefined
          : samples.filter((s) => regionByHost.get(s.host) === region).map((s) => s.downtimeMs),
      ),
    })),
    stages,
    waves: wavesOf(entries, events, origin),
    timeline: { origin: iso(origin), endMs: endAbs - origin },
    hosts: entries.map(({ rec, track, region }) => ({
      host: rec.host,
      region,
      wave: rec.wave + 1,
      state: rec.state,
      reason: rec.reason,
      startMs: rel(track.firstStart),
      endMs: rel(track.lastFinish),
      retries: track.retries,
      reverted: track.reverted,
      reverts: track.reverts,
      segments: track.segments,
      marks: track.marks,
    })),
    failures: entries
      .filter((x) => FAILURE_STATES.has(x.rec.state))
      .map(
        ({ rec, track, region }): FailureReport => ({
          host: rec.host,
          region,
          state: rec.state,
          step: track.failedStep,
          after: track.stoppedAfter,
          reason: rec.reason,
          at: track.stoppedAt === null ? null : iso(track.stoppedAt),
        }),
      ),
    workloadDowntime: downtimeOf(samples.map((s) => s.downtimeMs)),
  };
}

function wavesOf(
  entries: readonly { rec: ReportHostInput; track: HostTrack }[],
  events: readonly ReportEventInput[],
  origin: number,
): WaveReport[] {
  const count = entries.reduce((m, x) => Math.max(m, x.rec.wave + 1), 0);
  const opened = new Map<number, number>();
  for (const e of events) {
    const w = e.data.wave;
    if (e.type === "wave.started" && typeof w === "number" && !opened.has(w)) opened.set(w, e.at);
  }
  const byWave = new Map<number, (typeof entries)[number][]>();
  for (const x of entries) {
    const list = byWave.get(x.rec.wave) ?? [];
    list.push(x);
    byWave.set(x.rec.wave, list);
  }
  const waves: WaveReport[] = [];
  for (let w = 0; w < count; w++) {
    const members = byWave.get(w) ?? [];
    const firstStart = members.reduce<number | null>(
      (m, x) =>
        x.track.firstStart !== null && (m === null || x.track.firstStart < m) ? x.track.firstStart : m,
      null,
    );
    const start = opened.get(w) ?? firstStart;
    const done = members.every((x) => !UNFINISHED.has(x.rec.state));
    const lastFinish = members.reduce<number | null>(
      (m, x) =>
        x.track.lastFinish !== null && (m === null || x.track.lastFinish > m) ? x.track.lastFinish : m,
      null,
    );
    waves.push({
      wave: w + 1,
      hosts: members.length,
      startMs: start === null ? null : start - origin,
      endMs: done && lastFinish !== null ? lastFinish - origin : null,
    });
  }
  return waves;
}
