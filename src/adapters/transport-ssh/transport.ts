/**
 * The SSH transport: `exec` and `upload` on inventory hosts over pooled ssh2 connections.
 *
 * Invariants:
 * - Every outcome follows the Transport port: an exit status resolves, whatever its value;
 *   `unreachable` / `auth` / `hostkey` mean nothing ran (a changed host key stops the host during
 *   key exchange, before any credential or command is sent); `timeout` / `dropped` mean the
 *   effect is unknown. Every message starts with the inventory host name.
 * - A command's timeout is enforced on the host (`timeout` inside the script, inside sudo; see
 *   command.ts) unless `overhaul_remote_timeout` is false; a `timeout` rejection says whether the
 *   host confirmed the command stopped (`TransportError.stoppedOnHost`, exec.ts).
 * - Host settings (address, port, user, keys, bastions) are resolved per request from the host's
 *   variables and the ssh config, so hosts that share an endpoint share its connection.
 * - Secrets (become password, key passphrases) never enter a message, a log line or a result;
 *   the become password comes from `hostSecrets` first (so callers can keep it out of the
 *   database), then from the host variables. As a last line of defence, the values of secret
 *   variables are replaced by `[secret]` in every message and output returned.
 * - Bastion connections are shared by every target behind them and closed with the transport.
 * - `close()` ends every connection; commands still running end `dropped`, new ones `unreachable`.
 * - A command with a `tag` leaves a marker on the host while it runs (command.ts); `running` reads
 *   it as the same user, on a connection of its own if the old one is gone, and says `undefined`
 *   whenever the answer is anything but a clear one.
 */
import { performance } from "node:perf_hooks";
import { TransportError } from "../../core/errors.js";
import { isSecretVar } from "../../core/inventory/secret-vars.js";
import type { Host } from "../../core/model/fleet.js";
import {
  ATTEMPT_TAG,
  type ExecRequest,
  type ExecResult,
  type RunningRequest,
  type Transport,
  type UploadRequest,
  type UploadResult,
} from "../../ports/transport.js";
import { KeyCache } from "./auth.js";
import {
  BecomeError,
  type BecomeSettings,
  becomeSettings,
  buildCommand,
  CommandTooLarge,
  commandTooLarge,
  PROBE,
  remoteEnvironment,
  remoteLimit,
  remoteTimeoutEnabled,
  runningProbe,
  WORKDIR_MARKER,
} from "./command.js";
import { type ConnectContext, connectEndpoint, forwardTo, type SshClient } from "./connect.js";
import { BecomeRefused, ChannelRefused, type ChannelResult, runOnChannel } from "./exec.js";
import { resolveOptions, type SshTransportOptions } from "./options.js";
import { type Lease, Pool, type SshPoolStats } from "./pool.js";
import { INCOMPLETE } from "./session-start.js";
import { uploadOnChannel } from "./sftp.js";
import { loadSshConfig, SshConfigError, type SshConfigLookup } from "./ssh-config.js";
import { endpointKey, resolveTarget, type Target, TargetError, unwrap } from "./target.js";

export interface SshTransport extends Transport {
  upload(host: Host, req: UploadRequest): Promise<UploadResult>;
  running(host: Host, req: RunningRequest): Promise<boolean | undefined>;
  close(): Promise<void>;
  /** Connections, channels and waiters right now (tests, benches, progress). */
  stats(): SshPoolStats;
}

export interface SshTransportDeps {
  /**
   * A host's secret variables (`ansible_become_password`, ...) kept out of its snapshot, and so
   * out of the database; consulted before the host's own variables.
   */
  hostSecrets?: (host: Host) => Readonly<Record<string, unknown>> | undefined;
}

/** How often one request may retry after the server refused a channel (lowering the cap each time). */
const CHANNEL_RETRIES = 4;
const IDLE_TIMEOUT_MS = 30_000;

