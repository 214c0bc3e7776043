/**
 * `validate` and `inventory list`: read-only checks of the user's files. Nothing is written.
 */
import { loadInventory } from "../../adapters/inventory-files/index.js";
import { InputError } from "../../core/errors.js";
import { matchPattern, toAnsibleListJson, toFleetHosts } from "../../core/inventory/index.js";
import { type Host, regionsOf } from "../../core/model/fleet.js";
import { formatDuration } from "../../core/plan/duration.js";
import { loadPlanFile } from "../compose.js";
import { EXIT } from "../exit-codes.js";
import { makeOut, type Out, table, warnAll } from "../output.js";
import { DEFAULT_MAX_HOSTS, hostsPlace, isWide, planScope } from "../scope.js";

export async function validateCommand(
  planFile: string,
  opts: { inventory?: string; json?: boolean; noColor?: boolean },
): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  try {
    return await validated(planFile, opts, out);
  } catch (e) {
    // With --json, a plan that is not valid is a document too (scripts read stdout); the same
    // problems still go to stderr and the exit code stays 2.
    if (opts.json && e instanceof InputError)
      out.write(`${JSON.stringify({ valid: false, problems: e.problems }, null, 2)}\n`);
    throw e;
  }
}

async function validated(
  planFile: string,
  opts: { inventory?: string; json?: boolean },
  out: Out,
): Promise<number> {
  const { plan, hash, hostsAt } = await loadPlanFile(planFile);
  let scope: Host[] | undefined;
  if (opts.inventory) {
    const inv = await loadInventory(opts.inventory);
    warnAll(out, inv.warnings);
    // As `run` would take them: the same errors for the pattern and for the hosts' variables.
    scope = planScope(inv, plan.hosts, hostsPlace(planFile, hostsAt), opts.inventory);
  }
  const hosts = scope?.map((h) => h.name);
  // A run on every host of a wide scope needs --all, or --limit with this count typed back.
  const confirm = scope && isWide(scope, DEFAULT_MAX_HOSTS) ? scope.length : undefined;
  if (opts.json) {
    out.write(
      `${JSON.stringify({ valid: true, plan: plan.name, hash, steps: plan.steps.map((s) => ({ name: s.name, kind: s.kind, timeoutMs: s.timeoutMs, attempts: s.retry.attempts, idempotent: s.idempotent, pointOfNoReturn: s.pointOfNoReturn })), hosts, ...(scope ? { regions: regionsOf(scope), confirm: confirm ?? null } : {}) }, null, 2)}\n`,
    );
    return EXIT.ok;
  }
  const where = scope
    ? `, ${scope.length} host(s) in ${regionsOf(scope).length} region(s) in scope of "${plan.hosts}"${confirm !== undefined ? `; a run on all ${confirm} needs --all or --confirm ${confirm}` : ""}`
    : "";
  out.write(`${planFile}: plan "${plan.name}" is valid (${plan.steps.length} steps${where})\n`);
  for (const s of plan.steps) {
    const flags = [
      s.idempotent ? "idempotent" : "not idempotent",
      `${s.retry.attempts} attempt(s)`,
      `timeout ${formatDuration(s.timeoutMs)}`,
      ...(s.check ? ["check"] : []),
      ...(s.revert ? ["revert"] : []),
      ...(s.pointOfNoReturn ? ["POINT OF NO RETURN"] : []),
    ];
    out.write(`  ${s.index + 1}. ${s.name} [${s.kind}] ${flags.join(", ")}\n`);
  }
  return EXIT.ok;
}

export async function inventoryListCommand(opts: {
  inventory: string;
  json?: boolean;
  limit?: string;
  noColor?: boolean;
}): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  if (opts.json && opts.limit !== undefined)
    throw new InputError({
      path: "--limit",
      message:
        "narrows the table only; --json prints the whole inventory, as `ansible-inventory --list` does",
      expected: "--json without -l, or -l without --json",
    });
  const inv = await loadInventory(opts.inventory);
  warnAll(out, inv.warnings);
  if (opts.json) {
    out.write(`${JSON.stringify(toAnsibleListJson(inv), null, 4)}\n`);
    return EXIT.ok;
  }
  let hosts = toFleetHosts(inv);
  if (opts.limit !== undefined) {
    const m = matchPattern(inv, opts.limit, { path: "--limit" });
    if (m.unmatched.length > 0)
      throw new InputError({
        path: "--limit",
        message: `${m.unmatched.join(", ")} match(es) no host or group`,
      });
    const keep = new Set(m.hosts);
    hosts = hosts.filter((h) => keep.has(h.name));
  }
  const rows = [["HOST", "ADDRESS", "REGION", "RACK", "POWER", "ROLE", "CONNECTION", "GROUPS"]];
  for (const h of hosts) {
    rows.push([
      h.name,
      h.address + (h.port ? `:${h.port}` : ""),
      h.region,
      h.failureDomains.rack ?? "-",
      h.failureDomains.power ?? "-",
      h.role,
      h.connection,
      h.groups.join(","),
    ]);
  }
  out.write(`${table(rows, out)}\n${hosts.length} host(s)\n`);
  return EXIT.ok;
}
