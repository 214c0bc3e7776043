/**
 * A region's clock: an IANA time zone (`Europe/Amsterdam`, read through Intl) or a fixed UTC offset
 * (`UTC+05:30`, from `overhaul_utc_offset`), and the local time of an instant in it.
 *
 * Invariants:
 * - Pure: never the machine's zone. Local wall-clock time is the instant plus the zone's offset at
 *   that instant, read in UTC; a fixed offset is the same at every instant (Node 20's Intl rejects
 *   `+05:30` as a zone, and the `Etc/GMT` zones only have whole hours).
 * - Offsets are whole seconds (Intl gives no finer); the zones in use today have offsets of whole
 *   quarter hours that change on a UTC quarter hour, which the window search relies on.
 * - A fixed-offset zone is named `UTC` or `UTC±HH:MM`, which is also how it is written for people.
 */

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;

export interface Local {
  /** 0 Sunday .. 6 Saturday. */
  weekday: number;
  weekdayName: string;
  /** YYYY-MM-DD. */
  date: string;
  hour: number;
  minute: number;
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const FIXED = /^UTC(?:([+-])(\d\d):([0-5]\d))?$/;

const formats = new Map<string, Intl.DateTimeFormat>();
const fixed = new Map<string, number | null>();

function formatOf(timeZone: string): Intl.DateTimeFormat {
  let f = formats.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formats.set(timeZone, f);
  }
  return f;
}

/** The offset of a fixed-offset zone (`UTC`, `UTC+05:30`) in ms, or null for any other name. */
function fixedOffsetMs(zone: string): number | null {
  let ms = fixed.get(zone);
  if (ms === undefined) {
    const m = FIXED.exec(zone);
    ms =
      m === null
        ? null
        : m[1] === undefined
          ? 0
          : (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * MINUTE_MS;
    fixed.set(zone, ms);
  }
  return ms;
}

/** `zone`'s offset from UTC at `at`, in ms: the local wall-clock time is `at + offsetMs(at, zone)`. */
export function offsetMs(at: number, zone: string): number {
  const f = fixedOffsetMs(zone);
  if (f !== null) return f;
  const p: Record<string, number> = {};
  for (const part of formatOf(zone).formatToParts(new Date(at))) p[part.type] = Number(part.value);
  const wall = Date.UTC(
    p.year ?? 1970,
    (p.month ?? 1) - 1,
    p.day ?? 1,
    p.hour ?? 0,
    p.minute ?? 0,
    p.second ?? 0,
  );
  return wall - Math.floor(at / 1000) * 1000;
}

/** The calendar parts of a local wall-clock time (as given by `at + offsetMs(at, zone)`). */
export function wallParts(wall: number): Local {
  const d = new Date(wall);
  const weekday = d.getUTCDay();
  return {
    weekday,
    weekdayName: WEEKDAYS[weekday] as string,
    date: d.toISOString().slice(0, 10),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
  };
}

/** The local calendar parts of an instant in a zone. */
export function localParts(at: number, zone: string): Local {
  return wallParts(at + offsetMs(at, zone));
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

/** A UTC offset in hours (whole minutes) as a fixed-offset zone: `UTC`, `UTC+05:30`, `UTC-03:00`. */
export function offsetZone(hours: number): string {
  const minutes = Math.round(hours * 60);
  if (minutes === 0) return "UTC";
  const abs = Math.abs(minutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return `UTC${minutes > 0 ? "+" : "-"}${hh}:${mm}`;
}

/** `Europe/Amsterdam` as is; `Etc/GMT-1` as `UTC+01:00` (people do not read the reversed sign). */
export function zoneLabel(timeZone: string): string {
  const m = /^Etc\/GMT([+-])(\d{1,2})$/.exec(timeZone);
  if (m === null) return timeZone;
  return `UTC${m[1] === "-" ? "+" : "-"}${(m[2] as string).padStart(2, "0")}:00`;
}
