/**
 * Canonical JSON: object keys sorted (by UTF-16 code units) at every depth, two-space indent, one
 * trailing newline.
 *
 * Why: the report must be byte-identical for the same data, whichever store it came from.
 * PostgreSQL's jsonb and SQLite's JSON text give free-form objects back with different key
 * orders, and builder code changes should not reorder output; sorting removes both causes.
 * Arrays keep their order (it means something: hosts in start order, bars in time order).
 */

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

export function canonicalJson(value: unknown): string {
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}
