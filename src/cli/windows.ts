/**
 * Window selection for `overhaul plan|simulate|run --history`: read the history file, find each
 * scoped region's time zone, and choose its window (core/planner/windows.ts); then hand the windows
 * to the planner (length, predicted utilization, and each region's opening, which runs wait for).
 *
 * Invariants: every flag is validated with its name in the error; a region without a time zone
 * uses its UTC offset (`overhaul_utc_offset`), else UTC; a region the history does not cover, or
 * with no allowed window, is refused (exit 4), never given a guessed window. Windows are searched
 * from `--from` (default: the history's end, its last sample plus one step) for `--days`; `--from`
 * names its zone (`Z`, `+01:00`), so it never depends on the machine's time zone. A run (`run`,
 * `simulate`) starts no window before it starts: a `--from` whose days all lie before that is
 * refused (exit 2), never moved; `plan`, which runs nothing, searches exactly where it is told.
 */
import { InputError } from "../core/errors.js";
import type { Host } from "../core/model/fleet.js";
import { utcOffsetHours } from "../core/model/utc-offset.js";
import { parseDuration } from "../core/plan/duration.js";
import { MAX_DURATION_MS } from "../core/plan/schema.js";
import { parseHistory, parseIsoInstant } from "../core/planner/history.js";
import { ORDER_POLICIES } from "../core/planner/order.js";
import { PlanRefusal, type Refusal } from "../core/planner/refusal.js";
import { chooseWindow, historyEnd, type NoWindow, type Window } from "../core/planner/windows.js";
import { DAY_MS, isTimeZone, offsetZone, zoneLabel } from "../core/planner/zone.js";
import { readUserFile } from "./compose.js";

export interface WindowFlags {
  history: string;
  window?: string;
  allowedHours?: string;
  blackout?: string;
  from?: string;
  days?: number;
  regionLabel?: string;
}

/** The window-search flags, as the CLI hands them over (`history` absent when not given). */
export type WindowFlagsGiven = Partial<WindowFlags> & { schedule?: boolean; order?: string };

/**
 * Refuses schedule and window flags that would be ignored: the search flags mean nothing without
 * `--history`, and on `run` / `simulate` (`windowLength: "with-history"`) neither does `--window`,
 * nor `--history` or `--order` without `--schedule` (a run without it goes in inventory order, so
 * any `--order`, even one that is no policy, would be dropped). `plan --window` alone is the length
 * every region must fit in; `plan` always schedules. Every refused flag is named, with the form
 * that would use it.
 */
export function checkWindowFlags(opts: WindowFlagsGiven, windowLength: "own" | "with-history"): void {
  if (windowLength === "with-history" && opts.order !== undefined && opts.schedule !== true)
    throw new InputError({
      path: "--order",
      message:
        "orders the planner's schedule, and --schedule was not given (without it hosts go in inventory order)",
      expected: `--schedule --order ${ORDER_POLICIES.join("|")}`,
    });
  if (windowLength === "with-history" && opts.history !== undefined && opts.schedule !== true)
    throw new InputError({
      path: "--history",
      message: "chooses the windows of a schedule",
      expected: "--schedule --history FILE",
    });
  if (opts.history !== undefined) return;
  const given: [string, unknown][] = [
    ["--allowed-hours", opts.allowedHours],
    ["--blackout", opts.blackout],
    ["--from", opts.from],
    ["--days", opts.days],
    ["--region-label", opts.regionLabel],
  ];
  if (windowLength === "with-history") given.unshift(["--window", opts.window]);
  const problems = given
    .filter(([, v]) => v !== undefined)
    .map(([flag]) => ({
      path: flag,
      message: "searches for windows in a utilization history, and none was given",
      expected: `--history FILE ${flag} ...${windowLength === "with-history" ? " (with --schedule)" : ""}`,
    }));
  if (problems.length > 0) throw new InputError(problems);
}

