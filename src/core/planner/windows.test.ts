import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { parseCsvHistory, parseHistory, parsePrometheusHistory } from "./history.js";
import { chooseWindow, type NoWindow, type Sample, type Window } from "./windows.js";
import { localParts, offsetZone, zoneLabel } from "./zone.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Monday 2026-01-05 00:00 UTC. */
const MONDAY = Date.UTC(2026, 0, 5);

/** Two weeks of samples every `step` (default half-hourly): `quiet(at)` says which are low. */
function history(
  region: string,
  quiet: (at: number) => boolean,
  from = MONDAY - 14 * DAY,
  step = HOUR / 2,
): Sample[] {
  const out: Sample[] = [];
  for (let at = from; at < from + 14 * DAY; at += step)
    out.push({ region, at, value: quiet(at) ? 0.1 : 0.6 });
  return out;
}

/** The window chosen, failing the test when there is none. */
function found(w: Window | NoWindow): Window {
  if (w === undefined || "none" in w) throw new Error(`no window: ${JSON.stringify(w)}`);
  return w;
}

/** Quiet between local hours [from, to) (fractions for minutes) in `zone`, on every day. */
const quietBetween = (zone: string, from: number, to: number) => (at: number) => {
  const l = localParts(at, zone);
  const h = l.hour + l.minute / 60;
  return from < to ? h >= from && h < to : h >= from || h < to;
};

/** Saturday 02:00-06:00 in Amsterdam (UTC+1 in January) is 01:00-05:00 UTC. */
const amsSaturdayNight = (at: number) => {
  const l = localParts(at, "Europe/Amsterdam");
  return l.weekday === 6 && l.hour >= 2 && l.hour < 6;
};

/** Where parsing `csv` as a history fails: each problem's line and path (it must throw an InputError). */
function csvProblems(csv: string): [number | undefined, string | undefined][] {
  try {
    parseCsvHistory(csv, "h.csv");
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as InputError).problems.map((p) => [p.line, p.path]);
  }
  throw new Error("parseCsvHistory accepted it");
}
describe("chooseWindow", () => {
  it("finds the quietest stretch in the region's own time zone and writes it readably", () => {
    const w = found(
      chooseWindow("ams", "Europe/Amsterdam", history("ams", amsSaturdayNight), {
        lengthMs: 4 * HOUR,
        from: MONDAY,
        days: 7,
      }),
    );
    expect(w.label).toBe("Sat 02:00-06:00 Europe/Amsterdam");
    expect(w.startMs).toBe(Date.UTC(2026, 0, 10, 1));
    expect(w.utilization).toBeCloseTo(0.1, 6);
  });

  it("honours allowed hours: a quiet afternoon outside them is not taken", () => {
    const quietAfternoon = quietBetween("UTC", 13, 17);
    const any = found(
      chooseWindow("r", "UTC", history("r", quietAfternoon), { lengthMs: 4 * HOUR, from: MONDAY, days: 7 }),
    );
    expect(any.label).toBe("Mon 13:00-17:00 UTC");
    const night = found(
      chooseWindow("r", "UTC", history("r", quietAfternoon), {
        lengthMs: 4 * HOUR,
        from: MONDAY,
        days: 7,
        allowedHours: { start: 22, end: 6 },
      }),
    );
    const start = localParts(night.startMs, "UTC").hour;
    expect(start === 22 || start === 23 || start < 2).toBe(true);
  });

  it("skips blackout dates (local) and finds the next quiet night", () => {
    const w = found(
      chooseWindow("ams", "Europe/Amsterdam", history("ams", amsSaturdayNight), {
        lengthMs: 4 * HOUR,
        from: MONDAY,
        days: 14,
        blackout: ["2026-01-10"],
      }),
    );
    expect(w.label).toBe("Sat 02:00-06:00 Europe/Amsterdam");
    expect(localParts(w.startMs, "Europe/Amsterdam").date).toBe("2026-01-17");
  });

  it("gives no window when the rules leave none, or without history, and says which", () => {
    const opts = { lengthMs: 4 * HOUR, from: MONDAY, days: 7, allowedHours: { start: 1, end: 3 } };
    expect(
      chooseWindow(
        "r",
        "UTC",
        history("r", () => true),
        opts,
      ),
    ).toEqual({ none: "rules" });
    expect(chooseWindow("r", "UTC", [], { ...opts, allowedHours: undefined })).toEqual({
      none: "no-history",
    });
  });

  it("offset zones read as UTC offsets, whole or not", () => {
    expect(offsetZone(-5)).toBe("UTC-05:00");
    expect(offsetZone(5.5)).toBe("UTC+05:30");
    expect(offsetZone(5.75)).toBe("UTC+05:45");
    expect(offsetZone(-3.5)).toBe("UTC-03:30");
    expect(offsetZone(0)).toBe("UTC");
    expect(zoneLabel("Etc/GMT-1")).toBe("UTC+01:00");
    expect(zoneLabel(offsetZone(9))).toBe("UTC+09:00");
    expect(localParts(Date.UTC(2026, 0, 5, 12), offsetZone(-5)).hour).toBe(7);
    expect(localParts(Date.UTC(2026, 0, 5, 22), offsetZone(5.5))).toMatchObject({
      date: "2026-01-06",
      weekdayName: "Tue",
      hour: 3,
      minute: 30,
    });
  });
});

