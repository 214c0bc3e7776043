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
