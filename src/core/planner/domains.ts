/**
 * The failure domains the planner adds to hosts so that admission enforces its caps like racks:
 * `group:<name>` (cap 1: one member of a replicated group in flight at a time) and `holdovers`
 * (value: the region; cap: how many drained hosts its hold-overs take at once).
 */
export const HOLDOVER_DOMAIN = "holdovers";
export const GROUP_DOMAIN_PREFIX = "group:";

export function isPlannerDomain(kind: string): boolean {
  return kind === HOLDOVER_DOMAIN || kind.startsWith(GROUP_DOMAIN_PREFIX);
}

/** How people read a cap group: `rack r01-k01`, `replicated group db-1`, `hold-over room of r01`. */
export function domainLabel(kind: string, value: string): string {
  if (kind === HOLDOVER_DOMAIN) return `hold-over room of ${value}`;
  if (kind.startsWith(GROUP_DOMAIN_PREFIX)) return `replicated group ${value}`;
  return `${kind} ${value}`;
}
