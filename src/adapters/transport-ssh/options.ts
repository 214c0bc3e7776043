/**
 * Options of the SSH transport, their defaults, and their validation.
 *
 * Invariants:
 * - `resolveOptions` returns a frozen value with every default filled in; a bad value (negative
 *   timeout, zero channels) throws a plain `Error` naming the option at construction time, never
 *   later in the middle of a run.
 * - Defaults follow OpenSSH where OpenSSH has one: `~/.ssh/known_hosts`, `~/.ssh/config`, keys
 *   `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`, the agent from `SSH_AUTH_SOCK`, strict host keys.
 * - No secret is ever part of these options (passwords come from host variables at exec time).
 */
import { existsSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { join } from "node:path";

/** Like OpenSSH's StrictHostKeyChecking: `strict` = yes, `accept-new` = accept-new. */
export type HostKeyChecking = "strict" | "accept-new";

export interface SshTransportOptions {
  /** known_hosts file to verify host keys against (and to append to in `accept-new`); default ~/.ssh/known_hosts. */
  knownHostsFile?: string;
  /** Default `strict`: an unknown or changed host key stops the host before anything runs. */
  hostKeyChecking?: HostKeyChecking;
  /**
   * OpenSSH client config to read `Host` entries from (HostName, Port, User, IdentityFile, ProxyJump).
   * Default: ~/.ssh/config when it exists; `null` reads none.
   */
  sshConfigFile?: string | null;
  /** Keys tried when neither the host variables nor ssh config name one; default ~/.ssh/id_{ed25519,ecdsa,rsa} that exist. */
  identityFiles?: readonly string[];
  /** SSH agent socket; default `SSH_AUTH_SOCK`; `null` uses no agent. */
  agent?: string | null;
  /** User when neither the inventory nor ssh config names one; default the local user (as OpenSSH). */
  defaultUser?: string;
  /** Time to connect, exchange keys and authenticate; default 10 s (host var `overhaul_ssh_connect_timeout` wins). */
  connectTimeoutMs?: number;
  /** Keepalive probe interval on idle and busy connections; default 5 s. 0 disables. */
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives before a connection is declared dead; default 3. */
  keepaliveCountMax?: number;
  /** Channels (commands, SFTP sessions) at once on one connection; default 8 (OpenSSH's MaxSessions is 10). */
  maxChannelsPerConnection?: number;
  /** Connections at once to one target (address, port, user, jump); default 4. Beyond that, requests queue. */
  maxConnectionsPerTarget?: number;
  /** Per-stream output capture limit when the request sets none; default 64 KiB (the tail is kept). */
  maxOutputBytes?: number;
  /** After a timeout or abort: time between the TERM signal and closing the channel; default 1 s. */
  killGraceMs?: number;
  /** Home directory for `~` in paths and the defaults above; default the OS home. */
  homeDir?: string;
  /** Environment the agent socket and user are read from; default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_KEEPALIVE_INTERVAL_MS = 5_000;
export const DEFAULT_KEEPALIVE_COUNT_MAX = 3;
export const DEFAULT_MAX_CHANNELS_PER_CONNECTION = 8;
export const DEFAULT_MAX_CONNECTIONS_PER_TARGET = 4;
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;
const DEFAULT_KEY_NAMES = ["id_ed25519", "id_ecdsa", "id_rsa"];

export interface ResolvedOptions {
  readonly knownHostsFile: string;
  readonly hostKeyChecking: HostKeyChecking;
  readonly sshConfigFile: string | null;
  /** Default keys, already filtered to those that exist. */
  readonly identityFiles: readonly string[];
  readonly agent: string | null;
  readonly defaultUser: string;
  readonly connectTimeoutMs: number;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
  readonly maxChannelsPerConnection: number;
  readonly maxConnectionsPerTarget: number;
  readonly maxOutputBytes: number;
  readonly killGraceMs: number;
  readonly homeDir: string;
}

export function resolveOptions(o: SshTransportOptions = {}): ResolvedOptions {
  const env = o.env ?? process.env;
  const home = o.homeDir ?? homedir();
  const sshDir = join(home, ".ssh");
  const defaultConfig = join(sshDir, "config");
  const checking = o.hostKeyChecking ?? "strict";
  if (checking !== "strict" && checking !== "accept-new") {
    throw new Error(`hostKeyChecking must be "strict" or "accept-new", got ${JSON.stringify(checking)}`);
  }
  return Object.freeze({
    knownHostsFile: expandHome(o.knownHostsFile ?? join(sshDir, "known_hosts"), home),
    hostKeyChecking: checking,
    sshConfigFile:
      o.sshConfigFile === null
        ? null
        : o.sshConfigFile !== undefined
          ? expandHome(o.sshConfigFile, home)
          : existsSync(defaultConfig)
            ? defaultConfig
            : null,
    identityFiles: Object.freeze(
      (o.identityFiles ?? DEFAULT_KEY_NAMES.map((n) => join(sshDir, n)))
        .map((f) => expandHome(f, home))
        .filter((f) => o.identityFiles !== undefined || existsSync(f)),
    ),
    agent: o.agent === null ? null : (o.agent ?? (env.SSH_AUTH_SOCK || null)),
    defaultUser: o.defaultUser ?? env.USER ?? env.LOGNAME ?? safeUserName(),
    connectTimeoutMs: positive("connectTimeoutMs", o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS),
    keepaliveIntervalMs: atLeast0(
      "keepaliveIntervalMs",
      o.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS,
    ),
    keepaliveCountMax: positive("keepaliveCountMax", o.keepaliveCountMax ?? DEFAULT_KEEPALIVE_COUNT_MAX),
    maxChannelsPerConnection: positive(
      "maxChannelsPerConnection",
      o.maxChannelsPerConnection ?? DEFAULT_MAX_CHANNELS_PER_CONNECTION,
    ),
    maxConnectionsPerTarget: positive(
      "maxConnectionsPerTarget",
      o.maxConnectionsPerTarget ?? DEFAULT_MAX_CONNECTIONS_PER_TARGET,
    ),
    maxOutputBytes: atLeast0("maxOutputBytes", o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES),
    killGraceMs: atLeast0("killGraceMs", o.killGraceMs ?? 1_000),
    homeDir: home,
  });
}

/** `~` and `~/x` relative to `home`; other paths unchanged. */
export function expandHome(path: string, home: string): string {
  if (path === "~") return home;
  if (path.startsWith("~/")) return join(home, path.slice(2));
  return path;
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number, got ${v}`);
  return v;
}

function atLeast0(name: string, v: number): number {
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a number >= 0, got ${v}`);
  return v;
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return "root";
  }
}
