/**
 * An attempt whose outcome is unknown while its command may still run on the host (a dropped
 * connection, a crashed coordinator): the engine asks the transport (`Transport.running`) and
 * neither checks nor re-runs the step until the command has ended; past the step's timeout plus a
 * grace it parks the host instead. And a `verify` that cannot answer is asked again rather than
 * counted as a failed attempt. Virtual time, the in-memory store, a scripted transport whose
 * "host" keeps running the command after the connection dropped.
 */
import { describe, expect, it } from "vitest";
import { TransportError } from "../../src/core/errors.js";
import { COMMAND_END_GRACE_MS } from "../../src/engine/host-flow.js";
import type { RunningRequest } from "../../src/ports/transport.js";
import { hostEvents, leaveInDoubt, type Setup, setup, states } from "../support/engine-harness.js";

const PLAN = `
name: p
hosts: all
steps:
  - name: apply
    kind: command
    run: apply
    check: applied
    timeout: 60s
    retry: { attempts: 2, backoff: { initial: 1s } }
failureBudget: { maxFailed: 10 }
`;

/**
 * The host: `apply` runs for `runsMs` from its start and then lands its effect (`applied` passes);
 * the connection drops `dropAfterMs` in. `running` answers as the host would, or `undefined`.
 */
async function world(opts: { runsMs: number; dropAfterMs: number; tells?: boolean }) {
  const host = {
    startedAt: [] as number[],
    tags: [] as (string | undefined)[],
    landed: 0,
    checksAt: [] as number[],
    asked: [] as RunningRequest[],
  };
  let t: Setup | undefined;
  const now = () => (t as Setup).clock.now();
  const runningUntil = () => Math.max(0, ...host.startedAt.map((s) => s + opts.runsMs));
  t = await setup(PLAN, 1, async (_h, c, req) => {
    const clock = (t as Setup).clock;
    if (c === "applied") {
      host.checksAt.push(now());
      return { exitCode: host.landed > 0 ? 0 : 1 };
    }
    if (c === "apply") {
      const start = now();
      host.startedAt.push(start);
      host.tags.push(req.tag);
      // The command runs on, whatever happens to the connection.
      clock.timer(opts.runsMs, () => {
        host.landed++;
      });
      await clock.sleep(opts.dropAfterMs);
      throw new TransportError("dropped", "h01: the connection was lost while the command ran");
    }
    return undefined;
  });
  const tr = t.transport as typeof t.transport & {
    running?: (h: unknown, r: RunningRequest) => Promise<boolean | undefined>;
  };
  tr.running = async (_h, req) => {
    host.asked.push(req);
    if (opts.tells === false) return undefined;
    return now() < runningUntil();
  };
  return { t, host };
}

