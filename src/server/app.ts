/**
 * The HTTP app of `overhaul serve` (Fastify), built from the route table.
 *
 * Invariants:
 * - Every route is registered from ROUTES (routes.ts) with the role it declares; there is no
 *   other way to add one, so the authorization matrix test covers them all.
 * - Authentication happens before validation and before the handler: no token, a malformed one,
 *   an unknown or a revoked one is 401; a role below the route's is 403. Nothing else runs.
 * - Input is validated once, here, with the route's zod schemas; a 400 lists every problem with
 *   its exact path (`body.limit`, `params.id`, `query.after`).
 * - Every request to a route with an audit action is written to the audit log with who (token),
 *   what (action, target), when, from where and the outcome (status), including refused ones.
 * - Audit mode `best-effort` (default): an entry that cannot be written is reported on the log and
 *   the request answered as it went. `strict`: an action that passed authentication, authorization
 *   and validation is first written as `requested`; if that cannot be written, nothing is done and
 *   the answer is 503 (the client may retry). Its outcome is written after it, as in best-effort.
 * - Errors map to statuses by type: InputError 400, NotFoundError 404, SafetyRefusal and other
 *   refusals 409, anything else 500 (its message is not sent); every error answer has the shape
 *   of errors.ts, also what Fastify refuses before a handler runs (a body that is not JSON, too
 *   large or of another type: the error handler; a URL it cannot route: the framework-errors
 *   hook). Such a refusal of a route that needs a token is answered only after the same
 *   authentication (401/403 first, and audited), so it tells an unauthenticated client nothing
 *   it would not learn anyway.
 * - Path parameters up to MAX_PARAM_LENGTH reach the route's schema (longer than any schema
 *   allows), so an over-long `:id` is a 400 at `params.id` after authentication, like any other.
 */
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import type { z } from "zod";
import { roleAllows } from "../core/access/roles.js";
import { InputError, type Problem } from "../core/errors.js";
import type { AuditOutcome, NewAudit } from "../ports/access.js";
import type { ServerDeps } from "./deps.js";
import {
  type Answer,
  clientError,
  errorAnswer,
  frameworkAnswer,
  HttpError,
  MAX_PARAM_LENGTH,
} from "./errors.js";
import { LiveEvents } from "./live.js";
import { openApiDocument } from "./openapi.js";
import type { Principal, RouteDef } from "./route-def.js";
import { ROUTES } from "./routes.js";
import { checkBearer } from "./tokens.js";

export interface AppOptions {
  version: string;
  /** Extra Fastify options (https). */
  https?: { key: Buffer; cert: Buffer };
  /** Routes besides the API (the dashboard's static files). */
  extra?: (app: FastifyInstance) => void;
  /**
   * Proxies in front (addresses or CIDRs) whose `X-Forwarded-For` is believed: the client's
   * address (audit log) is then the one they forwarded. None: the peer's address, always.
   */
  trustProxy?: readonly string[];
  /** `strict`: no action without its `requested` audit entry written first (see the header). */
  auditMode?: AuditMode;
}

export const AUDIT_MODES = ["best-effort", "strict"] as const;
export type AuditMode = (typeof AUDIT_MODES)[number];

export interface ServerApp {
  app: FastifyInstance;
  live: LiveEvents;
}

function validate(
  where: "params" | "query" | "body",
  t: z.ZodType | undefined,
  value: unknown,
  problems: Problem[],
) {
  if (!t) return undefined;
  const r = t.safeParse(value ?? (where === "body" ? undefined : {}));
  if (r.success) return r.data;
  for (const issue of r.error.issues) {
    const path = [where, ...issue.path.map(String)].join(".");
    problems.push({ path, message: issue.message });
  }
  return undefined;
}

function outcomeOf(status: number): AuditOutcome {
  if (status < 400) return "ok";
  return status === 401 || status === 403 ? "denied" : "failed";
}