export function durationFlag(name: string, v: string): number {
  const ms = parseDuration(v);
  if (ms === undefined || ms <= 0)
    throw new InputError({ path: name, message: `"${v}" is not a duration`, expected: "e.g. 4h, 90m" });
  if (ms > MAX_DURATION_MS)
    throw new InputError({ path: name, message: `"${v}" is longer than a year`, expected: "at most 366d" });
  return ms;
}

function hoursFlag(v: string): { start: number; end: number } {
  const m = /^(\d{1,2})(?::([0-5]\d))?-(\d{1,2})(?::([0-5]\d))?$/.exec(v.trim());
  const h = (a?: string, b?: string) => Number(a) + Number(b ?? 0) / 60;
  if (m === null || h(m[1], m[2]) > 24 || h(m[3], m[4]) > 24 || h(m[1], m[2]) === h(m[3], m[4]))
    throw new InputError({
      path: "--allowed-hours",
      message: `"${v}" is not a range of hours`,
      expected: "e.g. 22-06 or 01:30-05:00 (local time)",
    });
  return { start: h(m[1], m[2]), end: h(m[3], m[4]) };
}

function datesFlag(v: string): string[] {
  const dates = v
    .split(",")
    .map((d) => d.trim())
    .filter((d) => d !== "");
  // A real calendar day: 2026-02-30 parses (as 2 March), so it must also print back as itself.
  for (const d of dates)
    if (!/^\d{4}-\d\d-\d\d$/.test(d) || !isCalendarDate(d))
      throw new InputError({
        path: "--blackout",
        message: `"${d}" is not a date`,
        expected: "YYYY-MM-DD[,YYYY-MM-DD...] (local dates)",
      });
  return dates;
}

