/**
 * The `drain` and `reinstate` step kinds, through the `Workloads` port.
 *
 * Invariants:
 * - Both are idempotent: the port moves only what is still to move, so an in-doubt attempt is
 *   re-run, and `effectHappened` asks the port whether anything is left.
 * - A drain succeeds only when the host is empty; a reinstate only when every workload drained
 *   from the host is back. Whatever could not move is named, with the port's reason.
 * - The result lists every move with its downtime (the report's workload downtime comes from it).
 * - A drain's revert is a reinstate (put back what was moved before the failure), except onto a
 *   host that cannot be reached: there the workloads stay where they run.
 */
import { TransportError } from "../core/errors.js";
import type { WorkloadsResult } from "../ports/workloads.js";
import type { StepContext, StepKindImpl, StepOutcome } from "./types.js";

function workloadsOf(ctx: StepContext) {
  if (!ctx.workloads) {
    // The run refuses such plans before it starts; reaching this is a composition bug.
    throw new Error(
      `step "${ctx.step.name}" (${ctx.step.kind}) needs a workloads manager; none is configured`,
    );
  }
  return ctx.workloads;
}

function outcomeOf(verb: string, ctx: StepContext, r: WorkloadsResult, left: string[]): StepOutcome {
  const detail = { moves: r.moves, unplaced: r.unplaced };
  if (left.length === 0) return { ok: true, detail };
  const why = r.unplaced
    .slice(0, 3)
    .map((u) => `${u.workload}: ${u.reason}`)
    .join("; ");
  const more = r.unplaced.length > 3 ? ` (and ${r.unplaced.length - 3} more)` : "";
  return {
    ok: false,
    reason: `${verb} of ${ctx.host.name} incomplete: ${left.length} workload(s) not moved${why ? ` (${why}${more})` : ""}`,
    detail,
  };
}

async function reinstateHost(ctx: StepContext): Promise<StepOutcome> {
  const w = workloadsOf(ctx);
  const r = await w.reinstate(ctx.host, { signal: ctx.signal, deadline: ctx.deadline });
  return outcomeOf("reinstate", ctx, r, await w.away(ctx.host));
}

export const drain: StepKindImpl = {
  async run(ctx) {
    const w = workloadsOf(ctx);
    const r = await w.drain(ctx.host, { signal: ctx.signal, deadline: ctx.deadline });
    return outcomeOf("drain", ctx, r, await w.list(ctx.host));
  },
  async effectHappened(ctx) {
    return (await workloadsOf(ctx).list(ctx.host)).length === 0;
  },
};

export const reinstate: StepKindImpl = {
  run: reinstateHost,
  async effectHappened(ctx) {
    return (await workloadsOf(ctx).away(ctx.host)).length === 0;
  },
};

/**
 * The revert of a step that has no `revert` command (see `hasRevert`): a drain is reinstated. A
 * host that cannot be reached (it never came back) gets nothing back: its workloads stay where
 * they run now, which is safe, and the host is reported failed with the reason.
 */
export async function builtinRevert(ctx: StepContext): Promise<StepOutcome> {
  if (ctx.step.kind === "drain") {
    try {
      return await reinstateHost(ctx);
    } catch (e) {
      if (!(e instanceof TransportError) || e.kind !== "unreachable") throw e;
      const away = await workloadsOf(ctx).away(ctx.host);
      return {
        ok: true,
        detail: {
          moves: [],
          kept: away,
          note: `${ctx.host.name} unreachable: ${away.length} workload(s) stay where they run`,
        },
      };
    }
  }
  return {
    ok: false,
    retryable: false,
    reason: `step "${ctx.step.name}" has no revert`,
    detail: {},
  };
}
