/**
 * The Store conformance suite on SQLite: once through the prepared-statement hot path (the
 * default) and once through plain Kysely (the reference), on a real file in a temp directory.
 * Plus what only SQLite has: the file's pragmas, a parent directory that does not exist yet, and
 * several processes opening a new file at the same moment (`overhaul run` and `overhaul status`).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../src/adapters/store-sql/index.js";
import { hostFlowRecord, runRecord } from "../support/records.js";
import { describeStoreConformance } from "./store-suite.js";

const dir = mkdtempSync(join(tmpdir(), "overhaul-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStoreConformance("SQLite (prepared hot path)", () =>
  openSqliteStore(join(dir, "hot", "overhaul.db")),
);
describeStoreConformance("SQLite (Kysely only)", () =>
  openSqliteStore(join(dir, "kysely", "overhaul.db"), { preparedHotPath: false }),
);

describe("SQLite specifics", () => {
  it("creates missing parent directories and leaves the file in WAL mode with foreign keys", async () => {
    const file = join(dir, "a", "b", "c", "x.db");
    const store = await openSqliteStore(file);
    await store.close();
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(raw.prepare("select name from kysely_migration").pluck().all()).toEqual([
        "0001_initial",
        "0002_access",
        "0003_lease_holders",
      ]);
      const fks = raw
        .prepare("select distinct \"table\" from pragma_foreign_key_list('attempts')")
        .pluck()
        .all();
      expect(fks).toEqual(["host_flows"]);
    } finally {
      raw.close();
    }
  });

  it("a lease granted before lease holders existed (no holder row) expires at its own row's expiry", async () => {
    const file = join(dir, "legacy", "overhaul.db");
    const store = await openSqliteStore(file);
    try {
      const now = 1_000_000;
      await store.savePlanRevision({ name: "p", hash: "h", body: "b", createdAt: now });
      await store.createRun(
        runRecord({ id: "r1", createdAt: now }),
        [hostFlowRecord({ runId: "r1", host: "h1", order: 0 })],
        [],
      );
      await store.acquireLeases("r1", "A", now, 30_000);
      // What a database written before migration 0003 looks like: the row's expiry only.
      const raw = new Database(file);
      raw.prepare("delete from lease_holders").run();
      raw.close();
      expect((await store.getHost("r1", "h1"))?.leaseExpiresAt).toBe(now + 30_000);
      expect(await store.acquireLeases("r1", "B", now + 29_999, 30_000)).toEqual([]);
      expect((await store.acquireLeases("r1", "B", now + 30_000, 30_000)).map((h) => h.leaseToken)).toEqual([
        2,
      ]);
    } finally {
      await store.close();
    }
  });

  it("processes opening a new file at the same moment all migrate it, once", async () => {
    // Separate processes, not stores in this one: in-process stores share a write gate.
    const file = join(dir, "race", "overhaul.db");
    const mod = pathToFileURL(join(import.meta.dirname, "../../dist/adapters/store-sql/index.js")).href;
    // Each process loads first, then waits for a shared start time, so the opens really overlap.
    const script = (at: number) => `const { openSqliteStore } = await import(${JSON.stringify(mod)});
      await new Promise((r) => setTimeout(r, ${at} - Date.now()));
      const s = await openSqliteStore(${JSON.stringify(file)});
      await s.close();`;
    const run = promisify(execFile);
    for (let round = 0; round < 3; round++) {
      rmSync(join(dir, "race"), { recursive: true, force: true });
      const at = Date.now() + 1_500;
      const all = await Promise.allSettled(
        Array.from({ length: 6 }, () => run(process.execPath, ["--input-type=module", "-e", script(at)])),
      );
      const failures = all.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : []));
      expect(failures).toEqual([]);
      const raw = new Database(file, { readonly: true });
      try {
        expect(raw.prepare("select name from kysely_migration").pluck().all()).toEqual([
          "0001_initial",
          "0002_access",
          "0003_lease_holders",
        ]);
      } finally {
        raw.close();
      }
    }
  });
});
