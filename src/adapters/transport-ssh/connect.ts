/**
 * Opening one authenticated SSH connection to one endpoint, directly or over a stream forwarded
 * by a bastion (ProxyJump = ssh2 `forwardOut` on the bastion's connection + the `sock` option).
 *
 * Invariants:
 * - Resolves only with a client that completed key exchange, host key checking (including the
 *   accept-new append) and authentication; otherwise rejects with a `TransportError` of kind
 *   `unreachable` (refused, unroutable, timed out, closed early, aborted), `hostkey` or `auth`.
 *   All three mean no command ran.
 * - The whole attempt is bounded by the endpoint's connect timeout; on expiry the socket is
 *   destroyed and nothing is left behind.
 * - The returned client always has an `error` listener, so a late socket error can never crash
 *   the process; its death is observed through `close`.
 * - Messages name the endpoint (the caller puts the inventory host in front, so hosts sharing a
 *   connection each get their own name), never a key or a secret. `who` is a prefix such as
 *   `bastion jump1: `, or empty.
 * - A server that accepts the TCP connection and closes it before its SSH greeting is most often
 *   sshd past its MaxStartups (too many unauthenticated connections at once: a fleet connecting
 *   without ControlMaster). A direct connection is tried again then, at most
 *   `EARLY_CLOSE_RETRIES` times, after a jittered backoff, and only while the retries stay
 *   within the endpoint's connect timeout; nothing ran, so trying again is safe. The final
 *   failure says what it likely means. Through a bastion the forwarded stream is gone with the
 *   attempt: the first failure is final there (the caller opens a new stream next time).
 */
import type { Duplex } from "node:stream";
import type { ServerHostKeyAlgorithm } from "ssh2";
import ssh2 from "ssh2";
import { TransportError } from "../../core/errors.js";
import { authFailureMessage, type KeyCache, planAuth } from "./auth.js";
import { HostKeyRefused, prepareHostKeyCheck } from "./host-key-check.js";
import type { ResolvedOptions } from "./options.js";
import { type Endpoint, endpointKey } from "./target.js";

const { Client } = ssh2;
export type SshClient = InstanceType<typeof Client>;

const HOST_KEY_ALGORITHMS: readonly ServerHostKeyAlgorithm[] = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  ECONNRESET: "connection reset",
  EPIPE: "connection closed",
  ENOTFOUND: "name not found",
  EAI_AGAIN: "name lookup failed",
  EADDRNOTAVAIL: "address not available",
};

export interface ConnectContext {
  options: ResolvedOptions;
  keys: KeyCache;
}

/** Host key algorithms with those already known for the host first (as OpenSSH orders them). */
export function orderHostKeyAlgorithms(knownTypes: readonly string[]): ServerHostKeyAlgorithm[] {
  const first: ServerHostKeyAlgorithm[] = [];
  for (const t of knownTypes) {
    const algs = t === "ssh-rsa" ? (["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] as const) : [t];
    for (const a of algs) {
      const known = HOST_KEY_ALGORITHMS.find((x) => x === a);
      if (known && !first.includes(known)) first.push(known);
    }
  }
  return [...first, ...HOST_KEY_ALGORITHMS.filter((a) => !first.includes(a))];
}

/** Retries of a direct connection that the server closed before its SSH greeting (see the header). */
export const EARLY_CLOSE_RETRIES = 3;
/** The first backoff before such a retry; it doubles each time, with ±50% jitter. */
const EARLY_CLOSE_BACKOFF_MS = 500;

/** Failures where the server closed the connection before its SSH greeting (ssh2's "Connection lost before handshake"). */
const earlyCloses = new WeakSet<object>();

/**
 * Connect to `ep`. `who` prefixes every message (empty, or `bastion jump1: `).
 * `sock` is a stream already forwarded to the endpoint (through a bastion).
 */
export async function connectEndpoint(
  ep: Endpoint,
  who: string,
  ctx: ConnectContext,
  sock?: Duplex,
  signal?: AbortSignal,
): Promise<SshClient> {
  const started = performance.now();
  const where = endpointKey(ep);
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectOnce(ep, who, ctx, sock, signal);
    } catch (e) {
      if (!earlyCloses.has(e as object)) throw e;
      const delay = EARLY_CLOSE_BACKOFF_MS * 2 ** (attempt - 1) * (0.5 + Math.random());
      const elapsed = performance.now() - started;
      if (sock !== undefined || attempt > EARLY_CLOSE_RETRIES || elapsed + delay >= ep.connectTimeoutMs) {
        const times = attempt === 1 ? "" : ` (${attempt} times in ${(elapsed / 1000).toFixed(1)}s)`;
        throw new TransportError(
          "unreachable",
          `${who}${where} accepted the connection and closed it before its SSH greeting${times}: most likely sshd refusing more unauthenticated connections at once (its MaxStartups; lower the plan's concurrency, or raise MaxStartups), else a filter refusing this client (TCP wrappers, fail2ban); nothing ran`,
          { cause: e },
        );
      }
      const aborted = await pause(delay, signal);
      if (aborted)
        throw new TransportError("unreachable", `${who}aborted while connecting to ${where}; nothing ran`);
    }
  }
}

/** Wait `ms`, or less when `signal` aborts (then true). */
function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (aborted: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(aborted);
    };
    const onAbort = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

