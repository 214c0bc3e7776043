/**
 * One host's pass through the plan's steps: one unit of work (one attempt, one revert, one
 * in-doubt resolution; with chained intents, the attempts that follow it at once) per call of
 * `step()`, so the coordinator can pause between units.
 *
 * Invariants:
 * - Intent before effect: the attempt row (with the lease token and the pre-state) is committed
 *   before the effect starts; the result is committed after. Every write is fenced by the lease.
 * - An attempt whose outcome is unknown (timeout, dropped connection, coordinator crash) is
 *   resolved by `check` (or the kind's built-in check), re-run only if the step is idempotent, and
 *   otherwise the host is parked `in_doubt` for an operator (a revert too). A non-idempotent effect
 *   never runs twice by accident. The unknown result is committed together with its resolution,
 *   never before the check has answered, so a stop during the check leaves the attempt in doubt.
 *   Before a check or a re-run, the attempt's command must no longer run on the host, as far as
 *   the transport can tell (`Transport.running`, asked with the attempt's tag): it is waited for,
 *   up to the step's timeout plus COMMAND_END_GRACE_MS, then the host is parked.
 *   A coordinator crash uses up no retry, except when the kind's built-in check finds the attempt
 *   failed whatever it did (a rebooted host that did not answer within the timeout): that is a
 *   failed attempt, as the effect's own verdict would have been.
 * - An effect's deadline is enforced by the transport it runs on, which reports a `timeout` (over
 *   SSH, once the host's own `timeout` has stopped the command, so a check, re-run or revert
 *   cannot race it); the engine's own timer, `EFFECT_BACKSTOP_MS` later, only catches an effect
 *   that never settles (its outcome is then unknown, and it may still be running).
 * - A coordinator that stops before or during an effect records nothing for it and starts nothing.
 * - Retries stay inside the step; when they run out, the failed step and the completed steps
 *   before it are reverted newest first, down to the last point of no return; then the host is
 *   failed with the reason and someone is notified.
 * - Every host state change goes through `assertHostTransition`.
 * - Abort stops the host where it is (no revert) and leaves no attempt open: a chained intent whose
 *   effect has not started is closed failed (nothing ran); an attempt a previous coordinator left
 *   in doubt is closed unknown, with nothing checked or re-run, and the host is parked `in_doubt`,
 *   not `aborted` (the step may be half done).
 * - Chained intents: when a step succeeds (or a host is admitted) and the next step can start at
 *   once, its intent is written in the same commit as the result (or the admission), and its
 *   effect starts right after that commit. Only into a step that needs nothing before its intent
 *   (no `check` to run first, no pre-state to read, not a gate) and that is idempotent, so a crash
 *   between that commit and the effect is resolved by a re-run, never parks the host; and only
 *   while the coordinator would start the next unit anyway (`mayContinue`: the run is running or
 *   halting, the coordinator is not stopping). Same rows and events as two commits, one fsync.
 *   `mayContinue` is asked again once the commit is durable: a pause, abort or stop read while it
 *   was in flight holds the effect (`pending`) until the coordinator steps the host again; an
 *   abort closes the still-open intent as failed (nothing ran); a stop leaves it in doubt for the
 *   next coordinator, which re-runs it (the step is idempotent).
 */
import { TransportError } from "../core/errors.js";
import { positionOf } from "../core/flow/position.js";
import { assertHostTransition, type HostState } from "../core/flow/states.js";
import type { Host } from "../core/model/fleet.js";
import { hasRevert, type Plan, type Step } from "../core/plan/compile.js";
import { decideAfterFailure, nextRevertIndex, resolveDoubt } from "../core/policy/retry.js";
import type {
  AttemptRecord,
  AttemptResult,
  HostFlowFields,
  HostFlowRecord,
  NewAttempt,
} from "../ports/store.js";
import { builtinRevert, STEP_IMPLS } from "../steps/kinds.js";
import {
  attemptTag,
  type EffectFinding,
  exec,
  type StepContext,
  type StepOutcome,
  tail,
} from "../steps/types.js";
import { AbortFanout } from "./abort-fanout.js";
import type { EngineDeps } from "./deps.js";

/** Outcome of running an effect: a value, or "unknown" when we cannot tell whether it happened. */
type Effect = StepOutcome | { unknown: true; reason: string };
/** What an effect is for; commands see it as OVERHAUL_PHASE. */
type EffectPhase = "prepare" | "check" | "run" | "verify" | "revert";

interface EventSpec {
  type: string;
  data?: Record<string, unknown>;
}

export interface HostFlowContext {
  deps: EngineDeps;
  plan: Plan;
  runId: string;
  owner: string;
  awaitApproval(step: Step): Promise<void>;
  /** Abort signal for the coordinator's shutdown. */
  signal: AbortSignal;
  /** One listener on `signal` for every flow's effects (abort-fanout.ts); made here if not given. */
  stop?: AbortFanout;
  /** Called after a commit changed the host's state (the coordinator's view is `rec` itself). */
  onStateChange?: (host: string) => void;
  /**
   * Would the coordinator start this host's next unit now (the run running or halting, the
   * coordinator not stopping)? Only then is the next step's intent chained (see the header).
   * Without it, nothing is chained.
   */
  mayContinue?: () => boolean;
}

