/**
 * Inventory variables that hold secrets (passwords), and splitting them off a host.
 *
 * Invariants:
 * - `withoutSecrets` returns a host whose variables hold none of `SECRET_VARS`, so the host can be
 *   stored (run snapshots in the database), shown and logged; the secrets come back separately
 *   and live only in memory.
 * - Pure: no I/O.
 */
import type { Host } from "../model/fleet.js";

/** Ansible's password variables (become and login). Never stored, exported or printed by Overhaul. */
export const SECRET_VARS: readonly string[] = [
  "ansible_become_password",
  "ansible_become_pass",
  "ansible_sudo_pass",
  "ansible_password",
  "ansible_ssh_pass",
  "ansible_ssh_password",
];

export function isSecretVar(name: string): boolean {
  return SECRET_VARS.includes(name);
}

/** Split variables into the ordinary ones and the secret ones. */
export function splitSecretVars(all: Readonly<Record<string, unknown>>): {
  vars: Record<string, unknown>;
  secrets: Record<string, unknown>;
} {
  const vars: Record<string, unknown> = {};
  const secrets: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) {
    if (isSecretVar(k)) secrets[k] = v;
    else vars[k] = v;
  }
  return { vars, secrets };
}

export function withoutSecrets(host: Host): { host: Host; secrets: Record<string, unknown> } {
  const { vars, secrets } = splitSecretVars(host.vars);
  return { host: { ...host, vars }, secrets };
}
