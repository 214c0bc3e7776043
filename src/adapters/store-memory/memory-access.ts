/**
 * The in-memory `AccessStore`: the reference for the port's semantics (tests, simulations).
 * Records are copied in and out, so callers never share state with the store.
 */
import { NameTakenError, OverhaulError } from "../../core/errors.js";
import type { AccessStore, AuditRecord, NewAudit, TokenRecord } from "../../ports/access.js";

export class MemoryAccessStore implements AccessStore {
  private tokens: TokenRecord[] = [];
  private audit: AuditRecord[] = [];

  async createToken(t: TokenRecord): Promise<void> {
    if (this.tokens.some((x) => x.name === t.name)) throw new NameTakenError("token", t.name);
    if (this.tokens.some((x) => x.hash === t.hash || x.id === t.id)) {
      throw new OverhaulError(`token ${t.id} was not stored: its id or hash is already taken`);
    }
    this.tokens.push({ ...t });
  }

  async getTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const t = this.tokens.find((x) => x.hash === hash);
    return t ? { ...t } : undefined;
  }

  async listTokens(): Promise<TokenRecord[]> {
    return this.tokens.map((t) => ({ ...t }));
  }

  async revokeToken(idOrName: string, at: number): Promise<TokenRecord | undefined> {
    const t = this.tokens.find((x) => x.id === idOrName || x.name === idOrName);
    if (!t) return undefined;
    if (t.revokedAt === null) t.revokedAt = at;
    return { ...t };
  }

  async appendAudit(e: NewAudit): Promise<void> {
    this.audit.push({ ...e, detail: structuredClone(e.detail), seq: this.audit.length + 1 });
  }

  async listAudit(afterSeq = 0, limit = 1000): Promise<AuditRecord[]> {
    return this.audit
      .filter((a) => a.seq > afterSeq)
      .slice(0, limit)
      .map((a) => ({ ...a, detail: structuredClone(a.detail) }));
  }
}
