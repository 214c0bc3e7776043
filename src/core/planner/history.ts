/**
 * Utilization history at the edge: a CSV file (`timestamp,region,utilization`; cells may be quoted
 * as RFC 4180 has it, as Grafana exports them) or the JSON of a Prometheus `query_range` response
 * (a matrix; the region from a label), validated once, every problem reported with its file and
 * line (CSV: the line its record starts on) or path (JSON).
 *
 * Invariants:
 * - Utilization is a fraction 0..1; a CSV value above 1 up to 100 is read as a percentage only when
 *   the header says `utilization_percent`; anything else out of range is an error, never clamped.
 * - Timestamps: ISO-8601 with a zone (`2026-01-05T02:00:00Z`) or Unix seconds, from 1970 to the
 *   end of 9999 (later ones are no calendar date the window search can work with).
 * - Values are decimal numbers as Prometheus writes them (`0.25`, `1e-3`); an empty value, hex or
 *   anything else is an error, never read as 0.
 * - A sample without a region, a NaN or a malformed row is an error; nothing is skipped silently.
 *   NaN and ±Inf (Prometheus writes them for 0/0 and x/0) are named as such, with the query filter
 *   that drops them, not reported as out of range.
 */
import { z } from "zod";
import { InputError, type Problem } from "../errors.js";
import { parseCsv } from "./csv.js";
import type { Sample } from "./windows.js";

const MAX_PROBLEMS = 20;
/** 9999-12-31T23:59:59Z, the last second an ISO-8601 timestamp with a four-digit year names. */
const LAST_UNIX_SECOND = 253_402_300_799;
const QUOTING = 'RFC 4180 quoting: a whole field in double quotes, a quote inside it doubled ("")';
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Unix seconds as milliseconds, or undefined outside 1970..9999. */
function unixMs(seconds: number): number | undefined {
  return Number.isFinite(seconds) && seconds >= 0 && seconds <= LAST_UNIX_SECOND
    ? Math.round(seconds * 1000)
    : undefined;
}

/** A utilization value as written (`0.25`, `1e-3`), or NaN when it is no decimal number. */
function decimal(raw: string): number {
  return DECIMAL.test(raw) ? Number(raw) : Number.NaN;
}

/**
 * What Prometheus writes for a ratio with nothing to divide (NaN for 0/0, ±Inf for x/0): a problem
 * that says so and how to filter it in the query; undefined for anything else.
 */
function notMeasured(raw: string, range: string): { message: string; expected: string } | undefined {
  const nan = /^[+-]?nan$/i.test(raw);
  const inf = /^([+-]?)inf(inity)?$/i.exec(raw);
  if (!nan && inf === null) return undefined;
  const filter = nan || inf?.[1] === "-" ? "(...) >= 0" : "(...) <= 1";
  return {
    message: `"${raw}" is not a measurement (Prometheus writes ${nan ? "NaN for 0/0" : `${raw} for x/0`})`,
    expected: `${range}: filter it out in the query, e.g. ${filter}, or remove the sample`,
  };
}

/** An ISO-8601 time with its zone (`2026-01-05T02:00Z`, `2026-01-05T07:30+05:30`), else undefined. */
export function parseIsoInstant(raw: string): number | undefined {
  const t = raw.trim();
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$/.test(t)) return undefined;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

function timestampOf(raw: string): number | undefined {
  const t = raw.trim();
  return /^\d+(\.\d+)?$/.test(t) ? unixMs(Number(t)) : parseIsoInstant(t);
}

