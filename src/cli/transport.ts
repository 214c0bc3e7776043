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
import { isAbsolute, resolve } from "node:path";
import { loadInventory } from "../adapters/inventory-files/index.js";
import { createLocalTransport } from "../adapters/transport-local/index.js";
import {
  checkSshHosts,
  createSshTransport,
  type HostKeyChecking,
  type SshTransportOptions,
} from "../adapters/transport-ssh/index.js";
import { formatProblem, InputError, type Problem } from "../core/errors.js";
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

/** The names of the secret variables some host had (stored with the run: which ones, never their values). */
export function secretNames(secrets: HostSecrets): string[] {
  return [...new Set([...secrets.values()].flatMap((s) => Object.keys(s)))].sort();
}

/** The secrets an inventory holds, by host name, or why it could not be read. */
export type InventorySecrets = { ok: true; secrets: HostSecrets } | { ok: false; why: string };

/**
 * Secrets read again from an inventory file (for `resume` and the service: they are never
 * stored). A file that cannot be read is reported, not ignored: the caller decides whether the run
 * can go on without it (cli/resume-secrets.ts).
 */
export async function readInventorySecrets(path: string): Promise<InventorySecrets> {
  const secrets = new Map<string, Record<string, unknown>>();
  try {
    const inv = await loadInventory(path);
    for (const h of inv.hosts.values()) {
      const s = splitSecretVars(h.vars).secrets;
      if (Object.keys(s).length > 0) secrets.set(h.name, s);
    }
  } catch (e) {
    // The loader's first problem is enough to act on; the file is named only when it is another
    // one (a group_vars file) than the inventory the caller names anyway.
    const p = e instanceof InputError ? e.problems[0] : undefined;
    if (p) {
      const { expected: _, ...rest } = p;
      return {
        ok: false,
        why: formatProblem(p.file === path && p.line === undefined ? { ...rest, file: "" } : rest),
      };
    }
    return { ok: false, why: e instanceof Error ? e.message : String(e) };
  }
  return { ok: true, secrets };
}

/**
 * Where relative key files point: a run's hosts are stored with their key file variables
 * (`ansible_ssh_private_key_file`, `ansible_private_key_file`) made absolute against `cwd`, the
 * directory the run was started in and the one the transport reads them from, so that `resume`
 * from another directory uses the same keys. `~` paths stay as they are (home, as ssh reads them).
 */
export function anchorKeyFiles(hosts: readonly Host[], cwd: string): Host[] {
  return hosts.map((h) => {
    let vars: Record<string, unknown> | undefined;
    for (const name of KEY_FILE_VARS) {
      const v = h.vars[name];
      if (typeof v !== "string" || v === "" || isAbsolute(v) || v.startsWith("~")) continue;
      vars ??= { ...h.vars };
      vars[name] = resolve(cwd, v);
    }
    return vars ? { ...h, vars } : h;
  });
}

const KEY_FILE_VARS = ["ansible_ssh_private_key_file", "ansible_private_key_file"];

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
