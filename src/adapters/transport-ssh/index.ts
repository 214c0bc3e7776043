/**
 * The `ssh` transport adapter: runs a host's commands over SSH (ssh2, in-process), with pooled
 * connections, known_hosts checking, ProxyJump, sudo and SFTP upload. See transport.ts and
 * docs/ssh.md.
 *
 * Invariants (the public API; other code depends on exactly these names):
 * - `createSshTransport(options)` returns a `Transport` that also has `upload()` and `stats()`.
 * - `checkSshHosts(hosts, options)` reads every SSH host's connection settings without connecting.
 * - Nothing here exits the process; every failure is a `TransportError` naming the host.
 */
export { checkSshHosts, type SshHostProblem } from "./check.js";
export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_KEEPALIVE_INTERVAL_MS,
  DEFAULT_MAX_CHANNELS_PER_CONNECTION,
  DEFAULT_MAX_CONNECTIONS_PER_TARGET,
  DEFAULT_MAX_OUTPUT_BYTES,
  type HostKeyChecking,
  type SshTransportOptions,
} from "./options.js";
export type { SshPoolStats } from "./pool.js";
export { createSshTransport, type SshTransport, type SshTransportDeps } from "./transport.js";
