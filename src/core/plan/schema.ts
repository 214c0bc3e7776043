/**
 * The plan file (YAML), validated once at the edge with zod and compiled to a frozen `Plan`.
 *
 * Invariants:
 * - Nothing is adjusted silently: a bad value is rejected with its path, never clamped.
 * - Every duration is compiled to milliseconds; every default is written here, once.
 * - `hosts` (the scope pattern) is required and never empty: there is no implicit "all".
 */
import { z } from "zod";
import { FAILURE_DOMAIN_KINDS, type FailureDomainKind } from "../model/fleet.js";
import { formatDuration, parseDuration } from "./duration.js";

/** What a person may write for a duration; `expected` is the hint shown with a type error. */
const durationInput = z
  .union([z.string(), z.number()])
  .meta({ expected: "a duration such as 30s, 10m or 1h30m, or a number of seconds" });

/** The longest duration a plan or scenario may name: a year. Anything longer is a typo. */
export const MAX_DURATION_MS = 366 * 86_400_000;

/**
 * A duration as people write it (`30s`, `10m`, `1h30m`, or seconds), compiled to milliseconds.
 * Zero is allowed: where a duration may be zero it means "none" (no stagger, no wait).
 */
export const duration = durationSchema();

/**
 * The shortest step timeout and polling interval. A shorter timeout cannot be kept over SSH (the
 * host enforces it in whole seconds) and ends a step in doubt before its command could answer; a
 * shorter interval probes the host in a tight loop (a new command, over SSH a new session, each time).
 */
export const MIN_TIMEOUT_MS = 1_000;
export const MIN_INTERVAL_MS = 1_000;

/** A step timeout (of one step, or the plan's default): at least `MIN_TIMEOUT_MS`. */
const timeout = durationSchema({ ms: MIN_TIMEOUT_MS, expected: "a timeout of at least 1s, e.g. 30s, 10m" });
/** How often a polling step (gate, reboot, wait-healthy) asks the host: at least `MIN_INTERVAL_MS`. */
const interval = durationSchema({
  ms: MIN_INTERVAL_MS,
  expected: "an interval of at least 1s between probes, e.g. 2s, 10s",
});

function durationSchema(min?: { ms: number; expected: string }) {
  return durationInput.transform((v, ctx) => {
    const written = typeof v === "number" ? `${v} seconds` : `"${v}"`;
    if (typeof v === "number") {
      if (!Number.isFinite(v) || v < 0) {
        ctx.addIssue({
          code: "custom",
          message: "must be a non-negative duration",
          params: { expected: min?.expected ?? "e.g. 30s, 10m, 1h30m" },
        });
        return z.NEVER;
      }
    }
    const ms = typeof v === "number" ? Math.round(v * 1000) : parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `"${v}" is not a duration`,
        params: { expected: min?.expected ?? "e.g. 500ms, 30s, 10m, 1h30m" },
      });
      return z.NEVER;
    }
    if (ms > MAX_DURATION_MS) {
      ctx.addIssue({
        code: "custom",
        message: `${written} is longer than a year`,
        params: { expected: "at most 366d" },
      });
      return z.NEVER;
    }
    if (min && ms < min.ms) {
      ctx.addIssue({
        code: "custom",
        message: `${written} is shorter than ${formatDuration(min.ms)}`,
        params: { expected: min.expected },
      });
      return z.NEVER;
    }
    return ms;
  });
}

const command = z.string().trim().min(1, "must be a non-empty shell command");
const name = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
    "must start with a letter or digit and use only letters, digits, _ . -",
  )
  .meta({ expected: "a name such as kernel-upgrade (letters, digits, _ . -)" });

/**
 * The backoff of every retry that does not set its own: of a step without `retry`, and of each key a
 * written `backoff` leaves out. 5 s first, as Ansible's `until` waits `delay: 5` between retries.
 */
export const DEFAULT_BACKOFF = { initial: 5_000, factor: 2, max: 300_000, jitter: 0.2 } as const;

const backoffSchema = z
  .object({
    initial: duration.default(DEFAULT_BACKOFF.initial),
    factor: z.number().min(1).max(100).default(DEFAULT_BACKOFF.factor),
    max: duration.default(DEFAULT_BACKOFF.max),
    /** Fraction of the delay randomized (full jitter would be 1). */
    jitter: z.number().min(0).max(1).default(DEFAULT_BACKOFF.jitter),
  })
  .strict();

const retrySchema = z
  .object({
    attempts: z.number().int().min(1, "must be at least 1 (1 means no retry)").max(100),
    backoff: backoffSchema.default({ ...DEFAULT_BACKOFF }),
  })
  .strict();

const common = {
  name,
  description: z.string().optional(),
  retry: retrySchema.optional(),
  timeout: timeout.optional(),
  idempotent: z.boolean().optional(),
  pointOfNoReturn: z.boolean().default(false),
  check: command.optional(),
  verify: command.optional(),
  revert: command.optional(),
  become: z.boolean().default(false),
};

const commandStep = z.object({ ...common, kind: z.literal("command"), run: command }).strict();
const sleepStep = z.object({ ...common, kind: z.literal("sleep"), duration }).strict();
const gateStep = z
  .object({
    ...common,
    kind: z.literal("gate"),
    /** A health gate: a command that must succeed; polled until it does or the timeout passes. */
    run: command.optional(),
    interval: interval.default(5_000),
    /** A manual gate: the run pauses here until an operator resumes it. */
    approval: z.boolean().default(false),
  })
  .strict()
  .superRefine((g, ctx) => {
    if (g.approval && g.run !== undefined)
      ctx.addIssue({
        code: "custom",
        message: "a gate is a health gate (`run`) or a manual gate (`approval: true`), not both",
        params: { expected: "either run: COMMAND or approval: true, without the other" },
      });
    else if (!g.approval && g.run === undefined)
      ctx.addIssue({
        code: "custom",
        message:
          "a gate needs `run` (a health gate: a command polled until it exits 0) or `approval: true` (a manual gate); it has neither",
        params: { expected: "run: COMMAND, or approval: true" },
      });
  });
