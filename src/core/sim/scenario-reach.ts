/**
 * Injected failures that cannot happen in one run: every host they name is outside the run's scope,
 * or their time lies past the simulation's time limit. A scenario may be shared by several plans
 * and scopes, so these are warnings for the CLI to show, never errors.
 *
 * Invariants:
 * - Pure. At most one warning per failure, located at the failure's target or time
 *   (`failures[N].host`, `failures[N].at`) with the file's line and column when known.
 * - Certain, not guessed: a failure is reported only when nothing in the run can set it off. Host
 *   failures act when one of their hosts reboots or runs a command, and only the run's hosts do;
 *   a partition also cuts the coordinator off from the hosts a drain may move workloads to (the
 *   other hosts of the scope's regions), so it counts as reachable there too. A coordinator kill
 *   or a partition at or after the time limit never starts (the runner stops at the limit).
 *   Whether a reachable failure does fire (the plan may never reboot) is not judged here.
 */
import type { Problem } from "../errors.js";
import type { Host } from "../model/fleet.js";
import { formatDuration } from "../plan/duration.js";
import { type PlaceOf, type Scenario, scenarioProblem } from "./scenario.js";

const DAY = 86_400_000;

export interface RunReach {
  /** Every host of the simulated fleet. */
  hosts: readonly Host[];
  /** The run's hosts. */
  scope: readonly Host[];
  /** Virtual time (ms from the start of the simulation) at which the simulation stops. */
  limitMs: number;
  /** The part of `limitMs` spent waiting for the first window to open (0 without windows). */
  waitMs?: number;
}

export function unreachableFailures(s: Scenario, run: RunReach, file: string, placeOf?: PlaceOf): Problem[] {
  const inScope = new Set(run.scope.map((h) => h.name));
  const regions = new Set(run.scope.map((h) => h.region));
  const limit = `the simulation stops at ${span(run.limitMs)}${run.waitMs ? ` (${span(run.limitMs - run.waitMs)} after the first window opens at ${span(run.waitMs)})` : ""}`;
  const problems: Problem[] = [];
  s.failures.forEach((f, i) => {
    if (f.kind === "coordinator-kill") {
      if (f.at >= run.limitMs)
        problems.push(
          scenarioProblem(file, placeOf, ["failures", i, "at"], {
            message: `coordinator-kill at ${span(f.at)} can never happen: ${limit}`,
            expected: `a time before ${span(run.limitMs)}`,
          }),
        );
      return;
    }
    if (f.kind === "partition" && f.from >= run.limitMs) {
      problems.push(
        scenarioProblem(file, placeOf, ["failures", i, "from"], {
          message: `partition from ${span(f.from)} can never happen: ${limit}`,
          expected: `a time before ${span(run.limitMs)}`,
        }),
      );
      return;
    }
    const key = f.host !== undefined ? "host" : f.rack !== undefined ? "rack" : "power";
    const name = f[key] as string;
    const named = run.hosts.filter((h) =>
      key === "host" ? h.name === name : h.failureDomains[key] === name,
    );
    const reaches = (h: Host) => inScope.has(h.name) || (f.kind === "partition" && regions.has(h.region));
    if (named.length === 0 || named.some(reaches)) return;
    const where = f.kind === "partition" ? "this run's scope or its regions" : "this run's scope";
    const why =
      key === "host" ? `the host is not in ${where}` : `none of its ${named.length} host(s) is in ${where}`;
    problems.push(
      scenarioProblem(file, placeOf, ["failures", i, key], {
        message: `${f.kind} on ${key} "${name}" can never happen: ${why}`,
        expected: "a target among the hosts the plan's hosts pattern and --limit select",
      }),
    );
  });
  return problems;
}

/** `7d`, `100d` for whole days, else `5h30m`. */
function span(ms: number): string {
  return ms >= DAY && ms % DAY === 0 ? `${ms / DAY}d` : formatDuration(ms);
}
