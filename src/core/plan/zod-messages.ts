/**
 * Plain-English messages for zod issues, for people who edit YAML by hand.
 *
 * Invariants:
 * - Used as a per-parse error map (`schema.safeParse(x, { error: plainErrorMap })`), so a message
 *   written in the schema itself (`.min(1, "must be at least 1")`, `ctx.addIssue`) always wins:
 *   zod consults the schema's own message first.
 * - Speaks YAML, not JavaScript: "a list", "a mapping", "an empty value", never "object"/"undefined".
 * - Echoes the offending value, shortened, so the operator sees what was read.
 * - Says what is wrong only; what would be valid is `expected`, computed in yaml-problems.ts.
 */
import type { z } from "zod";

/** Message for a missing value; yaml-problems.ts turns it into `missing required key "x"`. */
export const REQUIRED = "is required";

export const plainErrorMap: z.core.$ZodErrorMap = (iss) => {
  const input: unknown = iss.input;
  switch (iss.code) {
    case "invalid_type":
      if (input === undefined) return REQUIRED;
      if (iss.expected === "int" && typeof input === "number" && Number.isFinite(input)) {
        return `must be a whole number, got ${input}`;
      }
      return `wrong type: got ${describeValue(input)}`;
    case "too_small":
      return sizeMessage("small", iss.origin, Number(iss.minimum), iss.inclusive !== false, input);
    case "too_big":
      return sizeMessage("big", iss.origin, Number(iss.maximum), iss.inclusive !== false, input);
    case "invalid_value":
      return `${describeValue(input)} is not an allowed value`;
    case "invalid_union": {
      if (iss.discriminator !== undefined) {
        const value = isRecord(input) ? input[iss.discriminator] : undefined;
        return value === undefined ? REQUIRED : `unknown ${iss.discriminator} ${quoteValue(value)}`;
      }
      const nested = iss.errors.flat();
      if (nested.length > 0 && nested.every((i) => i.code === "invalid_type")) {
        return `wrong type: got ${describeValue(input)}`;
      }
      return "does not match any of the allowed forms";
    }
    case "unrecognized_keys":
      return `unknown key${iss.keys.length === 1 ? "" : "s"} ${iss.keys.map((k) => JSON.stringify(k)).join(", ")}`;
    case "invalid_format":
      return iss.format === "regex" ? "does not have the required form" : `is not a valid ${iss.format}`;
    case "not_multiple_of":
      return `must be a multiple of ${iss.divisor}, got ${describeValue(input)}`;
    case "invalid_key":
      return `invalid key ${quoteValue(input)}`;
    case "invalid_element":
      return "has an invalid element";
    default:
      return "is not valid";
  }
};

function sizeMessage(
  which: "small" | "big",
  origin: string,
  bound: number,
  inclusive: boolean,
  input: unknown,
): string {
  if (origin === "string") {
    if (which === "small" && bound === 1) return "must not be empty";
    return `must be at ${which === "small" ? "least" : "most"} ${plural(bound, "character")} long`;
  }
  if (origin === "array" || origin === "set") {
    const got = Array.isArray(input) ? `, got ${input.length}` : "";
    if (which === "small" && bound === 1) return "must not be empty";
    return `must have at ${which === "small" ? "least" : "most"} ${plural(bound, "item")}${got}`;
  }
  const relation =
    which === "small" ? (inclusive ? "at least" : "greater than") : inclusive ? "at most" : "less than";
  return `must be ${relation} ${bound}, got ${describeValue(input)}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A short, YAML-flavoured description of a value: `the string "abc"`, `a list`, `an empty value`. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return "an empty value";
  if (typeof v === "string") return v === "" ? "an empty string" : `the string ${quoteValue(v)}`;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return "a list";
  if (v instanceof Date) return "a timestamp";
  if (typeof v === "object" && ArrayBuffer.isView(v)) return "binary data";
  if (typeof v === "object") return "a mapping";
  return `a ${typeof v}`;
}

/** A value quoted for a message, cut to a readable length. */
export function quoteValue(v: unknown): string {
  if (typeof v === "string") {
    const cut = v.length > 40 ? `${v.slice(0, 37)}...` : v;
    return JSON.stringify(cut);
  }
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return describeValue(v);
}
