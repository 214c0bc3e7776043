import { describe, expect, it } from "vitest";
import { hostsInOtherRuns, IllegalTransitionError, SKIPPABLE } from "../errors.js";
import {
  assertHostTransition,
  assertRunTransition,
  HOST_STATES,
  HOST_TRANSITIONS,
  predecessors,
  RUN_STATES,
  RUN_TRANSITIONS,
  TERMINAL_HOST_STATES,
} from "./states.js";

describe("state tables", () => {
  it("every target is a known state", () => {
    for (const [from, tos] of Object.entries(HOST_TRANSITIONS)) {
      expect(HOST_STATES).toContain(from);
      for (const t of tos) expect(HOST_STATES).toContain(t);
    }
    for (const tos of Object.values(RUN_TRANSITIONS)) for (const t of tos) expect(RUN_STATES).toContain(t);
  });

  it.each([
    ["pending", "running", true],
    ["running", "succeeded", true],
    ["running", "reverting", true],
    ["reverting", "succeeded", false],
    ["succeeded", "running", false],
    ["pending", "succeeded", false],
    ["in_doubt", "running", true],
    ["reverting", "in_doubt", true],
    ["in_doubt", "reverting", true],
    ["failed", "pending", true],
    ["aborted", "pending", false],
  ] as const)("host %s -> %s allowed: %s", (from, to, ok) => {
    if (ok) expect(() => assertHostTransition(from, to)).not.toThrow();
    else expect(() => assertHostTransition(from, to)).toThrow(IllegalTransitionError);
  });

  it.each([
    ["running", "paused", true],
    ["paused", "running", true],
    ["aborted", "running", false],
    ["aborting", "running", false],
    ["halting", "failed", true],
    ["halting", "running", true],
    ["failed", "running", true],
  ] as const)("run %s -> %s allowed: %s", (from, to, ok) => {
    if (ok) expect(() => assertRunTransition(from, to)).not.toThrow();
    else expect(() => assertRunTransition(from, to)).toThrow(IllegalTransitionError);
  });

  it("succeeded, skipped and aborted hosts are final", () => {
    for (const s of ["succeeded", "skipped", "aborted"] as const) {
      expect(TERMINAL_HOST_STATES).toContain(s);
      expect(HOST_TRANSITIONS[s]).toEqual([]);
    }
  });
});

describe("the hosts-in-another-run refusal's advice", () => {
  it("offers skip exactly for the states the table lets a host be skipped from", () => {
    expect([...SKIPPABLE].sort()).toEqual([...predecessors(HOST_TRANSITIONS, "skipped")].sort());
  });

  const busy = (hostState: string) => ({ host: "w1", runId: "r-1", runState: "paused", hostState });

  it("suggests skip for a failed host, and not for one at a step (a manual gate)", () => {
    expect(hostsInOtherRuns([busy("failed")]).message).toContain("overhaul skip HOST --run RUN");
    const running = hostsInOtherRuns([busy("running")]).message;
    expect(running).not.toContain("overhaul skip");
    expect(running).toContain("finish or abort that run, or wait for a host at a step there to finish it");
  });
});
