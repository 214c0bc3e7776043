/**
 * The route table of the coordinator service: every API route, the role it needs, its audit
 * action and its input schemas (see route-def.ts). Handlers reuse the engine's operations
 * (engine/runs.ts), so an action through the API is exactly the CLI's action.
 *
 * Invariants:
 * - Reads need `viewer`; starting, pausing, resuming, retrying and skipping need `operator`;
 *   abort, tokens and the audit log need `admin`. Only the OpenAPI document and the health check
 *   are public.
 * - Every route that changes something has an `action` and is audited (app.ts).
 * - Runs are created only with an explicit scope (`limit` or `all`), confirmed like the CLI's.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { ROLES, TOKEN_NAME, TOKEN_NAME_RULE } from "../core/access/roles.js";
import { InputError, NameTakenError, NotFoundError } from "../core/errors.js";
import { compilePlan, type Plan } from "../core/plan/compile.js";
import { parsePlan, parsePlanText } from "../core/plan/load.js";
import { MAX_SEED } from "../core/policy/random.js";
import { REPORT_FORMATS, renderReport } from "../core/report/index.js";
import { reportOfRun } from "../engine/report-of-run.js";
import { summarize } from "../engine/run-summary.js";
import { createRun, hostAction, requireRun, resumeRun, runAction, runsOfHost } from "../engine/runs.js";
import type { RunRecord, Store } from "../ports/store.js";
import { route } from "./route-def.js";
import { mintToken } from "./tokens.js";
import { attemptView, hostView, iso, planOf, runDetail, runView, stepsView, tokenView } from "./views.js";

const RunId = z.object({ id: z.string().min(1).max(200) });
const RunHost = z.object({ id: z.string().min(1).max(200), host: z.string().min(1).max(255) });
const PlanName = z.object({ name: z.string().min(1).max(200) });
const PlanRev = z.object({ name: z.string().min(1).max(200), revision: z.coerce.number().int().min(1) });
const Reason = z
  .object({ reason: z.string().max(1000).optional() })
  .strict()
  .optional();
const Page = z.object({
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

export const actorOf = (name: string): string => `token:${name}`;

async function findRun(store: Store, id: string): Promise<RunRecord> {
  return requireRun(store, id);
}

/** The run and its compiled plan (undefined when the stored revision no longer compiles). */
async function runAndPlan(store: Store, id: string): Promise<{ run: RunRecord; plan: Plan | undefined }> {
  const run = await findRun(store, id);
  const rev = await store.getPlanRevision(run.planName, run.planRevision);
  return { run, plan: rev ? planOf(rev) : undefined };
}

/** The run, one of its hosts (404 when it is not in the run) and the run's plan. */
async function runHost(store: Store, id: string, host: string) {
  const { run, plan } = await runAndPlan(store, id);
  const h = await store.getHost(run.id, host);
  if (!h) throw new NotFoundError(`host "${host}" is not part of run ${run.id}`);
  return { run, h, plan };
}

