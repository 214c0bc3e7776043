/**
 * The Store conformance suite on SQLite: once through the prepared-statement hot path (the
 * default) and once through plain Kysely (the reference), on a real file in a temp directory.
 * Plus what only SQLite has: the file's pragmas, and a parent directory that does not exist yet.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../src/adapters/store-sql/index.js";
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
      expect(raw.prepare("select name from kysely_migration").pluck().all()).toEqual(["0001_initial"]);
      const fks = raw
        .prepare("select distinct \"table\" from pragma_foreign_key_list('attempts')")
        .pluck()
        .all();
      expect(fks).toEqual(["host_flows"]);
    } finally {
      raw.close();
    }
  });
});
