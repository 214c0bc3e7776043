/**
 * Live event streams over real HTTP on a real SQLite store, where the server ends a stream: its
 * token was revoked (within the token check interval, other streams untouched).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.js";
import { openSse } from "../support/sse.js";

let t: TestServer;
const notices: string[] = [];
beforeAll(async () => {
  t = await startTestServer({ streamTokenCheckMs: 200, log: (line) => notices.push(line) });
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
});