export const ROUTES = [
  route({
    method: "GET",
    url: "/healthz",
    access: "public",
    summary: "Liveness: the process answers and its store is reachable.",
    async handler({ deps }) {
      await deps.store.listRuns(1);
      return { ok: true };
    },
  }),
  route({
    method: "GET",
    url: "/api/whoami",
    access: "viewer",
    summary: "The token's name and role (the dashboard shows the buttons the role allows).",
    async handler({ principal }) {
      return { name: principal?.token.name, role: principal?.token.role, tokenId: principal?.token.id };
    },
  }),

  // ---- plans and revisions ----
  route({
    method: "GET",
    url: "/api/plans",
    access: "viewer",
    summary: "Plans with their newest revision.",
    async handler({ deps }) {
      const revs = await deps.store.listPlanRevisions();
      const newest = new Map<string, (typeof revs)[number]>();
      for (const r of revs) if ((newest.get(r.name)?.revision ?? 0) < r.revision) newest.set(r.name, r);
      return [...newest.values()]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((r) => ({
          name: r.name,
          latestRevision: r.revision,
          hash: r.hash,
          createdAt: iso(r.createdAt),
        }));
    },
  }),
  route({
    method: "POST",
    url: "/api/plans",
    access: "operator",
    action: "plan.save",
    summary: "Store a plan text as a new numbered revision (the same text returns its existing revision).",
    body: z.object({ body: z.string().min(1).max(1_000_000) }).strict(),
    status: 201,
    async handler({ deps, body }) {
      const plan = compilePlan(parsePlanText(body.body, "body.body"));
      const rev = await deps.store.savePlanRevision({
        name: plan.name,
        hash: createHash("sha256").update(body.body).digest("hex"),
        body: body.body,
        createdAt: deps.clock.now(),
      });
      return { name: rev.name, revision: rev.revision, hash: rev.hash, createdAt: iso(rev.createdAt) };
    },
  }),
  route({
    method: "GET",
    url: "/api/plans/:name/revisions",
    access: "viewer",
    summary: "Every revision of a plan, oldest first.",
    params: PlanName,
    async handler({ deps, params }) {
      const revs = await deps.store.listPlanRevisions(params.name);
      if (revs.length === 0) throw new NotFoundError(`no plan "${params.name}"`);
      return revs.map((r) => ({
        name: r.name,
        revision: r.revision,
        hash: r.hash,
        createdAt: iso(r.createdAt),
      }));
    },
  }),
  route({
    method: "GET",
    url: "/api/plans/:name/revisions/:revision",
    access: "viewer",
    summary: "One revision: its exact text and its step graph.",
    params: PlanRev,
    async handler({ deps, params }) {
      const rev = await deps.store.getPlanRevision(params.name, params.revision);
      if (!rev) throw new NotFoundError(`no revision ${params.revision} of plan "${params.name}"`);
      return { ...rev, createdAt: iso(rev.createdAt), steps: stepsView(planOf(rev)) };
    },
  }),

  // ---- runs ----
  route({
    method: "GET",
    url: "/api/runs",
    access: "viewer",
    summary: "Recent runs, newest first.",
    query: z.object({ limit: z.coerce.number().int().min(1).max(1000).optional() }),
    async handler({ deps, query }) {
      return (await deps.store.listRuns(query.limit ?? 50)).map(runView);
    },
  }),
  route({
    method: "POST",
    url: "/api/runs",
    access: "operator",
    action: "run.create",
    status: 201,
    summary:
      "Start a run of a stored plan revision on an explicit scope (limit pattern or all; wide scopes confirmed with the exact host count).",
    body: z
      .object({
        plan: z.string().min(1),
        revision: z.number().int().min(1),
        limit: z.string().optional(),
        all: z.boolean().optional(),
        confirm: z.number().int().min(0).optional(),
        maxHosts: z.number().int().min(1).optional(),
        seed: z.number().int().min(0).max(MAX_SEED).optional(),
      })
      .strict(),
    target: (_p, b) => `${b.plan}@${b.revision}`,
    async handler({ deps, body, principal }) {
      const rev = await deps.store.getPlanRevision(body.plan, body.revision);
      if (!rev) {
        throw new InputError({
          path: "body.revision",
          message: `no revision ${body.revision} of plan "${body.plan}"`,
        });
      }
      if (!deps.resolveHosts) {
        throw new InputError({
          path: "body",
          message: "this service has no inventory (start `overhaul serve` with -i INVENTORY to start runs)",
        });
      }
      const parsed = parsePlan(rev.body, `${rev.name}@${rev.revision}`);
      const plan = compilePlan(parsed.spec);
      const { hosts, inventory, secretVars } = await deps.resolveHosts(
        plan,
        {
          maxHosts: body.maxHosts ?? 25,
          ...(body.limit !== undefined ? { limit: body.limit } : {}),
          ...(body.all ? { all: true } : {}),
          ...(body.confirm !== undefined ? { confirm: body.confirm } : {}),
        },
        `${rev.name}@${rev.revision}`,
        parsed.hostsAt,
      );
      const run = await createRun(
        { store: deps.store, clock: deps.clock, random: deps.random },
        {
          plan,
          planBody: rev.body,
          planHash: rev.hash,
          hosts,
          actor: actorOf(principal?.token.name ?? "unknown"),
          ...(body.seed !== undefined ? { seed: body.seed } : {}),
          options: {
            inventory,
            ...(secretVars !== undefined ? { secretVars } : {}),
            ...(body.limit !== undefined ? { limit: body.limit } : {}),
            ...(body.all ? { all: true } : {}),
            via: "api",
          },
        },
      );
      return runView(run);
    },
  }),
  route({
    method: "GET",
    url: "/api/runs/:id",
    access: "viewer",
    summary: "A run: state, wave, plan steps, hosts by state and stage, failures with reasons.",
    params: RunId,
    async handler({ deps, params }) {
      return runDetail(deps.store, await findRun(deps.store, params.id));
    },
  }),
  route({
    method: "GET",
    url: "/api/runs/:id/summary",
    access: "viewer",
    summary: "The run summary `overhaul status` prints (same JSON as `overhaul status --json`).",
    params: RunId,
    async handler({ deps, params }) {
      const { run, plan } = await runAndPlan(deps.store, params.id);
      return summarize(deps.store, run, deps.clock.now(), plan);
    },
  }),
  ...(["pause", "resume", "abort"] as const).map((action) =>
    route({
      method: "POST",
      url: `/api/runs/:id/${action}`,
      access: action === "abort" ? "admin" : "operator",
      action: `run.${action}`,
      summary:
        action === "pause"
          ? "Pause: start nothing new; steps in flight finish."
          : action === "resume"
            ? "Resume a paused or halted run (approves a manual gate it waits at)."
            : "Abort: no new work; hosts stop after their current step (no revert).",
      params: RunId,
      body: Reason,
      target: (p) => p.id,
      async handler({ deps, params, body, principal }) {
        const run = await findRun(deps.store, params.id);
        const actor = actorOf(principal?.token.name ?? "unknown");
        const ops = { store: deps.store, clock: deps.clock };
        // The service's coordinator drives every unfinished run: resume only sets the state, and
        // refuses a run that cannot go on, as `overhaul resume --detach` does (and one that runs).
        const after =
          action === "resume" && run.state !== "running"
            ? await resumeRun(ops, run, actor, { drive: false })
            : await runAction(ops, run, action, actor, body?.reason);
        return { run: after.id, from: run.state, state: after.state };
      },
    }),
  ),
  ...(["retry", "skip"] as const).map((action) =>
    route({
      method: "POST",
      url: `/api/runs/:id/hosts/:host/${action}`,
      access: "operator",
      action: `host.${action}`,
      summary:
        action === "retry"
          ? "Retry a failed host, or re-run an in-doubt host's step (you confirm it is safe)."
          : "Take a pending, failed or in-doubt host out of the run.",
      params: RunHost,
      target: (p) => `${p.id}/${p.host}`,
      async handler({ deps, params, principal }) {
        const run = await findRun(deps.store, params.id);
        const r = await hostAction(
          { store: deps.store, clock: deps.clock },
          run,
          params.host,
          action,
          actorOf(principal?.token.name ?? "unknown"),
        );
        return {
          run: run.id,
          host: r.host.host,
          state: r.host.state,
          runState: r.runState,
          reopened: r.reopened,
          held: r.held,
        };
      },
    }),
  ),

  // ---- hosts ----
  route({
    method: "GET",
    url: "/api/hosts/:host/runs",
    access: "viewer",
    summary:
      "The runs a host is in (every unfinished run and the newest 100), newest first, with its state in each: what `retry HOST` / `skip HOST` without a run choose from.",
    params: z.object({ host: z.string().min(1).max(255) }),
    async handler({ deps, params }) {
      return runsOfHost(deps.store, params.host);
    },
  }),
  route({
    method: "GET",
    url: "/api/runs/:id/hosts",
    access: "viewer",
    summary: "Every host of the run with its region, state and current stage.",
    params: RunId,
    async handler({ deps, params }) {
      const { run, plan } = await runAndPlan(deps.store, params.id);
      return (await deps.store.getHosts(run.id)).map((h) => hostView(h, plan));
    },
  }),
  route({
    method: "GET",
    url: "/api/runs/:id/hosts/:host",
    access: "viewer",
    summary: "One host: its flow and every attempt with its output.",
    params: RunHost,
    async handler({ deps, params }) {
      const { run, h, plan } = await runHost(deps.store, params.id, params.host);
      const attempts = await deps.store.getAttempts(run.id, h.host);
      return { ...hostView(h, plan), attempts: attempts.map(attemptView) };
    },
  }),
  route({
    method: "GET",
    url: "/api/runs/:id/hosts/:host/runbook",
    access: "viewer",
    summary:
      "The host's runbook: where it is, how to reach it, each step with its check and revert command, the last point of no return.",
    params: RunHost,
    async handler({ deps, params }) {
      const { run, h, plan } = await runHost(deps.store, params.id, params.host);
      const vars = (h.data.vars ?? {}) as Record<string, unknown>;
      const pick = (...keys: string[]) => keys.map((k) => vars[k]).find((v) => v !== undefined) ?? null;
      return {
        run: run.id,
        host: h.host,
        address: h.data.address ?? h.host,
        region: h.data.region ?? null,
        failureDomains: h.data.failureDomains ?? {},
        bmc: pick("overhaul_bmc", "bmc", "ipmi_address"),
        backup: pick("overhaul_backup", "backup_location"),
        state: h.state,
        lastPointOfNoReturn:
          h.noReturnIndex >= 0 ? (plan?.steps[h.noReturnIndex]?.name ?? h.noReturnIndex) : null,
        steps: (plan?.steps ?? []).map((s) => ({
          index: s.index,
          name: s.name,
          kind: s.kind,
          run: s.run ?? null,
          check: s.check ?? null,
          verify: s.verify ?? null,
          revert: s.revert ?? null,
          pointOfNoReturn: s.pointOfNoReturn,
          done: h.phase === "forward" ? s.index < h.stepIndex : s.index <= h.noReturnIndex,
        })),
        operatorActions: {
          retry: `overhaul retry ${h.host} --run ${run.id}`,
          skip: `overhaul skip ${h.host} --run ${run.id}`,
        },
      };
    },
  }),

  // ---- events ----
  route({
    method: "GET",
    url: "/api/runs/:id/events",
    access: "viewer",
    summary: "The run's events after a sequence number, oldest first.",
    params: RunId,
    query: Page,
    async handler({ deps, params, query }) {
      const run = await findRun(deps.store, params.id);
      return deps.store.listEvents(run.id, query.after ?? 0, query.limit ?? 1000);
    },
  }),
  route({
    method: "GET",
    url: "/api/runs/:id/events/stream",
    access: "viewer",
    produces: "sse",
    summary:
      "Server-sent events: every event of the run as it is committed (`id` is its seq; reconnect with Last-Event-ID or ?after to resume without gaps).",
    params: RunId,
    query: z.object({ after: z.coerce.number().int().min(0).optional() }),
    async handler({ deps, params, query, req, reply, live, principal }) {
      const run = await findRun(deps.store, params.id);
      const header = req.headers["last-event-id"];
      const fromHeader = typeof header === "string" && /^\d+$/.test(header) ? Number(header) : undefined;
      // The stream is tied to the token: it ends soon after the token is revoked (live.ts).
      live.attach(run.id, fromHeader ?? query.after ?? 0, reply, principal?.token.id ?? "");
      return undefined;
    },
  }),

  // ---- reports ----
  route({
    method: "GET",
    url: "/api/runs/:id/report",
    access: "viewer",
    produces: "raw",
    summary: "The run's report: json (default), md, text or html (the same as `overhaul report`).",
    params: RunId,
    query: z.object({ format: z.enum(REPORT_FORMATS).optional() }),
    async handler({ deps, params, query, reply }) {
      const run = await findRun(deps.store, params.id);
      const format = query.format ?? "json";
      const text = renderReport(await reportOfRun(deps.store, run), format);
      const types = { json: "application/json", md: "text/markdown", text: "text/plain", html: "text/html" };
      reply.type(`${types[format]}; charset=utf-8`);
      return text;
    },
  }),

  // ---- tokens and audit (admin) ----
  route({
    method: "GET",
    url: "/api/tokens",
    access: "admin",
    summary: "Every token (never its secret).",
    async handler({ deps }) {
      return (await deps.store.access.listTokens()).map(tokenView);
    },
  }),
  route({
    method: "POST",
    url: "/api/tokens",
    access: "admin",
    action: "token.create",
    status: 201,
    summary: "Create a token; the answer holds its secret, shown this once.",
    body: z
      .object({
        name: z.string().regex(TOKEN_NAME, TOKEN_NAME_RULE),
        role: z.enum(ROLES),
      })
      .strict(),
    target: (_p, b) => b.name,
    async handler({ deps, body, principal }) {
      const minted = mintToken({
        name: body.name,
        role: body.role,
        createdBy: actorOf(principal?.token.name ?? "unknown"),
        now: deps.clock.now(),
      });
      try {
        await deps.store.access.createToken(minted.record);
      } catch (err) {
        // The store's own uniqueness decides, so two concurrent creates of one name get this too.
        if (err instanceof NameTakenError) throw new InputError({ path: "body.name", message: err.message });
        throw err;
      }
      return { ...tokenView(minted.record), token: minted.secret };
    },
  }),
  route({
    method: "DELETE",
    url: "/api/tokens/:token",
    access: "admin",
    action: "token.revoke",
    summary: "Revoke a token (by id or name); it stops working at once.",
    params: z.object({ token: z.string().min(1).max(200) }),
    target: (p) => p.token,
    async handler({ deps, params }) {
      const t = await deps.store.access.revokeToken(params.token, deps.clock.now());
      if (!t) throw new NotFoundError(`no token with id or name "${params.token}"`);
      return tokenView(t);
    },
  }),
  route({
    method: "GET",
    url: "/api/audit",
    access: "admin",
    summary: "The audit log: who changed what, when, from where, and the outcome. Oldest first.",
    query: Page,
    async handler({ deps, query }) {
      return (await deps.store.access.listAudit(query.after ?? 0, query.limit ?? 1000)).map((a) => ({
        ...a,
        at: iso(a.at),
      }));
    },
  }),

  // ---- metrics ----
  route({
    method: "GET",
    url: "/metrics",
    access: "viewer",
    produces: "raw",
    summary: "Prometheus metrics (text exposition format).",
    async handler({ deps, reply }) {
      if (!deps.metrics) throw new NotFoundError("metrics are not enabled");
      reply.type(deps.metrics.contentType);
      return deps.metrics.scrape();
    },
  }),
];
