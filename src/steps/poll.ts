/**
 * Polling until a command succeeds or the attempt's deadline passes (gate, wait-healthy, reboot).
 * Transport errors while polling count as "not yet" (a rebooting host is unreachable on purpose).
 */
import { TransportError } from "../core/errors.js";
import type { ExecResult } from "../ports/transport.js";
import { exec, type StepContext } from "./types.js";

export interface PollResult {
  ok: boolean;
  polls: number;
  last?: ExecResult;
  lastError?: string;
}

export async function pollUntil(
  ctx: StepContext,
  command: string,
  intervalMs: number,
  accept: (r: ExecResult) => boolean,
): Promise<PollResult> {
  let polls = 0;
  let last: ExecResult | undefined;
  let lastError: string | undefined;
  for (;;) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    polls++;
    try {
      last = await exec(ctx, command);
      if (accept(last)) return { ok: true, polls, last };
    } catch (e) {
      if (!(e instanceof TransportError) || !e.retryable) throw e;
      if (ctx.signal.aborted) throw ctx.signal.reason;
      lastError = e.message;
    }
    const left = ctx.deadline - ctx.clock.now();
    if (left <= 0) {
      const r: PollResult = { ok: false, polls };
      if (last) r.last = last;
      if (lastError) r.lastError = lastError;
      return r;
    }
    await ctx.clock.sleep(Math.min(intervalMs, left), ctx.signal);
  }
}
