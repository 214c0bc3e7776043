/**
 * Turn YAML parse errors and zod issues into `Problem`s that name the exact place in the file.
 *
 * Invariants:
 * - Every issue becomes at least one problem; none is dropped or merged away. An issue listing
 *   several unknown keys becomes one problem per key, each pointing at its key.
 * - `line`/`column` are 1-based and point at the offending node; for a missing key, at the
 *   mapping that lacks it; for an unknown key, at the key.
 * - `expected` says what would be valid: allowed values for enums and discriminated unions,
 *   bounds for numbers, the type for type errors, `params.expected` of a custom issue, or the
 *   schema's `.meta({ expected })`.
 * - Reusable for any YAML input validated with zod (plans, inventories, scenarios). Pure.
 */
import type { Document, LineCounter, YAMLError } from "yaml";
import type { z } from "zod";
import type { Problem } from "../errors.js";
import {
  allowedKeys,
  describeExpected,
  type JsonSchema,
  jsonSchemaOf,
  oneOf,
  schemaAt,
} from "./schema-expected.js";
import { formatPath, locate, type Position, positionOf, scalarAt } from "./yaml-locate.js";
import { quoteValue, REQUIRED } from "./zod-messages.js";

export interface IssueContext {
  /** The schema the issues came from; gives bounds, allowed keys and types for `expected`. */
  schema?: z.core.$ZodType;
}

/** Convert every zod issue to problems located in `doc`, sorted by line. */
export function zodIssuesToProblems(
  issues: readonly z.core.$ZodIssue[],
  doc: Document,
  lineCounter: LineCounter,
  file: string,
  context: IssueContext = {},
): Problem[] {
  const root = context.schema ? jsonSchemaOf(context.schema) : undefined;
  const valueAt = (path: readonly PropertyKey[]) => scalarAt(doc, path);
  const nodeAt = (path: readonly PropertyKey[]) => (root ? schemaAt(root, path, valueAt) : undefined);
  const problems: Problem[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      const keys = allowedKeys(nodeAt(issue.path) ?? {});
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        const hint = keys ? suggest(key, keys) : undefined;
        problems.push(
          problem(file, positionOf(doc, lineCounter, path, true), path, {
            message: `unknown key ${JSON.stringify(key)}${hint ? ` (did you mean "${hint}"?)` : ""}`,
            expected: keys ? oneOf(keys) : undefined,
          }),
        );
      }
      continue;
    }
    const found = locate(doc, issue.path);
    const missing =
      found.depth === issue.path.length - 1 &&
      (issue.code === "invalid_type" ||
        (issue.code === "invalid_union" && issue.discriminator !== undefined));
    const last = issue.path[issue.path.length - 1];
    let message =
      missing && last !== undefined
        ? `missing required key ${JSON.stringify(String(last))}`
        : issue.message === REQUIRED
          ? "is missing"
          : issue.message;
    if (!missing && issue.code === "invalid_union" && "options" in issue && issue.options) {
      const written = scalarAt(doc, issue.path);
      const hint = typeof written === "string" ? suggest(written, issue.options.map(String)) : undefined;
      if (hint) message += ` (did you mean "${hint}"?)`;
    }
    const onKey = issue.code === "invalid_key";
    problems.push(
      problem(file, positionOf(doc, lineCounter, issue.path, onKey), issue.path, {
        message,
        expected: expectedFor(issue, nodeAt(issue.path)),
      }),
    );
  }
  return finishProblems(problems);
}

/** Convert YAML syntax errors and warnings (read with `prettyErrors: false`) to problems. */
export function yamlErrorsToProblems(
  errors: readonly YAMLError[],
  text: string,
  lineCounter: LineCounter,
  file: string,
): Problem[] {
  const located = errors.map((e) => {
    const at = lineCounter.linePos(e.pos[0]);
    return problem(file, { line: at.line, column: at.col }, [], { message: yamlMessage(e, text) });
  });
  // The parser reports one error per level of absurd nesting; one problem says it all.
  const tooDeep = located.find((p) => p.message === TOO_DEEP);
  return tooDeep ? [tooDeep] : sortProblems(located);
}

/** Past this many, the rest are summarised in one line: nobody reads ten thousand of them. */
export const MAX_PROBLEMS = 100;

/**
 * Sort by line, drop exact duplicates (same place, same message) and cap the list at
 * `MAX_PROBLEMS`, ending with a line that says how many more there are.
 */
