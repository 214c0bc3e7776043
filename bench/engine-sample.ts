/**
 * The engine sample: a real run through the real engine on the SQLite store, with no I/O but the
 * store's, to count durable step transitions per second.
 *
 * What runs: `createRun` + `Coordinator.drive()` (src/engine) with `openSqliteStore` on a new file,
 * the system clock, and `NullTransport` (every command exits 0 at once, in process). The plan is
 * H hosts x S idempotent `command` steps at global concurrency C, one wave, no stagger.
 *
 * What counts as a durable transition: one `commitHost` (the store's fenced, durable write of a
 * host flow): the host's start, then per step the attempt's intent and, separately, its result
 * (the last result also finishes the host): H x (1 + 2S) per run, counted by wrapping the store.
 * The rate is transitions / wall time of `drive()`; lease, run-state and wave writes happen inside
 * that time but are not transitions.
 *
 * Invariants:
 * - `prepareEngine` runs untimed warm-up runs on the same file until its WAL has its steady size
 *   (sqlite-files.ts), which also warms up the JIT; `timed` then drives one fresh run of H hosts.
 * - Every run is checked (run succeeded, every host succeeded, exactly H x (1 + 2S) transitions
 *   and H x S commands); a failed check throws: a broken run is an error, never a number.
 */
import { createHash } from "node:crypto";
import { setMaxListeners } from "node:events";
import { randomSource, systemClock } from "../src/adapters/clock/system-clock.js";
import { openSqliteStore } from "../src/adapters/store-sql/index.js";
import type { Host } from "../src/core/model/fleet.js";
import { compilePlan } from "../src/core/plan/compile.js";
import { parsePlanText } from "../src/core/plan/load.js";
import { Coordinator } from "../src/engine/coordinator.js";
import { nullNotifier, nullSink } from "../src/engine/deps.js";
import { createRun } from "../src/engine/runs.js";
import type { Store } from "../src/ports/store.js";
import { countingStore } from "./counting-store.js";
import { NullTransport } from "./null-transport.js";
import { round } from "./results.js";
import { removeDb, type WalShape, walFrames, walIsSteady } from "./sqlite-files.js";

export interface EngineShape {
  hosts: number;
  steps: number;
  concurrency: number;
}

export interface EngineSample {
  transitions: number;
  ms: number;
  perSecond: number;
  /** Every store call during drive(), by method. */
  storeCalls: Record<string, number>;
  /**
   * Time inside `commitHost` until it returned its promise. On the store's prepared hot path the
   * whole SQLite transaction (fsync included) runs synchronously in there, so this is the time in
   * SQLite and `ms - commitHostSyncMs` is the engine's own; on the Kysely path it means little.
   */
  commitHostSyncMs: number;
  /** Events the timed run wrote. */
  events: number;
  /** Untimed runs made on the same file first (WAL to its steady size, JIT warm-up). */
  warmupRuns: number;
  walFramesAtStart: number;
}

export interface PreparedEngine {
  /** Drive one timed run of the full shape. */
  timed(): Promise<EngineSample>;
  close(): Promise<void>;
}

export const transitionsPerRun = (s: EngineShape) => s.hosts * (1 + 2 * s.steps);

export function benchPlanYaml(s: EngineShape): string {
  const steps = Array.from(
    { length: s.steps },
    (_, i) => `  - { name: step-${i + 1}, kind: command, run: "step ${i + 1}", idempotent: true }`,
  );
  return `name: bench-transitions\nhosts: all\nconcurrency: { global: ${s.concurrency} }\nsteps:\n${steps.join("\n")}\n`;
}

export function benchHosts(n: number): Host[] {
  const width = String(n).length;
  return Array.from({ length: n }, (_, i) => ({
    name: `bench-${String(i + 1).padStart(width, "0")}`,
    address: "127.0.0.1",
    connection: "local" as const,
    region: `region-${(i % 4) + 1}`,
    failureDomains: { rack: `rack-${(i % 20) + 1}`, power: `pdu-${(i % 10) + 1}` },
    role: "worker" as const,
    groups: ["bench"],
    vars: {},
  }));
}

