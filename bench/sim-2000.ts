/**
 * Benchmark "sim-2000": a whole dry run of a 2,000-host fleet through the full engine, in wall-clock
 * seconds. 40 regions x 50 hosts (20 % hold-overs: 1,600 workers, 400 hold-overs), 20 workloads
 * per worker (32,000 workloads), a demo-like plan (drain, upgrade, reboot, wait-healthy,
 * reinstate) with per-region caps, and a scenario with failures on: hosts that never return,
 * come back unhealthy or with a skewed clock, a rack partition, a tripped power circuit, a failing
 * upgrade command, and a coordinator killed mid-run.
 *
 * Goals: <= 10 s with the durable SQLite store (as shipped: WAL, synchronous=FULL, group commit),
 * <= 2 s with the in-memory store. The invariant check must pass (it is part of the timed run).
 *
 * Caps: each worker's workloads fill 50-65 % of it, so one empty hold-over absorbs exactly one
 * drained worker (two would need 100-130 %). A region has 10 hold-overs; `perRegion: 8` drains at
 * most 8 workers of a region at once, leaving 2 hold-overs for the hosts that fail and keep their
 * workloads on a hold-over (never-returns, unhealthy) and for moves still in flight. `rack: 4`
 * spreads a region's 8 across its 2 racks. `global: 320` is the run-wide ceiling; with 40 regions
 * x 8 it never binds (the regions do), as in a real region-by-region maintenance.
 *
 * Invariants:
 * - Each sample runs in a fresh child process (sim-2000-child.ts): peak RSS is that sample's own,
 *   and every sample starts cold, like `overhaul simulate`. Samples alternate memory / SQLite so
 *   machine noise hits both; medians are reported.
 * - Deterministic workload: every sample of a store must give the same event digest, and the
 *   memory and SQLite digests must match (same seed, same events); a mismatch fails the benchmark.
 *   So does a violated invariant or a run that did not end.
 * - SQLite files live in the scratch directory run.ts makes (the repository's filesystem), removed
 *   after each sample.
 */
import { fork } from "node:child_process";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { conditions, type MachineInfo, type RepoInfo, withScratchDir } from "./machine.js";
import { median, RESULTS_SCHEMA, round, saveResult } from "./results.js";
import type { ChildInput, ChildOutput } from "./sim-2000-child.js";
import { STORE_PRAGMAS, sqliteVersion } from "./sqlite-files.js";

export const NAME = "sim-2000";
export const GOAL_SQLITE_S = 10;
export const GOAL_MEMORY_S = 2;

export const FLEET = "regions=40,hosts=50,holdovers=0.2,workloads=20,seed=7";

export const PLAN = `# sim-2000: the demo's rolling reboot, with caps for 40 regions at once.
name: sim-2000
description: Drain, upgrade, reboot and check each worker, then put its workloads back.
hosts: workers
waves:
  - { name: canary, count: 1 }
  - { name: rest, percent: 100 }
concurrency:
  global: 320
  perRegion: 8
  perFailureDomain: { rack: 4 }
failureBudget: { maxFailedPercent: 10 }
steps:
  - name: drain
    kind: drain
  - name: upgrade
    kind: command
    run: version set 2.0
    idempotent: true
    retry: { attempts: 2, backoff: { initial: 30s } }
  - name: reboot
    kind: reboot
    timeout: 10m
    retry: { attempts: 3, backoff: { initial: 30s } }
  - name: healthy
    kind: wait-healthy
    timeout: 5m
  - name: reinstate
    kind: reinstate
`;

export const SCENARIO = `# sim-2000: failures on, across the fleet.
seed: 7
boot: { min: 2m, max: 8m }
failures:
  - { kind: never-returns, host: r02-h003 }
  - { kind: never-returns, host: r17-h021 }
  - { kind: never-returns, host: r33-h040 }
  - { kind: unhealthy, host: r05-h010 }
  - { kind: unhealthy, host: r28-h007 }
  - { kind: clock-skew, host: r11-h030, seconds: 120 }
  - { kind: partition, rack: r09-k01, from: 40m, until: 55m }
  - { kind: power-trip, power: r21-p01, maxPosting: 3, downFor: 10m }
  - { kind: command-fails, host: r03-h002, command: "version set", times: 1 }
  - { kind: command-fails, host: r30-h012, command: "version set", times: 2 }
  - { kind: coordinator-kill, at: 90m }
`;

