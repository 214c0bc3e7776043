/**
 * Synthetic report input for tests: hand-written event lists (`events`, `host`) and a generated
 * fleet (`syntheticFleet`) with the event shapes the engine emits (src/engine/host-flow.ts), so
 * report tests need no store and no engine.
 *
 * Invariants: deterministic (a fixed linear-congruential sequence, no Math.random); event `seq`
 * follows list order, like the store's commit order.
 */
import type { ReportEventInput, ReportHostInput, ReportInput } from "../../src/core/report/input.js";

export const T0 = Date.UTC(2026, 10, 21, 16, 0, 0);

export type Ev = readonly [host: string | null, at: number, type: string, data?: Record<string, unknown>];

/** Events from tuples; `at` is ms after T0; seq is the position + 1. */
export function events(list: readonly Ev[]): ReportEventInput[] {
  return list.map(([host, at, type, data], i) => ({ seq: i + 1, host, at: T0 + at, type, data: data ?? {} }));
}

export function host(
  name: string,
  o: { region?: string; state?: string; wave?: number; order?: number; reason?: string | null } = {},
): ReportHostInput {
  return {
    host: name,
    wave: o.wave ?? 0,
    order: o.order ?? 0,
    state: o.state ?? "succeeded",
    reason: o.reason ?? null,
    startedAt: null,
    finishedAt: null,
    data: o.region === undefined ? {} : { region: o.region, name },
  };
}

export function input(hosts: ReportHostInput[], evs: ReportEventInput[], steps?: string[]): ReportInput {
  return {
    run: {
      id: "r-test",
      planName: "p",
      planRevision: 1,
      planHash: "0123456789abcdef",
      state: "succeeded",
      reason: null,
      seed: 7,
      createdAt: T0 - 1000,
      updatedAt: T0 + 3_600_000,
    },
    hosts,
    attempts: [],
    events: evs,
    ...(steps ? { steps } : {}),
  };
}

/** `regions` x `perRegion` hosts through four steps; every 7th retries once, every 50th fails and reverts. */
export function syntheticFleet(regions: number, perRegion: number): ReportInput {
  const steps = ["drain", "backup", "reboot", "reinstate"];
  let x = 12345;
  const rnd = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  const hosts: ReportHostInput[] = [];
  const list: Ev[] = [];
  const total = regions * perRegion;
  for (let i = 0; i < total; i++) {
    const region = `region-${String(i % regions).padStart(2, "0")}`;
    const name = `${region}-host-${String(Math.floor(i / regions)).padStart(3, "0")}`;
    const wave = i === 0 ? 0 : i < 1 + total / 10 ? 1 : 2;
    const fails = i % 50 === 49;
    const reason = fails
      ? `step "reboot" failed after 1 attempt(s): host never returned (rolled back)`
      : null;
    hosts.push(host(name, { region, wave, order: i, state: fails ? "failed" : "succeeded", reason }));
    let t = wave * 600_000 + (i % 40) * 90_000 + Math.floor(rnd() * 30_000);
    list.push([name, t, "host.started", { wave }]);
    for (const [k, step] of steps.entries()) {
      const tries = i % 7 === 3 && step === "reboot" ? 2 : 1;
      for (let n = 1; n <= tries; n++) {
        list.push([name, t, "attempt.started", { step, attempt: n }]);
        t += 20_000 + Math.floor(rnd() * 200_000);
        const last = fails && k === 2 ? n === tries : false;
        if (n < tries)
          list.push([name, t, "attempt.failed", { step, attempt: n, reason: "not back", retryInMs: 1000 }]);
        else if (last) {
          list.push([
            name,
            t,
            "attempt.failed",
            { step, attempt: n, reason: "host never returned", final: true },
          ]);
          list.push([name, t, "host.reverting", { reason: "reboot failed", from: "backup" }]);
          list.push([name, t, "revert.started", { step: "backup", attempt: 1 }]);
          t += 30_000;
          list.push([name, t, "revert.succeeded", { step: "backup" }]);
          list.push([name, t, "host.failed", { reason }]);
        } else list.push([name, t, "attempt.succeeded", { step, attempt: n }]);
        t += 1000;
      }
      if (fails && k === 2) break;
      if (k === steps.length - 1) list.push([name, t, "host.succeeded"]);
    }
  }
  list.push([null, 600_000, "wave.started", { wave: 1 }], [null, 1_200_000, "wave.started", { wave: 2 }]);
  list.sort((a, b) => a[1] - b[1]);
  return input(hosts, events(list), steps);
}
