import { describe, expect, it } from "vitest";
import { chooseRunForHost, type RunWithHost } from "./host-run.js";

const r = (run: string, runState: RunWithHost["runState"], host?: RunWithHost["host"]): RunWithHost => ({
  run,
  runState,
  host,
});

describe("the run a host action without --run acts on", () => {
  it.each([
    [
      "the newest run lacks the host: the run that has it",
      [r("C", "paused"), r("A", "failed", "failed")],
      "A",
    ],
    [
      "the newest run has the host done; an older one waits for a decision on it",
      [r("C", "paused", "succeeded"), r("A", "failed", "failed")],
      "A",
    ],
    [
      "no run where it is unfinished: the newest that has it",
      [r("B", "succeeded", "succeeded"), r("A", "failed", "succeeded")],
      "B",
    ],
    [
      "an aborted run does not count as unfinished",
      [r("B", "paused", "pending"), r("A", "aborted", "in_doubt")],
      "B",
    ],
  ] as const)("%s", (_what, runs, run) => {
    expect(chooseRunForHost(runs)).toEqual({ run });
  });

  it("unfinished in two unfinished runs: none is chosen, both are named", () => {
    const runs = [r("C", "paused", "pending"), r("B", "running", "succeeded"), r("A", "failed", "failed")];
    expect(chooseRunForHost(runs)).toEqual({ ambiguous: [runs[0], runs[2]] });
  });

  it("a host in no run", () => {
    expect(chooseRunForHost([r("A", "failed")])).toEqual({ none: true });
  });
});
