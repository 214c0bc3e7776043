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
 *   through the API or `overhaul token revoke` in another process closes it within that time. A
 *   failing read closes nothing (the next check decides); other clients are never touched.
 */
import type { FastifyReply } from "fastify";
import type { EventRecord, Store } from "../ports/store.js";

interface Client {
  cursor: number;
  reply: FastifyReply;
  /** The token the stream was opened with. */
  tokenId: string;
}

export interface LiveOptions {
  /** How often each watched run's events are read (ms). */
  pollMs?: number;
  /** How often the tokens of open streams are checked for revocation (ms). */
  tokenCheckMs?: number;
  /** Where a stream ended by the server is reported (one line, no newline). */
  log?: (line: string) => void;
}

interface Feed {
  clients: Set<Client>;
  timer: NodeJS.Timeout;
  polling: boolean;
}

const PAGE = 1000;
const HEARTBEAT_MS = 15_000;
export const TOKEN_CHECK_MS = 2000;

export class LiveEvents {
  private readonly feeds = new Map<string, Feed>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly tokenCheck: NodeJS.Timeout;
  private checkingTokens = false;
  private readonly pollMs: number;
  private readonly log: (line: string) => void;
  /** Events written to clients since start (for the bench and metrics). */
  sent = 0;

  constructor(
    private readonly store: Store,
    opts: LiveOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 250;
    this.log = opts.log ?? (() => {});
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
          c.reply.raw.end(": token revoked\n\n");
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
        let from = Number.POSITIVE_INFINITY;
        for (const c of feed.clients) from = Math.min(from, c.cursor);
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

  private send(feed: Feed, batch: EventRecord[]): void {
    for (const c of feed.clients) {
      let chunk = "";
      for (const e of batch) {
        if (e.seq <= c.cursor) continue;
        chunk += `id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`;
        c.cursor = e.seq;
        this.sent++;
      }
      if (chunk !== "") c.reply.raw.write(chunk);
    }
  }

  private beat(): void {
    for (const f of this.feeds.values()) for (const c of f.clients) c.reply.raw.write(": keep-alive\n\n");
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