/** A signal that never fires, without Node's 10-listener warning (see the report on the engine). */
function quietSignal(): AbortSignal {
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  return signal;
}

interface DriveStats {
  transitions: number;
  /** Wall time of drive(). */
  ms: number;
  calls: Record<string, number>;
  commitHostSyncMs: number;
  events: number;
}

/** Create a run on `store`, drive it to its end, check it did everything. */
async function driveOneRun(store: Store, shape: EngineShape, seed: number): Promise<DriveStats> {
  const counting = countingStore(store);
  const clock = systemClock();
  const random = randomSource(seed);
  const transport = new NullTransport();
  const body = benchPlanYaml(shape);
  const run = await createRun(
    { store: counting.store, clock, random },
    {
      plan: compilePlan(parsePlanText(body, "bench-plan.yaml")),
      planBody: body,
      planHash: createHash("sha256").update(body).digest("hex"),
      hosts: benchHosts(shape.hosts),
      options: { bench: "sqlite-transitions" },
      actor: "bench",
      seed,
    },
  );
  counting.reset();
  const coordinator = new Coordinator(
    { store: counting.store, transport, clock, random, sink: nullSink, notifier: nullNotifier },
    { owner: "bench", leaseTtlMs: 30_000, tickMs: 500 },
    run.id,
    quietSignal(),
    quietSignal(),
  );
  const t0 = performance.now();
  const res = await coordinator.drive();
  const ms = performance.now() - t0;

  const transitions = counting.counts.calls.commitHost ?? 0;
  const problems: string[] = [];
  if (res.outcome !== "finished" || res.run.state !== "succeeded")
    problems.push(`run ended ${res.outcome}/${res.run.state} (${res.run.reason ?? "no reason"})`);
  if (transitions !== transitionsPerRun(shape))
    problems.push(`${transitions} transitions, expected ${transitionsPerRun(shape)}`);
  if (transport.execs !== shape.hosts * shape.steps)
    problems.push(`${transport.execs} commands ran, expected ${shape.hosts * shape.steps}`);
  const notDone = (await store.getHosts(run.id)).filter((h) => h.state !== "succeeded").length;
  if (notDone > 0) problems.push(`${notDone} host(s) did not succeed`);
  if (problems.length > 0) throw new Error(`engine run ${run.id} is invalid: ${problems.join("; ")}`);
  return {
    transitions,
    ms,
    calls: { ...counting.counts.calls },
    commitHostSyncMs: counting.counts.commitHostSyncMs,
    events: (await store.listEvents(run.id)).length,
  };
}

export async function prepareEngine(
  file: string,
  shape: EngineShape,
  preparedHotPath: boolean,
  wal: WalShape,
): Promise<PreparedEngine> {
  const store = await openSqliteStore(file, { preparedHotPath });
  let seed = 1;
  let warmupRuns = 0;
  try {
    const warm = { ...shape, hosts: Math.max(1, Math.min(shape.hosts, 20)) };
    while (warmupRuns < 1 || (!walIsSteady(file, wal) && warmupRuns < 50)) {
      warmupRuns++;
      await driveOneRun(store, warm, seed++);
    }
  } catch (err) {
    await store.close();
    await removeDb(file);
    throw err;
  }
  return {
    async timed() {
      const walFramesAtStart = walFrames(file, wal);
      const d = await driveOneRun(store, shape, seed++);
      return {
        transitions: d.transitions,
        ms: round(d.ms, 2),
        perSecond: round((d.transitions / d.ms) * 1000),
        storeCalls: d.calls,
        commitHostSyncMs: round(d.commitHostSyncMs, 2),
        events: d.events,
        warmupRuns,
        walFramesAtStart,
      };
    },
    async close() {
      await store.close();
      await removeDb(file);
    },
  };
}
