/**
 * `npm run bench`: runs the benchmarks, prints a short summary, and writes the results to
 * bench/results/ (see results.ts for the file scheme).
 *
 * What it measures today: "sqlite-transitions" (sqlite-transitions.ts), the engine's durable step
 * transitions per second on SQLite as a fraction of the raw durable commit rate of the same file.
 *
 * Invariants:
 * - Exit code 0 when the benchmark ran, whether or not the goal was met (the summary says which);
 *   1 on an error (a sample that failed its checks, an I/O error); 2 on bad flags.
 * - Database files live in a fresh scratch directory on the repository's filesystem, removed at
 *   the end, also on error or Ctrl-C.
 * - Talks to nothing over the network.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { transitionsPerRun } from "./engine-sample.js";
import { conditions, machineInfo, makeScratchDir, repoInfo } from "./machine.js";
import { RAW_PAYLOAD } from "./raw-commits.js";
import { RESULTS_SCHEMA, saveResult } from "./results.js";
import { STORE_PRAGMAS, sqliteVersion } from "./sqlite-files.js";
import { GOAL_RATIO, NAME, pct, runTransitions, type TransitionsConfig } from "./sqlite-transitions.js";

const USAGE = `usage: npm run bench -- [options]

  --rounds N        rounds of back-to-back raw and engine samples; medians reported (default 5)
  --hosts N         hosts in the engine's run (default 200)
  --steps N         command steps per host (default 5)
  --concurrency N   hosts in flight at once (default 20)
  --raw-commits N   commits per raw sample (default: the engine's transitions per sample)
  --skip-kysely     do not also measure the store's plain Kysely commit path
  --no-save         print only; write nothing to bench/results/
  -h, --help        this text`;

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
  "no-save": { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

function parseFlags(argv: string[]): { cfg: TransitionsConfig; save: boolean } | "help" {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return "help";
  const hosts = positiveInt("hosts", v.hosts, 200);
  const steps = positiveInt("steps", v.steps, 5);
  return {
    cfg: {
      rounds: positiveInt("rounds", v.rounds, 5),
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
    save: !v["no-save"],
  };
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
  const { cfg, save } = flags;
  const root = findRepoRoot();
  const date = new Date();
  const machine = machineInfo();
  const repo = repoInfo(root);
  const before = conditions();
  const scratch = await makeScratchDir(root);
  const cleanup = () => rmSync(scratch.dir, { recursive: true, force: true });
  const onSignal = (sig: NodeJS.Signals) => {
    cleanup();
    process.kill(process.pid, sig);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    const fs = scratch.filesystem;
    console.log(`${NAME}: engine durable step transitions/s vs raw SQLite durable commits/s`);
    console.log(
      `  machine: ${machine.cpuModel}, ${machine.cores} cores, ${gib(machine.memoryBytes)}, ` +
        `${machine.platform} ${machine.osRelease}, node ${machine.node}`,
    );
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
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    cleanup();
  }
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
