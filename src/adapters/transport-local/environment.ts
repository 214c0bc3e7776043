/**
 * The environment a local command runs with: this process's environment, the request's `env`,
 * `OVERHAUL_HOST`, and the host's inventory variables as `OVERHAUL_VAR_<name>`.
 *
 * Invariants:
 * - Later sources win: process env < request env < OVERHAUL_HOST < OVERHAUL_VAR_*.
 * - Only variables whose name is a valid environment identifier and whose value is a string,
 *   a finite number or a boolean are exported; lists, mappings and null are skipped, never
 *   flattened into something the operator did not write.
 * - Values never leave this module except into the child's environment (nothing here logs).
 */
import type { Host } from "../../core/model/fleet.js";

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function commandEnvironment(
  host: Host,
  requestEnv: Readonly<Record<string, string>> | undefined,
  base: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  for (const [k, v] of Object.entries(requestEnv ?? {})) env[k] = v;
  env.OVERHAUL_HOST = host.name;
  for (const [name, value] of Object.entries(host.vars)) {
    const text = scalarText(value);
    if (text !== undefined && IDENTIFIER.test(name)) env[`OVERHAUL_VAR_${name}`] = text;
  }
  return env;
}

/** Names the command gets beyond the inherited environment (what `sudo` must be asked to keep). */
export function addedNames(
  env: Readonly<Record<string, string>>,
  base: NodeJS.ProcessEnv = process.env,
): string[] {
  return Object.keys(env).filter((k) => base[k] !== env[k]);
}

function scalarText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}
