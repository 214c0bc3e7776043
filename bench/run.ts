/**
 * `npm run bench [-- NAME... options]`: runs the benchmarks (all, or the ones named), prints a
 * short summary of each, and writes each one's results to bench/results/ (see results.ts for the
 * file scheme).
 *
 * What it measures today:
 * - "sqlite-transitions" (sqlite-transitions.ts): the engine's durable step transitions per
 *   second on SQLite as a fraction of the raw durable commit rate of the same file.
 * - "event-loop" (event-loop.ts): the core discrete-event loop's events per second, and the
 *   VirtualClock's sleeps per second.
 * - "sim-2000" (sim-2000.ts): a whole simulated run of a 2,000-host fleet (40 regions x 50 hosts,
 *   20 workloads per worker, failures on) through the engine, in wall seconds, on the in-memory
 *   store and on the durable SQLite store.
 * - "ssh-vs-ansible" (ssh-vs-ansible.ts): the same rolling operation on 20 real sshd hosts with
 *   ansible-playbook and with `overhaul run`, wall-time ratio.
 * - "ssh-sessions" (ssh-sessions.ts): one SSH transport holding 256 sessions to in-process ssh2
 *   hosts; per-command overhead p50 / p99.
 * - "planner" (planner.ts): for fleets of 50, 500 and 2,000 hosts, the simulated makespan of the
 *   planner's schedule over its lower bound (with the estimate's share, the canary's, the bound
 *   over the simulated flow lengths and four more boot seeds beside it), and Ansible-serial /
 *   kured / sdcadm-like policies as ratios of makespan and workload downtime to Overhaul's.
 * - "api" (api.ts): `overhaul serve`'s GET /api/runs/:id request rate and its SSE fan-out to 100
 *   clients while its own coordinator drives a run, on loopback.
 *
 * Invariants:
 * - Exit code 0 when the benchmarks ran, whether or not their goals were met (the summary says
 *   which); 1 on an error (a sample that failed its checks, an I/O error); 2 on bad flags or an
 *   unknown benchmark name.
 * - Database files live in a fresh scratch directory on the repository's filesystem, removed at
 *   the end, also on error or Ctrl-C.
 * - Talks to nothing over the network (the SSH benchmarks only to loopback).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { API, type ApiConfig, DEFAULT_API, runApi } from "./api.js";
import { transitionsPerRun } from "./engine-sample.js";
import {
  DEFAULT_EVENT_LOOP,
  NAME as EVENT_LOOP,
  type EventLoopConfig,
  runEventLoop,
  summarize,
} from "./event-loop.js";
import {
  conditions,
  type MachineInfo,
  machineInfo,
  type RepoInfo,
  repoInfo,
  withScratchDir,
} from "./machine.js";
import { NAME as PLANNER, GOAL_RATIO as PLANNER_GOAL, plannerBench } from "./planner.js";
import { RAW_PAYLOAD } from "./raw-commits.js";
import { RESULTS_SCHEMA, saveResult } from "./results.js";
import { DEFAULT_SIM_2000, NAME as SIM_2000, type Sim2000Config, sim2000Bench } from "./sim-2000.js";
import { STORE_PRAGMAS, sqliteVersion } from "./sqlite-files.js";
import { GOAL_RATIO, NAME, pct, runTransitions, type TransitionsConfig } from "./sqlite-transitions.js";
import {
  DEFAULT_SSH_SESSIONS,
  DEFAULT_SSH_VS_ANSIBLE,
  SSH_SESSIONS,
  SSH_VS_ANSIBLE,
  type SshSessionsConfig,
  type SshVsAnsibleConfig,
  sshSessions,
  sshVsAnsible,
} from "./ssh-run.js";

const BENCHMARKS = [NAME, EVENT_LOOP, SIM_2000, SSH_VS_ANSIBLE, SSH_SESSIONS, PLANNER, API] as const;
type Benchmark = (typeof BENCHMARKS)[number];

const USAGE = `usage: npm run bench -- [NAME...] [options]
       node dist-bench/bench/run.js [NAME...] [options]   (after tsc -p tsconfig.bench.json)

  NAME              ${BENCHMARKS.join(" | ")}; default: all of them, in this order

  --rounds N        rounds per benchmark; medians reported (default 5)
  --no-save         print only; write nothing to bench/results/
  -h, --help        this text

sqlite-transitions:
  --hosts N         hosts in the engine's run (default 200)
  --steps N         command steps per host (default 5)
  --concurrency N   hosts in flight at once (default 20)
  --raw-commits N   commits per raw sample (default: the engine's transitions per sample)
  --skip-kysely     do not also measure the store's plain Kysely commit path

event-loop:
  --events N        events per core-loop sample (default ${DEFAULT_EVENT_LOOP.events})
  --pending N       timers pending throughout the core-loop sample (default ${DEFAULT_EVENT_LOOP.pending})
  --sleepers N      concurrent sleepers on the VirtualClock (default ${DEFAULT_EVENT_LOOP.sleepers})
  --sleeps N        sleeps per sleeper (default ${DEFAULT_EVENT_LOOP.sleepsEach})

sim-2000 (its own round counts; --rounds does not apply):
  --memory-rounds N samples on the in-memory store (default ${DEFAULT_SIM_2000.memoryRounds})
  --sqlite-rounds N samples on the durable SQLite store (default ${DEFAULT_SIM_2000.sqliteRounds})
  --fleet SPEC      another fleet, e.g. regions=4 for a quick look (default ${DEFAULT_SIM_2000.fleet})
  --cpu-prof DIR    write a V8 CPU profile of every sample into DIR (slower; do not compare times)

ssh-vs-ansible (needs sshd and ansible-playbook; skipped with the reason otherwise):
  --ssh-hosts N     sshd hosts (default ${DEFAULT_SSH_VS_ANSIBLE.hosts})
  --batch N         hosts per batch: Ansible serial/forks, Overhaul wave/concurrency (default ${DEFAULT_SSH_VS_ANSIBLE.batch})

ssh-sessions:
  --session-hosts N in-process ssh2 hosts (default ${DEFAULT_SSH_SESSIONS.hosts})
  --channels N      sessions held per host (default ${DEFAULT_SSH_SESSIONS.channelsPerHost})
  --commands N      trivial commands timed one at a time per round (default ${DEFAULT_SSH_SESSIONS.commands})

api (its own default of ${DEFAULT_API.rounds} rounds unless --rounds is given):
  --api-hosts N     hosts in the run the service drives (default ${DEFAULT_API.hosts})
  --sse-clients N   live-stream clients (default ${DEFAULT_API.sseClients})
  --get-clients N   concurrent GET /api/runs/:id clients (default ${DEFAULT_API.clients})
  --seconds N       how long the GET clients run (default ${DEFAULT_API.seconds})`;

class UsageError extends Error {}

/** The repository root: the nearest directory above this file with package.json. */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "bench"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find the repository root (package.json) above the bench");
    dir = up;
  }
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a positive integer, not "${value}"`);
  return n;
}

const OPTIONS = {
  rounds: { type: "string" },
  hosts: { type: "string" },
  steps: { type: "string" },
  concurrency: { type: "string" },
  "raw-commits": { type: "string" },
  "skip-kysely": { type: "boolean", default: false },
  events: { type: "string" },
  pending: { type: "string" },
  sleepers: { type: "string" },
  sleeps: { type: "string" },
  "memory-rounds": { type: "string" },
  "sqlite-rounds": { type: "string" },
  fleet: { type: "string" },
  "cpu-prof": { type: "string" },
  "ssh-hosts": { type: "string" },
  batch: { type: "string" },
  "session-hosts": { type: "string" },
  channels: { type: "string" },
  commands: { type: "string" },
  "api-hosts": { type: "string" },
  "sse-clients": { type: "string" },
  "get-clients": { type: "string" },
  seconds: { type: "string" },
  "no-save": { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

interface Flags {
  benchmarks: Benchmark[];
  cfg: TransitionsConfig;
  eventLoop: EventLoopConfig;
  sim2000: Sim2000Config;
  sshVsAnsible: SshVsAnsibleConfig;
  sshSessions: SshSessionsConfig;
  api: ApiConfig;
  save: boolean;
}

function isBenchmark(name: string): name is Benchmark {
  return (BENCHMARKS as readonly string[]).includes(name);
}

function parseFlags(argv: string[]): Flags | "help" {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true }>
  >;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return "help";
  for (const name of parsed.positionals)
    if (!isBenchmark(name))
      throw new UsageError(`unknown benchmark "${name}" (known: ${BENCHMARKS.join(", ")})`);
  const named = new Set(parsed.positionals);
  const rounds = positiveInt("rounds", v.rounds, 5);
  const hosts = positiveInt("hosts", v.hosts, 200);
  const steps = positiveInt("steps", v.steps, 5);
  return {
    benchmarks: named.size === 0 ? [...BENCHMARKS] : BENCHMARKS.filter((b) => named.has(b)),
    eventLoop: {
      ...DEFAULT_EVENT_LOOP,
      rounds,
      events: positiveInt("events", v.events, DEFAULT_EVENT_LOOP.events),
      pending: positiveInt("pending", v.pending, DEFAULT_EVENT_LOOP.pending),
      sleepers: positiveInt("sleepers", v.sleepers, DEFAULT_EVENT_LOOP.sleepers),
      sleepsEach: positiveInt("sleeps", v.sleeps, DEFAULT_EVENT_LOOP.sleepsEach),
    },
    cfg: {
      rounds,
      hosts,
      steps,
      concurrency: positiveInt("concurrency", v.concurrency, 20),
      rawCommits: positiveInt(
        "raw-commits",
        v["raw-commits"],
        transitionsPerRun({ hosts, steps, concurrency: 1 }),
      ),
      kysely: !v["skip-kysely"],
    },
    sshVsAnsible: {
      rounds,
      hosts: positiveInt("ssh-hosts", v["ssh-hosts"], DEFAULT_SSH_VS_ANSIBLE.hosts),
      batch: positiveInt("batch", v.batch, DEFAULT_SSH_VS_ANSIBLE.batch),
    },
    sshSessions: {
      ...DEFAULT_SSH_SESSIONS,
      rounds,
      hosts: positiveInt("session-hosts", v["session-hosts"], DEFAULT_SSH_SESSIONS.hosts),
      channelsPerHost: positiveInt("channels", v.channels, DEFAULT_SSH_SESSIONS.channelsPerHost),
      commands: positiveInt("commands", v.commands, DEFAULT_SSH_SESSIONS.commands),
    },
    sim2000: {
      memoryRounds: nonNegativeInt("memory-rounds", v["memory-rounds"], DEFAULT_SIM_2000.memoryRounds),
      sqliteRounds: nonNegativeInt("sqlite-rounds", v["sqlite-rounds"], DEFAULT_SIM_2000.sqliteRounds),
      fleet: v.fleet ?? DEFAULT_SIM_2000.fleet,
      execArgv: v["cpu-prof"] !== undefined ? ["--cpu-prof", `--cpu-prof-dir=${v["cpu-prof"]}`] : [],
    },
    api: {
      ...DEFAULT_API,
      rounds: v.rounds === undefined ? DEFAULT_API.rounds : rounds,
      hosts: positiveInt("api-hosts", v["api-hosts"], DEFAULT_API.hosts),
      sseClients: positiveInt("sse-clients", v["sse-clients"], DEFAULT_API.sseClients),
      clients: positiveInt("get-clients", v["get-clients"], DEFAULT_API.clients),
      seconds: positiveInt("seconds", v.seconds, DEFAULT_API.seconds),
    },
    save: !v["no-save"],
  };
}

function nonNegativeInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`--${name} must be a whole number >= 0, not "${value}"`);
  return n;
}

function packageVersion(root: string, name: string): string | null {
  try {
    const pkg = JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? null;
  } catch {
    return null;
  }
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

async function main(): Promise<number> {
  let flags: ReturnType<typeof parseFlags>;
  try {
    flags = parseFlags(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`bench: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (flags === "help") {
    console.log(USAGE);
    return 0;
  }
  const root = findRepoRoot();
  const ctx: RunContext = { root, save: flags.save, machine: machineInfo(), repo: repoInfo(root) };
  for (const name of flags.benchmarks) {
    if (name === NAME) await sqliteTransitions(ctx, flags.cfg);
    else if (name === SIM_2000) await sim2000Bench(ctx, flags.sim2000);
    else if (name === SSH_VS_ANSIBLE) await sshVsAnsible(ctx, flags.sshVsAnsible);
    else if (name === SSH_SESSIONS) await sshSessions(ctx, flags.sshSessions);
    else if (name === PLANNER) await planner(ctx);
    else if (name === API) await apiBench(ctx, flags.api);
    else await eventLoop(ctx, flags.eventLoop);
  }
  return 0;
}

