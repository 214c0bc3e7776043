/**
 * `serve --audit-mode strict`: an action is written to the audit log (`requested`) before it is
 * done, and refused with 503 (nothing done) when that entry cannot be written; its outcome follows
 * as usual. Requests refused anyway (401/403/400) are not held up by it. Best-effort (the default)
 * is covered by audit-failure.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { auditMode } from "../../src/cli/commands/serve.js";
import { InputError } from "../../src/core/errors.js";
import type { AuditRecord } from "../../src/ports/access.js";
import { startTestServer, type TestServer } from "../support/server.js";

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

function post(server: TestServer, path: string, role: "viewer" | "operator", body = "{}") {
  return fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.tokens[role]}`, "content-type": "application/json" },
    body,
  });
}

async function pauses(server: TestServer): Promise<Pick<AuditRecord, "status" | "outcome">[]> {
  const all = await server.store.access.listAudit(0, 1000);
  return all.filter((a) => a.action === "run.pause").map((a) => ({ status: a.status, outcome: a.outcome }));
}

describe("serve --audit-mode strict", () => {
  it("writes the action as requested before doing it, then its outcome", async () => {
    t = await startTestServer({}, { auditMode: "strict" });
    const res = await post(t, `/api/runs/${t.run.id}/pause`, "operator");
    expect(res.status).toBe(200);
    expect(await pauses(t)).toEqual([
      { status: 0, outcome: "requested" },
      { status: 200, outcome: "ok" },
    ]);
  });

  it("refuses the action (503, nothing done) when its entry cannot be written", async () => {
    const lines: string[] = [];
    t = await startTestServer({ log: (l) => lines.push(l) }, { auditMode: "strict" });
    const store = t.store;
    const append = store.access.appendAudit.bind(store.access);
    store.access.appendAudit = async () => {
      throw new Error("disk full");
    };
    const res = await post(t, `/api/runs/${t.run.id}/pause`, "operator");
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toMatch(
      /audit log cannot be written.*--audit-mode strict: nothing was done \(disk full\)/,
    );
    expect((await store.getRun(t.run.id))?.state).not.toBe("paused");
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^AUDIT LOG WRITE FAILED: run\.pause on r-\S+ by token:t-operator from 127\.0\.0\.1 \(refused: strict audit mode\): disk full$/,
      ),
    );
    // Once the log can be written again, the same request goes through.
    store.access.appendAudit = append;
    const again = await post(t, `/api/runs/${t.run.id}/pause`, "operator");
    expect(again.status).toBe(200);
    expect((await store.getRun(t.run.id))?.state).toBe("paused");
  });

  it("does not hold up requests refused anyway (403, 400): their entry only, no 'requested'", async () => {
    t = await startTestServer({}, { auditMode: "strict" });
    expect((await post(t, `/api/runs/${t.run.id}/pause`, "viewer")).status).toBe(403);
    expect((await post(t, `/api/runs/${t.run.id}/pause`, "operator", '{"reason": 5}')).status).toBe(400);
    expect(await pauses(t)).toEqual([
      { status: 403, outcome: "denied" },
      { status: 400, outcome: "failed" },
    ]);
  });

  it("best-effort (the default) writes no 'requested' entry", async () => {
    t = await startTestServer();
    expect((await post(t, `/api/runs/${t.run.id}/pause`, "operator")).status).toBe(200);
    expect(await pauses(t)).toEqual([{ status: 200, outcome: "ok" }]);
  });

  it("--audit-mode takes best-effort or strict, and names anything else", () => {
    expect(auditMode(undefined)).toBe("best-effort");
    expect(auditMode("strict")).toBe("strict");
    let err: unknown;
    try {
      auditMode("blocking");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).problems[0]).toMatchObject({
      path: "--audit-mode",
      expected: expect.stringContaining("best-effort or strict"),
    });
  });
});
