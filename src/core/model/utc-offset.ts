/**
 * A host's UTC offset, `overhaul_utc_offset`: hours east of UTC, the clock of a region that names
 * no IANA time zone. One reading for everything that needs a region's clock — the window search,
 * the planner's bandwidth estimates, generated history and the simulator's utilization — so they
 * never disagree about it.
 *
 * Invariants:
 * - Absent means 0 (UTC). Present: a number, or a decimal string, of whole quarter hours from -12
 *   to +14 (`5.5` is UTC+05:30, `5.75` UTC+05:45, `-3.5` UTC-03:30), the offsets real zones use.
 * - Anything else (`+01:00`, `abc`, `5.1`, `15`, an empty value) is an InputError naming the host
 *   and the variable, with what would be valid; never read as UTC.
 */
import { InputError, type Problem } from "../errors.js";
import type { Host } from "./fleet.js";

export const UTC_OFFSET_VAR = "overhaul_utc_offset";

const MIN_HOURS = -12;
const MAX_HOURS = 14;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)$/;
const MAX_PROBLEMS = 20;

/** The offset in hours, or undefined when `raw` is no whole quarter hour from -12 to +14. */
function offsetHours(raw: unknown): number | undefined {
  const n =
    typeof raw === "number"
      ? raw
      : typeof raw === "string" && DECIMAL.test(raw.trim())
        ? Number(raw)
        : Number.NaN;
  if (!Number.isFinite(n) || n < MIN_HOURS || n > MAX_HOURS) return undefined;
  return Number.isInteger(n * 4) ? n : undefined;
}

function problemOf(h: Host, file?: string): Problem | undefined {
  const raw = h.vars[UTC_OFFSET_VAR];
  if (raw === undefined || offsetHours(raw) !== undefined) return undefined;
  return {
    ...(file !== undefined ? { file } : {}),
    path: `${h.name}.${UTC_OFFSET_VAR}`,
    message: `${JSON.stringify(raw)} is not a UTC offset`,
    expected:
      "hours east of UTC in whole quarter hours from -12 to 14, e.g. 1, -5, 5.5 (UTC+05:30), 5.75 (UTC+05:45)",
  };
}

/** The host's UTC offset in hours (0 when it has none); an InputError when it is not one. */
export function utcOffsetHours(h: Host): number {
  const p = problemOf(h);
  if (p !== undefined) throw new InputError(p);
  return offsetHours(h.vars[UTC_OFFSET_VAR] ?? 0) as number;
}

/** Checks every host's offset at once (the first MAX_PROBLEMS bad ones), before anything reads them. */
export function checkUtcOffsets(hosts: readonly Host[], file?: string): void {
  const problems: Problem[] = [];
  for (const h of hosts) {
    const p = problemOf(h, file);
    if (p !== undefined && problems.length < MAX_PROBLEMS) problems.push(p);
  }
  if (problems.length > 0) throw new InputError(problems);
}

/** Each region's UTC offset in hours, from its first host (as listed). */
export function regionUtcOffsets(hosts: readonly Host[]): Map<string, number> {
  const offsets = new Map<string, number>();
  for (const h of hosts) if (!offsets.has(h.region)) offsets.set(h.region, utcOffsetHours(h));
  return offsets;
}
