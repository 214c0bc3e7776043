/**
 * Maintenance windows: each region's quietest stretch of the required length in the coming days,
 * predicted from its utilization history, inside the allowed hours, off the blackout dates, in the
 * region's own time zone (zone.ts); written as people read them (`Sat 02:00-06:00 Europe/Amsterdam`).
 *
 * Invariants:
 * - Pure: the same history and options give the same windows.
 * - A sample stands for the stretch up to its region's next sample, at most one step (the median
 *   gap between the region's samples): an hourly history also speaks for the half hours between
 *   its samples.
 * - Prediction: the mean of what the history says of the same local weekday and half hour (its
 *   samples there; where a half hour holds none, the sample whose stretch covers its start); a
 *   slot the history never saw falls back to the same half hour on any day. A half hour it never
 *   saw on any day has no prediction: no window touching it is chosen, and the answer names the
 *   local times missing. A region without history gets no window (never a guessed one).
 * - Candidates start on the local half hour, at or after `from` and `notBefore`, at most `days`
 *   after `from`. No instant of a window [start, end) is outside the allowed hours or on a blackout
 *   date, in local time, across any change of the clocks. Ties go to the earliest start.
 * - The predicted utilization is the mean over the window's local half hours, each weighted by
 *   how much of it the window covers.
 * - A label gives the local weekday, start and end; when the clock's difference between them is
 *   not the window's length (the clocks change inside it, or it lasts a day or more), the length
 *   follows: `Sun 01:00-04:00 Europe/Amsterdam (4h00m; clocks go back 1h00m)`.
 */
import { formatMs } from "./refusal.js";
import { DAY_MS, MINUTE_MS, offsetMs, wallParts, zoneLabel } from "./zone.js";

export interface Sample {
  region: string;
  at: number;
  /** 0..1 */
  value: number;
}

export interface WindowOptions {
  lengthMs: number;
  /** Earliest start. */
  from: number;
  /** How far ahead of `from` a window may start, days. */
  days: number;
  /** No window starts before this (when the run starts); the search still ends `days` after `from`. */
  notBefore?: number;
  /** Local allowed hours [start, end) in hours 0..24; end <= start wraps past midnight. Default all day. */
  allowedHours?: { start: number; end: number };
  /** Local dates (YYYY-MM-DD) when nothing may run. */
  blackout?: readonly string[];
}

export interface Window {
  region: string;
  timeZone: string;
  startMs: number;
  endMs: number;
  /** Predicted mean utilization over the window. */
  utilization: number;
  /** `Sat 02:00-06:00 Europe/Amsterdam`. */
  label: string;
}

/**
 * Why a region gets no window: it has no history; no candidate satisfies the allowed hours and
 * blackout dates; or every one that does touches a local half hour (`HH:MM`) the history has no
 * samples at.
 */
export type NoWindow = { none: "no-history" } | { none: "rules" } | { none: "unsampled"; times: string[] };

const SLOT_MS = 30 * MINUTE_MS;
const QUARTER_MS = 15 * MINUTE_MS;
const SLOTS_PER_DAY = 48;
/** 1970-01-01, day 0 of the epoch, was a Thursday. */
const EPOCH_WEEKDAY = 4;

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

/** The local half hour of the day (0..47) of a wall-clock time. */
function daySlot(wall: number): number {
  return Math.floor(mod(wall, DAY_MS) / SLOT_MS);
}

/** The local weekday and half hour (0..7*48) of a wall-clock time. */
function weekSlot(wall: number): number {
  return mod(Math.floor(wall / DAY_MS) + EPOCH_WEEKDAY, 7) * SLOTS_PER_DAY + daySlot(wall);
}

function hhmm(l: { hour: number; minute: number }): string {
  return `${String(l.hour).padStart(2, "0")}:${String(l.minute).padStart(2, "0")}`;
}

