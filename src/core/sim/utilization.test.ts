/** The daily utilization curve: bounds, trough and peak in local time, smoothness, time zones. */
import { describe, expect, it } from "vitest";
import { localHour, MAX_UTILIZATION, MIN_UTILIZATION, utilization } from "./utilization.js";

const DAY0 = Date.UTC(2026, 0, 1);
const at = (utcHour: number) => DAY0 + utcHour * 3_600_000;

describe("utilization", () => {
  it.each([
    [0, 4, MIN_UTILIZATION],
    [0, 14, MAX_UTILIZATION],
    [-5, 9, MIN_UTILIZATION], // 04:00 in UTC-5
    [-5, 19, MAX_UTILIZATION], // 14:00 in UTC-5
    [9, 19, MIN_UTILIZATION], // 04:00 next day in UTC+9
    [9, 5, MAX_UTILIZATION], // 14:00 in UTC+9
  ])("offset %i at %i:00 UTC is %f", (offset, hour, expected) => {
    expect(utilization(offset, at(hour))).toBeCloseTo(expected, 10);
  });

  it("stays in [0.15, 0.9] and is smooth over several days, every offset", () => {
    let lo = 1;
    let hi = 0;
    let jump = 0;
    for (let offset = -8; offset <= 9; offset++) {
      let prev = utilization(offset, at(0));
      for (let m = 1; m <= 3 * 24 * 60; m++) {
        const u = utilization(offset, DAY0 + m * 60_000);
        lo = Math.min(lo, u);
        hi = Math.max(hi, u);
        jump = Math.max(jump, Math.abs(u - prev));
        prev = u;
      }
    }
    expect(lo).toBeCloseTo(MIN_UTILIZATION, 6);
    expect(hi).toBeCloseTo(MAX_UTILIZATION, 6);
    // At most ~0.2 % of the range per minute: no jumps, including across local midnight.
    expect(jump).toBeLessThan(0.003);
  });

  it("rises from 04:00 to 14:00 local and falls from 14:00 to 04:00", () => {
    const local = (h: number) => utilization(0, at(h));
    for (let h = 4; h < 14; h++) expect(local(h + 1)).toBeGreaterThan(local(h));
    for (let h = 14; h < 28; h++) expect(local(h + 1)).toBeLessThan(local(h));
    expect(local(3)).toBeGreaterThan(local(4));
  });

  it("is a function of local time only", () => {
    expect(utilization(3, at(7))).toBe(utilization(0, at(10)));
    expect(utilization(-8, at(30))).toBeCloseTo(utilization(0, at(22)), 12);
    expect(localHour(-8, at(2))).toBe(18);
    expect(localHour(9, at(20))).toBe(5);
  });
});
