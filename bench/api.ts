/**
 * The "api" benchmark: the coordinator service's HTTP side while its own coordinator drives a run.
 *
 * - GET /api/runs/:id request rate: `clients` keep-alive clients on 127.0.0.1 call it back to back
 *   for `seconds` (bounded by `maxRequests`); requests/s and latency p50 / p99.
 * - SSE fan-out: `sseClients` clients follow the run's live event stream from its start; per
 *   delivered event, the lag from the event's commit time to its arrival (p50 / p99), and a check
 *   that every client received every event of the run exactly once.
 *
 * The run: `hosts` in-process hosts (no SSH, no process spawning; each command answers after
 * `commandMs`), 3 command steps, concurrency `concurrency`, on a durable SQLite file, driven by the
 * service's Supervisor in the same process as the HTTP server, as in `overhaul serve`.
 * Only loopback; every loop is bounded.
 */
import { join } from "node:path";
import { randomSource, systemClock } from "../src/adapters/clock/system-clock.js";
import { openSqliteStore } from "../src/adapters/store-sql/index.js";
import type { Host } from "../src/core/model/fleet.js";
import { compilePlan } from "../src/core/plan/compile.js";
import { parsePlanText } from "../src/core/plan/load.js";
import { nullSink } from "../src/engine/deps.js";
import { createRun } from "../src/engine/runs.js";
import type { ExecResult, Transport } from "../src/ports/transport.js";
import { buildApp } from "../src/server/app.js";
import { Metrics } from "../src/server/metrics.js";
import { Supervisor } from "../src/server/supervisor.js";
import { mintToken } from "../src/server/tokens.js";
import { median, round } from "./results.js";

export const API = "api";

export interface ApiConfig {
  rounds: number;
  hosts: number;
  concurrency: number;
  commandMs: number;
  clients: number;
  seconds: number;
  maxRequests: number;
  sseClients: number;
}

export const DEFAULT_API: ApiConfig = {
  rounds: 3,
  hosts: 200,
  concurrency: 20,
  commandMs: 20,
  clients: 8,
  seconds: 3,
  maxRequests: 200_000,
  sseClients: 100,
};

class DelayTransport implements Transport {
  constructor(private readonly ms: number) {}
  async exec(): Promise<ExecResult> {
    await new Promise((r) => setTimeout(r, this.ms));
    return { exitCode: 0, signal: null, stdout: "", stderr: "", durationMs: this.ms, truncated: false };
  }
  async close(): Promise<void> {}
}

const PLAN = `name: api-bench
hosts: all
steps:
  - { name: one, kind: command, run: "true", idempotent: true }
  - { name: two, kind: command, run: "true", idempotent: true }
  - { name: three, kind: command, run: "true", idempotent: true }
`;

