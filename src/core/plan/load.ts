/**
 * Load a plan file: YAML text -> validated `PlanSpec` (defaults applied, durations in ms).
 *
 * Invariants:
 * - Pure: takes the text and the file name the user gave; reads no file, imports no `node:*`.
 * - Bad input of any kind ends in exactly one `InputError` carrying every problem found, sorted by
 *   line, each with file, line, column, path and what would be valid. Nothing else is thrown for
 *   bad input, and nothing is accepted by adjusting it silently.
 * - YAML errors are reported before schema problems (a broken file would give misleading ones).
 */
import { InputError } from "../errors.js";
import { type PlanSpec, planSchema } from "./schema.js";
import { type Position, positionOf } from "./yaml-locate.js";
import { zodIssuesToProblems } from "./yaml-problems.js";
import { readYamlMapping } from "./yaml-read.js";
import { plainErrorMap } from "./zod-messages.js";

const TOP_LEVEL = "a mapping with at least name, hosts and steps";

/** A valid plan and where its parts that are checked later (against an inventory) are written. */
export interface ParsedPlan {
  spec: PlanSpec;
  /** The `hosts` pattern's value: errors about it (a part matching no host) point here. */
  hostsAt?: Position;
}

/** Parse and validate plan text; `file` is used only to label problems. */
export function parsePlan(text: string, file: string): ParsedPlan {
  const source = readYamlMapping(text, file, { what: "plan", expected: TOP_LEVEL });
  const result = planSchema.safeParse(source.value, { error: plainErrorMap });
  if (result.success) {
    const hostsAt = positionOf(source.doc, source.lineCounter, ["hosts"]);
    return hostsAt ? { spec: result.data, hostsAt } : { spec: result.data };
  }
  const problems = zodIssuesToProblems(result.error.issues, source.doc, source.lineCounter, file, {
    schema: planSchema,
  });
  throw new InputError(problems);
}

/** Parse and validate plan text, for callers that need only the plan. */
export function parsePlanText(text: string, file: string): PlanSpec {
  return parsePlan(text, file).spec;
}
