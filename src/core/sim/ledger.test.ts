import { describe, expect, it } from "vitest";
import { type LedgerEntry, moveDowntimes } from "./ledger.js";

const at = (s: number) => Date.UTC(2026, 0, 5) + s * 1000;
const e = (over: Partial<LedgerEntry> & Pick<LedgerEntry, "command" | "host">): LedgerEntry => ({
  at: at(0),
  outcome: "live",
  ...over,
});
/** A move of `w` at second `s`: `@unplace` from `from`, `@place` on `to` with its downtime. */
const move = (s: number, w: string, from: string, to: string, downtimeMs: number): LedgerEntry[] => [
  e({ at: at(s), host: from, command: "@unplace", workload: w }),
  e({ at: at(s), host: to, command: "@place", workload: w, downtimeMs }),
];

describe("moveDowntimes", () => {
  const homes = new Map([
    ["w1", "h1"],
    ["w2", "h1"],
    ["w3", "h2"],
  ]);

  it("gives one sample per move, attributed to the host drained or reinstated", () => {
    const ledger: LedgerEntry[] = [
      // The initial placement is no move.
      e({ host: "h1", command: "@place", workload: "w1", outcome: "initial" }),
      e({ host: "h1", command: "@place", workload: "w2", outcome: "initial" }),
      e({ host: "h2", command: "@place", workload: "w3", outcome: "initial" }),
      ...move(60, "w1", "h1", "hold1", 120),
      e({ at: at(60), host: "hold1", command: "@volume-rw", workload: "w1", outcome: "vol-1" }),
      ...move(61, "w2", "h1", "hold1", 95_000),
      e({ at: at(70), host: "h1", command: "systemctl reboot", outcome: "exit 0", applied: true }),
      // w3 parked on h1 (not its home): a drain of h1 moves it on, a sample of h1's drain.
      ...move(80, "w3", "h1", "hold2", 300),
      // Back home: the reinstate of h1.
      ...move(900, "w1", "hold1", "h1", 200),
      ...move(901, "w2", "hold1", "h1", 90_000),
    ];
    expect(moveDowntimes(ledger, homes)).toEqual([
      { host: "h1", downtimeMs: 120 },
      { host: "h1", downtimeMs: 95_000 },
      { host: "h1", downtimeMs: 300 },
      { host: "h1", downtimeMs: 200 },
      { host: "h1", downtimeMs: 90_000 },
    ]);
  });

  it("without an @unplace just before (the workload had already left), a move counts for its target", () => {
    const ledger = [
      e({ at: at(5), host: "h2", command: "@unplace", workload: "w3" }),
      e({ at: at(9), host: "hold1", command: "@place", workload: "w1", downtimeMs: 40 }),
    ];
    expect(moveDowntimes(ledger, homes)).toEqual([{ host: "hold1", downtimeMs: 40 }]);
  });

  it("is empty for a ledger without moves", () => {
    expect(moveDowntimes([], homes)).toEqual([]);
  });
});