async function connectOnce(
  ep: Endpoint,
  who: string,
  ctx: ConnectContext,
  sock?: Duplex,
  signal?: AbortSignal,
): Promise<SshClient> {
  const where = endpointKey(ep);
  const fail = (kind: "unreachable" | "auth" | "hostkey", message: string, cause?: unknown) =>
    new TransportError(kind, message, cause === undefined ? {} : { cause });
  if (signal?.aborted) throw fail("unreachable", `${who}aborted before connecting to ${where}; nothing ran`);
  const { options } = ctx;
  const [hostKey, auth] = await Promise.all([
    prepareHostKeyCheck(options.knownHostsFile, options.hostKeyChecking, ep.address, ep.port, who),
    planAuth({
      user: ep.user,
      named: ep.identityFiles,
      defaults: options.identityFiles,
      agent: options.agent,
      identitiesOnly: ep.identitiesOnly,
      keys: ctx.keys,
    }),
  ]);

  const client = new Client();
  return await new Promise<SshClient>((resolve, reject) => {
    let settled = false;
    let committing: Promise<void> = Promise.resolve();
    const finish = (err?: TransportError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (err) {
        client.destroy();
        sock?.destroy();
        reject(err);
      } else resolve(client);
    };
    const timer = setTimeout(
      () =>
        finish(
          fail(
            "unreachable",
            `${who}could not connect to ${where} within ${seconds(ep.connectTimeoutMs)} (connect timeout); nothing ran`,
          ),
        ),
      ep.connectTimeoutMs,
    );
    const onAbort = () =>
      finish(fail("unreachable", `${who}aborted while connecting to ${where}; nothing ran`));
    signal?.addEventListener("abort", onAbort, { once: true });

    // Always listen: a late error must not become an uncaught exception.
    client.on("error", (err: Error & { level?: string; code?: string }) => {
      if (settled) return;
      if (hostKey.refusal) return finish(fail("hostkey", hostKey.refusal));
      // ssh2 reports a broken agent or a key that cannot sign, then tries the next method itself.
      if (
        err.level === "agent" ||
        (err.level === "client-authentication" && !/^All configured/.test(err.message))
      ) {
        auth.note(err.level === "agent" ? `agent (${err.message})` : err.message);
        return;
      }
      if (err.level === "client-authentication") {
        return finish(fail("auth", authFailureMessage(who, ep.user, where, auth, options.agent)));
      }
      if (err.level === "client-timeout") {
        return finish(
          fail(
            "unreachable",
            `${who}${where} did not complete the SSH handshake within ${seconds(ep.connectTimeoutMs)}; nothing ran`,
            err,
          ),
        );
      }
      if (err.level === "protocol" && /^Connection lost before handshake/.test(err.message)) {
        const early = fail(
          "unreachable",
          `${who}${where} closed the connection before its SSH greeting; nothing ran`,
          err,
        );
        earlyCloses.add(early);
        return finish(early);
      }
      const net = err.code !== undefined ? NETWORK_CODES[err.code] : undefined;
      finish(
        fail(
          "unreachable",
          `${who}cannot connect to ${where}: ${net ?? err.message}${net && err.code ? ` (${err.code})` : ""}; nothing ran`,
          err,
        ),
      );
    });
    client.once("handshake", () => {
      committing = hostKey.commit().catch((e: unknown) => {
        finish(
          e instanceof HostKeyRefused
            ? fail("hostkey", e.message)
            : fail("unreachable", `${who}cannot record the host key of ${where}: ${(e as Error).message}`, e),
        );
      });
    });
    client.once("ready", () => {
      // Small request/answer packets: Nagle's algorithm would hold each one ~40 ms (OpenSSH's
      // client turns it off too).
      client.setNoDelay(true);
      void committing.then(() => finish());
    });
    client.once("close", () => {
      if (hostKey.refusal) return finish(fail("hostkey", hostKey.refusal));
      finish(
        fail("unreachable", `${who}${where} closed the connection during the SSH handshake; nothing ran`),
      );
    });

    try {
      client.connect({
        ...(sock ? { sock } : { host: ep.address, port: ep.port }),
        username: ep.user,
        authHandler: auth.handler,
        hostVerifier: (key: Buffer) => hostKey.verify(key),
        algorithms: { serverHostKey: orderHostKeyAlgorithms(hostKey.preferredTypes) },
        keepaliveInterval: options.keepaliveIntervalMs,
        keepaliveCountMax: options.keepaliveCountMax,
        readyTimeout: ep.connectTimeoutMs + 1_000,
      });
    } catch (e) {
      finish(
        fail("unreachable", `${who}cannot connect to ${where}: ${(e as Error).message}; nothing ran`, e),
      );
    }
  });
}

/** A stream to `address:port` opened by `via` (a bastion's connection). */
export function forwardTo(via: SshClient, ep: Endpoint, who: string, bastion: string): Promise<Duplex> {
  return new Promise<Duplex>((resolve, reject) => {
    try {
      via.forwardOut("127.0.0.1", 0, ep.address, ep.port, (err, stream) => {
        if (err) {
          reject(
            new TransportError(
              "unreachable",
              `${who}bastion ${bastion} could not reach ${ep.address}:${ep.port}: ${err.message.replace(/^\(SSH\) /, "")}; nothing ran`,
              { cause: err },
            ),
          );
        } else resolve(stream);
      });
    } catch (e) {
      reject(
        new TransportError("unreachable", `${who}bastion ${bastion} is not connected; nothing ran`, {
          cause: e,
        }),
      );
    }
  });
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
