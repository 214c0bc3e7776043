/**
 * Live progress as server-sent events, fanned out from one store poll per run.
 *
 * Invariants:
 * - Each client has its own cursor (the last seq it was sent); an event is sent to a client only
 *   when its seq is above that cursor, so a reconnect with Last-Event-ID resumes with no gap and
 *   no duplicate (event seqs follow commit order, see the Store port).
 * - However many clients watch a run, the store is read once per poll for that run (from the
 *   smallest cursor), so 100 dashboards cost about what one does.
 * - A client whose socket closes is dropped at once, also one that closed before it was attached
 *   (while the route looked the run up); `close()` ends every stream (shutdown).
 * - A failing poll is retried at the next tick; it never ends the streams.
 * - A stream lives no longer than its token: every `tokenCheckMs` (while any stream is open) the
 *   tokens are read once, and each stream whose token is revoked (or gone) is ended, so a revoke
 *   through the API or `overhaul token revoke` in another process closes it within that time (a
 *   client with bytes it has not taken is cut: nothing more reaches it). A failing read closes
 *   nothing (the next check decides); other clients are never touched.
 * - What waits in memory for one client is capped: a client with `maxBacklogBytes` or more not yet
 *   taken by its socket is sent nothing more (its cursor stays, so it resumes without a gap once
 *   it reads), and one that stays so for `stallMs` is dropped with a notice. So a client that
 *   never reads costs at most about `maxBacklogBytes` (plus one event), never the run's history.
 */
import type { FastifyReply } from "fastify";
import type { EventRecord, Store } from "../ports/store.js";

interface Client {
  cursor: number;
  reply: FastifyReply;
  /** The token the stream was opened with. */
  tokenId: string;
  /** Since when its backlog has been at the cap (undefined: below it). */
  fullSince?: number;
}

export interface LiveOptions {
  /** How often each watched run's events are read (ms). */
  pollMs?: number;
  /** How often the tokens of open streams are checked for revocation (ms). */
  tokenCheckMs?: number;
  /** Bytes that may wait in memory for one client before it is sent nothing more. */
  maxBacklogBytes?: number;
  /** How long a client may stay at that cap before it is dropped (ms). */
  stallMs?: number;
  /** Where a stream ended by the server is reported (one line, no newline). */
  log?: (line: string) => void;
  /** The clock (epoch ms). */
  now?: () => number;
}

interface Feed {
  clients: Set<Client>;
  timer: NodeJS.Timeout;
  polling: boolean;
}

const PAGE = 1000;
const HEARTBEAT_MS = 15_000;
export const TOKEN_CHECK_MS = 2000;
export const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;
/** Two heartbeats: a client reading at all drains its backlog long before. */
export const STALL_MS = 30_000;

export class LiveEvents {
  private readonly feeds = new Map<string, Feed>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly tokenCheck: NodeJS.Timeout;
  private checkingTokens = false;
  private readonly pollMs: number;
  private readonly maxBacklog: number;
  private readonly stallMs: number;
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  /** Events written to clients since start (for the bench and metrics). */
  sent = 0;

  constructor(
    private readonly store: Store,
    opts: LiveOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 250;
    this.maxBacklog = opts.maxBacklogBytes ?? MAX_BACKLOG_BYTES;
    this.stallMs = opts.stallMs ?? STALL_MS;
    this.log = opts.log ?? (() => {});
    this.now = opts.now ?? Date.now;
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
    this.tokenCheck = setInterval(() => void this.checkTokens(), opts.tokenCheckMs ?? TOKEN_CHECK_MS);
    this.tokenCheck.unref();
  }

  get clients(): number {
    let n = 0;
    for (const f of this.feeds.values()) n += f.clients.size;
    return n;
  }

  attach(runId: string, after: number, reply: FastifyReply, tokenId: string): void {
    reply.hijack();
    const raw = reply.raw;
    // The client went away while the route looked the run up: its `close` has already fired, so
    // a client added now would never be dropped (nor its run's poll stopped).
    if (raw.destroyed || reply.request.raw.socket.destroyed) {
      raw.destroy();
      return;
    }
    raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    raw.write(`retry: 2000\n: run ${runId}\n\n`);
    const client: Client = { cursor: after, reply, tokenId };
    let feed = this.feeds.get(runId);
    if (!feed) {
      const f: Feed = {
        clients: new Set(),
        polling: false,
        timer: setInterval(() => void this.poll(runId, f), this.pollMs),
      };
      feed = f;
      this.feeds.set(runId, feed);
    }
    feed.clients.add(client);
    const f = feed;
    raw.on("close", () => this.detach(runId, f, client));
    void this.poll(runId, f);
  }