/** Attempt 1 of a step whose intent is committed and whose effect is still to start (chained). */
interface Pending {
  step: Step;
  seq: number;
}

class TimeoutSignal extends Error {}

/** How often a command still running after its outcome became unknown is asked about again. */
export const COMMAND_POLL_MS = 5_000;
/** Past the step's timeout, how long a command may still run (the host's kill grace, a margin). */
export const COMMAND_END_GRACE_MS = 15_000;
/** How often a `verify` that could not answer is asked, and the pause between (`verified`). */
const VERIFY_ASKS = 3;
const VERIFY_PAUSE_MS = 2_000;
/** One "is it still running?" question to the host. */
const COMMAND_PROBE_TIMEOUT_MS = 30_000;

/**
 * An effect that could not answer (a check or verify): its outcome is unknown, or the transport
 * failed before the command ran (the host did not answer).
 */
function couldNotAnswer(e: Effect): boolean {
  return "unknown" in e || (!e.ok && e.detail.transport !== undefined);
}

/** How a step's timeout is reported, whoever noticed it (the engine's own timer or the transport). */
function timedOut(step: Step): string {
  return `step "${step.name}" timed out after ${Math.round(step.timeoutMs / 1000)}s`;
}

/**
 * How long past an effect's deadline the engine's own timer waits before it gives up on the
 * effect (see the header). Transports enforce the deadline they are given and report within a
 * bounded time after it — the SSH transport waits for the host's own `timeout` to stop the command
 * (its rounding up to whole seconds, its kill grace, a margin: about 4 s, then 1 s to signal and
 * close) — so their verdict, which says whether the command was stopped, comes first.
 */
export const EFFECT_BACKSTOP_MS = 10_000;

/**
 * The reason a unit's own timer is cancelled with once its effect has settled. Nobody reads it; a
 * plain `abort()` would build a DOMException (with a stack) for every effect.
 */
const EFFECT_SETTLED = Symbol("effect settled");

/** Thrown out of a unit when the coordinator stops mid-effect; nothing was committed for it. */
export class CoordinatorStopped extends Error {
  constructor(options?: { cause?: unknown }) {
    super("coordinator stopped", options);
  }
}

/** Thrown by `awaitApproval` when the run is aborted while a manual gate waits: the host stops there. */
export class ApprovalWithdrawn extends Error {}

export class HostFlow {
  readonly host: Host;
  /** The attempt left in doubt by a previous coordinator, to resolve before anything else. */
  private doubt: AttemptRecord | undefined;
  /** Set by `start` when it chained the first step's intent: the next unit runs its effect. */
  private pending: Pending | undefined;
  private nextSeq: number;

  constructor(
    private readonly cx: HostFlowContext,
    public rec: HostFlowRecord,
    attempts: readonly AttemptRecord[],
  ) {
    this.host = rec.data as unknown as Host;
    let last: AttemptRecord | undefined;
    for (const a of attempts) if (a.host === rec.host && (!last || a.seq > last.seq)) last = a;
    this.nextSeq = (last?.seq ?? 0) + 1;
    if (last && last.state === "started") this.doubt = last;
  }

  get name(): string {
    return this.rec.host;
  }

  /** Fenced commit of a patch, an intent and/or a result, and events. */
  private async commit(
    patch: Partial<HostFlowFields>,
    events: EventSpec[],
    io: { intent?: NewAttempt; result?: AttemptResult } = {},
  ): Promise<void> {
    const { deps, runId, owner } = this.cx;
    if (patch.state !== undefined && patch.state !== this.rec.state)
      assertHostTransition(this.rec.state, patch.state);
    const at = deps.clock.now();
    const evs = events.map((e) => ({
      runId,
      host: this.name,
      at,
      type: e.type,
      actor: owner,
      data: e.data ?? {},
    }));
    await deps.store.commitHost({
      runId,
      host: this.name,
      owner,
      token: this.rec.leaseToken,
      patch,
      ...io,
      events: evs,
    });
    const changed = patch.state !== undefined && patch.state !== this.rec.state;
    Object.assign(this.rec, patch);
    if (changed) this.cx.onStateChange?.(this.name);
    for (const e of evs) deps.sink.emit(e);
  }

  /** Admit the host: pending -> running (and the first step's intent, when it can be chained). */
  async start(): Promise<void> {
    const patch: Partial<HostFlowFields> = {
      state: "running",
      startedAt: this.cx.deps.clock.now(),
      notBefore: null,
    };
    const events: EventSpec[] = [{ type: "host.started", data: { wave: this.rec.wave } }];
    const first = this.rec.attempts === 0 ? this.chainable(this.rec.stepIndex) : undefined;
    if (first === undefined) return this.commit(patch, events);
    const { intent, pending } = this.chain(first, patch, events);
    await this.commit(patch, events, { intent });
    this.pending = pending;
  }

