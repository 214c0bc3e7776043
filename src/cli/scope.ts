/**
 * Resolving a run's scope: the plan's `hosts` pattern, narrowed by `--limit`, under safety rule 1
 * (no implicit "all").
 *
 * Invariants:
 * - `run` refuses without `--limit` or `--all` (exit 4); an empty `--limit` is an input error,
 *   never "everything"; a `--limit` part that matches no host is an input error naming it.
 * - Touching more than one region, or more than `maxHosts` hosts, needs `--all` or the exact
 *   host count typed back with `--confirm N`.
 * - The result is an explicit, ordered host list; the run stores exactly that.
 * - `validate -i` checks the plan's scope with the same functions (`planScope`), so it refuses
 *   exactly the patterns and host variables a run of that scope would refuse.
 */
import { InputError, SafetyRefusal } from "../core/errors.js";
import { type Inventory, matchPattern, toFleetHosts } from "../core/inventory/index.js";
import type { PatternPlace } from "../core/inventory/patterns.js";
import { type Host, regionsOf } from "../core/model/fleet.js";

export interface ScopeOptions {
  limit?: string;
  all?: boolean;
  confirm?: number;
  maxHosts: number;
  planFile: string;
  /** Where the plan's `hosts` is written, so errors about the pattern name its line and column. */
  hostsAt?: { line: number; column: number };
}

/**
 * The hosts the plan's `hosts` pattern names, in order. A part that matches no host (a typo) is an
 * input error at the pattern (`place`: the plan file, line and column), as is a bad pattern.
 */
export function planHostNames(
  inv: Inventory,
  pattern: string,
  place: PatternPlace,
  inventory = "the inventory",
): string[] {
  const m = matchPattern(inv, pattern, place);
  if (m.unmatched.length > 0) {
    throw new InputError({
      ...place,
      message: `pattern part(s) ${m.unmatched.map((u) => `"${u}"`).join(", ")} match no host or group in ${inventory}`,
      expected: "host names, group names or patterns that exist in the inventory",
    });
  }
  return m.hosts;
}

/** Where the plan's `hosts` pattern is, for its errors. */
export function hostsPlace(planFile: string, at?: { line: number; column: number }): PatternPlace {
  return { file: planFile, ...(at ? { line: at.line, column: at.column } : {}), path: "hosts" };
}

export function resolveScope(inv: Inventory, planHosts: string, opts: ScopeOptions): Host[] {
  if (opts.limit !== undefined && opts.limit.trim() === "") {
    throw new InputError({
      path: "--limit",
      message: "is empty; an empty limit never means every host",
      expected: "an Ansible host pattern such as web01, 'web:&eu', 'db[0:2]'",
    });
  }
  if (opts.limit === undefined && !opts.all) {
    throw new SafetyRefusal(
      "no-implicit-all",
      "refusing to run without a scope: pass --limit PATTERN to name the hosts, or --all to run on every host the plan names",
    );
  }
  let names = planHostNames(inv, planHosts, hostsPlace(opts.planFile, opts.hostsAt));
  if (opts.limit !== undefined) {
    const lim = matchPattern(inv, opts.limit, { path: "--limit" });
    if (lim.unmatched.length > 0) {
      throw new InputError({
        path: "--limit",
        message: `${lim.unmatched.map((u) => `"${u}"`).join(", ")} match(es) no host or group in the inventory`,
        expected: "host names, group names or patterns that exist in the inventory",
      });
    }
    const allowed = new Set(lim.hosts);
    names = names.filter((n) => allowed.has(n));
  }
  if (names.length === 0) {
    if (opts.limit === undefined) throw selectsNoHost(planHosts, hostsPlace(opts.planFile, opts.hostsAt));
    throw new InputError({
      path: "--limit",
      message: `no host is in both the plan's hosts ("${planHosts}") and --limit ("${opts.limit}")`,
      expected: "a scope with at least one host",
    });
  }
  const hosts = fleetHosts(inv, names);
  const regions = regionsOf(hosts);
  if (isWide(hosts, opts.maxHosts) && !opts.all && opts.confirm !== hosts.length) {
    const what = `${hosts.length} host(s) in ${regions.length} region(s) (${regions.slice(0, 5).join(", ")}${regions.length > 5 ? ", …" : ""})`;
    const got = opts.confirm !== undefined ? ` (--confirm ${opts.confirm} does not match)` : "";
    throw new SafetyRefusal(
      "wide-scope",
      `this run would touch ${what}${got}: pass --confirm ${hosts.length} to confirm the count, or --all`,
    );
  }
  return hosts;
}

/** Hosts allowed in one region without `--all` or `--confirm` (`run --max-hosts`, the API's `maxHosts`). */
export const DEFAULT_MAX_HOSTS = 25;

/** Does a run on these hosts need `--all` or `--confirm N`: more than one region or `maxHosts` hosts. */
export function isWide(hosts: readonly Host[], maxHosts: number): boolean {
  return regionsOf(hosts).length > 1 || hosts.length > maxHosts;
}

/**
 * Every host the plan's `hosts` pattern names, as a run on all of them (`--all`) would take them:
 * the same pattern errors, and the same errors about host variables (a port out of range, an
 * unknown role), which are checked for every host of the inventory as `run` checks them.
 */
export function planScope(inv: Inventory, pattern: string, place: PatternPlace, inventory?: string): Host[] {
  const names = planHostNames(inv, pattern, place, inventory);
  if (names.length === 0) throw selectsNoHost(pattern, place);
  return fleetHosts(inv, names);
}

/** A pattern whose every part matches hosts but which selects none (`web:!web`). */
function selectsNoHost(pattern: string, place: PatternPlace): InputError {
  return new InputError({
    ...place,
    message: `the plan's hosts ("${pattern}") select no host`,
    expected: "a scope with at least one host",
  });
}

/** The named hosts as fleet hosts; bad host variables anywhere in the inventory are an input error. */
function fleetHosts(inv: Inventory, names: readonly string[]): Host[] {
  const byName = new Map(toFleetHosts(inv).map((h) => [h.name, h]));
  return names.map((n) => byName.get(n) as Host);
}
