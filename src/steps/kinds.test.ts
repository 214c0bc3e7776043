/**
 * The reboot kind's verdict when no new boot id comes, against a scripted host on virtual time:
 * a host that kept answering with its old boot id was not rebooted (said so, not "did not come
 * back"); one that went down and stayed down did not come back; a new boot id succeeds.
 */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../adapters/clock/virtual-clock.js";
import { TransportError } from "../core/errors.js";
import type { Host } from "../core/model/fleet.js";
import { compilePlan } from "../core/plan/compile.js";
import { parsePlan } from "../core/plan/load.js";
import type { ExecRequest, ExecResult, Transport } from "../ports/transport.js";
import { STEP_IMPLS } from "./kinds.js";
import type { StepContext } from "./types.js";

const OLD = "boot-1";
const host: Host = {
  name: "web01",
  address: "127.0.0.1",
  connection: "ssh",
  region: "eu",
  failureDomains: {},
  role: "worker",
  groups: [],
  vars: { overhaul_boot_id_command: "bootid" },
};

/** After the reboot command, the boot id probes see these answers in turn (the last one repeats). */
type Answer = string | "down" | "";

function scripted(after: readonly Answer[]): Transport {
  let rebooted = false;
  let probe = 0;
  const result = (stdout: string, exitCode = 0): ExecResult => ({
    exitCode,
    signal: null,
    stdout,
    stderr: "",
    durationMs: 1,
    truncated: false,
  });
  return {
    async exec(_h: Host, req: ExecRequest) {
      if (req.command !== "bootid") {
        rebooted = true;
        return result("");
      }
      if (!rebooted) return result(`${OLD}\n`);
      const a = after[Math.min(probe++, after.length - 1)] as Answer;
      if (a === "down") throw new TransportError("unreachable", "web01: connection refused");
      return a === "" ? result("", 1) : result(`${a}\n`);
    },
    async close() {},
  };
}

async function rebootWith(after: readonly Answer[]) {
  const spec = parsePlan(
    'name: p\nhosts: all\nsteps:\n  - { name: reboot, kind: reboot, run: "true", timeout: 8s, interval: 1s }\n',
    "plan.yaml",
  ).spec;
  const step = compilePlan(spec).steps[0];
  if (!step) throw new Error("no step");
  const clock = new VirtualClock();
  const ctx: StepContext = {
    host,
    step,
    transport: scripted(after),
    clock,
    signal: new AbortController().signal,
    deadline: clock.now() + step.timeoutMs,
    pre: null,
    env: {},
    awaitApproval: async () => {},
  };
  const impl = STEP_IMPLS.reboot;
  const pre = await impl.prepare?.(ctx);
  return impl.run({ ...ctx, pre: pre ?? null });
}

describe("reboot: no new boot id", () => {
  it.each([
    [
      "kept answering with the old boot id",
      [OLD],
      /^host web01 kept answering with the same boot id for 8s after the reboot command: it did not reboot \(the command `true` returned without rebooting it\)$/,
    ],
    [
      "was down, then answered with the old boot id",
      ["down", "down", OLD],
      /^host web01 answers again, with the same boot id as before the reboot command: it did not reboot/,
    ],
    [
      "went down and stayed down",
      ["down"],
      /^host web01 did not come back within 8s after the reboot command \(last: web01: connection refused\)$/,
    ],
    [
      "answered without a boot id",
      [""],
      /^host web01 did not come back with a new boot id within 8s \(the boot id command answered exit code 1/,
    ],
  ] as const)("%s", async (_what, after, reason) => {
    const r = await rebootWith(after);
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(reason);
    // The plan's retry policy decides what follows (a held-back reboot may come on a retry).
    expect(r.retryable).not.toBe(false);
  });

  it("a new boot id is a reboot", async () => {
    const r = await rebootWith(["down", "boot-2"]);
    expect(r.ok).toBe(true);
    expect(r.detail.bootIdAfter).toBe("boot-2");
  });
});
