import { describe, expect, it } from "vitest";
import { holdsOf, type TimedHost } from "./held-back.js";

const h = (host: string, region: string, wave: number, startMs: number, endMs: number): TimedHost => ({
  host,
  region,
  wave,
  startMs,
  endMs,
});

describe("holdsOf: what held a region back", () => {
  it.each([
    {
      name: "nothing: it starts at its opening and runs without a gap",
      hosts: [h("a1", "a", 0, 0, 10), h("a2", "a", 1, 10, 20)],
      from: 0,
      holds: [],
    },
    {
      name: "the canary of another region: the wait until it ends, then nothing",
      hosts: [h("b1", "b", 0, 50, 60), h("a1", "a", 1, 60, 70)],
      from: 5,
      holds: [{ by: "wave", fromMs: 5, toMs: 60, holder: { host: "b1" }, first: true }],
    },
    {
      name: "the wave barrier, then the caps: split where the wave opened",
      hosts: [h("b1", "b", 0, 0, 10), h("b2", "b", 1, 10, 30), h("a1", "a", 1, 30, 40)],
      from: 0,
      holds: [
        { by: "wave", fromMs: 0, toMs: 10, holder: { host: "b1" } },
        { by: "caps", fromMs: 10, toMs: 30, running: 1 },
      ],
    },
    {
      name: "a gap between its own hosts while other regions run",
      hosts: [h("a1", "a", 0, 0, 10), h("b1", "b", 0, 10, 20), h("a2", "a", 0, 20, 30)],
      from: 0,
      holds: [{ by: "caps", fromMs: 10, toMs: 20, running: 1, first: false }],
    },
  ])("$name", ({ hosts, from, holds }) => {
    expect(holdsOf(hosts, "a", from)).toMatchObject(holds);
  });
});
