import { describe, expect, it } from "vitest";
import { describePosition, type PositionInput, positionOf } from "./position.js";

const STEPS = ["nap", "nap2"];
const h = (over: Partial<PositionInput>): PositionInput => ({
  state: "running",
  phase: "forward",
  stepIndex: 0,
  attempts: 0,
  startedAt: 1,
  ...over,
});

describe("where a host stands", () => {
  it.each([
    ["never started (aborted while pending)", h({ state: "aborted", startedAt: null }), "not started"],
    ["started, its first step not begun", h({}), "not started"],
    ["in its first step", h({ attempts: 1 }), "step nap"],
    ["between steps (paused or aborted after nap)", h({ stepIndex: 1 }), "after nap"],
    ["aborted between steps", h({ state: "aborted", stepIndex: 1 }), "after nap"],
    ["waiting to retry nap2", h({ stepIndex: 1, attempts: 2 }), "step nap2"],
    ["reverting nap", h({ state: "reverting", phase: "revert", stepIndex: 0 }), "step nap"],
  ] as const)("%s: %s", (_what, input, text) => {
    expect(describePosition(positionOf(input, STEPS))).toBe(text);
  });
});
