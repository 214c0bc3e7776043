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
 */
import type { FastifyReply } from "fastify";
import type { EventRecord, Store } from "../ports/store.js";

interface Client {
  cursor: number;
  reply: FastifyReply;
}

interface Feed {
  clients: Set<Client>;
  timer: NodeJS.Timeout;
  polling: boolean;
}

const PAGE = 1000;
const HEARTBEAT_MS = 15_000;

export class LiveEvents {
  private readonly feeds = new Map<string, Feed>();
  private readonly heartbeat: NodeJS.Timeout;
  /** Events written to clients since start (for the bench and metrics). */
  sent = 0;

  constructor(
    private readonly store: Store,
    private readonly pollMs = 250,
  ) {
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  get clients(): number {
    let n = 0;
    for (const f of this.feeds.values()) n += f.clients.size;
    return n;
  }

  attach(runId: string, after: number, reply: FastifyReply): void {
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
    const client: Client = { cursor: after, reply };
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
    raw.on("close", () => {
      f.clients.delete(client);
      if (f.clients.size === 0 && this.feeds.get(runId) === f) {
        clearInterval(f.timer);
        this.feeds.delete(runId);
      }
    });
    void this.poll(runId, f);
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
    for (const f of this.feeds.values()) {
      clearInterval(f.timer);
      for (const c of f.clients) c.reply.raw.end();
      f.clients.clear();
    }
    this.feeds.clear();
  }
}