/** The median gap between distinct sample times (sorted), 0 with fewer than two. */
function stepOf(sortedTimes: readonly number[]): number {
  const gaps: number[] = [];
  for (let i = 1; i < sortedTimes.length; i++) {
    const d = (sortedTimes[i] as number) - (sortedTimes[i - 1] as number);
    if (d > 0) gaps.push(d);
  }
  gaps.sort((a, b) => a - b);
  return gaps.length === 0 ? 0 : (gaps[Math.floor((gaps.length - 1) / 2)] as number);
}

/** Where a history ends: the latest end of a region's last sample's stretch (its time plus one step). */
export function historyEnd(samples: readonly Sample[]): number {
  const times = new Map<string, number[]>();
  for (const s of samples) {
    const t = times.get(s.region) ?? [];
    t.push(s.at);
    times.set(s.region, t);
  }
  let end = Number.NEGATIVE_INFINITY;
  for (const t of times.values()) {
    t.sort((a, b) => a - b);
    end = Math.max(end, (t[t.length - 1] as number) + stepOf(t));
  }
  return end;
}

interface Acc {
  sum: number;
  n: number;
}

/** Predicted utilization of a local wall-clock time's half hour, from one region's samples. */
function profile(samples: readonly Sample[], zone: string): (wall: number) => number | undefined {
  const week = new Map<number, Acc>();
  const day = new Map<number, Acc>();
  const add = (wall: number, v: number) => {
    for (const [m, k] of [
      [week, weekSlot(wall)],
      [day, daySlot(wall)],
    ] as const) {
      const e = m.get(k) ?? { sum: 0, n: 0 };
      e.sum += v;
      e.n++;
      m.set(k, e);
    }
  };
  // The samples themselves, in the order given; each local half hour that holds one, by its start.
  const sampled = new Set<number>();
  const walls = new Map<number, number>();
  for (const s of samples) {
    const wall = s.at + offsetMs(s.at, zone);
    walls.set(s.at, wall);
    add(wall, s.value);
    sampled.add(s.at - mod(wall, SLOT_MS));
  }
  // Then the half hours that hold none, from the sample whose stretch covers their start.
  const sorted = [...samples].sort((a, b) => a.at - b.at);
  const step = stepOf(sorted.map((s) => s.at));
  let next = 0;
  for (const s of sorted) {
    while (next < sorted.length && (sorted[next] as Sample).at <= s.at) next++;
    const end = Math.min(
      next < sorted.length ? (sorted[next] as Sample).at : Number.POSITIVE_INFINITY,
      s.at + step,
    );
    const wall = walls.get(s.at) as number;
    for (let b = s.at - mod(wall, SLOT_MS) + SLOT_MS; b < end; b += SLOT_MS)
      if (!sampled.has(b)) add(b + offsetMs(b, zone), s.value);
  }
  return (wall) => {
    const w = week.get(weekSlot(wall)) ?? day.get(daySlot(wall));
    return w === undefined ? undefined : w.sum / w.n;
  };
}

/** Does a stretch of local wall-clock time [wall, wall + ms) keep to the allowed hours and dates? */
function rulesOf(opts: WindowOptions): (wall: number, ms: number) => boolean {
  const blackout = new Set((opts.blackout ?? []).map((d) => Date.parse(`${d}T00:00:00Z`) / DAY_MS));
  const h = opts.allowedHours;
  const from = h === undefined ? 0 : mod(Math.round(h.start * 60) * MINUTE_MS, DAY_MS);
  const span = h === undefined ? DAY_MS : mod(Math.round(h.end * 60) * MINUTE_MS - from - 1, DAY_MS) + 1;
  return (wall, ms) => {
    for (let d = Math.floor(wall / DAY_MS); d <= Math.floor((wall + ms - 1) / DAY_MS); d++)
      if (blackout.has(d)) return false;
    return span === DAY_MS || mod(mod(wall, DAY_MS) - from, DAY_MS) + ms <= span;
  };
}

