/**
 * An audit log that cannot be written: the action (or refusal) is answered as it happened, never
 * as a 500 the client would retry, and the service says so loudly on its log.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
const lines: string[] = [];
beforeAll(async () => {
  t = await startTestServer({ log: (line) => lines.push(line) });
  t.store.access.appendAudit = async () => {
    throw new Error("disk full");
  };
});
afterAll(async () => {
  await t.close();
});

const post = (path: string, role: "viewer" | "operator") =>
  fetch(`${t.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${t.tokens[role]}`, "content-type": "application/json" },
    body: "{}",
  });

describe("an audit log that cannot be written", () => {
  it("answers the action that happened as it happened, and logs the failed audit write", async () => {
    const res = await post(`/api/runs/${t.run.id}/pause`, "operator");
    expect(res.status).toBe(200);
    expect(((await res.json()) as { state: string }).state).toBe("paused");
    expect((await t.store.getRun(t.run.id))?.state).toBe("paused");
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^AUDIT LOG WRITE FAILED: run\.pause on r-\S+ by token:t-operator from 127\.0\.0\.1 \(status 200\): disk full$/,
      ),
    );
  });

  it("answers a refusal as the refusal (403), not a 500", async () => {
    const res = await post(`/api/runs/${t.run.id}/resume`, "viewer");
    expect(res.status).toBe(403);
    expect(lines.some((l) => l.includes("run.resume") && l.includes("(status 403)"))).toBe(true);
  });
});
