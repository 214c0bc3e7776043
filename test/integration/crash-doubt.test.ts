/**
 * Attempts a dead coordinator left in doubt, resolved (or closed) by the next one: a reboot is
 * resolved against the boot id recorded with its intent, waiting for a host that still boots; an
 * abort closes the attempt as unknown and parks the host in doubt instead of calling it aborted.
 * Virtual time, in-memory store, scripted transport.
 */
import { describe, expect, it } from "vitest";
import { TransportError } from "../../src/core/errors.js";
import { summarize } from "../../src/engine/run-summary.js";
import { runAction } from "../../src/engine/runs.js";
import type { ExecResult } from "../../src/ports/transport.js";
import {
  attemptStates,
  hostEvents,
  killAfterCommit,
  leaveInDoubt,
  type Setup,
  setup,
  states,
} from "../support/engine-harness.js";

const REBOOT = `
name: p
hosts: all
steps:
  - { name: reboot, kind: reboot, run: "do-reboot" }
`;

/**
 * A host that reboots on `do-reboot`: it goes down at once (the command's connection drops) and
 * answers again `bootMs` later with a new boot id (never, for Infinity).
 */
function rebootingHost(t: () => Setup, bootMs: number, onReboot: () => void = () => {}) {
  const host = { bootId: "boot-A", downUntil: 0, boots: 0 };
  const handler = (_h: string, c: string) => {
    if (t().clock.now() < host.downUntil) throw new TransportError("unreachable", "host down (booting)");
    if (c === "do-reboot") {
      host.downUntil = t().clock.now() + bootMs;
      host.boots++;
      host.bootId = `boot-${String.fromCharCode(65 + host.boots)}`;
      onReboot();
      throw new TransportError("dropped", "connection closed by reboot");
    }
    if (c.includes("boot_id")) return { stdout: `${host.bootId}\n` };
    return undefined;
  };
  return { host, handler };
}

/**
 * A run of `plan` on one host that reboots (back `bootMs` after each reboot) whose coordinator c1
 * dies right after issuing the reboot; c2 takes over once c1's lease has expired (40 s later),
 * while the host may still be booting. `answer` answers the commands the host itself does not
 * (a step's own check): only when the host is up, since the host answers first.
 */
async function crashDuringReboot(
  plan: string,
  bootMs: number,
  answer?: (command: string, host: { boots: number }) => Partial<ExecResult> | undefined,
) {
  const stop = new AbortController();
  let t!: Setup;
  const { host, handler } = rebootingHost(
    () => t,
    bootMs,
    // The coordinator dies right after issuing the reboot.
    () => queueMicrotask(() => stop.abort(new Error("coordinator killed"))),
  );
  t = await setup(plan, 1, (h, c) => {
    const r = handler(h, c);
    return answer?.(c, host) ?? r;
  });
  expect((await t.coordinator("c1", stop.signal).drive()).outcome).toBe("detached");
  await t.clock.sleep(40_000); // c1's lease expires; c2 takes over while the host boots
  return { t, host, r2: await t.coordinator("c2").drive() };
}

describe("a reboot left in doubt by a dead coordinator", () => {
  it("the host still booting: the successor waits for it, sees the new boot id, and never reboots it again", async () => {
    const { t, host, r2 } = await crashDuringReboot(REBOOT, 5 * 60_000);
    expect(r2.run.state).toBe("succeeded");
    expect(t.transport.count("h01", "do-reboot")).toBe(1);
    expect(host.boots).toBe(1);
    expect(await attemptStates(t)).toEqual([["reboot", "unknown"]]);
    const c2 = hostEvents(t, "h01").filter((e) => e.actor === "c2");
    expect(c2.map((e) => e.type)).toEqual([
      "attempt.unknown",
      "step.confirmed",
      "step.succeeded",
      "host.succeeded",
    ]);
    // Confirmed once the host answered again (5 min after the reboot), not before.
    expect(c2[1]?.at).toBeGreaterThanOrEqual(t.run.createdAt + 5 * 60_000);
  });

  it("with a check of its own: the successor waits for the host before asking it, and never reboots it again", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: reboot, kind: reboot, run: "do-reboot", check: "kernel-is-new" }
`;
    // The step's own check: the new kernel runs once the host has booted again.
    const { t, host, r2 } = await crashDuringReboot(plan, 5 * 60_000, (c, h) =>
      c === "kernel-is-new" ? { exitCode: h.boots > 0 ? 0 : 1 } : undefined,
    );
    expect(r2.run.state).toBe("succeeded");
    expect(t.transport.count("h01", "do-reboot")).toBe(1);
    expect(host.boots).toBe(1);
  });

  it("the host never comes back within the timeout: the attempt fails like a reboot that did not come back", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: reboot, kind: reboot, run: "do-reboot", timeout: 2m, retry: { attempts: 1 } }
`;
    const { t, r2 } = await crashDuringReboot(plan, Number.POSITIVE_INFINITY);
    expect(t.transport.count("h01", "do-reboot")).toBe(1);
    expect(await states(t)).toEqual({ h01: "failed" });
    expect(r2.run.state).toBe("failed");
    const failed = hostEvents(t, "h01").find((e) => e.type === "attempt.failed");
    expect(failed?.data).toMatchObject({ step: "reboot", attempt: 1, final: true });
    expect(String(failed?.data.reason)).toMatch(/did not come back within 120s/);
    expect((await t.store.getHost(t.run.id, "h01"))?.reason).toMatch(/did not come back/);
  });

  it("the coordinator died before the reboot was issued: the same boot id, so it reboots once", async () => {
    const { handler, host } = rebootingHost(() => t, 60_000);
    const t: Setup = await setup(REBOOT, 1, handler);
    const { stop, restore } = killAfterCommit(t, (c) => c.intent?.stepName === "reboot");
    expect((await t.coordinator("c1", stop).drive()).outcome).toBe("detached");
    expect(t.transport.count("h01", "do-reboot")).toBe(0);
    restore();
    await t.clock.sleep(40_000);
    expect((await t.coordinator("c2").drive()).run.state).toBe("succeeded");
    expect(t.transport.count("h01", "do-reboot")).toBe(1);
    expect(host.boots).toBe(1);
    expect(await attemptStates(t)).toEqual([
      ["reboot", "unknown"],
      ["reboot", "succeeded"],
    ]);
  });

  it("an intent without a boot id never rebooted anything: run again, even when not idempotent", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: reboot, kind: reboot, run: "do-reboot", idempotent: false }
