/**
 * Ansible host patterns, as `--limit` and a plan's `hosts` use them: `all`, `*`, globs `web*`,
 * unions `a:b` / `a,b`, intersections `a:&b`, exclusions `a:!b`, regexes `~^web\d+`, and
 * subscripts `group[0]`, `group[1:3]`, `group[-1]` (`InventoryManager.get_hosts`).
 *
 * Invariants:
 * - Same hosts in the same order as Ansible: plain parts first, then `&` parts, then `!` parts;
 *   a part that is exactly a host name is that host; a part matching group names selects their
 *   hosts (children included), and globs and regexes also match host names.
 * - Only `&`/`!` parts means "all, then filter" as in Ansible; `impliedAll` says so, so callers
 *   enforcing "no implicit all" can refuse it.
 * - `unmatched` lists every part that selects no host on its own (a typo, an empty group, a
 *   subscript out of range), so a caller can refuse instead of silently doing less.
 * - `group[x-y]`, Ansible's removed subscript form (Ansible reads it as positions x..y with only a
 *   warning, though it looks like a glob over names), is an `InputError` suggesting `group[x:y]`
 *   for positions and `group[x-y]*` or `~^group[x-y]$` for names.
 * - An empty pattern, an invalid regex, or a `[` / `]` outside a complete subscript is an
 *   `InputError` at the caller's place (`--limit`, or the plan's `hosts`). Ansible drops a stray
 *   bracket without a word (`~[` becomes `~`, every host); Overhaul refuses it. The `@file` form is
 *   not supported.
 * - Pure: no I/O.
 */
import { InputError, type Problem } from "../errors.js";
import { parseAddress } from "./address.js";
import { compileMatcher, PatternSyntaxError } from "./fnmatch.js";
import { pyStrip } from "./pytext.js";
import type { Inventory } from "./resolve.js";

export interface PatternMatch {
  /** Matching host names, in Ansible's order, without duplicates. */
  readonly hosts: string[];
  /** Parts of the pattern that select no host by themselves. */
  readonly unmatched: string[];
  /** True when the pattern has only `&`/`!` parts, which Ansible applies to `all`. */
  readonly impliedAll: boolean;
}

const SUBSCRIPT = /^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$/;
const COLON_LIST = /(?:[^\s:[\]]|\[[^\]]*\])+/gu;

/** Ansible's `split_host_pattern`: `a,b` or `a:b` into parts (IPv6 addresses and ranges kept whole). */
export function splitHostPattern(pattern: string): string[] {
  let parts: string[];
  if (pattern.includes(",")) parts = pattern.split(",");
  else if (parseAddress(pattern)) parts = [pattern];
  else parts = [...pattern.matchAll(COLON_LIST)].map((m) => m[0]);
  return parts.map(pyStrip).filter((p) => p !== "");
}

/** Where a pattern came from, for its errors: `{ path: "--limit" }` or `{ file, line, column, path: "hosts" }`. */
export type PatternPlace = Pick<Problem, "file" | "line" | "column" | "path">;

/** Evaluate a host pattern against the inventory. */
export function matchPattern(inv: Inventory, pattern: string, place: PatternPlace = {}): PatternMatch {
  const parts = splitHostPattern(pattern);
  if (parts.length === 0) {
    throw new InputError({
      ...place,
      message: `host pattern "${pattern}" is empty`,
      expected: "host or group names, globs (web*), ~regex, a:b, a:&b, a:!b, group[0:2]",
    });
  }
  const stray = strayBracket(pattern);
  if (stray !== undefined) {
    throw new InputError({
      ...place,
      message: `host pattern "${pattern}" has a "${stray}" outside a complete [...]; Ansible would drop it and select other hosts`,
      expected: "brackets in pairs, e.g. web[0:2], web0[1-3]*, ~^web[0-9]+ (quote the pattern in the shell)",
    });
  }
  const plain = parts.filter((p) => p[0] !== "&" && p[0] !== "!");
  const ordered = [
    ...(plain.length > 0 ? plain : ["all"]),
    ...parts.filter((p) => p[0] === "&"),
    ...parts.filter((p) => p[0] === "!"),
  ];
  const cache = new Map<string, string[] | undefined>();
  const one = (p: string): string[] | undefined => {
    const key = p[0] === "&" || p[0] === "!" ? p.slice(1) : p;
    if (!cache.has(key)) cache.set(key, matchOne(inv, key, place));
    return cache.get(key);
  };
  let hosts: string[] = [];
  for (const p of ordered) {
    if (inv.hosts.has(p)) {
      hosts.push(p);
      continue;
    }
    const that = one(p) ?? [];
    if (p[0] === "!") {
      const drop = new Set(that);
      hosts = hosts.filter((h) => !drop.has(h));
    } else if (p[0] === "&") {
      const keep = new Set(that);
      hosts = hosts.filter((h) => keep.has(h));
    } else {
      const have = new Set(hosts);
      hosts.push(...that.filter((h) => !have.has(h)));
    }
  }
  const unmatched = parts.filter((p) => !inv.hosts.has(p) && (one(p)?.length ?? 0) === 0);
  return { hosts: [...new Set(hosts)], unmatched, impliedAll: plain.length === 0 };
}