  /**
   * The step at `index` if its intent may be chained into the commit being made now (see the
   * header): it exists, needs nothing before its intent, is idempotent, and the coordinator would
   * start it now.
   */
  private chainable(index: number): Step | undefined {
    const step = this.cx.plan.steps[index];
    // An attempt left in doubt is resolved before anything else on the host, never chained past.
    if (step === undefined || this.doubt !== undefined || !this.mayContinue()) return undefined;
    if (!step.idempotent || step.check !== undefined || step.kind === "gate") return undefined;
    if (STEP_IMPLS[step.kind].prepare !== undefined) return undefined;
    return step;
  }

  /** Would the coordinator start this host's next unit now (see HostFlowContext.mayContinue)? */
  private mayContinue(): boolean {
    return this.cx.mayContinue?.() === true;
  }

  /** Add attempt 1 of `step` to a commit in the making: its intent, `attempts: 1`, its event. */
  private chain(
    step: Step,
    patch: Partial<HostFlowFields>,
    events: EventSpec[],
  ): { intent: NewAttempt; pending: Pending } {
    const seq = this.nextSeq++;
    patch.attempts = 1;
    events.push({ type: "attempt.started", data: { step: step.name, attempt: 1 } });
    return { intent: this.intent(step, "run", seq, 1, null), pending: { step, seq } };
  }

  /**
   * Abort: the host stops where it is (no revert). A chained intent whose effect has not started
   * (`pending`) is closed in the same commit: failed, nothing ran, so no attempt stays open. An
   * attempt a previous coordinator left in doubt is not resolved (nothing runs on the host after an
   * abort): it is closed as unknown and the host parked `in_doubt`, since the step may be half done.
   */
  async abort(reason: string): Promise<void> {
    const d = this.doubt;
    this.doubt = undefined;
    if (d !== undefined) return this.abortInDoubt(d, reason);
    const now = this.cx.deps.clock.now();
    const events: EventSpec[] = [];
    const p = this.pending;
    this.pending = undefined;
    const io: { result?: AttemptResult } = {};
    if (p !== undefined) {
      const why = `${reason} (before the step started: nothing ran)`;
      events.push({
        type: "attempt.failed",
        data: { step: p.step.name, attempt: 1, reason: why, final: true },
      });
      io.result = { seq: p.seq, state: "failed", finishedAt: now, result: { reason: why } };
    }
    // Where it stopped: at a step one of whose attempts began, after the last one it finished, or
    // not started (core/flow/position.ts). A chained intent closed here never began.
    const where = positionOf(
      p === undefined ? this.rec : { ...this.rec, attempts: 0 },
      this.cx.plan.steps.map((s) => s.name),
    );
    events.push({ type: "host.aborted", data: { reason, step: where.step, after: where.after } });
    await this.commit({ state: "aborted", finishedAt: now, reason }, events, io);
  }

  /** The run is aborted with attempt `a` left in doubt by a stopped coordinator (see `abort`). */
  private async abortInDoubt(a: AttemptRecord, reason: string): Promise<void> {
    const name = this.cx.plan.steps[a.stepIndex]?.name ?? a.stepName;
    const phase = a.phase === "revert" ? "revert" : "run";
    const crash = "the coordinator stopped during it";
    const result: AttemptResult = {
      seq: a.seq,
      state: "unknown",
      finishedAt: this.cx.deps.clock.now(),
      result: { reason: `${crash}; then the run was aborted (${reason})` },
    };
    const what = phase === "revert" ? `the revert of step "${name}"` : `step "${name}"`;
    return this.park(
      `run aborted (${reason}) with the outcome of ${what} unknown (${crash}): look at the host`,
      [
        {
          type: "attempt.unknown",
          data: { step: name, attempt: a.number, phase, reason: crash, resolution: "park" },
        },
      ],
      { result },
    );
  }

  /** Do one unit of work. */
  async step(): Promise<void> {
    if (this.doubt) {
      const d = this.doubt;
      this.doubt = undefined;
      return this.resolveCrashDoubt(d);
    }
    if (this.rec.state === "reverting") return this.revertUnit();
    if (this.rec.state !== "running") {
      this.pending = undefined;
      return;
    }
    const p = this.pending;
    if (p === undefined) return this.forwardUnit();
    // Paused, aborting or stopping: the chained effect waits (the intent stays open).
    if (!this.mayContinue()) return;
    this.pending = undefined;
    return this.attempt(p.step, p.seq, 1, null);
  }