export function buildApp(deps: ServerDeps, opts: AppOptions): ServerApp {
  const app = Fastify({
    logger: false,
    bodyLimit: 2 * 1024 * 1024,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Refused while routing, so no route (and no role) is known: the status Fastify gives.
    frameworkErrors: (err, _req, reply) => {
      const { status, body } = frameworkAnswer(err);
      void (reply as unknown as FastifyReply).code(status).send(body);
    },
    // Refused by Node's HTTP parser (headers or URL over 16 KiB, not HTTP at all): no request yet.
    clientErrorHandler: clientError,
    ...(opts.https ? { https: opts.https } : {}),
    ...(opts.trustProxy && opts.trustProxy.length > 0 ? { trustProxy: [...opts.trustProxy] } : {}),
  }) as unknown as FastifyInstance;
  const live = new LiveEvents(deps.store, {
    pollMs: deps.streamPollMs,
    tokenCheckMs: deps.streamTokenCheckMs,
    maxBacklogBytes: deps.streamMaxBacklogBytes,
    stallMs: deps.streamStallMs,
    log: deps.log,
    now: () => deps.clock.now(),
  });
  const openapi = openApiDocument(ROUTES, opts.version);

  app.get("/openapi.json", async () => openapi);

  const strict = opts.auditMode === "strict";
  for (const def of ROUTES) register(app, def, deps, live, strict);
  opts.extra?.(app);

  app.setErrorHandler(async (err: FastifyError, req, reply) => refused(deps, err, req, reply));
  app.setNotFoundHandler(async (req, reply) => {
    reply.code(404).send({ error: `no route ${req.method} ${req.url.split("?")[0]}` });
  });
  // Before the listener closes: open streams would otherwise hold the close forever.
  app.addHook("preClose", async () => live.close());
  return { app, live };
}

/**
 * The principal of a request to `def`: undefined for a public route; HttpError 401 for no,
 * a malformed, unknown or revoked token.
 */
async function authenticate(
  deps: ServerDeps,
  def: RouteDef,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<Principal | undefined> {
  if (def.access === "public") return undefined;
  const check = await checkBearer(deps.store.access, req.headers.authorization);
  if (!check.ok) {
    reply.header("www-authenticate", 'Bearer realm="overhaul"');
    throw new HttpError(401, {
      error:
        check.why === "missing"
          ? "authentication required: send Authorization: Bearer TOKEN"
          : check.why === "revoked"
            ? "this token was revoked"
            : "invalid token",
    });
  }
  return { token: check.token, remote: req.ip };
}

/** HttpError 403 when the principal's role is below the route's. */
function authorize(def: RouteDef, principal: Principal | undefined): void {
  if (def.access === "public") return;
  const token = principal?.token;
  if (!token || !roleAllows(token.role, def.access)) {
    throw new HttpError(403, {
      error: `forbidden: ${def.method} ${def.url} needs the ${def.access} role; token "${token?.name}" is ${token?.role}`,
    });
  }
}

/**
 * Fastify refused a request before its handler ran (its body): answered like the handler would,
 * authentication first, and audited when the route is.
 */
async function refused(deps: ServerDeps, err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  const def = (req.routeOptions.config as { def?: RouteDef } | undefined)?.def;
  let principal: Principal | undefined;
  let answer: Answer;
  try {
    if (def) {
      principal = await authenticate(deps, def, req, reply);
      authorize(def, principal);
    }
    answer = frameworkAnswer(err);
  } catch (e) {
    answer = errorAnswer(e);
  }
  if (def)
    await audit(
      deps,
      auditEntry(def, principal, req.ip, req.params, undefined, answer.status, answer.body.error),
    );
  reply.code(answer.status);
  return answer.body;
}

function register(
  app: FastifyInstance,
  def: RouteDef,
  deps: ServerDeps,
  live: LiveEvents,
  strict: boolean,
): void {
  app.route({
    method: def.method,
    url: def.url,
    config: { def },
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const remote = req.ip;
      let principal: Principal | undefined;
      let params: unknown;
      let body: unknown;
      try {
        principal = await authenticate(deps, def, req, reply);
        authorize(def, principal);
        const problems: Problem[] = [];
        params = validate("params", def.params, req.params, problems);
        const query = validate("query", def.query, req.query, problems);
        body = validate("body", def.body, req.body, problems);
        if (problems.length > 0) throw new InputError(problems);
        if (strict && def.action) await requested(deps, auditEntry(def, principal, remote, params, body, 0));
        const out = await def.handler({ params, query, body, principal, deps, live, req, reply });
        if (def.produces === "sse") return reply;
        await audit(deps, auditEntry(def, principal, remote, params, body, def.status ?? 200));
        if (def.action) deps.onRunChanged?.();
        reply.code(def.status ?? 200);
        return out;
      } catch (err) {
        const { status, body: answer } = errorAnswer(err);
        // Refused before its parameters were validated (401, 403, 400): the target as requested.
        await audit(
          deps,
          auditEntry(def, principal, remote, params ?? req.params, body, status, answer.error),
        );
        reply.code(status);
        return answer;
      }
    },
  });
}