interface RunContext {
  root: string;
  save: boolean;
  machine: MachineInfo;
  repo: RepoInfo;
}

function printMachine(machine: MachineInfo): void {
  console.log(
    `  machine: ${machine.cpuModel}, ${machine.cores} cores, ${gib(machine.memoryBytes)}, ` +
      `${machine.platform} ${machine.osRelease}, node ${machine.node}`,
  );
}

async function sqliteTransitions(ctx: RunContext, cfg: TransitionsConfig): Promise<void> {
  const { root, save, machine, repo } = ctx;
  const date = new Date();
  const before = conditions();
  await withScratchDir(root, async (scratch) => {
    const fs = scratch.filesystem;
    console.log(`${NAME}: engine durable step transitions/s vs raw SQLite durable commits/s`);
    printMachine(machine);
    console.log(`  database dir: ${scratch.dir} (${fs.type ?? "unknown fs"} on ${fs.source ?? "?"})`);
    console.log(`    ${scratch.choice}`);
    console.log(
      `  engine run: ${cfg.hosts} hosts x ${cfg.steps} command steps, concurrency ${cfg.concurrency}, ` +
        `${transitionsPerRun(cfg)} transitions; raw: ${cfg.rawCommits} commits; ${cfg.rounds} rounds`,
    );

    const result = await runTransitions(scratch.dir, cfg, (line) => console.log(line));
    const after = conditions();
    const m = result.median;
    console.log(
      `  median: raw ${m.rawPerSecond.toFixed(0)} commits/s, engine ${m.enginePerSecond.toFixed(0)} transitions/s, ` +
        `ratio ${pct(m.ratio)} (rounds ${pct(result.spread.minRatio)} to ${pct(result.spread.maxRatio)}; ratio of medians ${pct(m.ratioOfMedians)})`,
    );
    console.log(
      `  per transition: ${m.commitMicrosPerTransition.toFixed(0)} µs in the store's commit + ` +
        `${m.engineOwnMicrosPerTransition.toFixed(0)} µs in the engine; raw: ${m.rawMicrosPerCommit.toFixed(0)} µs per commit`,
    );
    if (m.engineKyselyPerSecond !== undefined && m.kyselyRatio !== undefined) {
      console.log(
        `  engine on the store's Kysely path (for comparison): ${m.engineKyselyPerSecond.toFixed(0)} transitions/s, ratio ${pct(m.kyselyRatio)}`,
      );
    }
    console.log(
      result.goal.met
        ? `  GOAL MET: ${pct(m.ratio)} >= ${pct(GOAL_RATIO)} of the raw commit rate`
        : `  GOAL NOT MET: ${pct(m.ratio)} < ${pct(GOAL_RATIO)} of the raw commit rate`,
    );

    if (save) {
      const doc = {
        schema: RESULTS_SCHEMA,
        benchmark: NAME,
        date: date.toISOString(),
        machine,
        repo,
        storage: {
          filesystem: scratch.filesystem,
          repoFilesystem: scratch.repoFilesystem,
          tmpdirFilesystem: scratch.tmpdirFilesystem,
          choice: scratch.choice,
          sqlite: sqliteVersion(),
          betterSqlite3: packageVersion(root, "better-sqlite3"),
          kysely: packageVersion(root, "kysely"),
          pragmas: STORE_PRAGMAS,
        },
        config: {
          ...cfg,
          transitionsPerEngineSample: transitionsPerRun(cfg),
          rawRowBytes: RAW_PAYLOAD.length,
          transport: "in-process, exit 0 at once (no I/O)",
          clock: "system clock",
          warmup: "untimed commits / runs on each file until its WAL reaches the auto-checkpoint size",
        },
        conditions: { before, after },
        ...result,
      };
      const path = await saveResult(join(root, "bench", "results"), NAME, date, doc);
      console.log(`  results: ${relative(process.cwd(), path)} (and bench/results/latest.json)`);
    }
  });
}