export interface Sim2000Config {
  /** Samples on the in-memory store. */
  memoryRounds: number;
  /** Samples on the SQLite store. */
  sqliteRounds: number;
  fleet: string;
  /** Extra node flags for the child (e.g. --cpu-prof). */
  execArgv: string[];
}

export const DEFAULT_SIM_2000: Sim2000Config = {
  memoryRounds: 3,
  sqliteRounds: 3,
  fleet: FLEET,
  execArgv: [],
};

export interface Sim2000Sample extends ChildOutput {
  round: number;
  /** Stored run events (the engine's event log) per wall second. */
  eventsPerSecond: number;
  /** Ledger entries (every simulated effect: commands, boots, moves, volumes) per wall second. */
  ledgerPerSecond: number;
}

export interface StoreSummary {
  rounds: number;
  medianWallS: number;
  minWallS: number;
  maxWallS: number;
  medianRunS: number;
  medianSetupS: number;
  medianEventsPerSecond: number;
  medianLedgerPerSecond: number;
  medianPeakRssMiB: number;
  goalS: number;
  /** False whenever the fleet is not the benchmark's own (`--fleet`): the goal is for 2,000 hosts. */
  met: boolean;
}

/** What a sample reports of the run itself (not of its timing): equal in every sample. */
type OutcomeField =
  | "virtualMs"
  | "events"
  | "attempts"
  | "ledger"
  | "hosts"
  | "workloads"
  | "coordinators"
  | "byState"
  | "runState"
  | "invariantsOk"
  | "checked"
  | "digest"
  | "ledgerDigest";

export interface Sim2000Result {
  /** The fleet spec simulated (the goals are judged only for FLEET). */
  fleet: string;
  samples: Sim2000Sample[];
  /** The same in every sample (checked). */
  outcome: Pick<ChildOutput, OutcomeField> & { virtualHours: number };
  memory: StoreSummary;
  sqlite: StoreSummary;
  goal: { memoryS: number; sqliteS: number; met: boolean };
}

const CHILD = fileURLToPath(new URL("./sim-2000-child.js", import.meta.url));

function sample(input: ChildInput, execArgv: string[]): Promise<ChildOutput> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, ["--sim-2000-sample", JSON.stringify(input)], {
      execArgv,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let done = false;
    child.on("message", (m: { ok: true; out: ChildOutput } | { ok: false; error: string }) => {
      done = true;
      if (m.ok) resolve(m.out);
      else reject(new Error(`sim-2000 sample (${input.store}) failed in the child:\n${m.error}`));
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (!done)
        reject(new Error(`sim-2000 sample (${input.store}) exited ${code ?? signal} without a result`));
    });
  });
}

function summarizeStore(samples: readonly Sim2000Sample[], goalS: number, fleet: string): StoreSummary {
  const wall = samples.map((s) => s.wallMs / 1000);
  const medianWallS = round(median(wall), 2);
  return {
    rounds: samples.length,
    medianWallS,
    minWallS: round(Math.min(...wall), 2),
    maxWallS: round(Math.max(...wall), 2),
    medianRunS: round(median(samples.map((s) => s.runMs / 1000)), 2),
    medianSetupS: round(median(samples.map((s) => s.setupMs / 1000)), 3),
    medianEventsPerSecond: round(median(samples.map((s) => s.eventsPerSecond)), 0),
    medianLedgerPerSecond: round(median(samples.map((s) => s.ledgerPerSecond)), 0),
    medianPeakRssMiB: round(median(samples.map((s) => s.peakRssBytes / 2 ** 20)), 0),
    goalS,
    met: fleet === FLEET && medianWallS <= goalS,
  };
}