  private ctxFor(
    step: Step,
    signal: AbortSignal,
    pre: Record<string, unknown> | null,
    attempt: number,
    phase: EffectPhase,
    seq?: number,
  ): StepContext {
    const { deps } = this.cx;
    const ctx: StepContext = {
      host: this.host,
      step,
      transport: deps.transport,
      clock: deps.clock,
      signal,
      deadline: deps.clock.now() + step.timeoutMs,
      pre,
      env: {
        OVERHAUL_RUN_ID: this.cx.runId,
        OVERHAUL_STEP: step.name,
        OVERHAUL_PHASE: phase,
        OVERHAUL_ATTEMPT: String(attempt),
      },
      awaitApproval: () => this.cx.awaitApproval(step),
    };
    if (deps.workloads) ctx.workloads = deps.workloads;
    if (deps.health) ctx.health = deps.health;
    if (seq !== undefined && (phase === "run" || phase === "revert"))
      ctx.tag = attemptTag(this.cx.runId, this.name, seq, phase);
    return ctx;
  }

  /** Run `fn` under the step's timeout; a timeout or dropped link makes the outcome unknown. */
  private async effect(
    step: Step,
    pre: Record<string, unknown> | null,
    attempt: number,
    phase: EffectPhase,
    fn: (ctx: StepContext) => Promise<StepOutcome>,
    opts: { timed?: boolean; seq?: number } = {},
  ): Promise<Effect> {
    const timed = opts.timed ?? true;
    const { clock } = this.cx.deps;
    // Stopped before the effect began (e.g. while its intent was being committed): start nothing.
    // The fanout below never aborts an effect registered after the signal aborted.
    if (this.cx.signal.aborted) throw new CoordinatorStopped({ cause: this.cx.signal.reason });
    const ac = new AbortController();
    this.cx.stop ??= new AbortFanout(this.cx.signal);
    const stop = this.cx.stop;
    stop.add(ac);
    const ctx = this.ctxFor(step, ac.signal, pre, attempt, phase, opts.seq);
    let backstop: (() => void) | undefined;
    if (timed) {
      // Cancelled once the effect settled (below); firing after an abort for another reason
      // changes nothing (a signal aborts once).
      backstop = clock.timer(step.timeoutMs + EFFECT_BACKSTOP_MS, () =>
        ac.abort(new TimeoutSignal(timedOut(step))),
      );
    } else {
      ctx.deadline = Number.MAX_SAFE_INTEGER;
    }
    try {
      return await fn(ctx);
    } catch (e) {
      // The coordinator is shutting down: record nothing. The intent stays without a result, so
      // the next coordinator resolves it exactly as after a crash.
      if (this.cx.signal.aborted) throw new CoordinatorStopped({ cause: e });
      if (e instanceof CoordinatorStopped || e instanceof ApprovalWithdrawn) throw e;
      if (ac.signal.reason instanceof TimeoutSignal) return { unknown: true, reason: timedOut(step) };
      if (e instanceof TransportError) {
        if (e.kind === "timeout") return { unknown: true, reason: `${timedOut(step)}: ${e.message}` };
        if (e.effectUnknown) return { unknown: true, reason: e.message };
        return { ok: false, retryable: e.retryable, reason: e.message, detail: { transport: e.kind } };
      }
      if (this.cx.signal.aborted) throw e;
      return {
        ok: false,
        retryable: false,
        reason: `internal error in step "${step.name}": ${String(e)}`,
        detail: {},
      };
    } finally {
      backstop?.();
      ac.abort(EFFECT_SETTLED);
      stop.delete(ac);
    }
  }

  /**
   * Is the step's effect already there? `check` command, else the kind's built-in check; undefined
   * when it cannot tell (and `why.text` says why: the host did not answer, sudo refused, ...),
   * `{ failed }` when the built-in check found the attempt failed anyway.
   */
  private async isDone(
    step: Step,
    pre: Record<string, unknown> | null,
    why: { text?: string } = {},
  ): Promise<EffectFinding> {
    const impl = STEP_IMPLS[step.kind];
    let failed: string | undefined;
    const r = await this.effect(step, pre, 0, "check", async (ctx) => {
      if (step.check !== undefined) {
        // Resolving a reboot's attempt: the step's own check cannot run while the host still
        // boots, and "cannot tell" would run the reboot again. The built-in check (boot ids)
        // waits for the host first; only a host back from the reboot in doubt is asked the
        // step's own check.
        if (pre !== null && step.kind === "reboot" && impl.effectHappened !== undefined) {
          const happened = await impl.effectHappened(ctx);
          if (typeof happened === "object") failed = happened.failed;
          if (happened === false || typeof happened === "object") return { ok: false, detail: {} };
        }
        const x = await exec(ctx, step.check);
        return { ok: x.exitCode === 0, detail: { exitCode: x.exitCode, stdout: tail(x.stdout) } };
      }
      const happened = await impl.effectHappened?.(ctx);
      if (happened === undefined) throw new TransportError("dropped", "cannot tell");
      if (typeof happened === "object") failed = happened.failed;
      return { ok: happened === true, detail: {} };
    });
    if (couldNotAnswer(r)) {
      if (r.reason !== undefined && r.reason !== "cannot tell") why.text = r.reason;
      return undefined;
    }
    if (failed !== undefined) return { failed };
    return !("unknown" in r) && r.ok;
  }

