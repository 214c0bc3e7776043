/**
 * API tokens: minting, hashing, checking.
 *
 * Invariants:
 * - A token is `ovh_` + 32 random bytes (base64url): high entropy, so one SHA-256 is a sufficient
 *   hash (no slow KDF needed; it is not a password). Only the hash is stored; the secret is shown
 *   once, when it is created.
 * - Lookup is by hash; the stored hash is then compared in constant time, so the check never
 *   depends on how many leading characters of a guess were right.
 * - A revoked token authenticates nobody.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Role } from "../core/access/roles.js";
import type { AccessStore, TokenRecord } from "../ports/access.js";

export const TOKEN_PREFIX = "ovh_";

export function hashToken(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

export interface MintedToken {
  /** The secret: shown once, never stored. */
  secret: string;
  record: TokenRecord;
}

export function mintToken(input: { name: string; role: Role; createdBy: string; now: number }): MintedToken {
  const secret = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  return {
    secret,
    record: {
      id: `tok_${randomBytes(6).toString("hex")}`,
      name: input.name,
      role: input.role,
      hash: hashToken(secret),
      createdAt: input.now,
      createdBy: input.createdBy,
      revokedAt: null,
    },
  };
}

export type TokenCheck =
  | { ok: true; token: TokenRecord }
  | { ok: false; why: "missing" | "malformed" | "unknown" | "revoked" };

/** Check an `Authorization` header value against the stored tokens. */
export async function checkBearer(access: AccessStore, header: string | undefined): Promise<TokenCheck> {
  if (header === undefined || header === "") return { ok: false, why: "missing" };
  const m = /^Bearer ([A-Za-z0-9_-]{1,200})$/.exec(header);
  if (!m?.[1]) return { ok: false, why: "malformed" };
  const hash = hashToken(m[1]);
  const token = await access.getTokenByHash(hash);
  if (!token || !timingSafeEqual(Buffer.from(token.hash, "hex"), Buffer.from(hash, "hex"))) {
    return { ok: false, why: "unknown" };
  }
  if (token.revokedAt !== null) return { ok: false, why: "revoked" };
  return { ok: true, token };
}
