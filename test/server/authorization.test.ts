/**
 * The authorization matrix: every route of the route table × every credential (none, malformed,
 * unknown, revoked, viewer, operator, admin), over real HTTP. Driven from ROUTES, so a route added
 * later is in the matrix without anyone writing a row for it.
 *
 * Expected: public routes answer everyone; otherwise no/malformed/unknown/revoked token is 401,
 * a role below the route's is 403, and a sufficient role gets past authorization (any status but
 * 401/403, and never 500). Every request to an audited route, refused or not, is in the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Role, roleAllows } from "../../src/core/access/roles.js";
import type { RouteDef } from "../../src/server/route-def.js";
import { ROUTES } from "../../src/server/routes.js";
import { PLAN_TEXT, startTestServer, type TestServer } from "../support/server.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t?.close();
});

/** Bodies of the routes that need one (a valid one, so the handler really runs). */
const BODIES: Record<string, unknown> = {
  "POST /api/plans": { body: PLAN_TEXT },
  "POST /api/runs": { plan: "api-test", revision: 1, all: true },
  "POST /api/tokens": { name: "made-by-matrix", role: "viewer" },
};

function urlOf(def: RouteDef): string {
  const values: Record<string, string> = {
    id: t.run.id,
    host: "web01",
    name: "api-test",
    revision: "1",
    token: "no-such-token",
  };
  return def.url.replace(/:([A-Za-z]+)/g, (_m, k: string) => {
    const v = values[k];
    if (v === undefined) throw new Error(`no sample value for :${k} of ${def.url}: add one to the matrix`);
    return encodeURIComponent(v);
  });
}

type Cred = "none" | "malformed" | "unknown" | "revoked" | Role;
const CREDS: Cred[] = ["none", "malformed", "unknown", "revoked", "viewer", "operator", "admin"];

function header(c: Cred): Record<string, string> {
  switch (c) {
    case "none":
      return {};
    case "malformed":
      return { authorization: "Token abc" };
    case "unknown":
      return { authorization: "Bearer ovh_thisTokenWasNeverIssuedToAnyone0000000000" };
    default:
      return { authorization: `Bearer ${t.tokens[c]}` };
  }
}

async function call(def: RouteDef, c: Cred): Promise<number> {
  const key = `${def.method} ${def.url}`;
  const ac = new AbortController();
  const body = def.body ? JSON.stringify(BODIES[key] ?? {}) : undefined;
  const res = await fetch(`${t.url}${urlOf(def)}`, {
    method: def.method,
    headers: { ...header(c), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body } : {}),
    signal: ac.signal,
  });
  // Live streams stay open: the status line is all we need.
  if (res.headers.get("content-type")?.startsWith("text/event-stream")) ac.abort();
  else await res.arrayBuffer();
  return res.status;
}

/**
 * The access policy, written out by hand: a route whose declared role differs from this (or a
 * new route not listed here) fails, so widening access is always a visible change to this table.
 */
const POLICY: Record<string, RouteDef["access"]> = {
  "GET /healthz": "public",
  "GET /api/whoami": "viewer",
  "GET /api/plans": "viewer",
  "POST /api/plans": "operator",
  "GET /api/plans/:name/revisions": "viewer",
  "GET /api/plans/:name/revisions/:revision": "viewer",
  "GET /api/runs": "viewer",
  "POST /api/runs": "operator",
  "GET /api/runs/:id": "viewer",
  "GET /api/runs/:id/summary": "viewer",
  "POST /api/runs/:id/pause": "operator",
  "POST /api/runs/:id/resume": "operator",
  "POST /api/runs/:id/abort": "admin",
  "POST /api/runs/:id/hosts/:host/retry": "operator",
  "POST /api/runs/:id/hosts/:host/skip": "operator",
  "GET /api/hosts/:host/runs": "viewer",
  "GET /api/runs/:id/hosts": "viewer",
  "GET /api/runs/:id/hosts/:host": "viewer",
  "GET /api/runs/:id/hosts/:host/runbook": "viewer",
  "GET /api/runs/:id/events": "viewer",
  "GET /api/runs/:id/events/stream": "viewer",
  "GET /api/runs/:id/report": "viewer",
  "GET /api/tokens": "admin",
  "POST /api/tokens": "admin",
  "DELETE /api/tokens/:token": "admin",
  "GET /api/audit": "admin",
  "GET /metrics": "viewer",
};

describe("authorization matrix: every route × every credential", () => {
  it("every route declares the role the policy table gives it", () => {
    const declared = Object.fromEntries(ROUTES.map((d) => [`${d.method} ${d.url}`, d.access]));
    expect(declared).toEqual(POLICY);
  });

  it("covers a non-trivial route table", () => {
    expect(ROUTES.length).toBeGreaterThanOrEqual(20);
    for (const def of ROUTES)
      if (def.method !== "GET") expect(def.action, `${def.method} ${def.url}`).toBeTruthy();
  });

  it.each(ROUTES.map((def) => [`${def.method} ${def.url} (${def.access})`, def] as const))(
    "%s",
    async (_n, def) => {
      const [before] = (await t.store.access.listAudit(0, 1_000_000)).slice(-1);
      const got: Record<string, number> = {};
      for (const c of CREDS) got[c] = await call(def, c);
      const want: Record<string, string> = {};
      const seen: Record<string, string> = {};
      for (const c of CREDS) {
        let expected: string;
        if (def.access === "public") expected = "allowed";
        else if (c === "none" || c === "malformed" || c === "unknown" || c === "revoked") expected = "401";
        else expected = roleAllows(c, def.access) ? "allowed" : "403";
        want[c] = expected;
        const s = got[c] as number;
        seen[c] = s === 401 || s === 403 ? String(s) : s >= 500 ? `${s}!` : "allowed";
      }
      expect(seen).toEqual(want);
      if (def.action) {
        const entries = (await t.store.access.listAudit(before?.seq ?? 0)).filter(
          (a) => a.action === def.action,
        );
        expect(entries).toHaveLength(CREDS.length);
        expect(entries.map((e) => e.status)).toEqual(CREDS.map((c) => got[c]));
        expect(entries.filter((e) => e.outcome === "denied").length).toBe(
          Object.values(want).filter((w) => w !== "allowed").length,
        );
        expect(entries.find((e) => e.actor === "token:t-operator")?.remote).toBe("127.0.0.1");
      }
    },
  );
});