describe("histories sampled less often than every half hour", () => {
  it("an hourly history predicts the half hours between its samples, in whole and half-hour zones", () => {
    for (const zone of ["UTC", "UTC+05:30", "Asia/Kathmandu", "America/New_York"]) {
      const hourly = history("r", quietBetween(zone, 1, 7), MONDAY - 14 * DAY, HOUR);
      const w = found(chooseWindow("r", zone, hourly, { lengthMs: 4 * HOUR, from: MONDAY, days: 7 }));
      expect(w.utilization, zone).toBeCloseTo(0.1, 6);
      expect(localParts(w.startMs, zone).minute % 30, zone).toBe(0);
    }
  });

  it("a local half hour the history never saw is named, not blamed on the rules", () => {
    // Half-hourly samples, but only from 00:00 to 11:30 each day.
    const mornings = history("r", () => true).filter((s) => localParts(s.at, "UTC").hour < 12);
    const opts = { lengthMs: 4 * HOUR, from: MONDAY, days: 7, allowedHours: { start: 10, end: 16 } };
    expect(chooseWindow("r", "UTC", mornings, opts)).toEqual({
      none: "unsampled",
      times: ["12:00", "12:30", "13:00", "13:30", "14:00", "14:30", "15:00", "15:30"],
    });
  });
});

describe("a window lies entirely inside the rules, in local time", () => {
  const QUARTER = 15 * MINUTE;

  it("starts on the local half hour and ends by the end of the allowed hours (UTC+05:45)", () => {
    const zone = "Asia/Kathmandu";
    const h = history("np", quietBetween(zone, 2.25, 6.25), MONDAY - 14 * DAY, QUARTER);
    const w = found(
      chooseWindow("np", zone, h, {
        lengthMs: 4 * HOUR,
        from: MONDAY,
        days: 7,
        allowedHours: { start: 22, end: 6 },
      }),
    );
    expect(w.label).toBe("Tue 02:00-06:00 Asia/Kathmandu");
    expect(w.startMs).toBe(Date.UTC(2026, 0, 5, 20, 15));
  });

  it("ends by an allowed-hours end that is not on the half hour", () => {
    const h = history("u", quietBetween("UTC", 3.5, 5.5), MONDAY - 14 * DAY, QUARTER);
    const w = found(
      chooseWindow("u", "UTC", h, {
        lengthMs: 2 * HOUR,
        from: MONDAY,
        days: 7,
        allowedHours: { start: 1, end: 5.25 },
      }),
    );
    expect(w.label).toBe("Mon 03:00-05:00 UTC");
  });

  it("does not run into a blackout date, even by its last minute", () => {
    const zone = "Asia/Kathmandu";
    const h = history("np", quietBetween(zone, 22, 2), MONDAY - 14 * DAY, QUARTER);
    const w = found(
      chooseWindow("np", zone, h, {
        lengthMs: 2 * HOUR,
        from: Date.UTC(2026, 0, 5, 12),
        days: 1,
        blackout: ["2026-01-06"],
      }),
    );
    expect(w.label).toBe("Mon 22:00-00:00 Asia/Kathmandu");
  });
});

describe("labels", () => {
  /** Monday 2026-10-19; the clocks in Amsterdam go back on Sunday 2026-10-25 at 03:00. */
  const OCT_MONDAY = Date.UTC(2026, 9, 19);
  const sundayNight = (at: number) => {
    const l = localParts(at, "Europe/Amsterdam");
    return l.weekday === 0 && l.hour >= 1 && l.hour < 4;
  };

  it("says how long a window is when the clocks change inside it", () => {
    const w = found(
      chooseWindow("ams", "Europe/Amsterdam", history("ams", sundayNight, OCT_MONDAY - 14 * DAY), {
        lengthMs: 4 * HOUR,
        from: OCT_MONDAY,
        days: 7,
      }),
    );
    expect(w.label).toBe("Sun 01:00-04:00 Europe/Amsterdam (4h00m; clocks go back 1h00m)");
    expect(w.endMs - w.startMs).toBe(4 * HOUR);
  });

  it("and when it lasts a day or more", () => {
    const w = found(
      chooseWindow(
        "r",
        "UTC",
        history("r", () => true),
        { lengthMs: 30 * HOUR, from: MONDAY, days: 7 },
      ),
    );
    expect(w.label).toBe("Mon 00:00-06:00 UTC (30h00m)");
  });
});