/** The region's best window, or why it has none. */
export function chooseWindow(
  region: string,
  timeZone: string,
  samples: readonly Sample[],
  opts: WindowOptions,
): Window | NoWindow {
  if (samples.length === 0) return { none: "no-history" };
  const predict = profile(samples, timeZone);
  const keeps = rulesOf(opts);
  const first = Math.ceil(Math.max(opts.from, opts.notBefore ?? opts.from) / QUARTER_MS) * QUARTER_MS;
  const last = opts.from + opts.days * DAY_MS;
  // The local wall-clock time of every UTC quarter hour a candidate can reach: within a quarter
  // hour the offset does not change, and local half hours start on quarter hours.
  const walls: number[] = [];
  for (let t = first; t < last + opts.lengthMs; t += QUARTER_MS) walls.push(t + offsetMs(t, timeZone));
  const missing = new Set<number>();
  let best: { i: number; mean: number } | undefined;
  for (let i = 0; first + i * QUARTER_MS <= last && i < walls.length; i++) {
    if (mod(walls[i] as number, SLOT_MS) !== 0) continue;
    const r = judge(i);
    if (r === undefined) continue;
    if (typeof r !== "number") for (const s of r) missing.add(s);
    else if (best === undefined || r < best.mean - 1e-12) best = { i, mean: r };
  }
  if (best !== undefined)
    return windowAt(
      region,
      timeZone,
      first + best.i * QUARTER_MS,
      walls[best.i] as number,
      best.mean,
      opts.lengthMs,
    );
  if (missing.size > 0)
    return {
      none: "unsampled",
      times: [...missing]
        .sort((a, b) => a - b)
        .map((s) => hhmm({ hour: Math.floor(s / 2), minute: (s % 2) * 30 })),
    };
  return { none: "rules" };

  /** The mean of the candidate at quarter hour i; undefined when it breaks a rule; the local half hours without prediction. */
  function judge(i: number): number | number[] | undefined {
    const end = first + i * QUARTER_MS + opts.lengthMs;
    let sum = 0;
    let weight = 0;
    const unsampled: number[] = [];
    let slot = { start: Number.NaN, value: undefined as number | undefined, ms: 0 };
    const flush = () => {
      if (slot.ms === 0 || slot.value === undefined) return;
      const w = slot.ms / SLOT_MS;
      sum += slot.value * w;
      weight += w;
    };
    for (let j = i, t = first + i * QUARTER_MS; t < end; j++, t += QUARTER_MS) {
      const wall = walls[j] as number;
      const ms = Math.min(end, t + QUARTER_MS) - t;
      if (!keeps(wall, ms)) return undefined;
      const start = t - mod(wall, SLOT_MS);
      if (start === slot.start) {
        slot.ms += ms;
        continue;
      }
      flush();
      slot = { start, value: predict(wall), ms };
      if (slot.value === undefined) unsampled.push(daySlot(wall));
    }
    flush();
    return unsampled.length > 0 ? unsampled : sum / weight;
  }
}

function windowAt(
  region: string,
  timeZone: string,
  startMs: number,
  startWall: number,
  utilization: number,
  lengthMs: number,
): Window {
  const endMs = startMs + lengthMs;
  const endWall = endMs + offsetMs(endMs, timeZone);
  const a = wallParts(startWall);
  const b = wallParts(endWall);
  let label = `${a.weekdayName} ${hhmm(a)}-${hhmm(b)} ${zoneLabel(timeZone)}`;
  // What the label reads (end minus start on the clock) is not always how long the window is.
  if (mod(endWall - startWall, DAY_MS) !== mod(lengthMs, DAY_MS) || lengthMs >= DAY_MS) {
    const shift = endWall - endMs - (startWall - startMs);
    label += ` (${formatMs(lengthMs)}${shift === 0 ? "" : `; clocks go ${shift < 0 ? "back" : "forward"} ${formatMs(Math.abs(shift))}`})`;
  }
  return { region, timeZone, startMs, endMs, utilization, label };
}
