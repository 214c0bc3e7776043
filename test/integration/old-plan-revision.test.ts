/**
 * A run whose pinned plan revision an earlier version stored and this one no longer accepts (here
 * a polling interval under 1s, which plans may no longer name): it can still be looked at
 * (`status`, `report`), and `resume` refuses it with the reason and what to do, rather than
 * reinterpreting the plan or failing with a bare validation error.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../src/adapters/store-sql/index.js";
import { runCli } from "../support/cli.js";
import { hostFlowRecord, runRecord } from "../support/records.js";

const OLD_PLAN = `name: old-poll
hosts: web
steps:
  - { name: wait, kind: gate, run: "true", interval: 250ms }
`;

const dir = mkdtempSync(join(tmpdir(), "overhaul-old-rev-"));
const db = join(dir, "o.db");
const runId = "r-20260101-000000-oldr";
const failedId = "r-20260101-000000-oldf";
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  const store = await openSqliteStore(db);
  try {
    const rev = await store.savePlanRevision({ name: "old-poll", hash: "old", body: OLD_PLAN, createdAt: 1 });
    const run = runRecord({ id: runId, planName: rev.name, planRevision: rev.revision, createdAt: 1 });
    await store.createRun(
      run,
      [
        hostFlowRecord({
          runId,
          host: "web01",
          order: 0,
          data: { address: "web01", connection: "local", region: "eu", failureDomains: {}, vars: {} },
        }),
      ],
      [{ runId, host: null, at: 1, type: "run.created", actor: "test", data: {} }],
    );
    // A failed run of the same revision: web03 failed, web04 never started.
    const failed = runRecord({ id: failedId, planName: rev.name, planRevision: rev.revision, createdAt: 2 });
    await store.createRun(
      { ...failed, state: "failed", reason: "failure budget exceeded" },
      [
        hostFlowRecord({ runId: failedId, host: "web03", order: 0, state: "failed", data: {} }),
        hostFlowRecord({ runId: failedId, host: "web04", order: 1, data: {} }),
      ],
      [],
    );
  } finally {
    await store.close();
  }
});

describe("a run pinned to a plan revision this version no longer accepts", () => {
  it("status and report still show it", async () => {
    const s = await runCli(["--db", db, "status", runId, "--json"], { cwd: dir });
    expect(s.code, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout).run).toMatchObject({ id: runId, plan: "old-poll" });
    const r = await runCli(["--db", db, "report", runId, "--format", "json"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
  });

  it("a skip there is done and answered as done; the run is not driven again", async () => {
    const r = await runCli(["--db", db, "skip", "web03", "--run", failedId], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(`${r.stdout}${r.stderr}`).toContain("no longer validates");
    const store = await openSqliteStore(db);
    try {
      expect((await store.getHost(failedId, "web03"))?.state).toBe("skipped");
      expect((await store.getRun(failedId))?.state).toBe("failed");
    } finally {
      await store.close();
    }
  });

  it("resume refuses it, saying why and what to do", async () => {
    const r = await runCli(["--db", db, "resume", runId], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/old-poll@1.*interval.*at least 1s/s);
    expect(r.stderr).toContain(
      "the plan revision this run pins no longer validates: finish the run with the version that started it, or abort it",
    );
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  });
});
