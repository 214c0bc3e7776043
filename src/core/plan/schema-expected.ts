/**
 * What would be valid at a place in a zod schema, said in words: "an integer from 1 to 100",
 * "one of command, sleep", "a non-empty string".
 *
 * Invariants:
 * - Reads zod's public JSON Schema export (`io: "input"`, i.e. what a person writes), cached per
 *   schema. Never throws: a schema that cannot be exported simply gives no hint.
 * - A schema may state the hint itself with `.meta({ expected: "..." })`; that wins.
 * - Inside a union, the branch is picked by its discriminator (`kind: command`) read from the
 *   document, so `steps[0].interval` is looked up in the right step kind, and the keys allowed in
 *   `steps[0]` itself are that kind's, not every kind's (all of them only when no kind matches).
 */
import { z } from "zod";

export type JsonSchema = Record<string, unknown>;
/** Reads the scalar written in the document at a path (to choose a union branch). */
export type ValueAt = (path: readonly PropertyKey[]) => unknown;

const cache = new WeakMap<object, JsonSchema | null>();

/** The JSON Schema of `schema` as input, or undefined when zod cannot export it. */
export function jsonSchemaOf(schema: z.core.$ZodType): JsonSchema | undefined {
  let js = cache.get(schema);
  if (js === undefined) {
    try {
      js = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
    } catch {
      js = null;
    }
    cache.set(schema, js);
  }
  return js ?? undefined;
}

/** The schema node describing the value at `path`, or undefined when it cannot be found. */
export function schemaAt(
  root: JsonSchema,
  path: readonly PropertyKey[],
  valueAt: ValueAt,
): JsonSchema | undefined {
  return walk(root, root, path, 0, valueAt, 0);
}

function walk(
  root: JsonSchema,
  node: JsonSchema,
  path: readonly PropertyKey[],
  i: number,
  valueAt: ValueAt,
  hops: number,
): JsonSchema | undefined {
  if (hops > 64) return undefined;
  const cur = deref(root, node);
  if (cur === undefined) return cur;
  const alts = alternatives(cur);
  if (i === path.length) {
    // The value itself: the branch its discriminator names (`kind: never-returns`), else every branch.
    const { matching } = byDiscriminator(root, alts ?? [], path, valueAt);
    return matching.length === 1
      ? (walk(root, matching[0] as JsonSchema, path, i, valueAt, hops + 1) ?? cur)
      : cur;
  }
  if (alts) {
    const { matching, rest } = byDiscriminator(root, alts, path.slice(0, i), valueAt);
    for (const alt of [...matching, ...rest]) {
      const found = walk(root, alt, path, i, valueAt, hops + 1);
      if (found) return found;
    }
    return undefined;
  }
  const seg = path[i];
  let next: unknown;
  if (typeof seg === "number") {
    next = Array.isArray(cur.prefixItems) ? cur.prefixItems[seg] : cur.items;
  } else {
    const props = cur.properties as JsonSchema | undefined;
    next = props && Object.hasOwn(props, String(seg)) ? props[String(seg)] : cur.additionalProperties;
  }
  return isObject(next) ? walk(root, next, path, i + 1, valueAt, hops + 1) : undefined;
}

/** Union branches whose constant properties match the document (`matching`), and the others. */
function byDiscriminator(
  root: JsonSchema,
  alts: readonly JsonSchema[],
  at: readonly PropertyKey[],
  valueAt: ValueAt,
): { matching: JsonSchema[]; rest: JsonSchema[] } {
  const matching: JsonSchema[] = [];
  const rest: JsonSchema[] = [];
  for (const alt of alts) {
    const a = deref(root, alt) ?? alt;
    const consts = Object.entries((a.properties as JsonSchema | undefined) ?? {}).filter(
      ([, p]) => isObject(p) && "const" in p,
    );
    const matches =
      consts.length > 0 && consts.every(([k, p]) => valueAt([...at, k]) === (p as JsonSchema).const);
    (matches ? matching : rest).push(a);
  }
  return { matching, rest };
}