export function finishProblems(problems: readonly Problem[]): Problem[] {
  const seen = new Set<string>();
  const unique = sortProblems([...problems]).filter((p) => {
    const key = JSON.stringify([p.line, p.column, p.path, p.message]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (unique.length <= MAX_PROBLEMS) return unique;
  const rest = unique.length - MAX_PROBLEMS;
  const file = unique[0]?.file;
  const more: Problem = { message: `... and ${rest} more problem${rest === 1 ? "" : "s"} not shown` };
  if (file !== undefined) more.file = file;
  return [...unique.slice(0, MAX_PROBLEMS), more];
}

/** Stable sort by line, then column; problems without a line go last. */
export function sortProblems(problems: Problem[]): Problem[] {
  const key = (n: number | undefined) => n ?? Number.MAX_SAFE_INTEGER;
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => key(a.p.line) - key(b.p.line) || key(a.p.column) - key(b.p.column) || a.i - b.i)
    .map(({ p }) => p);
}

function expectedFor(issue: z.core.$ZodIssue, node: JsonSchema | undefined): string | undefined {
  const fromSchema = node ? describeExpected(node) : undefined;
  switch (issue.code) {
    case "custom": {
      const e: unknown = issue.params?.expected;
      return typeof e === "string" ? e : undefined;
    }
    case "invalid_union":
      if (issue.discriminator !== undefined && "options" in issue && issue.options) {
        return oneOf(issue.options);
      }
      return fromSchema ?? joinTypes(issue.errors.flat());
    case "invalid_value":
      return oneOf(issue.values);
    case "invalid_type":
      return fromSchema ?? typePhrase(issue.expected);
    case "too_small":
      return (
        fromSchema ?? boundPhrase("least", issue.origin, Number(issue.minimum), issue.inclusive !== false)
      );
    case "too_big":
      return (
        fromSchema ?? boundPhrase("most", issue.origin, Number(issue.maximum), issue.inclusive !== false)
      );
    case "invalid_format":
      return (
        fromSchema ?? ("pattern" in issue && issue.pattern ? `text matching ${issue.pattern}` : undefined)
      );
    case "not_multiple_of":
      return `a multiple of ${issue.divisor}`;
    case "invalid_key":
      return issue.issues.map((i) => expectedFor(i, undefined)).find((e) => e !== undefined);
    default:
      return fromSchema;
  }
}

/** What a size issue allows, when the schema gives nothing better. */
function boundPhrase(side: "least" | "most", origin: string, bound: number, inclusive: boolean): string {
  const unit = origin === "string" ? "character" : origin === "array" || origin === "set" ? "item" : "";
  if (unit === "") {
    if (inclusive) return `a number of at ${side} ${bound}`;
    return `a number ${side === "least" ? "greater" : "less"} than ${bound}`;
  }
  const noun = unit === "character" ? "a string" : "a list";
  if (side === "least" && bound === 1) return `a non-empty ${noun.slice(2)}`;
  return `${noun} of at ${side} ${bound} ${unit}${bound === 1 ? "" : "s"}`;
}

function joinTypes(issues: readonly z.core.$ZodIssue[]): string | undefined {
  const types = issues.flatMap((i) => (i.code === "invalid_type" ? [typePhrase(i.expected)] : []));
  return types.length > 0 ? [...new Set(types)].join(" or ") : undefined;
}

function typePhrase(type: string): string {
  const phrases: Record<string, string> = {
    string: "a string",
    number: "a number",
    int: "a whole number",
    boolean: "true or false",
    array: "a list",
    tuple: "a list",
    object: "a mapping",
    record: "a mapping",
    null: "an empty value",
  };
  return phrases[type] ?? type;
}

const TOO_DEEP = "the YAML is nested too deeply to read";

function yamlMessage(e: YAMLError, text: string): string {
  if (/call stack/i.test(e.message)) return TOO_DEEP;
  switch (e.code) {
    case "DUPLICATE_KEY":
      return `duplicate key ${quoteValue(keyAt(text, e.pos[0]))}; each key may appear once`;
    case "MULTIPLE_DOCS":
      return "the file holds more than one YAML document (a second `---`); it must hold exactly one";
    case "TAG_RESOLVE_FAILED":
      return `${e.message}; custom YAML tags are not supported`;
    default:
      return `YAML syntax error: ${e.message}`;
  }
}

/** The key written at `offset`: a quoted string, or plain text up to `:`/`,`/end of line. */
function keyAt(text: string, offset: number): string {
  const m = /^(?:"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^:,{}[\]\n]*)/.exec(text.slice(offset, offset + 200));
  const key = (m?.[0] ?? "").trim();
  return /^(["']).*\1$/.test(key) ? key.slice(1, -1) : key;
}

function problem(
  file: string,
  at: Position | undefined,
  path: readonly PropertyKey[],
  what: { message: string; expected?: string | undefined },
): Problem {
  const p: Problem = { file, message: what.message };
  if (at) {
    p.line = at.line;
    p.column = at.column;
  }
  const written = formatPath(path);
  if (written) p.path = written;
  if (what.expected !== undefined) p.expected = what.expected;
  return p;
}

/**
 * The closest allowed key within a small edit distance, to catch typos like `atempts`; never the
 * written word itself (it is allowed somewhere else, not here).
 */
function suggest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const candidate of allowed) {
    if (candidate === key) continue;
    const d = distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3 || a.length > 64 || b.length > 64) return Number.POSITIVE_INFINITY;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = cur;
  }
  return prev[b.length] as number;
}