describe("history files", () => {
  it("reads CSV (fractions or percentages) and Prometheus query_range JSON alike", () => {
    const csv = "timestamp,region,utilization\n2026-01-05T02:00:00Z,r01,0.25\n1767578400,r02,0.5\n";
    expect(parseCsvHistory(csv, "h.csv")).toEqual([
      { region: "r01", at: Date.UTC(2026, 0, 5, 2), value: 0.25 },
      { region: "r02", at: 1767578400_000, value: 0.5 },
    ]);
    const pct = "timestamp,region,utilization_percent\n2026-01-05T02:00:00Z,r01,25\n";
    expect(parseCsvHistory(pct, "h.csv")[0]?.value).toBe(0.25);
    const prom = JSON.stringify({
      status: "success",
      data: { resultType: "matrix", result: [{ metric: { dc: "r01" }, values: [[1767578400, "0.3"]] }] },
    });
    expect(parseHistory(prom, "h.json", "dc")).toEqual([{ region: "r01", at: 1767578400_000, value: 0.3 }]);
  });

  it("reports every bad CSV row with its line", () => {
    const csv =
      "timestamp,region,utilization\n2026-01-05T02:00:00Z,r01,0.25\nyesterday,r01,0.3\n2026-01-05T03:00:00Z,,0.3\n2026-01-05T04:00:00Z,r01,1.7\n";
    expect(csvProblems(csv)).toEqual([
      [3, "timestamp"],
      [4, "region"],
      [5, "utilization"],
    ]);
    expect(() => parseCsvHistory("time,value\n", "h.csv")).toThrow(
      /h\.csv:1: .*timestamp, region and utilization/,
    );
  });

  it("refuses CSV timestamps past the year 9999 and values that are no decimal number (never 0)", () => {
    const csv =
      "timestamp,region,utilization\n99999999999999999999,r01,0.2\n2026-01-05T02:00:00Z,r01,0x0\n2026-01-05T03:00:00Z,r01,1e-1\n";
    expect(csvProblems(csv)).toEqual([
      [2, "timestamp"],
      [3, "utilization"],
    ]);
    expect(parseCsvHistory("timestamp,region,utilization\n253402300799,r01,1e-1\n", "h.csv")).toEqual([
      { region: "r01", at: 253402300799_000, value: 0.1 },
    ]);
  });

  it("reports bad Prometheus JSON with the path", () => {
    const bad = JSON.stringify({
      status: "success",
      data: {
        resultType: "matrix",
        result: [
          {
            metric: { region: "r01" },
            values: [
              [1, "0.2"],
              [2, "NaN"],
            ],
          },
        ],
      },
    });
    expect(() => parsePrometheusHistory(bad, "h.json")).toThrow(
      /h\.json: data\.result\[0\]\.values\[1\]\[1\]: "NaN" is not a measurement/,
    );
    expect(() => parsePrometheusHistory('{"status":"error"}', "h.json")).toThrow(/h\.json: status/);
    expect(() => parsePrometheusHistory(bad, "h.json", "dc")).toThrow(/has no "dc" label/);
  });

  it("refuses Prometheus samples out of the calendar (1970..9999) and empty or hex values, with the path", () => {
    const doc = (values: [number, string][]) =>
      JSON.stringify({
        status: "success",
        data: { resultType: "matrix", result: [{ metric: { region: "r01" }, values }] },
      });
    expect(() => parsePrometheusHistory(doc([[1e308, "0.2"]]), "h.json")).toThrow(
      /h\.json: data\.result\[0\]\.values\[0\]\[0\]: 1e\+308 is not a time/,
    );
    expect(() => parsePrometheusHistory(doc([[-1e15, "0.2"]]), "h.json")).toThrow(/values\[0\]\[0\]/);
    expect(() => parsePrometheusHistory(doc([[1767578400, ""]]), "h.json")).toThrow(
      /values\[0\]\[1\]: "" is out of range/,
    );
    expect(() => parsePrometheusHistory(doc([[1767578400, "0x0"]]), "h.json")).toThrow(
      /values\[0\]\[1\]: "0x0" is out of range/,
    );
    expect(parsePrometheusHistory(doc([[1767578400, "1e-3"]]), "h.json")).toEqual([
      { region: "r01", at: 1767578400_000, value: 0.001 },
    ]);
  });
});
