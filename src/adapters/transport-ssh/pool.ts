/**
 * The connection pool: one SSH connection per target (address, port, user, jump chain) carrying
 * many channels, a second (third, ...) only when the first is full.
 *
 * Invariants:
 * - A connection carries at most `maxChannels` channels at once (below OpenSSH's MaxSessions of
 *   10); when the server refuses a channel on a live connection, that connection's cap is lowered
 *   to what it actually carried. At most `maxConnections` connections per target; beyond that,
 *   requests wait in FIFO order for a channel to be released.
 * - Requests that arrive while a connection is being opened share that attempt (up to its cap)
 *   instead of opening their own: N concurrent commands to a new host open one connection.
 * - A connection that closed (keepalive timeout, reboot, network) is dropped from the pool at
 *   once; the next request opens a fresh one. A failed attempt is never cached.
 * - An idle connection is closed after `idleTimeoutMs`; idle timers never keep the process alive.
 * - Waiting can be aborted; an aborted wait rejects `unreachable` (nothing ran).
 * - Messages do not name the inventory host: several hosts may share a connection, so the caller
 *   puts its own host's name in front.
 * - `close()` ends every connection and refuses new requests.
 */
import { TransportError } from "../../core/errors.js";
import type { SshClient } from "./connect.js";
import type { Target } from "./target.js";

export interface SshPoolStats {
  /** Targets with at least one connection or waiter. */
  targets: number;
  /** Open or opening connections to targets (bastions not included). */
  connections: number;
  /** Open bastion connections. */
  bastions: number;
  /** Channels in use (commands and SFTP sessions running). */
  channels: number;
  /** Requests waiting for a free channel. */
  queued: number;
  /** Connections opened since the transport was created (successful or not). */
  connectsTotal: number;
}

interface Conn {
  ready: Promise<SshClient>;
  client: SshClient | undefined;
  active: number;
  limit: number;
  dead: boolean;
  idle: NodeJS.Timeout | undefined;
}

interface Slot {
  conns: Conn[];
  waiters: (() => void)[];
}

export interface Lease {
  readonly client: SshClient;
  /** True once the connection closed. */
  readonly dead: boolean;
  /** The server refused a channel on this live connection: carry fewer at once. */
  lowerLimit(): void;
  release(): void;
}

export interface PoolConfig {
  maxChannels: number;
  maxConnections: number;
  idleTimeoutMs: number;
  open(target: Target, signal: AbortSignal | undefined): Promise<SshClient>;
  bastions(): number;
}

export class Pool {
  private readonly slots = new Map<string, Slot>();
  private closed = false;
  private connects = 0;

  constructor(private readonly config: PoolConfig) {}

  async acquire(target: Target, signal?: AbortSignal): Promise<Lease> {
    for (;;) {
      if (this.closed) throw new TransportError("unreachable", `the SSH transport is closed; nothing ran`);
      if (signal?.aborted) {
        throw new TransportError("unreachable", `stopped before the command started; nothing ran`);
      }
      const slot = this.slot(target.key);
      const free =
        slot.conns.find((c) => !c.dead && c.client && c.active < c.limit) ??
        slot.conns.find((c) => !c.dead && c.active < c.limit);
      const conn =
        free ?? (slot.conns.length < this.config.maxConnections ? this.openConn(target, slot) : undefined);
      if (!conn) {
        await this.wait(slot, signal);
        continue;
      }
      conn.active++;
      if (conn.idle) clearTimeout(conn.idle);
      conn.idle = undefined;
      let client: SshClient;
      try {
        client = await abortable(conn.ready, signal);
      } catch (e) {
        this.release(target.key, conn);
        throw e;
      }
      if (conn.dead) {
        this.release(target.key, conn);
        continue;
      }
      return this.lease(target.key, conn, client);
    }
  }

