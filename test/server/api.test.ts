/**
 * The API's behaviour over real HTTP on a real SQLite store: validation errors with exact paths,
 * the OpenAPI document generated from the route table, operator actions that are the engine's
 * own (state, events, audit), live events with Last-Event-ID resume, reports and runbooks.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROUTES } from "../../src/server/routes.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { openSse } from "../support/sse.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t?.close();
});

const auth = (role: "viewer" | "operator" | "admin") => ({ authorization: `Bearer ${t.tokens[role]}` });

async function post(path: string, role: "viewer" | "operator" | "admin", body?: unknown) {
  const res = await fetch(`${t.url}${path}`, {
    method: "POST",
    headers: { ...auth(role), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function get(path: string, role: "viewer" | "operator" | "admin" = "viewer") {
  const res = await fetch(`${t.url}${path}`, { headers: auth(role) });
  return { status: res.status, body: (await res.json()) as unknown };
}

describe("API", () => {
  it("rejects bad input with every problem at its exact path", async () => {
    const r = await post("/api/runs", "operator", { plan: 1, revision: "2", limit: "web", extra: true });
    expect(r.status).toBe(400);
    const paths = (r.body.problems as { path: string }[]).map((p) => p.path).sort();
    expect(paths).toEqual(["body", "body.plan", "body.revision"]);
    const q = await get(`/api/runs/${t.run.id}/events?after=-1&limit=0`);
    expect(q.status).toBe(400);
    expect((q.body as { problems: { path: string }[] }).problems.map((p) => p.path)).toEqual([
      "query.after",
      "query.limit",
    ]);
    const plan = await post("/api/plans", "operator", { body: "name: x\nhosts: web\nsteps: []\n" });
    expect(plan.status).toBe(400);
    expect(JSON.stringify(plan.body.problems)).toMatch(/steps/);
  });

  it("answers what Fastify refuses before a handler in the API's shape, authentication first", async () => {
    const send = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(`${t.url}${path}`, init);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const json = { "content-type": "application/json" };
    const pause = `/api/runs/${t.run.id}/pause`;
    const problem = (path: string) => ({
      error: "invalid input",
      problems: [expect.objectContaining({ path, message: expect.any(String) })],
    });
    // A body that is not JSON: 401 / 403 as for any other body, then 400 at `body`.
    expect(await send(pause, { method: "POST", headers: json, body: "{nope" })).toEqual({
      status: 401,
      body: { error: "authentication required: send Authorization: Bearer TOKEN" },
    });
    expect(
      (await send(pause, { method: "POST", headers: { ...json, ...auth("viewer") }, body: "{" })).status,
    ).toBe(403);
    expect(
      await send(pause, { method: "POST", headers: { ...json, ...auth("operator") }, body: "{nope" }),
    ).toEqual({
      status: 400,
      body: problem("body"),
    });
    // Another content type, a body over the limit: their own status, the same shape, after the token.
    const plain = { method: "POST", headers: { "content-type": "application/xml" }, body: "<x/>" };
    expect((await send("/api/plans", plain)).status).toBe(401);
    expect(
      await send("/api/plans", { ...plain, headers: { ...plain.headers, ...auth("operator") } }),
    ).toEqual({ status: 415, body: problem("body") });
    const huge = JSON.stringify({ body: "x".repeat(3 * 1024 * 1024) });
    expect((await send("/api/plans", { method: "POST", headers: json, body: huge })).status).toBe(401);
    expect(
      await send("/api/plans", { method: "POST", headers: { ...json, ...auth("operator") }, body: huge }),
    ).toEqual({ status: 413, body: problem("body") });
    // A long path parameter reaches the route: 401 without a token, 400 at params.id with one.
    const long = `/api/runs/${"r".repeat(300)}`;
    expect((await send(long)).status).toBe(401);
    expect(await send(long, { headers: auth("viewer") })).toEqual({
      status: 400,
      body: problem("params.id"),
    });
    // What cannot be routed at all: Fastify's status (as before, for everyone), the API's shape.
    expect(await send(`/api/runs/${"r".repeat(1200)}`, { headers: auth("viewer") })).toEqual({
      status: 414,
      body: problem("url"),
    });
    expect(await send("/api/runs/%E0%A4%A", { headers: auth("viewer") })).toEqual({
      status: 400,
      body: problem("url"),
    });
    expect(await send(`/api/runs/${"r".repeat(20_000)}`)).toEqual({ status: 431, body: problem("headers") });
    // Refusals of an audited route are audited like the handler's own.
    const audit = (await get("/api/audit", "admin")).body as { action: string; status: number }[];
    const pauses = audit.filter((a) => a.action === "run.pause").map((a) => a.status);
    expect(pauses).toEqual(expect.arrayContaining([401, 403, 400]));
  });

  it("a stored plan whose hosts pattern names no host of the service's inventory: 400 at its line and column", async () => {
    const saved = await post("/api/plans", "operator", {
      body: 'name: typo\ndescription: x\nhosts: "web:dbb"\nsteps:\n  - { name: a, kind: command, run: "true" }\n',
    });
    expect(saved.status).toBe(201);
    const r = await post("/api/runs", "operator", { plan: "typo", revision: saved.body.revision, all: true });
    expect(r.status).toBe(400);
    expect(r.body.problems).toEqual([
      expect.objectContaining({
        file: `typo@${String(saved.body.revision)}`,
        line: 3,
        column: 8,
        path: "hosts",
        message: expect.stringContaining('"dbb" match no host'),
      }),
    ]);
  });

  it("refuses a run without an explicit scope (409, safety rule) and creates one with it", async () => {
    const none = await post("/api/runs", "operator", { plan: "api-test", revision: 1 });
    expect(none.status).toBe(409);
    expect(none.body.rule).toBe("no-implicit-all");
    // The stored run of this service still holds both hosts: a second run on them is refused.
    const busy = await post("/api/runs", "operator", { plan: "api-test", revision: 1, all: true, seed: 5 });
    expect(busy.status).toBe(409);
    expect(busy.body.rule).toBe("hosts-in-another-run");
    expect(String(busy.body.error)).toContain(`web01 (run ${t.run.id}, running; host pending)`);
    expect(await t.store.listRuns()).toHaveLength(1);
    // Once it is finished they are free (set directly: no coordinator drives it in these tests).
    const before = await t.store.getRun(t.run.id);
    expect(await t.store.updateRun(t.run.id, ["running"], { state: "aborted" }, [])).toBe(true);
    // Seeds are 32-bit, as on the command line (--seed 0..4294967295).
    const big = await post("/api/runs", "operator", {
      plan: "api-test",
      revision: 1,
      all: true,
      seed: 2 ** 32,
    });
    expect(big.status).toBe(400);
    expect(JSON.stringify(big.body.problems)).toContain("body.seed");
    const ok = await post("/api/runs", "operator", {
      plan: "api-test",
      revision: 1,
      all: true,
      seed: 2 ** 32 - 1,
    });
    await t.store.updateRun(t.run.id, ["aborted"], { state: before?.state ?? "running" }, []);
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ plan: "api-test", revision: 1, state: "running", seed: 2 ** 32 - 1 });
    const hosts = await get(`/api/runs/${String(ok.body.id)}/hosts`);
    expect(
      (hosts.body as { host: string; region: string; stage: string }[]).map((h) => [
        h.host,
        h.region,
        h.stage,
      ]),
    ).toEqual([
      ["web01", "eu", "pending"],
      ["web02", "us", "pending"],
    ]);
  });

  it("serves an OpenAPI document with every route of the table", async () => {
    const res = await fetch(`${t.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe("3.1.0");
    for (const def of ROUTES) {
      const path = def.url.replace(/:([A-Za-z]+)/g, "{$1}");
      expect(doc.paths[path]?.[def.method.toLowerCase()], `${def.method} ${path}`).toBeDefined();
    }
    const create = doc.paths["/api/runs"]?.post as {
      requestBody: { content: Record<string, { schema: { properties: object } }> };
    };
    expect(Object.keys(create.requestBody.content["application/json"]!.schema.properties)).toContain("limit");
  });

  it("streams events live and resumes after Last-Event-ID without gaps or duplicates", async () => {
    const url = `${t.url}/api/runs/${t.run.id}/events/stream`;
    const a = await openSse(url, auth("viewer"));
    expect(a.status).toBe(200);
    await a.until((f) => f.data.type === "run.created");
    expect((await post(`/api/runs/${t.run.id}/pause`, "operator", { reason: "lunch" })).status).toBe(200);
    const paused = await a.until((f) => f.data.type === "run.paused");
    expect(paused.data.actor).toBe("token:t-operator");
    a.close();
    // While nobody watches, the run is resumed; a client resuming after `paused` sees only that.
    expect((await post(`/api/runs/${t.run.id}/resume`, "operator")).status).toBe(200);
    const b = await openSse(url, { ...auth("viewer"), "last-event-id": String(paused.id) });
    await b.until((f) => f.data.type === "run.running");
    await new Promise((r) => setTimeout(r, 200));
    b.close();
    expect(b.frames.map((f) => f.data.type)).toEqual(["run.running"]);
    expect(b.frames[0]!.id).toBeGreaterThan(paused.id);
  });

  it("refuses a token name that reads like a token id (revoking by id or name must name one token)", async () => {
    const r = await post("/api/tokens", "admin", { name: "tok_0123456789ab", role: "viewer" });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toContain("not starting tok_");
    expect(((await get("/api/tokens", "admin")).body as { name: string }[]).map((x) => x.name)).not.toContain(
      "tok_0123456789ab",
    );
  });

  it("concurrent creates of one token name: one 201, the others 400 naming body.name (never a 500)", async () => {
    // A store whose writes take a while (as over a network): every create has looked before any
    // has written, so only the store's own uniqueness can tell them apart.
    const access = t.store.access;
    const createToken = access.createToken.bind(access);
    access.createToken = async (rec) => {
      await new Promise((r) => setTimeout(r, 100));
      return createToken(rec);
    };
    let tries: Awaited<ReturnType<typeof post>>[];
    try {
      tries = await Promise.all(
        Array.from({ length: 6 }, () => post("/api/tokens", "admin", { name: "raced", role: "viewer" })),
      );
    } finally {
      access.createToken = createToken;
    }
    expect(tries.map((r) => r.status).sort()).toEqual([201, 400, 400, 400, 400, 400]);
    for (const r of tries.filter((x) => x.status === 400)) {
      expect(r.body).toEqual({
        error: "invalid input",
        problems: [{ path: "body.name", message: 'a token named "raced" already exists' }],
      });
    }
    const named = ((await get("/api/tokens", "admin")).body as { name: string }[]).filter(
      (x) => x.name === "raced",
    );
    expect(named).toHaveLength(1);
  });

  it("a stream whose client went away while the run was being looked up is not kept (nor its run's poll)", async () => {
    const live = t.server.live;
    const getRun = t.store.getRun.bind(t.store);
    t.store.getRun = async (id) => {
      await new Promise((r) => setTimeout(r, 300));
      return getRun(id);
    };
    try {
      const gone = Array.from({ length: 5 }, () => {
        const ac = new AbortController();
        const req = fetch(`${t.url}/api/runs/${t.run.id}/events/stream`, {
          headers: auth("viewer"),
          signal: ac.signal,
        }).catch(() => undefined);
        setTimeout(() => ac.abort(), 100);
        return req;
      });
      await Promise.all(gone);
      await new Promise((r) => setTimeout(r, 600));
      expect(live.clients).toBe(0);
    } finally {
      t.store.getRun = getRun;
    }
  });

  it("lists the runs a host is in, with its state in each (what retry/skip without a run choose from)", async () => {
    const r = await get("/api/hosts/web01/runs");
    expect(r.status).toBe(200);
    expect(r.body).toContainEqual({ run: t.run.id, runState: "running", host: "pending" });
    expect((await get("/api/hosts/nowhere/runs")).body).toEqual([]);
  });

  it("operator actions are the engine's: state changes, 409 when not possible, audited", async () => {
    expect((await post(`/api/runs/${t.run.id}/resume`, "operator")).status).toBe(409);
    const skip = await post(`/api/runs/${t.run.id}/hosts/web02/skip`, "operator");
    expect(skip).toMatchObject({ status: 200, body: { host: "web02", state: "skipped" } });
    expect((await post(`/api/runs/${t.run.id}/hosts/nope/skip`, "operator")).status).toBe(404);
    const detail = (await get(`/api/runs/${t.run.id}`)).body as { byState: Record<string, number> };
    expect(detail.byState).toEqual({ pending: 1, skipped: 1 });
    const audit = (await get("/api/audit", "admin")).body as {
      action: string;
      target: string;
      status: number;
    }[];
    expect(audit).toContainEqual(
      expect.objectContaining({ action: "host.skip", target: `${t.run.id}/web02`, status: 200 }),
    );
    expect(audit).toContainEqual(
      expect.objectContaining({ action: "run.resume", target: t.run.id, status: 409 }),
    );
    // A refused action names what it was aimed at, as requested (the audit's point: who tried what).
    expect((await post(`/api/runs/${t.run.id}/hosts/web01/skip`, "viewer")).status).toBe(403);
    expect((await post(`/api/runs/${t.run.id}/abort`, "viewer")).status).toBe(403);
    const after = (await get("/api/audit", "admin")).body as typeof audit;
    expect(after).toContainEqual(
      expect.objectContaining({ action: "host.skip", target: `${t.run.id}/web01`, status: 403 }),
    );
    expect(after).toContainEqual(
      expect.objectContaining({ action: "run.abort", target: t.run.id, status: 403 }),
    );
  });

  it("answers reports, runbooks and the step graph", async () => {
    const rep = await fetch(`${t.url}/api/runs/${t.run.id}/report?format=md`, { headers: auth("viewer") });
    expect(rep.status).toBe(200);
    expect(rep.headers.get("content-type")).toMatch(/text\/markdown/);
    expect(await rep.text()).toContain(t.run.id);
    const book = (await get(`/api/runs/${t.run.id}/hosts/web01/runbook`)).body as Record<string, unknown>;
    expect(book).toMatchObject({ host: "web01", bmc: "bmc-web01", region: "eu" });
    expect((book.steps as { name: string; revert: string | null }[]).map((s) => [s.name, s.revert])).toEqual([
      ["upgrade", null],
      ["verify", "true"],
    ]);
    const rev = (await get("/api/plans/api-test/revisions/1")).body as { steps: { name: string }[] };
    expect(rev.steps.map((s) => s.name)).toEqual(["upgrade", "verify"]);
  });
});
