/**
 * Benchmark "sqlite-transitions": the engine's durable step transitions per second on the SQLite
 * store, as a fraction of the raw single-row durable commit rate of the same kind of SQLite file
 * on the same disk, both measured in one process run. Goal: >= 70 %.
 *
 * Why a ratio: the absolute rate is set by the disk's fsync latency, which differs by orders of
 * magnitude between machines; the ratio says what the engine costs on top of the durable commits
 * it cannot avoid, and stays comparable across machines.
 *
 * How (details in raw-commits.ts and engine-sample.ts):
 * - Each round prepares, untimed, a raw database and an engine database (and one for the store's
 *   plain Kysely path unless skipped) in the scratch directory, each brought to the WAL's steady
 *   size; then times them back to back: raw, engine, engine-kysely. Keeping the timed windows
 *   adjacent makes noise on a shared machine hit both sides of a round's ratio.
 * - Reported per round and as medians; the headline is the median of the per-round ratios.
 * - engine-kysely (`preparedHotPath: false`) is for comparison only: it shows what the store's
 *   prepared hot path for `commitHost` buys. The goal is judged on the default store.
 */
import { join } from "node:path";
import { type EngineSample, type EngineShape, prepareEngine } from "./engine-sample.js";
import { prepareRaw, type RawSample } from "./raw-commits.js";
import { median, round } from "./results.js";
import { type WalShape, walShape } from "./sqlite-files.js";

export const NAME = "sqlite-transitions";
export const GOAL_RATIO = 0.7;

export interface TransitionsConfig extends EngineShape {
  rounds: number;
  /** Raw commits per sample; by default as many as the engine's transitions per run. */
  rawCommits: number;
  /** Also measure the engine on the store's plain Kysely commit path. */
  kysely: boolean;
}

export interface Round {
  round: number;
  raw: RawSample;
  engine: EngineSample;
  /** engine.perSecond / raw.perSecond */
  ratio: number;
  engineKysely?: EngineSample;
  kyselyRatio?: number;
}

export interface TransitionsResult {
  wal: WalShape;
  rounds: Round[];
  median: {
    rawPerSecond: number;
    enginePerSecond: number;
    /** Median of the per-round ratios: the headline (each ratio pairs adjacent samples). */
    ratio: number;
    /** median(engine) / median(raw), for comparison. */
    ratioOfMedians: number;
    /** Engine time outside commitHost per transition (the engine's own cost), median, µs. */
    engineOwnMicrosPerTransition: number;
    /** Time inside commitHost per transition (SQLite: statements and fsync), median, µs. */
    commitMicrosPerTransition: number;
    /** Raw time per commit, median, µs. */
    rawMicrosPerCommit: number;
    engineKyselyPerSecond?: number;
    kyselyRatio?: number;
  };
  /** The lowest and highest per-round ratio: how noisy the machine was. */
  spread: { minRatio: number; maxRatio: number };
  goal: { ratio: number; met: boolean };
}

export function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(1)} %`;
}

const micros = (ms: number, n: number) => (ms * 1000) / n;

export async function runTransitions(
  dir: string,
  cfg: TransitionsConfig,
  log: (line: string) => void,
): Promise<TransitionsResult> {
  const wal = await walShape(dir);
  const rounds: Round[] = [];
  for (let r = 1; r <= cfg.rounds; r++) {
    // Prepare every file of the round (untimed), then time them back to back.
    const open: { close(): Promise<void> }[] = [];
    const track = <T extends { close(): Promise<void> }>(x: T): T => {
      open.push(x);
      return x;
    };
    let row: Round;
    try {
      const raw = track(prepareRaw(join(dir, `raw-${r}.db`), wal));
      const engine = track(await prepareEngine(join(dir, `engine-${r}.db`), cfg, true, wal));
      const kysely = cfg.kysely
        ? track(await prepareEngine(join(dir, `kysely-${r}.db`), cfg, false, wal))
        : undefined;

      const rawSample = raw.timed(cfg.rawCommits);
      const engineSample = await engine.timed();
      row = {
        round: r,
        raw: rawSample,
        engine: engineSample,
        ratio: round(engineSample.perSecond / rawSample.perSecond, 3),
      };
      if (kysely) {
        const k = await kysely.timed();
        row.engineKysely = k;
        row.kyselyRatio = round(k.perSecond / rawSample.perSecond, 3);
      }
    } finally {
      for (const x of open) await x.close();
    }
    rounds.push(row);
    log(
      `  round ${r}: raw ${row.raw.perSecond.toFixed(0)} commits/s, engine ${row.engine.perSecond.toFixed(0)} ` +
        `transitions/s = ${pct(row.ratio)}` +
        (row.engineKysely
          ? `; Kysely path ${row.engineKysely.perSecond.toFixed(0)}/s = ${pct(row.kyselyRatio ?? 0)}`
          : ""),
    );
  }

  const rawMedian = median(rounds.map((x) => x.raw.perSecond));
  const engineMedian = median(rounds.map((x) => x.engine.perSecond));
  const ratios = rounds.map((x) => x.ratio);
  const ratio = round(median(ratios), 3);
  const result: TransitionsResult = {
    wal,
    rounds,
    median: {
      rawPerSecond: round(rawMedian),
      enginePerSecond: round(engineMedian),
      ratio,
      ratioOfMedians: round(engineMedian / rawMedian, 3),
      engineOwnMicrosPerTransition: round(
        median(rounds.map((x) => micros(x.engine.ms - x.engine.commitHostSyncMs, x.engine.transitions))),
      ),
      commitMicrosPerTransition: round(
        median(rounds.map((x) => micros(x.engine.commitHostSyncMs, x.engine.transitions))),
      ),
      rawMicrosPerCommit: round(median(rounds.map((x) => micros(x.raw.ms, x.raw.commits)))),
    },
    spread: { minRatio: Math.min(...ratios), maxRatio: Math.max(...ratios) },
    goal: { ratio: GOAL_RATIO, met: ratio >= GOAL_RATIO },
  };
  if (cfg.kysely) {
    result.median.engineKyselyPerSecond = round(median(rounds.map((x) => x.engineKysely?.perSecond ?? 0)));
    result.median.kyselyRatio = round(median(rounds.map((x) => x.kyselyRatio ?? 0)), 3);
  }
  return result;
}
