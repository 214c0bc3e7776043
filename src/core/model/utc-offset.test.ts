/** `overhaul_utc_offset`: whole quarter hours from -12 to +14, or an error naming the host. */
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import type { Host } from "./fleet.js";
import { checkUtcOffsets, regionUtcOffsets, utcOffsetHours } from "./utc-offset.js";

function host(name: string, region: string, offset?: unknown): Host {
  return {
    name,
    address: name,
    connection: "local",
    region,
    failureDomains: {},
    role: "worker",
    groups: [],
    vars: offset === undefined ? {} : { overhaul_utc_offset: offset },
  };
}

describe("utcOffsetHours", () => {
  it.each([
    [undefined, 0],
    [0, 0],
    [1, 1],
    [-5, -5],
    [5.5, 5.5],
    [5.75, 5.75],
    [9.5, 9.5],
    [-3.5, -3.5],
    [14, 14],
    [-12, -12],
    ["5.5", 5.5],
    [" -8 ", -8],
  ])("%j is %d hours", (raw, hours) => {
    expect(utcOffsetHours(host("h1", "r", raw))).toBe(hours);
  });

  it.each([["+01:00"], ["abc"], [""], [5.1], [15], [-12.25], ["1e1"], ["0x10"], [true], [Number.NaN], [[5]]])(
    "%j is refused, naming the host and the variable",
    (raw) => {
      expect(() => utcOffsetHours(host("in-w1", "in", raw))).toThrow(InputError);
      expect(() => utcOffsetHours(host("in-w1", "in", raw))).toThrow(
        /in-w1\.overhaul_utc_offset: .* is not a UTC offset \(expected hours east of UTC in whole quarter hours from -12 to 14/,
      );
    },
  );

  it("checks every host at once, and gives each region its first host's offset", () => {
    const hosts = [
      host("a1", "a", 5.5),
      host("a2", "a", 5.5),
      host("b1", "b", "x"),
      host("c1", "c", "+01:00"),
    ];
    try {
      checkUtcOffsets(hosts, "inv.ini");
      throw new Error("accepted");
    } catch (e) {
      expect((e as InputError).problems.map((p) => [p.file, p.path])).toEqual([
        ["inv.ini", "b1.overhaul_utc_offset"],
        ["inv.ini", "c1.overhaul_utc_offset"],
      ]);
    }
    expect([...regionUtcOffsets([host("a1", "a", 5.5), host("b1", "b"), host("a2", "a", 1)])]).toEqual([
      ["a", 5.5],
      ["b", 0],
    ]);
  });
});