  /** The intent row of attempt `n` of `step`, under the current lease token. */
  private intent(
    step: Step,
    phase: "run" | "revert",
    seq: number,
    n: number,
    pre: Record<string, unknown> | null,
  ): NewAttempt {
    return {
      runId: this.cx.runId,
      host: this.name,
      seq,
      stepIndex: step.index,
      stepName: step.name,
      phase,
      number: n,
      state: "started",
      token: this.rec.leaseToken,
      pre,
      startedAt: this.cx.deps.clock.now(),
    };
  }

  private async forwardUnit(): Promise<void> {
    const { plan } = this.cx;
    const i = this.rec.stepIndex;
    const step = plan.steps[i];
    if (!step) return this.succeed([]);
    const impl = STEP_IMPLS[step.kind];

    if (this.rec.attempts === 0 && step.check !== undefined) {
      if ((await this.isDone(step, null)) === true) {
        return this.advance(step, [
          { type: "step.skipped", data: { step: step.name, reason: "check passed: already done" } },
        ]);
      }
    }

    const n = this.rec.attempts + 1;
    let pre: Record<string, unknown> | null = null;
    let preFailure: string | undefined;
    if (impl.prepare) {
      const p = await this.effect(step, null, n, "prepare", async (ctx) => ({
        ok: true,
        detail: (await impl.prepare?.(ctx)) ?? {},
      }));
      if ("unknown" in p || !p.ok)
        preFailure = `could not read the pre-state of step "${step.name}": ${p.reason}`;
      else pre = p.detail;
    }
    const seq = this.nextSeq++;
    const intent = this.intent(step, "run", seq, n, pre);
    await this.commit({ attempts: n }, [{ type: "attempt.started", data: { step: step.name, attempt: n } }], {
      intent,
    });
    return this.attempt(step, seq, n, pre, preFailure);
  }

  /** Run attempt `n` of `step`, whose intent is committed, and settle it. */
  private async attempt(
    step: Step,
    seq: number,
    n: number,
    pre: Record<string, unknown> | null,
    preFailure?: string,
  ): Promise<void> {
    const impl = STEP_IMPLS[step.kind];
    let outcome: Effect;
    if (preFailure !== undefined) outcome = { ok: false, reason: preFailure, detail: {} };
    else {
      const timed = !(step.kind === "gate" && step.approval);
      try {
        outcome = await this.effect(step, pre, n, "run", (ctx) => impl.run(ctx), { timed, seq });
      } catch (e) {
        if (e instanceof ApprovalWithdrawn) return this.abortAtGate(step, seq, n, e.message);
        throw e;
      }
      if (!("unknown" in outcome) && outcome.ok && step.verify !== undefined) {
        const verify = step.verify;
        const ran = outcome;
        const v = await this.verified(() =>
          this.effect(step, pre, n, "verify", async (ctx) => {
            const x = await exec(ctx, verify);
            if (x.exitCode === 0) return { ok: true, detail: "detail" in ran ? ran.detail : {} };
            return {
              ok: false,
              reason: `verify of step "${step.name}" failed (exit code ${x.exitCode}): ${tail(
                x.stderr || x.stdout,
              )
                .trim()
                .slice(-200)}`,
              detail: { verifyExitCode: x.exitCode },
            };
          }),
        );
        outcome = "unknown" in v ? { ok: false, reason: v.reason, detail: {} } : v;
      }
    }
    return this.settle(step, seq, n, pre, outcome);
  }

  /**
   * Run a step's `verify`, asking again (up to VERIFY_ASKS times, VERIFY_PAUSE_MS apart) while it
   * could not answer (its connection dropped, it timed out, the host did not answer): a verify
   * reads, so asking again is safe, whereas counting "could not tell" as a failed verify would
   * run the step itself again.
   */
  private async verified(ask: () => Promise<Effect>): Promise<Effect> {
    for (let i = 1; ; i++) {
      const v = await ask();
      if (!couldNotAnswer(v) || i >= VERIFY_ASKS) return v;
      await this.pause(VERIFY_PAUSE_MS);
    }
  }

  /** The run was aborted while this host waited at a manual gate: close the attempt, stop here. */
  private async abortAtGate(step: Step, seq: number, n: number, reason: string): Promise<void> {
    const now = this.cx.deps.clock.now();
    await this.commit(
      { state: "aborted", finishedAt: now, reason, notBefore: null },
      [
        { type: "attempt.failed", data: { step: step.name, attempt: n, reason, final: true } },
        { type: "host.aborted", data: { reason, step: step.name, after: null } },
      ],
      { result: { seq, state: "failed", finishedAt: now, result: { reason } } },
    );
  }

