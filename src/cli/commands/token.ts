/**
 * `overhaul token create|list|revoke`: API tokens of the coordinator service (docs/server.md).
 * The secret is printed once, at creation, and never stored; every change is written to the audit
 * log with the local user as actor.
 */
import { systemClock } from "../../adapters/clock/system-clock.js";
import { isRole, ROLES, TOKEN_NAME, TOKEN_NAME_RULE } from "../../core/access/roles.js";
import { InputError, NameTakenError } from "../../core/errors.js";
import type { Store } from "../../ports/store.js";
import { mintToken } from "../../server/tokens.js";
import { tokenView } from "../../server/views.js";
import { openStore, operatorName } from "../compose.js";
import { EXIT } from "../exit-codes.js";
import { makeOut, type Out, table } from "../output.js";

interface Common {
  db?: string;
  json?: boolean;
  noColor?: boolean;
}

/**
 * Write the audit entry of a change that is done. One that cannot be written does not undo it or
 * hide it (a created token's secret would be lost): the command goes on, and says so on stderr.
 */
async function audit(
  store: Store,
  out: Out,
  action: string,
  target: string,
  detail: Record<string, unknown>,
): Promise<void> {
  const actor = `cli:${operatorName()}`;
  try {
    await store.access.appendAudit({
      at: systemClock().now(),
      actor,
      tokenId: null,
      role: null,
      remote: "local",
      action,
      target,
      status: 0,
      outcome: "ok",
      detail,
    });
  } catch (e) {
    out.err(
      `overhaul: AUDIT LOG WRITE FAILED: ${action} on ${target} by ${actor} from local: ${
        e instanceof Error ? e.message : String(e)
      } (the change itself was made)\n`,
    );
  }
}

export async function tokenCreateCommand(opts: Common & { role: string; name: string }): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  const problems = [];
  if (!isRole(opts.role))
    problems.push({ path: "--role", message: `"${opts.role}" is not a role`, expected: ROLES.join(", ") });
  if (!TOKEN_NAME.test(opts.name))
    problems.push({
      path: "--name",
      message: `"${opts.name}" is not a token name`,
      expected: TOKEN_NAME_RULE,
    });
  if (problems.length > 0 || !isRole(opts.role)) throw new InputError(problems);
  const store = await openStore(opts.db);
  try {
    const minted = mintToken({
      name: opts.name,
      role: opts.role,
      createdBy: `cli:${operatorName()}`,
      now: systemClock().now(),
    });
    try {
      await store.access.createToken(minted.record);
    } catch (err) {
      if (err instanceof NameTakenError) throw new InputError({ path: "--name", message: err.message });
      throw err;
    }
    await audit(store, out, "token.create", minted.record.id, { name: opts.name, role: opts.role });
    const r = minted.record;
    if (opts.json) {
      out.write(`${JSON.stringify({ id: r.id, name: r.name, role: r.role, token: minted.secret })}\n`);
    } else {
      out.write(`${minted.secret}\n`);
      out.err(
        `token ${r.id} "${r.name}" (${r.role}) created. This is the only time it is shown: store it now.\n`,
      );
    }
    return EXIT.ok;
  } finally {
    await store.close();
  }
}

export async function tokenListCommand(opts: Common): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  const store = await openStore(opts.db);
  try {
    const tokens = (await store.access.listTokens()).map(tokenView);
    if (opts.json) out.write(`${JSON.stringify(tokens, null, 2)}\n`);
    else {
      const rows = [["ID", "NAME", "ROLE", "CREATED", "BY", "REVOKED"]];
      for (const t of tokens)
        rows.push([t.id, t.name, t.role, t.createdAt ?? "", t.createdBy, t.revokedAt ?? ""]);
      out.write(`${table(rows, out)}\n`);
    }
    return EXIT.ok;
  } finally {
    await store.close();
  }
}

export async function tokenRevokeCommand(idOrName: string, opts: Common): Promise<number> {
  const out = makeOut({ noColor: opts.noColor });
  const store = await openStore(opts.db);
  try {
    const t = await store.access.revokeToken(idOrName, systemClock().now());
    if (!t)
      throw new InputError({
        message: `no token with id or name "${idOrName}" (see \`overhaul token list\`)`,
      });
    await audit(store, out, "token.revoke", t.id, { name: t.name });
    if (opts.json)
      out.write(
        `${JSON.stringify({ id: t.id, name: t.name, revokedAt: new Date(t.revokedAt ?? 0).toISOString() })}\n`,
      );
    else out.write(`token ${t.id} "${t.name}" revoked\n`);
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
