/**
 * The `AccessStore` port over Kysely (SQLite and PostgreSQL): API tokens and the audit log.
 *
 * Invariants (see the port): secrets are never stored, only their hash; the audit log is
 * append-only; a token's name is unique by the table's constraint, so a taken one is a
 * NameTakenError also under concurrent creates; every write is one statement, run through the
 * store's write path (on SQLite under the file's gate, so it never interleaves with a
 * coordinator's transaction of this process).
 */
import type { Kysely, Selectable } from "kysely";
import { isRole } from "../../core/access/roles.js";
import { NameTakenError, OverhaulError } from "../../core/errors.js";
import type { AccessStore, AuditRecord, NewAudit, TokenRecord } from "../../ports/access.js";
import { json } from "./rows.js";
import type { ApiTokensTable, AuditLogTable, DB } from "./schema.js";

function toToken(r: Selectable<ApiTokensTable>): TokenRecord {
  if (!isRole(r.role)) throw new Error(`token ${r.id} has an unknown role "${r.role}"`);
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    hash: r.hash,
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
  };
}

function toAudit(r: Selectable<AuditLogTable>): AuditRecord {
  return {
    seq: Number(r.seq),
    at: Number(r.at),
    actor: r.actor,
    tokenId: r.token_id,
    role: isRole(r.role) ? r.role : null,
    remote: r.remote,
    action: r.action,
    target: r.target,
    status: r.status,
    outcome: r.outcome as AuditRecord["outcome"],
    detail: JSON.parse(r.detail) as Record<string, unknown>,
  };
}

export class SqlAccessStore implements AccessStore {
  constructor(
    private readonly db: Kysely<DB>,
    /** Runs a write exclusively (SQLite: under the file's gate). */
    private readonly exclusive: <T>(fn: () => Promise<T>) => Promise<T>,
  ) {}

  async createToken(t: TokenRecord): Promise<void> {
    // One statement that the database's unique constraints decide (not a check before the insert,
    // which two concurrent creates would both pass): a taken name inserts nothing.
    const inserted = await this.exclusive(() =>
      this.db
        .insertInto("api_tokens")
        .values({
          id: t.id,
          name: t.name,
          role: t.role,
          hash: t.hash,
          created_at: t.createdAt,
          created_by: t.createdBy,
          revoked_at: t.revokedAt,
        })
        .onConflict((oc) => oc.doNothing())
        .returning("id")
        .executeTakeFirst(),
    );
    if (inserted) return;
    // Rows are never deleted, so the row that won is still there to say which value collided.
    const named = await this.db
      .selectFrom("api_tokens")
      .select("id")
      .where("name", "=", t.name)
      .executeTakeFirst();
    if (named) throw new NameTakenError("token", t.name);
    throw new OverhaulError(`token ${t.id} was not stored: its id or hash is already taken`);
  }

  async getTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const r = await this.db.selectFrom("api_tokens").selectAll().where("hash", "=", hash).executeTakeFirst();
    return r ? toToken(r) : undefined;
  }

  async listTokens(): Promise<TokenRecord[]> {
    const rows = await this.db
      .selectFrom("api_tokens")
      .selectAll()
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(toToken);
  }

  async revokeToken(idOrName: string, at: number): Promise<TokenRecord | undefined> {
    await this.exclusive(() =>
      this.db
        .updateTable("api_tokens")
        .set({ revoked_at: at })
        .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
        .where("revoked_at", "is", null)
        .execute(),
    );
    const r = await this.db
      .selectFrom("api_tokens")
      .selectAll()
      .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
      .executeTakeFirst();
    return r ? toToken(r) : undefined;
  }

  async appendAudit(e: NewAudit): Promise<void> {
    await this.exclusive(() =>
      this.db
        .insertInto("audit_log")
        .values({
          at: e.at,
          actor: e.actor,
          token_id: e.tokenId,
          role: e.role,
          remote: e.remote,
          action: e.action,
          target: e.target,
          status: e.status,
          outcome: e.outcome,
          detail: json(e.detail),
        })
        .execute(),
    );
  }

  async listAudit(afterSeq = 0, limit = 1000): Promise<AuditRecord[]> {
    const rows = await this.db
      .selectFrom("audit_log")
      .selectAll()
      .where("seq", ">", afterSeq)
      .orderBy("seq")
      .limit(limit)
      .execute();
    return rows.map(toAudit);
  }
}
