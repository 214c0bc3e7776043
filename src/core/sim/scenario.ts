/**
 * Simulator scenario files: seed, boot-time distribution, and failures to inject.
 *
 * Invariants:
 * - Pure: takes YAML text and the file name; reads no file, imports no `node:*`.
 * - Validated once here; bad input ends in one `InputError` with file, line and path per problem.
 *   Problems found later (a target not in the fleet) are located too, through `readScenario`'s
 *   `placeOf`; the parsed `Scenario` itself holds no positions (it is hashed into simulation ids).
 * - Durations are in ms after parsing; every failure of a host names exactly one target (host, rack
 *   or power); `coordinator-kill` names a time instead (relative to the start of the simulation).
 */
import { z } from "zod";
import { InputError, type Problem } from "../errors.js";
import type { Host } from "../model/fleet.js";
import { duration } from "../plan/schema.js";
import { formatPath, type Position, positionOf } from "../plan/yaml-locate.js";
import { zodIssuesToProblems } from "../plan/yaml-problems.js";
import { readYamlMapping } from "../plan/yaml-read.js";
import { plainErrorMap } from "../plan/zod-messages.js";
import { MAX_SEED } from "../policy/random.js";

const target = {
  host: z.string().min(1).optional(),
  rack: z.string().min(1).optional(),
  power: z.string().min(1).optional(),
};

const failure = z
  .discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("never-returns"), ...target }),
    z.strictObject({ kind: z.literal("unhealthy"), ...target }),
    z.strictObject({ kind: z.literal("clock-skew"), ...target, seconds: z.number().int() }),
    z.strictObject({
      kind: z.literal("disk-dies"),
      ...target,
      probability: z.number().min(0).max(1).optional(),
    }),
    z.strictObject({
      kind: z.literal("power-trip"),
      ...target,
      maxPosting: z.number().int().min(0),
      downFor: duration.default(600_000),
    }),
    z.strictObject({ kind: z.literal("partition"), ...target, from: duration, until: duration }),
    /** Commands containing `command` fail (exit 1) the first `times` times on the target. */
    z.strictObject({
      kind: z.literal("command-fails"),
      ...target,
      command: z.string().min(1),
      times: z.number().int().min(1).default(1),
    }),
    /** The coordinator dies at `at` (like SIGKILL); a new one starts on the same database. */
    z.strictObject({ kind: z.literal("coordinator-kill"), at: duration }),
  ])
  .refine(
    (f) =>
      f.kind === "coordinator-kill" || [f.host, f.rack, f.power].filter((x) => x !== undefined).length === 1,
    { message: "must name exactly one of host, rack or power" },
  )
  .refine((f) => f.kind !== "partition" || f.until > f.from, {
    message: "a partition must end after it starts (until > from)",
    path: ["until"],
  });

export const scenarioSchema = z.strictObject({
  /** 0..MAX_SEED: the PRNG keeps 32 bits, so a larger seed would silently repeat a smaller one's run. */
  seed: z.number().int().min(0).max(MAX_SEED).default(1),
  boot: z
    .strictObject({
      min: duration.default(120_000),
      max: duration.default(900_000),
      kexec: z.boolean().default(false),
    })
    .refine((b) => b.min <= b.max, { message: "boot.min must not exceed boot.max" })
    .default({ min: 120_000, max: 900_000, kexec: false }),
  failures: z.array(failure).default([]),
  /**
   * Commands the simulator does not model (`apt-get ...`): `succeed` (the default, so a real plan
   * can be rehearsed; a `check` answers "not done yet", so the step runs) or `fail` (exit 127).
   */
  unknownCommands: z.enum(["succeed", "fail"]).default("succeed"),
});

export type Scenario = z.output<typeof scenarioSchema>;
export type FailureSpec = Exclude<Scenario["failures"][number], { kind: "coordinator-kill" }>;
export type CoordinatorKill = Extract<Scenario["failures"][number], { kind: "coordinator-kill" }>;

/** The failures that happen to hosts (everything but coordinator kills). */
export function hostFailures(s: Scenario): FailureSpec[] {
  return s.failures.filter((f): f is FailureSpec => f.kind !== "coordinator-kill");
}

/** Coordinator kill times, ms after the start, ascending. */
export function coordinatorKills(s: Scenario): number[] {
  return s.failures
    .filter((f): f is CoordinatorKill => f.kind === "coordinator-kill")
    .map((f) => f.at)
    .sort((a, b) => a - b);
}

/** An empty scenario: seed 1, boots of 2 to 15 minutes, no failures. */
export function defaultScenario(seed = 1): Scenario {
  return {
    seed,
    boot: { min: 120_000, max: 900_000, kexec: false },
    failures: [],
    unknownCommands: "succeed",
  };
}

/** Where a path of the scenario file is written (line and column), for problems found later. */
export type PlaceOf = (path: readonly PropertyKey[]) => Position | undefined;

/** A parsed scenario with its file, to locate what is found wrong with it after parsing. */
export interface ScenarioSource {
  scenario: Scenario;
  file: string;
  placeOf: PlaceOf;
}

export function parseScenarioText(text: string, file: string): Scenario {
  return readScenario(text, file).scenario;
}

export function readScenario(text: string, file: string): ScenarioSource {
  const source = readYamlMapping(text, file, {
    what: "scenario",
    expected: "a mapping with seed, boot, failures",
  });
  const result = scenarioSchema.safeParse(source.value, { error: plainErrorMap });
  if (result.success) {
    return {
      scenario: result.data,
      file,
      placeOf: (path) => positionOf(source.doc, source.lineCounter, path),
    };
  }
  throw new InputError(
    zodIssuesToProblems(result.error.issues, source.doc, source.lineCounter, file, {
      schema: scenarioSchema,
    }),
  );
}

/** A problem of the scenario file at `path`, with its line and column when `placeOf` knows them. */
export function scenarioProblem(
  file: string,
  placeOf: PlaceOf | undefined,
  path: readonly PropertyKey[],
  what: { message: string; expected?: string },
): Problem {
  const p: Problem = { file, path: formatPath(path), ...what };
  const at = placeOf?.(path);
  if (at) {
    p.line = at.line;
    p.column = at.column;
  }
  return p;
}

/** Every failure's target exists in the fleet: a typo must not silently inject nothing. */
export function checkScenarioTargets(
  s: Scenario,
  hosts: readonly Host[],
  file: string,
  placeOf?: PlaceOf,
): void {
  const names = {
    host: new Set(hosts.map((h) => h.name)),
    rack: new Set(hosts.flatMap((h) => (h.failureDomains.rack ? [h.failureDomains.rack] : []))),
    power: new Set(hosts.flatMap((h) => (h.failureDomains.power ? [h.failureDomains.power] : []))),
  };
  const problems: Problem[] = [];
  s.failures.forEach((f, i) => {
    if (f.kind === "coordinator-kill") return;
    for (const key of ["host", "rack", "power"] as const) {
      const v = f[key];
      if (v === undefined || names[key].has(v)) continue;
      const some = [...names[key]].slice(0, 5).join(", ");
      problems.push(
        scenarioProblem(file, placeOf, ["failures", i, key], {
          message: `no ${key} "${v}" in the simulated fleet`,
          expected: some ? `one of ${some}${names[key].size > 5 ? ", …" : ""}` : `a fleet with ${key} names`,
        }),
      );
    }
  });
  if (problems.length > 0) throw new InputError(problems);
}
