import { describe, expect, it } from "vitest";
import { InputError, type Problem } from "../errors.js";
import { parseCsvHistory, parsePrometheusHistory } from "./history.js";

function problemsOf(f: () => unknown): Problem[] {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as InputError).problems;
  }
  throw new Error("expected an input error");
}

const prom = (values: [number, string][]) =>
  JSON.stringify({
    status: "success",
    data: { resultType: "matrix", result: [{ metric: { region: "u" }, values }] },
  });

describe("NaN and Inf, as Prometheus writes them for 0/0 and x/0", () => {
  it.each([
    ["NaN", "NaN for 0/0", "(...) >= 0"],
    ["+Inf", "+Inf for x/0", "(...) <= 1"],
    ["-Inf", "-Inf for x/0", "(...) >= 0"],
  ])(
    "%s in a query_range response: named, with the filter that drops it, never out of range",
    (v, why, filter) => {
      const [p, ...rest] = problemsOf(() =>
        parsePrometheusHistory(
          prom([
            [1767578400, "0.5"],
            [1767579300, v],
          ]),
          "h.json",
        ),
      );
      expect(rest).toEqual([]);
      expect(p).toEqual({
        file: "h.json",
        path: "data.result[0].values[1][1]",
        message: `"${v}" is not a measurement (Prometheus writes ${why})`,
        expected: `a fraction 0..1: filter it out in the query, e.g. ${filter}, or remove the sample`,
      });
    },
  );

  it("NaN in a CSV row: the same, with its line", () => {
    const csv = "timestamp,region,utilization\n2026-01-05T02:00:00Z,u,0.5\n2026-01-05T02:15:00Z,u,NaN\n";
    expect(problemsOf(() => parseCsvHistory(csv, "h.csv"))).toEqual([
      {
        file: "h.csv",
        line: 3,
        path: "utilization",
        message: '"NaN" is not a measurement (Prometheus writes NaN for 0/0)',
        expected: "a number 0..1: filter it out in the query, e.g. (...) >= 0, or remove the sample",
      },
    ]);
  });

  it("other values out of range are still out of range", () => {
    expect(problemsOf(() => parsePrometheusHistory(prom([[1767578400, "1.5"]]), "h.json"))[0]?.message).toBe(
      '"1.5" is out of range',
    );
  });
});

describe("CSV with quoted cells", () => {
  it("reads Grafana's export, where every cell is quoted", () => {
    const csv =
      '"timestamp","region","utilization"\r\n"2026-01-05T02:00:00Z","u","0.5"\r\n"2026-01-05T02:15:00Z","u, east","0.25"\r\n';
    expect(parseCsvHistory(csv, "h.csv")).toEqual([
      { region: "u", at: Date.UTC(2026, 0, 5, 2), value: 0.5 },
      { region: "u, east", at: Date.UTC(2026, 0, 5, 2, 15), value: 0.25 },
    ]);
  });

  it("bad quoting is an error with its file and line, and later lines keep their numbers", () => {
    const csv =
      'timestamp,region,utilization\n"2026-01-05T02:00:00Z","u"x,0.5\n"2026-01-05T02:15:00Z","two\nlines",0.5\n2026-01-05T02:30:00Z,u,2\n';
    expect(problemsOf(() => parseCsvHistory(csv, "h.csv"))).toEqual([
      expect.objectContaining({ file: "h.csv", line: 2, message: "text after the closing quote of a field" }),
      expect.objectContaining({
        file: "h.csv",
        line: 5,
        path: "utilization",
        message: '"2" is out of range',
      }),
    ]);
    expect(() => parseCsvHistory('"timestamp,region,utilization\n', "h.csv")).toThrow(
      /h\.csv:1: the header is .*: a quoted field that never closes/,
    );
  });
});