function describe(s: Sim2000Sample): string {
  return (
    `  round ${s.round} ${s.store.padEnd(6)}: ${(s.wallMs / 1000).toFixed(2)} s ` +
    `(setup ${(s.setupMs / 1000).toFixed(2)}, run+invariants ${(s.runMs / 1000).toFixed(2)}, close ${(s.closeMs / 1000).toFixed(2)}), ` +
    `${s.eventsPerSecond.toFixed(0)} events/s, ${s.ledgerPerSecond.toFixed(0)} effects/s, peak RSS ${(s.peakRssBytes / 2 ** 20).toFixed(0)} MiB, ` +
    `invariants ${s.invariantsOk ? "ok" : "VIOLATED"}`
  );
}

export async function runSim2000(
  scratchDir: string,
  cfg: Sim2000Config,
  log: (line: string) => void,
): Promise<Sim2000Result> {
  const base = { fleet: cfg.fleet, plan: PLAN, scenario: SCENARIO };
  const samples: Sim2000Sample[] = [];
  const rounds = Math.max(cfg.memoryRounds, cfg.sqliteRounds);
  for (let r = 1; r <= rounds; r++) {
    const kinds: ("memory" | "sqlite")[] = [];
    if (r <= cfg.memoryRounds) kinds.push("memory");
    if (r <= cfg.sqliteRounds) kinds.push("sqlite");
    for (const store of kinds) {
      const input: ChildInput =
        store === "memory" ? { ...base, store } : { ...base, store, file: join(scratchDir, `sim-${r}.db`) };
      const out = await sample(input, cfg.execArgv);
      const s: Sim2000Sample = {
        ...out,
        round: r,
        eventsPerSecond: round(out.events / (out.wallMs / 1000), 0),
        ledgerPerSecond: round(out.ledger / (out.wallMs / 1000), 0),
      };
      samples.push(s);
      log(describe(s));
    }
  }
  const first = samples[0] as Sim2000Sample;
  for (const s of samples) {
    if (!s.invariantsOk)
      throw new Error(
        `sim-2000 round ${s.round} (${s.store}): invariants violated:\n  ${s.violations.join("\n  ")}`,
      );
    if (s.unfinished !== null) throw new Error(`sim-2000 round ${s.round} (${s.store}): ${s.unfinished}`);
    if (s.digest !== first.digest || s.ledgerDigest !== first.ledgerDigest || s.virtualMs !== first.virtualMs)
      throw new Error(
        `sim-2000 is not deterministic: round ${s.round} (${s.store}) gave digests ${s.digest.slice(0, 12)} / ` +
          `${s.ledgerDigest.slice(0, 12)}, ${s.virtualMs} virtual ms; round ${first.round} (${first.store}) gave ` +
          `${first.digest.slice(0, 12)} / ${first.ledgerDigest.slice(0, 12)}, ${first.virtualMs}`,
      );
  }
  const memory = summarizeStore(
    samples.filter((s) => s.store === "memory"),
    GOAL_MEMORY_S,
    cfg.fleet,
  );
  const sqlite = summarizeStore(
    samples.filter((s) => s.store === "sqlite"),
    GOAL_SQLITE_S,
    cfg.fleet,
  );
  return {
    fleet: cfg.fleet,
    samples,
    outcome: {
      virtualMs: first.virtualMs,
      virtualHours: round(first.virtualMs / 3_600_000, 2),
      events: first.events,
      attempts: first.attempts,
      ledger: first.ledger,
      hosts: first.hosts,
      workloads: first.workloads,
      coordinators: first.coordinators,
      byState: first.byState,
      runState: first.runState,
      invariantsOk: first.invariantsOk,
      checked: first.checked,
      digest: first.digest,
      ledgerDigest: first.ledgerDigest,
    },
    memory,
    sqlite,
    goal: {
      memoryS: GOAL_MEMORY_S,
      sqliteS: GOAL_SQLITE_S,
      met: (cfg.memoryRounds === 0 || memory.met) && (cfg.sqliteRounds === 0 || sqlite.met),
    },
  };
}