async function eventLoop(ctx: RunContext, cfg: EventLoopConfig): Promise<void> {
  const { root, save, machine, repo } = ctx;
  const date = new Date();
  const before = conditions();
  console.log(`${EVENT_LOOP}: core discrete-event loop events/s; VirtualClock sleeps/s`);
  printMachine(machine);
  console.log(
    `  core: ${cfg.events} events, ${cfg.pending} pending; VirtualClock: ${cfg.sleepers} sleepers x ` +
      `${cfg.sleepsEach} sleeps; delays 1..${cfg.maxDelayMs} ms virtual; ${cfg.rounds} rounds`,
  );
  const result = await runEventLoop(cfg, (line) => console.log(line));
  const after = conditions();
  for (const line of summarize(result)) console.log(line);
  if (save) {
    const doc = {
      schema: RESULTS_SCHEMA,
      benchmark: EVENT_LOOP,
      date: date.toISOString(),
      machine,
      repo,
      config: {
        ...cfg,
        core: "EventLoop (src/core/sim/event-loop.ts): each fired event schedules the next until `events` ran",
        clock:
          "VirtualClock (src/adapters/clock/virtual-clock.ts): `sleepers` async loops, `sleepsEach` sleeps each",
        warmup: "one untimed full-size core sample and one untimed full-size clock sample",
      },
      conditions: { before, after },
      ...result,
    };
    const path = await saveResult(join(root, "bench", "results"), EVENT_LOOP, date, doc);
    console.log(`  results: ${relative(process.cwd(), path)} (and bench/results/latest.json)`);
  }
}