/** How much of a requested target an audit entry keeps (path parameters may be 1,000 characters). */
const AUDIT_TARGET_CHARS = 200;

type Entry = NewAudit;

/** The audit entry of a request to `def` (undefined: the route is not audited). */
function auditEntry(
  def: RouteDef,
  principal: Principal | undefined,
  remote: string,
  params: unknown,
  body: unknown,
  status: number,
  error?: unknown,
): Entry | undefined {
  if (!def.action) return undefined;
  let target: string | null = null;
  try {
    target = params !== undefined || body !== undefined ? (def.target?.(params, body) ?? null) : null;
  } catch {
    // A target read from a body the route never validated (a refused request): not known.
    target = null;
  }
  // As requested, so also a refused request's: at most AUDIT_TARGET_CHARS of it.
  if (typeof target !== "string") target = null;
  else if (target.length > AUDIT_TARGET_CHARS) target = `${target.slice(0, AUDIT_TARGET_CHARS)}…`;
  // Never the request body itself: it may hold a plan or a token name, but a token's secret is
  // only ever in answers, and plan texts are stored as revisions already.
  return {
    at: 0,
    actor: principal ? `token:${principal.token.name}` : "anonymous",
    tokenId: principal?.token.id ?? null,
    role: principal?.token.role ?? null,
    remote,
    action: def.action,
    target,
    status,
    outcome: status === 0 ? "requested" : outcomeOf(status),
    detail: error !== undefined ? { error: String(error) } : {},
  };
}

/**
 * Write `entry` stamped now; a failure is printed on the log as `AUDIT LOG WRITE FAILED ... (then)`
 * and returned (undefined: written).
 */
async function write(deps: ServerDeps, entry: Entry, then: string): Promise<unknown> {
  entry.at = deps.clock.now();
  try {
    await deps.store.access.appendAudit(entry);
    return undefined;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    deps.log?.(
      `AUDIT LOG WRITE FAILED: ${entry.action} on ${entry.target ?? "-"} by ${entry.actor} from ${entry.remote} (${then}): ${why}`,
    );
    return e ?? why;
  }
}

/**
 * Write `entry` (best effort): a failure is printed on the log, never turned into the answer. The
 * action (or the refusal) stands, and is answered as it is: a 500 for an action that happened
 * would have the client do it again.
 */
async function audit(deps: ServerDeps, entry: Entry | undefined): Promise<void> {
  if (entry) await write(deps, entry, `status ${entry.status}`);
}

/** Strict mode: write the `requested` entry of an action before it is done, or refuse it (503). */
async function requested(deps: ServerDeps, entry: Entry | undefined): Promise<void> {
  if (!entry) return;
  const failed = await write(deps, entry, "refused: strict audit mode");
  if (failed === undefined) return;
  throw new HttpError(503, {
    error: `the audit log cannot be written, and this service runs with --audit-mode strict: nothing was done (${
      failed instanceof Error ? failed.message : String(failed)
    })`,
  });
}
