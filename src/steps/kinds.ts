/**
 * The built-in step kinds: command, sleep, gate, wait-healthy, reboot (drain and reinstate are in
 * workload-kinds.ts).
 *
 * Invariants:
 * - `reboot` proves the reboot by a changed boot id, read before (pre-state, persisted with the
 *   intent) and after; a host that answers with the old boot id has not rebooted.
 * - An in-doubt `reboot` (its coordinator stopped, or its outcome was lost) is resolved against the
 *   boot id recorded with its intent, never against one read afterwards: the check waits for the
 *   host to answer (within the step's timeout, like `prepare` and `run` do, since a successor
 *   coordinator may take over while the host still boots), then a new boot id means the reboot
 *   happened (and the host is back), the same one that it did not (re-running is safe). A host
 *   that never answers fails the attempt, as one that did not come back does. An intent without a
 *   boot id never rebooted anything (`run` refuses first): not done.
 * - On a `local` host, `reboot` needs an explicit reboot command (the step's `run` or the host's
 *   `overhaul_reboot_command`): Overhaul never reboots the coordinator's own machine by default.
 */

import { TransportError } from "../core/errors.js";
import type { StepKind } from "../core/plan/schema.js";
import type { Health } from "../ports/health.js";
import type { ExecResult } from "../ports/transport.js";
import { poll, pollUntil } from "./poll.js";
import {
  describeExec,
  exec,
  exitOutcome,
  type StepContext,
  type StepKindImpl,
  type StepOutcome,
} from "./types.js";
import { builtinRevert, drain, reinstate } from "./workload-kinds.js";

const DEFAULT_BOOT_ID = "cat /proc/sys/kernel/random/boot_id";
const DEFAULT_HEALTH = "systemctl is-system-running";

const command: StepKindImpl = {
  async run(ctx) {
    return exitOutcome(await exec(ctx, ctx.step.run as string), `step "${ctx.step.name}"`);
  },
};

const sleep: StepKindImpl = {
  async run(ctx) {
    await ctx.clock.sleep(ctx.step.durationMs ?? 0, ctx.signal);
    return { ok: true, detail: { sleptMs: ctx.step.durationMs ?? 0 } };
  },
};

async function pollStep(ctx: StepContext, what: string): Promise<StepOutcome> {
  const r = await pollUntil(
    ctx,
    ctx.step.run as string,
    ctx.step.intervalMs ?? 2_000,
    (x) => x.exitCode === 0,
  );
  const detail: Record<string, unknown> = { polls: r.polls };
  if (r.last) Object.assign(detail, describeExec(r.last));
  if (r.ok) return { ok: true, detail };
  const last = r.last ? `last exit code ${r.last.exitCode}` : (r.lastError ?? "no answer");
  return { ok: false, reason: `${what} not passed within the timeout (${r.polls} tries, ${last})`, detail };
}

const gate: StepKindImpl = {
  async run(ctx) {
    if (ctx.step.approval) {
      await ctx.awaitApproval();
      return { ok: true, detail: { approved: true } };
    }
    return pollStep(ctx, `gate "${ctx.step.name}"`);
  },
};

/** The health command of a host: `overhaul_health_command`, else `systemctl is-system-running`. */
function healthCommand(ctx: StepContext): string {
  const v = ctx.host.vars.overhaul_health_command;
  return typeof v === "string" && v.trim() ? v : DEFAULT_HEALTH;
}

/** Poll the `Health` port until the host is healthy or the deadline passes. */
async function pollHealth(ctx: StepContext, health: Health): Promise<StepOutcome> {
  const r = await poll(
    ctx,
    ctx.step.intervalMs ?? 2_000,
    (by) => health.check(ctx.host, { signal: ctx.signal, deadline: by }),
    (x) => x.healthy,
  );
  const last = r.last?.detail ?? r.lastError ?? "no answer";
  if (r.ok) return { ok: true, detail: { polls: r.polls, health: last } };
  return {
    ok: false,
    reason: `host "${ctx.host.name}" not healthy within the timeout (${r.polls} tries, last: ${last})`,
    detail: { polls: r.polls, health: last },
  };
}

const waitHealthy: StepKindImpl = {
  async run(ctx) {
    if (ctx.step.run === undefined && ctx.health) return pollHealth(ctx, ctx.health);
    const probe = ctx.step.run ?? healthCommand(ctx);
    return pollStep({ ...ctx, step: { ...ctx.step, run: probe } }, `host "${ctx.host.name}" healthy check`);
  },
};

function bootIdCommand(ctx: StepContext): string {
  const v = ctx.host.vars.overhaul_boot_id_command;
  return typeof v === "string" && v.trim() ? v : DEFAULT_BOOT_ID;
}

function rebootCommand(ctx: StepContext): string | undefined {
  if (ctx.step.run) return ctx.step.run;
  const v = ctx.host.vars.overhaul_reboot_command;
  if (typeof v === "string" && v.trim()) return v;
  return ctx.host.connection === "local" ? undefined : "systemctl reboot";
}

/** The host answered the boot id command with a boot id. */
const answered = (x: ExecResult) => x.exitCode === 0 && x.stdout.trim() !== "";

async function readBootId(ctx: StepContext): Promise<string | undefined> {
  const r = await exec(ctx, bootIdCommand(ctx));
  const id = r.stdout.trim();
  return r.exitCode === 0 && id ? id : undefined;
}

