/**
 * Polling until a probe passes or the attempt's deadline passes (gate, wait-healthy, reboot).
 * Transport errors while polling count as "not yet" (a rebooting host is unreachable on purpose).
 *
 * Invariant: a probe is over one interval before the attempt's deadline (it gets that as its own
 * deadline), unless the whole attempt is shorter than one interval. A host that does not answer
 * fails a probe only at the connect timeout (10 s by default over SSH), so a probe bounded by the
 * attempt's deadline itself would run into it, and the engine's bare timeout (the effect unknown)
 * would replace the poll's verdict (why it failed).
 */
import { TransportError } from "../core/errors.js";
import type { ExecResult } from "../ports/transport.js";
import { exec, type StepContext } from "./types.js";

export interface PollResult<T = ExecResult> {
  ok: boolean;
  polls: number;
  last?: T;
  lastError?: string;
}

/** Ask `probe` every `intervalMs` until `accept` says yes or the deadline passes. */
export async function poll<T>(
  ctx: StepContext,
  intervalMs: number,
  probe: (deadline: number) => Promise<T>,
  accept: (r: T) => boolean,
): Promise<PollResult<T>> {
  let polls = 0;
  let last: T | undefined;
  let lastError: string | undefined;
  for (;;) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    polls++;
    const by = ctx.deadline - ctx.clock.now() > intervalMs ? ctx.deadline - intervalMs : ctx.deadline;
    try {
      last = await probe(by);
      if (accept(last)) return { ok: true, polls, last };
    } catch (e) {
      if (!(e instanceof TransportError) || !e.retryable) throw e;
      if (ctx.signal.aborted) throw ctx.signal.reason;
      lastError = e.message;
    }
    // Stop when the next probe could not answer before the deadline, so the poll's own verdict
    // (why it failed) is reported rather than the engine's bare timeout at the deadline itself.
    const left = ctx.deadline - ctx.clock.now();
    if (left <= intervalMs) {
      const r: PollResult<T> = { ok: false, polls };
      if (last !== undefined) r.last = last;
      if (lastError) r.lastError = lastError;
      return r;
    }
    await ctx.clock.sleep(intervalMs, ctx.signal);
  }
}

/** Run `command` until `accept` takes its result or the deadline passes. */
export function pollUntil(
  ctx: StepContext,
  command: string,
  intervalMs: number,
  accept: (r: ExecResult) => boolean,
): Promise<PollResult> {
  return poll(ctx, intervalMs, (by) => exec(ctx, command, by), accept);
}
