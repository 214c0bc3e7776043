/** Injected failures that cannot happen in a run: outside its scope, or past its time limit. */
import { describe, expect, it } from "vitest";
import { generateFleet, parseFleetSpec } from "./fleet-gen.js";
import { readScenario } from "./scenario.js";
import { unreachableFailures } from "./scenario-reach.js";

/** Two regions of 4 hosts (h004 a hold-over), racks r0N-k01 (h001, h003) and r0N-k02 (h002, h004). */
const { hosts } = generateFleet(parseFleetSpec("regions=2,hosts=4,holdovers=0.25"));
const DAY = 86_400_000;
/** The run: the workers of r01. */
const scope = hosts.filter((h) => h.region === "r01" && h.role === "worker");

function warnings(failures: string[], limitMs = 7 * DAY, waitMs = 0) {
  const src = readScenario(`failures:\n${failures.map((f) => `  - ${f}\n`).join("")}`, "s.yaml");
  return unreachableFailures(src.scenario, { hosts, scope, limitMs, waitMs }, src.file, src.placeOf).map(
    (p) => `${p.file}:${p.line}:${p.column}: ${p.path}: ${p.message}`,
  );
}

describe("failures that can never happen in a run", () => {
  it("names each failure whose hosts are all outside the scope, at its target", () => {
    expect(
      warnings([
        "{ kind: never-returns, host: r02-h003 }",
        "{ kind: unhealthy, host: r01-h004 }",
        "{ kind: clock-skew, rack: r02-k01, seconds: 9 }",
        "{ kind: power-trip, power: r02-p01, maxPosting: 1 }",
        "{ kind: command-fails, host: r02-h001, command: x }",
      ]),
    ).toEqual([
      's.yaml:2:34: failures[0].host: never-returns on host "r02-h003" can never happen: the host is not in this run\'s scope',
      's.yaml:3:30: failures[1].host: unhealthy on host "r01-h004" can never happen: the host is not in this run\'s scope',
      's.yaml:4:31: failures[2].rack: clock-skew on rack "r02-k01" can never happen: none of its 2 host(s) is in this run\'s scope',
      's.yaml:5:32: failures[3].power: power-trip on power "r02-p01" can never happen: none of its 4 host(s) is in this run\'s scope',
      's.yaml:6:34: failures[4].host: command-fails on host "r02-h001" can never happen: the host is not in this run\'s scope',
    ]);
  });

  it("says nothing of a failure with one host in the scope", () => {
    expect(
      warnings([
        "{ kind: never-returns, host: r01-h003 }",
        "{ kind: unhealthy, rack: r01-k02 }", // r01-h002 (in scope) and the hold-over r01-h004
        "{ kind: disk-dies, power: r01-p01 }",
      ]),
    ).toEqual([]);
  });

  it("a partition reaches the hosts a drain can move workloads to: the scope's regions", () => {
    expect(
      warnings([
        "{ kind: partition, host: r01-h004, from: 1m, until: 2m }", // r01's hold-over: a drain target
        "{ kind: partition, rack: r02-k02, from: 1m, until: 2m }",
      ]),
    ).toEqual([
      's.yaml:3:30: failures[1].rack: partition on rack "r02-k02" can never happen: none of its 2 host(s) is in this run\'s scope or its regions',
    ]);
  });

  it("names a coordinator kill or a partition at or after the time limit, at its time", () => {
    expect(
      warnings([
        "{ kind: coordinator-kill, at: 7d }",
        "{ kind: coordinator-kill, at: 100d }",
        "{ kind: coordinator-kill, at: 167h59m }",
        "{ kind: partition, host: r01-h001, from: 8d, until: 9d }",
      ]),
    ).toEqual([
      "s.yaml:2:35: failures[0].at: coordinator-kill at 7d can never happen: the simulation stops at 7d",
      "s.yaml:3:35: failures[1].at: coordinator-kill at 100d can never happen: the simulation stops at 7d",
      "s.yaml:5:46: failures[3].from: partition from 8d can never happen: the simulation stops at 7d",
    ]);
  });

  it("with windows, the limit counts from the first opening", () => {
    const wait = 5 * 3_600_000 + 30 * 60_000;
    expect(warnings(["{ kind: coordinator-kill, at: 7d }"], 7 * DAY + wait, wait)).toEqual([]);
    expect(warnings(["{ kind: coordinator-kill, at: 8d }"], 7 * DAY + wait, wait)).toEqual([
      "s.yaml:2:35: failures[0].at: coordinator-kill at 8d can never happen: the simulation stops at 173h30m (7d after the first window opens at 5h30m)",
    ]);
  });
});
