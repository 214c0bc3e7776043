/**
 * Prometheus metrics of `overhaul serve` (prom-client, one registry of our own).
 *
 * Invariants:
 * - Names follow Prometheus conventions: `overhaul_` prefix, base units (`_seconds`), counters end
 *   in `_total`; `promtool check metrics` has nothing to say (tested on a scrape taken mid-run).
 * - Labels are low-cardinality: step kinds, a failure reason *class* (never the free-text
 *   reason), states and stages of the plan, run ids of runs that are not finished (and of the
 *   newest finished ones, so a scrape still sees how a run ended).
 * - Counters and histograms are fed by the engine's events (an EventSink: emitting never throws)
 *   and by the instrumented store (lease renewals, store latency); per-run gauges are read from
 *   the store at scrape time, so they are right whichever coordinator drives the run.
 */
import client from "prom-client";
import { RUN_STATES, TERMINAL_RUN_STATES } from "../core/flow/states.js";
import type { Plan } from "../core/plan/compile.js";
import type { EventSink } from "../ports/events.js";
import type { Store } from "../ports/store.js";
import { planOf, stageOf } from "./views.js";

/** A small, fixed set of failure classes for the `reason` label. */
export function reasonClass(reason: unknown): string {
  const r = typeof reason === "string" ? reason.toLowerCase() : "";
  if (r.includes("host key")) return "host_key";
  if (r.includes("auth") || r.includes("permission denied")) return "auth";
  if (r.includes("unreachable") || r.includes("connect")) return "unreachable";
  if (r.includes("dropped") || r.includes("connection lost")) return "dropped";
  if (r.includes("not healthy") || r.includes("unhealthy")) return "not_healthy";
  if (r.includes("within") || r.includes("timed out") || r.includes("timeout")) return "timeout";
  if (r.includes("exit")) return "exit_status";
  return r === "" ? "unknown" : "other";
}

const STORE_OPS = [
  "getRun",
  "listEvents",
  "feedSince",
  "commitHost",
  "acquireLeases",
  "renewLeases",
  "getHosts",
  "updateRun",
] as const;

