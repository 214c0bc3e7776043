/** Scenario files: defaults, durations in ms, and located errors for bad failures. */
import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { checkScenarioTargets, defaultScenario, parseScenarioText, readScenario } from "./scenario.js";

describe("scenario file", () => {
  it("applies defaults and converts durations", () => {
    const s = parseScenarioText(
      "seed: 7\nboot: { min: 2m, max: 15m, kexec: true }\nfailures:\n  - { kind: partition, rack: k1, from: 1m, until: 5m }\n",
      "s.yaml",
    );
    expect(s.seed).toBe(7);
    expect(s.boot).toEqual({ min: 120_000, max: 900_000, kexec: true });
    expect(s.failures[0]).toEqual({ kind: "partition", rack: "k1", from: 60_000, until: 300_000 });
    expect(parseScenarioText("{}", "s.yaml")).toEqual({
      seed: 1,
      boot: { min: 120_000, max: 900_000, kexec: false },
      failures: [],
      unknownCommands: "succeed",
    });
    expect(parseScenarioText("{}", "s.yaml")).toEqual(defaultScenario());
  });

  it("reports bad failures with file, line and path", () => {
    const text =
      "seed: 1\nfailures:\n  - { kind: never-returns, host: a }\n  - { kind: meteor, host: b }\n  - { kind: unhealthy }\n";
    try {
      parseScenarioText(text, "s.yaml");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      const ps = (e as InputError).problems;
      expect(ps.map((p) => [p.file, p.line, p.path])).toEqual([
        ["s.yaml", 4, "failures[1].kind"],
        ["s.yaml", 5, "failures[2]"],
      ]);
    }
  });

  it("an unknown key of a failure: the keys of its kind are expected, and the key is not suggested to itself", () => {
    const text = [
      "failures:",
      "  - { kind: never-returns, host: r01-h001, seconds: 5 }",
      "  - { kind: partition, host: r01-h001, from: 1m, until: 2m, probability: 0.5 }",
      "  - { kind: clock-skew, host: r01-h001, secnds: 5 }",
      "",
    ].join("\n");
    try {
      parseScenarioText(text, "s.yaml");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).problems.map((p) => [p.line, p.path, p.message, p.expected])).toEqual([
        [2, "failures[0].seconds", 'unknown key "seconds"', "one of kind, host, rack, power"],
        [
          3,
          "failures[1].probability",
          'unknown key "probability"',
          "one of kind, host, rack, power, from, until",
        ],
        [4, "failures[2].seconds", 'missing required key "seconds"', "an integer"],
        [
          4,
          "failures[2].secnds",
          'unknown key "secnds" (did you mean "seconds"?)',
          "one of kind, host, rack, power, seconds",
        ],
      ]);
    }
  });

  it("refuses a seed above 32 bits (it would repeat a smaller seed's run), at the seed", () => {
    expect(parseScenarioText("seed: 4294967295\n", "s.yaml").seed).toBe(4294967295);
    expect(() => parseScenarioText("seed: 4294967297\n", "s.yaml")).toThrow(
      "s.yaml:1:7: seed: must be at most 4294967295, got 4294967297 (expected an integer from 0 to 4294967295)",
    );
  });

  it("refuses a partition that ends before it starts (it would do nothing), at its until", () => {
    const text = "failures:\n  - kind: partition\n    rack: k1\n    from: 5m\n    until: 1m\n";
    try {
      parseScenarioText(text, "s.yaml");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      const [p] = (e as InputError).problems;
      expect([p?.line, p?.path, p?.message]).toEqual([
        5,
        "failures[0].until",
        "a partition must end after it starts (until > from)",
      ]);
    }
  });

  it("refuses failure targets that are not in the fleet", () => {
    const s = parseScenarioText(
      "failures:\n  - { kind: unhealthy, host: r09-h001 }\n  - { kind: power-trip, power: p1, maxPosting: 1 }\n",
      "s.yaml",
    );
    const hosts = [
      {
        name: "a",
        address: "a",
        connection: "ssh" as const,
        region: "r",
        failureDomains: { rack: "k1", power: "p1" },
        role: "worker" as const,
        groups: [],
        vars: {},
      },
    ];
    expect(() => checkScenarioTargets(s, hosts, "s.yaml")).toThrow(/failures\[0\]\.host: no host "r09-h001"/);
    expect(() => checkScenarioTargets({ ...s, failures: [s.failures[1]!] }, hosts, "s.yaml")).not.toThrow();
  });

  it("locates a target that is not in the fleet at its line and column, like every other scenario problem", () => {
    const text =
      "failures:\n  - { kind: unhealthy, host: nope }\n  - kind: power-trip\n    power: p9\n    maxPosting: 1\n";
    const { scenario, file, placeOf } = readScenario(text, "s.yaml");
    const host = {
      name: "a",
      address: "a",
      connection: "ssh" as const,
      region: "r",
      role: "worker" as const,
    };
    const hosts = [{ ...host, failureDomains: { rack: "k1", power: "p1" }, groups: [], vars: {} }];
    try {
      checkScenarioTargets(scenario, hosts, file, placeOf);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).message.split("\n")).toEqual([
        's.yaml:2:30: failures[0].host: no host "nope" in the simulated fleet (expected one of a)',
        's.yaml:4:12: failures[1].power: no power "p9" in the simulated fleet (expected one of p1)',
      ]);
    }
  });
});