  /** Commit the result of attempt `n` of `step` and decide what comes next. */
  private async settle(
    step: Step,
    seq: number,
    n: number,
    pre: Record<string, unknown> | null,
    outcome: Effect,
  ): Promise<void> {
    const now = this.cx.deps.clock.now();
    if ("unknown" in outcome) {
      const result: AttemptResult = {
        seq,
        state: "unknown",
        finishedAt: now,
        result: { reason: outcome.reason },
      };
      return this.handleUnknown(step, "run", n, pre, outcome.reason, result);
    }
    if (outcome.ok) {
      const result: AttemptResult = { seq, state: "succeeded", finishedAt: now, result: outcome.detail };
      return this.advance(
        step,
        [{ type: "attempt.succeeded", data: { step: step.name, attempt: n } }],
        result,
      );
    }
    const result: AttemptResult = {
      seq,
      state: "failed",
      finishedAt: now,
      result: { ...outcome.detail, reason: outcome.reason ?? "failed" },
    };
    return this.failed(step, n, outcome.reason ?? "failed", outcome.retryable !== false, result);
  }

  /** A run attempt failed (known outcome): retry after a backoff, or give up and revert. */
  private async failed(
    step: Step,
    n: number,
    reason: string,
    retryable: boolean,
    result?: AttemptResult,
    before: EventSpec[] = [],
  ): Promise<void> {
    const { deps } = this.cx;
    const d = decideAfterFailure(step, n, retryable, deps.random.next());
    const io = result ? { result } : {};
    if (d.action === "retry") {
      return this.commit(
        { notBefore: deps.clock.now() + d.delayMs },
        [
          ...before,
          { type: "attempt.failed", data: { step: step.name, attempt: n, reason, retryInMs: d.delayMs } },
        ],
        io,
      );
    }
    const events: EventSpec[] = [
      ...before,
      { type: "attempt.failed", data: { step: step.name, attempt: n, reason, final: true } },
    ];
    const first = n > 1 ? await this.firstReason(step, reason) : undefined;
    return this.beginRevert(
      step.index,
      `step "${step.name}" failed after ${n} attempt(s): ${first !== undefined ? `attempt 1: ${first}; attempt ${n}: ${reason}` : reason}`,
      events,
      io,
    );
  }

  /**
   * Why the first attempt of the step's latest series failed, when that is not the last reason: a
   * reboot whose host never came back fails its later attempts at reading the boot id, and the
   * host's reason must still say it went down and did not return.
   */
  private async firstReason(step: Step, last: string): Promise<string | undefined> {
    const attempts = await this.cx.deps.store.getAttempts(this.cx.runId, this.rec.host);
    let first: AttemptRecord | undefined;
    for (const a of attempts)
      if (a.stepIndex === step.index && a.phase === "run" && a.number === 1 && (!first || a.seq > first.seq))
        first = a;
    const why = first?.result?.reason;
    return typeof why === "string" && why !== last ? why : undefined;
  }

  private async beginRevert(
    fromIndex: number,
    reason: string,
    events: EventSpec[],
    io: { result?: AttemptResult },
  ): Promise<void> {
    const { plan } = this.cx;
    const j = nextRevertIndex(plan.steps, fromIndex, this.rec.noReturnIndex);
    if (j < 0) return this.fail(reason, events, io);
    return this.commit(
      { state: "reverting", phase: "revert", stepIndex: j, attempts: 0, notBefore: null, reason },
      [...events, { type: "host.reverting", data: { reason, from: plan.steps[j]?.name } }],
      io,
    );
  }

  private async fail(
    reason: string,
    events: EventSpec[],
    io: { result?: AttemptResult } = {},
  ): Promise<void> {
    await this.commit(
      { state: "failed", finishedAt: this.cx.deps.clock.now(), reason, notBefore: null },
      [...events, { type: "host.failed", data: { reason } }],
      io,
    );
    await this.notify("critical", `${this.name} failed: ${reason}`);
  }

  private async park(
    reason: string,
    events: EventSpec[],
    io: { result?: AttemptResult } = {},
  ): Promise<void> {
    const to: HostState = "in_doubt";
    await this.commit(
      { state: to, finishedAt: this.cx.deps.clock.now(), reason, notBefore: null },
      [...events, { type: "host.in_doubt", data: { reason } }],
      io,
    );
    await this.notify("critical", `${this.name} needs an operator: ${reason}`);
  }

  private async notify(severity: "warning" | "critical", summary: string): Promise<void> {
    try {
      await this.cx.deps.notifier.notify({ runId: this.cx.runId, host: this.name, severity, summary });
    } catch {
      // A failed notification never fails the host; the event log has it all.
    }
  }