describe("an attempt of unknown outcome whose command may still run", () => {
  it("dropped connection: waits until the command ended, then the check finds it done; it ran once", async () => {
    const { t, host } = await world({ runsMs: 20_000, dropAfterMs: 1_000 });
    await t.coordinator().drive();
    expect(await states(t)).toEqual({ h01: "succeeded" });
    expect(host.startedAt).toHaveLength(1);
    expect(host.landed).toBe(1);
    // The check before the first attempt, then one after the command ended (20 s in), none between.
    expect(host.checksAt.filter((at) => at > host.startedAt[0]!)).toHaveLength(1);
    expect(host.checksAt.at(-1)! - host.startedAt[0]!).toBeGreaterThanOrEqual(20_000);
    // The attempt's own tag: the one its command carried.
    expect(host.asked[0]?.tag).toMatch(/^[A-Za-z0-9._-]+\.h01\.[0-9a-f]{8}\.\d+\.run$/);
    expect(host.asked.every((a) => a.tag === host.tags[0])).toBe(true);
    const types = hostEvents(t, "h01").map((e) => e.type);
    expect(types).toContain("attempt.still-running");
    expect(types).toContain("step.confirmed");
    // Stored with the run's events (status, reports and the service's live stream read those).
    const stored = (await t.store.listEvents(t.run.id)).filter((e) => e.type === "attempt.still-running");
    expect(stored.map((e) => [e.host, e.data.step, e.data.attempt])).toEqual([["h01", "apply", 1]]);
  });

  it("a transport that cannot tell: checked at once, as before (the effect lands after a 'not done')", async () => {
    const { t, host } = await world({ runsMs: 20_000, dropAfterMs: 1_000, tells: false });
    await t.coordinator().drive();
    await t.clock.sleep(30_000);
    // What the wait prevents: the check said "not done" while the command ran, and it ran again.
    expect(host.startedAt).toHaveLength(2);
    expect(host.landed).toBe(2);
    // Each attempt row has a tag of its own: a re-run never takes over the marker of the one before.
    expect(new Set(host.tags).size).toBe(2);
  });

  it("a command still running past the step's timeout plus the grace: the host is parked in doubt", async () => {
    const { t, host } = await world({ runsMs: 3_600_000, dropAfterMs: 1_000 });
    await t.coordinator().drive();
    expect(await states(t)).toEqual({ h01: "in_doubt" });
    expect(host.startedAt).toHaveLength(1);
    const h = await t.store.getHost(t.run.id, "h01");
    expect(h?.reason).toMatch(/its command still runs on the host/);
    const unknown = hostEvents(t, "h01").filter((e) => e.type === "attempt.unknown");
    expect(unknown.map((e) => e.data.resolution)).toEqual(["park"]);
    // It gave up once the timeout (60 s) and the grace had passed since the outcome became unknown.
    const waited = t.clock.now() - (host.startedAt[0]! + 1_000);
    expect(waited).toBeGreaterThanOrEqual(60_000 + COMMAND_END_GRACE_MS);
    expect(waited).toBeLessThan(60_000 + COMMAND_END_GRACE_MS + 10_000);
  });

  it("after a coordinator crash: the successor waits for its predecessor's command before checking", async () => {
    const { t, host } = await world({ runsMs: 30_000, dropAfterMs: 1_000 });
    // The dead coordinator started `apply` (attempt 1) and died; the command runs on.
    host.startedAt.push(t.clock.now());
    t.clock.timer(30_000, () => {
      host.landed++;
    });
    await leaveInDoubt(t, "apply", null);
    await t.coordinator("c2").drive();
    expect(await states(t)).toEqual({ h01: "succeeded" });
    expect(host.startedAt).toHaveLength(1);
    expect(host.landed).toBe(1);
    expect(Math.min(...host.checksAt)).toBeGreaterThanOrEqual(30_000 + host.startedAt[0]!);
  });

  it("a coordinator stopped while it waits leaves the attempt in doubt for the next one", async () => {
    const { t, host } = await world({ runsMs: 20_000, dropAfterMs: 1_000 });
    const ac = new AbortController();
    t.clock.timer(8_000, () => ac.abort(new Error("SIGTERM")));
    await t
      .coordinator("c1", ac.signal)
      .drive()
      .catch(() => undefined);
    const open = (await t.store.getAttempts(t.run.id)).filter((a) => a.state === "started");
    expect(open).toHaveLength(1);
    expect(host.checksAt.filter((at) => at > host.startedAt[0]!)).toEqual([]);
    await t.clock.sleep(35_000);
    await t.coordinator("c2").drive();
    expect(await states(t)).toEqual({ h01: "succeeded" });
    expect(host.startedAt).toHaveLength(1);
  });
});

describe("a verify that cannot answer", () => {
  const VERIFIED = `
name: p
hosts: all
steps:
  - { name: apply, kind: command, run: apply, verify: verify-it, retry: { attempts: 3, backoff: { initial: 1s } } }
failureBudget: { maxFailed: 10 }
`;

  it("is asked again (a verify reads), not counted as a failed attempt that runs the step again", async () => {
    let verifies = 0;
    const t = await setup(VERIFIED, 1, (_h, c) => {
      if (c === "verify-it" && ++verifies < 3)
        throw new TransportError("dropped", "h01: the connection was lost while the command ran");
      return undefined;
    });
    await t.coordinator().drive();
    expect(await states(t)).toEqual({ h01: "succeeded" });
    expect(t.transport.count("h01", "apply")).toBe(1);
    expect(verifies).toBe(3);
  });

  it("still unable after 3 asks: the attempt fails as before, and a retry runs the step again", async () => {
    const t = await setup(VERIFIED, 1, (_h, c) => {
      if (c === "verify-it") throw new TransportError("unreachable", "h01: connection refused; nothing ran");
      return undefined;
    });
    await t.coordinator().drive();
    expect(await states(t)).toEqual({ h01: "failed" });
    expect(t.transport.count("h01", "apply")).toBe(3);
    expect(t.transport.count("h01", "verify-it")).toBe(9);
  });
});
