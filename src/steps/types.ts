/**
 * The contract of a built-in step kind.
 *
 * Invariants:
 * - `prepare` is read-only: it records the pre-state (e.g. the boot id before a reboot) that the
 *   engine persists with the attempt's intent, before any effect.
 * - `run` performs the effect through ports only and reports success or failure as a value;
 *   it throws only `TransportError` (the engine classifies those) or on abort.
 * - `effectHappened` is the kind's built-in "is it already done?" for in-doubt attempts, from the
 *   recorded pre-state, bounded by the step's timeout (`deadline`): true (done), false (not done:
 *   running it again is safe), undefined ("cannot tell"), or `{ failed }` when the attempt failed
 *   whatever it did (a rebooted host that did not answer within the timeout), which the engine
 *   treats like a failed attempt.
 */
import type { Host } from "../core/model/fleet.js";
import type { Step } from "../core/plan/compile.js";
import type { Clock } from "../ports/clock.js";
import type { Health } from "../ports/health.js";
import type { ExecResult, Transport } from "../ports/transport.js";
import type { Workloads } from "../ports/workloads.js";

export interface StepContext {
  host: Host;
  step: Step;
  transport: Transport;
  workloads?: Workloads;
  health?: Health;
  clock: Clock;
  signal: AbortSignal;
  /** Epoch ms by which the attempt must be over. */
  deadline: number;
  pre: Record<string, unknown> | null;
  /** Environment for commands: OVERHAUL_RUN_ID, OVERHAUL_STEP, OVERHAUL_PHASE, OVERHAUL_ATTEMPT. */
  env: Record<string, string>;
  /**
   * The attempt's tag (`attemptTag`), for the effects whose outcome can be in doubt (`run`,
   * `revert`): commands carry it, so the engine can ask the host later whether one still runs.
   */
  tag?: string;
  /** Manual gate: resolves once an operator approved this step (the run is paused meanwhile). */
  awaitApproval(): Promise<void>;
}

export interface StepOutcome {
  ok: boolean;
  reason?: string;
  /** False when retrying cannot help. Default true. */
  retryable?: boolean;
  detail: Record<string, unknown>;
}

/** What a kind's built-in check found about an in-doubt attempt (see `effectHappened`). */
export type EffectFinding = boolean | undefined | { failed: string };

export interface StepKindImpl {
  prepare?(ctx: StepContext): Promise<Record<string, unknown> | null>;
  run(ctx: StepContext): Promise<StepOutcome>;
  effectHappened?(ctx: StepContext): Promise<EffectFinding>;
}

const TAIL = 2_000;

/** The last part of a command's output, for results and events. */
export function tail(s: string): string {
  return s.length > TAIL ? `…${s.slice(-TAIL)}` : s;
}

export function describeExec(r: ExecResult): Record<string, unknown> {
  return {
    exitCode: r.exitCode,
    signal: r.signal,
    stdout: tail(r.stdout),
    stderr: tail(r.stderr),
    durationMs: Math.round(r.durationMs),
    truncated: r.truncated,
  };
}

/** Run a command of the step on the step's host, bounded by the attempt's deadline (or an earlier one). */
export function exec(ctx: StepContext, command: string, deadline = ctx.deadline): Promise<ExecResult> {
  const timeoutMs = Math.max(1, deadline - ctx.clock.now());
  return ctx.transport.exec(ctx.host, {
    command,
    timeoutMs,
    env: ctx.env,
    become: ctx.step.become,
    signal: ctx.signal,
    ...(ctx.tag !== undefined ? { tag: ctx.tag } : {}),
  });
}

/**
 * The tag of one attempt row (its `seq`, unique per host in a run) of a step's `run` or `revert`
 * (the Transport port's rule: `[A-Za-z0-9._-]`, at most 200 characters). A re-run is a new row,
 * so it never takes over the marker of the attempt before it. Run id and host are shortened and
 * cleaned for readability; a hash of both, whole, keeps tags of different hosts or runs apart.
 */
export function attemptTag(runId: string, host: string, seq: number, phase: string): string {
  const clean = (s: string, max: number) => s.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, max);
  return `${clean(runId, 60)}.${clean(host, 60)}.${fnv1a(`${runId}\u0000${host}`)}.${seq}.${clean(phase, 8)}`;
}

/** FNV-1a, 32 bits, as 8 hex digits. */
function fnv1a(s: string): string {
  let x = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return x.toString(16).padStart(8, "0");
}

export function exitOutcome(r: ExecResult, what: string): StepOutcome {
  if (r.exitCode === 0) return { ok: true, detail: describeExec(r) };
  const why = r.exitCode === null ? `killed by ${r.signal}` : `exit code ${r.exitCode}`;
  const err = r.stderr.trim().split("\n").slice(-1)[0] ?? "";
  return {
    ok: false,
    reason: `${what} failed (${why})${err ? `: ${err.slice(0, 200)}` : ""}`,
    detail: describeExec(r),
  };
}
