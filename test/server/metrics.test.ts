/**
 * The metrics fed by engine events: counters by step kind and failure class (never the free-text
 * reason), retries, rollbacks, the duration histogram, and lease renewals through the
 * instrumented store; per-run gauges read from the store.
 */
import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../src/adapters/store-memory/memory-store.js";
import { compilePlan } from "../../src/core/plan/compile.js";
import { parsePlanText } from "../../src/core/plan/load.js";
import { Metrics, reasonClass } from "../../src/server/metrics.js";
import { PLAN_TEXT } from "../support/server.js";

describe("metrics", () => {
  it("classifies reasons into a few label values", () => {
    expect(reasonClass("host web01 did not come back with a new boot id within 600s")).toBe("timeout");
    expect(reasonClass("exit status 3: no space left")).toBe("exit_status");
    expect(reasonClass('host "a" not healthy within the timeout')).toBe("not_healthy");
    expect(reasonClass("ssh: host key changed")).toBe("host_key");
    expect(reasonClass(undefined)).toBe("unknown");
    expect(reasonClass("something else")).toBe("other");
  });

  it("counts steps by kind and class, retries, rollbacks and durations from events", async () => {
    const store = new MemoryStore();
    const m = new Metrics(store, () => 0);
    m.trackRun("r1", compilePlan(parsePlanText(PLAN_TEXT, "p.yaml")));
    const ev = (type: string, at: number, data: Record<string, unknown>) =>
      m.sink.emit({ runId: "r1", host: "web01", at, type, actor: "c", data });
    ev("attempt.started", 0, { step: "upgrade", attempt: 1 });
    ev("attempt.failed", 2500, {
      step: "upgrade",
      attempt: 1,
      reason: "exit status 1: boom",
      retryInMs: 100,
    });
    ev("attempt.started", 3000, { step: "upgrade", attempt: 2 });
    ev("attempt.succeeded", 3200, { step: "upgrade", attempt: 2 });
    ev("host.reverting", 4000, {});
    m.sink.emit({
      runId: "r1",
      host: "web01",
      at: 0,
      type: "attempt.started",
      actor: "c",
      data: null as never,
    });
    const text = await m.scrape();
    expect(text).toContain('overhaul_steps_started_total{kind="command"} 2');
    expect(text).toContain('overhaul_steps_failed_total{kind="command",reason="exit_status"} 1');
    expect(text).toContain('overhaul_step_retries_total{kind="command"} 1');
    expect(text).toContain('overhaul_steps_succeeded_total{kind="command"} 1');
    expect(text).toContain("overhaul_rollbacks_total 1");
    expect(text).toContain('overhaul_step_duration_seconds_sum{kind="command",outcome="failed"} 2.5');
    expect(text).toContain('overhaul_step_duration_seconds_count{kind="command",outcome="succeeded"} 1');
    expect(text).not.toContain("boom");

    const inst = m.instrument(store);
    await inst.renewLeases("r1", "me", 0, 1000);
    expect(await m.scrape()).toContain('overhaul_lease_renewals_total{outcome="renewed"} 1');
    expect(await m.scrape()).toMatch(
      /overhaul_store_operation_duration_seconds_count\{operation="renewLeases"\} 1/,
    );
  });
});
