/**
 * Compile a validated `PlanSpec` into the frozen `Plan` the engine runs.
 *
 * Invariants:
 * - Every step has every field resolved (retry, timeout, idempotency); the engine never guesses.
 * - Per-kind defaults live here and only here:
 *   - `reboot`: 10 min timeout, 3 attempts, idempotent (the Fly rule: not back in 10 min -> failed
 *     attempt; 3 failed attempts -> roll back).
 *   - `sleep`, `gate`, `wait-healthy`: idempotent (they change nothing on the host).
 *   - `drain`, `reinstate`: idempotent (each moves only what is still to move), 3 attempts,
 *     30 min timeout; a drain's revert is a reinstate.
 *   - `command`: 1 attempt, NOT idempotent unless the plan says so (a command of unknown outcome
 *     is never re-run by accident).
 * - Failure budget: with neither `maxFailed` nor `maxFailedPercent`, the first failed host halts the run.
 * - The result is deeply frozen.
 */
import { DEFAULT_BACKOFF, type PlanSpec, type StepKind, type StepSpec, type WaveSpec } from "./schema.js";

export interface RetryPolicy {
  attempts: number;
  initialMs: number;
  factor: number;
  maxMs: number;
  jitter: number;
}

export interface Step {
  index: number;
  name: string;
  kind: StepKind;
  description?: string;
  /** The effect's command (command, gate health check, wait-healthy probe, reboot command override). */
  run?: string;
  check?: string;
  verify?: string;
  /** The revert command. Without one, a `drain` step reverts by reinstating (see `hasRevert`). */
  revert?: string;
  timeoutMs: number;
  idempotent: boolean;
  pointOfNoReturn: boolean;
  become: boolean;
  retry: RetryPolicy;
  /** sleep: how long; gate/reboot/wait-healthy: poll interval. */
  durationMs?: number;
  intervalMs?: number;
  approval?: boolean;
}

export interface FailureBudget {
  maxFailed?: number;
  maxFailedPercent?: number;
}

export interface Concurrency {
  global: number;
  perRegion?: number;
  perFailureDomain: Readonly<Record<string, number>>;
  /**
   * Caps for single failure-domain values (kind -> value -> cap), which replace the kind's cap:
   * a schedule's caps (one member of a replicated group at a time, a region's hold-over room).
   * Never from the plan file; the planner adds them to a run (see core/planner/run-caps.ts).
   */
  perDomainValue?: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

export interface Plan {
  name: string;
  description?: string;
  hosts: string;
  steps: readonly Step[];
  waves: readonly WaveSpec[];
  concurrency: Concurrency;
  stagger: { intervalMs: number; jitterMs: number };
  failureBudget: FailureBudget;
  seed?: number;
}

const KIND_DEFAULTS: Record<StepKind, { attempts: number; idempotent: boolean; timeoutMs?: number }> = {
  command: { attempts: 1, idempotent: false },
  sleep: { attempts: 1, idempotent: true },
  gate: { attempts: 1, idempotent: true },
  reboot: { attempts: 3, idempotent: true, timeoutMs: 600_000 },
  "wait-healthy": { attempts: 1, idempotent: true },
  drain: { attempts: 3, idempotent: true, timeoutMs: 1_800_000 },
  reinstate: { attempts: 3, idempotent: true, timeoutMs: 1_800_000 },
};

function compileStep(s: StepSpec, index: number, planTimeoutMs: number): Step {
  const d = KIND_DEFAULTS[s.kind];
  // A step without `retry` has its kind's attempts and the backoff any retry has by default.
  const backoff = s.retry?.backoff ?? DEFAULT_BACKOFF;
  const retry: RetryPolicy = {
    attempts: s.retry?.attempts ?? d.attempts,
    initialMs: backoff.initial,
    factor: backoff.factor,
    maxMs: backoff.max,
    jitter: backoff.jitter,
  };
  const step: Step = {
    index,
    name: s.name,
    kind: s.kind,
    timeoutMs: s.timeout ?? d.timeoutMs ?? planTimeoutMs,
    idempotent: s.idempotent ?? d.idempotent,
    pointOfNoReturn: s.pointOfNoReturn,
    become: s.become,
    retry,
  };
  if (s.description !== undefined) step.description = s.description;
  if (s.check !== undefined) step.check = s.check;
  if (s.verify !== undefined) step.verify = s.verify;
  if (s.revert !== undefined) step.revert = s.revert;
  switch (s.kind) {
    case "command":
      step.run = s.run;
      break;
    case "sleep":
      step.durationMs = s.duration;
      break;
    case "gate":
      if (s.run !== undefined) step.run = s.run;
      step.intervalMs = s.interval;
      step.approval = s.approval;
      break;
    case "reboot":
      if (s.run !== undefined) step.run = s.run;
      step.intervalMs = s.interval;
      break;
    case "wait-healthy":
      if (s.run !== undefined) step.run = s.run;
      step.intervalMs = s.interval;
      break;
    case "drain":
    case "reinstate":
      break;
  }
  return step;
}

/** Can the step be reverted: a `revert` command, or a drain (whose revert is a reinstate). */
export function hasRevert(step: Step): boolean {
  return step.revert !== undefined || step.kind === "drain";
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

export function compilePlan(spec: PlanSpec): Plan {
  const budget: FailureBudget = {};
  if (spec.failureBudget.maxFailed !== undefined) budget.maxFailed = spec.failureBudget.maxFailed;
  if (spec.failureBudget.maxFailedPercent !== undefined)
    budget.maxFailedPercent = spec.failureBudget.maxFailedPercent;
  if (budget.maxFailed === undefined && budget.maxFailedPercent === undefined) budget.maxFailed = 0;
  const concurrency: Concurrency = {
    global: spec.concurrency.global,
    perFailureDomain: { ...spec.concurrency.perFailureDomain },
  };
  if (spec.concurrency.perRegion !== undefined) concurrency.perRegion = spec.concurrency.perRegion;
  const plan: Plan = {
    name: spec.name,
    hosts: spec.hosts,
    steps: spec.steps.map((s, i) => compileStep(s, i, spec.timeout)),
    waves: spec.waves.map((w) => ({ ...w })),
    concurrency,
    stagger: { intervalMs: spec.stagger.interval, jitterMs: spec.stagger.jitter },
    failureBudget: budget,
  };
  if (spec.description !== undefined) plan.description = spec.description;
  if (spec.seed !== undefined) plan.seed = spec.seed;
  return deepFreeze(plan);
}