export function createSshTransport(options: SshTransportOptions & SshTransportDeps = {}): SshTransport {
  const opts = resolveOptions(options);
  const keys = new KeyCache();
  const ctx: ConnectContext = { options: opts, keys };
  let config: Promise<SshConfigLookup> | undefined;
  const sshConfig = () => {
    config ??= loadSshConfig(opts.sshConfigFile, { homeDir: opts.homeDir, localUser: opts.defaultUser });
    return config;
  };
  const bastions = new Map<string, Promise<SshClient>>();
  let closed = false;
  const running = new Set<AbortController>();
  const inFlight = new Set<Promise<unknown>>();
  /** Remember a request until it settles, so close() can wait for it. */
  const track = <T>(p: Promise<T>): Promise<T> => {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    inFlight.add(settled);
    void settled.then(() => inFlight.delete(settled));
    return p;
  };

  /** The connection to hop `i` of a target's chain, shared by every target behind it. */
  const bastion = (target: Target, i: number): Promise<SshClient> => {
    const hop = target.jumps[i] as Target["jumps"][number];
    const key = target.jumps
      .slice(0, i + 1)
      .map(endpointKey)
      .join(" > ");
    let p = bastions.get(key);
    if (!p) {
      p = (async () => {
        const sock =
          i === 0
            ? undefined
            : await forwardTo(
                await bastion(target, i - 1),
                hop,
                `bastion ${hop.label}: `,
                target.jumps[i - 1]?.label ?? "",
              );
        const client = await connectEndpoint(hop, `bastion ${hop.label}: `, ctx, sock);
        client.once("close", () => {
          if (bastions.get(key) === p) bastions.delete(key);
        });
        if (closed) client.destroy();
        return client;
      })();
      const mine = p;
      mine.catch(() => {
        if (bastions.get(key) === mine) bastions.delete(key);
      });
      bastions.set(key, p);
    }
    return p;
  };

  const pool = new Pool({
    maxChannels: opts.maxChannelsPerConnection,
    maxConnections: opts.maxConnectionsPerTarget,
    idleTimeoutMs: IDLE_TIMEOUT_MS,
    bastions: () => bastions.size,
    async open(target, signal) {
      let sock: Awaited<ReturnType<typeof forwardTo>> | undefined;
      if (target.jumps.length > 0) {
        const last = target.jumps.length - 1;
        const via = await bastion(target, last);
        sock = await forwardTo(via, target, "", target.jumps[last]?.label ?? "");
      }
      return connectEndpoint(target, "", ctx, sock, signal);
    },
  });

  /** Connection and pool errors name no host (hosts may share a connection): put this one's in front. */
  const named = (host: Host, e: unknown): unknown =>
    e instanceof TransportError
      ? new TransportError(e.kind, `${host.name}: ${e.message}`, { cause: e, stoppedOnHost: e.stoppedOnHost })
      : e;

  const target = async (host: Host): Promise<Target> => {
    try {
      return resolveTarget(host, opts, await sshConfig());
    } catch (e) {
      if (e instanceof TargetError || e instanceof SshConfigError) {
        throw new TransportError(
          "unreachable",
          `${host.name}: cannot work out how to connect: ${e.message}; nothing ran`,
          {
            cause: e,
          },
        );
      }
      throw e;
    }
  };

  /** Run `fn` on a leased channel, retrying when the server refuses channels on a live connection. */
  const withChannel = async <T>(
    host: Host,
    t: Target,
    signal: AbortSignal,
    fn: (lease: Lease) => Promise<T>,
  ): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      let lease: Lease;
      try {
        lease = await pool.acquire(t, signal);
      } catch (e) {
        throw named(host, e);
      }
      try {
        return await fn(lease);
      } catch (e) {
        if (!(e instanceof ChannelRefused)) throw e;
        lease.lowerLimit();
        if (attempt >= CHANNEL_RETRIES) {
          throw new TransportError(
            "unreachable",
            `${host.name}: the server refused to open a session: ${e.message}; nothing ran`,
          );
        }
      } finally {
        lease.release();
      }
    }
  };

  /** An abort controller for one request: the caller's signal, the deadline, and close(). */
  const requestScope = (signal: AbortSignal | undefined) => {
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    running.add(ac);
    return {
      signal: ac.signal,
      done() {
        signal?.removeEventListener("abort", onAbort);
        running.delete(ac);
      },
    };
  };

  const exec = (host: Host, req: ExecRequest): Promise<ExecResult> => {
    const secrets = secretValues(host, options.hostSecrets?.(host));
    return track(
      execOne(host, req).then(
        (r) => redactResult(r, secrets),
        (e: unknown) => {
          throw redactError(e, secrets);
        },
      ),
    );
  };

  return {
    exec,
    async running(host: Host, req: RunningRequest): Promise<boolean | undefined> {
      if (!ATTEMPT_TAG.test(req.tag)) return undefined;
      let r: ExecResult;
      try {
        r = await exec(host, {
          command: runningProbe(req.tag),
          timeoutMs: req.timeoutMs,
          ...(req.become ? { become: true } : {}),
          ...(req.signal ? { signal: req.signal } : {}),
        });
      } catch (e) {
        if (req.signal?.aborted) throw e;
        return undefined;
      }
      const said = r.exitCode === 0 ? r.stdout.trim().split("\n").pop() : undefined;
      if (said === PROBE.running) return true;
      if (said === PROBE.ended || said === PROBE.none) return false;
      return undefined;
    },
    upload(host: Host, req: UploadRequest): Promise<UploadResult> {
      const secrets = secretValues(host, options.hostSecrets?.(host));
      return track(
        uploadOne(host, req).catch((e: unknown) => {
          throw redactError(e, secrets);
        }),
      );
    },
    async close(): Promise<void> {
      closed = true;
      for (const ac of running) ac.abort();
      pool.close();
      const all = [...bastions.values()];
      bastions.clear();
      await Promise.all(
        all.map((p) =>
          p.then(
            (c) => c.destroy(),
            () => undefined,
          ),
        ),
      );
      await Promise.allSettled([...inFlight]);
    },
    stats(): SshPoolStats {
      return pool.stats();
    },
  };

  async function execOne(host: Host, req: ExecRequest): Promise<ExecResult> {
    const started = performance.now();
    if (closed)
      throw new TransportError("unreachable", `${host.name}: the SSH transport is closed; nothing ran`);
    if (req.signal?.aborted) {
      throw new TransportError(
        "unreachable",
        `${host.name}: aborted before the command started; nothing ran`,
      );
    }
    if (Number.isNaN(req.timeoutMs)) {
      throw new TransportError("unreachable", `${host.name}: no valid timeout was given; nothing ran`);
    }
    const t = await target(host);
    let become: BecomeSettings | undefined;
    try {
      become = req.become ? becomeSettings(host, options.hostSecrets?.(host)) : undefined;
    } catch (e) {
      if (e instanceof BecomeError)
        throw new TransportError("auth", `${host.name}: become: ${e.message}; nothing ran`);
      throw e;
    }
    const env = remoteEnvironment(host, req.env);
    const tooLarge = commandTooLarge(req.command, env);
    if (tooLarge !== undefined)
      throw new TransportError("unreachable", `${host.name}: ${tooLarge}; nothing ran`);
    const hostLimited = remoteTimeoutEnabled(host);
    const scope = requestScope(req.signal);
    // Connecting and queueing count against the command's time, but only as "nothing ran".
    const waitAbort = new AbortController();
    const deadline = setTimeout(() => waitAbort.abort(), Math.min(Math.max(req.timeoutMs, 0), 2_147_483_647));
    const waitSignal = AbortSignal.any([scope.signal, waitAbort.signal]);
    try {
      const result = await withChannel(host, t, waitSignal, (lease) => {
        const left = req.timeoutMs - (performance.now() - started);
        if (left <= 0) {
          throw new TransportError(
            "unreachable",
            `${host.name}: no time left to start the command after connecting; nothing ran`,
          );
        }
        // The host enforces the time left itself (command.ts), rounded up to whole seconds.
        const limit = hostLimited ? remoteLimit(left, opts.killGraceMs) : undefined;
        let command: ReturnType<typeof buildCommand>;
        try {
          command = buildCommand(host, req.command, env, become, limit, req.tag);
        } catch (e) {
          if (!(e instanceof CommandTooLarge)) throw e;
          throw new TransportError("unreachable", `${host.name}: ${e.message}; nothing ran`);
        }
        return runOnChannel({
          lease,
          who: host.name,
          command,
          timeoutMs: left,
          ...(limit ? { hostLimitMs: limit.seconds * 1000 } : {}),
          timeoutLabelMs: req.timeoutMs,
          maxOutputBytes: req.maxOutputBytes ?? opts.maxOutputBytes,
          killGraceMs: opts.killGraceMs,
          signal: scope.signal,
          started,
        });
      });
      return judged(host, result, become);
    } catch (e) {
      if (e instanceof BecomeRefused && become) {
        throw new TransportError(
          "auth",
          `${host.name}: sudo refused to run the command as ${become.user} (become): ${e.message}; nothing ran`,
        );
      }
      if (closed && e instanceof TransportError && e.kind === "dropped") {
        throw new TransportError(
          "dropped",
          `${host.name}: the transport was closed while the command ran; its effect is unknown`,
        );
      }
      throw e;
    } finally {
      clearTimeout(deadline);
      scope.done();
    }
  }

  async function uploadOne(host: Host, req: UploadRequest): Promise<UploadResult> {
    const started = performance.now();
    if (closed)
      throw new TransportError(
        "unreachable",
        `${host.name}: the SSH transport is closed; nothing was written`,
      );
    if (req.signal?.aborted)
      throw new TransportError(
        "unreachable",
        `${host.name}: aborted before the upload started; nothing was written`,
      );
    if (!req.remotePath.startsWith("/")) {
      throw new TransportError(
        "unreachable",
        `${host.name}: upload path ${JSON.stringify(req.remotePath)} is not absolute; nothing was written`,
      );
    }
    const t = await target(host);
    const timeoutMs = req.timeoutMs ?? 60_000;
    const scope = requestScope(req.signal);
    try {
      return await withChannel(host, t, scope.signal, (lease) =>
        uploadOnChannel(
          lease,
          host.name,
          { ...req, signal: scope.signal },
          timeoutMs - (performance.now() - started),
          started,
        ),
      );
    } finally {
      scope.done();
    }
  }
}

