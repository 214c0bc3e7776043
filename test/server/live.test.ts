/**
 * Live event streams over real HTTP on a real SQLite store, where the server ends a stream: its
 * token was revoked (within the token check interval; cut at once when its client has bytes it has
 * not taken), or its client reads nothing (what waits for it stays under the cap until it is
 * dropped); other streams are untouched either way.
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.js";
import { openSse } from "../support/sse.js";

const CAP = 64 * 1024;
let t: TestServer;
const notices: string[] = [];
beforeAll(async () => {
  t = await startTestServer({
    streamTokenCheckMs: 200,
    streamMaxBacklogBytes: CAP,
    streamStallMs: 500,
    log: (line) => notices.push(line),
  });
});
afterAll(async () => {
  await t?.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function call(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${t.url}${path}`, {
    method,
    headers: { ...bearer(token), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** "ended" when the promise settles within `ms`, "open" otherwise. */
async function within(p: Promise<unknown>, ms: number): Promise<"ended" | "open"> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"open">((r) => {
    timer = setTimeout(() => r("open"), ms);
  });
  try {
    return await Promise.race([p.then(() => "ended" as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A run `runId` of `n` events of ~50 kB each (the last typed `big.last`), stored in `server`'s store. */
async function bigRun(server: TestServer, runId: string, n: number): Promise<void> {
  const filler = "x".repeat(50_000);
  const events = Array.from({ length: n }, (_, i) => ({
    runId,
    host: null,
    at: server.run.createdAt + i,
    type: i === n - 1 ? "big.last" : "big.filler",
    actor: "test",
    data: { i, filler },
  }));
  await server.store.createRun({ ...server.run, id: runId }, [], events);
}

/** A raw HTTP client that asks for the run's live stream with `token` and then never reads a byte. */
async function stuckClient(server: TestServer, runId: string, token: string): Promise<Socket> {
  const stuck = connect(Number(new URL(server.url).port), "127.0.0.1");
  stuck.on("error", () => {});
  await new Promise<void>((r) => stuck.once("connect", () => r()));
  stuck.write(
    `GET /api/runs/${runId}/events/stream HTTP/1.1\r\nhost: 127.0.0.1\r\n` +
      `authorization: Bearer ${token}\r\naccept: text/event-stream\r\n\r\n`,
  );
  return stuck;
}

describe("live streams", () => {
  it("a stream ends soon after its token is revoked; a stream of another token carries on", async () => {
    const made = await call("POST", "/api/tokens", t.tokens.admin, { name: "watcher", role: "viewer" });
    expect(made.status).toBe(201);
    const url = `${t.url}/api/runs/${t.run.id}/events/stream`;
    const doomed = await openSse(url, bearer(String(made.body.token)));
    const other = await openSse(url, bearer(t.tokens.viewer));
    try {
      await doomed.until((f) => f.data.type === "run.created");
      await other.until((f) => f.data.type === "run.created");
      expect(await within(doomed.ended, 500)).toBe("open");

      expect((await call("DELETE", "/api/tokens/watcher", t.tokens.admin)).status).toBe(200);
      expect(await within(doomed.ended, 2000)).toBe("ended");
      expect(notices).toContainEqual(
        `live stream of run ${t.run.id} closed: token ${String(made.body.id)} was revoked`,
      );

      // The other client is untouched: still attached and still fed.
      expect(t.server.live.clients).toBe(1);
      expect((await call("POST", `/api/runs/${t.run.id}/pause`, t.tokens.operator)).status).toBe(200);
      await other.until((f) => f.data.type === "run.paused");
      expect(doomed.frames.map((f) => f.data.type)).not.toContain("run.paused");
      // And the revoked token cannot open it again.
      const again = await fetch(url, { headers: bearer(String(made.body.token)) });
      expect(again.status).toBe(401);
      await again.arrayBuffer();
    } finally {
      doomed.close();
      other.close();
    }
  });

  it("a client that never reads has at most the cap (plus one event) waiting, then is dropped; a reader gets everything", async () => {
    // About 16 MB of events: far more than the loopback socket buffers of a client that reads nothing.
    const runId = "r-big-stream";
    const filler = 50_000;
    await bigRun(t, runId, 320);
    const url = `${t.url}/api/runs/${runId}/events/stream`;

    const sockets: Socket[] = [];
    const onConnection = (s: Socket) => sockets.push(s);
    t.server.app.server.on("connection", onConnection);
    let most = 0;
    const sampler = setInterval(() => {
      for (const s of sockets) most = Math.max(most, s.writableLength);
    }, 5);
    const stuck = await stuckClient(t, runId, t.tokens.viewer);
    try {
      const reader = await openSse(url, bearer(t.tokens.viewer));
      try {
        await reader.until((f) => f.data.type === "big.last", 60_000);
        expect(reader.frames.map((f) => f.id)).toEqual(
          [...new Array(320).keys()].map((i) => reader.frames[0]!.id + i),
        );
        const deadline = Date.now() + 10_000;
        while (t.server.live.clients > 1 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 50));
        expect(t.server.live.clients).toBe(1);
        expect(notices.some((n) => n.startsWith(`live stream of run ${runId} dropped:`))).toBe(true);
        expect(most).toBeGreaterThan(0);
        expect(most).toBeLessThan(CAP + 2 * filler);
      } finally {
        reader.close();
      }
    } finally {
      clearInterval(sampler);
      t.server.app.server.off("connection", onConnection);
      stuck.destroy();
    }
  });
  it("a revoked token's stream whose client reads nothing is cut at once, its backlog with it", async () => {
    // Its own service: the stall rule (above) must not be what ends this client.
    const lines: string[] = [];
    const u = await startTestServer({
      streamTokenCheckMs: 200,
      streamMaxBacklogBytes: CAP,
      streamStallMs: 600_000,
      log: (line) => lines.push(line),
    });
    const runId = "r-revoked-stuck";
    await bigRun(u, runId, 200);
    const made = await fetch(`${u.url}/api/tokens`, {
      method: "POST",
      headers: { ...bearer(u.tokens.admin), "content-type": "application/json" },
      body: JSON.stringify({ name: "lurker", role: "viewer" }),
    });
    const secret = ((await made.json()) as { token: string }).token;
    const sockets: Socket[] = [];
    u.server.app.server.on("connection", (s: Socket) => sockets.push(s));
    const stuck = await stuckClient(u, runId, secret);
    try {
      // Wait until the service holds bytes for it that it does not take.
      const deadline = Date.now() + 10_000;
      while (!sockets.some((s) => s.writableLength > 0) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      const server = sockets.find((s) => s.writableLength > 0);
      expect(server).toBeDefined();
      const closed = new Promise<void>((r) => server?.once("close", () => r()));
      const revoke = await fetch(`${u.url}/api/tokens/lurker`, {
        method: "DELETE",
        headers: bearer(u.tokens.admin),
      });
      expect(revoke.status).toBe(200);
      expect(await within(closed, 2000)).toBe("ended");
      expect(lines.some((l) => l.includes("was revoked"))).toBe(true);
    } finally {
      stuck.destroy();
      await u.close();
    }
  });
});