/**
 * Why a reboot saw no new boot id within the step's timeout. The plan's retry policy still
 * decides what follows: a reboot can be held back for a while (a systemd inhibitor lock, a
 * `shutdown -r +1` that is late for the timeout) and a retry may then see it.
 */
function noNewBootId(
  ctx: StepContext,
  cmd: string,
  before: string,
  seen: { down: number; lastDown: boolean },
  last: ExecResult | undefined,
  lastError: string | undefined,
): string {
  const name = ctx.host.name;
  const within = `${Math.round(ctx.step.timeoutMs / 1000)}s`;
  const shown = cmd.length > 60 ? `${cmd.slice(0, 57)}...` : cmd;
  const lastSame = !seen.lastDown && last?.exitCode === 0 && last.stdout.trim() === before;
  if (lastSame && seen.down === 0) {
    return `host ${name} kept answering with the same boot id for ${within} after the reboot command: it did not reboot (the command \`${shown}\` returned without rebooting it)`;
  }
  if (lastSame) {
    return `host ${name} answers again, with the same boot id as before the reboot command: it did not reboot (unreachable for a while, as when only sshd or the network restarted; the command was \`${shown}\`)`;
  }
  if (seen.lastDown) {
    return `host ${name} did not come back within ${within} after the reboot command${lastError ? ` (last: ${lastError})` : ""}`;
  }
  return `host ${name} did not come back with a new boot id within ${within} (the boot id command ${
    last ? `answered exit code ${last.exitCode ?? "none"} with no boot id` : "never answered"
  })`;
}

const reboot: StepKindImpl = {
  async prepare(ctx) {
    // A retry may find the host still down from the attempt before (a slow POST): wait for it to
    // answer, within this attempt's timeout, rather than failing the attempt at once.
    const r = await pollUntil(ctx, bootIdCommand(ctx), ctx.step.intervalMs ?? 2_000, answered);
    if (r.ok) return { bootId: r.last?.stdout.trim() ?? null };
    return { bootId: null, unanswered: r.lastError ?? `exit code ${r.last?.exitCode ?? "none"}` };
  },
  async run(ctx) {
    const before = ctx.pre?.bootId;
    if (typeof before !== "string") {
      return {
        ok: false,
        reason: `could not read the boot id of ${ctx.host.name} before rebooting${
          typeof ctx.pre?.unanswered === "string" ? ` (${ctx.pre.unanswered})` : ""
        }`,
        detail: {},
      };
    }
    const cmd = rebootCommand(ctx);
    if (cmd === undefined) {
      return {
        ok: false,
        retryable: false,
        reason: `host ${ctx.host.name} is local: set the step's \`run\` or the host's overhaul_reboot_command (refusing to reboot this machine)`,
        detail: {},
      };
    }
    try {
      const r = await exec(ctx, cmd);
      if (r.exitCode !== 0 && r.exitCode !== null) {
        // A reboot that cuts its own connection may report an odd status; only a clear refusal while
        // the host still answers with the same boot id is a failure.
        const still = await readBootId(ctx).catch(() => undefined);
        if (still === before) return exitOutcome(r, "reboot command");
      }
    } catch (e) {
      if (!(e instanceof TransportError) || !e.retryable) throw e;
      // The connection dropping is what a reboot looks like from here.
    }
    const bootCmd = bootIdCommand(ctx);
    // What each probe saw, to say why no new boot id came: a host that never stopped answering
    // with the old one was not rebooted, which is not the same as a host that did not come back.
    const seen = { down: 0, lastDown: false };
    const r = await poll(
      ctx,
      ctx.step.intervalMs ?? 2_000,
      async (by) => {
        try {
          const x = await exec(ctx, bootCmd, by);
          seen.lastDown = false;
          return x;
        } catch (e) {
          seen.down++;
          seen.lastDown = true;
          throw e;
        }
      },
      (x) => {
        const id = x.stdout.trim();
        return x.exitCode === 0 && id !== "" && id !== before;
      },
    );
    const detail: Record<string, unknown> = { bootIdBefore: before, polls: r.polls };
    if (r.ok) return { ok: true, detail: { ...detail, bootIdAfter: r.last?.stdout.trim() } };
    return { ok: false, reason: noNewBootId(ctx, cmd, before, seen, r.last, r.lastError), detail };
  },
  async effectHappened(ctx) {
    const before = ctx.pre?.bootId;
    // No boot id recorded with the intent: `run` refused before issuing the reboot.
    if (typeof before !== "string") return false;
    // The host may still be booting from the reboot in doubt: wait until it answers (as `prepare`
    // does), and compare with the boot id recorded before it.
    const r = await pollUntil(ctx, bootIdCommand(ctx), ctx.step.intervalMs ?? 2_000, answered);
    if (r.ok) return r.last?.stdout.trim() !== before;
    // It answered, but never with a boot id: nothing to compare.
    if (r.last !== undefined) return undefined;
    return {
      failed: `host ${ctx.host.name} did not come back within ${Math.round(ctx.step.timeoutMs / 1000)}s (no answer to the boot id check${
        r.lastError ? `: ${r.lastError}` : ""
      })`,
    };
  },
};

export const STEP_IMPLS: Record<StepKind, StepKindImpl> = {
  command,
  sleep,
  gate,
  reboot,
  "wait-healthy": waitHealthy,
  drain,
  reinstate,
};

export { builtinRevert };
