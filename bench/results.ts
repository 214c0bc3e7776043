/**
 * Where benchmark results go, and the numbers helpers they share.
 *
 * Scheme (bench/results/ is committed; it is the history of the numbers):
 * - Every run of a benchmark writes one document `bench/results/<name>-<UTC timestamp>.json`
 *   (`sqlite-transitions-2025-11-21T16-40-05Z.json`): the configuration, the machine, every
 *   round and the medians. Files are never overwritten, so results accumulate.
 * - `bench/results/latest.json` maps each benchmark's name to its newest document (the same
 *   content, plus `file`), so "what are the current numbers" is one file, whatever ran last.
 *
 * Why medians of alternating rounds: the machine is shared, so a burst of noise should hit both
 * sides of a ratio, and one outlier should not move the reported value.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const RESULTS_SCHEMA = 1;

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Round to `digits` decimals (results stay readable; the raw counts and milliseconds are kept too). */
export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** `2025-11-21T16-40-05Z`: sortable, no characters that file systems dislike. */
export function fileTimestamp(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/:/g, "-");
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** Write the document of one benchmark run and update `latest.json`; returns the new file's path. */
export async function saveResult(
  resultsDir: string,
  name: string,
  date: Date,
  doc: Record<string, unknown>,
): Promise<string> {
  const file = `${name}-${fileTimestamp(date)}.json`;
  const path = join(resultsDir, file);
  await writeAtomically(path, `${JSON.stringify(doc, null, 2)}\n`);

  const latestPath = join(resultsDir, "latest.json");
  let latest: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(await readFile(latestPath, "utf8"));
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) latest = parsed as typeof latest;
  } catch {
    // missing or unreadable: start a new index
  }
  latest[name] = { file, ...doc };
  await writeAtomically(latestPath, `${JSON.stringify(latest, null, 2)}\n`);
  return path;
}
