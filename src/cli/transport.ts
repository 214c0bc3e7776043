/**
 * The transport of a real run: each host goes to the transport its connection names (`local` →
 * the local transport, `ssh` → the SSH transport). Composition only: adapters never import each
 * other, so the routing lives here.
 *
 * Invariants:
 * - The SSH transport is created on first use, so local-only runs never read ~/.ssh.
 * - `--ssh-*` flags are checked before anything runs: a bad `--ssh-host-key-checking` value or a
 *   named ssh config that does not exist is an InputError naming the flag.
 * - Secret host variables (become passwords) reach the SSH transport only through `secrets`, an
 *   in-memory map; the hosts stored with the run carry none (see `splitSecrets`).
 */
import { existsSync } from "node:fs";
import { loadInventory } from "../adapters/inventory-files/index.js";
import { createLocalTransport } from "../adapters/transport-local/index.js";
import {
  checkSshHosts,
  createSshTransport,
  type HostKeyChecking,
  type SshTransportOptions,
} from "../adapters/transport-ssh/index.js";
import { InputError, type Problem } from "../core/errors.js";
import { splitSecretVars, withoutSecrets } from "../core/inventory/secret-vars.js";
import type { Host } from "../core/model/fleet.js";
import type { ExecRequest, RunningRequest, Transport, UploadRequest } from "../ports/transport.js";

export interface SshFlags {
  sshKnownHosts?: string;
  sshHostKeyChecking?: string;
  sshConfig?: string;
}

export type HostSecrets = ReadonlyMap<string, Readonly<Record<string, unknown>>>;

const CHECKING: readonly HostKeyChecking[] = ["strict", "accept-new"];

/** The SSH transport's options from the command-line flags; bad values are InputErrors. */
export function sshOptions(flags: SshFlags): SshTransportOptions {
  const o: SshTransportOptions = {};
  if (flags.sshKnownHosts !== undefined) o.knownHostsFile = flags.sshKnownHosts;
  if (flags.sshHostKeyChecking !== undefined) {
    const mode = CHECKING.find((c) => c === flags.sshHostKeyChecking);
    if (!mode) {
      throw new InputError({
        path: "--ssh-host-key-checking",
        message: `"${flags.sshHostKeyChecking}" is not a host key checking mode`,
        expected: CHECKING.join(" or "),
      });
    }
    o.hostKeyChecking = mode;
  }
  if (flags.sshConfig !== undefined) {
    if (!existsSync(flags.sshConfig)) {
      throw new InputError({
        file: flags.sshConfig,
        path: "--ssh-config",
        message: "the ssh config file does not exist",
        expected: "an OpenSSH client config file",
      });
    }
    o.sshConfigFile = flags.sshConfig;
  }
  return o;
}

/** Refuse, before the run starts, SSH hosts whose connection settings cannot be read. */
export async function checkHosts(hosts: readonly Host[], flags: SshFlags, inventory: string): Promise<void> {
  const problems = await checkSshHosts(hosts, sshOptions(flags));
  if (problems.length === 0) return;
  throw new InputError(
    problems.map(
      (p): Problem => ({
        file: p.host === undefined ? (flags.sshConfig ?? "~/.ssh/config") : inventory,
        ...(p.host !== undefined ? { path: p.host } : {}),
        message: p.host === undefined ? p.message : `host "${p.host}": ${p.message}`,
      }),
    ),
  );
}

/** Hosts without their secret variables (to store), and the secrets by host name (to keep in memory). */
export function splitSecrets(hosts: readonly Host[]): { hosts: Host[]; secrets: HostSecrets } {
  const secrets = new Map<string, Record<string, unknown>>();
  const out = hosts.map((h) => {
    const s = withoutSecrets(h);
    if (Object.keys(s.secrets).length > 0) secrets.set(h.name, s.secrets);
    return s.host;
  });
  return { hosts: out, secrets };
}

/**
 * Secrets for `resume`: read again from the run's inventory, which is not stored. When the
 * inventory cannot be read, there are none (sudo without a password then fails with `auth`).
 */
export async function secretsFromInventory(path: unknown): Promise<HostSecrets> {
  const secrets = new Map<string, Record<string, unknown>>();
  if (typeof path !== "string") return secrets;
  try {
    const inv = await loadInventory(path);
    for (const h of inv.hosts.values()) {
      const s = splitSecretVars(h.vars).secrets;
      if (Object.keys(s).length > 0) secrets.set(h.name, s);
    }
  } catch {
    // Best effort: the run goes on without secrets.
  }
  return secrets;
}

/** One transport for a run: local hosts locally, SSH hosts over SSH. */
export function createRunTransport(flags: SshFlags, secrets: HostSecrets = new Map()): Transport {
  const local = createLocalTransport();
  const sshOpts = sshOptions(flags);
  let ssh: Transport | undefined;
  const route = (host: Host): Transport => {
    if (host.connection === "local") return local;
    ssh ??= createSshTransport({ ...sshOpts, hostSecrets: (h) => secrets.get(h.name) });
    return ssh;
  };
  return {
    exec(host: Host, req: ExecRequest) {
      return route(host).exec(host, req);
    },
    upload(host: Host, req: UploadRequest) {
      const t = route(host);
      if (!t.upload) return Promise.reject(new Error(`the ${host.connection} transport cannot upload files`));
      return t.upload(host, req);
    },
    async running(host: Host, req: RunningRequest) {
      const t = route(host);
      return t.running ? t.running(host, req) : undefined;
    },
    async close() {
      await Promise.all([local.close(), ssh?.close()]);
    },
  };
}
