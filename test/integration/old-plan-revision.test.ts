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
// Stored by an earlier YAML reader that let a repeated key through (the last one won).
const DUP_PLAN = `name: old-dup
hosts: web
steps:
  - { name: nap, kind: sleep, duration: 1s, duration: 2s }
  - { name: check, kind: command, run: "true", idempotent: true }
`;

const runId = "r-20260101-000000-oldr";
const failedId = "r-20260101-000000-oldf";
const abortId = "r-20260101-000000-olda";
const dupId = "r-20260101-000000-oldd";
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
    // Two runs to abort: one paused between steps, one (its YAML no longer accepted at all) whose
    // host was at its second step.
    const paused = runRecord({ id: abortId, planName: rev.name, planRevision: rev.revision, createdAt: 3 });
    await store.createRun(
      { ...paused, state: "paused" },
      [
        hostFlowRecord({ runId: abortId, host: "web05", order: 0, state: "running", startedAt: 3, data: {} }),
        hostFlowRecord({ runId: abortId, host: "web06", order: 1, data: {} }),
      ],
      [],
    );
    const dup = await store.savePlanRevision({ name: "old-dup", hash: "dup", body: DUP_PLAN, createdAt: 4 });
    const dupRun = runRecord({ id: dupId, planName: dup.name, planRevision: dup.revision, createdAt: 4 });
    await store.createRun(
      { ...dupRun, state: "paused" },
      [
        hostFlowRecord({
          runId: dupId,
          host: "web07",
          order: 0,
          state: "running",
          startedAt: 4,
          stepIndex: 1,
          data: {},
        }),
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

  it("abort finishes it, as the refusal says: its hosts stop where they are and are free again", async () => {
    for (const [id, expected] of [
      [abortId, { web05: "not started", web06: "not started" }],
      [dupId, { web07: "after nap" }],
    ] as const) {
      const r = await runCli(["--db", db, "abort", id], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      const s = await runCli(["--db", db, "status", id, "--json"], { cwd: dir });
      const status = JSON.parse(s.stdout) as {
        run: { state: string };
        hosts: { host: string; state: string; step: string | null; after?: string | null }[];
      };
      expect(status.run.state).toBe("aborted");
      for (const h of status.hosts) expect(h.state, h.host).toBe("aborted");
      const store = await openSqliteStore(db);
      try {
        for (const [host, where] of Object.entries(expected)) {
          const events = await store.listEvents(id);
          const aborted = events.find((e) => e.host === host && e.type === "host.aborted");
          const at = aborted?.data as { step: string | null; after: string | null } | undefined;
          expect(
            at === undefined
              ? undefined
              : at.step !== null
                ? `step ${at.step}`
                : at.after !== null
                  ? `after ${at.after}`
                  : "not started",
            host,
          ).toBe(where);
        }
      } finally {
        await store.close();
      }
    }
  });
});