  /** Forget a client; the run's poll stops with its last client. */
  private detach(runId: string, feed: Feed, client: Client): void {
    feed.clients.delete(client);
    if (feed.clients.size === 0 && this.feeds.get(runId) === feed) {
      clearInterval(feed.timer);
      this.feeds.delete(runId);
    }
  }

  /** End the streams whose token is revoked or gone: one read of the tokens for all of them. */
  private async checkTokens(): Promise<void> {
    if (this.checkingTokens || this.feeds.size === 0) return;
    this.checkingTokens = true;
    try {
      const valid = new Set(
        (await this.store.access.listTokens()).filter((t) => t.revokedAt === null).map((t) => t.id),
      );
      for (const [runId, feed] of this.feeds) {
        for (const c of feed.clients) {
          if (valid.has(c.tokenId)) continue;
          this.detach(runId, feed, c);
          // A client that has not taken what was sent gets none of it now: cut, not ended (an
          // ended stream with a backlog would keep its socket, and deliver after the revoke).
          if (this.backlog(c) > 0) c.reply.raw.destroy();
          else c.reply.raw.end(": token revoked\n\n");
          this.log(`live stream of run ${runId} closed: token ${c.tokenId} was revoked`);
        }
      }
    } catch {
      // The store was unreachable for a moment: the next check decides.
    } finally {
      this.checkingTokens = false;
    }
  }

  private async poll(runId: string, feed: Feed): Promise<void> {
    if (feed.polling || feed.clients.size === 0) return;
    feed.polling = true;
    try {
      for (;;) {
        this.dropStalled(runId, feed);
        // Clients at the cap are not read for: they catch up from their own cursor later.
        let from = Number.POSITIVE_INFINITY;
        for (const c of feed.clients) if (this.hasRoom(c)) from = Math.min(from, c.cursor);
        if (!Number.isFinite(from)) return;
        const batch = await this.store.listEvents(runId, from, PAGE);
        if (batch.length > 0) this.send(feed, batch);
        if (batch.length < PAGE) return;
      }
    } catch {
      // The store was unreachable for a moment: the next tick tries again from the same cursors.
    } finally {
      feed.polling = false;
    }
  }

  private backlog(c: Client): number {
    return c.reply.raw.writableLength;
  }

  private hasRoom(c: Client): boolean {
    return this.backlog(c) < this.maxBacklog;
  }

  /** Drop the clients that have been at the cap for `stallMs`: they are not reading. */
  private dropStalled(runId: string, feed: Feed): void {
    const now = this.now();
    for (const c of feed.clients) {
      if (this.hasRoom(c)) {
        c.fullSince = undefined;
        continue;
      }
      c.fullSince ??= now;
      if (now - c.fullSince < this.stallMs) continue;
      const waiting = this.backlog(c);
      this.detach(runId, feed, c);
      c.reply.raw.destroy();
      this.log(
        `live stream of run ${runId} dropped: its client took nothing for ${now - c.fullSince} ms (${waiting} bytes waiting)`,
      );
    }
  }

  /** Each client with room gets the events after its cursor, until its backlog reaches the cap. */
  private send(feed: Feed, batch: EventRecord[]): void {
    for (const c of feed.clients) {
      const room = this.maxBacklog - this.backlog(c);
      if (room <= 0) continue;
      let chunk = "";
      for (const e of batch) {
        if (e.seq <= c.cursor) continue;
        chunk += `id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`;
        c.cursor = e.seq;
        this.sent++;
        if (chunk.length >= room) break;
      }
      if (chunk !== "") c.reply.raw.write(chunk);
    }
  }

  /** A comment to idle clients; one with a backlog is not idle and needs no more bytes. */
  private beat(): void {
    for (const f of this.feeds.values())
      for (const c of f.clients) if (this.backlog(c) === 0) c.reply.raw.write(": keep-alive\n\n");
  }

  close(): void {
    clearInterval(this.heartbeat);
    clearInterval(this.tokenCheck);
    for (const f of this.feeds.values()) {
      clearInterval(f.timer);
      for (const c of f.clients) c.reply.raw.end();
      f.clients.clear();
    }
    this.feeds.clear();
  }
}
