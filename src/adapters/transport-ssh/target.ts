/**
 * Where and as whom to connect for a host: the inventory's Ansible variables, then the matching
 * `~/.ssh/config` entries, then OpenSSH's defaults. Also the bastion chain (ProxyJump).
 *
 * Invariants (docs/ssh.md has the table):
 * - Inventory variables win over ssh config, as with Ansible's ssh connection plugin (it passes
 *   them to `ssh` as command-line options, which beat the config file): `ansible_port`,
 *   `ansible_user`, `ansible_ssh_private_key_file`, and the options in `ansible_ssh_common_args` /
 *   `ansible_ssh_extra_args`. The config is looked up with the host's address (`ansible_host`,
 *   else the inventory name), and its `HostName` replaces that address, as `ssh` does.
 * - Jump hosts come from `-o ProxyJump=` / `-J` in the args, else the config's ProxyJump; each
 *   hop is itself looked up in the config (HostName, Port, User, IdentityFile, ProxyJump), and
 *   `ProxyJump none` means direct. A chain longer than 8 hops (a loop) is an error.
 * - The pool key is `user@address:port` plus the chain: two inventory hosts that reach the same
 *   endpoint the same way share a connection.
 * - Bad values throw `TargetError` with the variable named; nothing is defaulted silently.
 * - Pure: no I/O (the config is already parsed).
 */

import type { Host } from "../../core/model/fleet.js";
import { parseDuration } from "../../core/plan/duration.js";
import type { ResolvedOptions } from "./options.js";
import { expandHome } from "./options.js";
import { parseSshArgs, SshArgsError } from "./ssh-args.js";
import type { SshConfigLookup } from "./ssh-config.js";

export interface Endpoint {
  /** For messages: the inventory host name, or the jump host as written. */
  label: string;
  address: string;
  port: number;
  user: string;
  /** Key files named for this endpoint (inventory, args or config), in the order to try. */
  identityFiles: string[];
  /** Only the named key files, not the agent (IdentitiesOnly). */
  identitiesOnly: boolean;
  connectTimeoutMs: number;
}

export interface Target extends Endpoint {
  /** Bastions to go through, outermost first. */
  jumps: Endpoint[];
  /** Pool key: same key, same connection. */
  key: string;
}

export class TargetError extends Error {}

const MAX_HOPS = 8;

export function resolveTarget(host: Host, options: ResolvedOptions, config: SshConfigLookup): Target {
  const v = host.vars;
  let args: ReturnType<typeof parseSshArgs>;
  try {
    args = parseSshArgs(
      ["ansible_ssh_common_args", "ansible_ssh_extra_args"].flatMap((n) => {
        const t = text(v[n], n);
        return t === undefined ? [] : [t];
      }),
    );
  } catch (e) {
    if (e instanceof SshArgsError) throw new TargetError(`ansible_ssh_common_args/extra_args: ${e.message}`);
    throw e;
  }
  const cfg = config(host.address);
  const keyVar =
    text(v.ansible_ssh_private_key_file, "ansible_ssh_private_key_file") ??
    text(v.ansible_private_key_file, "ansible_private_key_file");
  const home = options.homeDir;
  const identityFiles = [
    ...(keyVar !== undefined ? [keyVar] : []),
    ...args.identityFiles,
    ...cfg.identityFiles,
  ].map((f) => expandHome(f, home));
  const connectTimeoutMs =
    timeoutVar(v.overhaul_ssh_connect_timeout, "overhaul_ssh_connect_timeout") ??
    timeoutVar(v.ansible_ssh_timeout, "ansible_ssh_timeout") ??
    args.connectTimeoutMs ??
    cfg.connectTimeoutMs ??
    options.connectTimeoutMs;
  const target: Endpoint = {
    label: host.name,
    address: cfg.hostName ?? host.address,
    port: host.port ?? args.port ?? cfg.port ?? 22,
    user: host.user ?? args.user ?? cfg.user ?? options.defaultUser,
    identityFiles,
    identitiesOnly: args.identitiesOnly ?? cfg.identitiesOnly ?? false,
    connectTimeoutMs,
  };
  const jumpSpec = args.proxyJump ?? cfg.proxyJump;
  const jumps = jumpSpec === undefined ? [] : resolveChain(jumpSpec, config, options, identityFiles, 0);
  const key =
    `${target.user}@${target.address}:${target.port}` +
    (jumps.length ? ` via ${jumps.map(endpointKey).join(",")}` : "");
  return { ...target, jumps, key };
}