export class Metrics {
  readonly registry = new client.Registry();
  private readonly plans = new Map<string, Plan>();
  private readonly starts = new Map<string, number>();
  private readonly stepsStarted: client.Counter<"kind">;
  private readonly stepsSucceeded: client.Counter<"kind">;
  private readonly stepsFailed: client.Counter<"kind" | "reason">;
  private readonly retries: client.Counter<"kind">;
  private readonly rollbacks: client.Counter;
  private readonly stepDuration: client.Histogram<"kind" | "outcome">;
  private readonly renewals: client.Counter<"outcome">;
  private readonly storeLatency: client.Histogram<"operation">;
  readonly sink: EventSink;

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {
    const registers = [this.registry];
    this.stepsStarted = new client.Counter({
      name: "overhaul_steps_started_total",
      help: "Step attempts started, by step kind.",
      labelNames: ["kind"],
      registers,
    });
    this.stepsSucceeded = new client.Counter({
      name: "overhaul_steps_succeeded_total",
      help: "Step attempts that succeeded, by step kind.",
      labelNames: ["kind"],
      registers,
    });
    this.stepsFailed = new client.Counter({
      name: "overhaul_steps_failed_total",
      help: "Step attempts that failed, by step kind and failure class.",
      labelNames: ["kind", "reason"],
      registers,
    });
    this.retries = new client.Counter({
      name: "overhaul_step_retries_total",
      help: "Failed step attempts that will be tried again, by step kind.",
      labelNames: ["kind"],
      registers,
    });
    this.rollbacks = new client.Counter({
      name: "overhaul_rollbacks_total",
      help: "Hosts that started reverting their completed steps.",
      registers,
    });
    this.stepDuration = new client.Histogram({
      name: "overhaul_step_duration_seconds",
      help: "Duration of step attempts, by step kind and outcome.",
      labelNames: ["kind", "outcome"],
      buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    this.renewals = new client.Counter({
      name: "overhaul_lease_renewals_total",
      help: "Lease renewals by this process's coordinators, by outcome (held: every lease still ours).",
      labelNames: ["outcome"],
      registers,
    });
    this.storeLatency = new client.Histogram({
      name: "overhaul_store_operation_duration_seconds",
      help: "Latency of the store operations the coordinators use.",
      labelNames: ["operation"],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.perRunGauges();
    client.collectDefaultMetrics({ register: this.registry, prefix: "overhaul_" });
    // prom-client names these gauges `_total`, which is reserved for counters (promtool objects).
    // The same figures remain as `overhaul_nodejs_active_{handles,requests,resources}`.
    for (const what of ["handles", "requests", "resources"])
      this.registry.removeSingleMetric(`overhaul_nodejs_active_${what}_total`);
    this.sink = { emit: (e) => this.onEvent(e) };
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  /** The coordinators of this process announce the plan of each run they drive. */
  trackRun(runId: string, plan: Plan): void {
    this.plans.set(runId, plan);
  }

  private kindOf(runId: string, step: unknown): string {
    const plan = this.plans.get(runId);
    return plan?.steps.find((s) => s.name === step)?.kind ?? "unknown";
  }

  private onEvent(e: {
    runId: string;
    host: string | null;
    type: string;
    at: number;
    data: Record<string, unknown>;
  }): void {
    try {
      const key = `${e.runId}\u0000${e.host}\u0000${String(e.data.step)}\u0000${String(e.data.attempt)}`;
      const kind = this.kindOf(e.runId, e.data.step);
      const took = (outcome: string) => {
        const start = this.starts.get(key);
        if (start === undefined) return;
        this.starts.delete(key);
        this.stepDuration.observe({ kind, outcome }, Math.max(0, e.at - start) / 1000);
      };
      switch (e.type) {
        case "attempt.started":
          this.stepsStarted.inc({ kind });
          this.starts.set(key, e.at);
          break;
        case "attempt.succeeded":
          this.stepsSucceeded.inc({ kind });
          took("succeeded");
          break;
        case "attempt.failed":
          this.stepsFailed.inc({ kind, reason: reasonClass(e.data.reason) });
          if (e.data.retryInMs !== undefined) this.retries.inc({ kind });
          took("failed");
          break;
        case "attempt.unknown":
          took("unknown");
          break;
        case "host.reverting":
          this.rollbacks.inc();
          break;
      }
    } catch {
      // Observability never breaks a run.
    }
  }

  /** Wrap a store so coordinators' renewals and store latency are measured. */
  instrument(store: Store): Store {
    const m = this;
    return new Proxy(store, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== "function" || !(STORE_OPS as readonly (string | symbol)[]).includes(prop)) return v;
        return async (...args: unknown[]) => {
          const end = m.storeLatency.startTimer({ operation: String(prop) });
          try {
            const out = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            if (prop === "renewLeases") m.renewals.inc({ outcome: "renewed" });
            return out;
          } catch (err) {
            if (prop === "renewLeases") m.renewals.inc({ outcome: "error" });
            throw err;
          } finally {
            end();
          }
        };
      },
    });
  }

  private perRunGauges(): void {
    const registers = [this.registry];
    const store = this.store;
    const runsToShow = async () => {
      // Every unfinished run (however old), and the 5 newest finished ones.
      const live = await store.listRuns(undefined, { unfinished: true });
      const done = (await store.listRuns(5 + live.length))
        .filter((r) => TERMINAL_RUN_STATES.includes(r.state))
        .slice(0, 5);
      return [...live, ...done];
    };
    let cache: { at: number; value: Promise<Awaited<ReturnType<typeof load>>> } | undefined;
    const load = async () => {
      const runs = await runsToShow();
      return Promise.all(
        runs.map(async (run) => {
          const [hosts, rev] = await Promise.all([
            store.getHosts(run.id),
            store.getPlanRevision(run.planName, run.planRevision),
          ]);
          return { run, hosts, plan: rev ? planOf(rev) : undefined };
        }),
      );
    };
    // One store read per scrape, shared by the gauges below.
    const snapshot = () => {
      const t = this.now();
      if (!cache || t - cache.at > 500) cache = { at: t, value: load() };
      return cache.value;
    };
    new client.Gauge({
      name: "overhaul_run_hosts",
      help: "Hosts of each unfinished (or recently finished) run by state and stage (the step a host is on).",
      labelNames: ["run_id", "plan", "state", "stage"],
      registers,
      async collect() {
        this.reset();
        for (const { run, hosts, plan } of await snapshot()) {
          const counts = new Map<string, { state: string; stage: string; n: number }>();
          for (const h of hosts) {
            const stage = stageOf(h, plan);
            const k = `${h.state}\u0000${stage}`;
            const c = counts.get(k) ?? { state: h.state, stage, n: 0 };
            c.n++;
            counts.set(k, c);
          }
          for (const c of counts.values())
            this.set({ run_id: run.id, plan: run.planName, state: c.state, stage: c.stage }, c.n);
        }
      },
    });
    new client.Gauge({
      name: "overhaul_run_in_doubt_hosts",
      help: "Hosts of each run parked in doubt (waiting for an operator).",
      labelNames: ["run_id"],
      registers,
      async collect() {
        this.reset();
        for (const { run, hosts } of await snapshot())
          this.set({ run_id: run.id }, hosts.filter((h) => h.state === "in_doubt").length);
      },
    });
    new client.Gauge({
      name: "overhaul_run_current_wave",
      help: "Index (0-based) of the wave each run is allowed to start hosts in.",
      labelNames: ["run_id"],
      registers,
      async collect() {
        this.reset();
        for (const { run } of await snapshot()) this.set({ run_id: run.id }, run.currentWave);
      },
    });
    new client.Gauge({
      name: "overhaul_run_state",
      help: "1 for the state each run is in (one series per run and possible state).",
      labelNames: ["run_id", "plan", "state"],
      registers,
      async collect() {
        this.reset();
        for (const { run } of await snapshot())
          for (const s of RUN_STATES)
            this.set({ run_id: run.id, plan: run.planName, state: s }, run.state === s ? 1 : 0);
      },
    });
  }
}