/**
 * A channel's result as the port has it: an error when the command never ran (the shell never
 * said it started and never had the script, or sudo refused it in its own words; the script did
 * not arrive whole; no working directory), and an effect unknown when the start line is missing
 * but the script went out: a shell that sends its stderr elsewhere (a `.bashrc` redirecting it, a
 * login wrapper merging it into stdout) may have run the command, so it is never "nothing ran".
 */
function judged(host: Host, r: ChannelResult, become: BecomeSettings | undefined): ExecResult {
  const { started, said, scriptSent, ...result } = r;
  const status = r.exitCode !== null ? `exit status ${r.exitCode}` : `killed by ${r.signal}`;
  // A refusal in its own words proves nothing ran: sudo's (`sudo -n` wanting a password, an
  // unknown user: exit 1, no output) or nologin's (an account that may not log in).
  const sudoRefused = become !== undefined && r.exitCode === 1 && r.stdout === "" && /\bsudo\b/.test(said);
  const noLogin = r.exitCode === 1 && /account is currently not available/.test(`${said}\n${r.stdout}`);
  if (!started && scriptSent && !sudoRefused && !noLogin) {
    throw new TransportError(
      "dropped",
      `${host.name}: the shell never said it started (${status}${said ? `: ${said}` : ""}), but it had the command: it may have run it with its stderr sent elsewhere (a .bashrc or login wrapper redirecting stderr?); its effect is unknown`,
    );
  }
  if (!started && become) {
    throw new TransportError(
      "auth",
      `${host.name}: sudo refused to run the command as ${become.user} (become): ${said || status}; nothing ran`,
    );
  }
  if (!started) {
    throw new TransportError(
      "unreachable",
      `${host.name}: the login shell did not start /bin/sh (${status}${said ? `: ${said}` : ""}); nothing ran`,
    );
  }
  if (r.exitCode === 125 && r.stderr.includes(INCOMPLETE)) {
    throw new TransportError(
      "unreachable",
      `${host.name}: the command did not reach the host whole; nothing ran`,
    );
  }
  if (r.exitCode === 127 && r.stderr.includes(WORKDIR_MARKER)) {
    throw new TransportError(
      "unreachable",
      `${host.name}: the working directory (overhaul_workdir) does not exist or cannot be entered; nothing ran`,
    );
  }
  return result;
}

