/**
 * What `overhaul resume` needs that the run does not store: its hosts' secret variables (become
 * and login passwords), read again from the run's inventory, and the `--ssh-*` flags it ran with.
 * An operator may resume from another directory or machine, hours later: what cannot be found is
 * said, never silently done without.
 *
 * Invariants:
 * - The inventory is the one given with `resume -i`, else the path the run stored (absolute since
 *   runs record it so; an older run's relative path is read from the current directory, and said).
 * - A run whose hosts had secret variables (`secretVars`, their names only, stored at `run`) is
 *   refused (InputError, exit 2, before anything changes) when that inventory cannot be read: going
 *   on without them fails every sudo with a password as `auth` and leaves attempts in doubt.
 * - A run that had none goes on without reading it; an older run that did not record which it had
 *   goes on with a warning naming the file.
 * - `--ssh-*` flags the run was started with and this resume does not repeat are warnings: the
 *   operator sees which known_hosts and ssh config the hosts were reached with.
 */
import { isAbsolute, resolve } from "node:path";
import { InputError } from "../core/errors.js";
import type { RunRecord } from "../ports/store.js";
import { type Out, paint } from "./output.js";
import { type HostSecrets, readInventorySecrets, type SshFlags } from "./transport.js";

/** The `--ssh-*` flags of a run, as stored with it (paths absolute). */
export interface StoredSsh {
  knownHosts?: string;
  config?: string;
  hostKeyChecking?: string;
}

/** The flags to store with a new run: those given, their paths made absolute. */
export function storedSsh(flags: SshFlags): StoredSsh {
  return {
    ...(flags.sshKnownHosts !== undefined ? { knownHosts: resolve(flags.sshKnownHosts) } : {}),
    ...(flags.sshConfig !== undefined ? { config: resolve(flags.sshConfig) } : {}),
    ...(flags.sshHostKeyChecking !== undefined ? { hostKeyChecking: flags.sshHostKeyChecking } : {}),
  };
}

/** The secrets to resume `run` with, from `inventory` (`resume -i`) or the run's own inventory. */
export async function secretsForResume(
  run: RunRecord,
  hostNames: readonly string[],
  inventory: string | undefined,
  out: Out,
): Promise<HostSecrets> {
  const stored = typeof run.options.inventory === "string" ? run.options.inventory : undefined;
  const names = Array.isArray(run.options.secretVars)
    ? run.options.secretVars.filter((n): n is string => typeof n === "string")
    : undefined;
  const path = inventory ?? stored;
  const again = `overhaul resume ${run.id} -i INVENTORY`;
  if (path === undefined) {
    if (names === undefined || names.length === 0) return new Map();
    throw refusal(run, names, "(no inventory)", "the run stored no inventory path", again);
  }
  const read = await readInventorySecrets(path);
  if (read.ok) {
    if (names !== undefined && names.length > 0 && !hostNames.some((h) => read.secrets.has(h))) {
      warn(
        out,
        `inventory ${path} gives none of run ${run.id}'s hosts the secret variables they had when it started (${names.join(", ")}); sudo that needs a password will fail (auth)`,
      );
    }
    return read.secrets;
  }
  const where =
    inventory === undefined && !isAbsolute(path)
      ? `${read.why} (the run stored this relative path; it is read from the current directory, ${process.cwd()})`
      : read.why;
  if (inventory !== undefined || (names !== undefined && names.length > 0)) {
    throw refusal(run, names ?? [], path, where, again);
  }
  if (names === undefined) {
    warn(
      out,
      `run ${run.id}: its inventory cannot be read, so it goes on without any secret variables it may hold (become passwords; sudo that needs one fails auth): ${where}; to use them: ${again}`,
    );
  }
  return new Map();
}

/** Warnings for `--ssh-*` flags the run was started with that this resume does not repeat. */
export function warnSshFlags(run: RunRecord, flags: SshFlags, out: Out): void {
  const s = run.options.ssh;
  if (typeof s !== "object" || s === null) return;
  const was = s as StoredSsh;
  const now = storedSsh(flags);
  const differ: string[] = [];
  if (was.knownHosts !== undefined && was.knownHosts !== now.knownHosts)
    differ.push(
      `--ssh-known-hosts ${was.knownHosts} (this resume: ${now.knownHosts ?? "~/.ssh/known_hosts"})`,
    );
  if (was.config !== undefined && was.config !== now.config)
    differ.push(`--ssh-config ${was.config} (this resume: ${now.config ?? "~/.ssh/config"})`);
  if (was.hostKeyChecking !== undefined && was.hostKeyChecking !== (now.hostKeyChecking ?? "strict"))
    differ.push(
      `--ssh-host-key-checking ${was.hostKeyChecking} (this resume: ${now.hostKeyChecking ?? "strict"})`,
    );
  if (differ.length === 0) return;
  warn(out, `run ${run.id} was started with ${differ.join(", ")}; the flags are not stored: pass them again`);
}

function refusal(
  run: RunRecord,
  names: readonly string[],
  file: string,
  why: string,
  again: string,
): InputError {
  const what = names.length > 0 ? names.join(", ") : "secret variables";
  return new InputError({
    file,
    message: `cannot resume run ${run.id}: its hosts' ${what} (never stored with a run) must be read again from this inventory, and ${why}`,
    expected: `the inventory back at this path, or where it is now: ${again}`,
  });
}

function warn(out: Out, message: string): void {
  out.err(`${paint(out, "yellow", "warning")}: ${message}\n`);
}