`;
    const { handler } = rebootingHost(() => t, 60_000);
    const t: Setup = await setup(plan, 1, handler);
    // The pre-state read failed (the host did not answer): `run` refuses without a boot id.
    await leaveInDoubt(t, "reboot", { bootId: null, unanswered: "host down" });
    expect((await t.coordinator("c2").drive()).run.state).toBe("succeeded");
    expect(t.transport.count("h01", "do-reboot")).toBe(1);
    const unknown = hostEvents(t, "h01").find((e) => e.type === "attempt.unknown");
    expect(unknown?.data).toMatchObject({ step: "reboot", resolution: "check" });
  });
});
describe("an abort with an attempt left in doubt", () => {
  const UPGRADE = `
name: p
hosts: all
steps:
  - { name: upgrade, kind: command, run: "dist-upgrade" }
`;

  it("closes the attempt as unknown and parks the host in doubt, saying so in status", async () => {
    const t = await setup(UPGRADE, 1, () => undefined);
    await leaveInDoubt(t, "upgrade", null);
    await runAction({ store: t.store, clock: t.clock }, (await t.store.getRun(t.run.id))!, "abort", "op");
    const r = await t.coordinator("c2").drive();
    expect(r.run.state).toBe("aborted");
    // Nothing was checked or re-run on the host: the abort stops it where it is.
    expect(t.transport.calls).toEqual([]);
    // No attempt stays open in a finished run; the host does not look cleanly aborted.
    expect(await attemptStates(t)).toEqual([["upgrade", "unknown"]]);
    expect(await states(t)).toEqual({ h01: "in_doubt" });
    const h = await t.store.getHost(t.run.id, "h01");
    expect(h?.reason).toMatch(/^run aborted \(abort by op\) with the outcome of step "upgrade" unknown/);
    expect(hostEvents(t, "h01").map((e) => e.type)).toEqual(["attempt.unknown", "host.in_doubt"]);
    expect(t.notes.join("\n")).toMatch(/h01 needs an operator/);
    const s = await summarize(t.store, r.run, t.clock.now());
    expect(s.counts.in_doubt).toBe(1);
    expect(s.failures).toEqual([{ host: "h01", state: "in_doubt", reason: h?.reason }]);
  });
});

describe("an attempt in doubt whose check cannot answer", () => {
  it("parks the host in doubt with why the check could not tell (sudo refused, host down)", async () => {
    const plan = `
name: p
hosts: all
steps:
  - { name: upgrade, kind: command, run: "dist-upgrade", check: "is-upgraded", become: true }
`;
    const t = await setup(plan, 1, (_h, c) => {
      if (c === "is-upgraded") throw new TransportError("auth", "h01: sudo refused: a password is required");
      return undefined;
    });
    await leaveInDoubt(t, "upgrade", null);
    const r = await t.coordinator("c2").drive();
    expect(await states(t)).toEqual({ h01: "in_doubt" });
    const h = await t.store.getHost(r.run.id, "h01");
    expect(h?.reason).toMatch(/its check could not tell \(h01: sudo refused: a password is required\)$/);
  });
});