/** Keys a mapping may have at this node, when it is an object schema. */
export function allowedKeys(node: JsonSchema): string[] | undefined {
  const alts = alternatives(node);
  if (alts) {
    const keys = new Set(alts.flatMap((a) => allowedKeys(a) ?? []));
    return keys.size > 0 ? [...keys] : undefined;
  }
  return isObject(node.properties) ? Object.keys(node.properties) : undefined;
}

/** A short phrase for what would be valid at this node. */
export function describeExpected(node: JsonSchema): string | undefined {
  if (typeof node.expected === "string") return node.expected;
  if ("const" in node) return JSON.stringify(node.const);
  if (Array.isArray(node.enum)) return oneOf(node.enum);
  const alts = alternatives(node);
  if (alts) return joinOr(alts.map(describeExpected));
  const types = Array.isArray(node.type) ? node.type : node.type !== undefined ? [node.type] : [];
  return joinOr(types.map((t) => typePhrase(String(t), node)));
}

/** `one of a, b, c` (or the single value). */
export function oneOf(values: readonly unknown[]): string {
  const shown = values.map((v) => (typeof v === "string" ? v : JSON.stringify(v)));
  return shown.length === 1 ? (shown[0] as string) : `one of ${shown.join(", ")}`;
}

function typePhrase(type: string, node: JsonSchema): string | undefined {
  switch (type) {
    case "integer":
    case "number":
      return numberPhrase(type === "integer" ? "an integer" : "a number", node);
    case "string":
      if (typeof node.pattern === "string") return `a string matching /${node.pattern}/`;
      if (node.minLength === 1 && node.maxLength === undefined) return "a non-empty string";
      return lengthPhrase("a string", "character", node.minLength, node.maxLength);
    case "array":
      return lengthPhrase("a list", "item", node.minItems, node.maxItems);
    case "object":
      return "a mapping";
    case "boolean":
      return "true or false";
    case "null":
      return "an empty value";
    default:
      return undefined;
  }
}

function numberPhrase(noun: string, node: JsonSchema): string {
  const safe = (v: unknown) =>
    typeof v === "number" && Math.abs(v) < Number.MAX_SAFE_INTEGER ? v : undefined;
  const min = safe(node.minimum);
  const xmin = safe(node.exclusiveMinimum);
  const max = safe(node.maximum);
  const xmax = safe(node.exclusiveMaximum);
  if (min !== undefined && max !== undefined) return `${noun} from ${min} to ${max}`;
  const parts: string[] = [];
  if (min !== undefined) parts.push(`at least ${min}`);
  if (xmin !== undefined) parts.push(`greater than ${xmin}`);
  if (max !== undefined) parts.push(`at most ${max}`);
  if (xmax !== undefined) parts.push(`less than ${xmax}`);
  if (parts.length === 0) return noun;
  return `${noun} ${parts[0]?.startsWith("at ") ? "of " : ""}${parts.join(" and ")}`;
}

function lengthPhrase(noun: string, unit: string, min: unknown, max: unknown): string {
  const n = (v: unknown, w: string) => `${v} ${w}${v === 1 ? "" : "s"}`;
  const parts: string[] = [];
  if (typeof min === "number" && min > 0) parts.push(`at least ${n(min, unit)}`);
  if (typeof max === "number") parts.push(`at most ${n(max, unit)}`);
  return parts.length > 0 ? `${noun} of ${parts.join(" and ")}` : noun;
}

function joinOr(phrases: readonly (string | undefined)[]): string | undefined {
  const unique = [...new Set(phrases.filter((p): p is string => p !== undefined))];
  return unique.length > 0 ? unique.join(" or ") : undefined;
}

function alternatives(node: JsonSchema): JsonSchema[] | undefined {
  const alts = node.anyOf ?? node.oneOf ?? node.allOf;
  return Array.isArray(alts) ? alts.filter(isObject) : undefined;
}

function deref(root: JsonSchema, node: JsonSchema): JsonSchema | undefined {
  const ref = node.$ref;
  if (typeof ref !== "string") return node;
  if (ref === "#") return root;
  const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  const defs = m ? (root[m[1] as string] as JsonSchema | undefined) : undefined;
  const target = defs && m ? defs[m[2] as string] : undefined;
  if (!isObject(target)) return undefined;
  const { $ref: _ref, ...rest } = node;
  return { ...target, ...rest };
}

function isObject(v: unknown): v is JsonSchema {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