export function summarizeSim2000(r: Sim2000Result): string[] {
  const o = r.outcome;
  const states = Object.entries(o.byState)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  const lines = [
    `  run: ${o.hosts} hosts (${states}), ${o.workloads} workloads, run ${o.runState}, ` +
      `${o.virtualHours} h virtual, ${o.events} events, ${o.attempts} attempts, ${o.ledger} ledger entries, ` +
      `${o.coordinators} coordinators; invariants ${o.invariantsOk ? "ok" : "VIOLATED"}; digests ${o.digest.slice(0, 12)} / ${o.ledgerDigest.slice(0, 12)}`,
  ];
  for (const [name, s] of [
    ["memory", r.memory],
    ["sqlite", r.sqlite],
  ] as const) {
    if (s.rounds === 0) continue;
    lines.push(
      `  ${name.padEnd(6)} median ${s.medianWallS} s (${s.minWallS}-${s.maxWallS}; run ${s.medianRunS} s), ` +
        `${s.medianEventsPerSecond} events/s, ${s.medianLedgerPerSecond} effects/s, peak RSS ${s.medianPeakRssMiB} MiB: ` +
        (r.fleet !== FLEET
          ? `goal not judged (it is for the default fleet ${FLEET})`
          : `${s.met ? "GOAL MET" : "GOAL NOT MET"} (<= ${s.goalS} s)`),
    );
  }
  return lines;
}

export interface BenchContext {
  root: string;
  save: boolean;
  machine: MachineInfo;
  repo: RepoInfo;
}

/** `npm run bench -- sim-2000`: run, print the summary, save the results document. */
export async function sim2000Bench(ctx: BenchContext, cfg: Sim2000Config): Promise<void> {
  const { root, save, machine, repo } = ctx;
  const date = new Date();
  const before = conditions();
  await withScratchDir(root, async (scratch) => {
    console.log(`${NAME}: a whole simulated run of a 2,000-host fleet through the engine, wall seconds`);
    console.log(
      `  machine: ${machine.cpuModel}, ${machine.cores} cores, ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, ` +
        `${machine.platform} ${machine.osRelease}, node ${machine.node}`,
    );
    console.log(`  fleet ${cfg.fleet}; ${cfg.memoryRounds} memory and ${cfg.sqliteRounds} SQLite rounds`);
    console.log(
      `  SQLite dir: ${scratch.dir} (${scratch.filesystem.type ?? "unknown fs"}): ${scratch.choice}`,
    );
    const result = await runSim2000(scratch.dir, cfg, (line) => console.log(line));
    const after = conditions();
    for (const line of summarizeSim2000(result)) console.log(line);
    if (save) {
      const doc = {
        schema: RESULTS_SCHEMA,
        benchmark: NAME,
        date: date.toISOString(),
        machine,
        repo,
        storage: {
          filesystem: scratch.filesystem,
          choice: scratch.choice,
          sqlite: sqliteVersion(),
          pragmas: STORE_PRAGMAS,
          groupCommit: "one transaction (one fsync) per event-loop turn of commitHost calls",
        },
        config: {
          fleet: cfg.fleet,
          memoryRounds: cfg.memoryRounds,
          sqliteRounds: cfg.sqliteRounds,
          plan: PLAN,
          scenario: SCENARIO,
          scope: "every worker host of the fleet",
          clock: "simClock(): VirtualClock at SIM_START, quietTurns 0",
          process:
            "one fresh child process per sample; the timed window is fleet generation + store open + simulateRun (with the invariant check) + store close",
        },
        conditions: { before, after },
        ...result,
      };
      const path = await saveResult(join(root, "bench", "results"), NAME, date, doc);
      console.log(`  results: ${relative(process.cwd(), path)} (and bench/results/latest.json)`);
    }
  });
}
