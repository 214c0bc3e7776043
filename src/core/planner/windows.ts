/**
 * Maintenance windows: each region's quietest stretch of the required length in the coming days,
 * predicted from its utilization history, inside the allowed hours, off the blackout dates, in the
 * region's own time zone; written as people read them (`Sat 02:00-06:00 Europe/Amsterdam`).
 *
 * Invariants:
 * - Pure: time zones come from Intl (the IANA database), never from the machine's zone; the same
 *   history and options give the same windows.
 * - Prediction: the mean of the history's samples at the same local weekday and half hour; a slot
 *   the history never saw falls back to the same half hour on any day; a region without history
 *   cannot get a window (it is reported, never guessed).
 * - Candidates start on the local half hour, between `from` and `from + days`; a window must lie
 *   entirely inside the allowed hours and touch no blackout date (local dates). Ties go to the
 *   earliest start.
 */

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
  /** How far ahead to look, days. */
  days: number;
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

const SLOT_MS = 30 * 60_000;
const SLOTS_PER_DAY = 48;
const DAY_MS = 86_400_000;

interface Local {
  weekday: number;
  weekdayName: string;
  date: string;
  hour: number;
  minute: number;
}

const formats = new Map<string, Intl.DateTimeFormat>();

function formatOf(timeZone: string): Intl.DateTimeFormat {
  let f = formats.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      weekday: "short",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    });
    formats.set(timeZone, f);
  }
  return f;
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** The local calendar parts of an instant in an IANA time zone. */
export function localParts(at: number, timeZone: string): Local {
  const parts: Record<string, string> = {};
  for (const p of formatOf(timeZone).formatToParts(new Date(at))) parts[p.type] = p.value;
  const weekdayName = parts.weekday ?? "Sun";
  return {
    weekday: WEEKDAYS.indexOf(weekdayName),
    weekdayName,
    date: `${parts.year}-${parts.month}-${parts.day}`,
    hour: Number(parts.hour),
    minute: Number(parts.minute),
  };
}

/** Is this an IANA time zone Intl knows? */
export function isTimeZone(tz: string): boolean {
  try {
    formatOf(tz);
    return true;
  } catch {
    return false;
  }
}

/** A whole-hour UTC offset as the IANA `Etc/GMT` zone (whose sign is reversed: UTC+1 is Etc/GMT-1). */
export function offsetZone(hours: number): string {
  if (hours === 0) return "UTC";
  return `Etc/GMT${hours > 0 ? "-" : "+"}${Math.abs(hours)}`;
}

/** `Europe/Amsterdam` as is; `Etc/GMT-1` as `UTC+01:00` (people do not read the reversed sign). */
export function zoneLabel(timeZone: string): string {
  const m = /^Etc\/GMT([+-])(\d{1,2})$/.exec(timeZone);
  if (m === null) return timeZone;
  return `UTC${m[1] === "-" ? "+" : "-"}${(m[2] as string).padStart(2, "0")}:00`;
}

function slotOf(l: Local): number {
  return l.hour * 2 + (l.minute >= 30 ? 1 : 0);
}

/** Predicted utilization per (weekday, half hour) and per half hour, from a region's samples. */
function profile(samples: readonly Sample[], timeZone: string): (l: Local) => number | undefined {
  const week = new Map<number, { sum: number; n: number }>();
  const day = new Map<number, { sum: number; n: number }>();
  const add = (m: Map<number, { sum: number; n: number }>, k: number, v: number) => {
    const e = m.get(k) ?? { sum: 0, n: 0 };
    e.sum += v;
    e.n++;
    m.set(k, e);
  };
  for (const s of samples) {
    const l = localParts(s.at, timeZone);
    add(week, l.weekday * SLOTS_PER_DAY + slotOf(l), s.value);
    add(day, slotOf(l), s.value);
  }
  return (l) => {
    const w = week.get(l.weekday * SLOTS_PER_DAY + slotOf(l)) ?? day.get(slotOf(l));
    return w === undefined ? undefined : w.sum / w.n;
  };
}

function allowed(l: Local, hours: WindowOptions["allowedHours"]): boolean {
  if (hours === undefined) return true;
  const h = l.hour + l.minute / 60;
  if (hours.start < hours.end) return h >= hours.start && h < hours.end;
  return h >= hours.start || h < hours.end;
}

function hhmm(l: Local): string {
  return `${String(l.hour).padStart(2, "0")}:${String(l.minute).padStart(2, "0")}`;
}

/** The region's best window, or undefined when no candidate satisfies the rules (or no history). */
export function chooseWindow(
  region: string,
  timeZone: string,
  samples: readonly Sample[],
  opts: WindowOptions,
): Window | undefined {
  if (samples.length === 0) return undefined;
  const predict = profile(samples, timeZone);
  const blackout = new Set(opts.blackout ?? []);
  const slots = Math.max(1, Math.ceil(opts.lengthMs / SLOT_MS));
  const first = Math.ceil(opts.from / SLOT_MS) * SLOT_MS;
  const last = opts.from + opts.days * DAY_MS;
  // Local parts and predictions of every half hour in the horizon (plus one window's length).
  const locals: Local[] = [];
  const values: (number | undefined)[] = [];
  for (let t = first; t < last + opts.lengthMs; t += SLOT_MS) {
    const l = localParts(t, timeZone);
    locals.push(l);
    values.push(predict(l));
  }
  let best: Window | undefined;
  for (let i = 0; i + slots <= locals.length; i++) {
    const start = first + i * SLOT_MS;
    if (start > last) break;
    let sum = 0;
    let ok = true;
    for (let j = i; j < i + slots; j++) {
      const l = locals[j] as Local;
      const v = values[j];
      if (v === undefined || blackout.has(l.date) || !allowed(l, opts.allowedHours)) {
        ok = false;
        break;
      }
      sum += v;
    }
    if (!ok) continue;
    const mean = sum / slots;
    if (best !== undefined && mean >= best.utilization - 1e-12) continue;
    const endMs = start + opts.lengthMs;
    const a = locals[i] as Local;
    const b = localParts(endMs, timeZone);
    best = {
      region,
      timeZone,
      startMs: start,
      endMs,
      utilization: mean,
      label: `${a.weekdayName} ${hhmm(a)}-${hhmm(b)} ${zoneLabel(timeZone)}`,
    };
  }
  return best;
}