export function parseCsvHistory(text: string, file: string): Sample[] {
  const [first, ...rows] = parseCsv(text);
  const header = (first?.cells ?? []).map((c) => c.trim().toLowerCase());
  const col = (name: string) => header.indexOf(name);
  const percent = col("utilization_percent") >= 0;
  const [ti, ri, ui] = [
    col("timestamp"),
    col("region"),
    percent ? col("utilization_percent") : col("utilization"),
  ];
  if (first?.error !== undefined || ti < 0 || ri < 0 || ui < 0)
    throw new InputError({
      file,
      line: 1,
      message: `the header is "${text.split(/\r?\n/, 1)[0] ?? ""}"${first?.error !== undefined ? `: ${first.error}` : ""}`,
      expected: "a header with timestamp, region and utilization (or utilization_percent) columns",
    });
  const out: Sample[] = [];
  const problems: Problem[] = [];
  const max = percent ? 100 : 1;
  for (const row of rows) {
    if (row.blank) continue;
    if (problems.length >= MAX_PROBLEMS) break;
    const where = { file, line: row.line };
    if (row.error !== undefined) {
      problems.push({ ...where, message: row.error, expected: QUOTING });
      continue;
    }
    const cells = row.cells;
    const at = timestampOf(cells[ti] ?? "");
    const region = (cells[ri] ?? "").trim();
    const raw = (cells[ui] ?? "").trim();
    const value = decimal(raw);
    if (at === undefined)
      problems.push({
        ...where,
        path: "timestamp",
        message: `"${cells[ti] ?? ""}" is not a timestamp`,
        expected: "ISO-8601 with a zone, or Unix seconds (1970 to 9999)",
      });
    else if (region === "") problems.push({ ...where, path: "region", message: "is empty" });
    else if (raw === "" || !Number.isFinite(value) || value < 0 || value > max) {
      const expected = `a number 0..${max}`;
      problems.push({
        ...where,
        path: percent ? "utilization_percent" : "utilization",
        ...(notMeasured(raw, expected) ?? { message: `"${raw}" is out of range`, expected }),
      });
    } else out.push({ region, at, value: percent ? value / 100 : value });
  }
  if (problems.length > 0) throw new InputError(problems);
  return out;
}

const promSchema = z.object({
  status: z.literal("success"),
  data: z.object({
    resultType: z.literal("matrix"),
    result: z.array(
      z.object({
        metric: z.record(z.string(), z.string()),
        values: z.array(z.tuple([z.number(), z.string()])),
      }),
    ),
  }),
});

/** A Prometheus `query_range` response (e.g. `avg by (region) (...)`); the region is `regionLabel`. */
export function parsePrometheusHistory(text: string, file: string, regionLabel = "region"): Sample[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError({ file, message: `not JSON: ${(e as Error).message}` }, { cause: e });
  }
  const parsed = promSchema.safeParse(json);
  if (!parsed.success)
    throw new InputError(
      parsed.error.issues.slice(0, MAX_PROBLEMS).map((i) => ({
        file,
        path: i.path
          .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
          .join("")
          .replace(/^\./, ""),
        message: i.message,
        expected:
          'a query_range response: {"status":"success","data":{"resultType":"matrix","result":[...]}}',
      })),
    );
  const out: Sample[] = [];
  const problems: Problem[] = [];
  parsed.data.data.result.forEach((series, si) => {
    const region = series.metric[regionLabel];
    if (region === undefined) {
      problems.push({
        file,
        path: `data.result[${si}].metric`,
        message: `has no "${regionLabel}" label`,
        expected: "one series per region",
      });
      return;
    }
    series.values.forEach(([t, v], vi) => {
      const at = unixMs(t);
      if (at === undefined) {
        if (problems.length < MAX_PROBLEMS)
          problems.push({
            file,
            path: `data.result[${si}].values[${vi}][0]`,
            message: `${t} is not a time`,
            expected: "Unix seconds from 1970 to 9999",
          });
        return;
      }
      const value = decimal(v.trim());
      if (!Number.isFinite(value) || value < 0 || value > 1) {
        const expected = "a fraction 0..1";
        if (problems.length < MAX_PROBLEMS)
          problems.push({
            file,
            path: `data.result[${si}].values[${vi}][1]`,
            ...(notMeasured(v.trim(), expected) ?? { message: `"${v}" is out of range`, expected }),
          });
        return;
      }
      out.push({ region, at, value });
    });
  });
  if (problems.length > 0) throw new InputError(problems);
  return out;
}

/** CSV or Prometheus JSON, by content: a document that starts with `{` is JSON. */
export function parseHistory(text: string, file: string, regionLabel?: string): Sample[] {
  return text.trimStart().startsWith("{")
    ? parsePrometheusHistory(text, file, regionLabel)
    : parseCsvHistory(text, file);
}