function host(i: number): Host {
  const region = `r${i % 4}`;
  return {
    name: `h${String(i).padStart(4, "0")}`,
    address: "127.0.0.1",
    connection: "local",
    region,
    failureDomains: {},
    role: "worker",
    groups: [],
    vars: {},
  } as unknown as Host;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface ApiRound {
  getRequests: number;
  getSeconds: number;
  getPerSecond: number;
  getP50Ms: number;
  getP99Ms: number;
  runEvents: number;
  sseClients: number;
  sseDelivered: number;
  sseComplete: boolean;
  sseLagP50Ms: number;
  sseLagP99Ms: number;
  runSeconds: number;
}

async function oneRound(dir: string, cfg: ApiConfig, n: number): Promise<ApiRound> {
  const store = await openSqliteStore(join(dir, `api-${n}.db`));
  const clock = systemClock();
  const minted = mintToken({ name: "bench", role: "viewer", createdBy: "bench", now: clock.now() });
  await store.access.createToken(minted.record);
  const auth = { authorization: `Bearer ${minted.secret}` };
  const metrics = new Metrics(store, () => clock.now());
  const { app } = buildApp(
    { store, clock, random: randomSource(1), metrics, streamPollMs: 100 },
    { version: "bench" },
  );
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  const plan = { ...compilePlan(parsePlanText(PLAN, "bench.yaml")) };
  plan.concurrency = { ...plan.concurrency, global: cfg.concurrency };
  const run = await createRun(
    { store, clock, random: randomSource(n) },
    {
      plan,
      planBody: PLAN,
      planHash: `bench-${n}`,
      hosts: Array.from({ length: cfg.hosts }, (_, i) => host(i)),
      options: {},
      actor: "bench",
    },
  );
  // Followers first, so each sees the whole run.
  const lags: number[] = [];
  const seen: Map<number, number>[] = [];
  const acs: AbortController[] = [];
  let finishedAt = 0;
  const followers = Array.from({ length: cfg.sseClients }, async (_, c) => {
    const ac = new AbortController();
    acs.push(ac);
    const mine = new Map<number, number>();
    seen.push(mine);
    const res = await fetch(`${url}/api/runs/${run.id}/events/stream`, { headers: auth, signal: ac.signal });
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        const now = clock.now();
        buf += decoder.decode(chunk, { stream: true });
        for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
          const line = buf
            .slice(0, i)
            .split("\n")
            .find((l) => l.startsWith("data: "));
          buf = buf.slice(i + 2);
          if (!line) continue;
          const e = JSON.parse(line.slice(6)) as { seq: number; at: number };
          mine.set(e.seq, (mine.get(e.seq) ?? 0) + 1);
          if (c < cfg.sseClients) lags.push(now - e.at);
        }
      }
    } catch {
      // aborted at the end
    }
  });
  await new Promise((r) => setTimeout(r, 200));

  const supervisor = new Supervisor({
    store,
    clock,
    random: (seed) => randomSource(seed),
    transportFor: async () => new DelayTransport(cfg.commandMs),
    sink: metrics.sink ?? nullSink,
    metrics,
    owner: "bench",
    leaseTtlMs: 30_000,
    tickMs: 100,
    scanMs: 60_000,
    onDriven: () => {
      finishedAt = clock.now();
    },
  });
  const started = clock.now();
  supervisor.start();

  // GET /api/runs/:id, back to back, while the run goes on.
  const latencies: number[] = [];
  const deadline = started + cfg.seconds * 1000;
  let requests = 0;
  await Promise.all(
    Array.from({ length: cfg.clients }, async () => {
      while (clock.now() < deadline && requests < cfg.maxRequests) {
        requests++;
        const t0 = performance.now();
        const res = await fetch(`${url}/api/runs/${run.id}`, { headers: auth });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`GET /api/runs/:id answered ${res.status}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const getSeconds = (clock.now() - started) / 1000;

  // Let the run finish and the streams drain (bounded).
  for (let i = 0; i < 600 && finishedAt === 0; i++) await new Promise((r) => setTimeout(r, 100));
  if (finishedAt === 0) throw new Error("the benchmark run did not finish within 60 s");
  const events = await store.listEvents(run.id, 0, 1_000_000);
  for (let i = 0; i < 100; i++) {
    if (seen.every((m) => m.size >= events.length)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const ac of acs) ac.abort();
  await Promise.allSettled(followers);
  await supervisor.stop();
  await app.close();
  await store.close();

  const complete = seen.every((m) => m.size === events.length && [...m.values()].every((v) => v === 1));
  latencies.sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  return {
    getRequests: latencies.length,
    getSeconds: round(getSeconds, 2),
    getPerSecond: round(latencies.length / getSeconds, 0),
    getP50Ms: round(pct(latencies, 50), 2),
    getP99Ms: round(pct(latencies, 99), 2),
    runEvents: events.length,
    sseClients: cfg.sseClients,
    sseDelivered: seen.reduce((s, m) => s + m.size, 0),
    sseComplete: complete,
    sseLagP50Ms: round(pct(lags, 50), 1),
    sseLagP99Ms: round(pct(lags, 99), 1),
    runSeconds: round((finishedAt - started) / 1000, 2),
  };
}

export async function runApi(dir: string, cfg: ApiConfig, log: (line: string) => void) {
  const rounds: ApiRound[] = [];
  for (let n = 1; n <= cfg.rounds; n++) {
    const r = await oneRound(dir, cfg, n);
    rounds.push(r);
    log(
      `  round ${n}: GET /api/runs/:id ${r.getPerSecond} req/s (p50 ${r.getP50Ms} ms, p99 ${r.getP99Ms} ms); ` +
        `SSE ${r.sseClients} clients x ${r.runEvents} events, complete ${r.sseComplete}, lag p50 ${r.sseLagP50Ms} ms p99 ${r.sseLagP99Ms} ms; run ${r.runSeconds} s`,
    );
    if (!r.sseComplete) throw new Error(`round ${n}: an SSE client missed or repeated events`);
  }
  const m = (k: keyof ApiRound) => median(rounds.map((r) => Number(r[k])));
  return {
    rounds,
    median: {
      getPerSecond: m("getPerSecond"),
      getP50Ms: m("getP50Ms"),
      getP99Ms: m("getP99Ms"),
      sseLagP50Ms: m("sseLagP50Ms"),
      sseLagP99Ms: m("sseLagP99Ms"),
      sseEventsDeliveredPerSecond: round(median(rounds.map((r) => r.sseDelivered / r.runSeconds)), 0),
      runSeconds: m("runSeconds"),
    },
  };
}
