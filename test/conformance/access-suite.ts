/**
 * Conformance of the `AccessStore` port (tokens and audit log), run inside the Store suite for
 * every adapter (memory, SQLite, PostgreSQL). Tests share the database: every test uses its own
 * token names and hashes.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { NameTakenError } from "../../src/core/errors.js";
import type { TokenRecord } from "../../src/ports/access.js";
import type { Store } from "../../src/ports/store.js";

function token(role: TokenRecord["role"] = "viewer"): TokenRecord {
  const u = randomUUID();
  return {
    id: `tok_${u.slice(0, 12)}`,
    name: `name-${u}`,
    role,
    hash: `hash-${u}`,
    createdAt: 1_750_000_000_000,
    createdBy: "cli:test",
    revokedAt: null,
  };
}

export function describeAccessConformance(store: () => Store, openMore: () => Promise<Store>): void {
  describe("access: tokens and audit", () => {
    it("stores a token, finds it by hash only, and lists it", async () => {
      const t = token("operator");
      await store().access.createToken(t);
      expect(await store().access.getTokenByHash(t.hash)).toEqual(t);
      expect(await store().access.getTokenByHash(`${t.hash}x`)).toBeUndefined();
      expect(await store().access.getTokenByHash(t.id)).toBeUndefined();
      const listed = await store().access.listTokens();
      expect(listed).toContainEqual(t);
    });

    it("refuses a second token with the same name or hash", async () => {
      const t = token();
      await store().access.createToken(t);
      await expect(store().access.createToken({ ...token(), name: t.name })).rejects.toThrow();
      await expect(store().access.createToken({ ...token(), hash: t.hash })).rejects.toThrow();
    });

    it("of concurrent creates of one name exactly one succeeds; the others are NameTakenError", async () => {
      const name = token().name;
      const tries = await Promise.allSettled(
        Array.from({ length: 6 }, () => store().access.createToken({ ...token(), name })),
      );
      expect(tries.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      for (const r of tries) {
        if (r.status === "rejected") {
          expect(r.reason).toBeInstanceOf(NameTakenError);
          expect((r.reason as NameTakenError).message).toBe(`a token named "${name}" already exists`);
        }
      }
      expect((await store().access.listTokens()).filter((t) => t.name === name)).toHaveLength(1);
    });

    it("revokes by id or name, once; the row stays; unknown is undefined", async () => {
      const a = token();
      const b = token("admin");
      await store().access.createToken(a);
      await store().access.createToken(b);
      expect((await store().access.revokeToken(a.id, 10))?.revokedAt).toBe(10);
      expect((await store().access.revokeToken(a.id, 20))?.revokedAt).toBe(10);
      expect((await store().access.revokeToken(b.name, 30))?.revokedAt).toBe(30);
      expect(await store().access.revokeToken(`nope-${randomUUID()}`, 40)).toBeUndefined();
      // Visible from another connection to the same database.
      const other = await openMore();
      expect((await other.access.getTokenByHash(a.hash))?.revokedAt).toBe(10);
    });

    it("appends audit entries in order and pages by seq", async () => {
      const [last] = (await store().access.listAudit(0, 100_000)).slice(-1);
      const after = last?.seq ?? 0;
      const marker = randomUUID();
      for (let i = 0; i < 3; i++) {
        await store().access.appendAudit({
          at: 1_750_000_000_000 + i,
          actor: "token:ops",
          tokenId: "tok_1",
          role: "operator",
          remote: "127.0.0.1",
          action: "run.pause",
          target: `r-${i}`,
          status: i === 2 ? 403 : 200,
          outcome: i === 2 ? "denied" : "ok",
          detail: { marker, i, nested: { ok: true } },
        });
      }
      const mine = (await store().access.listAudit(after)).filter((a) => a.detail.marker === marker);
      expect(mine.map((a) => a.detail.i)).toEqual([0, 1, 2]);
      expect(mine[0]).toMatchObject({ actor: "token:ops", role: "operator", target: "r-0", outcome: "ok" });
      expect(mine[2]).toMatchObject({ status: 403, outcome: "denied", detail: { nested: { ok: true } } });
      expect(mine[0]!.seq).toBeLessThan(mine[1]!.seq);
      const page = await store().access.listAudit(mine[0]!.seq, 1);
      expect(page).toHaveLength(1);
      expect(page[0]!.seq).toBeGreaterThan(mine[0]!.seq);
    });
  });
}
