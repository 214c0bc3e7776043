import { describe, expect, it } from "vitest";
import { skeletonPlan, stepNamesOfText } from "./skeleton.js";

describe("stepNamesOfText", () => {
  it("reads the names in order, tolerating what later checks refuse (repeated keys)", () => {
    const text =
      "name: p\nhosts: web\nsteps:\n  - { name: a, kind: sleep, duration: 1s, duration: 2s }\n  - { name: b, kind: gate, run: x, interval: 10ms }\n";
    expect(stepNamesOfText(text)).toEqual(["a", "b"]);
  });

  it("gives nothing rather than a guess when a name cannot be read", () => {
    expect(stepNamesOfText("name: p\nsteps: []\n")).toBeUndefined();
    expect(stepNamesOfText("name: p\nsteps:\n  - { kind: sleep }\n")).toBeUndefined();
    expect(stepNamesOfText("name: p\nsteps:\n  - { name: 7 }\n")).toBeUndefined();
    expect(stepNamesOfText("steps: [\n")).toBeUndefined();
    expect(stepNamesOfText("- a\n- b\n")).toBeUndefined();
  });
});

describe("skeletonPlan", () => {
  it("keeps the names and their order, nothing else", () => {
    const plan = skeletonPlan("old", ["drain", "reboot", "reinstate"]);
    expect(plan?.steps.map((s) => [s.index, s.name, s.kind])).toEqual([
      [0, "drain", "sleep"],
      [1, "reboot", "sleep"],
      [2, "reinstate", "sleep"],
    ]);
  });

  it("is undefined when the names themselves do not validate (a repeated name)", () => {
    expect(skeletonPlan("old", ["a", "a"])).toBeUndefined();
  });
});