  /** Step done: move to the next one (or finish the host). */
  private async advance(step: Step, events: EventSpec[], result?: AttemptResult): Promise<void> {
    const next = step.index + 1;
    const patch: Partial<HostFlowFields> = { stepIndex: next, attempts: 0, notBefore: null };
    if (step.pointOfNoReturn) patch.noReturnIndex = step.index;
    const evs: EventSpec[] = [...events, { type: "step.succeeded", data: { step: step.name } }];
    if (next >= this.cx.plan.steps.length) return this.succeed(evs, patch, result);
    const following = this.rec.state === "running" ? this.chainable(next) : undefined;
    if (following === undefined) return this.commit(patch, evs, result ? { result } : {});
    const { intent, pending } = this.chain(following, patch, evs);
    await this.commit(patch, evs, result ? { result, intent } : { intent });
    // The coordinator may have read a pause, an abort or a stop while the commit was in flight:
    // then the effect waits, as the next unit would have (see `step` and `abort`).
    if (!this.mayContinue()) {
      this.pending = pending;
      return;
    }
    return this.attempt(following, pending.seq, 1, null);
  }

  private async succeed(
    events: EventSpec[],
    patch: Partial<HostFlowFields> = {},
    result?: AttemptResult,
  ): Promise<void> {
    return this.commit(
      { ...patch, state: "succeeded", finishedAt: this.cx.deps.clock.now(), reason: null },
      [...events, { type: "host.succeeded" }],
      result ? { result } : {},
    );
  }

  /** An effect of unknown outcome: check, re-run, or park (see the header). */
  private async handleUnknown(
    step: Step,
    phase: "run" | "revert",
    n: number,
    pre: Record<string, unknown> | null,
    reason: string,
    result: AttemptResult,
    crash = false,
  ): Promise<void> {
    const impl = STEP_IMPLS[step.kind];
    const how = resolveDoubt(step, phase, impl.effectHappened !== undefined);
    const ev: EventSpec = {
      type: "attempt.unknown",
      data: { step: step.name, attempt: n, phase, reason, resolution: how },
    };
    // Neither a check nor a re-run while the attempt's command may still run on the host (a
    // dropped connection, a crashed coordinator): its effect could land after the check said
    // "not done", or run twice at once. Nor parking it for an operator (who may retry it) while it
    // runs: parked once it has ended, the host is as the command left it.
    const still = await this.untilCommandEnded(step, phase, n, result.seq);
    if (still !== undefined) {
      return this.park(
        `outcome of step "${step.name}" (${phase}) is unknown (${reason}), and its command still runs on the host ${still}`,
        [{ ...ev, data: { ...ev.data, resolution: "park" } }],
        { result },
      );
    }
    if (how === "park") {
      return this.park(
        `outcome of step "${step.name}" (${phase}) is unknown (${reason}); it is not idempotent and has no check`,
        [ev],
        { result },
      );
    }
    if (how === "check") {
      // The attempt stays `started` until the check has answered, and its result is committed with
      // the decision: a coordinator that stops during the check leaves it in doubt, so the next one
      // checks again instead of re-running the effect.
      const why: { text?: string } = {};
      const done = await this.isDone(step, pre, why);
      if (done === true)
        return this.advance(
          step,
          [
            ev,
            {
              type: "step.confirmed",
              data: { step: step.name, by: step.check ? "check" : "built-in check" },
            },
          ],
          result,
        );
      // The built-in check found the attempt failed whatever it did (a rebooted host that did not
      // come back within the timeout): a failed attempt, crash or not, like the effect's own verdict.
      if (typeof done === "object")
        return this.failed(step, n, `${reason}; then ${done.failed}`, true, result, [ev]);
      if (done === undefined && !step.idempotent) {
        return this.park(
          `outcome of step "${step.name}" is unknown (${reason}) and its check could not tell${why.text ? ` (${why.text})` : ""}`,
          [ev],
          { result },
        );
      }
      // A coordinator crash is not the step's fault: run the attempt again without using up a retry.
      if (crash) return this.commit({ attempts: n - 1 }, [ev], { result });
      return this.failed(step, n, reason, true, result, [ev]);
    }
    // rerun
    if (crash) return this.commit({ attempts: n - 1 }, [ev], { result });
    if (phase === "revert") return this.revertFailed(step, n, reason, result);
    return this.failed(step, n, reason, true, result);
  }