async function planner(ctx: RunContext): Promise<void> {
  const { root, save, machine, repo } = ctx;
  const date = new Date();
  const before = conditions();
  console.log(
    `${PLANNER}: simulated makespan / lower bound (goal <= ${PLANNER_GOAL}); baselines vs Overhaul`,
  );
  printMachine(machine);
  const sizes = await plannerBench((line) => console.log(line));
  const after = conditions();
  if (save) {
    const doc = {
      schema: RESULTS_SCHEMA,
      benchmark: PLANNER,
      date: date.toISOString(),
      machine,
      repo,
      config: { goal: PLANNER_GOAL, description: "see bench/planner.ts" },
      conditions: { before, after },
      sizes,
    };
    const path = await saveResult(join(root, "bench", "results"), PLANNER, date, doc);
    console.log(`  results: ${relative(process.cwd(), path)} (and bench/results/latest.json)`);
  }
}

async function apiBench(ctx: RunContext, cfg: ApiConfig): Promise<void> {
  const { root, save, machine, repo } = ctx;
  const date = new Date();
  const before = conditions();
  await withScratchDir(root, async (scratch) => {
    console.log(`${API}: overhaul serve, GET /api/runs/:id rate and SSE fan-out during a run`);
    printMachine(machine);
    console.log(
      `  run: ${cfg.hosts} in-process hosts x 3 steps (${cfg.commandMs} ms each), concurrency ${cfg.concurrency}; ` +
        `${cfg.clients} GET clients for ${cfg.seconds} s; ${cfg.sseClients} SSE clients; ${cfg.rounds} rounds`,
    );
    const result = await runApi(scratch.dir, cfg, (line) => console.log(line));
    const after = conditions();
    const m = result.median;
    console.log(
      `  median: GET /api/runs/:id ${m.getPerSecond} req/s (p50 ${m.getP50Ms} ms, p99 ${m.getP99Ms} ms); ` +
        `SSE to ${cfg.sseClients} clients ${m.sseEventsDeliveredPerSecond} events/s delivered, lag p50 ${m.sseLagP50Ms} ms p99 ${m.sseLagP99Ms} ms`,
    );
    if (save) {
      const doc = {
        schema: RESULTS_SCHEMA,
        benchmark: API,
        date: date.toISOString(),
        machine,
        repo,
        config: {
          ...cfg,
          store: "SQLite (durable, WAL) in a scratch directory",
          transport: `in-process; every command answers after ${cfg.commandMs} ms`,
          network: "loopback (127.0.0.1), keep-alive fetch (undici)",
          ssePollMs: 100,
        },
        conditions: { before, after },
        ...result,
      };
      const path = await saveResult(join(root, "bench", "results"), API, date, doc);
      console.log(`  results: ${relative(process.cwd(), path)} (and bench/results/latest.json)`);
    }
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  },
);
