/**
 * The service's supervisor drives every unfinished run, however old: a run paused long ago and
 * resumed now (by an operator, through the API) must be driven even when many newer runs exist.
 * The in-memory store, the real clock, a scripted transport (the run's one step answers at once).
 */
import { describe, expect, it } from "vitest";
import { systemClock } from "../../src/adapters/clock/system-clock.js";
import { MemoryStore } from "../../src/adapters/store-memory/memory-store.js";
import { compilePlan } from "../../src/core/plan/compile.js";
import { parsePlanText } from "../../src/core/plan/load.js";
import { seededRandom } from "../../src/core/policy/random.js";
import type { DriveResult } from "../../src/engine/coordinator.js";
import { createRun } from "../../src/engine/runs.js";
import { Supervisor } from "../../src/server/supervisor.js";
import { runRecord } from "../support/records.js";
import { makeHosts, ScriptedTransport } from "../support/scripted-transport.js";

const PLAN = `
name: old
hosts: all
steps:
  - { name: mark, kind: command, run: "true", idempotent: true }
`;

describe("supervisor", () => {
  it("drives an old unfinished run behind 250 newer finished ones", async () => {
    const store = new MemoryStore();
    const clock = systemClock();
    const plan = compilePlan(parsePlanText(PLAN, "plan.yaml"));
    const old = await createRun(
      { store, clock, random: seededRandom(1) },
      { plan, planBody: PLAN, planHash: "h", hosts: makeHosts(2), options: {}, actor: "test" },
    );
    for (let i = 0; i < 250; i++) {
      const at = clock.now() + 1_000 + i;
      await store.createRun(
        runRecord({ id: `r-newer-${i}`, createdAt: at, state: "succeeded", planName: old.planName }),
        [],
        [],
      );
    }
    const driven = new Promise<DriveResult>((resolve) => {
      const sup: Supervisor = new Supervisor({
        store,
        clock,
        random: (seed) => seededRandom(seed),
        transportFor: async () => new ScriptedTransport(clock, () => undefined),
        sink: { emit() {} },
        owner: "svc-test",
        leaseTtlMs: 30_000,
        tickMs: 20,
        scanMs: 60_000,
        onDriven: (id, result) => {
          if (id === old.id) resolve(result);
        },
      });
      void sup.scan();
      // Bounded: a run that is never driven fails the test instead of hanging it.
      setTimeout(
        () => void sup.stop({ now: true }).then(() => resolve({ outcome: "not driven" } as never)),
        10_000,
      );
    });
    const result = await driven;
    expect(result.outcome).toBe("finished");
    expect((await store.getRun(old.id))?.state).toBe("succeeded");
  });
});