/** The values of a host's secret variables worth looking for (3 characters or more). */
function secretValues(host: Host, extra: Readonly<Record<string, unknown>> | undefined): string[] {
  const out = new Set<string>();
  for (const source of [extra ?? {}, host.vars]) {
    for (const [k, v] of Object.entries(source)) {
      const t = unwrap(v);
      if (!isSecretVar(k) || (typeof t !== "string" && typeof t !== "number")) continue;
      const text = String(t);
      if (text.length >= 3) out.add(text);
    }
  }
  return [...out];
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join("[secret]");
  return out;
}

/**
 * The last line of defence: a secret that reached a message or an output anyway (a user name that
 * contains it, a command that prints it) is replaced. The cause is dropped when it had to be.
 */
function redactError(e: unknown, secrets: readonly string[]): unknown {
  if (!(e instanceof TransportError) || secrets.length === 0) return e;
  const chain = [e.message];
  for (let c: unknown = e.cause; c instanceof Error; c = c.cause) chain.push(c.message);
  if (!secrets.some((s) => chain.some((m) => m.includes(s)))) return e;
  return new TransportError(e.kind, redact(e.message, secrets), { stoppedOnHost: e.stoppedOnHost });
}

function redactResult(r: ExecResult, secrets: readonly string[]): ExecResult {
  if (secrets.length === 0) return r;
  return { ...r, stdout: redact(r.stdout, secrets), stderr: redact(r.stderr, secrets) };
}
