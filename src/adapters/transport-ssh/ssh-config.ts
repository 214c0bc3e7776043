/**
 * The OpenSSH client config (`~/.ssh/config`): the `Host` / `Match host` entries that say where
 * and as whom to connect. Parsed with the `ssh-config` package.
 *
 * Invariants:
 * - Only these settings are used: HostName, Port, User, IdentityFile, IdentitiesOnly, ProxyJump,
 *   ConnectTimeout. First value wins, IdentityFile accumulates, as in OpenSSH. A ProxyCommand is
 *   refused unless a ProxyJump comes first, or it is `none` (no proxy, as in OpenSSH).
 * - `Match exec` conditions never run a command here (they count as not matching): reading the
 *   config must not have side effects. `Include` is not followed.
 * - Tokens are expanded as OpenSSH does for these settings: `%h` (the host), `%p`, `%r`, `%u`,
 *   `%d`, `%%`, and a leading `~`.
 * - The file is read once per transport; a missing file is an empty config, an unreadable or
 *   unparsable one is an error naming the file.
 */
import { readFile } from "node:fs/promises";
import SSHConfig from "ssh-config";
import { expandHome } from "./options.js";

export interface SshConfigEntry {
  hostName?: string;
  port?: number;
  user?: string;
  identityFiles: string[];
  identitiesOnly?: boolean;
  proxyJump?: string;
  connectTimeoutMs?: number;
}

export type SshConfigLookup = (host: string) => SshConfigEntry;

export const EMPTY_SSH_CONFIG: SshConfigLookup = () => ({ identityFiles: [] });

export class SshConfigError extends Error {}

/** Read and parse a config file; `null` path gives the empty config. */
export async function loadSshConfig(
  path: string | null,
  ctx: { homeDir: string; localUser: string },
): Promise<SshConfigLookup> {
  if (path === null) return EMPTY_SSH_CONFIG;
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return EMPTY_SSH_CONFIG;
    throw new SshConfigError(`cannot read the ssh config ${path}: ${(e as Error).message}`);
  }
  return parseSshConfig(text, path, ctx);
}

export function parseSshConfig(
  text: string,
  path: string,
  ctx: { homeDir: string; localUser: string },
): SshConfigLookup {
  let config: SSHConfig;
  try {
    config = SSHConfig.parse(text);
  } catch (e) {
    throw new SshConfigError(`cannot parse the ssh config ${path}: ${(e as Error).message}`);
  }
  const cache = new Map<string, SshConfigEntry>();
  return (host: string) => {
    const hit = cache.get(host);
    if (hit) return hit;
    const raw = lowerKeys(config.compute(host, { matchExec: false, ignoreCase: true }));
    const first = (k: string): string | undefined => {
      const v = raw.get(k);
      return Array.isArray(v) ? v[0] : v;
    };
    const all = (k: string): string[] => {
      const v = raw.get(k);
      return v === undefined ? [] : Array.isArray(v) ? v : [v];
    };
    const entry: SshConfigEntry = { identityFiles: [] };
    const portText = first("port");
    const port = portText !== undefined && /^\d+$/.test(portText) ? Number(portText) : undefined;
    if (portText !== undefined && (port === undefined || port < 1 || port > 65535)) {
      throw new SshConfigError(`${path}: Port ${JSON.stringify(portText)} for host ${host} is not a port`);
    }
    const user = first("user");
    const tokens = (s: string) =>
      expandHome(
        s.replace(/%([%hprud])/g, (_, t: string) => {
          switch (t) {
            case "%":
              return "%";
            case "h":
              return host;
            case "p":
              return String(port ?? 22);
            case "r":
              return user ?? ctx.localUser;
            case "u":
              return ctx.localUser;
            default:
              return ctx.homeDir;
          }
        }),
        ctx.homeDir,
      );
    const hostName = first("hostname");
    if (hostName !== undefined) entry.hostName = tokens(hostName);
    if (port !== undefined) entry.port = port;
    if (user !== undefined) entry.user = user;
    entry.identityFiles = all("identityfile").map(tokens);
    const only = first("identitiesonly");
    if (only !== undefined) entry.identitiesOnly = /^yes$/i.test(only);
    // ProxyJump and ProxyCommand compete: whichever the config gives first wins (OpenSSH), and
    // `ProxyCommand none` means no proxy, as `ProxyJump none` does.
    const keys = [...raw.keys()];
    const command = first("proxycommand");
    const commandFirst =
      command !== undefined &&
      (!raw.has("proxyjump") || keys.indexOf("proxycommand") < keys.indexOf("proxyjump"));
    const jump = commandFirst ? undefined : first("proxyjump");
    if (jump !== undefined) entry.proxyJump = jump;
    if (commandFirst && command.trim().toLowerCase() === "none") entry.proxyJump = "none";
    const ct = first("connecttimeout");
    if (ct !== undefined && /^\d+$/.test(ct) && Number(ct) > 0) entry.connectTimeoutMs = Number(ct) * 1000;
    if (commandFirst && command.trim().toLowerCase() !== "none") {
      throw new SshConfigError(
        `${path}: host ${host} uses ProxyCommand, which Overhaul does not support: use ProxyJump for a bastion`,
      );
    }
    cache.set(host, entry);
    return entry;
  };
}

function lowerKeys(o: Record<string, string | string[]>): Map<string, string | string[]> {
  const m = new Map<string, string | string[]>();
  for (const [k, v] of Object.entries(o)) {
    const key = k.toLowerCase();
    if (key === "host" || key === "match") continue;
    const prev = m.get(key);
    if (prev === undefined) m.set(key, v);
    else if (key === "identityfile") m.set(key, [...toList(prev), ...toList(v)]);
  }
  return m;
}

function toList(v: string | string[]): string[] {
  return Array.isArray(v) ? v : [v];
}