  stats(): SshPoolStats {
    let connections = 0;
    let channels = 0;
    let queued = 0;
    for (const s of this.slots.values()) {
      connections += s.conns.length;
      for (const c of s.conns) channels += c.active;
      queued += s.waiters.length;
    }
    return {
      targets: this.slots.size,
      connections,
      bastions: this.config.bastions(),
      channels,
      queued,
      connectsTotal: this.connects,
    };
  }

  /** End every connection; later `acquire` calls reject. */
  close(): void {
    this.closed = true;
    for (const s of this.slots.values()) {
      for (const c of s.conns) {
        if (c.idle) clearTimeout(c.idle);
        c.client?.end();
        c.client?.destroy();
        c.dead = true;
      }
      for (const w of s.waiters.splice(0)) w();
    }
    this.slots.clear();
  }

  private slot(key: string): Slot {
    let s = this.slots.get(key);
    if (!s) {
      s = { conns: [], waiters: [] };
      this.slots.set(key, s);
    }
    return s;
  }

  private openConn(target: Target, slot: Slot): Conn {
    this.connects++;
    const conn: Conn = {
      ready: Promise.resolve(undefined as unknown as SshClient),
      client: undefined,
      active: 0,
      limit: this.config.maxChannels,
      dead: false,
      idle: undefined,
    };
    // Not tied to one request's abort signal: other requests may share this attempt.
    conn.ready = this.config.open(target, undefined).then(
      (client) => {
        conn.client = client;
        client.once("close", () => this.bury(target.key, conn));
        if (this.closed || conn.dead) {
          client.destroy();
          throw new TransportError("unreachable", `the SSH transport is closed; nothing ran`);
        }
        return client;
      },
      (e: unknown) => {
        this.bury(target.key, conn);
        throw e;
      },
    );
    // The rejection is handled by whoever awaits; do not report it as unhandled.
    conn.ready.catch(() => undefined);
    slot.conns.push(conn);
    return conn;
  }

  /** Forget a dead or failed connection and let waiters try again. */
  private bury(key: string, conn: Conn): void {
    conn.dead = true;
    if (conn.idle) clearTimeout(conn.idle);
    const slot = this.slots.get(key);
    if (!slot) return;
    slot.conns = slot.conns.filter((c) => c !== conn);
    for (const w of slot.waiters.splice(0)) w();
    this.forgetIfEmpty(key, slot);
  }

  private lease(key: string, conn: Conn, client: SshClient): Lease {
    let released = false;
    return {
      client,
      get dead() {
        return conn.dead;
      },
      lowerLimit: () => {
        conn.limit = Math.max(1, conn.active - 1);
      },
      release: () => {
        if (released) return;
        released = true;
        this.release(key, conn);
      },
    };
  }

  private release(key: string, conn: Conn): void {
    conn.active--;
    const slot = this.slots.get(key);
    if (!slot) return;
    const next = slot.waiters.shift();
    if (next) next();
    else if (conn.active === 0 && !conn.dead && conn.client) {
      const client = conn.client;
      conn.idle = setTimeout(() => {
        conn.dead = true;
        client.end();
        this.bury(key, conn);
      }, this.config.idleTimeoutMs);
      conn.idle.unref();
    }
    this.forgetIfEmpty(key, slot);
  }

  private forgetIfEmpty(key: string, slot: Slot): void {
    if (slot.conns.length === 0 && slot.waiters.length === 0 && this.slots.get(key) === slot)
      this.slots.delete(key);
  }

  private wait(slot: Slot, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wake = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        slot.waiters = slot.waiters.filter((w) => w !== wake);
        reject(
          new TransportError("unreachable", `stopped while waiting for a free SSH channel; nothing ran`),
        );
      };
      slot.waiters.push(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/** `p`, or an `unreachable` rejection as soon as `signal` aborts (the attempt goes on for others). */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () =>
      reject(new TransportError("unreachable", "stopped while the connection was being opened; nothing ran"));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