const rebootStep = z
  .object({
    ...common,
    kind: z.literal("reboot"),
    /** Command that reboots the host; default `systemctl reboot`, or the host's `overhaul_reboot_command`. */
    run: command.optional(),
    /** How often to look for the host coming back. */
    interval: interval.default(2_000),
  })
  .strict();
const waitHealthyStep = z
  .object({
    ...common,
    kind: z.literal("wait-healthy"),
    /** The probe; without it, the host's health check (see docs/plan-format.md). */
    run: command.optional(),
    interval: interval.default(2_000),
  })
  .strict();
/** Move every workload off the host (hold-overs first). Its revert is `reinstate`. */
const drainStep = z.object({ ...common, kind: z.literal("drain") }).strict();
/** Move the workloads drained from the host back onto it. */
const reinstateStep = z.object({ ...common, kind: z.literal("reinstate") }).strict();

export const STEP_KINDS = [
  "command",
  "sleep",
  "gate",
  "reboot",
  "wait-healthy",
  "drain",
  "reinstate",
] as const;
/** Kinds that move workloads: they need a workloads manager (the simulator has one). */
export const WORKLOAD_STEP_KINDS: readonly StepKind[] = ["drain", "reinstate"];

const stepSchema = z.discriminatedUnion("kind", [
  commandStep,
  sleepStep,
  gateStep,
  rebootStep,
  waitHealthyStep,
  drainStep,
  reinstateStep,
]);

const waveSchema = z
  .object({
    name: z.string().optional(),
    count: z.number().int().min(1).optional(),
    percent: z.number().gt(0).max(100).optional(),
  })
  .strict()
  .refine((w) => (w.count === undefined) !== (w.percent === undefined), {
    message: "a wave needs exactly one of `count` or `percent`",
  });

const capSchema = z.number().int().min(1, "must be at least 1");

/**
 * A cap per failure-domain kind, e.g. `{ rack: 2, power: 4 }`: only the kinds hosts can have
 * (`FAILURE_DOMAIN_KINDS`), so a misspelt kind is an unknown key rather than a cap on nothing.
 */
const perFailureDomainSchema = z
  .object(
    Object.fromEntries(FAILURE_DOMAIN_KINDS.map((kind) => [kind, capSchema.optional()])) as Record<
      FailureDomainKind,
      z.ZodOptional<typeof capSchema>
    >,
  )
  .strict();

const concurrencySchema = z
  .object({
    global: capSchema.default(10),
    perRegion: capSchema.optional(),
    perFailureDomain: perFailureDomainSchema.default({}),
  })
  .strict();

const staggerSchema = z.object({ interval: duration.default(0), jitter: duration.default(0) }).strict();

const failureBudgetSchema = z
  .object({
    /** Halt when failed hosts exceed this percentage of the scope (like SSM's error threshold). */
    maxFailedPercent: z.number().min(0).max(100).optional(),
    /** Halt when failed hosts exceed this count. */
    maxFailed: z.number().int().min(0).optional(),
  })
  .strict();

export const planSchema = z
  .object({
    name,
    description: z.string().optional(),
    /** Ansible host pattern naming the scope, e.g. `web:&eu-west`. Required: no implicit "all". */
    hosts: z.string().trim().min(1, "must name the hosts (an Ansible pattern); there is no implicit all"),
    steps: z.array(stepSchema).min(1, "a plan needs at least one step"),
    waves: z
      .array(waveSchema)
      .min(1, "needs at least one wave (leave `waves` out for one wave of every host)")
      .default([{ percent: 100 }]),
    concurrency: concurrencySchema.default({ global: 10, perFailureDomain: {} }),
    stagger: staggerSchema.default({ interval: 0, jitter: 0 }),
    failureBudget: failureBudgetSchema.default({}),
    /** Default step timeout. */
    timeout: timeout.default(600_000),
    /** Seed for stagger jitter and backoff jitter; runs are reproducible from it. */
    seed: z.number().int().optional(),
  })
  .strict()
  // Also when other parts of the plan are wrong (zod skips a refinement after other issues by
  // default), so every problem is reported at once: the steps are read as they were written.
  .superRefine((plan, ctx) => duplicateStepNames(plan.steps, ctx), {
    when: (payload) => Array.isArray((payload.value as { steps?: unknown } | null)?.steps),
  });

/** A step name used twice, wherever it appears; steps without a string name are left to the schema. */
function duplicateStepNames(steps: readonly unknown[], ctx: z.RefinementCtx): void {
  const seen = new Map<string, number>();
  steps.forEach((s, i) => {
    const name = (s as { name?: unknown } | null)?.name;
    if (typeof name !== "string") return;
    const prev = seen.get(name);
    if (prev !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["steps", i, "name"],
        message: `duplicate step name "${name}" (also steps[${prev}])`,
      });
    }
    seen.set(name, i);
  });
}

export type PlanInput = z.input<typeof planSchema>;
export type PlanSpec = z.output<typeof planSchema>;
export type StepSpec = PlanSpec["steps"][number];
export type StepKind = StepSpec["kind"];
export type WaveSpec = PlanSpec["waves"][number];
