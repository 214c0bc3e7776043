/**
 * `overhaul serve`'s run log (`.overhaul/logs/RUN.jsonl`, under the service's working directory)
 * has the operators' actions on the run too, not only its coordinator's own events: a pause and a
 * resume through the API while the service drives the run are each logged once. Built CLI, real
 * SQLite file, local hosts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { startServe } from "../support/serve-cli.js";
import { openSse } from "../support/sse.js";

const dir = mkdtempSync(join(tmpdir(), "overhaul-serve-log-"));
const db = join(dir, "o.db");
const inventory = join(dir, "inventory.ini");
writeFileSync(inventory, "[web]\nweb0[1:2] overhaul_region=eu\n[all:vars]\nansible_connection=local\n");
const PLAN = `name: serve-log
hosts: web
concurrency: { global: 1 }
steps:
  - { name: nap, kind: command, run: "sleep 0.5", idempotent: true }
`;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("overhaul serve: the run's log", () => {
  it("has an operator's pause and resume through the API, once each", async () => {
    const made = await runCli(["--db", db, "token", "create", "--role", "operator", "--name", "ops"], {
      cwd: dir,
    });
    expect(made.code).toBe(0);
    const auth = { authorization: `Bearer ${made.stdout.trim()}` };
    const json = { ...auth, "content-type": "application/json" };
    const serve = await startServe(db, ["-i", inventory], dir, 15_000);
    try {
      const post = (path: string, body: unknown) =>
        fetch(`${serve.url}${path}`, { method: "POST", headers: json, body: JSON.stringify(body) });
      expect((await post("/api/plans", { body: PLAN })).status).toBe(201);
      const created = await post("/api/runs", { plan: "serve-log", revision: 1, limit: "web" });
      expect(created.status).toBe(201);
      const runId = ((await created.json()) as { id: string }).id;
      const live = await openSse(`${serve.url}/api/runs/${runId}/events/stream`, auth);
      try {
        await live.until((f) => f.data.type === "attempt.started", 15_000);
        expect((await post(`/api/runs/${runId}/pause`, { reason: "looking at web01" })).status).toBe(200);
        await live.until((f) => f.data.type === "attempt.succeeded", 15_000);
        expect((await post(`/api/runs/${runId}/resume`, {})).status).toBe(200);
        await live.until((f) => f.data.type === "run.succeeded", 15_000);
      } finally {
        live.close();
      }
      expect((await serve.stop()).code).toBe(0);
      const log = readFileSync(join(dir, ".overhaul/logs", `${runId}.jsonl`), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { msg: string; actor: string; reason?: string });
      expect(log.filter((l) => l.actor === "token:ops").map((l) => [l.msg, l.reason])).toEqual([
        ["run.paused", "looking at web01"],
        ["run.running", undefined],
      ]);
    } finally {
      await serve.stop();
    }
  }, 60_000);
});
