/**
 * Drives runs inside `overhaul serve`: the coordinator of the service.
 *
 * Invariants:
 * - Every run that is not finished and not simulated is driven by one Coordinator of this
 *   process at a time; a run held by another live coordinator is looked at again later (leases
 *   decide, exactly as for `overhaul resume`).
 * - `stop()` is graceful: nothing new starts, steps in flight finish, leases are released, and
 *   it resolves when every coordinator has detached. A second `stop({ now: true })` stops at
 *   once, leaving in-flight attempts in doubt for the next coordinator to resolve.
 * - A run that cannot be driven (a plan that needs workloads, a transport that cannot be built)
 *   is reported through `onError` and not retried in a tight loop.
 */
import { setMaxListeners } from "node:events";
import { isTerminalRun } from "../core/flow/states.js";
import { Coordinator, type DriveResult } from "../engine/coordinator.js";
import { type CoordinatorOptions, nullNotifier } from "../engine/deps.js";
import { loadRunPlan } from "../engine/plan-of-run.js";
import type { Clock } from "../ports/clock.js";
import type { EventSink } from "../ports/events.js";
import type { Random } from "../ports/random.js";
import type { RunRecord, Store } from "../ports/store.js";
import type { Transport } from "../ports/transport.js";
import type { Metrics } from "./metrics.js";

export interface SupervisorDeps {
  store: Store;
  clock: Clock;
  random: (seed: number) => Random;
  /** A transport for the run's hosts (and a way to close it). */
  transportFor: (run: RunRecord) => Promise<Transport>;
  sink: EventSink;
  metrics?: Metrics;
  owner: string;
  leaseTtlMs: number;
  tickMs: number;
  /** How often to look for runs to drive (ms). */
  scanMs: number;
  onError?: (runId: string, err: unknown) => void;
  onDriven?: (runId: string, result: DriveResult) => void;
}

export class Supervisor {
  private readonly driving = new Map<string, Promise<void>>();
  /** Runs not to look at again before this time (held elsewhere, or failed to start). */
  private readonly backoff = new Map<string, number>();
  private readonly stopNow = new AbortController();
  private readonly drain = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private scanning = false;

  constructor(private readonly deps: SupervisorDeps) {
    // One listener per step in flight, in every run driven: as many as the plans' concurrency.
    setMaxListeners(0, this.stopNow.signal, this.drain.signal);
  }

  get active(): string[] {
    return [...this.driving.keys()];
  }

  start(): void {
    void this.scan();
    this.timer = setInterval(() => void this.scan(), this.deps.scanMs);
  }

  /** Look for runs to drive now (also called after the API creates or resumes a run). */
  async scan(): Promise<void> {
    if (this.scanning || this.drain.signal.aborted) return;
    this.scanning = true;
    try {
      // Every unfinished run, however old: one paused long ago and resumed now must be driven.
      const runs = await this.deps.store.listRuns(undefined, { unfinished: true });
      const now = Date.now();
      for (const run of runs) {
        if (isTerminalRun(run.state) || run.options.simulated === true) continue;
        if (this.driving.has(run.id) || (this.backoff.get(run.id) ?? 0) > now) continue;
        this.driving.set(
          run.id,
          this.drive(run).finally(() => this.driving.delete(run.id)),
        );
      }
    } catch (err) {
      this.deps.onError?.("*", err);
    } finally {
      this.scanning = false;
    }
  }

  private async drive(run: RunRecord): Promise<void> {
    const d = this.deps;
    let transport: Transport | undefined;
    try {
      transport = await d.transportFor(run);
      const store = d.metrics ? d.metrics.instrument(d.store) : d.store;
      if (d.metrics) d.metrics.trackRun(run.id, await loadRunPlan(d.store, run));
      const opts: CoordinatorOptions = { owner: d.owner, leaseTtlMs: d.leaseTtlMs, tickMs: d.tickMs };
      const result = await new Coordinator(
        {
          store,
          transport,
          clock: d.clock,
          random: d.random(run.seed),
          sink: d.sink,
          notifier: nullNotifier,
        },
        opts,
        run.id,
        this.stopNow.signal,
        this.drain.signal,
      ).drive();
      if (result.outcome === "held-elsewhere" || result.outcome === "deposed")
        this.backoff.set(run.id, Date.now() + d.leaseTtlMs);
      d.onDriven?.(run.id, result);
    } catch (err) {
      this.backoff.set(run.id, Date.now() + 60_000);
      d.onError?.(run.id, err);
    } finally {
      await transport?.close().catch(() => {});
    }
  }

  async stop(opts: { now?: boolean } = {}): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.drain.abort(new Error("service stopping"));
    if (opts.now) this.stopNow.abort(new Error("service stopping now"));
    await Promise.allSettled([...this.driving.values()]);
  }
}