  /**
   * Wait while the command of attempt `n` still runs on the host, as far as the transport can
   * tell (`Transport.running`): polled every COMMAND_POLL_MS, for at most the step's timeout plus
   * COMMAND_END_GRACE_MS (by then the host's own limit has stopped it, when it has one). Returns
   * undefined once it no longer runs or the transport cannot tell (then nothing is known, as
   * before this existed), and why not when it still runs past that.
   */
  private async untilCommandEnded(
    step: Step,
    phase: "run" | "revert",
    n: number,
    seq: number,
  ): Promise<string | undefined> {
    const { transport, clock } = this.cx.deps;
    if (transport.running === undefined) return undefined;
    const tag = attemptTag(this.cx.runId, this.name, seq, phase);
    const since = clock.now();
    const until = since + step.timeoutMs + COMMAND_END_GRACE_MS;
    let told = false;
    for (;;) {
      let running: boolean | undefined;
      try {
        running = await transport.running(this.host, {
          tag,
          timeoutMs: COMMAND_PROBE_TIMEOUT_MS,
          ...(step.become ? { become: true } : {}),
          signal: this.cx.signal,
        });
      } catch (e) {
        // The coordinator is stopping: the attempt stays in doubt. Any other failure: cannot tell.
        if (this.cx.signal.aborted) throw new CoordinatorStopped({ cause: e });
        return undefined;
      }
      if (running !== true) return undefined;
      const now = clock.now();
      if (now >= until) return `${Math.round((now - since) / 1000)}s after its outcome became unknown`;
      if (!told) {
        told = true;
        // Stored, not only shown: `status`, reports and the service's live stream say why the
        // host waits (the coordinator may wait minutes here).
        await this.commit({}, [
          {
            type: "attempt.still-running",
            data: { step: step.name, attempt: n, phase, waitingUpToMs: until - now },
          },
        ]);
      }
      await this.pause(Math.min(COMMAND_POLL_MS, until - now));
    }
  }

  /** Wait `ms`; a coordinator stopping meanwhile ends the unit (`CoordinatorStopped`). */
  private async pause(ms: number): Promise<void> {
    try {
      await this.cx.deps.clock.sleep(ms, this.cx.signal);
    } catch (e) {
      throw new CoordinatorStopped({ cause: e });
    }
  }

  private async resolveCrashDoubt(a: AttemptRecord): Promise<void> {
    const step = this.cx.plan.steps[a.stepIndex];
    const now = this.cx.deps.clock.now();
    const result: AttemptResult = {
      seq: a.seq,
      state: "unknown",
      finishedAt: now,
      result: { reason: "coordinator stopped during the attempt" },
    };
    if (!step) return this.park(`attempt ${a.seq} names a step that is not in the plan`, [], { result });
    const phase = a.phase === "revert" ? "revert" : "run";
    return this.handleUnknown(
      step,
      phase,
      a.number,
      a.pre,
      "the coordinator stopped while the attempt ran",
      result,
      true,
    );
  }

  private async revertUnit(): Promise<void> {
    const { plan, deps } = this.cx;
    const j = this.rec.stepIndex;
    const step = plan.steps[j];
    if (!step || !hasRevert(step)) return this.fail(this.rec.reason ?? "failed", []);
    const n = this.rec.attempts + 1;
    const seq = this.nextSeq++;
    const intent = this.intent(step, "revert", seq, n, null);
    await this.commit({ attempts: n }, [{ type: "revert.started", data: { step: step.name, attempt: n } }], {
      intent,
    });
    const revert = step.revert;
    const out = await this.effect(
      step,
      null,
      n,
      "revert",
      async (ctx) => {
        if (revert === undefined) return builtinRevert(ctx);
        const x = await exec(ctx, revert);
        if (x.exitCode === 0) return { ok: true, detail: { exitCode: 0 } };
        return {
          ok: false,
          reason: `revert of step "${step.name}" failed (exit code ${x.exitCode})`,
          detail: { exitCode: x.exitCode, stderr: tail(x.stderr) },
        };
      },
      { seq },
    );
    const now = deps.clock.now();
    if ("unknown" in out) {
      return this.handleUnknown(step, "revert", n, null, out.reason, {
        seq,
        state: "unknown",
        finishedAt: now,
        result: { reason: out.reason },
      });
    }
    if (out.ok) {
      const result: AttemptResult = { seq, state: "succeeded", finishedAt: now, result: out.detail };
      const next = nextRevertIndex(plan.steps, j - 1, this.rec.noReturnIndex);
      const events: EventSpec[] = [{ type: "revert.succeeded", data: { step: step.name } }];
      if (next < 0) return this.fail(`${this.rec.reason ?? "failed"} (rolled back)`, events, { result });
      return this.commit({ stepIndex: next, attempts: 0, notBefore: null }, events, { result });
    }
    return this.revertFailed(step, n, out.reason ?? "revert failed", {
      seq,
      state: "failed",
      finishedAt: now,
      result: { ...out.detail, reason: out.reason },
    });
  }

  private async revertFailed(step: Step, n: number, reason: string, result?: AttemptResult): Promise<void> {
    const { deps } = this.cx;
    const io = result ? { result } : {};
    const d = decideAfterFailure(step, n, true, deps.random.next());
    if (d.action === "retry") {
      return this.commit(
        { notBefore: deps.clock.now() + d.delayMs },
        [{ type: "revert.failed", data: { step: step.name, attempt: n, reason, retryInMs: d.delayMs } }],
        io,
      );
    }
    return this.fail(
      `${this.rec.reason ?? "failed"}; then ${reason}: manual recovery needed`,
      [{ type: "revert.failed", data: { step: step.name, attempt: n, reason, final: true } }],
      io,
    );
  }
}