function isCalendarDate(d: string): boolean {
  const ms = Date.parse(`${d}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === d;
}

/** At most a year of days: searched ahead for a window, or of history written (`overhaul history`). */
const MAX_DAYS = 366;

/** `--days`: a whole number from 1 to MAX_DAYS, else `fallback`; `what` (e.g. " to search") ends the error. */
export function daysFlag(n: number | undefined, fallback: number, what = ""): number {
  if (n === undefined) return fallback;
  if (!Number.isInteger(n) || n < 1 || n > MAX_DAYS)
    throw new InputError({
      path: "--days",
      message: `${n} is not a number of days${what}`,
      expected: `1 to ${MAX_DAYS}`,
    });
  return n;
}

/** `--from`: an ISO-8601 time with its zone, never read in the machine's time zone. */
function fromFlag(v: string): number {
  const ms = parseIsoInstant(v);
  // A real calendar day: Date.parse reads 2026-02-30 as 2 March.
  if (ms === undefined || !isCalendarDate(v.trim().slice(0, 10)))
    throw new InputError({
      path: "--from",
      message: /^\d{4}-\d\d-\d\dT[\d:.]+$/.test(v.trim())
        ? `"${v}" has no time zone`
        : `"${v}" is not a time`,
      expected: "ISO-8601 with its zone, e.g. 2026-01-05T00:00Z or 2026-01-05T00:00+01:00",
    });
  return ms;
}

/** A region's time zone: `overhaul_timezone` (IANA), else its `overhaul_utc_offset` (`UTC+05:30`), else UTC. */
export function timeZoneOf(h: Host): string {
  const tz = h.vars.overhaul_timezone;
  if (typeof tz === "string" && tz.trim() !== "") {
    if (!isTimeZone(tz))
      throw new InputError({
        path: `${h.name}.overhaul_timezone`,
        message: `unknown time zone "${tz}"`,
        expected: "an IANA zone, e.g. Europe/Amsterdam",
      });
    return tz;
  }
  return offsetZone(utcOffsetHours(h));
}

/** When the run that waits for the windows starts (`at`), and what it is (`the simulation`). */
export interface RunStart {
  at: number;
  what: string;
}

/**
 * Each scoped region's window (refused when a region has none) and where the search started;
 * with `start`, no window opens before the run starts.
 */
export async function chooseWindows(
  scope: readonly Host[],
  flags: WindowFlags,
  start?: RunStart,
): Promise<{ windows: Window[]; from: number }> {
  const samples = parseHistory(
    await readUserFile(flags.history, "history"),
    flags.history,
    flags.regionLabel,
  );
  const lengthMs = durationFlag("--window", flags.window ?? "4h");
  const days = daysFlag(flags.days, 7, " to search");
  if (lengthMs > days * DAY_MS)
    throw new InputError({
      path: "--window",
      message: `a ${flags.window} window does not fit in the ${days} day(s) searched`,
      expected: `a window of at most ${days * 24}h, or more --days`,
    });
  const from = searchFrom(flags, samples.length === 0 ? 0 : historyEnd(samples), days, start);
  const opts = {
    lengthMs,
    from,
    days,
    ...(start !== undefined ? { notBefore: start.at } : {}),
    ...(flags.allowedHours !== undefined ? { allowedHours: hoursFlag(flags.allowedHours) } : {}),
    ...(flags.blackout !== undefined ? { blackout: datesFlag(flags.blackout) } : {}),
  };
  const windows: Window[] = [];
  const refusals: Refusal[] = [];
  const regions = new Map<string, Host>();
  for (const h of scope) if (!regions.has(h.region)) regions.set(h.region, h);
  for (const [region, host] of regions) {
    const zone = timeZoneOf(host);
    const w = chooseWindow(
      region,
      zone,
      samples.filter((s) => s.region === region),
      opts,
    );
    if ("none" in w) refusals.push({ kind: "no-window", region, why: whyNoWindow(w, zone, flags, days) });
    else windows.push(w);
  }
  if (refusals.length > 0) throw new PlanRefusal(refusals);
  return { windows, from: Math.max(from, start?.at ?? from) };
}

/**
 * Where the search starts: `--from`, else the history's end (not before the run starts). A
 * `--from` whose days end before the run starts could only be moved, so it is refused.
 */
function searchFrom(flags: WindowFlags, historyEndsAt: number, days: number, start?: RunStart): number {
  if (flags.from === undefined) return Math.max(historyEndsAt, start?.at ?? historyEndsAt);
  const from = fromFlag(flags.from);
  if (start !== undefined && from + days * DAY_MS < start.at)
    throw new InputError({
      path: "--from",
      message: `${days} day(s) from "${flags.from}" end before ${start.what} starts (${isoMinute(start.at)})`,
      expected: `--from ${isoMinute(start.at - days * DAY_MS)} or later, or more --days`,
    });
  return from;
}

function isoMinute(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16)}Z`;
}

/** At most this many missing local times are listed. */
const MAX_TIMES = 6;

function whyNoWindow(w: NoWindow, zone: string, flags: WindowFlags, days: number): string {
  const stretch = `${flags.window ?? "4h"} stretch in the next ${days} day(s)`;
  const rules = flags.allowedHours !== undefined || flags.blackout !== undefined;
  switch (w.none) {
    case "no-history":
      return `the history (${flags.history}) has no samples for it`;
    case "rules":
      return `no ${stretch} lies inside the allowed hours and off the blackout dates`;
    case "unsampled": {
      const more = w.times.length > MAX_TIMES ? ` and ${w.times.length - MAX_TIMES} more` : "";
      const times = `${w.times.slice(0, MAX_TIMES).join(", ")}${more}`;
      return `the history (${flags.history}) has no samples at local ${times} (${zoneLabel(zone)}), and every ${stretch}${rules ? " inside the allowed hours and off the blackout dates" : ""} includes one`;
    }
  }
}

/** What the planner takes of the windows, with the run (offset 0 of the schedule) at `startAt`. */
export function plannerWindows(windows: readonly Window[], startAt: number) {
  return {
    windowMs: Object.fromEntries(windows.map((w) => [w.region, w.endMs - w.startMs])),
    utilization: Object.fromEntries(windows.map((w) => [w.region, w.utilization])),
    windows: { startAt, opensAt: Object.fromEntries(windows.map((w) => [w.region, w.startMs])) },
  };
}