export function endpointKey(e: Endpoint): string {
  return `${e.user}@${e.address}:${e.port}`;
}

/** The hops of a ProxyJump value, each resolved through the config, outermost first. */
function resolveChain(
  spec: string,
  config: SshConfigLookup,
  options: ResolvedOptions,
  fallbackKeys: readonly string[],
  depth: number,
): Endpoint[] {
  if (spec.trim().toLowerCase() === "none") return [];
  if (depth > MAX_HOPS) throw new TargetError(`ProxyJump chain deeper than ${MAX_HOPS} hops (a loop?)`);
  const hops: Endpoint[] = [];
  for (const part of spec.split(",")) {
    const hop = parseJump(part.trim());
    const cfg = config(hop.host);
    const inner = cfg.proxyJump ? resolveChain(cfg.proxyJump, config, options, fallbackKeys, depth + 1) : [];
    hops.push(...inner, {
      label: part.trim(),
      address: cfg.hostName ?? hop.host,
      port: hop.port ?? cfg.port ?? 22,
      user: hop.user ?? cfg.user ?? options.defaultUser,
      identityFiles: [...cfg.identityFiles.map((f) => expandHome(f, options.homeDir)), ...fallbackKeys],
      identitiesOnly: cfg.identitiesOnly ?? false,
      connectTimeoutMs: cfg.connectTimeoutMs ?? options.connectTimeoutMs,
    });
    if (hops.length > MAX_HOPS) throw new TargetError(`ProxyJump chain longer than ${MAX_HOPS} hops`);
  }
  return hops;
}

/** `[user@]host[:port]`, `[user@][v6addr]:port`, or `ssh://[user@]host[:port]`. */
export function parseJump(spec: string): { user?: string; host: string; port?: number } {
  const s = spec.startsWith("ssh://") ? spec.slice(6).replace(/\/$/, "") : spec;
  const m = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s[\]]+)(?::(\d+))?$/.exec(s);
  if (!m) throw new TargetError(`ProxyJump ${JSON.stringify(spec)} is not [user@]host[:port]`);
  const host = (m[2] as string).replace(/^\[|\]$/g, "");
  const out: { user?: string; host: string; port?: number } = { host };
  if (m[1]) out.user = m[1];
  if (m[3]) {
    const port = Number(m[3]);
    if (port < 1 || port > 65535)
      throw new TargetError(`ProxyJump ${JSON.stringify(spec)}: bad port ${m[3]}`);
    out.port = port;
  }
  return out;
}

function text(value: unknown, name: string): string | undefined {
  const v = unwrap(value);
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "string") return v;
  throw new TargetError(`${name} must be text, got ${JSON.stringify(v)}`);
}

/** Seconds (a number, as Ansible's timeouts are) or a duration (`10s`, `1500ms`). */
function timeoutVar(value: unknown, name: string): number | undefined {
  const v = unwrap(value);
  if (v === undefined || v === null || v === "") return undefined;
  const ms =
    typeof v === "number"
      ? v * 1000
      : typeof v === "string"
        ? /^\s*\d+(\.\d+)?\s*$/.test(v)
          ? Number(v) * 1000
          : parseDuration(v)
        : undefined;
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    throw new TargetError(
      `${name} must be a number of seconds or a duration like 10s, got ${JSON.stringify(v)}`,
    );
  }
  return ms;
}

/** `!unsafe` values are plain text. */
export function unwrap(v: unknown): unknown {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === "__ansible_unsafe") return o.__ansible_unsafe;
  }
  return v;
}
