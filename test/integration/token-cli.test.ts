/**
 * `overhaul token create|list|revoke` through the built CLI on a real SQLite file: the secret is
 * printed once and only its hash is stored; bad roles and names are exit 2 with the flag's path;
 * revoking works by id or name and is audited.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../src/adapters/store-sql/index.js";
import { hashToken } from "../../src/server/tokens.js";
import { runCli } from "../support/cli.js";

const dir = mkdtempSync(join(tmpdir(), "overhaul-token-"));
const db = join(dir, "o.db");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("overhaul token", () => {
  it("creates a token shown once, stores only its hash, lists and revokes it", async () => {
    const made = await runCli(["--db", db, "token", "create", "--role", "operator", "--name", "alice"]);
    expect(made.code).toBe(0);
    const secret = made.stdout.trim();
    expect(secret).toMatch(/^ovh_[A-Za-z0-9_-]{43}$/);
    expect(made.stderr).toMatch(/only time it is shown/);
    // The database file holds the hash, never the secret.
    const wal = existsSync(`${db}-wal`) ? readFileSync(`${db}-wal`).toString("latin1") : "";
    const bytes = readFileSync(db).toString("latin1") + wal;
    expect(bytes.includes(hashToken(secret))).toBe(true);
    expect(bytes.includes(secret)).toBe(false);
    const store = await openSqliteStore(db);
    try {
      const t = await store.access.getTokenByHash(hashToken(secret));
      expect(t).toMatchObject({ name: "alice", role: "operator", revokedAt: null });
    } finally {
      await store.close();
    }

    const list = await runCli(["--db", db, "token", "list", "--json"]);
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout) as { id: string; name: string; role: string; revokedAt: null }[];
    expect(rows).toEqual([expect.objectContaining({ name: "alice", role: "operator", revokedAt: null })]);
    expect(list.stdout.includes(secret)).toBe(false);

    const dup = await runCli(["--db", db, "token", "create", "--role", "viewer", "--name", "alice"]);
    expect(dup.code).toBe(2);
    expect(dup.stderr).toMatch(/--name: a token named "alice" already exists/);

    const rev = await runCli(["--db", db, "token", "revoke", rows[0]!.id]);
    expect(rev.code).toBe(0);
    expect(rev.stdout).toMatch(/revoked/);
    const after = JSON.parse((await runCli(["--db", db, "token", "list", "--json"])).stdout);
    expect(after[0].revokedAt).toMatch(/^\d{4}-/);

    const audit = await openSqliteStore(db);
    try {
      const entries = await audit.access.listAudit();
      expect(entries.map((e) => e.action)).toEqual(["token.create", "token.revoke"]);
      expect(entries[0]).toMatchObject({ remote: "local", outcome: "ok", target: rows[0]!.id });
    } finally {
      await audit.close();
    }
  });

  it("rejects a bad role and a bad name with their flags, and an unknown token", async () => {
    const bad = await runCli(["--db", db, "token", "create", "--role", "root", "--name", "-x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--role: "root" is not a role \(expected viewer, operator, admin\)/);
    expect(bad.stderr).toMatch(/--name: "-x" is not a token name/);
    // A name that reads like a token id would make "revoke by id or name" name two tokens.
    const idLike = await runCli(["--db", db, "token", "create", "--role", "viewer", "--name", "tok_1a2b3c"]);
    expect(idLike.code).toBe(2);
    expect(idLike.stderr).toMatch(/--name: "tok_1a2b3c" is not a token name \(expected .*not starting tok_/);
    const unknown = await runCli(["--db", db, "token", "revoke", "nobody"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no token with id or name "nobody"/);
  });
  it("an audit entry that cannot be written loses nothing: the token is made (its secret shown) or revoked, and stderr says so", async () => {
    const fresh = join(dir, "audit-broken.db");
    expect((await runCli(["--db", fresh, "token", "list"])).code).toBe(0);
    const raw = new Database(fresh);
    raw.exec(
      "CREATE TRIGGER audit_full BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit disk full'); END;",
    );
    raw.close();
    const made = await runCli(["--db", fresh, "token", "create", "--role", "viewer", "--name", "bob"]);
    expect(made.code, made.stderr).toBe(0);
    const secret = made.stdout.trim();
    expect(secret).toMatch(/^ovh_/);
    expect(made.stderr).toMatch(
      /^overhaul: AUDIT LOG WRITE FAILED: token\.create on tok_\S+ by cli:\S+ from local: audit disk full \(the change itself was made\)$/m,
    );
    const gone = await runCli(["--db", fresh, "token", "revoke", "bob"]);
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stderr).toMatch(/AUDIT LOG WRITE FAILED: token\.revoke on tok_/);
    const store = await openSqliteStore(fresh);
    try {
      expect((await store.access.getTokenByHash(hashToken(secret)))?.revokedAt).not.toBeNull();
    } finally {
      await store.close();
    }
  });
});
