/**
 * The `AccessStore` port: API tokens and the audit log of the coordinator service.
 *
 * Invariants every adapter keeps (test/conformance/store-suite.ts):
 * - A token is stored only as the hash of its secret; the secret itself is never stored.
 * - `hash` and `name` are unique; a revoked token keeps its row (revokedAt set) so the audit log still names it.
 *   `createToken` of a taken name throws NameTakenError, decided by the store itself (atomic), so of
 *   two concurrent creates of one name exactly one succeeds.
 * - `revokeToken` is idempotent on an already revoked token and returns false for an unknown id.
 * - The audit log is append-only; `seq` increases with every entry; `listAudit` is oldest first.
 * - Times are epoch milliseconds supplied by the caller.
 */
import type { Role } from "../core/access/roles.js";

export interface TokenRecord {
  /** Public id (`tok_…`), printed in lists and written in the audit log. */
  id: string;
  name: string;
  role: Role;
  /** SHA-256 (hex) of the token's secret. */
  hash: string;
  createdAt: number;
  createdBy: string;
  revokedAt: number | null;
}

/** `requested`: written before the action by a service in strict audit mode (status 0); its outcome follows. */
export type AuditOutcome = "requested" | "ok" | "denied" | "failed";

export interface AuditRecord {
  seq: number;
  at: number;
  /** Token name (`token:NAME`), `cli:USER` for local commands, or `anonymous`. */
  actor: string;
  tokenId: string | null;
  role: Role | null;
  /** Remote address of the request, `local` for the CLI. */
  remote: string;
  /** What was asked, e.g. `run.pause`. */
  action: string;
  /** What it was asked of: a run id, `run/host`, a token id. */
  target: string | null;
  /** HTTP status of the answer (0 for the CLI). */
  status: number;
  outcome: AuditOutcome;
  detail: Record<string, unknown>;
}

export type NewAudit = Omit<AuditRecord, "seq">;

export interface AccessStore {
  createToken(token: TokenRecord): Promise<void>;
  getTokenByHash(hash: string): Promise<TokenRecord | undefined>;
  /** Oldest first, revoked ones included. */
  listTokens(): Promise<TokenRecord[]>;
  /** Revoke by id or name; undefined when no such token. Already revoked: returned unchanged. */
  revokeToken(idOrName: string, at: number): Promise<TokenRecord | undefined>;
  appendAudit(entry: NewAudit): Promise<void>;
  /** Entries with seq > afterSeq, oldest first. */
  listAudit(afterSeq?: number, limit?: number): Promise<AuditRecord[]>;
}
