/**
 * One sample of the "sim-2000" benchmark, run in a child process of its own (see sim-2000.ts):
 * build the generated fleet, open the store, drive the whole simulated run through the real engine
 * (`simulateRun`: createRun + Coordinator against SimWorld on a VirtualClock, then the invariant
 * check), and report the wall time, the virtual makespan, the counts and the peak RSS to the parent.
 *
 * Why a child per sample: peak RSS is a process-wide high-water mark, and a fresh process also
 * starts each sample from the same cold JIT and an empty heap, the way `overhaul simulate` runs.
 *
 * Invariants:
 * - The timed window is fleet generation + store open + `simulateRun` (which includes the invariant
 *   check) + store close: everything `overhaul simulate` does but printing. Node's start-up and
 *   module loading are measured separately (`startupMs`), not in the window.
 * - The SQLite store is opened exactly as the CLI opens it (`openSqliteStore`: WAL,
 *   synchronous=FULL, group commit); its file is deleted before and after.
 * - `digest` is a SHA-256 over every stored event (seq order: host, at, type, actor, data) and the
 *   final host states, `ledgerDigest` one over every ledger entry (every simulated effect), so
 *   rounds and stores can be compared: same seed, same digests. Both are computed after the timed
 *   window.
 * - Talks to nothing over the network; writes only the database file it is given.
 */
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { MemoryStore } from "../src/adapters/store-memory/memory-store.js";
import { openSqliteStore } from "../src/adapters/store-sql/index.js";
import { simClock } from "../src/cli/commands/simulate.js";
import type { LoadedPlan } from "../src/cli/compose.js";
import { simulateRun } from "../src/cli/simulate/runner.js";
import { compilePlan } from "../src/core/plan/compile.js";
import { parsePlanText } from "../src/core/plan/load.js";
import { generateFleet, parseFleetSpec } from "../src/core/sim/fleet-gen.js";
import type { LedgerEntry } from "../src/core/sim/ledger.js";
import { parseScenarioText } from "../src/core/sim/scenario.js";
import type { Store } from "../src/ports/store.js";

export interface ChildInput {
  store: "memory" | "sqlite";
  /** SQLite file (store "sqlite" only). */
  file?: string;
  fleet: string;
  plan: string;
  scenario: string;
}

export interface ChildOutput {
  store: "memory" | "sqlite";
  /** Timed window (see the header), and its parts. */
  wallMs: number;
  setupMs: number;
  runMs: number;
  closeMs: number;
  /** From process start to the first line of this sample (Node start-up, module loading). */
  startupMs: number;
  virtualMs: number;
  events: number;
  attempts: number;
  ledger: number;
  hosts: number;
  workloads: number;
  coordinators: number;
  byState: Record<string, number>;
  runState: string;
  unfinished: string | null;
  invariantsOk: boolean;
  violations: string[];
  checked: Record<string, number>;
  peakRssBytes: number;
  heapUsedBytes: number;
  digest: string;
  ledgerDigest: string;
}

function digestOf(
  events: readonly { host: string | null; at: number; type: string; actor: string; data: unknown }[],
  hosts: readonly { host: string; state: string; reason: string | null }[],
): string {
  const h = createHash("sha256");
  for (const e of events) h.update(`${e.host}|${e.at}|${e.type}|${e.actor}|${JSON.stringify(e.data)}\n`);
  for (const x of hosts) h.update(`${x.host}|${x.state}|${x.reason}\n`);
  return h.digest("hex");
}

function ledgerDigestOf(ledger: readonly LedgerEntry[]): string {
  const h = createHash("sha256");
  for (const e of ledger)
    h.update(
      `${e.at}|${e.host}|${e.command}|${e.outcome}|${e.applied}|${e.workload}|${e.runId}|${e.step}|${e.phase}|${e.attempt}\n`,
    );
  return h.digest("hex");
}

export async function runSample(input: ChildInput): Promise<ChildOutput> {
  const startupMs = performance.now();
  const t0 = performance.now();
  const body = input.plan;
  const plan = compilePlan(parsePlanText(body, "sim-2000 plan"));
  const loaded: LoadedPlan = {
    plan,
    body,
    hash: createHash("sha256").update(body).digest("hex"),
    file: "sim-2000 plan",
  };
  const scenario = parseScenarioText(input.scenario, "sim-2000 scenario");
  const fleet = generateFleet(parseFleetSpec(input.fleet));
  const scope = fleet.hosts.filter((h) => h.role === "worker");
  let store: Store;
  if (input.store === "memory") store = new MemoryStore();
  else {
    const file = input.file as string;
    for (const s of ["", "-wal", "-shm"]) rmSync(`${file}${s}`, { force: true });
    store = await openSqliteStore(file);
  }
  const t1 = performance.now();
  const res = await simulateRun({
    loaded,
    hosts: fleet.hosts,
    scope,
    workloads: fleet.workloads,
    scenario,
    store,
    clock: simClock(),
    runId: "sim-2000",
    options: { bench: "sim-2000", fleet: input.fleet },
  });
  const t2 = performance.now();
  await store.close();
  const t3 = performance.now();
  if (input.file !== undefined)
    for (const s of ["", "-wal", "-shm"]) rmSync(`${input.file}${s}`, { force: true });
  const byState: Record<string, number> = {};
  for (const h of res.hosts) byState[h.state] = (byState[h.state] ?? 0) + 1;
  return {
    store: input.store,
    wallMs: t3 - t0,
    setupMs: t1 - t0,
    runMs: t2 - t1,
    closeMs: t3 - t2,
    startupMs,
    virtualMs: res.virtualMs,
    events: res.events.length,
    attempts: res.attempts.length,
    ledger: res.ledger.length,
    hosts: res.hosts.length,
    workloads: fleet.workloads.length,
    coordinators: res.coordinators,
    byState,
    runState: res.run.state,
    unfinished: res.unfinished ?? null,
    invariantsOk: res.invariants.ok,
    violations: res.invariants.violations.slice(0, 20).map((v) => `${v.invariant}: ${v.message}`),
    checked: res.invariants.checked,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    heapUsedBytes: process.memoryUsage().heapUsed,
    digest: digestOf(res.events, res.hosts),
    ledgerDigest: ledgerDigestOf(res.ledger),
  };
}

// Entry point when forked by sim-2000.ts: one sample, its result over IPC, then exit.
if (process.send !== undefined && process.argv[2] === "--sim-2000-sample") {
  const input = JSON.parse(process.argv[3] as string) as ChildInput;
  runSample(input).then(
    (out) => process.send?.({ ok: true, out }, () => process.exit(0)),
    (err: unknown) =>
      process.send?.(
        { ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) },
        () => process.exit(1),
      ),
  );
}