/** The `[` or `]` that `splitHostPattern` would drop (colon-separated patterns only), if any. */
function strayBracket(pattern: string): string | undefined {
  if (pattern.includes(",") || parseAddress(pattern)) return undefined;
  return /[[\]]/.exec(pattern.replace(COLON_LIST, ""))?.[0];
}

/** One part without its `&`/`!`: hosts, or undefined when a subscript is out of range. */
function matchOne(inv: Inventory, pattern: string, place: PatternPlace): string[] | undefined {
  if (pattern === "") return [];
  let expr = pattern;
  let sub: { start: number; end?: number } | undefined;
  const m = pattern[0] === "~" ? null : SUBSCRIPT.exec(pattern);
  if (m) {
    expr = m[1] as string;
    if (m[4] === "-") throw removedSubscript(pattern, expr, m[3] as string, m[5] as string, place);
    sub =
      m[2] !== undefined ? { start: Number(m[2]) } : { start: Number(m[3]), end: m[5] ? Number(m[5]) : -1 };
  }
  const hosts = enumerate(inv, expr, place);
  if (!sub || hosts.length === 0) return hosts;
  if (sub.end) {
    const end = sub.end === -1 ? hosts.length - 1 : sub.end;
    return hosts.slice(sub.start, end + 1);
  }
  const index = sub.start < 0 ? hosts.length + sub.start : sub.start;
  const host = hosts[index];
  return host === undefined || index < 0 ? undefined : [host];
}

/**
 * `group[x-y]` is Ansible's removed subscript form: Ansible still reads it as positions x to y (with
 * only a warning), which users mistake for a glob over names (`db[1-3]` selects db2, db3, db4 of
 * db1..db4). Overhaul refuses it and says what to write for either meaning.
 */
function removedSubscript(
  pattern: string,
  expr: string,
  start: string,
  end: string,
  place: PatternPlace,
): InputError {
  const range = end === "" ? `from ${start} to the end` : `${start} to ${end}`;
  const names = [`${pattern}*`];
  if (/^[\w.-]+$/.test(expr)) names.push(`~^${expr.replaceAll(".", "\\.")}[${start}-${end}]$`);
  return new InputError({
    ...place,
    message: `host pattern "${pattern}" uses the [x-y] subscript, which Ansible removed: it would select the hosts of "${expr}" at positions ${range}, not host names`,
    expected:
      `${expr}[${start}:${end}] to select the hosts of "${expr}" by position, counting from 0` +
      (end === "" ? "" : `, or ${names.join(" or ")} to match host names`),
  });
}

function enumerate(inv: Inventory, pattern: string, place: PatternPlace): string[] {
  let match: (name: string) => boolean;
  try {
    match = compileMatcher(pattern);
  } catch (e) {
    if (!(e instanceof PatternSyntaxError)) throw e;
    throw new InputError({ ...place, message: e.message, expected: "a valid regular expression after ~" });
  }
  const results: string[] = [];
  const groups = [...inv.groups.keys()].filter(match);
  for (const g of groups) results.push(...hostsOfGroup(inv, g));
  if (groups.length === 0 || pattern[0] === "~" || /[.?*[]/.test(pattern)) {
    for (const h of inv.hosts.keys()) if (match(h)) results.push(h);
  }
  return results;
}

/** Hosts of a group and its descendants, in Ansible's order (the group, its children, then deeper). */
export function hostsOfGroup(inv: Inventory, name: string): string[] {
  const order: string[] = [];
  const seenGroups = new Set<string>();
  let level = [name];
  while (level.length > 0) {
    const next: string[] = [];
    for (const g of level) {
      if (seenGroups.has(g)) continue;
      seenGroups.add(g);
      order.push(g);
      next.push(...(inv.groups.get(g)?.children ?? []));
    }
    level = next;
  }
  const seen = new Set<string>();
  const out: string[] = [];
  for (const g of order) {
    for (const h of inv.groups.get(g)?.hosts ?? []) {
      if (!seen.has(h)) {
        seen.add(h);
        out.push(h);
      }
    }
  }
  return out;
}
