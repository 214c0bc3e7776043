/**
 * The skeleton of a stored plan revision: its steps' names in order and nothing else, for work on a
 * run that runs nothing on any host (finishing an abort) when the revision itself no longer
 * validates (an earlier version stored it, this one checks plans more strictly).
 *
 * Invariants:
 * - Only the names and their order come from the revision; every step of the skeleton is a `sleep`
 *   that is never run. Anything that would run or judge a step must use the real plan.
 * - The revision's YAML is read without the checks that may have been added since (duplicate keys
 *   are tolerated, the last one wins as an earlier YAML reader had it); if even the step names
 *   cannot be read, there is no skeleton (undefined), never a guess.
 * - Pure: text in, plan out.
 */
import { parse } from "yaml";
import { compilePlan, type Plan } from "./compile.js";
import { planSchema } from "./schema.js";

/** The step names of a plan text, read leniently; undefined when they cannot be read. */
export function stepNamesOfText(text: string): string[] | undefined {
  let doc: unknown;
  try {
    doc = parse(text, { uniqueKeys: false, maxAliasCount: 100 });
  } catch {
    return undefined;
  }
  if (typeof doc !== "object" || doc === null || !("steps" in doc)) return undefined;
  const steps = (doc as { steps: unknown }).steps;
  if (!Array.isArray(steps) || steps.length === 0) return undefined;
  const names: string[] = [];
  for (const s of steps) {
    const name = typeof s === "object" && s !== null ? (s as { name?: unknown }).name : undefined;
    if (typeof name !== "string" || name.length === 0) return undefined;
    names.push(name);
  }
  return names;
}

/** A plan with these step names (each a never-run `sleep`); undefined when they do not validate. */
export function skeletonPlan(name: string, stepNames: readonly string[]): Plan | undefined {
  const parsed = planSchema.safeParse({
    name,
    hosts: "all",
    steps: stepNames.map((n) => ({ name: n, kind: "sleep", duration: "1s" })),
  });
  return parsed.success ? compilePlan(parsed.data) : undefined;
}
