/**
 * Roles of API tokens and what each may do (pure).
 *
 * Invariants:
 * - Roles are ordered: viewer < operator < admin; a role may do everything a lower one may.
 * - `viewer` reads; `operator` starts, pauses, resumes, retries and skips; `admin` also manages
 *   tokens, reads the audit log and runs destructive operations (abort).
 * - A token's name can never be read as a token's id (ids are `tok_...`): revoking "by id or name"
 *   then names exactly one token.
 */
export const ROLES = ["viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** True when a token of role `has` may call something that needs `needs`. */
export function roleAllows(has: Role, needs: Role): boolean {
  return RANK[has] >= RANK[needs];
}

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

/** A token's name: 1-64 letters, digits, . _ @ -, starting with a letter or digit, not `tok_`. */
export const TOKEN_NAME = /^(?!tok_)[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
export const TOKEN_NAME_RULE =
  "1-64 letters, digits, . _ @ -, starting with a letter or digit, and not starting tok_ (token ids do)";
